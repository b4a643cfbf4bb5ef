/**
 * Our EnvelopedData, decrypted by the real OpenSSL (`openssl cms -decrypt … -binary`):
 * key transport (PKCS #1 v1.5, OAEP-SHA-256) × recipient identifier (issuerAndSerialNumber,
 * subjectKeyIdentifier) × compression (off, gzip) × sizes around the AES block.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type KeyTransport,
  type Recipient,
  type RecipientIdentifier,
  checkRecipient,
  encryptDocument,
  encryptedFileName,
  joinParts,
} from '../../src/lib/cms/index.js';
import { WEBCRYPTO_CHUNK } from '../../src/lib/cms/aes.js';
import { TAG, childrenOf, contents, readRoot, readSmallInt } from '../../src/lib/cms/ber.js';
import { nodeAesCbc } from '../../src/lib/server/crypto/aes-cbc-node.js';
import { nodeRsaPkcs1 } from '../../src/lib/server/crypto/rsa-pkcs1-node.js';
import { type Fixture, makeFixture, opensslDecrypt, prng, removeTemp, tmp, trustPolicy } from './helpers.js';

const SIZES = [0, 1, 15, 16, 1024 * 1024];
const TRANSPORTS: KeyTransport[] = ['rsa-pkcs1-v1_5', 'rsa-oaep-sha256'];
const IDS: RecipientIdentifier[] = ['issuer-and-serial', 'subject-key-identifier'];

let fx: Fixture;
let recipient: Recipient;
let dir: string;
const rand = prng(0x5e5a);
const payloads = new Map(SIZES.map((n) => [n, rand.bytes(n)]));

beforeAll(async () => {
  fx = makeFixture();
  dir = tmp();
  recipient = await checkRecipient(fx.recipient.cert, trustPolicy(fx));
});

afterAll(removeTemp);

/** Versions of EnvelopedData and of its single KeyTransRecipientInfo. */
function versions(der: Uint8Array): { env: number; ktri: number } {
  const ci = childrenOf(der, readRoot(der), TAG.SEQUENCE, 'ContentInfo');
  const env = childrenOf(der, childrenOf(der, ci[1], 0xa0, '[0]')[0], TAG.SEQUENCE, 'EnvelopedData');
  const ktri = childrenOf(der, childrenOf(der, env[1], TAG.SET, 'recipientInfos')[0], TAG.SEQUENCE, 'ktri');
  return { env: readSmallInt(der, env[0], 'v'), ktri: readSmallInt(der, ktri[0], 'v') };
}

