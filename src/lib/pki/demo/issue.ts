/**
 * The fictitious PKI's certificate and CRL factory (pkijs + asn1js + WebCrypto), isomorphic:
 * the embedded relay's demo credential (src/lib/server/relay/demo.ts), the bridge's simulated
 * cards (bridge/cards) and the tests all issue with it, so one fictitious PKI serves the whole
 * embedded system. Nothing it makes is real; nothing real is ever signed with it.
 *
 *   const root = await genKey();                       // RSA-2048 by default
 *   const rootDer = await issueCert({ subject: 'CN=Root,O=Test,C=FR', key: root, ca: true });
 *   const leafDer = await issueCert({ subject: 'CN=Leaf', key: leafKey, issuerCert: rootDer, signer: root });
 *   const crl = await issueCrl({ issuerCert: rootDer, signer: root, entries: [{ serial: 5 }] });
 *
 * DN strings are RFC 4514 (most specific RDN first: "CN=Leaf,O=Org,C=FR"); no escaping, one
 * attribute per RDN. Everything returns DER `Uint8Array`s. Tests add their test-only helpers
 * (fast pools, SESAM-shaped chains, files) in bridge/pki/forge.ts.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

const subtle = globalThis.crypto.subtle;

// ---------------------------------------------------------------------------------------------
// Keys

export type KeyAlg = 'rsa2048' | 'rsa1024' | 'p256';

export interface ForgeKey {
  alg: KeyAlg;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** SubjectPublicKeyInfo, DER. */
  spki: Uint8Array;
  /** SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 §4.2.1.2 method 1). */
  keyId: Uint8Array;
}

function keyParams(alg: KeyAlg): RsaHashedKeyGenParams | EcKeyGenParams {
  return alg === 'p256'
    ? { name: 'ECDSA', namedCurve: 'P-256' }
    : {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: alg === 'rsa1024' ? 1024 : 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      };
}

async function forgeKey(alg: KeyAlg, privateKey: CryptoKey, publicKey: CryptoKey): Promise<ForgeKey> {
  const spki = new Uint8Array(await subtle.exportKey('spki', publicKey));
  const info = pkijs.PublicKeyInfo.fromBER(bs(spki));
  const keyId = new Uint8Array(
    await subtle.digest('SHA-1', bs(info.subjectPublicKey.valueBlock.valueHexView)),
  );
  return { alg, privateKey, publicKey, spki, keyId };
}

export async function genKey(alg: KeyAlg = 'rsa2048'): Promise<ForgeKey> {
  const pair = (await subtle.generateKey(keyParams(alg), true, ['sign', 'verify'])) as CryptoKeyPair;
  return forgeKey(alg, pair.privateKey, pair.publicKey);
}

/** A key saved earlier (PKCS #8 private key, SPKI public key), e.g. a persistent demo CA. */
export async function importKey(alg: KeyAlg, pkcs8: Uint8Array, spki: Uint8Array): Promise<ForgeKey> {
  const params = keyParams(alg);
  const privateKey = await subtle.importKey('pkcs8', bs(pkcs8), params, true, ['sign']);
  const publicKey = await subtle.importKey('spki', bs(spki), params, true, ['verify']);
  return forgeKey(alg, privateKey, publicKey);
}

// ---------------------------------------------------------------------------------------------
// Names, serials, times

const ATTR_OIDS: Record<string, string> = {
  CN: '2.5.4.3',
  SN: '2.5.4.4',
  SERIALNUMBER: '2.5.4.5',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  STREET: '2.5.4.9',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  T: '2.5.4.12',
  GIVENNAME: '2.5.4.42',
  DC: '0.9.2342.19200300.100.1.25',
  EMAILADDRESS: '1.2.840.113549.1.9.1',
};

/** RFC 4514 string, or [type, value] pairs in DER order (most significant first), or DER. */
export type DN = string | Array<[string, string]> | Uint8Array;

