/**
 * Cheap classification of what a directory returned. This is NOT validation: the browser
 * parses and verifies every byte; the server only labels items so that the client knows
 * which parser to try first, and unwraps PEM served over HTTP.
 */

export type ItemKind = 'certificate' | 'crl' | 'unknown';

export interface DirectoryItem {
  kind: ItemKind;
  der: Uint8Array;
}

interface Tlv {
  tag: number;
  valueStart: number;
  end: number;
}

function readTlv(buf: Uint8Array, offset: number, limit: number): Tlv | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) return undefined; // high tag numbers never occur where we look
  let length = buf[offset + 1]!;
  let valueStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || valueStart + count > limit) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[valueStart + i]!;
    valueStart += count;
  }
  const end = valueStart + length;
  return end > limit ? undefined : { tag, valueStart, end };
}

function children(buf: Uint8Array, parent: Tlv, max: number): Tlv[] {
  const out: Tlv[] = [];
  let offset = parent.valueStart;
  while (offset < parent.end && out.length < max) {
    const tlv = readTlv(buf, offset, parent.end);
    if (!tlv) break;
    out.push(tlv);
    offset = tlv.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

/**
 * Certificate ::= SEQUENCE { tbs SEQUENCE { [0] version?, serial, sigAlg, issuer, validity SEQUENCE, … } … }
 * CertificateList ::= SEQUENCE { tbs SEQUENCE { version INTEGER?, sigAlg, issuer, thisUpdate Time, … } … }
 */
export function classifyDer(der: Uint8Array): ItemKind {
  const outer = readTlv(der, 0, der.length);
  if (!outer || outer.tag !== SEQUENCE || outer.end !== der.length) return 'unknown';
  const top = children(der, outer, 3);
  const tbs = top[0];
  if (top.length !== 3 || !tbs || tbs.tag !== SEQUENCE) return 'unknown';
  const fields = children(der, tbs, 5);
  if (fields[0]?.tag === 0xa0) return 'certificate';
  const rest = fields[0]?.tag === INTEGER ? fields.slice(1) : fields;
  const third = rest[2]?.tag;
  if (rest[0]?.tag !== SEQUENCE || rest[1]?.tag !== SEQUENCE) return 'unknown';
  if (third === SEQUENCE && fields[0]?.tag === INTEGER) return 'certificate'; // v1 certificate
  if (third === UTC_TIME || third === GENERALIZED_TIME) return 'crl';
  return 'unknown';
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const PEM_KINDS: Readonly<Record<string, ItemKind>> = {
  CERTIFICATE: 'certificate',
  'X509 CERTIFICATE': 'certificate',
  'TRUSTED CERTIFICATE': 'unknown',
  'X509 CRL': 'crl'
};

/**
 * Turns a downloaded body into items: PEM text is split into its certificate / CRL blocks
 * (others are dropped), anything else is one DER item.
 */
export function itemsFromBody(body: Uint8Array): DirectoryItem[] {
  const head = new TextDecoder('latin1').decode(body.subarray(0, 64)).trimStart();
  if (!head.startsWith('-----BEGIN ')) return [{ kind: classifyDer(body), der: body }];
  const text = new TextDecoder('latin1').decode(body);
  const items: DirectoryItem[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    const label = match[1]!;
    if (!(label in PEM_KINDS)) continue;
    const b64 = match[2]!.replace(/^[A-Za-z-]+:.*$/gm, '').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) continue;
    const der = new Uint8Array(Buffer.from(b64, 'base64'));
    const kind = classifyDer(der);
    items.push({ kind: kind === PEM_KINDS[label] ? kind : 'unknown', der });
  }
  return items;
}
