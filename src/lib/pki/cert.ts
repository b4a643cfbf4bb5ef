/**
 * X.509 v3 certificate reader (RFC 5280 §4). Produces a flat, validation-ready model with the
 * exact signed bytes and every extension the path validator needs. Strict DER via der.ts,
 * the same reader as CRLs: one strictness, no object tree, raw bytes kept for names.
 */
import { PkiError } from './errors.js';
import {
  TAG,
  type Tlv,
  children,
  expectTlv,
  integerHex,
  readBitString,
  readBoolean,
  readOid,
  readSignatureBits,
  readTime,
  readTlv,
  smallInt,
  value,
  whole,
  checkDepth,
} from './der.js';
import { type GeneralName, type Name, parseGeneralName, parseGeneralNames, parseName } from './name.js';
import { type DistributionPoint, parseCrlDistributionPoints } from './dist-point.js';
import type { AlgorithmIdentifier } from './crl-model.js';

export const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  issuerAltName: '2.5.29.18',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  crlDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  policyMappings: '2.5.29.33',
  authorityKeyIdentifier: '2.5.29.35',
  policyConstraints: '2.5.29.36',
  extKeyUsage: '2.5.29.37',
  freshestCrl: '2.5.29.46',
  inhibitAnyPolicy: '2.5.29.54',
  subjectDirectoryAttributes: '2.5.29.9',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  subjectInfoAccess: '1.3.6.1.5.5.7.1.11',
  anyPolicy: '2.5.29.32.0',
} as const;

/** keyUsage bits, bit 0 = digitalSignature (RFC 5280 §4.2.1.3). */
export const KU = {
  digitalSignature: 1 << 0,
  nonRepudiation: 1 << 1,
  keyEncipherment: 1 << 2,
  dataEncipherment: 1 << 3,
  keyAgreement: 1 << 4,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
  encipherOnly: 1 << 7,
  decipherOnly: 1 << 8,
} as const;

export interface Extension {
  oid: string;
  critical: boolean;
  value: Uint8Array;
}

export interface PolicyInfo {
  oid: string;
  /** DER of the policyQualifiers SEQUENCE, kept opaque. */
  qualifiers?: Uint8Array;
}

export interface GeneralSubtree {
  base: GeneralName;
  minimum: number;
  maximum?: number;
}

export interface Cert {
  der: Uint8Array;
  tbs: Uint8Array;
  version: 1 | 2 | 3;
  /** Serial content octets, lowercase hex as encoded (matches CRL entry keys). */
  serial: string;
  tbsSignatureAlgorithm: AlgorithmIdentifier;
  signatureAlgorithm: AlgorithmIdentifier;
  /** The signature octets; empty when the BIT STRING is malformed (der.ts readSignatureBits). */
  signature: Uint8Array;
  issuer: Name;
  subject: Name;
  notBefore: number;
  notAfter: number;
  /** Whole SubjectPublicKeyInfo DER. */
  spki: Uint8Array;
  spkiAlgorithm: AlgorithmIdentifier;
  /** subjectPublicKey BIT STRING content. */
  publicKey: Uint8Array;
  extensions: Extension[];
  basicConstraints?: { ca: boolean; pathLen?: number };
  keyUsage?: number;
  policies?: PolicyInfo[];
  policyMappings?: Array<{ issuerDomain: string; subjectDomain: string }>;
  policyConstraints?: { requireExplicitPolicy?: number; inhibitPolicyMapping?: number };
  inhibitAnyPolicy?: number;
  nameConstraints?: { permitted: GeneralSubtree[]; excluded: GeneralSubtree[] };
  subjectAltNames?: GeneralName[];
  subjectKeyId?: Uint8Array;
  authorityKeyId?: Uint8Array;
  crlDistributionPoints?: DistributionPoint[];
  freshestCrl?: DistributionPoint[];
  /** Critical extensions this reader does not process. */
  unknownCritical: string[];
  /** subject and issuer names are equal (RFC 5280 §6.1: "self-issued"). */
  selfIssued: boolean;
}

function certError(detail: string): PkiError {
  return new PkiError('cert_malformed', `Certificat invalide : ${detail}.`);
}