export function encodeName(dn: DN): Uint8Array {
  if (dn instanceof Uint8Array) return dn;
  const pairs: Array<[string, string]> =
    typeof dn === 'string'
      ? dn
          .split(',')
          .filter((s) => s.trim() !== '')
          .map((s): [string, string] => {
            const i = s.indexOf('=');
            if (i < 0) throw new Error(`forge: bad RDN "${s}"`);
            return [s.slice(0, i).trim(), s.slice(i + 1).trim()];
          })
          .reverse()
      : dn;
  const rdns = pairs.map(([type, value]) => {
    const oid = ATTR_OIDS[type.toUpperCase()] ?? type;
    const str =
      oid === '2.5.4.6' || oid === '2.5.4.5'
        ? new asn1js.PrintableString({ value })
        : oid === ATTR_OIDS.DC || oid === ATTR_OIDS.EMAILADDRESS
          ? new asn1js.IA5String({ value })
          : new asn1js.Utf8String({ value });
    return new asn1js.Set({
      value: [new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid }), str] })],
    });
  });
  return der(new asn1js.Sequence({ value: rdns }));
}

/** number | bigint → minimal positive INTEGER; hex string or bytes → content octets as given. */
export type Serial = number | bigint | string | Uint8Array;

export function serialBytes(s: Serial): Uint8Array {
  if (s instanceof Uint8Array) return s;
  if (typeof s === 'string') return hex(s);
  let n = BigInt(s);
  if (n < 0n) throw new Error('forge: negative serial, pass bytes instead');
  const out: number[] = [];
  do {
    out.unshift(Number(n & 0xffn));
    n >>= 8n;
  } while (n > 0n);
  if (out[0]! & 0x80) out.unshift(0);
  return new Uint8Array(out);
}

let serialCounter = 0x1000;
function nextSerial(): Uint8Array {
  return serialBytes(++serialCounter);
}

function time(d: Date): pkijs.Time {
  const y = d.getUTCFullYear();
  return new pkijs.Time({ type: y >= 1950 && y < 2050 ? 0 : 1, value: d });
}

const DAY = 86_400_000;

// ---------------------------------------------------------------------------------------------
// Extensions

export interface RawExtension {
  oid: string;
  critical?: boolean;
  /** extnValue contents (the DER inside the OCTET STRING). */
  value: Uint8Array;
}

export const KU = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
} as const;
export type KeyUsageBit = keyof typeof KU;

export const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  crlNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
  crlDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  anyPolicy: '2.5.29.32.0',
} as const;

/** DER BIT STRING with named bits, trailing zero bits trimmed (X.690 §11.2.2). */
export function keyUsageValue(bits: readonly KeyUsageBit[]): Uint8Array {
  const idx = bits.map((b) => KU[b]);
  if (idx.length === 0) return new Uint8Array([0x03, 0x01, 0x00]);
  const last = Math.max(...idx);
  const nBytes = (last >> 3) + 1;
  const body = new Uint8Array(nBytes);
  for (const i of idx) body[i >> 3]! |= 0x80 >> (i & 7);
  const unused = 7 - (last & 7);
  return new Uint8Array([0x03, nBytes + 1, unused, ...body]);
}

function basicConstraintsValue(cA: boolean, pathLen?: number): Uint8Array {
  const v: asn1js.AsnType[] = [];
  if (cA) v.push(new asn1js.Boolean({ value: true }));
  if (pathLen !== undefined) v.push(new asn1js.Integer({ value: pathLen }));
  return der(new asn1js.Sequence({ value: v }));
}

function sanValue(emails: readonly string[], uris: readonly string[] = []): Uint8Array {
  return der(
    new asn1js.Sequence({
      value: [
        ...emails.map((e) => new pkijs.GeneralName({ type: 1, value: e }).toSchema()),
        ...uris.map((u) => new pkijs.GeneralName({ type: 6, value: u }).toSchema()),
      ],
    }),
  );
}

