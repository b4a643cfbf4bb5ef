/**
 * `npm run bench -- app` (issue 14, goal), the flow row: what a practitioner waits for, in
 * Chromium on the production build with the relay on its embedded defaults and the card bridge
 * with simulated cards (as `npm start` runs them). One JSON line:
 *
 *   {"bench":"app-flow","vitale_to_beneficiary_ms_median":…,"transmit_60_ms":…}
 *
 * - vitale_to_beneficiary_ms_median: from a Vitale card put in the reader (the bridge's
 *   transport told, in this process) to its beneficiaries' names in the « Facturer » page (a
 *   MutationObserver in the page notes the moment; both clocks are this machine's), median of
 *   `VITALE_RUNS` insertions of different cards. Goal ≤ 300 ms on the virtual cards.
 * - transmit_60_ms: from the click on « Télétransmettre (60 factures) » to the page saying all
 *   of them are encrypted and in the outbox (IndexedDB committed), 60 invoices signed
 *   beforehand by keyboard, 20 households' cards × 3 beneficiaries.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { makeCps, makeVitale } from '../bridge/cards/profiles.js';
import type { VirtualCard } from '../bridge/cards/card.js';
import { startBridge } from '../bridge/server.js';
import { SimulatedTransport } from '../bridge/transport.js';
import { BRIDGE_URL_KEY } from '../src/lib/client/card/bridge-instance.js';
import { readDemoPki } from '../src/lib/server/demo-pki.js';
import { pageApprover, stateDir } from '../test/bridge/helpers.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../test/browser/harness.js';
import { buildPrivateApp, startApp } from '../test/e2e/app-server.js';
import { median, waiter } from './util.js';

const VITALE_RUNS = 21;
const INVOICES = 60;
const WAIT_MS = 30_000;


const until = waiter('app-flow', WAIT_MS, 20);

/** Arms an observer in the page: `window.__shown` resolves with Date.now() once `text` is in <main>. */
async function armShown(page: Page, text: string): Promise<void> {
  // A string, not a function: tsx would wrap the inner functions in a helper the page lacks.
  await page.evaluate(`(() => {
    const t = ${JSON.stringify(text)};
    window.__shown = new Promise((resolve) => {
      const main = document.querySelector('main') ?? document.body;
      const seen = () => (main.textContent.includes(t) ? (resolve(Date.now()), true) : false);
      if (seen()) return;
      const o = new MutationObserver(() => seen() && o.disconnect());
      o.observe(main, { subtree: true, childList: true, characterData: true });
    });
  })()`);
}

/** Pairs the page with the bridge on « Cartes », types the PIN, chooses the cabinet's situation (the benches' sign-in). */
export async function benchSignIn(page: Page, appUrl: string, until: (what: string, f: () => Promise<boolean>) => Promise<void>): Promise<void> {
  await page.goto(`${appUrl}/cartes`);
  await page.getByRole('button', { name: 'Appairer ce navigateur avec le pont' }).click();
  await until('pairing', () => page.getByText('Appairage réussi.').isVisible());
  await page.getByLabel('Code porteur de la CPS').fill('1234');
  await page.getByLabel('Code porteur de la CPS').press('Enter');
  const bar = page.getByRole('region', { name: 'Session du praticien' });
  await until('session', () => bar.isVisible());
  await bar.getByLabel('Situation de facturation').selectOption('999000001');
}

