/**
 * The app with no bridge at all, its cards reached by the page itself (issue 17): Chromium's
 * `navigator.usb` gives an emulated CCID reader (test/card/fixtures/ccid-device.ts, running in
 * the page, its cards' APDUs crossing to the virtual cards here). « Cartes » says which way
 * serves the cards and why the others do not, lists the CPS and the Vitale, and unlocks with
 * the PIN through the page's own card service. Screenshot and axe-core on that page.
 *
 * TELETRANS_SCREENSHOTS=<dir> saves the page there.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { AxeResults } from 'axe-core';
import { makeCps, makeTestPki, makeVitale } from '../../bridge/cards/profiles.js';
import type { VirtualCard } from '../../bridge/cards/card.js';
import { bundleForBrowser, launchChromium } from '../browser/harness';
import { buildApp, startApp, type PrivateBuild, type RunningApp } from './app-server';

const SHOTS = process.env.TELETRANS_SCREENSHOTS;
const AXE_PATH = createRequire(import.meta.url).resolve('axe-core');
const POLL = { timeout: 20_000, interval: 100 };
const PIN = '5791';

describe('the app reaching the cards itself (WebUSB, no bridge)', () => {
  let build: PrivateBuild;
  let app: RunningApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const cards = new Map<string, VirtualCard>();
  const apdus: string[] = [];
  const violations: string[] = [];

  beforeAll(async () => {
    const pki = await makeTestPki();
    const [cps, vitale, init] = await Promise.all([makeCps(pki, { pin: PIN }), makeVitale(pki), bundleForBrowser('test/card/support/readers-init.ts', 'EmulatedReaders')]);
    cards.set('cps', cps.card);
    cards.set('vitale', vitale.card);
    [build, browser] = await Promise.all([buildApp(), launchChromium()]);
    // A deployment whose managed browsers may reach the readers (src/hooks.server.ts): usb for self.
    app = await startApp(build.server, { TELETRANS_PAGE_DEVICES: 'usb' });
    // bypassCSP only so that axe-core can be injected (the CSP is tested in security-headers.test.ts).
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'fr-FR', bypassCSP: true });
    await context.exposeFunction('__cardApdu', async (id: string, hex: string) => {
      const card = cards.get(id);
      if (!card) throw new Error(`no card ${id}`);
      if (hex === 'reset') return void card.reset();
      apdus.push(hex.slice(0, 4));
      return Buffer.from(await card.process(Uint8Array.from(Buffer.from(hex, 'hex')))).toString('hex');
    });
    const atr = (c: VirtualCard) => Buffer.from(c.atr).toString('hex');
    await context.addInitScript({
      content: `${init}
        const d = EmulatedReaders.installEmulatedUsb({ slots: 2 });
        d.insert(0, EmulatedReaders.remoteCard('cps', '${atr(cps.card)}'));
        d.insert(1, EmulatedReaders.remoteCard('vitale', '${atr(vitale.card)}'));`,
    });
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
    page = await context.newPage();
    page.on('console', (m) => {
      if (/Permissions policy violation/.test(m.text())) violations.push(m.text());
    });
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await app?.stop();
    build?.remove();
  });

  it('« Cartes »: served by the USB reader, the cards listed, the PIN verified by the page itself', async () => {
    const response = await page.goto(`${app.url}/cartes`);
    expect(response!.headers()['permissions-policy']).toMatch(/(^|, )usb=\(self\), /);
    expect(response!.headers()['permissions-policy']).toMatch(/(^|, )hid=\(\), /);
    await expect.poll(() => page.getByTestId('transport-in-use').textContent(), POLL).toContain('Lecteur USB (CCID, WebUSB)');
    await expect.poll(() => page.locator('.card-bridge li').allTextContents(), POLL).toEqual(['Lecteur USB émulé 00 : CPS', 'Lecteur USB émulé 01 : carte Vitale']);
    // Why the others are not in use, in French.
    await expect.poll(() => page.locator('tr[data-transport="smartcard"] td').last().textContent(), POLL).toContain('application web isolée');
    // HID stays denied by the site's policy, and the page says so (without asking: no violation).
    expect(await page.locator('tr[data-transport="webhid"] td').last().textContent()).toContain('politique de permissions');
    expect(await page.locator('tr[data-transport="webusb"] td').first().textContent()).toBe('en service');
    expect(await page.locator('tr[data-transport="bridge"] td').first().textContent()).toBe('non essayé');
    expect(await page.locator('tr[data-transport="bridge"] td').last().textContent()).toContain('un lecteur est accessible directement');
    expect(await page.locator('.card-bridge p').first().textContent()).toBe('Accès aux cartes : Lecteur USB (CCID, WebUSB), par la page elle-même (pas de pont).');
    await page.getByLabel('Code porteur de la CPS').fill(PIN);
    await page.getByRole('button', { name: 'Déverrouiller' }).click();
    await expect.poll(() => page.getByRole('status').first().textContent(), POLL).toBe('Code porteur vérifié.');
    // The VERIFY went from this page to the card (0020): no bridge exists in this test.
    expect(apdus).toContain('0020');
    await page.addScriptTag({ path: AXE_PATH });
    const results = await page.evaluate(() => (window as unknown as { axe: { run(c: Document, o: object): Promise<AxeResults> } }).axe.run(document, { resultTypes: ['violations'] }));
    expect(results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'cartes-lecteur-usb.png'), fullPage: true });
    expect(violations).toEqual([]);
  }, 120_000);
});
