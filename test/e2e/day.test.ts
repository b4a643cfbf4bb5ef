/**
 * A practitioner's day in the life (issue 14, Tests), on the production build in Chromium,
 * through the real card stack and the real mail peer: the bridge on pcscd with the vsmartcard
 * vpcd reader (slot 0 the CPS, slot 1 the Vitale cards, cards from the demo PKI of `npm start`),
 * the relay on its embedded defaults but delivering to Postfix, which hands the insurers' test
 * mailboxes to Dovecot.
 *
 * Pair, log in with the CPS; bill 30 fictitious patients: households read from Vitale cards
 * swapped in the reader, and patients typed by hand without their card (degraded mode). The
 * morning is online, invoices signed one by one and transmitted at once. Then the network goes
 * (the relay's routes cut, `offline` said to the page; the loopback to the bridge stays, as in a
 * real outage): invoices kept to sign and signed in one batch with the PIN already typed,
 * « Télétransmettre » queues them; more patients, some without their card, transmitted again.
 * The browser is closed with the outbox full and started again, still offline: the PIN, the
 * same messages waiting, nothing at Postfix. The network back, everything leaves by itself:
 * each message reaches Dovecot exactly once, OpenSSL decrypts every one with the test
 * recipients' keys, the 30 invoices are in the FSE files, and every subject the app shows is a
 * subject Postfix delivered. axe-core on the screens. pcscd, vpcd, Postfix and Dovecot are
 * required (scripts/install-system-deps.sh): nothing here is skipped.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AxeResults } from 'axe-core';
import { chromium, type BrowserContext, type Page, type Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCps, makeVitale, type TestPki } from '../../bridge/cards/profiles.js';
import { VpcdInsertion } from '../../bridge/cards/vpcd.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import { nirKey } from '../../src/lib/billing/beneficiary.js';
import { BRIDGE_URL_KEY } from '../../src/lib/client/card/bridge-instance.js';
import { DEMO_RECIPIENTS, readDemoPki } from '../../src/lib/server/demo-pki.js';
import { parseMessage } from '../../src/lib/sesam/index.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../browser/harness.js';
import { pageApprover, stateDir, waitFor } from '../bridge/helpers.js';
import { pcscAvailable, startPcscd, PCSCD, VPCD_DRIVER, type Pcscd } from '../bridge/pcscd.js';
import { startMailServers, type MailServers } from '../relay/fixtures/mail.js';
import { buildApp, startApp, type PrivateBuild, type RunningApp } from './app-server.js';
import { pairAndSignIn } from './practitioner.js';
import { mailClearText } from './clear-text.js';

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core');
const POLL = { timeout: 30_000, interval: 100 };
const SHOTS = process.env.TELETRANS_SCREENSHOTS;
/** pcscd polls vpcd every 400 ms; a loaded CI is slower. */
const EVENT_MS = 30_000;
const [AMO, AMC] = DEMO_RECIPIENTS as [string, string];

/** A patient of the day: a beneficiary of a household's Vitale card, or one typed by hand. */
type Patient = { card: number; rank: 1 | 2 | 3; name: string } | { typed: number; name: string };

/** Typed by hand, without the card: born abroad (99) in country 999, as the simulated cards. */
function typed(i: number): { nir: string; lastName: string; firstName: string } {
  const nir13 = `1850399999${String(300 + i).padStart(3, '0')}`;
  return { nir: nir13 + String(nirKey(nir13)).padStart(2, '0'), lastName: `Saisi-${'ABCDEFGHIJ'[i]!}`, firstName: 'Patient' };
}