export function readAlgorithm(buf: Uint8Array, t: Tlv): AlgorithmIdentifier {
  if (t.tag !== TAG.SEQUENCE) throw certError('AlgorithmIdentifier attendu');
  const parts = children(buf, t);
  if (parts.length < 1 || parts.length > 2) throw certError('AlgorithmIdentifier mal formé');
  const oid = readOid(buf, parts[0]!);
  return parts[1] ? { oid, params: whole(buf, parts[1]) } : { oid };
}

function sameAlgorithm(a: AlgorithmIdentifier, b: AlgorithmIdentifier): boolean {
  if (a.oid !== b.oid) return false;
  const pa = a.params ?? new Uint8Array(0);
  const pb = b.params ?? new Uint8Array(0);
  if (pa.length !== pb.length) return false;
  for (let i = 0; i < pa.length; i++) if (pa[i] !== pb[i]) return false;
  return true;
}

const KNOWN = new Set<string>([
  OID.subjectKeyIdentifier,
  OID.keyUsage,
  OID.subjectAltName,
  OID.issuerAltName,
  OID.basicConstraints,
  OID.nameConstraints,
  OID.crlDistributionPoints,
  OID.certificatePolicies,
  OID.policyMappings,
  OID.authorityKeyIdentifier,
  OID.policyConstraints,
  OID.extKeyUsage,
  OID.freshestCrl,
  OID.inhibitAnyPolicy,
]);

function keyUsageMask(buf: Uint8Array, t: Tlv): number {
  const { bytes } = readBitString(buf, t);
  let mask = 0;
  for (let i = 0; i < bytes.length && i < 2; i++) {
    for (let b = 0; b < 8; b++) if (bytes[i]! & (0x80 >> b)) mask |= 1 << (i * 8 + b);
  }
  return mask;
}

function parseSubtrees(buf: Uint8Array, t: Tlv): GeneralSubtree[] {
  return children(buf, t).map((st) => {
    if (st.tag !== TAG.SEQUENCE) throw certError('GeneralSubtree attendu');
    const f = children(buf, st);
    if (f.length === 0) throw certError('GeneralSubtree vide');
    const sub: GeneralSubtree = { base: parseGeneralName(buf, f[0]!), minimum: 0 };
    for (const x of f.slice(1)) {
      if (x.tag === 0x80) sub.minimum = smallInt(buf, { ...x, tag: TAG.INTEGER });
      else if (x.tag === 0x81) sub.maximum = smallInt(buf, { ...x, tag: TAG.INTEGER });
      else throw certError('GeneralSubtree : champ inconnu');
    }
    return sub;
  });
}

