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
 * WebCrypto AES-CBC. One `encrypt` call over the whole buffer: the browser copies the input
 * once internally and allocates the output once; chunking would add copies and thread hops.
 */
export const webCryptoAesCbc: AesCbc = {
  name: 'webcrypto',
  async encrypt(key, iv, data) {
    const k = await subtle().importKey('raw', asBufferSource(key), 'AES-CBC', false, ['encrypt']);
    const out = await subtle().encrypt({ name: 'AES-CBC', iv: asBufferSource(iv) }, k, asBufferSource(data));
    return [new Uint8Array(out)];
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
