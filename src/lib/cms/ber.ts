/**
 * Reader for incoming CMS objects. CMS producers legitimately emit BER (OpenSSL with
 * `-stream`, most S/MIME agents): indefinite lengths and constructed OCTET STRINGs must be read.
 * Everything else is strict: bounded nesting, lengths inside their parent, no high tag numbers,
 * no trailing bytes. Every failure is a CmsError('cms_malformed'); the reader never loops
 * without consuming input, so corrupted objects cannot hang it.
 */
import { decodeOid } from '../pki/der.js';
import { malformed } from './errors.js';

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
  /** Constructed form of OCTET STRING (BER only). */
  OCTET_STRING_C: 0x24,
} as const;

/** Deep enough for any CMS object we read (certificates inside SignedData nest to ~12). */
export const MAX_DEPTH = 40;

export interface Node {
  /** Identifier octet: class, constructed bit and tag number (< 31). */
  tag: number;
  start: number;
  valueStart: number;
  /** End of the contents: before the end-of-contents octets when the length is indefinite. */
  valueEnd: number;
  /** Offset just past the element (after the end-of-contents octets if any). */
  end: number;
  depth: number;
}

export function isConstructed(n: Node): boolean {
  return (n.tag & 0x20) !== 0;
}

/** True when the element used the indefinite-length form (forbidden where DER is required). */
export function isIndefinite(n: Node): boolean {
  return n.end !== n.valueEnd;
}

/** Reads the element at `pos`, which must end at or before `limit`. */
export function readNode(buf: Uint8Array, pos: number, limit: number, depth = 0): Node {
  if (depth > MAX_DEPTH) throw malformed('imbrication trop profonde');
  if (pos + 2 > limit) throw malformed('données tronquées');
  const tag = buf[pos]!;
  if (tag === 0) throw malformed('balise 0 inattendue');
  if ((tag & 0x1f) === 0x1f) throw malformed('numéro de balise étendu non pris en charge');
  let p = pos + 1;
  const first = buf[p++]!;
  if (first === 0x80) {
    if ((tag & 0x20) === 0) throw malformed('longueur indéfinie sur un élément primitif');
    // The contents end at the first end-of-contents octets at this level: walk the children.
    let q = p;
    for (;;) {
      if (q + 2 > limit) throw malformed('fin de contenu (00 00) manquante');
      if (buf[q] === 0 && buf[q + 1] === 0) return { tag, start: pos, valueStart: p, valueEnd: q, end: q + 2, depth };
      q = readNode(buf, q, limit, depth + 1).end;
    }
  }
  let len = first;
  if (first & 0x80) {
    const n = first & 0x7f;
    // Four octets cover 4 GiB, far above anything we accept; 0xff (n = 127) is reserved.
    if (n > 4) throw malformed('longueur démesurée');
    if (p + n > limit) throw malformed('longueur tronquée');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
  }
  const end = p + len;
  if (end > limit) throw malformed(`longueur ${len} au-delà des données disponibles`);
  return { tag, start: pos, valueStart: p, valueEnd: end, end, depth };
}

/** Parses a whole buffer that must hold exactly one element. */
export function readRoot(buf: Uint8Array): Node {
  const n = readNode(buf, 0, buf.length);
  if (n.end !== buf.length) throw malformed('données en trop après la structure');
  return n;
}

/** The direct children of a constructed element. */
export function children(buf: Uint8Array, parent: Node): Node[] {
  if (!isConstructed(parent)) throw malformed('élément construit attendu');
  const out: Node[] = [];
  let p = parent.valueStart;
  while (p < parent.valueEnd) {
    const c = readNode(buf, p, parent.valueEnd, parent.depth + 1);
    out.push(c);
    p = c.end;
  }
  return out;
}