function crlDpValue(uris: readonly string[]): Uint8Array {
  // DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames } }
  const dp = new asn1js.Sequence({
    value: [
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 0 },
        value: [
          new asn1js.Constructed({
            idBlock: { tagClass: 3, tagNumber: 0 },
            value: uris.map((u) => new pkijs.GeneralName({ type: 6, value: u }).toSchema()),
          }),
        ],
      }),
    ],
  });
  return der(new asn1js.Sequence({ value: [dp] }));
}

function policiesValue(oids: readonly string[]): Uint8Array {
  return der(
    new asn1js.Sequence({
      value: oids.map(
        (o) => new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: o })] }),
      ),
    }),
  );
}

function akiValue(keyId: Uint8Array): Uint8Array {
  return der(
    new asn1js.Sequence({
      value: [new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 }, valueHex: keyId })],
    }),
  );
}

function ext(e: RawExtension): pkijs.Extension {
  return new pkijs.Extension({
    extnID: e.oid,
    critical: e.critical ?? false,
    extnValue: new Uint8Array(e.value).buffer,
  });
}

// ---------------------------------------------------------------------------------------------
// Certificates

export interface CertSpec {
  subject: DN;
  /** Subject public key. */
  key: ForgeKey;
  /** Issuer DN; default: `issuerCert`'s subject, else `subject` (self-issued). */
  issuer?: DN;
  /** Issuer certificate: its subject bytes become our issuer, its SKI our AKI. */
  issuerCert?: Uint8Array;
  /** Signing key; default `key` (self-signed). */
  signer?: ForgeKey;
  serial?: Serial;
  notBefore?: Date;
  notAfter?: Date;
  /** Shorthand: basicConstraints cA=true critical + keyUsage keyCertSign,cRLSign critical. */
  ca?: boolean;
  /** null = absent. Default: present (critical) only when `ca`. */
  basicConstraints?: { cA: boolean; pathLen?: number; critical?: boolean } | null;
  /** null = absent. Default: keyCertSign,cRLSign critical when `ca`, else absent. */
  keyUsage?: { bits: KeyUsageBit[]; critical?: boolean } | null;
  /** subjectAltName rfc822Name values. */
  emails?: string[];
  sanCritical?: boolean;
  /** true (default): SHA-1 key id; false: absent; bytes: that value. */
  ski?: boolean | Uint8Array;
  /** true (default unless self-signed): issuer's key id; false: absent; bytes: that value. */
  aki?: boolean | Uint8Array;
  /** CRL distribution point URIs. */
  crlDp?: string[];
  /** certificatePolicies OIDs. */
  policies?: string[];
  /** Appended verbatim, after the standard ones. */
  extensions?: RawExtension[];
  hash?: 'SHA-256' | 'SHA-384' | 'SHA-512';
}

