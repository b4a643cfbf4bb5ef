/**
 * Returns acted on in the page (issue 15 item 3), in Chromium on the production build, with the
 * bridge's simulated cards and `npm start`'s embedded defaults: the relay delivers to the local
 * test peer, whose simulated insurer front end answers into the practitioner's embedded mailbox,
 * which the relay picks up.
 *
 * - Scenario `revoke-old` (the front end holds the certificate the page knows as revoked): the
 *   flow comes back as a signed 40050; the page verifies its signer with its trust store,
 *   integrates the new certificate and re-emits the same file for it with a new compostage
 *   (OpenSSL opens both messages, each with its key: byte-identical files); then the ARL
 *   acknowledges the lot and the RSP pays the third-party invoice, reconciled on the page.
 * - Scenario `mute` (the front end answers nothing), the page's clock moved on: the lot awaits
 *   its ARL, then is late and to retransmit by its last day, then past it; « Retransmettre »
 *   sends it again and its ARL is awaited anew.
 * - Scenario `lose-arl`: an unsigned « 40150 » dropped in the mailbox is shown as not verified and
 *   changes nothing; a DSN of a permanent failure puts the lot to retransmit, and
 *   « Retransmettre » sends the same file again, which reaches the insurer.
 */
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AxeResults } from 'axe-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCps, makeVitale } from '../../bridge/cards/profiles.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import { SimulatedTransport } from '../../bridge/transport.js';
import { BRIDGE_URL_KEY } from '../../src/lib/client/card/bridge-instance.js';
import { readDemoPki } from '../../src/lib/server/demo-pki.js';
import { parseMessage } from '../../src/lib/sesam/index.js';
import { arlDueDate, retransmitBy } from '../../src/lib/sesam/deadline.js';
import { launchChromium } from '../browser/harness.js';
import { pageApprover, stateDir } from '../bridge/helpers.js';
import { buildApp, startApp, type PrivateBuild, type RunningApp } from './app-server.js';
import { pairAndSignIn } from './practitioner.js';

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core');
const POLL = { timeout: 30_000, interval: 100 };
const SHOTS = process.env.TELETRANS_SCREENSHOTS;
const AMO = 'amo_pj.test@test.rss.fr';
const PRACTITIONER = 'ps.demo@teletrans.test';

interface Station {
  app: RunningApp;
  bridge: Bridge;
  context: BrowserContext;
  page: Page;
  dir: string;
}

let build: PrivateBuild;
let browser: Browser;
const stations: Station[] = [];

beforeAll(async () => {
  [build, browser] = await Promise.all([buildApp(), launchChromium()]);
}, 300_000);

afterAll(async () => {
  for (const s of stations) {
    await s.context.close();
    await s.bridge.close();
    await s.app.stop();
    rmSync(s.dir, { recursive: true, force: true });
  }
  await browser?.close();
  build?.remove();
});

/** The app on its embedded defaults with a front-end scenario, the bridge's simulated cards, a fresh browser profile. */
async function station(scenario: string): Promise<Station> {
  const dir = mkdtempSync(join(tmpdir(), 'teletrans-e2e-returns-'));
  const app = await startApp(build.server, { TELETRANS_RELAY_DEMO_DIR: join(dir, 'demo'), BODY_SIZE_LIMIT: '16M', TELETRANS_DEMO_FRONT_END: scenario });
  const pki = await readDemoPki(join(dir, 'demo'));
  const cardPki = { rootDer: pki.igcRoot.der, caDer: pki.igcCa.der, caKey: pki.igcCa.key };
  const sim = new SimulatedTransport();
  const [cpsReader, vitaleReader] = sim.readers().map((r) => r.name);
  sim.insert(cpsReader!, (await makeCps(cardPki)).card);
  sim.insert(vitaleReader!, (await makeVitale(cardPki)).card);
  const s = { app, dir } as Station;
  s.bridge = await startBridge({ port: 0, transport: sim, stateDir: await stateDir(), allowedOrigins: [app.url], approve: pageApprover(() => s.page) });
  s.context = await browser.newContext({ bypassCSP: true, viewport: { width: 1366, height: 900 }, locale: 'fr-FR' });
  await s.context.addInitScript(([key, url]) => localStorage.setItem(key, url), [BRIDGE_URL_KEY, s.bridge.url] as const);
  s.page = await s.context.newPage();
  stations.push(s);
  return s;
}

