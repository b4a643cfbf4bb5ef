/**
 * A compact, persisted revocation index: "is serial S revoked by this CRL, and why" answered
 * by a binary search over typed arrays, without re-parsing the CRL.
 *
 * A 100 000-entry CRL is ≈ 4 MB of DER and takes a few hundred milliseconds to parse; its
 * index is one ArrayBuffer (≈ 3.2 MB) that IndexedDB stores and returns as is, and that is
 * searched in place after a reload: a lookup hashes the serial, binary-searches a sorted
 * Uint32Array of hashes and compares the serial bytes of the (usually single) candidate.
 *
 * Why hashes rather than the serials themselves as the sort key: serials differ in length
 * and structure (random 16-octet ones, sequential short ones); a well-mixed 32-bit hash
 * spreads them evenly whatever they look like, and sorts with the native numeric sort.
 * Collisions are harmless: all entries with the searched hash are compared byte for byte.
 *
 * Layout (little-endian, as the typed-array views of every supported platform):
 *
 *   offset  size        content
 *   0       4           magic "TRX1"
 *   4       4           n, number of entries
 *   8       4           total length of the serial bytes
 *   12      4           m, number of entries that carry an invalidity date
 *   16      16          reserved (zero)
 *   32      8n          Float64 revocationDate (ms since epoch), in hash order
 *   …       8m          Float64 invalidityDate of the entries listed below
 *   …       4n          Uint32 hash of each serial, ascending
 *   …       4(n+1)      Uint32 offsets of each serial's bytes in the serial area
 *   …       4m          Uint32 entry positions that carry an invalidity date, ascending
 *   …       n           Uint8 reason code (RFC 5280 CRLReason; 255 = no reasonCode)
 *   …       total       serial bytes ("as encoded": content octets of the INTEGER)
 *
 * Serials are compared as encoded (the same convention as the pki module's hex keys: "00ff"
 * and "ff" are different serials), which is what an exact match against a certificate needs.
 */
import type { Crl, CrlEntry, ReasonCode } from '../pki/crl-model.js';

const MAGIC = 0x31585254; // "TRX1" read as a little-endian Uint32
const HEADER = 32;
export const NO_REASON = 255;

/** One index hit. Dates in milliseconds since the epoch. */
export interface IndexHit {
  revocationDate: number;
  reason?: ReasonCode;
  invalidityDate?: number;
}

const isLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** FNV-1a over the bytes, finished with MurmurHash3's fmix32 so that every bit is mixed. */
function hashBytes(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= b[i]!;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Value of one hex digit (either case), or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Writes the bytes of `hex` at `out[at…]`; returns the byte count, or -1 if `hex` is not hex. */
function hexInto(hex: string, out: Uint8Array, at: number): number {
  const n = hex.length >> 1;
  if (hex.length !== n * 2 || n === 0) return -1;
  for (let i = 0; i < n; i++) {
    const hi = hexDigit(hex.charCodeAt(2 * i));
    const lo = hexDigit(hex.charCodeAt(2 * i + 1));
    if ((hi | lo) < 0) return -1;
    out[at + i] = (hi << 4) | lo;
  }
  return n;
}

interface Layout {
  dates: number;
  invalidity: number;
  hashes: number;
  offsets: number;
  invalidityPos: number;
  reasons: number;
  serials: number;
  total: number;
}

function layout(n: number, serialBytes: number, m: number): Layout {
  const dates = HEADER;
  const invalidity = dates + 8 * n;
  const hashes = invalidity + 8 * m;
  const offsets = hashes + 4 * n;
  const invalidityPos = offsets + 4 * (n + 1);
  const reasons = invalidityPos + 4 * m;
  const serials = reasons + n;
  return { dates, invalidity, hashes, offsets, invalidityPos, reasons, serials, total: align(serials + serialBytes, 8) };
}

/**
 * The serial numbers of the entries, copied from the DER in CRL order into one compact array
 * (`bytes`, entry i at [at[i], at[i + 1])), or undefined when the layout is not the expected
 * one (then the caller decodes the hex keys instead). Only TLV headers are read: parseCrl has
 * already checked the DER strictly, this walk finds the INTEGER of each entry again, so that
 * the index copies bytes instead of decoding 100 000 hex strings.
 */
function serialsFromDer(tbs: Uint8Array, count: number): { bytes: Uint8Array; at: Uint32Array } | undefined {
  // Header reader without allocation: returns the value start and sets `tlvEnd`; -1 if bad.
  let tlvEnd = 0;
  const tlv = (p: number, limit: number): number => {
    if (p + 2 > limit) return -1;
    let n = tbs[p + 1]!;
    let v = p + 2;
    if (n & 0x80) {
      const k = n & 0x7f;
      if (k === 0 || k > 4 || v + k > limit) return -1;
      n = 0;
      for (let i = 0; i < k; i++) n = n * 256 + tbs[v++]!;
    }
    tlvEnd = v + n;
    return tlvEnd <= limit ? v : -1;
  };
  if (tbs[0] !== 0x30 || tlv(0, tbs.length) < 0) return undefined;
  const end = tlvEnd;
  let p = tlv(0, tbs.length);
  // version?, signature, issuer, thisUpdate, nextUpdate?: skip them.
  let tag = tbs[p];
  if (tag === 0x02 && tlv(p, end) >= 0) p = tlvEnd;
  for (let skip = 0; skip < 3; skip++) {
    if (tlv(p, end) < 0) return undefined;
    p = tlvEnd;
  }
  tag = tbs[p];
  if ((tag === 0x17 || tag === 0x18) && tlv(p, end) >= 0) p = tlvEnd;
  const at = new Uint32Array(count + 1);
  if (p >= end || tbs[p] !== 0x30) return count === 0 ? { bytes: new Uint8Array(0), at } : undefined;
  let q = tlv(p, end);
  if (q < 0) return undefined;
  const listEnd = tlvEnd;
  // Serials take less room than their entries: the list's length bounds the copy.
  const bytes = new Uint8Array(listEnd - q);
  let o = 0;
  let i = 0;
  while (q < listEnd) {
    if (tbs[q] !== 0x30 || i >= count) return undefined;
    const ev = tlv(q, listEnd);
    if (ev < 0) return undefined;
    const entryEnd = tlvEnd;
    if (tbs[ev] !== 0x02) return undefined;
    const sv = tlv(ev, entryEnd);
    if (sv < 0 || tlvEnd - sv > 255) return undefined;
    at[i++] = o;
    for (let b = sv; b < tlvEnd; b++) bytes[o++] = tbs[b]!;
    q = entryEnd;
  }
  at[i] = o;
  return i === count ? { bytes: bytes.subarray(0, o), at } : undefined;
}

/** Entry indexes 0..n−1 ordered by hash (stable LSD radix sort, two 16-bit passes). */
function orderByHash(hashes: Uint32Array): Uint32Array {
  const n = hashes.length;
  let from = new Uint32Array(n);
  let to = new Uint32Array(n);
  for (let i = 0; i < n; i++) from[i] = i;
  const count = new Uint32Array(65536);
  for (const shift of [0, 16]) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(hashes[i]! >>> shift) & 0xffff]!++;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = count[d]!;
      count[d] = sum;
      sum += c;
    }
    for (let k = 0; k < n; k++) {
      const i = from[k]!;
      to[count[(hashes[i]! >>> shift) & 0xffff]!++] = i;
    }
    [from, to] = [to, from];
  }
  return from;
}

/**
 * Builds the index of a parsed CRL. Every entry is indexed (a serial listed twice keeps both
 * entries; a lookup returns the first). Serial bytes are copied from the DER when the entries
 * map is in CRL order (no serial listed twice, the usual case), else decoded from hex.
 */
