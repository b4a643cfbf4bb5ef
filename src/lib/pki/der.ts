/**
 * Minimal, allocation-light DER reader. Strict where it matters for security (definite
 * lengths, lengths inside their parent, bounded nesting) and tolerant of nothing else.
 * Used for the streaming CRL reader, names, and extension values; pkijs parses the rest.
 */
import { PkiError } from './errors.js';

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One element: `tag` is the full identifier octet (class + constructed + number < 31). */
export interface Tlv {
  tag: number;
  /** Offset of the identifier octet. */
  start: number;
  /** Offset of the first content octet. */
  valueStart: number;
  /** Offset just past the last content octet. */
  end: number;
}

export const MAX_DEPTH = 64;

function malformed(detail: string): PkiError {
  return new PkiError('der_malformed', `Encodage DER invalide : ${detail}.`);
}

/**
 * Reads the element at `pos`, which must end at or before `limit`.
 * High tag numbers (≥ 31) are rejected: nothing in X.509 uses them.
 */
export function readTlv(buf: Uint8Array, pos: number, limit: number = buf.length): Tlv {
  if (pos >= limit) throw malformed('élément attendu, fin des données');
  const tag = buf[pos]!;
  if (tag === 0) throw malformed('balise 0 (fin de contenu BER) interdite en DER');
  if ((tag & 0x1f) === 0x1f) throw malformed('numéro de balise étendu non pris en charge');
  let p = pos + 1;
  if (p >= limit) throw malformed('longueur manquante');
  let len = buf[p++]!;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw malformed('longueur indéfinie interdite en DER');
    if (n > 4) throw malformed('longueur démesurée');
    if (p + n > limit) throw malformed('longueur tronquée');
    if (buf[p] === 0) throw malformed('longueur non minimale');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
    if (len < 0x80) throw malformed('longueur non minimale');
  }
  const end = p + len;
  if (end > limit) throw malformed(`longueur ${len} au-delà des données disponibles`);
  return { tag, start: pos, valueStart: p, end };
}

/** Reads an element and checks its tag. */
export function expectTlv(buf: Uint8Array, pos: number, limit: number, tag: number, what: string): Tlv {
  const t = readTlv(buf, pos, limit);
  if (t.tag !== tag) {
    throw malformed(`${what} : balise 0x${tag.toString(16)} attendue, 0x${t.tag.toString(16)} trouvée`);
  }
  return t;
}

/** The direct children of a constructed element. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  if ((parent.tag & 0x20) === 0) throw malformed('élément construit attendu');
  const out: Tlv[] = [];
  let p = parent.valueStart;
  while (p < parent.end) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

/** Parses a complete DER buffer holding exactly one element. */
export function readRoot(buf: Uint8Array): Tlv {
  const t = readTlv(buf, 0, buf.length);
  if (t.end !== buf.length) throw malformed('données en trop après la structure');
  return t;
}

export function value(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.valueStart, t.end);
}

export function whole(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.start, t.end);
}

/** Checks that a nested structure stays within MAX_DEPTH, without building it. */
export function checkDepth(buf: Uint8Array, t: Tlv, depth = 0): void {
  if (depth > MAX_DEPTH) throw malformed('imbrication trop profonde');
  if ((t.tag & 0x20) === 0) return;
  let p = t.valueStart;
  while (p < t.end) {
    const c = readTlv(buf, p, t.end);
    checkDepth(buf, c, depth + 1);
    p = c.end;
  }
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!];
  return s;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || /[^0-9a-fA-F]/.test(hex)) throw malformed('hexadécimal invalide');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0) throw malformed('OID vide');
  // Real OIDs are a few dozen octets; long arcs would make BigInt decoding quadratic.
  if (bytes.length > 128) throw malformed('OID démesuré');
  if (bytes[bytes.length - 1]! & 0x80) throw malformed('OID tronqué');
  const arcs: string[] = [];
  let v = 0n;
  let first = true;
  let small = 0;
  let useSmall = true;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (useSmall && small < 0x1000000) {
      small = small * 128 + (b & 0x7f);
    } else {
      if (useSmall) v = BigInt(small);
      useSmall = false;
      v = v * 128n + BigInt(b & 0x7f);
    }
    if ((b & 0x80) === 0) {
      const n = useSmall ? BigInt(small) : v;
      if (first) {
        if (n < 40n) arcs.push('0', n.toString());
        else if (n < 80n) arcs.push('1', (n - 40n).toString());
        else arcs.push('2', (n - 80n).toString());
        first = false;
      } else {
        arcs.push(n.toString());
      }
      small = 0;
      v = 0n;
      useSmall = true;
    } else if (useSmall && small === 0 && b === 0x80) {
      throw malformed('OID non minimal');
    }
  }
  return arcs.join('.');
}

export function readOid(buf: Uint8Array, t: Tlv): string {
  if (t.tag !== TAG.OID) throw malformed('OID attendu');
  return decodeOid(value(buf, t));
}

/** INTEGER content as lowercase hex, as encoded (two's complement, leading 00 kept). */
export function integerHex(buf: Uint8Array, t: Tlv): string {
  if (t.tag !== TAG.INTEGER) throw malformed('INTEGER attendu');
  if (t.end === t.valueStart) throw malformed('INTEGER vide');
  return toHex(value(buf, t));
}

export function integerBig(bytes: Uint8Array): bigint {
  if (bytes.length === 0) throw malformed('INTEGER vide');
  // One hex conversion: linear, where shifting byte by byte is quadratic on long integers.
  let v = BigInt('0x' + toHex(bytes));
  if (bytes[0]! & 0x80) v -= 1n << BigInt(bytes.length * 8);
  return v;
}

