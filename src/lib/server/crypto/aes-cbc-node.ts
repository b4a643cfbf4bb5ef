/**
 * AES-CBC for the CMS core over node:crypto (OpenSSL EVP), for the CLI and the relay.
 *
 * Why not Node's WebCrypto: `subtle.encrypt` copies the whole input into its job, runs on the
 * libuv pool and allocates the output, which costs throughput on large lots (bench/cms.ts
 * reports both). `createCipheriv` reads the caller's buffer directly.
 *
 * Why 256 KiB updates: OpenSSL itself runs at the same speed here as in `openssl speed`; what
 * Node adds is the cost of the fresh output memory (page faults, kernel zeroing). One update
 * over a large buffer gets a multi-MiB mmap'ed block whose every page faults; medium-sized
 * outputs are served from malloc's recycled memory and stay in cache. Measured on the
 * reference machine: ~570 MiB/s CPU for one 10 MiB update, ~700 MiB/s with 256 KiB updates.
 * Each update's output becomes one part of the ciphertext, which the CMS writer passes on
 * as is: chunking costs no copy.
 *
 * When the caller hands its buffer over (`encryptInPlace`, see EncryptOptions.consumeInput) and
 * the addon of aes-cbc-native.ts is built, the ciphertext is written over the plaintext: no
 * fresh memory at all, which is what reaches OpenSSL's own speed (`openssl speed` encrypts one
 * hot buffer in place too). Without the addon, `encryptInPlace` is absent and the CMS core
 * uses `encrypt`.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { AesCbc } from '../../cms/aes.js';
import { nativeAesCbcInPlace } from './aes-cbc-native.js';

/** A multiple of the AES block, so that every update returns exactly its input's length. */
export const NODE_AES_CHUNK = 256 * 1024;

function cipherName(key: Uint8Array): string {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) throw new RangeError(`taille de clé AES invalide : ${key.length}`);
  return `aes-${key.length * 8}-cbc`;
}

/** Node Buffers may share a pooled ArrayBuffer: a view of exactly the bytes, no copy. */
function view(b: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength);
}

const inPlace = nativeAesCbcInPlace;

export const nodeAesCbc: AesCbc = {
  name: inPlace ? 'node:crypto+in-place' : 'node:crypto',
  ...(inPlace
    ? {
        async encryptInPlace(key: Uint8Array, iv: Uint8Array, data: Uint8Array<ArrayBuffer>) {
          cipherName(key); // the same RangeError as encrypt for a bad key size
          const tail = new Uint8Array(16);
          const whole = inPlace(key, iv, data, tail);
          return whole > 0 ? [data.subarray(0, whole), tail] : [tail];
        },
      }
    : {}),
  async encrypt(key, iv, data) {
    const c = createCipheriv(cipherName(key), key, iv);
    const parts: Uint8Array<ArrayBuffer>[] = [];
    for (let o = 0; o < data.length; o += NODE_AES_CHUNK) {
      const out = c.update(data.subarray(o, Math.min(data.length, o + NODE_AES_CHUNK)));
      if (out.length > 0) parts.push(view(out));
    }
    parts.push(view(c.final()));
    return parts;
  },
  async decrypt(key, iv, data) {
    const d = createDecipheriv(cipherName(key), key, iv);
    const head = d.update(data);
    const tail = d.final();
    if (tail.length === 0) return view(head);
    const out = new Uint8Array(head.length + tail.length);
    out.set(head, 0);
    out.set(tail, head.length);
    return out;
  },
};
