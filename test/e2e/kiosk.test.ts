/**
 * Kiosk mode on one device and one browser profile (issue 16, Tests), on the production build in
 * Chromium through the real card stack: the bridge on pcscd with the vsmartcard vpcd reader
 * (slot 0 the practitioners' and the front desk's cards in turn, slot 1 a Vitale card), cards of
 * the demo PKI of `npm start`.
 *
 * Practitioner A names themself and the front desk's CPE administrators and turns kiosk mode on;
 * bills a patient; pulls the card: the document is replaced at once (nothing of A in the DOM, a
 * fresh JavaScript realm), the welcome screen says nothing of anyone. Practitioner B inserts and
 * types the PIN: B's session only, none of A's invoices, the device's settings refused to B (not
 * an administrator), journaled. The CPE: its role said; no way out (links to other sites,
 * downloads, new windows refused in the page); it prepares an invoice for A and cannot sign it;
 * A finds it to sign and signs it. A's card renewed (new keys): nothing of A's until the CPE, as
 * administrator, gives the records back from its escrow; then all of them under the new card.
 * Last, the profile's files on disk hold no name nor NIR of the patients billed. pcscd and vpcd
 * are required: nothing is skipped.
 */
import { createRequire } from 'node:module';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AxeResults } from 'axe-core';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCps, makeVitale, type TestPki } from '../../bridge/cards/profiles.js';
import { VpcdInsertion } from '../../bridge/cards/vpcd.js';
import type { VirtualCard } from '../../bridge/cards/card.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import { BRIDGE_URL_KEY } from '../../src/lib/client/card/bridge-instance.js';
import { readDemoPki } from '../../src/lib/server/demo-pki.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../browser/harness.js';
import { pageApprover, stateDir, waitFor } from '../bridge/helpers.js';
import { pcscAvailable, startPcscd, PCSCD, VPCD_DRIVER, type Pcscd } from '../bridge/pcscd.js';
import { buildApp, startApp, type PrivateBuild, type RunningApp } from './app-server.js';
import { pairAndSignIn } from './practitioner.js';

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core');
const POLL = { timeout: 30_000, interval: 100 };
const SHOTS = process.env.TELETRANS_SCREENSHOTS;
const EVENT_MS = 30_000;
/** What the patients billed here are called and numbered: none of it may be found after. */
const PATIENT = ['DOMINIQUE', '180059999900135', '1800599999'];

