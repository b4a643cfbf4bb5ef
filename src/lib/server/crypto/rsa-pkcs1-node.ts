/**
 * RSAES-PKCS1-v1_5 key transport for the CMS core over node:crypto (OpenSSL), for the CLI and
 * the relay: `publicEncrypt` with RSA_PKCS1_PADDING takes ~0.1 ms where V8's BigInt needs
 * ~1 ms. Encryption only: Node disables PKCS #1 v1.5 *decryption* (Marvin attack), which the
 * CMS core does itself, blinded.
 */
import { type KeyObject, constants, createPublicKey, publicEncrypt } from 'node:crypto';
import type { RsaPkcs1 } from '../../cms/rsa.js';

/** Parsed keys by SPKI: parsing costs ten times the encryption. Bounded (a few recipients in practice). */
const keys = new Map<string, KeyObject>();
const MAX_KEYS = 64;

function keyObject(spki: Uint8Array): KeyObject {
  const id = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength).toString('base64');
  let k = keys.get(id);
  if (!k) {
    if (keys.size >= MAX_KEYS) keys.clear();
    k = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    keys.set(id, k);
  }
  return k;
}

export const nodeRsaPkcs1: RsaPkcs1 = {
  name: 'node:crypto',
  async encrypt(recipient, message) {
    return new Uint8Array(publicEncrypt({ key: keyObject(recipient.spki), padding: constants.RSA_PKCS1_PADDING }, message));
  },
};
