/**
 * End to end in Chromium: a page (its own origin, the browser's own WebSocket and WebCrypto,
 * the pairing key as a non-extractable CryptoKey in IndexedDB) pairs with the bridge, then
 * reads both cards, verifies the PIN and gets a signature, on the real PC/SC stack (pcscd +
 * vpcd). Chromium, pcscd and the vpcd driver are required (the test command installs them):
 * without one of them the suite fails with the reason, it is never skipped.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { makeCardSet, type CardSet } from '../../bridge/cards/profiles.js';
import { VpcdInsertion } from '../../bridge/cards/vpcd.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import { CHROMIUM_PATH, launchChromium, openModulePage } from '../browser/harness.js';
import { PCSCD, VPCD_DRIVER, pcscAvailable, startPcscd, type Pcscd } from './pcscd.js';
import { stateDir, waitFor } from './helpers.js';

let browser: Browser;
let page: Page;
let bridge: Bridge;
let pcscd: Pcscd | null = null;
let set: CardSet;
const cards: VpcdInsertion[] = [];
let readers: [string, string];

beforeAll(async () => {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`chromium.test: Chromium missing at ${CHROMIUM_PATH}; run scripts/install-system-deps.sh (the real browser peer is required)`);
  if (!pcscAvailable()) throw new Error(`chromium.test: ${PCSCD} or ${VPCD_DRIVER} missing; run scripts/install-system-deps.sh (the real PC/SC peer is required)`);
  set = await makeCardSet();
  browser = await launchChromium();
  page = await openModulePage(browser, 'test/bridge/browser-entry.ts', 'TTCard');
  const origin = new URL(page.url()).origin;
  pcscd = await startPcscd();
  readers = pcscd.readers;
  bridge = await startBridge({
    port: 0,
    stateDir: await stateDir(),
    allowedOrigins: [origin],
    // The practitioner's eye: approve when the page shows the very code the bridge shows.
    approve: async ({ code }) => {
      for (let i = 0; i < 200; i++) {
        const shown = await page.evaluate(() => (globalThis as unknown as { shownCode?: string }).shownCode);
        if (shown) return shown === code;
        await new Promise((r) => setTimeout(r, 20));
      }
      return false;
    },
  });
  cards.push(new VpcdInsertion(set.cps, pcscd.port), new VpcdInsertion(set.vitale, pcscd.port + 1));
  for (const c of cards) await c.insert();
  await waitFor(() => bridge.transport.readers().filter((r) => r.present).length === 2, 30_000);
}, 480_000); // the pcscd fixture may wait its turn (up to 300 s)

afterAll(async () => {
  for (const c of cards) c.remove();
  await page?.close();
  await browser?.close();
  await bridge?.close();
  await pcscd?.stop();
});

it('the page pairs, then reads the CPS and the Vitale, verifies the PIN and gets a signature', async () => {
  const out = await page.evaluate(
    async ({ url, readers }) => {
      type Api = {
        BridgeClient: new (o: object) => {
          pair(f: (c: string) => void): Promise<{ keyId: string }>;
          connect(): Promise<void>;
          call<T>(m: string, p?: object, a?: Uint8Array): Promise<T>;
          close(): void;
        };
        IdbKeyStore: new () => { get(): Promise<{ keyId: string; key: CryptoKey } | null> };
      };
      const g = globalThis as unknown as { TTCard: Api; shownCode?: string };
      const keys = new g.TTCard.IdbKeyStore();
      const pairing = await new g.TTCard.BridgeClient({ url, origin: location.origin, keys }).pair((c) => (g.shownCode = c));
      const stored = await keys.get();
      const c = new g.TTCard.BridgeClient({ url, origin: location.origin, keys });
      await c.connect();
      const cps = await c.call<{ lastName: string; situations: unknown[] }>('cps.read', { reader: readers[0] });
      const vit = await c.call<{ beneficiaries: unknown[] }>('vitale.read', { reader: readers[1] });
      const pin = new TextEncoder().encode('1234');
      const verified = await c.call<{ ok: boolean }>('cps.verifyPin', { reader: readers[0] }, pin);
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('FSE')));
      let b = '';
      for (const x of digest) b += String.fromCharCode(x);
      const sig = await c.call<{ signature: string }>('cps.sign', { reader: readers[0], digest: btoa(b).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') });
      c.close();
      return {
        keyId: pairing.keyId,
        storedKeyId: stored?.keyId,
        extractable: stored?.key.extractable,
        lastName: cps.lastName,
        situations: cps.situations.length,
        beneficiaries: vit.beneficiaries.length,
        verified: verified.ok,
        pinWiped: pin.every((x) => x === 0),
        sigLength: sig.signature.length,
      };
    },
    { url: bridge.url, readers },
  );
  expect(out.storedKeyId).toBe(out.keyId);
  expect(out.extractable).toBe(false);
  expect(out.lastName).toContain('FICTIF');
  expect(out.situations).toBe(3);
  expect(out.beneficiaries).toBe(3);
  expect(out.verified).toBe(true);
  expect(out.pinWiped).toBe(true);
  expect(out.sigLength).toBeGreaterThan(300);
  expect(bridge.pairings.list().map((p) => p.origin)).toEqual([new URL(page.url()).origin]);
});