async function axe(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE_PATH });
  const results = await page.evaluate(() => (window as unknown as { axe: { run(c: Document, o: object): Promise<AxeResults> } }).axe.run(document, { resultTypes: ['violations'] }));
  return results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** Signed in, on « Facturer », one invoice signed (beneficiary `who`, third-party AMO or not) and transmitted: its subject. */
async function billAndTransmit(s: Station, thirdParty: boolean, who = 0): Promise<string> {
  const { page } = s;
  if (who === 0) {
    await pairAndSignIn(page, s.app.url, '999000002');
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await page.waitForURL(`${s.app.url}/facturer`);
  }
  const group = page.getByRole('group', { name: 'Bénéficiaire (à choisir)' });
  await expect.poll(() => group.getByRole('radio').count(), POLL).toBe(3);
  await group.getByRole('radio').nth(who).check();
  const search = page.getByLabel('Ajouter un acte (code ou mots du libellé)');
  await expect.poll(() => search.isVisible(), POLL).toBe(true);
  if (thirdParty) await page.getByLabel('Sur la part obligatoire (AMO)').check();
  await search.fill('G');
  await search.press('Enter');
  await expect.poll(() => page.locator('[data-amount="fee"]').count(), POLL).toBe(1);
  await search.press('Control+Enter');
  await expect.poll(() => page.locator('.invoice .outcome').textContent(), POLL).toMatch(/^Facture n° \d+ signée\.$/);
  const outbox = page.getByRole('region', { name: 'Télétransmission' });
  const rows = outbox.getByRole('table', { name: 'Boîte d’envoi' }).locator('tbody tr');
  const before = (await rows.locator('th').allTextContents()).map((x) => x.trim());
  await outbox.getByRole('button', { name: 'Télétransmettre (1 facture)' }).click();
  await expect.poll(() => rows.count(), POLL).toBe(before.length + 1);
  await expect.poll(() => rows.evaluateAll((trs) => trs.every((t) => t.getAttribute('data-state') === 'delivered')), POLL).toBe(true);
  return (await rows.locator('th').allTextContents()).map((x) => x.trim()).find((x) => !before.includes(x))!;
}

const panel = (page: Page) => page.getByRole('region', { name: 'Retours des organismes' });
const returnRows = (page: Page) => panel(page).getByRole('table', { name: 'Derniers retours' }).locator('tbody tr');

/** « Relever les retours » until `selector` matches a row of the returns (the relay reads its mailbox every 10 s). */
async function pickUpUntil(page: Page, selector: string, count = 1): Promise<void> {
  const button = panel(page).getByRole('button', { name: 'Relever les retours' });
  const deadline = Date.now() + 60_000;
  while ((await returnRows(page).and(page.locator(selector)).count()) < count) {
    if (Date.now() > deadline) throw new Error(`pickUpUntil: no ${count} × ${selector} after 60 s; rows: ${(await returnRows(page).allTextContents()).join(' | ')}`);
    await expect.poll(() => button.isEnabled(), POLL).toBe(true);
    await button.click();
    await page.waitForTimeout(1_000);
  }
}

