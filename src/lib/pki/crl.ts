/**
 * Streaming CRL reader (RFC 5280 §5).
 *
 * A CRL may list hundreds of thousands of certificates. Instead of building an ASN.1 object
 * tree (pkijs/asn1js give up around 2 000 entries), `revokedCertificates` is scanned in one
 * tight loop reading the TLV headers byte by byte: per entry, only the CrlEntry object, its
 * serial string and the Map slot are allocated. Everything else of the CRL (header, names,
 * extensions) is small and read with der.ts.
 *
 * Isomorphic: no Node or DOM imports; runs unchanged in the browser and in Node.
 * Bounded: time and memory are linear in the input; recursion only on small, depth-limited
 * sub-structures (names); every malformation throws PkiError('crl_malformed').
 */
import { PkiError } from './errors.js';
import {
  MAX_DEPTH,
  TAG,
  type Tlv,
  decodeOid,
  integerBig,
  readBoolean,
  readSignatureBits,
  readTime,
  readTlv,
} from './der.js';
import { type GeneralName, parseGeneralNames, parseName } from './name.js';
import { parseIssuingDistributionPoint } from './dist-point.js';
import type { AlgorithmIdentifier, Crl, CrlEntry, ReasonCode } from './crl-model.js';

/** OIDs longer than this are refused before decoding (decodeOid is quadratic on huge arcs). */
const MAX_OID_BYTES = 128;
/** CRLNumber: at most 20 octets of value (RFC 5280 §5.2.3), plus a leading 00 for sign. */
const MAX_CRL_NUMBER_BYTES = 21;

const OID_CRL_NUMBER = '2.5.29.20';
const OID_DELTA_CRL_INDICATOR = '2.5.29.27';
const OID_ISSUING_DISTRIBUTION_POINT = '2.5.29.28';
const OID_AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';
const OID_FRESHEST_CRL = '2.5.29.46';

function bad(detail: string): PkiError {
  return new PkiError('crl_malformed', `Liste de révocation (LCR) invalide : ${detail}.`);
}

/** Two lowercase hex digits per byte value. */
const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push((i < 16 ? '0' : '') + i.toString(16));

/** Days in each month of a common year, index 1..12. */
const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/* ------------------------------------------------------------------------------------------ */
/* Hot-path helpers. They are small and monomorphic so that the JIT inlines them in the loop. */

/**
 * End offset of the element whose header was last read by `hdr` (a module-level register
 * instead of a returned object, to avoid one allocation per element in the hot loop).
 * parseCrl is synchronous and not re-entrant through these helpers, so sharing it is safe.
 */
let hEnd = 0;

/**
 * Decodes the DER length octets at `p` (just after the identifier octet) for an element that
 * must end at or before `limit`. Returns the offset of the first content octet and sets hEnd.
 * Same strictness as der.ts readTlv: definite, minimal, at most 4 length octets.
 */