export async function benchAppFlow(): Promise<object[]> {
  const dir = mkdtempSync(join(tmpdir(), 'teletrans-bench-flow-'));
  process.stderr.write('bench app-flow: production build…\n');
  const build = await buildPrivateApp();
  const app = await startApp(build.server, { TELETRANS_RELAY_DEMO_DIR: join(dir, 'demo'), BODY_SIZE_LIMIT: '16M' });
  const pki = await readDemoPki(join(dir, 'demo'));
  const cardPki = { rootDer: pki.igcRoot.der, caDer: pki.igcCa.der, caKey: pki.igcCa.key };
  const sim = new SimulatedTransport();
  const [cpsReader, vitaleReader] = sim.readers().map((r) => r.name) as [string, string];
  sim.insert(cpsReader, (await makeCps(cardPki)).card);
  const households = Math.max(VITALE_RUNS, INVOICES / 3);
  process.stderr.write(`bench app-flow: ${households} Vitale cards…\n`);
  const cards: { card: VirtualCard; names: string[] }[] = [];
  for (let h = 1; h <= households; h++) {
    const { card, data } = await makeVitale(cardPki, { household: h, serial: `9990003${String(h).padStart(3, '0')}` });
    cards.push({ card, names: data.beneficiaries.map((b) => `${b.firstName} ${b.lastName}`) });
  }
  let page!: Page;
  const bridge = await startBridge({ port: 0, transport: sim, stateDir: await stateDir(), allowedOrigins: [app.url], approve: pageApprover(() => page) });
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  try {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'fr-FR' });
    await context.addInitScript(([key, url]) => localStorage.setItem(key, url), [BRIDGE_URL_KEY, bridge.url] as const);
    page = await context.newPage();
    await benchSignIn(page, app.url, until);
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await until('invoices opened', () => page.getByRole('region', { name: 'Factures' }).isVisible());

    // The Vitale card in, its beneficiaries on screen.
    const times: number[] = [];
    for (let i = 0; i < VITALE_RUNS; i++) {
      const { card, names } = cards[i]!;
      if (sim.readers().find((r) => r.name === vitaleReader)?.present) sim.remove(vitaleReader);
      await armShown(page, names[0]!);
      const t0 = Date.now();
      sim.insert(vitaleReader, card);
      const t1 = await page.evaluate(() => (window as unknown as { __shown: Promise<number> }).__shown);
      times.push(t1 - t0);
    }
    process.stderr.write(`bench app-flow: Vitale → beneficiary (ms): ${times.join(' ')}\n`);

    // 60 invoices signed by keyboard, then « Télétransmettre ».
    process.stderr.write(`bench app-flow: ${INVOICES} invoices signed…\n`);
    const search = page.getByLabel('Ajouter un acte (code ou mots du libellé)');
    const outcome = page.locator('.invoice .outcome');
    for (let n = 0; n < INVOICES; n++) {
      const { card, names } = cards[Math.floor(n / 3)]!;
      if (n % 3 === 0) {
        sim.remove(vitaleReader);
        sim.insert(vitaleReader, card);
      }
      const group = page.getByRole('group', { name: /^Bénéficiaire/ });
      await until('beneficiaries', async () => ((await group.textContent()) ?? '').includes(names[n % 3]!));
      await group.getByRole('radio').nth(n % 3).check();
      await search.fill('G');
      await search.press('Enter');
      await until('act added', async () => (await page.locator('[data-amount="fee"]').count()) === 1);
      await search.press('Control+Enter');
      await until(`invoice ${n + 1} signed`, async () => /^Facture n° \d+ signée\.$/.test((await outcome.textContent()) ?? '') && (await page.locator('.list tbody tr').count()) === n + 1);
    }
    const panel = page.getByRole('region', { name: 'Télétransmission' });
    const button = panel.getByRole('button', { name: `Télétransmettre (${INVOICES} factures)` });
    await until('transmit ready', () => button.isEnabled());
    await armShown(page, 'mis en boîte d’envoi');
    const t0 = Date.now();
    await button.click();
    const t1 = await page.evaluate(() => (window as unknown as { __shown: Promise<number> }).__shown);
    const said = (await panel.locator('.message').textContent()) ?? '';
    if (!said.startsWith(`${INVOICES} factures en `)) throw new Error(`bench app-flow: « Télétransmettre » said: ${said}`);
    process.stderr.write(`bench app-flow: ${said}\n`);
    await context.close();
    return [{ bench: 'app-flow', vitale_to_beneficiary_ms_median: median(times), transmit_60_ms: t1 - t0 }];
  } finally {
    await browser.close();
    await bridge.close();
    await app.stop();
    build.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}