describe('a day in the life: 30 patients on pcscd + vpcd, an hour offline, a restart, Postfix and OpenSSL at the end', () => {
  let build: PrivateBuild;
  let app: RunningApp;
  let pcscd: Pcscd;
  let mail: MailServers;
  let bridge: Bridge;
  let cardPki: TestPki;
  let cps: VpcdInsertion;
  let vitale: VpcdInsertion | null = null;
  let dir: string;
  let context: BrowserContext | undefined;
  let page: Page;

  beforeAll(async () => {
    if (!pcscAvailable()) throw new Error(`day.test: ${PCSCD} or ${VPCD_DRIVER} missing; run scripts/install-system-deps.sh (the real PC/SC peer is required)`);
    dir = mkdtempSync(join(tmpdir(), 'teletrans-e2e-day-'));
    [build, mail] = await Promise.all([buildApp(), startMailServers({ mailboxes: DEMO_RECIPIENTS })]);
    app = await startApp(build.server, {
      TELETRANS_RELAY_DEMO_DIR: join(dir, 'demo'),
      TELETRANS_RELAY_DEMO_SMTP: `127.0.0.1:${mail.smtpPort}`,
      TELETRANS_RELAY_DEMO_SMTP_CA: mail.pki.caPath,
      BODY_SIZE_LIMIT: '16M',
    });
    const pki = await readDemoPki(join(dir, 'demo'));
    cardPki = { rootDer: pki.igcRoot.der, caDer: pki.igcCa.der, caKey: pki.igcCa.key };
    pcscd = await startPcscd();
    bridge = await startBridge({ port: 0, stateDir: await stateDir(), allowedOrigins: [app.url], approve: pageApprover(() => page) });
    await waitFor(() => bridge.transport.readers().length === 2, EVENT_MS);
    cps = new VpcdInsertion((await makeCps(cardPki)).card, pcscd.port);
    await cps.insert();
    await waitFor(() => bridge.transport.readers().some((r) => r.name === pcscd.readers[0] && r.present), EVENT_MS);
  }, 600_000); // the pcscd fixture may wait its turn

  afterAll(async () => {
    await context?.close();
    vitale?.remove();
    cps?.remove();
    await bridge?.close();
    await pcscd?.stop();
    mail?.stop();
    await app?.stop();
    build?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function launch(): Promise<Page> {
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true, bypassCSP: true, viewport: { width: 1366, height: 900 }, locale: 'fr-FR', timezoneId: 'Europe/Paris',
    });
    await context.addInitScript(([key, url]) => localStorage.setItem(key, url), [BRIDGE_URL_KEY, bridge.url] as const);
    return context.pages()[0] ?? context.newPage();
  }

  const cut = (route: Route) => route.abort('internetdisconnected');
  const relayState = () => page.getByRole('region', { name: 'Session du praticien' }).locator('.relay');
  async function networkDown(): Promise<void> {
    await context!.route('**/api/relay/**', cut);
    await page.evaluate(() => window.dispatchEvent(new Event('offline')));
    await expect.poll(() => relayState().getAttribute('data-state'), POLL).toBe('offline');
    expect(await relayState().textContent()).toContain('hors ligne : les envois attendront le réseau');
  }

  async function axe(): Promise<string[]> {
    await page.addScriptTag({ path: AXE_PATH });
    const results = await page.evaluate(() => (window as unknown as { axe: { run(c: Document, o: object): Promise<AxeResults> } }).axe.run(document, { resultTypes: ['violations'] }));
    return results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }

  async function unlock(): Promise<void> {
    const pin = page.getByRole('dialog', { name: 'Session verrouillée' }).getByLabel('Code porteur de la CPS');
    await expect.poll(() => pin.isVisible(), POLL).toBe(true);
    await pin.fill('1234');
    await pin.press('Enter');
    await expect.poll(() => page.getByRole('region', { name: 'Session du praticien' }).isVisible(), POLL).toBe(true);
  }

  /** The household's Vitale card into slot 1 (the one there taken out first). */
  let inReader = -1;
  async function insertVitale(household: number): Promise<void> {
    if (inReader === household) return;
    if (vitale) {
      vitale.remove();
      await waitFor(() => bridge.transport.readers().some((r) => r.name === pcscd.readers[1] && !r.present), EVENT_MS);
    }
    vitale = new VpcdInsertion((await makeVitale(cardPki, { household, serial: `99900002${String(household).padStart(2, '0')}` })).card, pcscd.port + 1);
    await vitale.insert();
    inReader = household;
  }

  const outcome = () => page.locator('.invoice .outcome');
  const rows = () => page.locator('.list tbody tr');
  const outbox = () => page.getByRole('region', { name: 'Télétransmission' }).getByRole('table', { name: 'Boîte d’envoi' }).locator('tbody tr');
  const states = () => outbox().evaluateAll((trs) => trs.map((t) => t.getAttribute('data-state')));
  const subjects = async () => (await outbox().locator('th').allTextContents()).map((s) => s.trim());

  /** One patient billed: chosen (card or by hand), « G » by keyboard, signed now or kept to sign. */
  async function bill(p: Patient, sign: boolean): Promise<void> {
    if ('card' in p) {
      if (await page.getByRole('button', { name: 'Revenir à la carte Vitale' }).count()) await page.getByRole('button', { name: 'Revenir à la carte Vitale' }).click();
      await insertVitale(p.card);
      const group = page.getByRole('group', { name: /^Bénéficiaire/ });
      await expect.poll(() => group.textContent(), POLL).toContain(p.name);
      await group.getByRole('radio').nth(p.rank - 1).check();
    } else {
      if (await page.getByRole('button', { name: 'Revenir à la carte Vitale' }).count()) await page.getByRole('button', { name: 'Revenir à la carte Vitale' }).click();
      const t = typed(p.typed);
      await page.getByRole('button', { name: 'Sans carte Vitale (mode dégradé)' }).click();
      await page.getByLabel('NIR de l’assuré (13 chiffres et clé)').fill(t.nir);
      await page.getByLabel('Nom', { exact: true }).fill(t.lastName);
      await page.getByLabel('Prénom').fill(t.firstName);
      await page.getByLabel('Date de naissance').fill('1985-03-20');
      await page.getByLabel('Caisse (3 chiffres)').fill('751');
      await page.getByLabel('Centre (4 chiffres)').fill('0001');
      await page.getByRole('button', { name: 'Utiliser ce patient' }).click();
      await expect.poll(() => page.getByRole('region', { name: /^Patient sans carte Vitale/ }).isVisible(), POLL).toBe(true);
    }
    const search = page.getByLabel('Ajouter un acte (code ou mots du libellé)');
    await expect.poll(() => search.isVisible(), POLL).toBe(true);
    await search.fill('G');
    await search.press('Enter');
    await expect.poll(() => page.locator('[data-amount="fee"]').count(), POLL).toBe(1);
    const before = await rows().count();
    if (sign) {
      await search.press('Control+Enter');
      await expect.poll(() => outcome().textContent(), POLL).toMatch(/^Facture n° \d+ signée\.$/);
    } else {
      await page.getByRole('button', { name: 'Garder à signer' }).click();
      await expect.poll(() => outcome().textContent(), POLL).toMatch(/^Facture n° \d+ enregistrée, à signer\.$/);
    }
    await expect.poll(() => rows().count(), POLL).toBe(before + 1);
  }

  /** « Télétransmettre » for `n` signed invoices; the message said; the subjects of the messages it queued. */
  async function transmit(n: number): Promise<string[]> {
    const panel = page.getByRole('region', { name: 'Télétransmission' });
    const button = panel.getByRole('button', { name: `Télétransmettre (${n} facture${n > 1 ? 's' : ''})` });
    await expect.poll(() => button.isEnabled(), POLL).toBe(true);
    const before = await subjects();
    await button.click();
    await expect.poll(() => panel.locator('.message').textContent(), POLL).toMatch(new RegExp(`^${n} factures? en \\d+ messages?, chiffrés? et mis en boîte d’envoi\\.`));
    const queued = Number(/ en (\d+) message/.exec((await panel.locator('.message').textContent())!)![1]);
    await expect.poll(() => outbox().count(), POLL).toBe(before.length + queued);
    return (await subjects()).filter((s) => !before.includes(s));
  }

  const delivered = (): Map<string, Buffer[]> => {
    const bySubject = new Map<string, Buffer[]>();
    for (const box of [AMO, AMC])
      for (const m of mail.messages(box)) {
        const subject = /^Subject: (.+)$/m.exec(m.toString('latin1'))?.[1]?.trim() ?? '';
        bySubject.set(subject, [...(bySubject.get(subject) ?? []), m]);
      }
    return bySubject;
  };

  const households: Patient[] = Array.from({ length: 8 }, (_, h) => h + 1).flatMap((card) => [1, 2, 3].map((rank) => ({ card, rank: rank as 1 | 2 | 3, name: '' })));
  let morning: string[] = [];

  it('the morning, online: paired, the CPS logged in to the relay, 10 patients from 4 Vitale cards signed one by one and transmitted to Postfix', async () => {
    page = await launch();
    await pairAndSignIn(page, app.url, '999000001');
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await page.waitForURL(`${app.url}/facturer`);
    await expect.poll(() => page.getByRole('region', { name: 'Factures' }).isVisible(), POLL).toBe(true);

    // Names as the cards carry them (the page shows first name, then last name).
    for (const p of households) {
      const { data } = await makeVitale(cardPki, { household: (p as { card: number }).card });
      const b = data.beneficiaries[(p as { rank: number }).rank - 1]!;
      p.name = `${b.firstName} ${b.lastName}`;
    }
    for (const p of households.slice(0, 10)) await bill(p, true);
    expect(await rows().evaluateAll((trs) => trs.map((t) => t.getAttribute('data-status')))).toEqual(Array(10).fill('signed'));
    morning = await transmit(10);
    expect(morning.length).toBeGreaterThan(0);
    await expect.poll(async () => (await states()).every((s) => s === 'delivered'), POLL).toBe(true);
    await mail.drain();
    for (const s of morning) expect(delivered().get(s), s).toHaveLength(1);
    expect(await axe()).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'day-morning.png'), fullPage: true });
  }, 600_000);

  let afternoon: string[] = [];

  it('an hour offline: 10 patients kept to sign, one batch with the PIN already typed, queued; 10 more, 6 without their card, queued too', async () => {
    await networkDown();
    for (const p of households.slice(10, 20)) await bill(p, false);
    const list = page.getByRole('region', { name: 'Factures' });
    await list.getByRole('button', { name: 'Signer la sélection (10)' }).click();
    await expect.poll(() => list.locator('.message').textContent(), POLL).toBe('10 factures signées.');
    afternoon = await transmit(10);
    await expect.poll(async () => (await outbox().first().textContent()) ?? '', POLL).toContain('relais injoignable');

    const rest: Patient[] = [...households.slice(20, 24), ...Array.from({ length: 6 }, (_, i) => ({ typed: i, name: `Patient Saisi-${'ABCDEF'[i]}` }))];
    for (const p of rest) await bill(p, true);
    expect(await rows().filter({ hasText: 'sans carte Vitale' }).count()).toBe(6);
    afternoon = [...afternoon, ...(await transmit(10))];
    expect(afternoon.length).toBeGreaterThanOrEqual(2);
    // Nothing left: waiting, each, the relay unreachable (a try may be under way: polled).
    await expect.poll(async () => (await states()).filter((s) => s === 'waiting').length, POLL).toBe(afternoon.length);
    expect([...delivered().keys()].filter((s) => afternoon.includes(s))).toEqual([]);
    expect(await axe()).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'day-offline.png'), fullPage: true });
  }, 600_000);

  it('the browser killed offline with the outbox full: after the restart and the PIN, the same messages wait; back online each reaches Postfix once, OpenSSL opens them all, 30 invoices', async () => {
    await context!.close();
    page = await launch();
    await context!.route('**/api/relay/**', cut);
    await page.goto(`${app.url}/cartes`);
    const pin = page.getByLabel('Code porteur de la CPS');
    await expect.poll(() => pin.isVisible(), POLL).toBe(true);
    await pin.fill('1234');
    await pin.press('Enter');
    await expect.poll(() => page.getByRole('region', { name: 'Session du praticien' }).isVisible(), POLL).toBe(true);
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await expect.poll(async () => (await subjects()).length, POLL).toBe(morning.length + afternoon.length);
    expect((await subjects()).filter((s) => afternoon.includes(s)).sort()).toEqual([...afternoon].sort());
    expect((await states()).filter((s) => s === 'waiting')).toHaveLength(afternoon.length);
    await expect.poll(() => rows().count(), POLL).toBe(30);
    expect([...delivered().keys()].filter((s) => afternoon.includes(s))).toEqual([]);

    // The network back: everything leaves by itself.
    await context!.unroute('**/api/relay/**', cut);
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await expect.poll(() => relayState().getAttribute('data-state'), POLL).toBe('connected');
    await expect.poll(async () => (await states()).every((s) => s === 'delivered'), { ...POLL, timeout: 60_000 }).toBe(true);
    await mail.drain();
    await expect.poll(() => rows().evaluateAll((trs) => trs.every((t) => t.getAttribute('data-status') === 'sent')), POLL).toBe(true);

    // At Dovecot: each subject the app shows, exactly once; nothing else.
    const got = delivered();
    const shown = await subjects();
    expect([...got.keys()].sort()).toEqual([...shown].sort());
    for (const s of shown) expect(got.get(s), s).toHaveLength(1);
    // Opened by OpenSSL with the test recipients' keys: the FSE files carry the 30 invoices.
    const keys = join(dir, 'demo', 'recipients');
    let invoices = 0;
    for (const [subject, [raw]] of got) {
      const to = /^To: .*?([\w.]+@test\.rss\.fr)/m.exec(raw!.toString('latin1'))![1]!;
      expect(mailClearText(raw!), subject).not.toMatch(/FICTIF|Saisi|Patient|180059999900135/);
      const lot = join(dir, 'lot.p7');
      writeFileSync(lot, parseMessage(new Uint8Array(raw!)).attachment);
      const opened = execFileSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'der', '-in', lot, '-inkey', join(keys, `${to}.key`), '-recip', join(keys, `${to}.pem`)]);
      expect(opened.subarray(0, 64).toString('latin1')).toContain('TELETRANS-SSV-SIM');
      if (subject.startsWith('SV')) invoices += Number(subject.split('/')[3]);
    }
    expect(invoices).toBe(30);

    // The day on the home page: nothing left to send, no patient named.
    await page.goto(`${app.url}/`);
    await unlock();
    const day = page.getByRole('region', { name: 'Ma journée' });
    await expect.poll(() => day.locator('.counts').textContent(), POLL).toMatch(/remis aujourd’hui/);
    expect(await day.textContent()).toMatch(new RegExp(`Boîte d’envoi : 0 en attente, 0 au relais, ${shown.length} remis aujourd’hui`));
    expect(await day.textContent()).not.toMatch(/FICTIF|Saisi/);
    expect(await axe()).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'day-evening.png'), fullPage: true });
  }, 600_000);
});
