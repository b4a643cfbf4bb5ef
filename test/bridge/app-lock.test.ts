/**
 * The app-wide session lock in Chromium, on the production build served by `node build`: the
 * practitioner pairs on « Cartes », types the PIN, goes to « Certificats », then pulls the CPS.
 * Every page is covered by the lock (content hidden and inert, focus in the lock dialog) until
 * the CPS is back and the PIN typed again, with the keyboard only. A reload keeps the lock.
 * On the real pcscd + vpcd stack. Chromium, pcscd and the vpcd driver are required (the test
 * command installs them): without one of them the suite fails with the reason, never skipped.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { makeCardSet, type CardSet } from '../../bridge/cards/profiles.js';
import { VpcdInsertion } from '../../bridge/cards/vpcd.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import { BRIDGE_URL_KEY } from '../../src/lib/client/card/bridge-instance.js';
import { CHROMIUM_PATH, launchChromium } from '../browser/harness.js';
import { buildApp, startApp, type PrivateBuild, type RunningApp } from '../e2e/app-server.js';
import { PCSCD, VPCD_DRIVER, pcscAvailable, startPcscd, type Pcscd } from './pcscd.js';
import { pageApprover, stateDir, waitFor } from './helpers.js';

const LOCK_TEXT = 'Session verrouillée : carte CPS retirée. Réinsérez votre carte CPS et saisissez votre code PIN.';
const POLL = { timeout: 20_000, interval: 100 };

let build: PrivateBuild;
let app: RunningApp;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let bridge: Bridge;
let pcscd: Pcscd | null = null;
let set: CardSet;
let cpsSlot: VpcdInsertion | undefined;
let cpsReader: string;

const pullCps = (): void => cpsSlot!.remove();
async function insertCps(): Promise<void> {
  await cpsSlot!.insert();
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`app-lock.test: Chromium missing at ${CHROMIUM_PATH}; run scripts/install-system-deps.sh (the real browser peer is required)`);
  if (!pcscAvailable()) throw new Error(`app-lock.test: ${PCSCD} or ${VPCD_DRIVER} missing; run scripts/install-system-deps.sh (the real PC/SC peer is required)`);
  [build, browser, set] = await Promise.all([buildApp(), launchChromium(), makeCardSet()]);
  app = await startApp(build.server);
  pcscd = await startPcscd();
  cpsReader = pcscd.readers[0];
  bridge = await startBridge({
    port: 0,
    stateDir: await stateDir(),
    allowedOrigins: [app.url],
    // The practitioner's eye: approve when the page shows the very code the bridge shows.
    approve: pageApprover(() => page),
  });
  cpsSlot = new VpcdInsertion(set.cps, pcscd.port);
  await waitFor(() => bridge.transport.readers().length === 2, 30_000);
  await insertCps();
  await waitFor(() => bridge.transport.readers().some((r) => r.name === cpsReader && r.present), 30_000);
  context = await browser.newContext({ locale: 'fr-FR' });
  // The bridge of this test listens on a free port, as `teletrans bridge --port N` would.
  await context.addInitScript(([key, url]) => localStorage.setItem(key, url), [BRIDGE_URL_KEY, bridge.url] as const);
  page = await context.newPage();
}, 600_000); // a build, then the pcscd fixture may wait its turn (up to 300 s)

afterAll(async () => {
  cpsSlot?.remove();
  await context?.close();
  await browser?.close();
  await bridge?.close();
  await pcscd?.stop();
  await app?.stop();
  build?.remove();
});

const lockDialog = (): ReturnType<Page['getByRole']> => page.getByRole('dialog', { name: 'Session verrouillée' });
const focusedInsideApp = (): Promise<boolean> => page.evaluate(() => document.activeElement?.closest('.app') != null);

/** Tabs (keyboard only) until the PIN field of the lock dialog has the focus. */
async function tabToPinField(): Promise<void> {
  for (let i = 0; i < 15; i++) {
    const here = await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.type ?? '');
    if (here === 'password') return;
    expect(await focusedInsideApp()).toBe(false);
    await page.keyboard.press('Tab');
  }
  throw new Error('the PIN field cannot be reached with Tab');
}