function hdr(buf: Uint8Array, p: number, limit: number): number {
  if (p >= limit) throw bad('longueur manquante');
  let n = buf[p++]!;
  if (n >= 0x80) {
    const k = n & 0x7f;
    if (k === 0) throw bad('longueur indéfinie interdite en DER');
    if (k > 4) throw bad('longueur démesurée');
    if (p + k > limit) throw bad('longueur tronquée');
    if (buf[p] === 0) throw bad('longueur non minimale');
    n = 0;
    for (let i = 0; i < k; i++) n = n * 256 + buf[p++]!;
    if (n < 0x80) throw bad('longueur non minimale');
  }
  const e = p + n;
  if (e > limit) throw bad(`longueur ${n} au-delà de la structure englobante`);
  hEnd = e;
  return p;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  if (m <= 2) y -= 1;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * UTCTime / GeneralizedTime content at [v, e) as milliseconds since the epoch. The common
 * forms (YYMMDDHHMMSSZ, YYYYMMDDHHMMSSZ) are decoded inline; anything else (fractional
 * seconds, leap second, wrong length) goes to der.ts readTime, which accepts or refuses it.
 */
function timeAt(buf: Uint8Array, tag: number, v: number, e: number): number {
  let year: number;
  let q: number;
  if (tag === 0x17 && e - v === 13) {
    const a = buf[v]! - 48;
    const b = buf[v + 1]! - 48;
    if ((a | b | (9 - a) | (9 - b)) < 0) throw bad('UTCTime non conforme');
    year = a * 10 + b;
    year += year >= 50 ? 1900 : 2000;
    q = v + 2;
  } else if (tag === 0x18 && e - v === 15) {
    const a = buf[v]! - 48;
    const b = buf[v + 1]! - 48;
    const c = buf[v + 2]! - 48;
    const d = buf[v + 3]! - 48;
    if ((a | b | c | d | (9 - a) | (9 - b) | (9 - c) | (9 - d)) < 0) throw bad('GeneralizedTime non conforme');
    year = a * 1000 + b * 100 + c * 10 + d;
    q = v + 4;
  } else {
    return readTime(buf, { tag, start: v, valueStart: v, end: e });
  }
  if (buf[q + 10] !== 0x5a) throw bad('date non conforme (Z final attendu)');
  const m1 = buf[q]! - 48;
  const m2 = buf[q + 1]! - 48;
  const d1 = buf[q + 2]! - 48;
  const d2 = buf[q + 3]! - 48;
  const h1 = buf[q + 4]! - 48;
  const h2 = buf[q + 5]! - 48;
  const i1 = buf[q + 6]! - 48;
  const i2 = buf[q + 7]! - 48;
  const s1 = buf[q + 8]! - 48;
  const s2 = buf[q + 9]! - 48;
  if (
    (m1 | m2 | d1 | d2 | h1 | h2 | i1 | i2 | s1 | s2 |
      (9 - m1) | (9 - m2) | (9 - d1) | (9 - d2) | (9 - h1) | (9 - h2) | (9 - i1) | (9 - i2) | (9 - s1) | (9 - s2)) <
    0
  ) {
    throw bad('date non conforme');
  }
  const mo = m1 * 10 + m2;
  const day = d1 * 10 + d2;
  const h = h1 * 10 + h2;
  const mi = i1 * 10 + i2;
  const s = s1 * 10 + s2;
  if (mo < 1 || mo > 12 || day < 1 || h > 23 || mi > 59 || s > 60) throw bad('date hors bornes');
  if (s === 60) return readTime(buf, { tag, start: v, valueStart: v, end: e });
  if (day > DAYS_IN_MONTH[mo]!) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    if (!(mo === 2 && day === 29 && leap)) throw bad('jour inexistant');
  }
  return daysFromCivil(year, mo, day) * 86400000 + h * 3600000 + mi * 60000 + s * 1000;
}

/** ASCII codes of the lowercase hex digits. */
const HEX_CODES = [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102];
/** Longest serial built through a scratch array; longer ones (never seen in practice) concatenate. */
const SCRATCH_MAX = 40;
/** SCRATCH[n]: a reusable array of 2n char codes, so building an n-octet serial allocates one string. */
const SCRATCH: number[][] = [];
for (let n = 0; n <= SCRATCH_MAX; n++) SCRATCH.push(new Array<number>(2 * n).fill(48));

/**
 * Lowercase hex of buf[s..e), as a single flat string. String concatenation would allocate a
 * dozen intermediate strings per serial (and make the Map flatten them): with 100 000 entries
 * that garbage doubles the parse time.
 */
function hexAt(buf: Uint8Array, s: number, e: number): string {
  const n = e - s;
  if (n === 1) return HEX[buf[s]!]!;
  if (n > SCRATCH_MAX) {
    let r = '';
    for (let i = s; i < e; i++) r += HEX[buf[i]!]!;
    return r;
  }
  const a = SCRATCH[n]!;
  for (let i = s, j = 0; i < e; i++, j += 2) {
    const b = buf[i]!;
    a[j] = HEX_CODES[b >> 4]!;
    a[j + 1] = HEX_CODES[b & 15]!;
  }
  return String.fromCharCode.apply(null, a);
}

