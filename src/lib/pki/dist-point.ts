/**
 * CRL distribution points (certificate extension, RFC 5280 §4.2.1.13) and the issuing
 * distribution point (CRL extension, §5.2.5), which share DistributionPointName.
 */
import { PkiError } from './errors.js';
import { TAG, type Tlv, children, readBitString, readBoolean } from './der.js';
import { type Ava, type GeneralName, type Name, parseGeneralNames, parseName } from './name.js';

/** Bit i set ⇔ ReasonFlags bit i (1 keyCompromise … 8 aACompromise). Bit 0 (unused) is ignored. */
export type ReasonMask = number;
export const ALL_REASONS: ReasonMask = 0x1fe;

export type DpName =
  | { kind: 'full'; names: GeneralName[] }
  | { kind: 'relative'; rdn: Ava[] };

export interface DistributionPoint {
  name?: DpName;
  reasons?: ReasonMask;
  crlIssuer?: GeneralName[];
}

export interface IssuingDistributionPoint {
  name?: DpName;
  onlyUserCerts: boolean;
  onlyCaCerts: boolean;
  onlySomeReasons?: ReasonMask;
  indirectCrl: boolean;
  onlyAttributeCerts: boolean;
}

function dpError(detail: string): PkiError {
  return new PkiError('extension_malformed', `Point de distribution invalide : ${detail}.`);
}

export function readReasonMask(buf: Uint8Array, t: Tlv): ReasonMask {
  const implicit: Tlv = { ...t, tag: TAG.BIT_STRING };
  const { bytes } = readBitString(buf, implicit);
  let mask = 0;
  for (let i = 0; i < bytes.length && i < 2; i++) {
    for (let b = 0; b < 8; b++) if (bytes[i]! & (0x80 >> b)) mask |= 1 << (i * 8 + b);
  }
  return mask & ALL_REASONS;
}

function parseDpName(buf: Uint8Array, t: Tlv): DpName {
  // [0] EXPLICIT around the CHOICE
  const inner = children(buf, t);
  if (inner.length !== 1) throw dpError('nom de point de distribution mal formé');
  const c = inner[0]!;
  if (c.tag === 0xa0) {
    return { kind: 'full', names: parseGeneralNames(buf, { ...c, tag: TAG.SEQUENCE }) };
  }
  if (c.tag === 0xa1) {
    // RelativeDistinguishedName, implicitly tagged: wrap into a one-RDN Name to reuse the parser.
    // The SET is re-encoded into fresh memory: the caller's bytes are never written to (a Node
    // Buffer's slice() is a view, not a copy, so patching the tag in place used to turn [1] into
    // SET in the caller's certificate or CRL, and the next parse of the same bytes failed).
    const rdnDer = new Uint8Array(c.end - c.start);
    rdnDer.set(buf.subarray(c.start, c.end));
    rdnDer[0] = TAG.SET;
    const wrapped = encodeSequence([rdnDer]);
    const name = parseName(wrapped, { tag: TAG.SEQUENCE, start: 0, valueStart: wrapped.length - rdnDer.length, end: wrapped.length });
    return { kind: 'relative', rdn: name.rdns[0]! };
  }
  throw dpError('forme de nom inconnue');
}

function encodeLength(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  while (n > 0) {
    out.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return [0x80 | out.length, ...out];
}

function encodeSequence(parts: Uint8Array[]): Uint8Array {
  const len = parts.reduce((s, p) => s + p.length, 0);
  const head = [TAG.SEQUENCE, ...encodeLength(len)];
  const out = new Uint8Array(head.length + len);
  out.set(head, 0);
  let o = head.length;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** CRLDistributionPoints ::= SEQUENCE SIZE (1..MAX) OF DistributionPoint */
export function parseCrlDistributionPoints(buf: Uint8Array, t: Tlv): DistributionPoint[] {
  if (t.tag !== TAG.SEQUENCE) throw dpError('SEQUENCE attendue');
  const out: DistributionPoint[] = [];
  for (const dpT of children(buf, t)) {
    if (dpT.tag !== TAG.SEQUENCE) throw dpError('DistributionPoint attendu');
    const dp: DistributionPoint = {};
    for (const f of children(buf, dpT)) {
      if (f.tag === 0xa0) dp.name = parseDpName(buf, f);
      else if (f.tag === 0x81) dp.reasons = readReasonMask(buf, f);
      else if (f.tag === 0xa2) dp.crlIssuer = parseGeneralNames(buf, { ...f, tag: TAG.SEQUENCE });
      else throw dpError('champ inconnu');
    }
    if (!dp.name && !dp.crlIssuer) throw dpError('ni nom ni émetteur de LCR');
    out.push(dp);
  }
  if (out.length === 0) throw dpError('liste vide');
  return out;
}

export function parseIssuingDistributionPoint(buf: Uint8Array, t: Tlv): IssuingDistributionPoint {
  if (t.tag !== TAG.SEQUENCE) throw dpError('SEQUENCE attendue');
  const idp: IssuingDistributionPoint = {
    onlyUserCerts: false,
    onlyCaCerts: false,
    indirectCrl: false,
    onlyAttributeCerts: false,
  };
  const bool = (f: Tlv): boolean => readBoolean(buf, { ...f, tag: TAG.BOOLEAN });
  for (const f of children(buf, t)) {
    switch (f.tag) {
      case 0xa0:
        idp.name = parseDpName(buf, f);
        break;
      case 0x81:
        idp.onlyUserCerts = bool(f);
        break;
      case 0x82:
        idp.onlyCaCerts = bool(f);
        break;
      case 0x83:
        idp.onlySomeReasons = readReasonMask(buf, f);
        break;
      case 0x84:
        idp.indirectCrl = bool(f);
        break;
      case 0x85:
        idp.onlyAttributeCerts = bool(f);
        break;
      default:
        throw dpError('champ inconnu');
    }
  }
  if ([idp.onlyUserCerts, idp.onlyCaCerts, idp.onlyAttributeCerts].filter(Boolean).length > 1) {
    throw dpError('plusieurs restrictions « onlyContains » à la fois');
  }
  return idp;
}

/** Resolves a DistributionPointName to general names, given the CRL issuer's name. */
export function resolveDpName(dp: DpName, crlIssuer: Name): GeneralName[] {
  if (dp.kind === 'full') return dp.names;
  const rdns = [...crlIssuer.rdns, dp.rdn];
  const key = rdns
    .map((r) =>
      r
        .map((a) => a.type + '=' + a.canon)
        .sort()
        .join('\u0002'),
    )
    .join('\u0001');
  return [{ kind: 'directory', name: { der: new Uint8Array(0), rdns, key } }];
}
