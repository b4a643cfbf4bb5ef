/**
 * The practitioner's session in Chromium on the production build with the relay on its embedded
 * defaults (issue 14 item 2), and the card bridge with simulated cards made from the server's
 * demo PKI, as `npm start` runs them: pair, type the PIN, the header says who is signed in, the
 * billing situation is chosen among the card's three, the app logs in to the relay with the
 * card's authentication key. The CPS pulled: locked, the identity gone from the page; back with
 * the PIN: the same situation. axe-core finds nothing serious in the session bar.
 */
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AxeResults } from 'axe-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCps, makeVitale } from '../../bridge/cards/profiles.js';
import type { VirtualCard } from '../../bridge/cards/card.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import { SimulatedTransport } from '../../bridge/transport.js';
import { BRIDGE_URL_KEY } from '../../src/lib/client/card/bridge-instance.js';
import { readDemoPki } from '../../src/lib/server/demo-pki.js';
import { parseMessage } from '../../src/lib/sesam/index.js';
import { launchChromium } from '../browser/harness.js';
import { pageApprover, stateDir } from '../bridge/helpers.js';
import { buildApp, startApp, type PrivateBuild, type RunningApp } from './app-server.js';
import { backupClearText, indexedDbText, mailClearText } from './clear-text.js';

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core');
const POLL = { timeout: 20_000, interval: 100 };
const SHOTS = process.env.TELETRANS_SCREENSHOTS;