/* ------------------------------------------------------------------------------------------ */
/* revokedCertificates */

/** Bits of the entry extensions this reader understands (for duplicate detection). */
const EXT_REASON = 1;
const EXT_INVALIDITY = 2;
const EXT_CERT_ISSUER = 4;

/*
 * Results of entryExtensions(), in module-level registers rather than an object, so that the
 * entry can be created afterwards with all its fields in one object literal (adding properties
 * to an existing object would allocate an out-of-object property array per entry).
 */
/** EXT_* bits present in the last entry read. */
let xSeen = 0;
let xReason: ReasonCode = 0;
let xInvalidity = 0;
let xIssuer: GeneralName[] | undefined;
let xUnknownCritical: string[] | undefined;

interface ScanResult {
  count: number;
  /** At least one entry carries crlEntryExtensions (requires a v2 CRL). */
  extensions: boolean;
}

/**
 * Scans the content [p, end) of revokedCertificates, filling `entries`.
 *   SEQUENCE OF SEQUENCE { userCertificate INTEGER, revocationDate Time,
 *                          crlEntryExtensions Extensions OPTIONAL }
 */
function scanEntries(buf: Uint8Array, p: number, end: number, entries: Map<string, CrlEntry | CrlEntry[]>): ScanResult {
  let count = 0;
  let withExtensions = false;
  /** certificateIssuer in force (RFC 5280 §5.3.3): applies until the next one. */
  let issuer: GeneralName[] | undefined;
  while (p < end) {
    // Entry SEQUENCE
    if (buf[p] !== 0x30) throw bad(`entrée n° ${count + 1} : SEQUENCE attendue`);
    const ev = hdr(buf, p + 1, end);
    const ee = hEnd;
    // userCertificate INTEGER
    if (ev >= ee || buf[ev] !== 0x02) throw bad(`entrée n° ${count + 1} : numéro de série attendu`);
    const sv = hdr(buf, ev + 1, ee);
    const se = hEnd;
    if (sv === se) throw bad(`entrée n° ${count + 1} : numéro de série vide`);
    const serial = hexAt(buf, sv, se);
    // revocationDate Time
    if (se >= ee) throw bad(`entrée n° ${count + 1} : date de révocation manquante`);
    const dtag = buf[se]!;
    const dv = hdr(buf, se + 1, ee);
    const de = hEnd;
    const revocationDate = timeAt(buf, dtag, dv, de);
    // crlEntryExtensions
    let entry: CrlEntry;
    if (de === ee) {
      entry = issuer === undefined ? { serial, revocationDate } : { serial, revocationDate, certificateIssuer: issuer };
    } else {
      if (buf[de] !== 0x30) throw bad(`entrée n° ${count + 1} : extensions attendues`);
      const xv = hdr(buf, de + 1, ee);
      if (hEnd !== ee) throw bad(`entrée n° ${count + 1} : données en trop après les extensions`);
      entryExtensions(buf, xv, ee);
      withExtensions = true;
      if (xSeen & EXT_CERT_ISSUER) issuer = xIssuer;
      if (xSeen === EXT_REASON && xUnknownCritical === undefined) {
        entry =
          issuer === undefined
            ? { serial, revocationDate, reason: xReason }
            : { serial, revocationDate, reason: xReason, certificateIssuer: issuer };
      } else {
        entry = { serial, revocationDate };
        if (xSeen & EXT_REASON) entry.reason = xReason;
        if (xSeen & EXT_INVALIDITY) entry.invalidityDate = xInvalidity;
        if (issuer !== undefined) entry.certificateIssuer = issuer;
        if (xUnknownCritical !== undefined) entry.unknownCriticalExtensions = xUnknownCritical;
      }
    }
    const prev = entries.get(serial);
    if (prev === undefined) entries.set(serial, entry);
    else if (Array.isArray(prev)) prev.push(entry);
    else entries.set(serial, [prev, entry]);
    count++;
    p = ee;
  }
  return { count, extensions: withExtensions };
}

/**
 * Reads one entry's Extensions content [p, end) into the x* registers.
 * Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 */