/** Small non-negative INTEGER (or ENUMERATED) as a number. */
export function smallInt(buf: Uint8Array, t: Tlv): number {
  const len = t.end - t.valueStart;
  if (len === 0 || len > 6) throw malformed('entier hors bornes');
  const v = integerBig(value(buf, t));
  if (v < 0n) throw malformed('entier négatif inattendu');
  return Number(v);
}

function digits(buf: Uint8Array, p: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = buf[p + i]! - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * UTCTime (YYMMDDHHMMSSZ, 1950–2049) or GeneralizedTime (YYYYMMDDHHMMSSZ), as milliseconds.
 * RFC 5280 §4.1.2.5 requires seconds and Z; fractional seconds are tolerated in
 * GeneralizedTime since some CAs emit them.
 */
export function readTime(buf: Uint8Array, t: Tlv): number {
  const p = t.valueStart;
  const len = t.end - p;
  let year: number;
  let q: number;
  if (t.tag === TAG.UTC_TIME) {
    if (len !== 13 || buf[t.end - 1] !== 0x5a) throw malformed('UTCTime non conforme');
    const yy = digits(buf, p, 2);
    if (yy < 0) throw malformed('UTCTime non conforme');
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    q = p + 2;
  } else if (t.tag === TAG.GENERALIZED_TIME) {
    if (len < 15 || buf[t.end - 1] !== 0x5a) throw malformed('GeneralizedTime non conforme');
    year = digits(buf, p, 4);
    if (year < 0) throw malformed('GeneralizedTime non conforme');
    q = p + 4;
  } else {
    throw malformed('date attendue');
  }
  const mo = digits(buf, q, 2);
  const d = digits(buf, q + 2, 2);
  const h = digits(buf, q + 4, 2);
  const mi = digits(buf, q + 6, 2);
  const s = digits(buf, q + 8, 2);
  let ms = 0;
  const rest = t.end - 1 - (q + 10);
  if (rest > 0) {
    if (t.tag !== TAG.GENERALIZED_TIME || buf[q + 10] !== 0x2e || rest < 2) throw malformed('date non conforme');
    const frac = digits(buf, q + 11, rest - 1);
    if (frac < 0) throw malformed('date non conforme');
    ms = Math.floor((frac / 10 ** (rest - 1)) * 1000);
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60) {
    throw malformed('date hors bornes');
  }
  // setUTCFullYear, because Date.UTC maps years 0–99 to 1900–1999.
  const date = new Date(0);
  date.setUTCFullYear(year, mo - 1, d);
  date.setUTCHours(h, mi, s, ms);
  if (date.getUTCDate() !== d) throw malformed('jour inexistant');
  return date.getTime();
}

/** Decodes the character string types found in names. */
export function readString(buf: Uint8Array, t: Tlv): string {
  const bytes = value(buf, t);
  switch (t.tag) {
    case TAG.UTF8_STRING:
      return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.VISIBLE_STRING:
    case TAG.TELETEX_STRING: {
      let s = '';
      for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
      return s;
    }
    case TAG.BMP_STRING: {
      if (bytes.length % 2) throw malformed('BMPString de longueur impaire');
      let s = '';
      for (let i = 0; i < bytes.length; i += 2) s += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
      return s;
    }
    case TAG.UNIVERSAL_STRING: {
      if (bytes.length % 4) throw malformed('UniversalString de longueur invalide');
      let s = '';
      for (let i = 0; i < bytes.length; i += 4) {
        const cp = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
        if (cp > 0x10ffff) throw malformed('UniversalString hors de l’espace Unicode');
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      throw malformed(`type de chaîne 0x${t.tag.toString(16)} inattendu`);
  }
}

export function isStringTag(tag: number): boolean {
  return (
    tag === TAG.UTF8_STRING ||
    tag === TAG.PRINTABLE_STRING ||
    tag === TAG.IA5_STRING ||
    tag === TAG.VISIBLE_STRING ||
    tag === TAG.TELETEX_STRING ||
    tag === TAG.BMP_STRING ||
    tag === TAG.UNIVERSAL_STRING
  );
}

/** BIT STRING: returns the unused-bit count and the bytes. */
export function readBitString(buf: Uint8Array, t: Tlv): { unused: number; bytes: Uint8Array } {
  if (t.tag !== TAG.BIT_STRING || t.end === t.valueStart) throw malformed('BIT STRING attendu');
  const unused = buf[t.valueStart]!;
  if (unused > 7 || (unused > 0 && t.end - t.valueStart === 1)) throw malformed('BIT STRING invalide');
  return { unused, bytes: buf.subarray(t.valueStart + 1, t.end) };
}

/**
 * The signatureValue BIT STRING of a certificate or a CRL: the signature octets. Every X.509
 * signature is a whole number of octets, so a non-zero unused-bit count makes the signature
 * malformed, not the structure unreadable (OpenSSL reads such a certificate and fails its
 * verification with "invalid bit string bits left"). The object is kept readable, so that the
 * validator reports a bad signature of that certificate or CRL (PKITS 4.1.2, 4.1.6, 4.4.3), and
 * the signature is made unverifiable: an empty value, which verifySignature refuses for every
 * algorithm.
 */
export function readSignatureBits(buf: Uint8Array, t: Tlv): Uint8Array {
  const { unused, bytes } = readBitString(buf, t);
  return unused === 0 ? bytes : new Uint8Array(0);
}

export function readBoolean(buf: Uint8Array, t: Tlv): boolean {
  if (t.tag !== TAG.BOOLEAN || t.end - t.valueStart !== 1) throw malformed('BOOLEAN attendu');
  return buf[t.valueStart] !== 0;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