describe('kiosk mode: the card is the session (pcscd + vpcd, one browser profile)', () => {
  let build: PrivateBuild;
  let app: RunningApp;
  let pcscd: Pcscd;
  let bridge: Bridge;
  let cardPki: TestPki;
  let slot0: VpcdInsertion | null = null;
  let vitale: VpcdInsertion | null = null;
  let dir: string;
  let context: BrowserContext | undefined;
  let page: Page;
  let doctor: VirtualCard;
  let doctorRpps: string;
  let desk: VirtualCard;
  let deskId: string;

  beforeAll(async () => {
    if (!pcscAvailable()) throw new Error(`kiosk.test: ${PCSCD} or ${VPCD_DRIVER} missing; run scripts/install-system-deps.sh (the real PC/SC peer is required)`);
    dir = mkdtempSync(join(tmpdir(), 'teletrans-e2e-kiosk-'));
    build = await buildApp();
    app = await startApp(build.server, { TELETRANS_RELAY_DEMO_DIR: join(dir, 'demo'), BODY_SIZE_LIMIT: '16M', TELETRANS_DEMO_FRONT_END: 'mute' });
    const pki = await readDemoPki(join(dir, 'demo'));
    cardPki = { rootDer: pki.igcRoot.der, caDer: pki.igcCa.der, caKey: pki.igcCa.key };
    pcscd = await startPcscd();
    bridge = await startBridge({ port: 0, stateDir: await stateDir(), allowedOrigins: [app.url], approve: pageApprover(() => page) });
    await waitFor(() => bridge.transport.readers().length === 2, EVENT_MS);
    const made = await makeCps(cardPki);
    doctor = made.card;
    doctorRpps = made.data.rpps;
    const cpe = await makeCps(cardPki, { profession: 'assistant' });
    desk = cpe.card;
    deskId = cpe.data.rpps;
    await insert(doctor);
    vitale = new VpcdInsertion((await makeVitale(cardPki)).card, pcscd.port + 1);
    await vitale.insert();
    await waitFor(() => bridge.transport.readers().some((r) => r.name === pcscd.readers[1] && r.present), EVENT_MS);
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true, bypassCSP: true, viewport: { width: 1366, height: 900 }, locale: 'fr-FR', timezoneId: 'Europe/Paris',
    });
    await context.addInitScript(([key, url]) => localStorage.setItem(key, url), [BRIDGE_URL_KEY, bridge.url] as const);
    page = context.pages()[0] ?? (await context.newPage());
  }, 600_000);

  afterAll(async () => {
    await context?.close();
    vitale?.remove();
    slot0?.remove();
    await bridge?.close();
    await pcscd?.stop();
    await app?.stop();
    build?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function insert(card: VirtualCard): Promise<void> {
    slot0 = new VpcdInsertion(card, pcscd.port);
    await slot0.insert();
    await waitFor(() => bridge.transport.readers().some((r) => r.name === pcscd.readers[0] && r.present), EVENT_MS);
  }

  async function pull(): Promise<void> {
    slot0?.remove();
    slot0 = null;
    await waitFor(() => bridge.transport.readers().some((r) => r.name === pcscd.readers[0] && !r.present), EVENT_MS);
  }

  const welcome = () => page.getByRole('dialog', { name: 'Poste partagé' });
  const bar = () => page.getByRole('region', { name: 'Session du praticien' });

  /** At the welcome screen: the PIN of the card just inserted, then the session bar. */
  async function signInAtWelcome(): Promise<void> {
    const pin = welcome().getByLabel('Code porteur de la CPS');
    await expect.poll(() => pin.isVisible(), POLL).toBe(true);
    await pin.fill('1234');
    await pin.press('Enter');
    await expect.poll(() => bar().isVisible(), POLL).toBe(true);
  }

  async function axe(): Promise<string[]> {
    await page.addScriptTag({ path: AXE_PATH });
    const results = await page.evaluate(() => (window as unknown as { axe: { run(c: Document, o: object): Promise<AxeResults> } }).axe.run(document, { resultTypes: ['violations'] }));
    return results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }

  it('practitioner A, on a personal workstation, names themself administrator and turns kiosk mode on', async () => {
    await pairAndSignIn(page, app.url, '999000001');
    await page.getByRole('navigation').getByRole('link', { name: 'Poste' }).click();
    await page.waitForURL(`${app.url}/poste`);
    await expect.poll(() => page.getByTestId('device-actor').textContent(), POLL).toContain('vous pouvez modifier ces réglages');
    // Kiosk mode first: refused without a named administrator.
    await page.getByLabel('Mode kiosque sur ce poste').check();
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'administrateur désigné' }).isVisible(), POLL).toBe(true);
    await page.getByRole('button', { name: 'Désigner ma carte comme administratrice' }).click();
    await expect.poll(() => page.getByRole('list', { name: 'Administrateurs désignés' }).textContent(), POLL).toContain('(la vôtre)');
    // The front desk's card too: the structure's administrator, who can give a renewed card its records.
    await page.getByLabel('Ajouter un administrateur (identifiant de sa carte)').fill(deskId);
    await page.getByRole('button', { name: 'Ajouter', exact: true }).click();
    await expect.poll(() => page.getByRole('list', { name: 'Administrateurs désignés' }).textContent(), POLL).toContain(`Carte ${deskId}`);
    await page.getByLabel('Mode kiosque sur ce poste').check();
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Mode kiosque activé.' }).isVisible(), POLL).toBe(true);
    expect(await page.evaluate(() => document.documentElement.dataset['kiosk'])).toBe('');
    expect(await page.evaluate(() => document.querySelector('link[rel="manifest"]')?.getAttribute('href'))).toBe('/kiosk.webmanifest');
    expect(await axe()).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'poste.png'), fullPage: true });
  }, 180_000);

  it('A bills a patient, then pulls the card: the document replaced at once, the welcome screen names no one', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await page.waitForURL(`${app.url}/facturer`);
    const group = page.getByRole('group', { name: /^Bénéficiaire/ });
    await expect.poll(() => group.textContent(), POLL).toContain('DOMINIQUE FICTIF');
    await group.getByRole('radio').first().check();
    const search = page.getByLabel('Ajouter un acte (code ou mots du libellé)');
    await search.fill('G');
    await search.press('Enter');
    await expect.poll(() => page.locator('[data-amount="fee"]').count(), POLL).toBe(1);
    await search.press('Control+Enter');
    await expect.poll(() => page.locator('.invoice .outcome').textContent(), POLL).toMatch(/^Facture n° \d+ signée\.$/);
    expect(await page.content()).toContain('DOMINIQUE');
    // A value only this document's JavaScript holds: gone if the document is.
    await page.evaluate(() => ((window as unknown as { kioskProbe: string }).kioskProbe = 'A'));

    await pull();
    await expect.poll(() => welcome().isVisible(), POLL).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { kioskProbe?: string }).kioskProbe)).toBeUndefined();
    expect(new URL(page.url()).pathname).toBe('/');
    const html = await page.content();
    for (const s of [...PATIENT, 'CAMILLE', 'FICTIF-TEST', doctorRpps]) expect(html).not.toContain(s);
    // The pages behind the welcome are neither shown nor reachable.
    expect(await page.locator('.app').getAttribute('hidden')).not.toBeNull();
    expect(await welcome().textContent()).toContain('Insérez votre carte (CPS ou CPE)');
    expect(await axe()).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'kiosque-accueil.png') });
  }, 180_000);

  it('practitioner B: their own session only, nothing of A; B bills; the device’s settings and trust store refused and journaled', async () => {
    await insert((await makeCps(cardPki, { profession: 'nurse' })).card);
    await signInAtWelcome();
    expect(await bar().textContent()).toContain('ALEX FICTIF-SOINS');
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await page.waitForURL(`${app.url}/facturer`);
    const list = page.getByRole('region', { name: 'Factures' });
    await expect.poll(() => list.textContent(), POLL).toContain('Aucune facture enregistrée');
    expect(await page.content()).not.toContain('CAMILLE');
    // B bills: an AMI on prescription for the household's third beneficiary.
    await bar().getByLabel('Situation de facturation').selectOption('999000001');
    const group = page.getByRole('group', { name: /^Bénéficiaire/ });
    await expect.poll(() => group.textContent(), POLL).toContain('ALEX FICTIF');
    await group.getByRole('radio').nth(2).check();
    const search = page.getByLabel('Ajouter un acte (code ou mots du libellé)');
    await search.fill('AMI');
    await search.press('Enter');
    const prescriber = page.getByRole('group', { name: /^Prescripteur/ });
    await prescriber.getByLabel('N° RPPS ou Assurance Maladie').fill('10000000009');
    await prescriber.getByLabel('Nom').fill('BERNARD');
    const today = await page.evaluate(() => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(new Date()));
    await prescriber.getByLabel('Date de la prescription').fill(new Date(Date.parse(`${today}T12:00:00Z`) - 3 * 86_400_000).toISOString().slice(0, 10));
    await expect.poll(() => page.locator('[data-amount="fee"]').count(), POLL).toBe(1);
    await search.press('Control+Enter');
    await expect.poll(() => page.locator('.invoice .outcome').textContent(), POLL).toMatch(/^Facture n° \d+ signée\.$/);
    await expect.poll(() => list.locator('tbody tr').count(), POLL).toBe(1);
    expect(await list.textContent()).toContain('ALEX FICTIF');
    expect(await list.textContent()).not.toContain('DOMINIQUE');

    await page.getByRole('navigation').getByRole('link', { name: 'Poste' }).click();
    await page.waitForURL(`${app.url}/poste`);
    await expect.poll(() => page.getByTestId('device-actor').textContent(), POLL).toContain('vous ne pouvez pas modifier ces réglages');
    await page.getByLabel('Mode kiosque sur ce poste').uncheck();
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'Seul un administrateur de ce poste' }).isVisible(), POLL).toBe(true);
    expect(await page.getByLabel('Mode kiosque sur ce poste').isChecked()).toBe(true);
    // What the device trusts is the administrators' too: B cannot remove an insurer's certificate.
    await page.getByRole('navigation').getByRole('link', { name: 'Certificats' }).click();
    const recipients = page.getByRole('list', { name: 'Certificats des destinataires' }).locator(':scope > li');
    await expect.poll(() => recipients.count(), POLL).toBeGreaterThan(0);
    const before = await recipients.count();
    await recipients.first().getByRole('button', { name: /^Supprimer le certificat de / }).click();
    await recipients.first().getByRole('button', { name: /^Confirmer : supprimer le certificat de / }).click();
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'Seul un administrateur de ce poste peut gérer les certificats du poste.' }).isVisible(), POLL).toBe(true);
    expect(await recipients.count()).toBe(before);
    // Still a kiosk; the refusals in the journal, by B's card identifier.
    await page.getByRole('link', { name: 'Journal d’audit' }).click();
    await expect.poll(() => page.locator('body').textContent(), POLL).toContain('Action refusée (rôle de la carte)');
    expect(await page.locator('body').textContent()).toContain('Carte 19999990617');
    expect(await page.evaluate(() => document.documentElement.dataset['kiosk'])).toBe('');

    await pull();
    await expect.poll(() => welcome().isVisible(), POLL).toBe(true);
    expect(await page.content()).not.toContain('FICTIF-SOINS');
  }, 180_000);

  it('the front desk’s CPE, named administrator: its role said, the settings open to it; no way out of the page', async () => {
    await insert(desk);
    await signInAtWelcome();
    expect(await bar().textContent()).toContain('accueil : prépare les factures, ne signe pas');
    await page.getByRole('navigation').getByRole('link', { name: 'Poste' }).click();
    await page.waitForURL(`${app.url}/poste`);
    // Named administrator: it may change the device's settings, and still signs nothing.
    await expect.poll(() => page.getByTestId('device-actor').textContent(), POLL).toContain('Carte de structure (accueil)');
    expect(await page.getByTestId('device-actor').textContent()).toContain('vous pouvez modifier ces réglages');

    // A link to another site, a download, a new window: refused, the page stays.
    const here = page.url();
    await page.evaluate(() => {
      const add = (html: string) => document.querySelector('main')!.insertAdjacentHTML('beforeend', html);
      add('<a id="out" href="https://example.org/">ailleurs</a>');
      add('<a id="dl" href="/favicon.svg" download="x.svg">télécharger</a>');
      add('<a id="blank" href="/facturer" target="_blank">nouvelle fenêtre</a>');
    });
    for (const id of ['#out', '#dl', '#blank']) {
      await page.locator(id).click();
      await expect.poll(() => page.getByRole('alert').filter({ hasText: 'Sur ce poste partagé' }).isVisible(), POLL).toBe(true);
      expect(page.url()).toBe(here);
    }
    expect(context!.pages()).toHaveLength(1);
    expect(await page.evaluate(() => window.open('https://example.org/') === null)).toBe(true);
    // A download made by the app's code (a detached link clicked) is refused too.
    await page.evaluate(() => {
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob(['x']));
      a.download = 'journal.jsonl';
      a.click();
    });
    expect(context!.pages()).toHaveLength(1);
    // The app's own links still go.
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await page.waitForURL(`${app.url}/facturer`);
  }, 180_000);

  it('the CPE prepares an invoice for A and cannot sign it; A finds it to sign at the next session and signs it', async () => {
    const forWhom = page.getByLabel('Praticien', { exact: true });
    await expect.poll(() => forWhom.isVisible(), POLL).toBe(true);
    // A and B opened sessions here, both in the cabinet: the CPE's structure.
    expect(await forWhom.locator('option').count()).toBe(3);
    await forWhom.selectOption(`${doctorRpps}|999000001`);
    // Another member of the household than A's patient this morning (the same G the same day
    // would be a duplicate, which A's opening refuses, as it would A's own).
    const group = page.getByRole('group', { name: /^Bénéficiaire/ });
    await expect.poll(() => group.textContent(), POLL).toContain('SACHA FICTIF');
    await group.getByRole('radio').nth(1).check();
    const search = page.getByLabel('Ajouter un acte (code ou mots du libellé)');
    await search.fill('G');
    await search.press('Enter');
    await expect.poll(() => page.locator('[data-amount="fee"]').count(), POLL).toBe(1);
    // No signature from this card: the one action prepares, Ctrl+Entrée too.
    expect(await page.getByRole('button', { name: 'Signer la facture' }).count()).toBe(0);
    await search.press('Control+Enter');
    await expect.poll(() => page.locator('.invoice .outcome').textContent(), POLL).toBe(`Facture préparée pour le praticien (RPPS ${doctorRpps}) : elle l’attend à signer à sa prochaine session sur ce poste.`);
    const waiting = page.getByRole('list', { name: 'Factures préparées en attente' });
    await expect.poll(() => waiting.locator('li').count(), POLL).toBe(1);
    expect(await waiting.textContent()).toContain(`Pour RPPS ${doctorRpps}, structure n° 999000001`);
    // The CPE's own invoices list and transmission are not offered; nothing of A's shows.
    expect(await page.getByRole('region', { name: 'Télétransmission' }).count()).toBe(0);
    expect(await axe()).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'kiosque-accueil-prepare.png'), fullPage: true });
    await pull();
    await expect.poll(() => welcome().isVisible(), POLL).toBe(true);

    await insert(doctor);
    await signInAtWelcome();
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await page.waitForURL(`${app.url}/facturer`);
    await expect.poll(() => page.getByRole('status').filter({ hasText: '1 facture préparée par l’accueil ajoutée à vos factures à signer.' }).isVisible(), POLL).toBe(true);
    const list = page.getByRole('region', { name: 'Factures' });
    const rows = list.locator('tbody tr');
    await expect.poll(() => rows.evaluateAll((trs) => trs.map((t) => t.getAttribute('data-status'))), POLL).toEqual(['to_sign', 'signed']);
    expect(await rows.first().textContent()).toContain('SACHA FICTIF');
    await list.getByRole('button', { name: 'Signer la sélection (1)' }).click();
    await expect.poll(() => list.locator('.message').textContent(), POLL).toBe('1 facture signée.');
    expect(await rows.evaluateAll((trs) => trs.map((t) => t.getAttribute('data-status')))).toEqual(['signed', 'signed']);
    await pull();
    await expect.poll(() => welcome().isVisible(), POLL).toBe(true);
  }, 240_000);

  it('A’s card renewed: nothing of A’s until the administrator (the CPE) gives it back; then all of it, under the new card', async () => {
    const renewed = (await makeCps(cardPki)).card; // the same holder, new keys
    await insert(renewed);
    await signInAtWelcome();
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await page.waitForURL(`${app.url}/facturer`);
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Carte renouvelée : vos factures enregistrées sur ce poste avec l’ancienne carte reviendront' }).isVisible(), POLL).toBe(true);
    const list = page.getByRole('region', { name: 'Factures' });
    await expect.poll(() => list.textContent(), POLL).toContain('Aucune facture enregistrée');
    await pull();
    await expect.poll(() => welcome().isVisible(), POLL).toBe(true);

    await insert(desk);
    await signInAtWelcome();
    await page.getByRole('navigation').getByRole('link', { name: 'Poste' }).click();
    await page.waitForURL(`${app.url}/poste`);
    const waiting = page.getByRole('list', { name: 'Cartes renouvelées en attente' });
    await expect.poll(() => waiting.textContent(), POLL).toContain(`RPPS ${doctorRpps}`);
    await waiting.getByRole('button', { name: 'Rétablir ses factures' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: `Factures de la carte renouvelée (RPPS ${doctorRpps}) rétablies` }).isVisible(), POLL).toBe(true);
    expect(await page.content()).not.toContain('SACHA');
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'poste-carte-renouvelee.png'), fullPage: true });
    await pull();
    await expect.poll(() => welcome().isVisible(), POLL).toBe(true);

    await insert(renewed);
    await signInAtWelcome();
    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await page.waitForURL(`${app.url}/facturer`);
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Carte renouvelée : vos 2 factures enregistrées avec l’ancienne carte sont rétablies.' }).isVisible(), POLL).toBe(true);
    const rows = page.getByRole('region', { name: 'Factures' }).locator('tbody tr');
    await expect.poll(() => rows.evaluateAll((trs) => trs.map((t) => t.getAttribute('data-status'))), POLL).toEqual(['signed', 'signed']);
    expect(await page.getByRole('region', { name: 'Factures' }).textContent()).toContain('SACHA FICTIF');
    await pull();
    await expect.poll(() => welcome().isVisible(), POLL).toBe(true);
  }, 240_000);

  it('the profile’s files on disk hold no name, NIR or amount of the patients billed (and a marker written in clear is found: the search sees the values)', async () => {
    // The control: a value written in clear, as a record would be if it were not sealed.
    await page.evaluate(
      () =>
        new Promise<void>((resolve, reject) => {
          const req = indexedDB.open('disk-probe', 1);
          req.onupgradeneeded = () => req.result.createObjectStore('probe');
          req.onsuccess = () => {
            const tx = req.result.transaction('probe', 'readwrite');
            tx.objectStore('probe').put({ marker: 'SONDE-EN-CLAIR-7QX', padding: crypto.randomUUID().repeat(8) }, 1);
            tx.oncomplete = () => (req.result.close(), resolve());
            tx.onerror = () => reject(tx.error);
          };
          req.onerror = () => reject(req.error);
        }),
    );
    await context!.close();
    context = undefined;
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(join(dir, 'profile', 'Default', 'IndexedDB'));
    expect(files.length).toBeGreaterThan(0);
    const found = (s: string): string[] =>
      files.filter((f) => {
        const bytes = readFileSync(f);
        return bytes.includes(Buffer.from(s, 'latin1')) || bytes.includes(Buffer.from(s, 'utf16le'));
      });
    expect(found('SONDE-EN-CLAIR-7QX').length).toBeGreaterThan(0);
    // Names and NIRs of both patients, and what G was billed at as the page writes it (30,00 €).
    // Not « 3000 »: the clear trace the practitioner keeps (compostages, times) holds such digits.
    const hits = [...PATIENT, 'SACHA', '30,00'].flatMap((s) => found(s).map((f) => `${f}: ${s}`));
    expect(hits).toEqual([]);
  }, 60_000);
});