/** Issues a v3 certificate, DER. */
export async function issueCert(spec: CertSpec): Promise<Uint8Array> {
  const signer = spec.signer ?? spec.key;
  const selfSigned = signer === spec.key && !spec.issuerCert && spec.issuer === undefined;
  let issuerName: Uint8Array;
  let issuerKeyId: Uint8Array = signer.keyId;
  if (spec.issuer !== undefined) issuerName = encodeName(spec.issuer);
  else if (spec.issuerCert) issuerName = certSubject(spec.issuerCert);
  else issuerName = encodeName(spec.subject);
  if (spec.issuerCert) issuerKeyId = certSki(spec.issuerCert) ?? issuerKeyId;

  const now = Date.now();
  const exts: RawExtension[] = [];
  const bc =
    spec.basicConstraints === undefined
      ? spec.ca
        ? { cA: true, critical: true }
        : null
      : spec.basicConstraints;
  if (bc) exts.push({ oid: OID.basicConstraints, critical: bc.critical ?? true, value: basicConstraintsValue(bc.cA, bc.pathLen) });
  const ku =
    spec.keyUsage === undefined
      ? spec.ca
        ? { bits: ['keyCertSign', 'cRLSign'] as KeyUsageBit[], critical: true }
        : null
      : spec.keyUsage;
  if (ku) exts.push({ oid: OID.keyUsage, critical: ku.critical ?? true, value: keyUsageValue(ku.bits) });
  if (spec.ski !== false) {
    const id = spec.ski instanceof Uint8Array ? spec.ski : spec.key.keyId;
    exts.push({ oid: OID.subjectKeyIdentifier, value: der(new asn1js.OctetString({ valueHex: id })) });
  }
  const wantAki = spec.aki ?? !selfSigned;
  if (wantAki !== false) {
    exts.push({ oid: OID.authorityKeyIdentifier, value: akiValue(wantAki instanceof Uint8Array ? wantAki : issuerKeyId) });
  }
  if (spec.emails?.length) exts.push({ oid: OID.subjectAltName, critical: spec.sanCritical, value: sanValue(spec.emails) });
  if (spec.crlDp?.length) exts.push({ oid: OID.crlDistributionPoints, value: crlDpValue(spec.crlDp) });
  if (spec.policies?.length) exts.push({ oid: OID.certificatePolicies, value: policiesValue(spec.policies) });
  exts.push(...(spec.extensions ?? []));

  const cert = new pkijs.Certificate({
    version: 2,
    serialNumber: new asn1js.Integer({ valueHex: serialBytes(spec.serial ?? nextSerial()) }),
    issuer: pkijs.RelativeDistinguishedNames.fromBER(bs(issuerName)),
    subject: pkijs.RelativeDistinguishedNames.fromBER(bs(encodeName(spec.subject))),
    notBefore: time(spec.notBefore ?? new Date(now - DAY)),
    notAfter: time(spec.notAfter ?? new Date(now + 365 * DAY)),
    subjectPublicKeyInfo: pkijs.PublicKeyInfo.fromBER(bs(spec.key.spki)),
    extensions: exts.length ? exts.map(ext) : undefined,
  });
  await cert.sign(signer.privateKey, spec.hash ?? 'SHA-256');
  return der(cert.toSchema(true));
}

const parsed = new WeakMap<Uint8Array, { subject: Uint8Array; ski?: Uint8Array }>();
function certInfo(certDer: Uint8Array): { subject: Uint8Array; ski?: Uint8Array } {
  let info = parsed.get(certDer);
  if (!info) {
    const c = pkijs.Certificate.fromBER(bs(certDer));
    const e = c.extensions?.find((x) => x.extnID === OID.subjectKeyIdentifier);
    const os = e && (asn1js.fromBER(e.extnValue.valueBlock.valueHexView).result as asn1js.OctetString);
    info = {
      subject: new Uint8Array(c.subject.toSchema().toBER()),
      ski: os ? new Uint8Array(os.valueBlock.valueHexView) : undefined,
    };
    parsed.set(certDer, info);
  }
  return info;
}

/** Subject Name of a certificate, as encoded. */
export function certSubject(certDer: Uint8Array): Uint8Array {
  return certInfo(certDer).subject;
}

export function certSki(certDer: Uint8Array): Uint8Array | undefined {
  return certInfo(certDer).ski;
}

// ---------------------------------------------------------------------------------------------
// CRLs

export type ReasonCode =
  | 'unspecified'
  | 'keyCompromise'
  | 'cACompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'certificateHold'
  | 'removeFromCRL'
  | 'privilegeWithdrawn'
  | 'aACompromise';
const REASONS: ReasonCode[] = [
  'unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded',
  'cessationOfOperation', 'certificateHold', 'removeFromCRL' /* 8 */, 'privilegeWithdrawn', 'aACompromise',
];
function reasonNumber(r: ReasonCode): number {
  const i = REASONS.indexOf(r);
  return i >= 7 ? i + 1 : i; // value 7 is unused in RFC 5280
}

export interface CrlEntry {
  serial: Serial;
  /** Default: one day before thisUpdate. */
  date?: Date;
  reason?: ReasonCode;
}