export function expectTag(n: Node | undefined, tag: number, what: string): Node {
  if (!n) throw malformed(`${what} manquant`);
  if (n.tag !== tag) throw malformed(`${what} : balise 0x${tag.toString(16)} attendue, 0x${n.tag.toString(16)} trouvée`);
  return n;
}

/** Children of a SEQUENCE/SET (or implicitly tagged constructed element) with the expected tag. */
export function childrenOf(buf: Uint8Array, n: Node | undefined, tag: number, what: string): Node[] {
  return children(buf, expectTag(n, tag, what));
}

export function contents(buf: Uint8Array, n: Node): Uint8Array {
  return buf.subarray(n.valueStart, n.valueEnd);
}

export function whole(buf: Uint8Array, n: Node): Uint8Array {
  return buf.subarray(n.start, n.end);
}

export function readOid(buf: Uint8Array, n: Node | undefined, what = 'OID'): string {
  const t = expectTag(n, TAG.OID, what);
  try {
    return decodeOid(contents(buf, t));
  } catch {
    throw malformed(`${what} illisible`);
  }
}

/** A small non-negative INTEGER (versions). */
export function readSmallInt(buf: Uint8Array, n: Node | undefined, what: string): number {
  const t = expectTag(n, TAG.INTEGER, what);
  const len = t.valueEnd - t.valueStart;
  if (len < 1 || len > 4) throw malformed(`${what} hors bornes`);
  if (buf[t.valueStart]! & 0x80) throw malformed(`${what} négatif`);
  let v = 0;
  for (let i = t.valueStart; i < t.valueEnd; i++) v = v * 256 + buf[i]!;
  return v;
}

/** INTEGER as a bigint (two's complement). */
export function readBigInt(buf: Uint8Array, n: Node | undefined, what: string): bigint {
  const t = expectTag(n, TAG.INTEGER, what);
  const b = contents(buf, t);
  if (b.length === 0) throw malformed(`${what} vide`);
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  if (b[0]! & 0x80) v -= 1n << BigInt(b.length * 8);
  return v;
}

/**
 * Contents of an OCTET STRING that may be primitive or (BER) constructed, also under an
 * implicit context tag: `primitiveTag` / `constructedTag` are the two accepted identifiers.
 * Returns the segments in order; a primitive string is one view into `buf` (no copy).
 */
export function octetSegments(buf: Uint8Array, n: Node, primitiveTag: number = TAG.OCTET_STRING, what = 'OCTET STRING'): Uint8Array[] {
  if (n.tag === primitiveTag) return [contents(buf, n)];
  if (n.tag !== (primitiveTag | 0x20)) throw malformed(`${what} attendu`);
  const out: Uint8Array[] = [];
  // Segments of a constructed string are themselves OCTET STRINGs (possibly constructed).
  for (const c of children(buf, n)) out.push(...octetSegments(buf, c, TAG.OCTET_STRING, what));
  return out;
}

/** Concatenates segments; a single segment is returned as is (no copy). */
export function joinSegments(segments: Uint8Array[]): Uint8Array {
  if (segments.length === 1) return segments[0]!;
  let total = 0;
  for (const s of segments) total += s.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const s of segments) {
    out.set(s, o);
    o += s.length;
  }
  return out;
}

/** An AlgorithmIdentifier: OID and the parameters element, if any. */
export interface Algorithm {
  oid: string;
  params?: Node;
}

export function readAlgorithm(buf: Uint8Array, n: Node | undefined, what: string): Algorithm {
  const f = childrenOf(buf, n, TAG.SEQUENCE, what);
  if (f.length < 1 || f.length > 2) throw malformed(`${what} mal formé`);
  const oid = readOid(buf, f[0], what);
  return f[1] ? { oid, params: f[1] } : { oid };
}

/** True when the parameters are absent or NULL (both are seen for rsaEncryption and SHA-2). */
export function absentOrNull(buf: Uint8Array, p: Node | undefined): boolean {
  return !p || (p.tag === TAG.NULL && p.valueEnd === p.valueStart);
}