/** The messages the insurer's test mailbox received with `subject`, and their attachment opened by OpenSSL with `key`/`cert`. */
function openedAt(s: Station, subject: string, key: string, cert: string): Buffer {
  const inbox = join(s.dir, 'demo', 'peer-mail', AMO);
  const received = readdirSync(inbox).map((f) => readFileSync(join(inbox, f))).filter((m) => m.toString('latin1').includes(`Subject: ${subject}`));
  expect(received).toHaveLength(1);
  const p7 = join(s.dir, `${subject.replace(/\W/g, '_')}.p7`);
  writeFileSync(p7, parseMessage(new Uint8Array(received[0]!)).attachment);
  return execFileSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'der', '-in', p7, '-inkey', key, '-recip', cert], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A message into the practitioner's embedded mailbox, as a mail server delivers into a Maildir. */
function deliver(s: Station, bytes: string): void {
  const box = join(s.dir, 'demo', 'mailboxes', 'demo');
  for (const d of ['tmp', 'new', 'cur']) mkdirSync(join(box, d), { recursive: true });
  const name = `${Date.now()}.${Math.random().toString(16).slice(2)}.test`;
  writeFileSync(join(box, 'tmp', name), bytes);
  renameSync(join(box, 'tmp', name), join(box, 'new', name));
}

function messageIdOf(s: Station, subject: string): string {
  const inbox = join(s.dir, 'demo', 'peer-mail', AMO);
  const m = readdirSync(inbox).map((f) => readFileSync(join(inbox, f))).find((x) => x.toString('latin1').includes(`Subject: ${subject}`))!;
  return parseMessage(new Uint8Array(m)).messageId!;
}