export interface CrlSpec {
  /** Issuer DN; default `issuerCert`'s subject. */
  issuer?: DN;
  issuerCert?: Uint8Array;
  /** Signing key: the CA's, or any other to forge. */
  signer: ForgeKey;
  thisUpdate?: Date;
  /** null = absent. Default thisUpdate + 7 days. */
  nextUpdate?: Date | null;
  entries?: CrlEntry[];
  /** null = absent. Default 1. */
  crlNumber?: number | bigint | null;
  /** true (default): issuerCert's SKI, else signer's key id; false: absent; bytes: that value. */
  aki?: boolean | Uint8Array;
  extensions?: RawExtension[];
  hash?: 'SHA-256' | 'SHA-384' | 'SHA-512';
}

/** Issues a v2 CRL, DER. */
export async function issueCrl(spec: CrlSpec): Promise<Uint8Array> {
  const issuer = spec.issuer !== undefined
    ? encodeName(spec.issuer)
    : spec.issuerCert
      ? certSubject(spec.issuerCert)
      : undefined;
  if (!issuer) throw new Error('forge: issueCrl needs issuer or issuerCert');
  const thisUpdate = spec.thisUpdate ?? new Date(Date.now() - 3_600_000);
  const nextUpdate = spec.nextUpdate === undefined ? new Date(thisUpdate.getTime() + 7 * DAY) : spec.nextUpdate;

  const exts: RawExtension[] = [];
  if (spec.aki !== false) {
    const id = spec.aki instanceof Uint8Array
      ? spec.aki
      : (spec.issuerCert && certSki(spec.issuerCert)) || spec.signer.keyId;
    exts.push({ oid: OID.authorityKeyIdentifier, value: akiValue(id) });
  }
  const num = spec.crlNumber === undefined ? 1 : spec.crlNumber;
  if (num !== null) {
    exts.push({ oid: OID.crlNumber, value: der(new asn1js.Integer({ valueHex: serialBytes(num) })) });
  }
  exts.push(...(spec.extensions ?? []));

  const entries = (spec.entries ?? []).map(
    (e) =>
      new pkijs.RevokedCertificate({
        userCertificate: new asn1js.Integer({ valueHex: serialBytes(e.serial) }),
        revocationDate: time(e.date ?? new Date(thisUpdate.getTime() - DAY)),
        crlEntryExtensions: e.reason
          ? new pkijs.Extensions({
              extensions: [
                ext({ oid: OID.reasonCode, value: der(new asn1js.Enumerated({ value: reasonNumber(e.reason) })) }),
              ],
            })
          : undefined,
      }),
  );
  const crl = new pkijs.CertificateRevocationList({
    version: 1,
    issuer: pkijs.RelativeDistinguishedNames.fromBER(bs(issuer)),
    thisUpdate: time(thisUpdate),
    ...(nextUpdate ? { nextUpdate: time(nextUpdate) } : {}),
    ...(entries.length ? { revokedCertificates: entries } : {}),
    ...(exts.length ? { crlExtensions: new pkijs.Extensions({ extensions: exts.map(ext) }) } : {}),
  });
  await crl.sign(spec.signer.privateKey, spec.hash ?? 'SHA-256');
  return der(crl.toSchema(true));
}

// ---------------------------------------------------------------------------------------------
// Output

function base64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

export function pem(derBytes: Uint8Array, label: 'CERTIFICATE' | 'X509 CRL' | string = 'CERTIFICATE'): string {
  return `-----BEGIN ${label}-----\n${base64(derBytes).replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}
export const pemCert = (d: Uint8Array): string => pem(d, 'CERTIFICATE');
export const pemCrl = (d: Uint8Array): string => pem(d, 'X509 CRL');

// ---------------------------------------------------------------------------------------------
// Helpers

/** TS ≥ 5.7 types `Uint8Array<ArrayBufferLike>` as not a BufferSource; ours are never shared. */
export function bs(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b as Uint8Array<ArrayBuffer>;
}

export function der(obj: { toBER(sizeOnly?: boolean): ArrayBuffer }): Uint8Array {
  return new Uint8Array(obj.toBER());
}

export function hex(s: string): Uint8Array {
  const h = s.replace(/[^0-9a-f]/gi, '');
  if (h.length % 2) throw new Error('forge: odd hex');
  return Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
