/**
 * In-place encryption (EncryptOptions.consumeInput) through the native addon
 * (native/aes_cbc_inplace.c, built by scripts/build-native.sh, which the test command runs):
 * the output decrypted by the real OpenSSL, the caller's buffer really reused, the copying
 * path kept when the caller does not hand its buffer over, the addon's argument checks, and
 * the fallback without the addon (TELETRANS_NATIVE=off, in a child process).
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Recipient, checkRecipient, encryptDocument, joinParts } from '../../src/lib/cms/index.js';
import { nativeAesCbcInPlace } from '../../src/lib/server/crypto/aes-cbc-native.js';
import { nodeAesCbc } from '../../src/lib/server/crypto/aes-cbc-node.js';
import { nodeRsaPkcs1 } from '../../src/lib/server/crypto/rsa-pkcs1-node.js';
import { type Fixture, makeFixture, opensslDecrypt, prng, removeTemp, tmp, trustPolicy } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SIZES = [0, 1, 15, 16, 17, 4095, 256 * 1024 + 1, 3 * 1024 * 1024];

let fx: Fixture;
let recipient: Recipient;
let dir: string;
const rand = prng(0x1a9e);

beforeAll(async () => {
  fx = makeFixture();
  dir = tmp();
  recipient = await checkRecipient(fx.recipient.cert, trustPolicy(fx));
});

afterAll(removeTemp);

describe('in-place AES-CBC (native addon)', () => {
  it('is built by the test command and active in the node:crypto adapter', () => {
    expect(nativeAesCbcInPlace).not.toBeNull();
    expect(nodeAesCbc.encryptInPlace).toBeTypeOf('function');
    expect(nodeAesCbc.name).toBe('node:crypto+in-place');
  });

  it('encrypts the handed-over buffer itself; OpenSSL decrypts the result byte for byte', async () => {
    for (const size of SIZES) {
      const original = rand.bytes(size);
      const data = original.slice();
      const doc = await encryptDocument(data, recipient, { aes: nodeAesCbc, rsa: nodeRsaPkcs1, consumeInput: true });
      const whole = size - (size % 16);
      if (whole > 0) {
        // The bulk of the ciphertext is the caller's memory, not a copy.
        expect(doc.parts[1]!.buffer, `size ${size}`).toBe(data.buffer);
        expect(doc.parts[1]!.length).toBe(whole);
      }
      expect(doc.parts.at(-1)!.length).toBe(16);
      // The partial last block's plaintext is not left behind in the caller's buffer.
      expect(data.subarray(whole).every((b) => b === 0)).toBe(true);
      const der = joinParts(doc.parts);
      expect(der.length).toBe(doc.byteLength);
      expect(Buffer.compare(opensslDecrypt(der, fx.recipient, dir), original), `size ${size}`).toBe(0);
    }
  });

  it('leaves the input intact unless the caller hands it over', async () => {
    const original = rand.bytes(100_000);
    const data = original.slice();
    const doc = await encryptDocument(data, recipient, { aes: nodeAesCbc, rsa: nodeRsaPkcs1 });
    expect(Buffer.compare(data, original)).toBe(0);
    expect(doc.parts.every((p) => p.buffer !== data.buffer)).toBe(true);
    expect(Buffer.compare(opensslDecrypt(joinParts(doc.parts), fx.recipient, dir), original)).toBe(0);
  });

  it('encrypts the compressed copy in place, never the caller’s buffer', async () => {
    const original = new TextEncoder().encode('FSE B2 '.repeat(40_000));
    const data = original.slice();
    const doc = await encryptDocument(data, recipient, { aes: nodeAesCbc, rsa: nodeRsaPkcs1, compress: true });
    expect(Buffer.compare(data, original)).toBe(0);
    const out = opensslDecrypt(joinParts(doc.parts), fx.recipient, dir);
    expect(Buffer.compare(gunzipSync(out), original)).toBe(0);
  });

  it('rejects bad arguments with typed errors and writes nothing', () => {
    const addon = createRequire(import.meta.url)(`${ROOT}native/build/aes_cbc_inplace.node`) as {
      encryptInPlace(...a: unknown[]): number;
    };
    const key = new Uint8Array(16);
    const iv = new Uint8Array(16);
    const data = new Uint8Array(64).fill(7);
    const call = (...a: unknown[]): unknown => {
      try {
        addon.encryptInPlace(...a);
        return null;
      } catch (e) {
        return { type: (e as Error).constructor.name, code: (e as { code?: string }).code };
      }
    };
    expect(call(key, iv, data)).toEqual({ type: 'TypeError', code: 'ERR_MISSING_ARGS' });
    expect(call(key, iv, 'texte', new Uint8Array(16))).toEqual({ type: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(call(key, iv, new Uint16Array(8), new Uint8Array(16))).toEqual({ type: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(call(new Uint8Array(5), iv, data, new Uint8Array(16))).toEqual({ type: 'RangeError', code: 'ERR_CRYPTO_INVALID_KEYLEN' });
    expect(call(key, new Uint8Array(8), data, new Uint8Array(16))).toEqual({ type: 'RangeError', code: 'ERR_CRYPTO_INVALID_IV' });
    expect(call(key, iv, data, new Uint8Array(15))).toEqual({ type: 'RangeError', code: 'ERR_CRYPTO_INVALID_IV' });
    expect(call(key, iv, data, data.subarray(48))).toEqual({ type: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' });
    expect(data.every((b) => b === 7)).toBe(true);
  });

  it('falls back to the copying path when the addon is off (TELETRANS_NATIVE=off)', () => {
    const script = `
      const { nodeAesCbc } = await import('./src/lib/server/crypto/aes-cbc-node.ts');
      const { checkRecipient, encryptDocument, joinParts } = await import('./src/lib/cms/index.ts');
      const r = await checkRecipient(Buffer.from(process.argv[1], 'base64'), { insecureSkipVerify: true });
      const data = new Uint8Array(1000).fill(9);
      const doc = await encryptDocument(data, r, { aes: nodeAesCbc, consumeInput: true });
      process.stdout.write(JSON.stringify({ name: nodeAesCbc.name, inPlace: 'encryptInPlace' in nodeAesCbc,
        intact: data.every((b) => b === 9), der: Buffer.from(joinParts(doc.parts)).toString('base64') }));`;
    const out = execFileSync('node', ['--import', 'tsx', '--input-type=module', '-e', script, Buffer.from(fx.recipient.cert).toString('base64')], {
      cwd: ROOT,
      env: { ...process.env, TELETRANS_NATIVE: 'off' },
      encoding: 'utf8',
    });
    const r = JSON.parse(out) as { name: string; inPlace: boolean; intact: boolean; der: string };
    expect(r).toMatchObject({ name: 'node:crypto', inPlace: false, intact: true });
    const plain = opensslDecrypt(Buffer.from(r.der, 'base64'), fx.recipient, dir);
    expect(Buffer.compare(plain, new Uint8Array(1000).fill(9))).toBe(0);
  });
});