/** Applies one extension's content to the model. */
function applyExtension(c: Cert, ext: Extension): void {
  const buf = ext.value;
  const t = readTlv(buf, 0, buf.length);
  if (t.end !== buf.length) throw certError(`extension ${ext.oid} : données en trop`);
  checkDepth(buf, t);
  switch (ext.oid) {
    case OID.basicConstraints: {
      if (t.tag !== TAG.SEQUENCE) throw certError('basicConstraints mal formé');
      const f = children(buf, t);
      let i = 0;
      let ca = false;
      if (f[i]?.tag === TAG.BOOLEAN) ca = readBoolean(buf, f[i++]!);
      let pathLen: number | undefined;
      if (f[i]?.tag === TAG.INTEGER) pathLen = smallInt(buf, f[i++]!);
      if (i !== f.length) throw certError('basicConstraints mal formé');
      c.basicConstraints = pathLen === undefined ? { ca } : { ca, pathLen };
      break;
    }
    case OID.keyUsage:
      c.keyUsage = keyUsageMask(buf, t);
      break;
    case OID.subjectAltName:
      c.subjectAltNames = parseGeneralNames(buf, t);
      break;
    case OID.subjectKeyIdentifier:
      if (t.tag !== TAG.OCTET_STRING) throw certError('subjectKeyIdentifier mal formé');
      c.subjectKeyId = value(buf, t);
      break;
    case OID.authorityKeyIdentifier: {
      if (t.tag !== TAG.SEQUENCE) throw certError('authorityKeyIdentifier mal formé');
      for (const f of children(buf, t)) if (f.tag === 0x80) c.authorityKeyId = value(buf, f);
      break;
    }
    case OID.certificatePolicies: {
      if (t.tag !== TAG.SEQUENCE) throw certError('certificatePolicies mal formé');
      const seen = new Set<string>();
      c.policies = children(buf, t).map((pi) => {
        const f = children(buf, pi);
        if (pi.tag !== TAG.SEQUENCE || f.length < 1 || f.length > 2) throw certError('PolicyInformation mal formé');
        const oid = readOid(buf, f[0]!);
        if (seen.has(oid)) throw certError('politique de certification en double');
        seen.add(oid);
        return f[1] ? { oid, qualifiers: whole(buf, f[1]) } : { oid };
      });
      break;
    }
    case OID.policyMappings: {
      if (t.tag !== TAG.SEQUENCE) throw certError('policyMappings mal formé');
      c.policyMappings = children(buf, t).map((m) => {
        const f = children(buf, m);
        if (f.length !== 2) throw certError('policyMappings mal formé');
        return { issuerDomain: readOid(buf, f[0]!), subjectDomain: readOid(buf, f[1]!) };
      });
      break;
    }
    case OID.policyConstraints: {
      if (t.tag !== TAG.SEQUENCE) throw certError('policyConstraints mal formé');
      const pc: { requireExplicitPolicy?: number; inhibitPolicyMapping?: number } = {};
      for (const f of children(buf, t)) {
        if (f.tag === 0x80) pc.requireExplicitPolicy = smallInt(buf, { ...f, tag: TAG.INTEGER });
        else if (f.tag === 0x81) pc.inhibitPolicyMapping = smallInt(buf, { ...f, tag: TAG.INTEGER });
        else throw certError('policyConstraints : champ inconnu');
      }
      c.policyConstraints = pc;
      break;
    }
    case OID.inhibitAnyPolicy:
      c.inhibitAnyPolicy = smallInt(buf, t);
      break;
    case OID.nameConstraints: {
      if (t.tag !== TAG.SEQUENCE) throw certError('nameConstraints mal formé');
      const nc = { permitted: [] as GeneralSubtree[], excluded: [] as GeneralSubtree[] };
      for (const f of children(buf, t)) {
        if (f.tag === 0xa0) nc.permitted = parseSubtrees(buf, f);
        else if (f.tag === 0xa1) nc.excluded = parseSubtrees(buf, f);
        else throw certError('nameConstraints : champ inconnu');
      }
      c.nameConstraints = nc;
      break;
    }
    case OID.crlDistributionPoints:
      c.crlDistributionPoints = parseCrlDistributionPoints(buf, t);
      break;
    case OID.freshestCrl:
      c.freshestCrl = parseCrlDistributionPoints(buf, t);
      break;
    default:
      break;
  }
}

/** Parses a DER certificate. Throws PkiError('cert_malformed' | 'der_malformed'). */
export function parseCertificate(der: Uint8Array): Cert {
  try {
    return parseCertificateInner(der);
  } catch (e) {
    if (e instanceof PkiError && e.code !== 'cert_malformed') {
      throw new PkiError('cert_malformed', `Certificat invalide : ${e.message}`);
    }
    throw e;
  }
}