function entryExtensions(buf: Uint8Array, p: number, end: number): void {
  let seen = 0;
  let unknownSeen: Set<string> | undefined;
  xUnknownCritical = undefined;
  xIssuer = undefined;
  while (p < end) {
    if (buf[p] !== 0x30) throw bad("extension d'entrée : SEQUENCE attendue");
    const v = hdr(buf, p + 1, end);
    const xe = hEnd;
    if (v >= xe || buf[v] !== 0x06) throw bad("extension d'entrée : OID attendu");
    const ov = hdr(buf, v + 1, xe);
    const oe = hEnd;
    if (ov === oe) throw bad("extension d'entrée : OID vide");
    let q = oe;
    let critical = false;
    if (q < xe && buf[q] === 0x01) {
      const bv = hdr(buf, q + 1, xe);
      if (hEnd - bv !== 1) throw bad("extension d'entrée : BOOLEAN invalide");
      critical = buf[bv] !== 0;
      q = hEnd;
    }
    if (q >= xe || buf[q] !== 0x04) throw bad("extension d'entrée : extnValue attendu");
    const vv = hdr(buf, q + 1, xe);
    const ve = hEnd;
    if (ve !== xe) throw bad("extension d'entrée : données en trop");
    if (vv >= ve) throw bad("extension d'entrée : extnValue vide");
    // id-ce-* = 2.5.29.x is encoded 55 1D x.
    let id = 0;
    if (oe - ov === 3 && buf[ov] === 0x55 && buf[ov + 1] === 0x1d) {
      const c = buf[ov + 2]!;
      if (c === 0x15) id = EXT_REASON;
      else if (c === 0x18) id = EXT_INVALIDITY;
      else if (c === 0x1d) id = EXT_CERT_ISSUER;
    }
    if (id !== 0) {
      if (seen & id) throw bad('extension en double dans une entrée');
      seen |= id;
      if (id === EXT_REASON) {
        // CRLReason ::= ENUMERATED
        if (buf[vv] !== TAG.ENUMERATED) throw bad('motif de révocation : ENUMERATED attendu');
        const rv = hdr(buf, vv + 1, ve);
        if (hEnd !== ve) throw bad('motif de révocation : données en trop');
        if (ve - rv !== 1) throw bad('motif de révocation : longueur invalide');
        const r = buf[rv]!;
        if (r === 7 || r > 10) throw bad(`motif de révocation ${r} inconnu`);
        xReason = r as ReasonCode;
      } else if (id === EXT_INVALIDITY) {
        // InvalidityDate ::= GeneralizedTime
        if (buf[vv] !== TAG.GENERALIZED_TIME) throw bad("date d'invalidité : GeneralizedTime attendu");
        const tv = hdr(buf, vv + 1, ve);
        if (hEnd !== ve) throw bad("date d'invalidité : données en trop");
        xInvalidity = timeAt(buf, TAG.GENERALIZED_TIME, tv, ve);
      } else {
        // CertificateIssuer ::= GeneralNames
        const t = readTlv(buf, vv, ve);
        if (t.end !== ve) throw bad('émetteur de certificat : données en trop');
        guardTree(buf, t, 0);
        const names = safely(() => parseGeneralNames(buf, t));
        if (names.length === 0) throw bad('émetteur de certificat : liste vide');
        xIssuer = names;
      }
    } else {
      if (oe - ov > MAX_OID_BYTES) throw bad("extension d'entrée : OID démesuré");
      const inner = readTlv(buf, vv, ve);
      if (inner.end !== ve) throw bad("extension d'entrée : extnValue doit contenir exactement un élément");
      const oid = decodeOid(buf.subarray(ov, oe));
      if (unknownSeen === undefined) unknownSeen = new Set();
      if (unknownSeen.has(oid)) throw bad(`extension ${oid} en double dans une entrée`);
      unknownSeen.add(oid);
      if (critical) (xUnknownCritical ??= []).push(oid);
    }
    p = xe;
  }
  xSeen = seen;
}