describe('returns in the page (npm start’s embedded defaults, the simulated insurer front end)', () => {
  it('40050: the signer verified by the trust store, its certificate integrated, the same file re-emitted for it; then the ARL and the RSP payment, reconciled', async () => {
    const s = await station('revoke-old');
    const { page } = s;
    const first = await billAndTransmit(s, true);

    await pickUpUntil(page, '[data-kind="service"][data-status="applied"]');
    const service = returnRows(page).and(page.locator('[data-kind="service"]')).first();
    expect(await service.textContent()).toContain('Message de service 40050 (flux rejeté : le frontal n’a pas pu le déchiffrer) : certificat intégré, flux réémis à l’identique');
    expect(await service.textContent()).toContain(`Certificat de ${AMO} intégré au magasin.`);

    // The re-emission: a second message, the same subject but for its compostage, delivered.
    const outbox = page.getByRole('region', { name: 'Télétransmission' }).getByRole('table', { name: 'Boîte d’envoi' }).locator('tbody tr');
    await expect.poll(() => outbox.count(), POLL).toBe(2);
    await expect.poll(() => outbox.evaluateAll((trs) => trs.map((t) => t.getAttribute('data-state'))), POLL).toEqual(['delivered', 'delivered']);
    const subjects = (await outbox.locator('th').allTextContents()).map((x) => x.trim());
    const second = subjects.find((x) => x !== first)!;
    expect(second.replace(/\/\d{19}\//, '/')).toBe(first.replace(/\/\d{19}\//, '/'));

    // At the insurer's: the first for the revoked certificate, the second for the new one; the same file.
    const recipients = join(s.dir, 'demo', 'recipients');
    const keys = join(s.dir, 'demo', 'front-end-keys');
    const before = openedAt(s, first, join(recipients, `${AMO}.key`), join(recipients, `${AMO}.pem`));
    const after = openedAt(s, second, join(keys, `${AMO}.key`), join(keys, `${AMO}.pem`));
    expect(before.subarray(0, 64).toString('latin1')).toContain('TELETRANS-SSV-SIM');
    expect(after.equals(before)).toBe(true);

    // The ARL of the re-emitted flow, then the RSP: the invoice paid what the AMO owes.
    await pickUpUntil(page, '[data-kind="arl"][data-status="applied"]');
    await pickUpUntil(page, '[data-kind="rsp"][data-status="applied"]');
    expect(await returnRows(page).and(page.locator('[data-kind="arl"]')).first().textContent()).toMatch(/ARL positif du fichier .+ : 1 lot accepté/);
    await expect.poll(() => page.locator('.list tbody tr').first().getAttribute('data-status'), POLL).toBe('paid');
    const payments = panel(page).getByRole('table', { name: 'Paiements en tiers payant' }).locator('tbody tr');
    await expect.poll(() => payments.count(), POLL).toBe(1);
    const [owed, paid] = await payments.first().locator('td.num').allTextContents();
    expect(owed).toMatch(/^\d+,\d{2} €$/);
    expect(paid).toBe(owed);
    expect(await payments.first().textContent()).toMatch(/payé le \d{2}\/\d{2}\/\d{4}/);
    const totals = (await panel(page).getByLabel('Tiers payant : rapprochement').textContent())!;
    expect(totals).toContain(`Dû par les organismes${owed}`);
    expect(totals).toContain('En attente0,00 €');
    // Nothing to send again.
    expect(await panel(page).getByRole('table', { name: 'Lots à retransmettre' }).count()).toBe(0);

    expect(await axe(page)).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'facturer-returns.png'), fullPage: true });
  }, 240_000);

  it('40150: the flow read and acknowledged, the newer certificate integrated; the next flow is encrypted for it and brings no warning', async () => {
    const s = await station('rotate');
    const { page } = s;
    const first = await billAndTransmit(s, false);
    await pickUpUntil(page, '[data-kind="service"][data-status="applied"]');
    await pickUpUntil(page, '[data-kind="arl"][data-status="applied"]');
    const service = returnRows(page).and(page.locator('[data-kind="service"]'));
    expect(await service.first().textContent()).toContain('Message de service 40150 (un certificat plus récent du destinataire existe) : certificat intégré pour les prochains envois');
    await expect.poll(() => page.locator('.list tbody tr').first().getAttribute('data-status'), POLL).toBe('acknowledged');

    // The next invoice: encrypted for the newer certificate (OpenSSL opens it with that key only).
    const second = await billAndTransmit(s, false, 1);
    const recipients = join(s.dir, 'demo', 'recipients');
    const keys = join(s.dir, 'demo', 'front-end-keys');
    expect(openedAt(s, first, join(recipients, `${AMO}.key`), join(recipients, `${AMO}.pem`)).subarray(0, 64).toString('latin1')).toContain('TELETRANS-SSV-SIM');
    expect(openedAt(s, second, join(keys, `${AMO}.key`), join(keys, `${AMO}.pem`)).subarray(0, 64).toString('latin1')).toContain('TELETRANS-SSV-SIM');
    expect(() => openedAt(s, second, join(recipients, `${AMO}.key`), join(recipients, `${AMO}.pem`))).toThrow();
    await pickUpUntil(page, '[data-kind="arl"][data-status="applied"]', 2);
    expect(await service.count()).toBe(1);
  }, 240_000);

  it('a lost ARL: awaited, then late and to retransmit by its last day (the page’s clock moved on), then past it; « Retransmettre » and it is awaited anew', async () => {
    const s = await station('mute');
    const { page } = s;
    await s.context.clock.install();
    await billAndTransmit(s, false);
    const today = await page.evaluate(() => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(new Date()));
    const due = arlDueDate(today);
    const last = retransmitBy({ sentDate: today });
    const nextDay = (iso: string): string => new Date(Date.parse(`${iso}T12:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    const fr = (iso: string): string => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;
    const day = page.getByRole('region', { name: 'Ma journée' });
    const awaiting = day.getByRole('table', { name: 'Lots envoyés sans accusé de réception (ARL)' }).locator('tbody tr');
    const toResend = day.getByRole('table', { name: 'Lots à retransmettre (même fichier, nouveau compostage)' }).locator('tbody tr');
    /** The home page at `date` 10:00 in Paris (the page's clock only: the relay keeps its own). */
    const homeAt = async (date: string | null): Promise<void> => {
      if (date) await page.clock.setSystemTime(new Date(`${date}T10:00:00+01:00`));
      await page.getByRole('banner').getByRole('link', { name: 'Teletrans' }).click();
      await page.waitForURL(`${s.app.url}/`);
    };
    await homeAt(null);
    await expect.poll(() => awaiting.count(), POLL).toBe(1);
    expect(await awaiting.first().textContent()).toMatch(new RegExp(`^FSE n° \\d{6}${fr(due)}${fr(last)}$`));
    expect(await toResend.count()).toBe(0);

    // The day after the ARL was due: late, to retransmit by its last day.
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await homeAt(nextDay(due));
    await expect.poll(() => toResend.count(), POLL).toBe(1);
    expect(await toResend.first().textContent()).toMatch(new RegExp(`^FSE n° \\d{6}ARL non reçu à temps${fr(last)}$`));
    expect(await awaiting.count()).toBe(0); // listed once: with the lots to retransmit
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'home-arl-late.png'), fullPage: true });

    // Past its last day: said so.
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await homeAt(nextDay(last));
    await expect.poll(() => toResend.first().textContent(), POLL).toContain('délai dépassé');
    expect(await day.getByRole('alert', { name: 'Délais' }).textContent()).toContain('1 lot hors du délai de retransmission');
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'home-arl-past.png'), fullPage: true });
    expect(await axe(page)).toEqual([]);

    // Sent again from « Facturer » (the session may have locked meanwhile: the PIN).
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await page.waitForURL(`${s.app.url}/facturer`);
    const pin = page.getByRole('dialog', { name: 'Session verrouillée' }).getByLabel('Code porteur de la CPS');
    if (await pin.isVisible().catch(() => false)) {
      await pin.fill('1234');
      await pin.press('Enter');
    }
    const resend = panel(page).getByRole('table', { name: 'Lots à retransmettre' }).locator('tbody tr');
    await expect.poll(() => resend.count(), POLL).toBe(1);
    expect(await resend.first().textContent()).toContain('ARL non reçu à temps');
    await resend.first().getByRole('button', { name: 'Retransmettre' }).click();
    const outbox = page.getByRole('region', { name: 'Télétransmission' }).getByRole('table', { name: 'Boîte d’envoi' }).locator('tbody tr');
    await expect.poll(() => outbox.count(), POLL).toBe(2);
    // Back to the relay's time (its session's expiry is in real time), and the network « back »: it leaves.
    await page.clock.setSystemTime(new Date());
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await expect.poll(() => outbox.evaluateAll((trs) => trs.map((t) => t.getAttribute('data-state'))), POLL).toEqual(['delivered', 'delivered']);
    await expect.poll(() => resend.count(), POLL).toBe(0);
    await homeAt(null);
    await expect.poll(() => awaiting.count(), POLL).toBe(1);
    expect(await toResend.count()).toBe(0);
  }, 240_000);

  it('a forged « 40150 » is shown as not verified and changes nothing; a DSN puts the lot to retransmit, and « Retransmettre » sends the same file again', async () => {
    const s = await station('lose-arl');
    const { page } = s;
    const subject = await billAndTransmit(s, false);
    const messageId = messageIdOf(s, subject);

    // Unsigned, from the AMO's mailbox, about our message: a « service message » nobody vouches for.
    deliver(s, `From: ${AMO}\r\nTo: ${PRACTITIONER}\r\nSubject: 40150 Re: ${subject}\r\nMessage-ID: <forged.40150@attacker.test>\r\nIn-Reply-To: ${messageId}\r\nDate: Sun, 6 Dec 2026 14:31:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n40150 Un certificat plus récent existe.\r\n`);
    await pickUpUntil(page, '[data-kind="service"][data-status="unverified"]');
    const forged = returnRows(page).and(page.locator('[data-kind="service"]')).first();
    expect(await forged.textContent()).toContain('Message de service 40150 NON VÉRIFIÉ');
    expect(await forged.textContent()).toContain('non vérifié : ignoré');
    // Whatever its signature, a 40150 asks the directory for the AMO's certificate (§5).
    expect(await forged.textContent()).toMatch(/Certificat de amo_pj\.test@test\.rss\.fr redemandé à l’annuaire\.|Aucune source d’annuaire pour amo_pj\.test@test\.rss\.fr/);
    // Read again (after installing a CA, say): still not verified, still nothing done.
    await forged.getByRole('button', { name: 'Vérifier de nouveau' }).click();
    await expect.poll(() => panel(page).locator('.message').textContent(), POLL).toBe('Toujours non vérifié : voir le détail du retour.');
    expect(await panel(page).getByRole('table', { name: 'Lots à retransmettre' }).count()).toBe(0);

    // The insurer's server gives up on the message: 5.1.1.
    deliver(s,
      `From: MAILER-DAEMON@test.rss.fr\r\nTo: ${PRACTITIONER}\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn.1@test.rss.fr>\r\nMIME-Version: 1.0\r\n` +
        `Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\nNon remis.\r\n` +
        `--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; test.rss.fr\r\n\r\nFinal-Recipient: rfc822; ${AMO}\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 unknown\r\n\r\n` +
        `--r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: ${messageId}\r\nSubject: ${subject}\r\n\r\n--r--\r\n`);
    await pickUpUntil(page, '[data-kind="dsn"][data-status="applied"]');
    expect(await returnRows(page).and(page.locator('[data-kind="dsn"]')).first().textContent()).toContain('Avis de non-remise (5.1.1) : échec définitif : boîte aux lettres du destinataire inconnue');
    const resend = panel(page).getByRole('table', { name: 'Lots à retransmettre' }).locator('tbody tr');
    await expect.poll(() => resend.count(), POLL).toBe(1);
    expect(await resend.first().textContent()).toMatch(/^FSE n° \d{6}non remis — 5\.1\.1dès que possible/);
    expect(await axe(page)).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'facturer-returns-dsn.png'), fullPage: true });
    // The home page says it too, without naming a patient.
    await page.getByRole('banner').getByRole('link', { name: 'Teletrans' }).click();
    await page.waitForURL(`${s.app.url}/`);
    const day = page.getByRole('region', { name: 'Ma journée' });
    const home = day.getByRole('table', { name: 'Lots à retransmettre (même fichier, nouveau compostage)' }).locator('tbody tr');
    await expect.poll(() => home.count(), POLL).toBe(1);
    expect(await home.first().textContent()).toMatch(/^FSE n° \d{6}message non remis — 5\.1\.1dès que possible$/);
    expect(await day.textContent()).not.toMatch(/DOMINIQUE|FICTIF/);
    expect(await axe(page)).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'home-returns.png'), fullPage: true });
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await page.waitForURL(`${s.app.url}/facturer`);

    await resend.first().getByRole('button', { name: 'Retransmettre' }).click();
    await expect.poll(() => panel(page).locator('.message').textContent(), POLL).toMatch(/^Lot FSE n° \d{6} : le même fichier, avec un nouveau compostage, est en boîte d’envoi\.$/);
    const outbox = page.getByRole('region', { name: 'Télétransmission' }).getByRole('table', { name: 'Boîte d’envoi' }).locator('tbody tr');
    await expect.poll(() => outbox.count(), POLL).toBe(2);
    await expect.poll(() => outbox.evaluateAll((trs) => trs.map((t) => t.getAttribute('data-state'))), POLL).toEqual(['delivered', 'delivered']);
    await expect.poll(() => resend.count(), POLL).toBe(0);
    const again = (await outbox.locator('th').allTextContents()).map((x) => x.trim()).find((x) => x !== subject)!;
    const recipients = join(s.dir, 'demo', 'recipients');
    const key = join(recipients, `${AMO}.key`);
    const cert = join(recipients, `${AMO}.pem`);
    expect(openedAt(s, again, key, cert).equals(openedAt(s, subject, key, cert))).toBe(true);
  }, 240_000);
});