it('pulling the CPS locks every page until the CPS is back and the PIN typed again', async () => {
  await page.goto(`${app.url}/cartes`);
  await page.getByRole('button', { name: 'Appairer ce navigateur avec le pont' }).click();
  await expect.poll(() => page.getByText('Appairage réussi.').isVisible(), POLL).toBe(true);
  const pin = page.getByLabel('Code porteur de la CPS');
  await pin.fill('1234');
  await pin.press('Enter');
  await expect.poll(() => page.getByText('Code porteur vérifié.').isVisible(), POLL).toBe(true);
  expect(await lockDialog().count()).toBe(0);

  await page.getByRole('navigation').getByRole('link', { name: 'Certificats' }).click();
  await page.waitForURL(`${app.url}/certificats`);
  const title = page.getByRole('heading', { level: 1, name: 'Certificats' });
  await expect.poll(() => title.isVisible(), POLL).toBe(true);

  pullCps();
  await expect.poll(() => lockDialog().isVisible(), POLL).toBe(true);
  expect(await lockDialog().getByText(LOCK_TEXT).isVisible()).toBe(true);
  // Nothing of the page shows, nor is reachable: hidden and inert.
  expect(await title.isVisible()).toBe(false);
  expect(await page.locator('main').isVisible()).toBe(false);
  expect(await page.locator('.app').getAttribute('inert')).not.toBeNull();
  const text = await page.evaluate(() => document.body.innerText);
  expect(text).not.toContain('magasin de confiance');
  expect(text).toContain(LOCK_TEXT);
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('session-lock-title');
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press('Tab');
    expect(await focusedInsideApp()).toBe(false);
  }
  // The page's links cannot be activated behind the lock.
  await page.keyboard.press('Enter');
  expect(page.url()).toBe(`${app.url}/certificats`);

  await insertCps();
  const lockPin = lockDialog().getByLabel('Code porteur de la CPS');
  await expect.poll(() => lockPin.isVisible(), POLL).toBe(true);
  // A wrong PIN keeps the lock.
  await page.locator('#session-lock-title').focus();
  await tabToPinField();
  await page.keyboard.type('9999');
  await page.keyboard.press('Enter');
  await expect.poll(() => lockDialog().getByText(/Code porteur incorrect, 2 essai/).isVisible(), POLL).toBe(true);
  expect(await title.isVisible()).toBe(false);

  await page.locator('#session-lock-title').focus();
  await tabToPinField();
  await page.keyboard.type('1234');
  await page.keyboard.press('Enter');
  await expect.poll(() => lockDialog().count(), POLL).toBe(0);
  await expect.poll(() => title.isVisible(), POLL).toBe(true);
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('contenu');
  expect(await page.locator('.app').getAttribute('inert')).toBeNull();
}, 180_000);

it('a reload during the session comes back locked; the PIN lifts it', async () => {
  await page.reload();
  await expect.poll(() => lockDialog().isVisible(), POLL).toBe(true);
  expect(await lockDialog().getByText('la page a été rechargée').isVisible()).toBe(true);
  expect(await page.getByRole('heading', { level: 1, name: 'Certificats' }).isVisible()).toBe(false);
  const lockPin = lockDialog().getByLabel('Code porteur de la CPS');
  await expect.poll(() => lockPin.isVisible(), POLL).toBe(true);
  await lockPin.fill('1234');
  await lockPin.press('Enter');
  await expect.poll(() => lockDialog().count(), POLL).toBe(0);
  expect(await page.getByRole('heading', { level: 1, name: 'Certificats' }).isVisible()).toBe(true);
}, 120_000);

it('15 minutes without activity lock every page; the PIN lifts it (the page clock moved forward)', async () => {
  // The page's clock is Playwright's from here on, flowing normally until moved forward.
  await page.clock.install();
  await page.reload();
  const lockPin = lockDialog().getByLabel('Code porteur de la CPS');
  await expect.poll(() => lockPin.isVisible(), POLL).toBe(true);
  await lockPin.fill('1234');
  await lockPin.press('Enter');
  await expect.poll(() => lockDialog().count(), POLL).toBe(0);
  const title = page.getByRole('heading', { level: 1, name: 'Certificats' });
  expect(await title.isVisible()).toBe(true);

  const auditBefore = bridge.audit.read().length;
  // 14 minutes of reading, a key, 14 more: still open.
  await page.clock.fastForward('14:00');
  await page.keyboard.press('Shift');
  await page.clock.fastForward('14:00');
  expect(await lockDialog().count()).toBe(0);
  // Then a quarter of an hour with nothing: locked, and the bridge's session with it.
  await page.clock.fastForward('16:00');
  await expect.poll(() => lockDialog().isVisible(), POLL).toBe(true);
  expect(await lockDialog().getByText('Session verrouillée après 15 minutes sans activité').isVisible()).toBe(true);
  expect(await title.isVisible()).toBe(false);
  // The bridge's session that verified the PIN is gone: locked by the page, or closed — a call in
  // flight when the clock jumps times out and drops the connection, and a new connection holds no PIN.
  const sessionEnded = (): boolean =>
    bridge.audit.read().slice(auditBefore).some((e) => e.event === 'session' && (e.outcome === 'locked' || e.outcome === 'closed'));
  await expect.poll(sessionEnded, POLL).toBe(true);

  await lockPin.fill('1234');
  await lockPin.press('Enter');
  await expect.poll(() => lockDialog().count(), POLL).toBe(0);
  expect(await title.isVisible()).toBe(true);
}, 120_000);