/**
 * Walks a small sub-structure (a name) before handing it to name.ts: refuses nesting deeper
 * than MAX_DEPTH and OIDs (universal 0x06, or registeredID [8] 0x88) too long to decode in
 * bounded time. Linear in the size of the element.
 */
function guardTree(buf: Uint8Array, t: Tlv, depth: number): void {
  if (depth > MAX_DEPTH) throw bad('imbrication trop profonde');
  if (t.tag & 0x20) {
    let p = t.valueStart;
    while (p < t.end) {
      const c = readTlv(buf, p, t.end);
      guardTree(buf, c, depth + 1);
      p = c.end;
    }
  } else if ((t.tag === TAG.OID || t.tag === 0x88) && t.end - t.valueStart > MAX_OID_BYTES) {
    throw bad('identifiant d’objet démesuré');
  }
}

/**
 * Runs a name.ts / dist-point.ts parser. Their PkiErrors pass through (re-wrapped by parseCrl);
 * a RangeError (String.fromCodePoint on an out-of-range UniversalString character in
 * name.ts readString) is turned into a PkiError so that no input makes parseCrl throw anything else.
 */
function safely<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof RangeError) throw bad(`nom invalide (${e.message})`);
    throw e;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Header and CRL extensions (small; clarity over speed). */

function readOidBounded(buf: Uint8Array, t: Tlv, what: string): string {
  if (t.tag !== TAG.OID) throw bad(`${what} : OID attendu`);
  if (t.end - t.valueStart > MAX_OID_BYTES) throw bad(`${what} : OID démesuré`);
  return decodeOid(buf.subarray(t.valueStart, t.end));
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } */
function parseAlgorithm(buf: Uint8Array, t: Tlv, what: string): AlgorithmIdentifier {
  if (t.tag !== TAG.SEQUENCE) throw bad(`${what} : SEQUENCE attendue`);
  const oidT = readTlv(buf, t.valueStart, t.end);
  const oid = readOidBounded(buf, oidT, what);
  if (oidT.end === t.end) return { oid };
  const params = readTlv(buf, oidT.end, t.end);
  if (params.end !== t.end) throw bad(`${what} : données en trop`);
  guardTree(buf, params, 0);
  return { oid, params: buf.subarray(params.start, params.end) };
}

function isTimeTag(tag: number | undefined): boolean {
  return tag === TAG.UTC_TIME || tag === TAG.GENERALIZED_TIME;
}

/** CRLNumber / BaseCRLNumber ::= INTEGER (0..MAX) */
function crlNumber(buf: Uint8Array, t: Tlv, what: string): bigint {
  if (t.tag !== TAG.INTEGER) throw bad(`${what} : INTEGER attendu`);
  const len = t.end - t.valueStart;
  if (len === 0) throw bad(`${what} : INTEGER vide`);
  if (len > MAX_CRL_NUMBER_BYTES) throw bad(`${what} : plus de 20 octets`);
  const n = integerBig(buf.subarray(t.valueStart, t.end));
  if (n < 0n) throw bad(`${what} : valeur négative`);
  return n;
}

/** AuthorityKeyIdentifier ::= SEQUENCE { [0] keyIdentifier, [1] authorityCertIssuer, [2] serial } */
function authorityKeyId(buf: Uint8Array, t: Tlv): Uint8Array | undefined {
  if (t.tag !== TAG.SEQUENCE) throw bad('identifiant de clé de l’autorité : SEQUENCE attendue');
  let keyId: Uint8Array | undefined;
  let last = -1;
  let p = t.valueStart;
  while (p < t.end) {
    const c = readTlv(buf, p, t.end);
    p = c.end;
    const n = c.tag === 0x80 ? 0 : c.tag === 0xa1 ? 1 : c.tag === 0x82 ? 2 : -1;
    if (n <= last) throw bad('identifiant de clé de l’autorité : champ inattendu');
    last = n;
    if (n === 0) keyId = buf.subarray(c.valueStart, c.end);
  }
  return keyId;
}