describe('the practitioner session (npm start’s embedded defaults)', () => {
  let build: PrivateBuild;
  let app: RunningApp;
  let browser: Browser;
  let bridge: Bridge;
  let sim: SimulatedTransport;
  let cps: VirtualCard;
  let cpsReader: string;
  let vitaleReader: string;
  let cardPki: Parameters<typeof makeVitale>[0];
  let context: BrowserContext;
  let page: Page;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'teletrans-e2e-session-'));
    [build, browser] = await Promise.all([buildApp(), launchChromium()]);
    // The simulated front end answers nothing (scenario mute): the lots stay « sent » and await
    // their ARL here, whatever the returns inbox's timing (test/e2e/returns.test.ts acts on returns).
    app = await startApp(build.server, { TELETRANS_RELAY_DEMO_DIR: join(dir, 'demo'), BODY_SIZE_LIMIT: '16M', TELETRANS_DEMO_FRONT_END: 'mute' });
    // The bridge as `npm start` starts it: simulated cards from the server's demo PKI.
    const pki = await readDemoPki(join(dir, 'demo'));
    cardPki = { rootDer: pki.igcRoot.der, caDer: pki.igcCa.der, caKey: pki.igcCa.key };
    sim = new SimulatedTransport();
    const names = sim.readers().map((r) => r.name);
    cpsReader = names[0]!;
    cps = (await makeCps(cardPki)).card;
    sim.insert(cpsReader, cps);
    vitaleReader = names[1]!;
    sim.insert(vitaleReader, (await makeVitale(cardPki)).card);
    bridge = await startBridge({
      port: 0,
      transport: sim,
      stateDir: await stateDir(),
      allowedOrigins: [app.url],
      approve: pageApprover(() => page),
    });
    context = await browser.newContext({ bypassCSP: true, viewport: { width: 1366, height: 900 }, locale: 'fr-FR' });
    await context.addInitScript(([key, url]) => localStorage.setItem(key, url), [BRIDGE_URL_KEY, bridge.url] as const);
    page = await context.newPage();
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await bridge?.close();
    await app?.stop();
    build?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const bar = (): ReturnType<Page['getByRole']> => page.getByRole('region', { name: 'Session du praticien' });

  /** On « Facturer »: ALEX FICTIF's « G » at `time`, kept to sign; resolves to its number. */
  const keepToSign = async (time: string): Promise<string> => {
    const group = page.getByRole('group', { name: /^Bénéficiaire/ });
    await expect.poll(() => group.getByRole('radio').count(), POLL).toBe(3);
    await group.getByRole('radio').nth(2).check();
    const search = page.getByLabel('Ajouter un acte (code ou mots du libellé)');
    await search.fill('G');
    await search.press('Enter');
    await page.getByLabel('Heure de l’acte G').fill(time);
    await page.getByRole('button', { name: 'Garder à signer' }).click();
    const outcome = page.locator('.invoice .outcome');
    await expect.poll(() => outcome.textContent(), POLL).toMatch(/^Facture n° \d+ enregistrée, à signer\.$/);
    return (/n° (\d+)/.exec((await outcome.textContent())!))![1]!;
  };

  it('PIN → who is signed in, the situation to choose among three, the relay connected with the card', async () => {
    await page.goto(`${app.url}/cartes`);
    expect(await bar().count()).toBe(0);
    await page.getByRole('button', { name: 'Appairer ce navigateur avec le pont' }).click();
    await expect.poll(() => page.getByText('Appairage réussi.').isVisible(), POLL).toBe(true);
    const pin = page.getByLabel('Code porteur de la CPS');
    await pin.fill('1234');
    await pin.press('Enter');
    await expect.poll(() => bar().isVisible(), POLL).toBe(true);
    expect(await bar().textContent()).toContain('DR CAMILLE FICTIF-TEST');
    expect(await bar().textContent()).toContain('carte fictive');
    const situation = bar().getByLabel('Situation de facturation');
    expect(await situation.locator('option').allTextContents()).toEqual([
      '— à choisir —',
      'CABINET FICTIF DES TESTS (libéral, n° 999000001)',
      'MAISON DE SANTÉ FICTIVE (libéral, n° 999000002)',
      'CABINET FICTIF REMPLACEMENT (remplaçant, n° 999000003)',
    ]);
    await expect.poll(() => bar().locator('.relay').getAttribute('data-state'), POLL).toBe('connected');
    expect(await bar().locator('.relay').textContent()).toContain('Relais : connecté');
    // Logged in, the app anchors its audit journal at the relay (issue 24 defect 3): the relay's
    // signed receipt for this journal's head is kept in the trust store.
    const receipt = (): Promise<{ seq: number; head: string } | null> => page.evaluate(() => new Promise((resolve) => {
      const open = indexedDB.open('teletrans-trust');
      open.onsuccess = () => {
        const get = open.result.transaction('meta').objectStore('meta').get('audit-receipt');
        get.onsuccess = () => { resolve((get.result?.value?.receipt as { seq: number; head: string } | undefined) ?? null); open.result.close(); };
        get.onerror = () => resolve(null);
      };
      open.onerror = () => resolve(null);
    }));
    await expect.poll(async () => (await receipt())?.head ?? '', POLL).toMatch(/^[0-9a-f]{64}$/);
    await situation.selectOption('999000002');
    expect(await situation.inputValue()).toBe('999000002');

    await page.addScriptTag({ path: AXE_PATH });
    const results = await page.evaluate(() => (window as unknown as { axe: { run(c: Element, o: object): Promise<AxeResults> } }).axe.run(document.querySelector('.session-bar')!, { resultTypes: ['violations'] }));
    expect(results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'session-bar.png') });
    // Nothing of the identity in the page's storage.
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    expect(stored).not.toMatch(/FICTIF|CAMILLE|999000002|1999999/);
  }, 120_000);

  it('the CPS pulled: locked and the identity gone; back with the PIN: the same situation, the relay again', async () => {
    sim.remove(cpsReader);
    await expect.poll(() => page.getByRole('dialog', { name: 'Session verrouillée' }).isVisible(), POLL).toBe(true);
    expect(await page.locator('.session-bar').count()).toBe(0);
    sim.insert(cpsReader, cps);
    const lockPin = page.getByRole('dialog', { name: 'Session verrouillée' }).getByLabel('Code porteur de la CPS');
    await expect.poll(() => lockPin.isVisible(), POLL).toBe(true);
    await lockPin.fill('1234');
    await lockPin.press('Enter');
    await expect.poll(() => bar().isVisible(), POLL).toBe(true);
    expect(await bar().getByLabel('Situation de facturation').inputValue()).toBe('999000002');
    await expect.poll(() => bar().locator('.relay').getAttribute('data-state'), POLL).toBe('connected');
  }, 120_000);

  it('« Facturer »: the Vitale’s beneficiaries at once, one chosen by keyboard, rights and warnings; the card out keeps the patient', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await page.waitForURL(`${app.url}/facturer`);
    const group = page.getByRole('group', { name: 'Bénéficiaire (à choisir)' });
    await expect.poll(() => group.isVisible(), POLL).toBe(true);
    const radios = group.getByRole('radio');
    expect(await radios.count()).toBe(3);
    expect(await group.textContent()).toContain('DOMINIQUE FICTIF');
    expect(await group.textContent()).toContain('enfant, né(e) le 03/02/2015');
    expect(await group.textContent()).toContain('exonération ALD');
    // Keyboard only: into the group, then the arrows choose.
    await radios.first().focus();
    await page.keyboard.press('Space');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    expect(await radios.nth(2).isChecked()).toBe(true);
    expect(await page.getByRole('list', { name: 'À vérifier avant de facturer' }).count()).toBe(0);

    await page.addScriptTag({ path: AXE_PATH });
    const results = await page.evaluate(() => (window as unknown as { axe: { run(c: Document, o: object): Promise<AxeResults> } }).axe.run(document, { resultTypes: ['violations'] }));
    expect(results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'facturer-patient.png'), fullPage: true });

    // The card out: the patient stays for the invoice being built.
    sim.remove(vitaleReader);
    await expect.poll(() => page.getByText('Carte Vitale retirée : la facture en cours garde ce patient.').isVisible(), POLL).toBe(true);
    expect(await radios.nth(2).isChecked()).toBe(true);

    // An expired card: what to check, in French, with what to do.
    sim.insert(vitaleReader, (await makeVitale(cardPki, { expired: true, serial: '9990000102' })).card);
    await expect.poll(() => page.getByText('Carte Vitale retirée').count(), POLL).toBe(0);
    await group.getByRole('radio').first().check();
    const warnings = page.getByRole('list', { name: 'À vérifier avant de facturer' });
    await expect.poll(() => warnings.isVisible(), POLL).toBe(true);
    expect(await warnings.textContent()).toMatch(/Carte Vitale expirée le \d\d\/\d\d\/\d{4}/);
    expect(await warnings.textContent()).toContain('Droits AMO fermés au');
    // Nothing of the patient in the page's storage.
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    expect(stored).not.toMatch(/DOMINIQUE|180059|FICTIF/);
  }, 120_000);

  it('the invoice typed by keyboard: « con gén » and Enter adds G; amounts live with their working; the checks in French', async () => {
    sim.insert(vitaleReader, (await makeVitale(cardPki)).card);
    const group = page.getByRole('group', { name: 'Bénéficiaire (à choisir)' });
    await expect.poll(() => group.getByRole('radio').count(), POLL).toBe(3);
    await group.getByRole('radio').first().check();
    const search = page.getByLabel('Ajouter un acte (code ou mots du libellé)');
    await expect.poll(() => search.isVisible(), POLL).toBe(true);
    await search.fill('con gén');
    await expect.poll(() => page.getByRole('list', { name: 'Actes trouvés' }).textContent(), POLL).toContain('Consultation de médecine générale');
    await search.press('Enter');
    const fee = page.locator('[data-amount="fee"]');
    await expect.poll(() => fee.textContent(), POLL).toBe('30,00 €');
    expect(await page.locator('[data-amount="pay-now"]').textContent()).toBe('30,00 €');
    expect(await page.getByRole('note').textContent()).toContain('Tarifs d’exemple, non officiels');
    // Third-party payment on the AMO part: the patient pays less today.
    await page.getByLabel('Sur la part obligatoire (AMO)').check();
    await expect.poll(() => page.locator('[data-amount="pay-now"]').textContent(), POLL).not.toBe('30,00 €');
    await page.getByText('Détail du calcul').click();
    expect(await page.locator('.working').textContent()).toContain('G :');
    // An act dated tomorrow: said in French before anything is signed.
    const tomorrow = new Date(Date.now() + 86_400_000 * 2).toISOString().slice(0, 10);
    await page.getByLabel('Date de l’acte G').fill(tomorrow);
    const problems = page.getByRole('list', { name: 'À corriger avant de signer' });
    await expect.poll(() => problems.isVisible(), POLL).toBe(true);
    expect(await problems.locator('li[data-code="act_in_future"]').count()).toBe(1);

    await page.addScriptTag({ path: AXE_PATH });
    const results = await page.evaluate(() => (window as unknown as { axe: { run(c: Document, o: object): Promise<AxeResults> } }).axe.run(document, { resultTypes: ['violations'] }));
    expect(results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'facturer-invoice.png'), fullPage: true });
  }, 120_000);

  it('kept and signed: one invoice to sign later, one signed with Ctrl+Entrée, the batch signed, one cancelled; sealed in IndexedDB, back after a reload with the PIN', async () => {
    const today = await page.evaluate(() => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(new Date()));
    await page.getByLabel('Date de l’acte G').fill(today);
    const list = page.getByRole('region', { name: 'Factures' });
    await expect.poll(() => list.isVisible(), POLL).toBe(true);
    expect(await list.textContent()).toContain('Aucune facture enregistrée');
    await page.getByRole('button', { name: 'Garder à signer' }).click();
    const outcome = page.locator('.invoice .outcome');
    await expect.poll(() => outcome.textContent(), POLL).toMatch(/^Facture n° \d+ enregistrée, à signer\.$/);
    const rows = list.locator('tbody tr');
    await expect.poll(() => rows.count(), POLL).toBe(1);
    expect(await rows.first().getAttribute('data-status')).toBe('to_sign');
    expect(await rows.first().textContent()).toContain('30,00 €');

    // The next one by keyboard alone: « V » (home visit) found, Enter, Ctrl+Entrée signs it on the card.
    const search = page.getByLabel('Ajouter un acte (code ou mots du libellé)');
    await search.fill('V');
    await search.press('Enter');
    await expect.poll(() => page.locator('[data-amount="fee"]').count(), POLL).toBe(1);
    await search.press('Control+Enter');
    await expect.poll(() => outcome.textContent(), POLL).toMatch(/^Facture n° \d+ signée\.$/);
    await expect.poll(() => rows.count(), POLL).toBe(2);
    expect(await rows.evaluateAll((trs) => trs.map((t) => t.getAttribute('data-status')))).toEqual(['signed', 'to_sign']);

    // The batch: the one left to sign is ticked; one PIN typed already.
    await list.getByRole('button', { name: 'Signer la sélection (1)' }).click();
    await expect.poll(() => list.locator('.message').textContent(), POLL).toBe('1 facture signée.');
    expect(await rows.evaluateAll((trs) => trs.map((t) => t.getAttribute('data-status')))).toEqual(['signed', 'signed']);
    // Cancelled with a second click: it stays, marked.
    await rows.nth(1).getByRole('button', { name: /^Annuler la facture/ }).click();
    await rows.nth(1).getByRole('button', { name: 'Confirmer l’annulation' }).click();
    await expect.poll(() => rows.nth(1).getAttribute('data-status'), POLL).toBe('cancelled');

    await page.addScriptTag({ path: AXE_PATH });
    const results = await page.evaluate(() => (window as unknown as { axe: { run(c: Document, o: object): Promise<AxeResults> } }).axe.run(document, { resultTypes: ['violations'] }));
    expect(results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'facturer-list.png'), fullPage: true });

    // What IndexedDB holds: no name, no NIR, no act label.
    const raw = await indexedDbText(page);
    expect(raw).toContain('"status":"signed"');
    expect(raw).not.toMatch(/DOMINIQUE|CAMILLE|180059999900135|Consultation/);

    // A reload: a new bridge connection, the PIN again, the same invoices.
    await page.reload();
    const lockPin = page.getByRole('dialog', { name: 'Session verrouillée' }).getByLabel('Code porteur de la CPS');
    await expect.poll(() => lockPin.isVisible(), POLL).toBe(true);
    expect(await page.locator('.list tbody tr').count()).toBe(0);
    await lockPin.fill('1234');
    await lockPin.press('Enter');
    await expect.poll(() => page.locator('.list tbody tr').count(), POLL).toBe(2);
    expect(await page.locator('.list tbody tr').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-status')))).toEqual(['signed', 'cancelled']);
  }, 120_000);

  it('« Télétransmettre »: the signed invoice in a lot, encrypted for the AMO, queued in the outbox, sent to the relay and delivered; its subject as the trace', async () => {
    const panel = page.getByRole('region', { name: 'Télétransmission' });
    const button = panel.getByRole('button', { name: 'Télétransmettre (1 facture)' });
    await expect.poll(() => button.isEnabled(), POLL).toBe(true);
    await button.click();
    await expect.poll(() => panel.locator('.message').textContent(), POLL).toMatch(/^1 facture en 1 message, chiffré et mis en boîte d’envoi\./);
    const row = panel.getByRole('table', { name: 'Boîte d’envoi' }).locator('tbody tr');
    await expect.poll(() => row.count(), POLL).toBe(1);
    expect(await row.locator('th').textContent()).toMatch(/^SV\d{6}\/999000002\/\d{19}\/00001$/);
    await expect.poll(() => row.getAttribute('data-state'), POLL).toBe('delivered');
    expect(await row.textContent()).toContain('remis à l’Assurance Maladie');
    // Its lot delivered, the invoice is sent: no deadline any more, no cancelling, nothing to transmit.
    await expect.poll(() => page.locator('.list tbody tr').first().getAttribute('data-status'), POLL).toBe('sent');
    expect(await page.locator('.list tbody tr').first().textContent()).toContain('envoyée');
    expect(await page.locator('.list tbody tr').first().getByRole('button', { name: /^Annuler/ }).count()).toBe(0);
    expect(await panel.getByRole('button', { name: 'Télétransmettre' }).isDisabled()).toBe(true);

    await page.addScriptTag({ path: AXE_PATH });
    const results = await page.evaluate(() => (window as unknown as { axe: { run(c: Document, o: object): Promise<AxeResults> } }).axe.run(document, { resultTypes: ['violations'] }));
    expect(results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'facturer-outbox.png'), fullPage: true });
  }, 120_000);

  it('offline: signed and transmitted with the network cut, the message waits in the outbox; back online, it leaves by itself', async () => {
    // The situation chosen before the reload came back with the card's sealed preferences.
    await expect.poll(() => bar().getByLabel('Situation de facturation').inputValue(), POLL).toBe('999000002');
    // The network cut, the machine's loopback kept (the card bridge is on it): Chromium's
    // offline emulation would cut the loopback too, which a real outage does not.
    const cut = (route: { abort(code: string): Promise<void> }) => route.abort('internetdisconnected');
    const group = page.getByRole('group', { name: 'Bénéficiaire (à choisir)' });
    await group.getByRole('radio').nth(1).check();
    const search = page.getByLabel('Ajouter un acte (code ou mots du libellé)');
    await expect.poll(() => search.isVisible(), POLL).toBe(true);
    await page.route('**/api/relay/**', cut);
    await page.evaluate(() => window.dispatchEvent(new Event('offline')));
    await search.fill('G');
    await search.press('Enter');
    await expect.poll(() => page.locator('[data-amount="fee"]').count(), POLL).toBe(1);
    await search.press('Control+Enter');
    await expect.poll(() => page.locator('.invoice .outcome').textContent(), POLL).toMatch(/^Facture n° \d+ signée\.$/);
    const panel = page.getByRole('region', { name: 'Télétransmission' });
    await panel.getByRole('button', { name: 'Télétransmettre (1 facture)' }).click();
    const rows = panel.getByRole('table', { name: 'Boîte d’envoi' }).locator('tbody tr');
    await expect.poll(() => rows.count(), POLL).toBe(2);
    await expect.poll(() => rows.first().textContent(), POLL).toContain('relais injoignable');
    expect(await rows.first().getAttribute('data-state')).toBe('waiting');
    await page.unroute('**/api/relay/**', cut);
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await expect.poll(() => rows.first().getAttribute('data-state'), POLL).toBe('delivered');
  }, 120_000);

  it('a lost answer: the relay took the message but the page never heard; sent again under the same Idempotency-Key, the insurer gets it once, and OpenSSL opens it with the AMO test key', async () => {
    const group = page.getByRole('group', { name: 'Bénéficiaire (à choisir)' });
    await expect.poll(() => group.getByRole('radio').count(), POLL).toBe(3);
    await group.getByRole('radio').nth(2).check();
    const search = page.getByLabel('Ajouter un acte (code ou mots du libellé)');
    await search.fill('G');
    await search.press('Enter');
    await expect.poll(() => page.locator('[data-amount="fee"]').count(), POLL).toBe(1);
    await search.press('Control+Enter');
    await expect.poll(() => page.locator('.invoice .outcome').textContent(), POLL).toMatch(/^Facture n° \d+ signée\.$/);
    // The first upload reaches the relay; its answer is lost on the way back.
    let posts = 0;
    const lose = async (route: import('playwright-core').Route) => {
      if (route.request().method() !== 'POST') return route.continue();
      posts++;
      if (posts > 1) return route.continue();
      await route.fetch();
      return route.abort('connectionreset');
    };
    await page.route('**/api/relay/messages', lose);
    const panel = page.getByRole('region', { name: 'Télétransmission' });
    await panel.getByRole('button', { name: 'Télétransmettre (1 facture)' }).click();
    const rows = panel.getByRole('table', { name: 'Boîte d’envoi' }).locator('tbody tr');
    await expect.poll(() => rows.first().textContent(), POLL).toContain('relais injoignable');
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await expect.poll(() => rows.first().getAttribute('data-state'), POLL).toBe('delivered');
    await page.unroute('**/api/relay/messages', lose);
    expect(posts).toBe(2);
    const subject = (await rows.first().locator('th').textContent())!;
    expect(subject).toMatch(/\/00001$/);

    // At the insurer's: that subject once, and the attachment opens with the AMO test key.
    const inbox = join(dir, 'demo', 'peer-mail', 'amo_pj.test@test.rss.fr');
    const received = readdirSync(inbox).map((f) => readFileSync(join(inbox, f))).filter((m) => m.toString('latin1').includes(`Subject: ${subject}`));
    expect(received).toHaveLength(1);
    const parsed = parseMessage(new Uint8Array(received[0]!));
    writeFileSync(join(dir, 'lot.p7'), parsed.attachment);
    const keys = join(dir, 'demo', 'recipients');
    const opened = execFileSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'der', '-in', join(dir, 'lot.p7'), '-inkey', join(keys, 'amo_pj.test@test.rss.fr.key'), '-recip', join(keys, 'amo_pj.test@test.rss.fr.pem')]);
    // Our simulator's FSE file: its header, and no patient name in what travelled in clear.
    expect(opened.subarray(0, 64).toString('latin1')).toContain('TELETRANS-SSV-SIM');
    expect(mailClearText(received[0]!)).not.toMatch(/ALEX|DOMINIQUE|FICTIF-TEST/);
  }, 120_000);

  it('without the Vitale card: a patient already billed, or typed by hand (the NIR key checked); the invoice marked and what it implies said', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await page.waitForURL(`${app.url}/facturer`);
    sim.remove(vitaleReader);
    const toggle = page.getByRole('button', { name: 'Sans carte Vitale (mode dégradé)' });
    await expect.poll(() => toggle.isVisible(), POLL).toBe(true);
    await toggle.click();
    // By hand, a wrong NIR key: refused in French, nothing built.
    await page.getByLabel('NIR de l’assuré (13 chiffres et clé)').fill('180059999900199');
    await page.getByLabel('Nom', { exact: true }).fill('Martin');
    await page.getByLabel('Prénom').fill('Léa');
    await page.getByLabel('Date de naissance').fill('1980-05-01');
    await page.getByLabel('Caisse (3 chiffres)').fill('751');
    await page.getByLabel('Centre (4 chiffres)').fill('0001');
    await page.getByRole('button', { name: 'Utiliser ce patient' }).click();
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'NIR' }).count(), POLL).toBe(1);
    // A patient already billed with this card instead.
    const known = page.getByLabel('Patient déjà facturé');
    expect(await known.locator('option').allTextContents()).toContain('FICTIF SACHA, né(e) le 15/09/2012 (rang 1)');
    await known.selectOption({ label: 'FICTIF SACHA, né(e) le 15/09/2012 (rang 1)' });
    await page.getByRole('button', { name: 'Facturer ce patient' }).click();
    const note = page.getByRole('region', { name: /^Patient sans carte Vitale/ });
    await expect.poll(() => note.isVisible(), POLL).toBe(true);
    expect(await note.textContent()).toContain('feuille de soins papier');
    const search = page.getByLabel('Ajouter un acte (code ou mots du libellé)');
    await search.fill('V');
    await search.press('Enter');
    await expect.poll(() => page.locator('[data-amount="fee"]').count(), POLL).toBe(1);
    await search.press('Control+Enter');
    await expect.poll(() => page.locator('.invoice .outcome').textContent(), POLL).toMatch(/^Facture n° \d+ signée\.$/);
    const first = page.locator('.list tbody tr').first();
    await expect.poll(() => first.textContent(), POLL).toContain('sans carte Vitale');
    expect(await first.textContent()).toContain('SACHA FICTIF');
    await page.addScriptTag({ path: AXE_PATH });
    const results = await page.evaluate(() => (window as unknown as { axe: { run(c: Document, o: object): Promise<AxeResults> } }).axe.run(document, { resultTypes: ['violations'] }));
    expect(results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'facturer-degraded.png'), fullPage: true });
    await page.getByRole('button', { name: 'Revenir à la carte Vitale' }).click();
    sim.insert(vitaleReader, (await makeVitale(cardPki)).card);
  }, 120_000);

  it('home = the day: counts, the outbox, the lots awaiting their ARL; no patient named', async () => {
    await page.goto(`${app.url}/`);
    const lockPin = page.getByRole('dialog', { name: 'Session verrouillée' }).getByLabel('Code porteur de la CPS');
    await expect.poll(() => lockPin.isVisible(), POLL).toBe(true);
    await lockPin.fill('1234');
    await lockPin.press('Enter');
    const day = page.getByRole('region', { name: 'Ma journée' });
    await expect.poll(() => day.locator('.counts').textContent(), POLL).toMatch(/remis aujourd’hui/);
    const text = (await day.textContent())!;
    expect(text).toMatch(/Boîte d’envoi : 0 en attente, 0 au relais, 3 remis aujourd’hui/);
    // The degraded-mode invoice, signed and not sent yet, with its deadline counted down.
    expect(text).toMatch(/1 signée, pas encore envoyée/);
    expect(text).toMatch(/dans \d+ jours ouvrés|demain \(1 jour ouvré\)|aujourd’hui —/);
    expect(text).toContain('Lots envoyés sans accusé de réception (ARL)');
    expect(text).not.toMatch(/DOMINIQUE|SACHA|FICTIF/);
    // The card's last billing situation comes back after the reload here too, not only on « Facturer ».
    const situation = page.getByRole('region', { name: 'Session du praticien' }).getByLabel('Situation de facturation');
    await expect.poll(() => situation.inputValue(), POLL).toBe('999000002');
    await page.addScriptTag({ path: AXE_PATH });
    const results = await page.evaluate(() => (window as unknown as { axe: { run(c: Document, o: object): Promise<AxeResults> } }).axe.run(document, { resultTypes: ['violations'] }));
    expect(results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'home-day.png'), fullPage: true });
  }, 120_000);

  it('a returning patient by keyboard alone: Enter on the beneficiary, Enter takes the last coding, Enter signs', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await page.waitForURL(`${app.url}/facturer`);
    const group = page.getByRole('group', { name: /^Bénéficiaire/ });
    await expect.poll(() => group.getByRole('radio').count(), POLL).toBe(3);
    // The card's invoices are open (as they are long before a patient sits down).
    await expect.poll(() => page.locator('.list tbody tr').count(), POLL).toBeGreaterThan(0);
    await group.getByRole('radio').first().focus();
    await page.keyboard.press('Enter');
    const offer = page.getByRole('button', { name: 'Reprendre ces actes' });
    await expect.poll(() => offer.evaluate((el) => el === document.activeElement), POLL).toBe(true);
    expect(await page.locator('.previous').textContent()).toContain('V');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('[data-amount="fee"]').textContent(), POLL).toBe('25,00 €');
    const sign = page.getByRole('button', { name: 'Signer la facture' });
    const time = page.getByLabel('Heure de l’acte V');
    // Billed today already at this very minute (this test runs fast): the duplicate is said
    // before signing, Sign waits and the act's hour has the focus; otherwise Sign has it.
    const duplicate = (await page.locator('li[data-code="duplicate_invoice"]').count()) > 0;
    await expect.poll(() => (duplicate ? time : sign).evaluate((el) => el === document.activeElement), POLL).toBe(true);
    if (duplicate) expect(await sign.isDisabled()).toBe(true);
    await time.fill('07:00');
    await expect.poll(() => sign.isEnabled(), POLL).toBe(true);
    await sign.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('.invoice .outcome').textContent(), POLL).toMatch(/^Facture n° \d+ signée\.$/);

    // Found again: by the patient's name (accents and case aside), by state.
    const rows = page.locator('.list tbody tr');
    const all = await rows.count();
    await page.getByLabel('Patient, n° de facture ou de lot').fill('sacha');
    await expect.poll(() => rows.count(), POLL).toBeLessThan(all);
    expect((await rows.locator('th').allTextContents()).every((t) => t.startsWith('SACHA FICTIF'))).toBe(true);
    await page.getByLabel('Patient, n° de facture ou de lot').fill('');
    await page.getByLabel('État').selectOption({ label: 'annulée' });
    await expect.poll(() => rows.count(), POLL).toBe(1);
    expect(await rows.first().getAttribute('data-status')).toBe('cancelled');
    expect(await page.getByRole('search', { name: 'Rechercher une facture' }).getByRole('status').textContent()).toBe(`1 facture sur ${all}`);

    // The backup file: every invoice of the card, sealed — no NIR, no name, no act in it.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Exporter une sauvegarde' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^teletrans-sauvegarde-\d{4}-\d\d-\d\d\.json$/);
    const text = readFileSync((await download.path())!, 'utf8');
    const backup = JSON.parse(text) as { format: string; invoices: unknown[]; lots: unknown[]; slot: { salt: unknown } };
    expect(backup.format).toBe('teletrans-backup-1');
    expect(backup.invoices).toHaveLength(all);
    expect(backup.lots.length).toBeGreaterThan(0);
    expect(backup.slot.salt).toBeDefined();
    expect(backupClearText(text)).not.toMatch(/DOMINIQUE|SACHA|ALEX|180059999900135|Consultation/);

    // A 10-inch tablet (768 px): the page holds, nothing wider than the screen.
    await page.getByLabel('État').selectOption({ label: 'tous' });
    await page.setViewportSize({ width: 768, height: 1024 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(768);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'facturer-768.png'), fullPage: true });
    await page.setViewportSize({ width: 1366, height: 900 });
  }, 120_000);

  it('« Modifier » before the lot: one to sign corrected keeps its row and takes a new number; a signed one is cancelled with its trace and replaced', async () => {
    const first = await keepToSign('06:10');
    const search = page.getByLabel('Ajouter un acte (code ou mots du libellé)');
    const outcome = page.locator('.invoice .outcome');
    const rows = page.locator('.list tbody tr');
    const count = await rows.count();

    // Changed for a home visit: the same row, renumbered, the old number abandoned.
    await rows.first().getByRole('button', { name: `Modifier la facture n° ${first} de ALEX FICTIF` }).click();
    const note = page.getByRole('region', { name: `Modifier la facture n° ${first} : ALEX FICTIF` });
    await expect.poll(() => note.isVisible(), POLL).toBe(true);
    expect(await note.textContent()).toContain('nouveau numéro');
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'facturer-correcting.png'), fullPage: true });
    expect(await page.getByLabel('Heure de l’acte G').inputValue()).toBe('06:10');
    await expect.poll(() => search.evaluate((el) => el === document.activeElement), POLL).toBe(true);
    await page.getByRole('button', { name: 'Retirer l’acte G' }).click();
    await search.fill('V');
    await search.press('Enter');
    await page.getByLabel('Heure de l’acte V').fill('06:10');
    await page.getByRole('button', { name: 'Garder à signer' }).click();
    await expect.poll(() => outcome.textContent(), POLL).toMatch(new RegExp(`^Facture n° ${first} corrigée\\. Facture n° \\d+ enregistrée, à signer\\.$`));
    const second = (/n° (\d+) enregistrée/.exec((await outcome.textContent())!))![1]!;
    expect(second).not.toBe(first);
    expect(await note.count()).toBe(0);
    await expect.poll(() => rows.first().locator('td.num').first().textContent(), POLL).toBe(second);
    expect(await rows.count()).toBe(count);
    expect(await rows.first().getAttribute('data-status')).toBe('to_sign');
    expect(await rows.first().textContent()).toContain('25,00 €');

    // « Abandonner »: nothing changes, the form empties.
    await rows.first().getByRole('button', { name: /^Modifier la facture/ }).click();
    await page.getByRole('button', { name: 'Abandonner la modification' }).click();
    await expect.poll(() => page.locator('[data-amount="fee"]').count(), POLL).toBe(0);
    expect(await rows.first().locator('td.num').first().textContent()).toBe(second);

    // A signed one: cancelled (its trace stays) and replaced by a new one, signed with Ctrl+Entrée.
    const signed = page.locator('.list tbody tr[data-status="signed"]').first();
    const signedNumber = (await signed.locator('td.num').first().textContent())!;
    await signed.getByRole('button', { name: /^Modifier la facture/ }).click();
    await expect.poll(() => page.getByRole('region', { name: new RegExp(`^Modifier la facture n° ${signedNumber} :`) }).textContent(), POLL).toContain('sera annulée');
    await search.press('Control+Enter');
    await expect.poll(() => outcome.textContent(), POLL).toMatch(new RegExp(`^Facture n° ${signedNumber} annulée et remplacée\\. Facture n° \\d+ signée\\.$`));
    await expect.poll(() => rows.count(), POLL).toBe(count + 1);
    const old = rows.filter({ hasText: signedNumber });
    expect(await old.getAttribute('data-status')).toBe('cancelled');
    expect(await rows.first().getAttribute('data-status')).toBe('signed');
    // A lot's invoices are no longer offered for a change.
    expect(await page.locator('.list tbody tr[data-status="sent"]').getByRole('button', { name: /^Modifier/ }).count()).toBe(0);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'facturer-corrected.png'), fullPage: true });
  }, 120_000);

  it('« Restaurer une sauvegarde »: the workstation’s records deleted, the file brings every invoice back under the card; the next number follows the restored ones', async () => {
    const list = page.getByRole('region', { name: 'Factures' });
    const rows = list.locator('tbody tr');
    await expect.poll(() => rows.count(), POLL).toBeGreaterThan(0);
    const shape = (): Promise<string[]> => rows.evaluateAll((trs) => trs.map((t) => `${t.getAttribute('data-status')} ${t.querySelector('td.num')?.textContent ?? ''}`).sort());
    const before = await shape();
    const numbers = before.map((r) => Number(/(\d{9})/.exec(r)?.[1] ?? 0));
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Exporter une sauvegarde' }).click()]);
    const file = (await download.path())!;

    // The workstation loses them: the records, the card's key slot, the counters, the hand-offs.
    await page.evaluate(async () => {
      for (const name of ['teletrans-billing', 'teletrans-keys', 'teletrans-counters', 'teletrans-handoffs']) {
        await new Promise((resolve, reject) => {
          const r = indexedDB.deleteDatabase(name);
          r.onsuccess = () => resolve(undefined);
          r.onerror = () => reject(r.error);
        });
      }
    });
    await page.reload();
    const lockPin = page.getByRole('dialog', { name: 'Session verrouillée' }).getByLabel('Code porteur de la CPS');
    await expect.poll(() => lockPin.isVisible(), POLL).toBe(true);
    await lockPin.fill('1234');
    await lockPin.press('Enter');
    await expect.poll(() => page.locator('main').getAttribute('data-vault'), POLL).toBe('open');
    await expect.poll(() => list.textContent(), POLL).toContain('Aucune facture enregistrée');

    // The file, through the page: opened with the card, every invoice back as it was.
    await list.getByLabel('Fichier de sauvegarde à restaurer').setInputFiles(file);
    await expect.poll(() => list.locator('.message').textContent(), POLL).toMatch(new RegExp(`^Sauvegarde rétablie : ${before.length} factures ajoutées, \\d+ lots? ajoutés?\\.$`));
    await expect.poll(() => shape(), POLL).toEqual(before);
    // The card's last situation came back with its preferences (this workstation had none left).
    await expect.poll(() => bar().getByLabel('Situation de facturation').inputValue(), POLL).toBe('999000002');
    await page.addScriptTag({ path: AXE_PATH });
    const results = await page.evaluate(() => (window as unknown as { axe: { run(c: Document, o: object): Promise<AxeResults> } }).axe.run(document, { resultTypes: ['violations'] }));
    expect(results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'facturer-restored.png'), fullPage: true });
    // Again: nothing more (everything here is as far along as the file).
    await list.getByLabel('Fichier de sauvegarde à restaurer').setInputFiles(file);
    await expect.poll(() => list.locator('.message').textContent(), POLL).toMatch(/^Sauvegarde rétablie : 0 facture ajoutée, \d+ déjà à jour sur ce poste\.$/);

    // The counters were deleted too: the next invoice still takes a number never used.
    expect(Number(await keepToSign('05:40'))).toBeGreaterThan(Math.max(...numbers));
  }, 180_000);
});