export function buildRevocationIndex(crl: Pick<Crl, 'entries'> & Partial<Pick<Crl, 'tbs' | 'size'>>): ArrayBuffer {
  if (!isLittleEndian) throw new Error('revocation index: big-endian platforms are not supported');
  const list: CrlEntry[] = [];
  for (const v of crl.entries.values()) {
    if (Array.isArray(v)) for (const e of v) list.push(e);
    else list.push(v);
  }
  const n = list.length;
  // Entry fields into typed arrays in CRL order (sequential reads of the entry objects); the
  // permutation below then moves numbers, not objects.
  const dateIn = new Float64Array(n);
  const reasonIn = new Uint8Array(n);
  const invalid: number[] = [];
  for (let i = 0; i < n; i++) {
    const e = list[i]!;
    dateIn[i] = e.revocationDate;
    reasonIn[i] = e.reason ?? NO_REASON;
    if (e.invalidityDate !== undefined) invalid.push(i);
  }

  // Serial bytes, entry i at raw[at[i], at[i + 1]).
  let found = crl.tbs && crl.size === n && crl.entries.size === n ? serialsFromDer(crl.tbs, n) : undefined;
  if (found) {
    // Cheap consistency check against the parsed entries (the same serials in the same order).
    for (let i = 0; i < n; i += 997) {
      const hex = list[i]!.serial;
      if (hex.length !== 2 * (found.at[i + 1]! - found.at[i]!) || hexDigit(hex.charCodeAt(1)) !== (found.bytes[found.at[i]!]! & 15)) {
        found = undefined;
        break;
      }
    }
  }
  if (!found) {
    let total = 0;
    for (const e of list) total += e.serial.length >> 1;
    const bytes = new Uint8Array(total);
    const at = new Uint32Array(n + 1);
    let o = 0;
    for (let i = 0; i < n; i++) {
      const e = list[i]!;
      const l = hexInto(e.serial, bytes, o);
      if (l < 0 || l > 255) throw new Error(`revocation index: serial "${e.serial}" is not a serial number`);
      at[i] = o;
      o += l;
    }
    at[n] = o;
    found = { bytes, at };
  }
  const { bytes: raw, at: rawAt } = found;
  const serialTotal = rawAt[n]!;

  const hashes = new Uint32Array(n);
  for (let i = 0; i < n; i++) hashes[i] = hashBytes(raw, rawAt[i]!, rawAt[i + 1]!);
  const order = orderByHash(hashes);

  const m = invalid.length;
  const L = layout(n, serialTotal, m);
  const buf = new ArrayBuffer(L.total);
  const head = new DataView(buf);
  head.setUint32(0, MAGIC, true);
  head.setUint32(4, n, true);
  head.setUint32(8, serialTotal, true);
  head.setUint32(12, m, true);
  const dates = new Float64Array(buf, L.dates, n);
  const sortedHashes = new Uint32Array(buf, L.hashes, n);
  const offsets = new Uint32Array(buf, L.offsets, n + 1);
  const reasons = new Uint8Array(buf, L.reasons, n);
  const serials = new Uint8Array(buf, L.serials, serialTotal);
  const position = new Uint32Array(n);
  let o = 0;
  for (let j = 0; j < n; j++) {
    const i = order[j]!;
    position[i] = j;
    sortedHashes[j] = hashes[i]!;
    dates[j] = dateIn[i]!;
    reasons[j] = reasonIn[i]!;
    offsets[j] = o;
    const s = rawAt[i]!;
    const e = rawAt[i + 1]!;
    for (let b = s; b < e; b++) serials[o++] = raw[b]!;
  }
  offsets[n] = o;
  // Invalidity dates (rare): by position in the index, ascending.
  if (m > 0) {
    const byPos = invalid.map((i) => [position[i]!, list[i]!.invalidityDate!] as const).sort((a, b) => a[0] - b[0]);
    const invalidity = new Float64Array(buf, L.invalidity, m);
    const invalidityPos = new Uint32Array(buf, L.invalidityPos, m);
    for (let k = 0; k < m; k++) {
      invalidityPos[k] = byPos[k]![0];
      invalidity[k] = byPos[k]![1];
    }
  }
  return buf;
}