function parseCertificateInner(der: Uint8Array): Cert {
  const root = readTlv(der, 0, der.length);
  if (root.tag !== TAG.SEQUENCE) throw certError('SEQUENCE attendue');
  if (root.end !== der.length) throw certError('données en trop après le certificat');
  const top = children(der, root);
  if (top.length !== 3) throw certError('structure Certificate inattendue');
  const [tbsT, algT, sigT] = top as [Tlv, Tlv, Tlv];
  if (tbsT.tag !== TAG.SEQUENCE) throw certError('TBSCertificate attendu');
  const f = children(der, tbsT);
  let i = 0;
  let version: 1 | 2 | 3 = 1;
  if (f[i]?.tag === 0xa0) {
    const inner = children(der, f[i]!);
    if (inner.length !== 1) throw certError('version mal formée');
    const v = smallInt(der, inner[0]!);
    if (v > 2) throw certError(`version ${v + 1} inconnue`);
    version = (v + 1) as 1 | 2 | 3;
    i++;
  }
  const serialT = f[i++];
  if (!serialT) throw certError('numéro de série manquant');
  const serial = integerHex(der, serialT);
  const tbsAlgT = f[i++];
  const issuerT = f[i++];
  const validityT = f[i++];
  const subjectT = f[i++];
  const spkiT = f[i++];
  if (!tbsAlgT || !issuerT || !validityT || !subjectT || !spkiT) throw certError('champs obligatoires manquants');
  const tbsSignatureAlgorithm = readAlgorithm(der, tbsAlgT);
  const issuer = parseName(der, issuerT);
  const validity = children(der, validityT);
  if (validityT.tag !== TAG.SEQUENCE || validity.length !== 2) throw certError('période de validité mal formée');
  const notBefore = readTime(der, validity[0]!);
  const notAfter = readTime(der, validity[1]!);
  const subject = parseName(der, subjectT);
  if (spkiT.tag !== TAG.SEQUENCE) throw certError('SubjectPublicKeyInfo attendu');
  const spkiParts = children(der, spkiT);
  if (spkiParts.length !== 2) throw certError('SubjectPublicKeyInfo mal formé');
  const spkiAlgorithm = readAlgorithm(der, spkiParts[0]!);
  const pk = readBitString(der, spkiParts[1]!);
  if (pk.unused !== 0) throw certError('clé publique : bits inutilisés');

  const extensions: Extension[] = [];
  for (; i < f.length; i++) {
    const x = f[i]!;
    if (x.tag === 0x81 || x.tag === 0x82) {
      if (version < 2) throw certError('identifiant unique dans un certificat v1');
      continue;
    }
    if (x.tag !== 0xa3) throw certError('champ inattendu dans TBSCertificate');
    if (version !== 3) throw certError('extensions dans un certificat non v3');
    if (i !== f.length - 1) throw certError('champ après les extensions');
    const seq = children(der, x);
    if (seq.length !== 1 || seq[0]!.tag !== TAG.SEQUENCE) throw certError('extensions mal formées');
    const seen = new Set<string>();
    for (const e of children(der, seq[0]!)) {
      const ef = children(der, e);
      if (e.tag !== TAG.SEQUENCE || ef.length < 2 || ef.length > 3) throw certError('extension mal formée');
      const oid = readOid(der, ef[0]!);
      if (seen.has(oid)) throw certError(`extension ${oid} en double`);
      seen.add(oid);
      let critical = false;
      if (ef.length === 3) critical = readBoolean(der, ef[1]!);
      const v = ef[ef.length - 1]!;
      if (v.tag !== TAG.OCTET_STRING) throw certError('extnValue attendu');
      extensions.push({ oid, critical, value: value(der, v) });
    }
    if (extensions.length === 0) throw certError('liste d’extensions vide');
  }
  if (algT.tag !== TAG.SEQUENCE) throw certError('signatureAlgorithm attendu');
  const signatureAlgorithm = readAlgorithm(der, algT);
  if (!sameAlgorithm(signatureAlgorithm, tbsSignatureAlgorithm)) {
    throw certError('les deux identifiants d’algorithme de signature diffèrent');
  }
  // Unused bits in the signature: a certificate whose signature cannot verify, not an unreadable one.
  const signature = readSignatureBits(der, expectTlv(der, sigT.start, sigT.end, TAG.BIT_STRING, 'signature'));

  const c: Cert = {
    der,
    tbs: whole(der, tbsT),
    version,
    serial,
    tbsSignatureAlgorithm,
    signatureAlgorithm,
    signature,
    issuer,
    subject,
    notBefore,
    notAfter,
    spki: whole(der, spkiT),
    spkiAlgorithm,
    publicKey: pk.bytes,
    extensions,
    unknownCritical: [],
    selfIssued: issuer.key === subject.key,
  };
  for (const ext of extensions) {
    if (KNOWN.has(ext.oid)) applyExtension(c, ext);
    else if (ext.critical) c.unknownCritical.push(ext.oid);
  }
  return c;
}

export function isCa(c: Cert): boolean {
  return c.basicConstraints?.ca === true;
}

export function extension(c: Cert, oid: string): Extension | undefined {
  return c.extensions.find((e) => e.oid === oid);
}
