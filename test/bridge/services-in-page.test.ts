/**
 * The card services core (src/lib/card/, issue 17 item 1) runs in a page as it runs in the
 * bridge: bundled for Chromium with nothing of the bridge, driving a virtual CPS and a virtual
 * Vitale whose APDUs cross to this process (the stand-in for any in-page transport). Same reads,
 * same PIN counting, a signature that verifies with the card's certificate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants, createPublicKey, publicDecrypt } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { makeCps, makeTestPki, makeVitale, type TestPki } from '../../bridge/cards/profiles.js';
import type { VirtualCard } from '../../bridge/cards/card.js';
import { launchChromium, openModulePage } from '../browser/harness.js';

const ENTRY = 'test/bridge/support/services-entry.ts';
const GLOBAL = 'CardServicesCore';

describe('card services in the page (isomorphic core)', () => {
  let browser: Browser;
  let pki: TestPki;
  let page: Page;
  const cards = new Map<string, VirtualCard>();
  const apdus: string[] = [];

  beforeAll(async () => {
    [browser, pki] = await Promise.all([launchChromium(), makeTestPki()]);
    page = await openModulePage(browser, ENTRY, GLOBAL);
    // The page's transport: each APDU as hex to the card named, its response back.
    await page.exposeFunction('transmitApdu', async (card: string, hex: string) => {
      apdus.push(`${card}:${hex.slice(0, 8)}`);
      const c = cards.get(card);
      if (!c) throw new Error(`no card ${card}`);
      return Buffer.from(await c.process(Uint8Array.from(Buffer.from(hex, 'hex')))).toString('hex');
    });
  }, 60_000);

  afterAll(async () => {
    await page?.close();
    await browser?.close();
  });

  it('reads the CPS and the Vitale, counts PIN tries, signs: the same answers as in the bridge', async () => {
    const cps = await makeCps(pki, { pin: '4321' });
    const vitale = await makeVitale(pki);
    cards.set('cps', cps.card);
    cards.set('vitale', vitale.card);
    const digest = new Uint8Array(32).fill(0x5a);
    const r = await page.evaluate(async (d) => {
      const { VirtualCardServices } = (globalThis as unknown as { CardServicesCore: typeof import('./support/services-entry') }).CardServicesCore;
      const tx = (card: string) => async (apdu: Uint8Array): Promise<Uint8Array> => {
        const hex = [...apdu].map((b) => b.toString(16).padStart(2, '0')).join('');
        const out = await (globalThis as unknown as { transmitApdu(c: string, h: string): Promise<string> }).transmitApdu(card, hex);
        return Uint8Array.from(out.match(/../g) ?? [], (h) => parseInt(h, 16));
      };
      const s = new VirtualCardServices();
      const read = await s.readCps(tx('cps'));
      const wrong = await s.verifyPin(tx('cps'), new TextEncoder().encode('0000'));
      const refused = await s.sign(tx('cps'), Uint8Array.from(d)).then(() => 'signed', (e: { code: string }) => e.code);
      const right = await s.verifyPin(tx('cps'), new TextEncoder().encode('4321'));
      const signature = await s.sign(tx('cps'), Uint8Array.from(d));
      const certs = await s.certificates(tx('cps'), 'CPS');
      const v = await s.readVitale(tx('vitale'));
      const b64 = (x: Uint8Array) => btoa(String.fromCharCode(...x));
      return { read: { family: read.family, rpps: read.rpps, situations: read.situations.length }, wrong, refused, right, signature: b64(signature), sign: b64(certs.sign!), beneficiaries: v.beneficiaries.map((b) => b.firstName), nir: v.holderNir };
    }, [...digest]);
    expect(r.read).toEqual({ family: 'CPS', rpps: cps.data.rpps, situations: 3 });
    expect(r.wrong).toEqual({ ok: false, triesLeft: 2, blocked: false });
    expect(r.refused).toBe('pin_required');
    expect(r.right).toEqual({ ok: true, triesLeft: 3 });
    expect(r.beneficiaries).toEqual(vitale.data.beneficiaries.map((b) => b.firstName));
    expect(r.nir).toBe(vitale.data.holderNir);
    // PKCS#1 v1.5 over the digest, verifying with the signature certificate's key.
    const cert = Buffer.from(r.sign, 'base64');
    const key = createPublicKey({ key: `-----BEGIN CERTIFICATE-----\n${cert.toString('base64')}\n-----END CERTIFICATE-----`, format: 'pem' });
    const sha256Prefix = Buffer.from('3031300d060960864801650304020105000420', 'hex');
    expect(publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(r.signature, 'base64')).toString('hex')).toBe(Buffer.concat([sha256Prefix, Buffer.from(digest)]).toString('hex'));
    // Every exchange went through the page's transport: nothing else reached the cards.
    expect(apdus.filter((a) => a.startsWith('cps:')).length).toBeGreaterThan(10);
  }, 60_000);
});
