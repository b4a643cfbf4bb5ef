/**
 * The same CMS core inside Chromium (esbuild bundle of src/lib/cms/index.ts through the
 * harness): recipient validation with the PKI Verifier, encryption in every mode, output
 * decrypted by OpenSSL; and OpenSSL's objects decrypted in the page.
 */
import { gunzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openModulePage } from '../browser/harness.js';
import { EMAIL, type Fixture, makeFixture, opensslCms, opensslDecrypt, prng, removeTemp, tmp } from './helpers.js';

declare const TeletransCms: typeof import('../../src/lib/cms/index.js');

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

let fx: Fixture;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  fx = makeFixture();
  browser = await launchChromium();
  page = await openModulePage(browser, 'src/lib/cms/index.ts', 'TeletransCms');
  // Base64 helpers in the page (Playwright passes strings and plain JSON).
  await page.evaluate(() => {
    const g = globalThis as unknown as Record<string, unknown>;
    g.unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
    g.b64 = (b: Uint8Array) => {
      let s = '';
      for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
      return btoa(s);
    };
  });
});

afterAll(async () => {
  await page?.close();
  await browser?.close();
  removeTemp();
});

interface PageHelpers {
  unb64(s: string): Uint8Array<ArrayBuffer>;
  b64(b: Uint8Array): string;
}

describe('CMS in Chromium', () => {
  it('validates the recipient and encrypts in every mode; OpenSSL decrypts', async () => {
    const data = prng(3).bytes(1024 * 1024 + 5);
    const input = {
      cert: b64(fx.recipient.cert),
      anchors: [b64(fx.rootDer)],
      intermediates: [b64(fx.interDer)],
      crls: [b64(fx.rootCrl.der), b64(fx.interCrl.der)],
      email: EMAIL,
      data: b64(data),
    };
    const results = await page.evaluate(async (i) => {
      const h = globalThis as unknown as PageHelpers;
      const r = await TeletransCms.checkRecipient(h.unb64(i.cert), {
        anchors: i.anchors.map(h.unb64),
        intermediates: i.intermediates.map(h.unb64),
        crls: i.crls.map(h.unb64),
        email: i.email,
      });
      const out: Array<{ mode: string; der: string; parts: number; blob: number; length: number }> = [];
      for (const keyTransport of ['rsa-pkcs1-v1_5', 'rsa-oaep-sha256'] as const) {
        for (const recipientIdentifier of ['issuer-and-serial', 'subject-key-identifier'] as const) {
          for (const compress of [false, true]) {
            const doc = await TeletransCms.encryptDocument(h.unb64(i.data), r, { keyTransport, recipientIdentifier, compress });
            out.push({
              mode: `${keyTransport}/${recipientIdentifier}/${compress}`,
              der: h.b64(TeletransCms.joinParts(doc.parts)),
              parts: doc.parts.length,
              blob: new Blob(doc.parts).size,
              length: doc.byteLength,
            });
          }
        }
      }
      return { verified: r.verified, out };
    }, input);
    expect(results.verified).toBe(true);
    expect(results.out).toHaveLength(8);
    for (const o of results.out) {
      expect(o.blob, o.mode).toBe(o.length);
      const plain = opensslDecrypt(unb64(o.der), fx.recipient);
      const back = o.mode.endsWith('true') ? new Uint8Array(gunzipSync(plain)) : plain;
      expect(Buffer.compare(back, data), o.mode).toBe(0);
    }
  });

  it('refuses a wrong mailbox in the page too (recipient_invalid with reasons)', async () => {
    const r = await page.evaluate(
      async (i) => {
        const h = globalThis as unknown as PageHelpers;
        try {
          await TeletransCms.checkRecipient(h.unb64(i.cert), { anchors: [h.unb64(i.root)], intermediates: [h.unb64(i.inter)], crls: [], email: 'x@y.fr' });
          return null;
        } catch (e) {
          const c = e as { code: string; reasons: Array<{ code: string }> };
          return { code: c.code, reasons: c.reasons.map((x) => x.code) };
        }
      },
      { cert: b64(fx.recipient.cert), root: b64(fx.rootDer), inter: b64(fx.interDer) },
    );
    expect(r?.code).toBe('recipient_invalid');
    expect(r?.reasons).toEqual(expect.arrayContaining(['email_mismatch', 'crl_missing']));
  });

  it('decrypts OpenSSL objects in the page (v1.5, OAEP, AES-256; AES-192 per engine support)', async () => {
    const dir = tmp();
    const data = prng(4).bytes(50_000);
    const objects = {
      v15: opensslCms(['-encrypt', '-binary', '-outform', 'DER', '-aes-128-cbc', fx.recipient.certPath], data, dir),
      oaep: opensslCms(['-encrypt', '-binary', '-outform', 'DER', '-aes256', '-recip', fx.recipient.certPath,
        '-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256', '-keyopt', 'rsa_mgf1_md:sha256'], data, dir),
      aes192: opensslCms(['-encrypt', '-binary', '-outform', 'DER', '-aes-192-cbc', fx.recipient.certPath], data, dir),
    };
    const out = await page.evaluate(
      async (i) => {
        const h = globalThis as unknown as PageHelpers;
        const res: Record<string, string> = {};
        for (const [name, der] of Object.entries(i.objects)) {
          try {
            const r = await TeletransCms.decryptDocument(h.unb64(der), { key: h.unb64(i.key), certificate: h.unb64(i.cert) });
            res[name] = h.b64(r.content);
          } catch (e) {
            res[name] = `error:${(e as { code?: string }).code ?? String(e)}`;
          }
        }
        return res;
      },
      { objects: { v15: b64(objects.v15), oaep: b64(objects.oaep), aes192: b64(objects.aes192) }, key: b64(fx.recipient.key), cert: b64(fx.recipient.cert) },
    );
    expect(Buffer.compare(unb64(out.v15!), data)).toBe(0);
    expect(Buffer.compare(unb64(out.oaep!), data)).toBe(0);
    // Chromium's WebCrypto has no AES-192: a typed refusal, not "decryption failed".
    if (out.aes192!.startsWith('error:')) expect(out.aes192).toBe('error:cms_unsupported_algorithm');
    else expect(Buffer.compare(unb64(out.aes192!), data)).toBe(0);
  });
});