/** A read-only view over a serialized index. Opening costs no copy and no parsing. */
export class RevocationIndex {
  readonly size: number;
  private readonly dates: Float64Array;
  private readonly invalidity: Float64Array;
  private readonly hashes: Uint32Array;
  private readonly offsets: Uint32Array;
  private readonly invalidityPos: Uint32Array;
  private readonly reasons: Uint8Array;
  private readonly serials: Uint8Array;
  /** Scratch space for the searched serial (serials are ≤ 20 octets; longer ones grow it). */
  private probe = new Uint8Array(64);

  constructor(readonly buffer: ArrayBuffer) {
    if (!isLittleEndian) throw new Error('revocation index: big-endian platforms are not supported');
    if (buffer.byteLength < HEADER) throw new RangeError('revocation index: truncated');
    const head = new DataView(buffer);
    if (head.getUint32(0, true) !== MAGIC) throw new RangeError('revocation index: bad magic');
    const n = head.getUint32(4, true);
    const serialTotal = head.getUint32(8, true);
    const m = head.getUint32(12, true);
    const L = layout(n, serialTotal, m);
    if (buffer.byteLength < L.serials + serialTotal) throw new RangeError('revocation index: truncated');
    this.size = n;
    this.dates = new Float64Array(buffer, L.dates, n);
    this.invalidity = new Float64Array(buffer, L.invalidity, m);
    this.hashes = new Uint32Array(buffer, L.hashes, n);
    this.offsets = new Uint32Array(buffer, L.offsets, n + 1);
    this.invalidityPos = new Uint32Array(buffer, L.invalidityPos, m);
    this.reasons = new Uint8Array(buffer, L.reasons, n);
    this.serials = new Uint8Array(buffer, L.serials, serialTotal);
    if (n > 0 && this.offsets[n] !== serialTotal) throw new RangeError('revocation index: inconsistent offsets');
  }

  /**
   * The entry for `serialHex` (hex of the serial's content octets as encoded, either case),
   * or undefined when the serial is not listed. Throws RangeError on a non-hex argument:
   * answering "not revoked" to garbage would be the unsafe failure.
   */
  lookup(serialHex: string): IndexHit | undefined {
    if (serialHex.length > this.probe.length * 2) this.probe = new Uint8Array(serialHex.length);
    const probe = this.probe;
    const len = hexInto(serialHex, probe, 0);
    if (len < 0) throw new RangeError(`not a serial number in hex: "${serialHex}"`);
    const h = hashBytes(probe, 0, len);
    const hashes = this.hashes;
    // Lower bound of h.
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    const offsets = this.offsets;
    const serials = this.serials;
    for (let j = lo; j < this.size && hashes[j] === h; j++) {
      const s = offsets[j]!;
      if (offsets[j + 1]! - s !== len) continue;
      let k = 0;
      while (k < len && serials[s + k] === probe[k]) k++;
      if (k === len) return this.hit(j);
    }
    return undefined;
  }

  private hit(j: number): IndexHit {
    const r = this.reasons[j]!;
    const out: IndexHit = { revocationDate: this.dates[j]! };
    if (r !== NO_REASON) out.reason = r as ReasonCode;
    // Invalidity dates are rare (sparse list): binary search of the position.
    const pos = this.invalidityPos;
    let lo = 0;
    let hi = pos.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pos[mid]! < j) lo = mid + 1;
      else hi = mid;
    }
    if (lo < pos.length && pos[lo] === j) out.invalidityDate = this.invalidity[lo]!;
    return out;
  }

  /** Every indexed serial (hex), in index order; for tests and diagnostics. */
  *serialsHex(): Generator<string> {
    for (let j = 0; j < this.size; j++) {
      let s = '';
      for (let k = this.offsets[j]!; k < this.offsets[j + 1]!; k++) s += this.serials[k]!.toString(16).padStart(2, '0');
      yield s;
    }
  }
}
