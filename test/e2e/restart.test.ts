/**
 * The browser closed with a non-empty outbox while the network was cut (issue 14 item 6), in a
 * persistent Chromium profile on the production build, with the relay on its embedded defaults
 * and the card bridge's simulated cards: after the restart, the PIN again, the message is still
 * there, waiting, with its subject; the network back, it leaves by itself and reaches the
 * insurers' test peer exactly once.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page, type Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCps, makeVitale } from '../../bridge/cards/profiles.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import { SimulatedTransport } from '../../bridge/transport.js';
import { BRIDGE_URL_KEY } from '../../src/lib/client/card/bridge-instance.js';
import { readDemoPki } from '../../src/lib/server/demo-pki.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../browser/harness.js';
import { pageApprover, stateDir } from '../bridge/helpers.js';
import { buildApp, startApp, type PrivateBuild, type RunningApp } from './app-server.js';
import { pairAndSignIn } from './practitioner.js';

const POLL = { timeout: 20_000, interval: 100 };

describe('the outbox across a browser restart, offline', () => {
  let build: PrivateBuild;
  let app: RunningApp;
  let bridge: Bridge;
  let dir: string;
  let profile: string;
  let context: BrowserContext | undefined;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'teletrans-e2e-restart-'));
    profile = join(dir, 'profile');
    build = await buildApp();
    // The simulated front end answers nothing (scenario mute): the lots stay « sent » and await
    // their ARL here, whatever the returns inbox's timing (test/e2e/returns.test.ts acts on returns).
    app = await startApp(build.server, { TELETRANS_RELAY_DEMO_DIR: join(dir, 'demo'), BODY_SIZE_LIMIT: '16M', TELETRANS_DEMO_FRONT_END: 'mute' });
    const pki = await readDemoPki(join(dir, 'demo'));
    const cardPki = { rootDer: pki.igcRoot.der, caDer: pki.igcCa.der, caKey: pki.igcCa.key };
    const sim = new SimulatedTransport();
    const [cpsReader, vitaleReader] = sim.readers().map((r) => r.name);
    sim.insert(cpsReader!, (await makeCps(cardPki)).card);
    sim.insert(vitaleReader!, (await makeVitale(cardPki)).card);
    bridge = await startBridge({ port: 0, transport: sim, stateDir: await stateDir(), allowedOrigins: [app.url], approve: pageApprover(() => page) });
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await bridge?.close();
    await app?.stop();
    build?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function launch(): Promise<Page> {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true, viewport: { width: 1366, height: 900 }, locale: 'fr-FR' });
    await context.addInitScript(([key, url]) => localStorage.setItem(key, url), [BRIDGE_URL_KEY, bridge.url] as const);
    return context.pages()[0] ?? context.newPage();
  }

  const cut = (route: Route) => route.abort('internetdisconnected');
  const inbox = (): Buffer[] => {
    const d = join(dir, 'demo', 'peer-mail', 'amo_pj.test@test.rss.fr');
    return existsSync(d) ? readdirSync(d).map((f) => readFileSync(join(d, f))) : [];
  };

  it('closed offline with a message waiting: after the restart and the PIN it is still there; back online it is delivered once', async () => {
    page = await launch();
    await pairAndSignIn(page, app.url, '999000001');
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    const group = page.getByRole('group', { name: 'Bénéficiaire (à choisir)' });
    await expect.poll(() => group.getByRole('radio').count(), POLL).toBe(3);
    await group.getByRole('radio').first().check();
    const search = page.getByLabel('Ajouter un acte (code ou mots du libellé)');
    await search.fill('G');
    await search.press('Enter');
    await expect.poll(() => page.locator('[data-amount="fee"]').count(), POLL).toBe(1);

    // The network goes (the loopback stays: the bridge is on it).
    await context!.route('**/api/relay/**', cut);
    await page.evaluate(() => window.dispatchEvent(new Event('offline')));
    await search.press('Control+Enter');
    await expect.poll(() => page.locator('.invoice .outcome').textContent(), POLL).toMatch(/^Facture n° \d+ signée\.$/);
    const panel = page.getByRole('region', { name: 'Télétransmission' });
    await panel.getByRole('button', { name: 'Télétransmettre (1 facture)' }).click();
    const rows = panel.getByRole('table', { name: 'Boîte d’envoi' }).locator('tbody tr');
    await expect.poll(() => rows.first().textContent(), POLL).toContain('relais injoignable');
    const subject = (await rows.first().locator('th').textContent())!;
    expect(subject).toMatch(/^SV\d{6}\/999000001\/\d{19}\/00001$/);

    // The browser closes, still offline; it starts again, still offline.
    await context!.close();
    page = await launch();
    await context!.route('**/api/relay/**', cut);
    // A new browser session: the card session starts over (the PIN on the cards page).
    await page.goto(`${app.url}/cartes`);
    const pin2 = page.getByLabel('Code porteur de la CPS');
    await expect.poll(() => pin2.isVisible(), POLL).toBe(true);
    await pin2.fill('1234');
    await pin2.press('Enter');
    await expect.poll(() => page.getByRole('region', { name: 'Session du praticien' }).isVisible(), POLL).toBe(true);
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    const again = page.getByRole('region', { name: 'Télétransmission' }).getByRole('table', { name: 'Boîte d’envoi' }).locator('tbody tr');
    await expect.poll(() => again.count(), POLL).toBe(1);
    expect(await again.first().locator('th').textContent()).toBe(subject);
    expect(await again.first().getAttribute('data-state')).toBe('waiting');
    expect(inbox().filter((m) => m.toString('latin1').includes(`Subject: ${subject}`))).toHaveLength(0);
    // The invoice itself came back from the sealed store, in its lot.
    await expect.poll(() => page.locator('.list tbody tr').first().getAttribute('data-status'), POLL).toBe('in_lot');

    // The network is back: it leaves by itself, once.
    await context!.unroute('**/api/relay/**', cut);
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await expect.poll(() => again.first().getAttribute('data-state'), POLL).toBe('delivered');
    expect(inbox().filter((m) => m.toString('latin1').includes(`Subject: ${subject}`))).toHaveLength(1);
    await expect.poll(() => page.locator('.list tbody tr').first().getAttribute('data-status'), POLL).toBe('sent');
  }, 180_000);
});
