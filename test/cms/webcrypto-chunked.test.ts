/**
 * webCryptoAesCbc.encrypt chains CBC across WebCrypto calls for large inputs (src/lib/cms/aes.ts):
 * the joined parts must be exactly OpenSSL's AES-128-CBC (PKCS #7) of the whole input, around
 * chunk boundaries, in Node and in Chromium; the parts are views of WebCrypto's outputs.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBCRYPTO_CHUNK, webCryptoAesCbc } from '../../src/lib/cms/aes.js';
import { joinParts } from '../../src/lib/cms/index.js';
import { launchChromium, openModulePage } from '../browser/harness.js';
import { prng } from './helpers.js';

declare const TeletransCms: typeof import('../../src/lib/cms/index.js');

const C = WEBCRYPTO_CHUNK;
const SIZES = [0, 1, 15, 16, 17, C - 16, C - 1, C, C + 1, C + 16, 2 * C, 2 * C + 17, 3 * C - 1];

function opensslCbc(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Buffer {
  const c = createCipheriv('aes-128-cbc', key, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

describe('webCryptoAesCbc.encrypt, chunked (Node)', () => {
  const key = new Uint8Array(randomBytes(16));
  const iv = new Uint8Array(randomBytes(16));
  const all = new Uint8Array(randomBytes(3 * C + 32));

  it.each(SIZES)('%i bytes: the same ciphertext as node:crypto, parts are views', async (n) => {
    const data = all.subarray(7, 7 + n); // not at offset 0 of its buffer
    const parts = await webCryptoAesCbc.encrypt(key, iv, data);
    expect(Buffer.compare(joinParts(parts), opensslCbc(key, iv, data))).toBe(0);
    expect(parts).toHaveLength(Math.max(1, Math.ceil(n / C)));
    for (const p of parts.slice(0, -1)) {
      // A view over WebCrypto's output, its padding block left out.
      expect(p.length).toBe(C);
      expect(p.byteOffset).toBe(0);
      expect(p.buffer.byteLength).toBe(C + 16);
    }
    expect(parts.at(-1)!.length).toBe(n - (parts.length - 1) * C - (n % 16) + 16);
  });

  it('accepts views over a SharedArrayBuffer (copied chunk by chunk)', async () => {
    const n = C + 33;
    const shared = new Uint8Array(new SharedArrayBuffer(n));
    shared.set(all.subarray(0, n));
    expect(Buffer.compare(joinParts(await webCryptoAesCbc.encrypt(key, iv, shared)), opensslCbc(key, iv, all.subarray(0, n)))).toBe(0);
  });
});

describe('webCryptoAesCbc.encrypt, chunked (Chromium)', () => {
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium();
    page = await openModulePage(browser, 'src/lib/cms/index.ts', 'TeletransCms');
  });

  afterAll(async () => {
    await page?.close();
    await browser?.close();
  });

  it('5 MiB + 3 bytes encrypted in the page: the same ciphertext as node:crypto', async () => {
    const key = new Uint8Array(randomBytes(16));
    const iv = new Uint8Array(randomBytes(16));
    const data = prng(11).bytes(5 * 1024 * 1024 + 3);
    const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
    const r = await page.evaluate(
      async (i) => {
        const unb64 = (s: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
        const parts = await TeletransCms.webCryptoAesCbc.encrypt(unb64(i.key), unb64(i.iv), unb64(i.data));
        const out = TeletransCms.joinParts(parts);
        let s = '';
        for (let o = 0; o < out.length; o += 0x8000) s += String.fromCharCode(...out.subarray(o, o + 0x8000));
        return { parts: parts.length, ct: btoa(s) };
      },
      { key: b64(key), iv: b64(iv), data: b64(data) },
    );
    expect(r.parts).toBe(Math.ceil(data.length / WEBCRYPTO_CHUNK));
    expect(Buffer.compare(Buffer.from(r.ct, 'base64'), opensslCbc(key, iv, data))).toBe(0);
  });
});