/** crlExtensions [0] EXPLICIT Extensions: fills the CRL fields. */
function crlExtensions(buf: Uint8Array, wrapper: Tlv, crl: Crl): void {
  const seq = readTlv(buf, wrapper.valueStart, wrapper.end);
  if (seq.tag !== TAG.SEQUENCE || seq.end !== wrapper.end) throw bad('extensions de LCR : SEQUENCE attendue');
  // Extensions is SIZE (1..MAX), but an empty list is harmless and OpenSSL accepts it: tolerated.
  const seen = new Set<string>();
  let p = seq.valueStart;
  while (p < seq.end) {
    const ext = readTlv(buf, p, seq.end);
    p = ext.end;
    if (ext.tag !== TAG.SEQUENCE) throw bad('extension de LCR : SEQUENCE attendue');
    const oidT = readTlv(buf, ext.valueStart, ext.end);
    const oid = readOidBounded(buf, oidT, 'extension de LCR');
    let x = readTlv(buf, oidT.end, ext.end);
    let critical = false;
    if (x.tag === TAG.BOOLEAN) {
      critical = readBoolean(buf, x);
      x = readTlv(buf, x.end, ext.end);
    }
    if (x.tag !== TAG.OCTET_STRING) throw bad(`extension ${oid} : OCTET STRING attendu`);
    if (x.end !== ext.end) throw bad(`extension ${oid} : données en trop`);
    if (x.valueStart === x.end) throw bad(`extension ${oid} : valeur vide`);
    const inner = readTlv(buf, x.valueStart, x.end);
    if (inner.end !== x.end) throw bad(`extension ${oid} : la valeur doit contenir exactement un élément`);
    if (seen.has(oid)) throw bad(`extension ${oid} en double`);
    seen.add(oid);
    switch (oid) {
      case OID_CRL_NUMBER:
        crl.crlNumber = crlNumber(buf, inner, 'numéro de LCR');
        break;
      case OID_DELTA_CRL_INDICATOR:
        // RFC 5280 §5.2.4 requires it critical; a non-critical one still makes this a delta CRL.
        crl.deltaBase = crlNumber(buf, inner, 'indicateur de LCR delta');
        break;
      case OID_ISSUING_DISTRIBUTION_POINT:
        guardTree(buf, inner, 0);
        crl.idp = safely(() => parseIssuingDistributionPoint(buf, inner));
        break;
      case OID_AUTHORITY_KEY_IDENTIFIER: {
        guardTree(buf, inner, 0);
        const kid = authorityKeyId(buf, inner);
        if (kid !== undefined) crl.authorityKeyId = kid;
        break;
      }
      case OID_FRESHEST_CRL:
        // Points to delta CRLs; not needed to use this CRL. Content ignored.
        break;
      default:
        if (critical) crl.unknownCriticalExtensions.push(oid);
    }
  }
}

/* ------------------------------------------------------------------------------------------ */