describe('EnvelopedData decrypted by OpenSSL', () => {
  for (const keyTransport of TRANSPORTS) {
    for (const recipientIdentifier of IDS) {
      for (const compress of [false, true]) {
        it(`${keyTransport} × ${recipientIdentifier} × ${compress ? 'gzip' : 'plain'}`, async () => {
          for (const size of SIZES) {
            const data = payloads.get(size)!;
            const doc = await encryptDocument(data, recipient, { keyTransport, recipientIdentifier, compress });
            const der = joinParts(doc.parts);
            expect(der.length).toBe(doc.byteLength);
            expect(doc.compression).toBe(compress ? 'gzip' : null);
            const v = versions(der);
            expect(v).toEqual(recipientIdentifier === 'issuer-and-serial' ? { env: 0, ktri: 0 } : { env: 2, ktri: 2 });
            const out = opensslDecrypt(der, fx.recipient, dir);
            const plain = compress ? new Uint8Array(gunzipSync(out)) : out;
            expect(plain.length, `size ${size}`).toBe(size);
            expect(Buffer.compare(plain, data), `size ${size}`).toBe(0);
          }
        });
      }
    }
  }

  it('with the node:crypto AES and RSA adapters as well (sizes around the 256 KiB updates)', async () => {
    const K = 256 * 1024;
    for (const size of [...SIZES, K - 1, K, K + 1, 2 * K + 15]) {
      for (const keyTransport of TRANSPORTS) {
        const data = payloads.get(size) ?? rand.bytes(size);
        const doc = await encryptDocument(data, recipient, { keyTransport, aes: nodeAesCbc, rsa: nodeRsaPkcs1 });
        expect(Buffer.compare(opensslDecrypt(joinParts(doc.parts), fx.recipient, dir), data)).toBe(0);
      }
    }
  });

  it('returns a small header then the ciphertext, without copying it', async () => {
    const data = payloads.get(1024 * 1024)!;
    const doc = await encryptDocument(data, recipient);
    // WebCrypto encrypts chunk by chunk (aes.ts): one part per chunk after the header.
    expect(doc.parts.length).toBe(1 + (1024 * 1024) / WEBCRYPTO_CHUNK);
    expect(doc.parts[0]!.length).toBeLessThan(1024);
    expect(doc.byteLength - doc.parts[0]!.length).toBe(1024 * 1024 + 16);
    // The ciphertext parts are views of the buffers WebCrypto returned, not copies.
    for (const p of doc.parts.slice(1)) {
      expect(p.byteOffset).toBe(0);
      expect(p.buffer.byteLength).toBe(WEBCRYPTO_CHUNK + 16);
    }
    const blob = new Blob(doc.parts);
    expect(blob.size).toBe(doc.byteLength);
  });

  it('uses a fresh key and IV for every document', async () => {
    const data = payloads.get(16)!;
    const a = joinParts((await encryptDocument(data, recipient)).parts);
    const b = joinParts((await encryptDocument(data, recipient)).parts);
    expect(Buffer.compare(a, b)).not.toBe(0);
    // Same length, different IV (16 bytes before the [0] ciphertext header) and ciphertext.
    expect(Buffer.compare(a.subarray(-50, -34), b.subarray(-50, -34))).not.toBe(0);
  });

  it('pads the session key with PKCS #1 v1.5 type 2: 00 02, ≥ 8 non-zero random bytes, 00, key', async () => {
    for (let i = 0; i < 12; i++) {
      const der = joinParts((await encryptDocument(new Uint8Array(0), recipient)).parts);
      // encryptedKey: the 256-byte OCTET STRING (04 82 01 00).
      const at = Buffer.from(der).indexOf(Buffer.from([0x04, 0x82, 0x01, 0x00]));
      expect(at).toBeGreaterThan(0);
      const ek = join(dir, `ek-${i}`);
      writeFileSync(ek, der.subarray(at + 4, at + 4 + 256));
      const em = execFileSync('openssl', ['pkeyutl', '-decrypt', '-inkey', fx.recipient.keyPath, '-pkeyopt', 'rsa_padding_mode:none', '-in', ek]);
      expect(em.length).toBe(256);
      expect([em[0], em[1]]).toEqual([0x00, 0x02]);
      const ps = em.subarray(2, 256 - 17);
      expect(ps.length).toBe(237);
      expect(ps.includes(0)).toBe(false);
      expect(em[256 - 17]).toBe(0);
    }
  });

  it('names the output after the input plus .pkcs7', () => {
    expect(encryptedFileName('FSE-00025.b2')).toBe('FSE-00025.b2.pkcs7');
  });

  it('writes encryptedContent as the last, primitive [0] field (OpenSSL DER layout)', async () => {
    const doc = await encryptDocument(payloads.get(15)!, recipient);
    const der = joinParts(doc.parts);
    const head = doc.parts[0]!;
    expect(head[head.length - 2]).toBe(0x80);
    expect(head[head.length - 1]).toBe(16);
    const ci = childrenOf(der, readRoot(der), TAG.SEQUENCE, 'ContentInfo');
    const env = childrenOf(der, childrenOf(der, ci[1], 0xa0, '[0]')[0], TAG.SEQUENCE, 'EnvelopedData');
    const eci = childrenOf(der, env[2], TAG.SEQUENCE, 'eci');
    expect(eci[2]!.tag).toBe(0x80);
    expect(contents(der, eci[2]!).length).toBe(16);
  });
});
