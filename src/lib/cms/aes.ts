/**
 * The AES-CBC primitive behind content encryption, injectable so that each runtime uses its
 * fastest implementation: WebCrypto by default (browsers; Node too), and in Node an adapter
 * over node:crypto (src/lib/server/crypto/aes-cbc-node.ts), which calls OpenSSL's EVP
 * directly without WebCrypto's copy of the input and thread hop.
 *
 * Padding is PKCS #7 (RFC 5652 §6.3) in both directions, as WebCrypto's AES-CBC does.
 */
import { asBufferSource } from './bytes.js';
import { unsupported } from './errors.js';

export interface AesCbc {
  /** Short name for reports, e.g. "webcrypto" or "node:crypto". */
  readonly name: string;
  /**
   * Encrypts `data` (PKCS #7 padded). The ciphertext may come back in several parts, whose
   * concatenation is the ciphertext, so that no implementation has to copy it into one buffer.
   * `data` must not be modified until the promise settles.
   */
  encrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>[]>;
  /**
   * Decrypts and strips PKCS #7 padding; rejects on a wrong key or corrupted data (any error).
   * A key size the implementation lacks is a CmsError('cms_unsupported_algorithm').
   */
  decrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Promise<Uint8Array>;
  /**
   * Optional: encrypts `data` over itself, for callers that hand their buffer over; the
   * ciphertext parts are views of `data` plus the last, padded block. No new memory for the
   * bulk, hence OpenSSL's full speed on large lots. Absent where the runtime cannot (WebCrypto).
   */
  encryptInPlace?(key: Uint8Array, iv: Uint8Array, data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>[]>;
}

/** Ciphertext length of AES-CBC with PKCS #7 padding: always at least one byte of padding. */
export function cbcCiphertextLength(plainLength: number): number {
  return (Math.floor(plainLength / 16) + 1) * 16;
}

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error('WebCrypto indisponible (contexte non sécurisé ?)');
  return s;
}

/**
 * Chunk of webCryptoAesCbc.encrypt (a multiple of 16). One `subtle.encrypt` over a whole
 * document peaks at 3× its size in Chromium (copy of the input, output, copy of the output into
 * the ArrayBuffer); chunk by chunk, at the ciphertext plus a few chunks. Chunks well below
 * Chromium's direct-mapped allocations (~1 MiB) also reuse the allocator's memory and stay in
 * cache: bench/cms.ts, Chromium, ratio to one raw call / peak extra memory ÷ size:
 *   512 KiB: 10 MiB 1.40–1.65 / 1.06, 50 MiB 1.63–1.78 / 1.02 (one call: 0.97–0.98 / 3.00);
 *   256 KiB: the same speed, 1.03 / 1.02; 1 MiB: 0.95 / 1.21; 2 MiB: 0.86 / 1.39.
 */
export const WEBCRYPTO_CHUNK = 512 * 1024;

/**
 * WebCrypto AES-CBC. Inputs above WEBCRYPTO_CHUNK are encrypted chunk by chunk, chaining CBC by
 * hand: each chunk's IV is the previous chunk's last ciphertext block, and WebCrypto's padding
 * block is dropped from every chunk but the last (the parts are views, no copy), so the parts
 * are exactly AES-CBC-PKCS7 of the whole input.
 */
export const webCryptoAesCbc: AesCbc = {
  name: 'webcrypto',
  async encrypt(key, iv, data) {
    const s = subtle();
    const k = await s.importKey('raw', asBufferSource(key), 'AES-CBC', false, ['encrypt']);
    const parts: Uint8Array<ArrayBuffer>[] = [];
    let chain: Uint8Array = iv;
    let o = 0;
    for (; data.length - o > WEBCRYPTO_CHUNK; o += WEBCRYPTO_CHUNK) {
      const chunk = asBufferSource(data.subarray(o, o + WEBCRYPTO_CHUNK));
      const out = new Uint8Array(await s.encrypt({ name: 'AES-CBC', iv: asBufferSource(chain) }, k, chunk), 0, WEBCRYPTO_CHUNK);
      parts.push(out);
      chain = out.subarray(WEBCRYPTO_CHUNK - 16);
    }
    // The last chunk (1 to WEBCRYPTO_CHUNK bytes, or none for an empty input) keeps its padding.
    parts.push(new Uint8Array(await s.encrypt({ name: 'AES-CBC', iv: asBufferSource(chain) }, k, asBufferSource(data.subarray(o)))));
    return parts;
  },
  async decrypt(key, iv, data) {
    // Chromium has no AES-192: say so rather than "decryption failed".
    const k = await subtle()
      .importKey('raw', asBufferSource(key), 'AES-CBC', false, ['decrypt'])
      .catch(() => {
        throw unsupported(`AES-${key.length * 8}-CBC indisponible dans ce moteur WebCrypto`);
      });
    return new Uint8Array(await subtle().decrypt({ name: 'AES-CBC', iv: asBufferSource(iv) }, k, asBufferSource(data)));
  },
};
