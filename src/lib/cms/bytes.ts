/** Small byte helpers shared by the CMS modules (randomness, BigInt conversions). */
import { toHex } from '../pki/der.js';

/** WebCrypto refuses more than 65 536 bytes per getRandomValues call. */
const RANDOM_CHUNK = 65_536;

export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += RANDOM_CHUNK) crypto.getRandomValues(out.subarray(o, Math.min(n, o + RANDOM_CHUNK)));
  return out;
}

export function bytesToBigInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + toHex(b));
}

/** Big-endian, left-padded to exactly `len` bytes (the value must fit). */
export function bigIntToBytes(v: bigint, len: number): Uint8Array<ArrayBuffer> {
  const hex = v.toString(16);
  if (hex.length > len * 2) throw new RangeError('entier trop grand pour la taille demandée');
  const out = new Uint8Array(len);
  const padded = hex.padStart(len * 2, '0');
  for (let i = 0; i < len; i++) out[i] = parseInt(padded.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * A view WebCrypto accepts without copying when possible: views over a SharedArrayBuffer are
 * refused by WebCrypto, so only those are copied.
 */
export function asBufferSource(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b.buffer instanceof ArrayBuffer ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b);
}

/** Byte equality whose running time depends on the length only. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