function parseCrlUnchecked(der: Uint8Array): Crl {
  if (der.length === 0) throw bad('données vides');
  // CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }
  const root = readTlv(der, 0, der.length);
  if (root.tag !== TAG.SEQUENCE) throw bad('SEQUENCE attendue au début');
  if (root.end !== der.length) throw bad('données en trop après la liste');
  const tbsT = readTlv(der, root.valueStart, root.end);
  if (tbsT.tag !== TAG.SEQUENCE) throw bad('tbsCertList : SEQUENCE attendue');
  const sigAlgT = readTlv(der, tbsT.end, root.end);
  const sigAlg = parseAlgorithm(der, sigAlgT, 'algorithme de signature');
  const sigT = readTlv(der, sigAlgT.end, root.end);
  if (sigT.tag !== TAG.BIT_STRING) throw bad('signature : BIT STRING attendu');
  if (sigT.end !== root.end) throw bad('données en trop après la signature');
  // A signature BIT STRING with unused bits cannot verify; reading the CRL anyway lets the
  // validator say "bad signature" (PKITS 4.4.3) rather than "unreadable CRL".
  const signature = readSignatureBits(der, sigT);

  // TBSCertList
  const end = tbsT.end;
  let t = readTlv(der, tbsT.valueStart, end);
  let version: 1 | 2 = 1;
  if (t.tag === TAG.INTEGER) {
    if (t.end - t.valueStart !== 1 || der[t.valueStart] !== 1) throw bad('version : seule la v2 (1) peut être indiquée');
    version = 2;
    t = readTlv(der, t.end, end);
  }
  const tbsSigAlg = parseAlgorithm(der, t, 'algorithme de signature (tbsCertList)');
  const tbsSigAlgDer = der.subarray(t.start, t.end);
  const outerSigAlgDer = der.subarray(sigAlgT.start, sigAlgT.end);
  if (tbsSigAlgDer.length !== outerSigAlgDer.length || !tbsSigAlgDer.every((b, i) => b === outerSigAlgDer[i])) {
    throw bad('les deux algorithmes de signature diffèrent');
  }
  t = readTlv(der, t.end, end);
  if (t.tag !== TAG.SEQUENCE) throw bad('émetteur : Name attendu');
  guardTree(der, t, 0);
  const nameT = t;
  const issuer = safely(() => parseName(der, nameT));
  t = readTlv(der, t.end, end);
  if (!isTimeTag(t.tag)) throw bad('thisUpdate : date attendue');
  const thisUpdate = timeAt(der, t.tag, t.valueStart, t.end);

  const crl: Crl = {
    der,
    tbs: der.subarray(tbsT.start, tbsT.end),
    version,
    tbsSignatureAlgorithm: tbsSigAlg,
    signatureAlgorithm: sigAlg,
    signature,
    issuer,
    thisUpdate,
    size: 0,
    unknownCriticalExtensions: [],
    entries: new Map(),
  };

  let p = t.end;
  if (p < end && isTimeTag(der[p])) {
    t = readTlv(der, p, end);
    crl.nextUpdate = timeAt(der, t.tag, t.valueStart, t.end);
    p = t.end;
  }
  if (p < end && der[p] === TAG.SEQUENCE) {
    const lv = hdr(der, p + 1, end);
    const le = hEnd;
    const scan = scanEntries(der, lv, le, crl.entries);
    if (scan.extensions && version !== 2) throw bad("extensions d'entrée dans une LCR v1");
    crl.size = scan.count;
    p = le;
  }
  if (p < end && der[p] === 0xa0) {
    if (version !== 2) throw bad('extensions dans une LCR v1');
    t = readTlv(der, p, end);
    crlExtensions(der, t, crl);
    p = t.end;
  }
  if (p !== end) {
    // Distinguish a bad tag from a bad length for the message.
    const extra = readTlv(der, p, end);
    throw bad(`élément inattendu (balise 0x${extra.tag.toString(16)}) dans tbsCertList`);
  }
  return crl;
}

/**
 * Parses a DER CRL (CertificateList). Synchronous; throws PkiError('crl_malformed') on any
 * malformation (DER, name and extension errors are re-wrapped, keeping their detail).
 * Does not check the signature nor the dates: that is revocation.ts's job.
 */
export function parseCrl(der: Uint8Array): Crl {
  // Not `instanceof`: a Uint8Array from another realm (iframe, worker) is fine too.
  if (!ArrayBuffer.isView(der) || Object.prototype.toString.call(der) !== '[object Uint8Array]') {
    throw bad('octets attendus');
  }
  try {
    return parseCrlUnchecked(der);
  } catch (e) {
    if (e instanceof PkiError && e.code !== 'crl_malformed') {
      throw new PkiError('crl_malformed', `Liste de révocation (LCR) invalide — ${e.message}`);
    }
    throw e;
  }
}

/**
 * The entries of `crl` for a serial number given as hex (as encoded; case-insensitive).
 * Usually 0 or 1; several when an indirect CRL lists the serial for several issuers.
 */
export function crlEntriesFor(crl: Crl, serialHex: string): CrlEntry[] {
  const v = crl.entries.get(serialHex.toLowerCase());
  if (v === undefined) return [];
  return Array.isArray(v) ? v.slice() : [v];
}
