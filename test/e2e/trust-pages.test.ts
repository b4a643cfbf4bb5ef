/**
 * End-to-end: the « Certificats » pages (trust store home, audit journal) on the production
 * build served by `node build`, in Chromium.
 *
 * Imports the test hierarchy, a CRL and two recipient certificates through the UI; « Mettre à
 * jour maintenant » fetches a newer CRL (the directory endpoint is answered by a route, in the
 * endpoint's own wire format, src/lib/trust/directory-wire.ts; test/e2e/directory-refresh.test.ts
 * goes through the real endpoint and slapd) that revokes one of them; the states, CRL dates
 * and next fetch survive a reload and an offline start; the journal is intact, exported, then
 * tampered with in IndexedDB and shown altered.
 *
 * Each page's clock starts at a chosen Paris wall time after the world was made (23:00 for the
 * first test, noon for the second): the tests mean the same whatever the hour they run.
 *
 * TELETRANS_SCREENSHOTS=<dir> saves screenshots of the pages there.
 */
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { launchChromium } from '../browser/harness';
import { encodeDirectoryError, encodeDirectoryResponse } from '../../src/lib/trust/directory-wire';
import { DAY, MAILBOX, URL as DIR, type World, makeWorld, nextParisWall, pemOf } from '../trust/world';
import { buildApp, startApp, type PrivateBuild, type RunningApp } from './app-server';
import { makeCardSet } from '../../bridge/cards/profiles';
import { startBridge, type Bridge } from '../../bridge/server';
import { SimulatedTransport } from '../../bridge/transport';
import { BRIDGE_URL_KEY } from '../../src/lib/client/card/bridge-instance';
import { pageApprover, stateDir } from '../bridge/helpers';

const SHOTS = process.env.TELETRANS_SCREENSHOTS;
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core'), 'utf8');
/** A third recipient, fetched from the directory after its address is added in the page. */
const OTHER = 'amo_pj.autre@test.rss.fr';
const OTHER_URL = `ldap://annuaire.test/cn=AC-FACTURATION-TEST,ou=AC-FACTURATION-TEST,ou=AC-SESAM-VITALE-TEST-2034,o=sesam-vitale,c=fr,cn=${OTHER}/certificate`;
const POLL = { timeout: 20_000, interval: 100 };

/** What the relay answers (the endpoint's own encoder): items, or an error with its status. */
const items = (kind: 'certificate' | 'crl', der: Uint8Array) => ({ status: 200, json: encodeDirectoryResponse([{ kind, der }]) });
const notFound = { status: 404, json: encodeDirectoryError('not_found', 'Aucune entrée ne correspond à cette adresse d’annuaire.') };
const unavailable = { status: 502, json: encodeDirectoryError('upstream_error', 'Le serveur d’annuaire n’a pas pu être joint.') };

/** A whole second (certificate and CRL times have second precision). */
const second = (ms: number) => Math.floor(ms / 1000) * 1000;

describe('« Certificats » pages (production build)', () => {
  let build: PrivateBuild;
  let app: RunningApp;
  let browser: Browser;
  let world: World;
  let crl1At: number;
  let crl2At: number;
  const files: Record<string, Buffer> = {};
  let crl2: Uint8Array;
  let other: Uint8Array;
  /** The administrator's CPS for the journal's reset (issue 24 defect 3), through a simulated bridge. */
  let bridge: Bridge;
  let approvingPage: Page | undefined;

  beforeAll(async () => {
    [build, browser, world] = await Promise.all([buildApp(), launchChromium(), makeWorld()]);
    app = await startApp(build.server);
    const sim = new SimulatedTransport();
    sim.insert(sim.readers()[0]!.name, (await makeCardSet()).cps);
    bridge = await startBridge({ port: 0, transport: sim, stateDir: await stateDir(), allowedOrigins: [app.url], approve: pageApprover(() => approvingPage!) });
    crl1At = second(world.now - 2 * 3_600_000);
    crl2At = second(world.now - 3_600_000);
    files['hierarchie-test.pem'] = Buffer.from(pemOf(world.der.testRoot) + pemOf(world.der.testInter));
    files['ac-facturation.pem'] = Buffer.from(pemOf(world.der.prodInter));
    files['ac-facturation-test.crl'] = Buffer.from(await world.crl({ ca: 'testInter', crlNumber: 1, thisUpdate: crl1At, nextUpdate: crl1At + 7 * DAY }));
    files['amo.pem'] = Buffer.from(pemOf(await world.leaf({ email: MAILBOX.amoTest, serial: 0x1001 })));
    files['amo-sans-lcr.pem'] = files['amo.pem'];
    files['amc.pem'] = Buffer.from(pemOf(await world.leaf({ email: MAILBOX.amcTest, serial: 0x1002 })));
    crl2 = await world.crl({ ca: 'testInter', crlNumber: 2, revoked: [0x1002], thisUpdate: crl2At, nextUpdate: crl2At + 7 * DAY });
    other = await world.leaf({ email: OTHER, serial: 0x1003 });
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await bridge?.close();
    await app?.stop();
    build?.remove();
  });

  /** axe-core's serious and critical findings on the page (injected through the devtools protocol: the page's CSP stays on). */
  async function axeSerious(page: Page): Promise<string[]> {
    await page.evaluate(AXE_SOURCE);
    const results = await page.evaluate(() =>
      (window as unknown as { axe: { run(c: Document, o: object): Promise<{ violations: { id: string; impact?: string; nodes: { target: string[] }[] }[] }> } }).axe.run(document, { resultTypes: ['violations'] })
    );
    return results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }

  async function shot(page: Page, name: string, fullPage = true): Promise<void> {
    if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
  }

  async function importFiles(page: Page, names: string[]): Promise<Locator> {
    const results = page.getByRole('list', { name: 'Résultat des imports' });
    const before = await results.getByRole('list').count();
    await page.locator('input[type="file"]').setInputFiles(names.map((name) => ({ name, mimeType: 'application/octet-stream', buffer: files[name]! })));
    await expect.poll(() => results.getByRole('list').count(), POLL).toBe(before + names.length);
    return results;
  }

  const recipient = (page: Page, mailbox: string) =>
    page.getByRole('list', { name: 'Certificats des destinataires' }).getByRole('listitem').filter({ has: page.getByRole('heading', { name: mailbox }) });
  const crlItem = (page: Page) => page.getByRole('list', { name: 'Listes de révocation installées' }).getByRole('listitem').first();

  /** What must survive a reload and an offline start. */
  async function storeState(page: Page) {
    const state = (mailbox: string) => recipient(page, mailbox).getAttribute('data-state');
    const crl = crlItem(page);
    return {
      amo: await state(MAILBOX.amoTest),
      amc: await state(MAILBOX.amcTest),
      other: await state(OTHER),
      amcText: (await recipient(page, MAILBOX.amcTest).innerText()).replace(/\s+/g, ' '),
      hierarchies: (await page.getByRole('region', { name: /Test \(GIE SESAM-Vitale\)/ }).innerText()).replace(/\s+/g, ' '),
      thisUpdate: await crl.locator('[data-field="thisUpdate"] time').getAttribute('datetime'),
      nextUpdate: await crl.locator('[data-field="nextUpdate"] time').getAttribute('datetime'),
      nextFetch: await crl.locator('[data-field="nextFetch"] time').getAttribute('datetime'),
      crlText: (await crl.innerText()).replace(/\s+/g, ' ')
    };
  }

  it('imports, refreshes, survives reload and offline start; the journal detects tampering', async () => {
    const context: BrowserContext = await browser.newContext({ locale: 'fr-FR', acceptDownloads: true });
    const fetched: string[] = [];
    // The relay's directory endpoint: the test CA's CRL is published (number 2), nothing else.
    await context.route('**/api/directory/fetch?**', async (route) => {
      const url = new URL(route.request().url()).searchParams.get('url') ?? '';
      fetched.push(url);
      await route.fulfill(url === DIR.testInterCrl ? items('crl', crl2) : url === OTHER_URL ? items('certificate', other) : notFound);
    });
    await context.addInitScript(([key, url]) => localStorage.setItem(key, url), [BRIDGE_URL_KEY, bridge.url] as const);
    const page = await context.newPage();
    approvingPage = page;
    // The workstation's bridge is paired first (on the real clock; nothing is blocked yet): the
    // administrator's card will authorize the journal's reset.
    await page.goto(`${app.url}/cartes`);
    await page.getByRole('button', { name: 'Appairer ce navigateur avec le pont' }).click();
    await expect.poll(() => page.getByText('Appairage réussi.').isVisible(), POLL).toBe(true);
    // 23:00 Paris: outside the automatic CRL window, so only what the practitioner asks for runs
    // (and it runs at once); time flows normally from there.
    await page.clock.install({ time: nextParisWall(world.now, 23 * 60) });
    const pageNow = (): Promise<number> => page.evaluate(() => Date.now());
    try {
      await page.goto(`${app.url}/certificats`);
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), POLL).toBe('Certificats');
      await expect.poll(() => page.getByText('Aucune autorité de certification n’est installée').isVisible(), POLL).toBe(true);

      // The test hierarchy (root then intermediate, one PEM file).
      let results = await importFiles(page, ['hierarchie-test.pem']);
      const reports = results.getByRole('list', { name: 'Éléments de hierarchie-test.pem' }).getByRole('listitem');
      expect(await reports.count()).toBe(2);
      expect(await reports.nth(0).textContent()).toContain('Autorité racine « CN=AC-SESAM-VITALE-TEST-2034,O=sesam-vitale,C=FR » ajoutée (Test (GIE SESAM-Vitale))');
      expect(await reports.nth(1).textContent()).toContain('Autorité intermédiaire « CN=AC-FACTURATION-TEST');
      expect(await reports.nth(0).getAttribute('data-outcome')).toBe('stored');
      const testHierarchy = page.getByRole('region', { name: 'Test (GIE SESAM-Vitale)' });
      await expect.poll(() => testHierarchy.getByRole('heading', { level: 4, name: 'AC-SESAM-VITALE-TEST-2034' }).count(), POLL).toBe(1);
      expect(await testHierarchy.getByRole('list', { name: /Autorités intermédiaires/ }).textContent()).toContain('AC-FACTURATION-TEST');

      // An intermediate without its root is refused, in French.
      results = await importFiles(page, ['ac-facturation.pem']);
      const refusedReport = results.getByRole('list', { name: 'Éléments de ac-facturation.pem' }).getByRole('listitem');
      expect(await refusedReport.getAttribute('data-outcome')).toBe('refused');
      expect(await refusedReport.textContent()).toMatch(/Refusé.*n’a pas pu être validée/s);

      // A recipient certificate is refused while no CRL covers it.
      results = await importFiles(page, ['amo-sans-lcr.pem']);
      expect(await results.getByRole('list', { name: 'Éléments de amo-sans-lcr.pem' }).textContent()).toMatch(/Refusé.*Aucune LCR/s);

      // The CRL, then the two recipient certificates.
      results = await importFiles(page, ['ac-facturation-test.crl']);
      expect(await results.getByRole('list', { name: 'Éléments de ac-facturation-test.crl' }).textContent()).toContain('LCR de « CN=AC-FACTURATION-TEST');
      results = await importFiles(page, ['amo.pem', 'amc.pem']);
      expect(await results.getByRole('list', { name: 'Éléments de amo.pem' }).textContent()).toContain(`Certificat de ${MAILBOX.amoTest} enregistré`);
      expect(await results.getByRole('list', { name: 'Éléments de amc.pem' }).textContent()).toContain(`Certificat de ${MAILBOX.amcTest} enregistré`);

      await expect.poll(() => recipient(page, MAILBOX.amoTest).getAttribute('data-state'), POLL).toBe('valid');
      expect(await recipient(page, MAILBOX.amcTest).getAttribute('data-state')).toBe('valid');
      expect(await recipient(page, MAILBOX.amoTest).textContent()).toContain('valide');
      let crl = crlItem(page);
      expect(await crl.locator('[data-field="thisUpdate"] time').getAttribute('datetime')).toBe(new Date(crl1At).toISOString());
      expect(await crl.locator('[data-field="nextUpdate"] time').getAttribute('datetime')).toBe(new Date(crl1At + 7 * DAY).toISOString());
      // The certificates named the CRL's directory address: its next download is scheduled.
      await expect.poll(() => crl.locator('[data-field="nextFetch"] time').count(), POLL).toBe(1);

      // « Mettre à jour maintenant »: the directory has CRL n° 2, which revokes amc.
      await page.getByRole('button', { name: 'Mettre à jour maintenant' }).click();
      const refreshed = page.getByRole('list', { name: 'Résultat de la mise à jour' });
      await expect.poll(() => refreshed.getByRole('listitem').filter({ hasText: DIR.testInterCrl }).getAttribute('data-outcome'), POLL).toBe('success');
      expect(await refreshed.getByRole('listitem').filter({ hasText: DIR.testRootCrl }).getAttribute('data-outcome')).toBe('failed');
      expect(fetched).toContain(DIR.testInterCrl);
      await expect.poll(() => recipient(page, MAILBOX.amcTest).getAttribute('data-state'), POLL).toBe('revoked');
      expect(await recipient(page, MAILBOX.amcTest).textContent()).toContain('révoqué');
      expect(await recipient(page, MAILBOX.amoTest).getAttribute('data-state')).toBe('valid');
      crl = crlItem(page);
      expect(await crl.locator('[data-field="thisUpdate"] time').getAttribute('datetime')).toBe(new Date(crl2At).toISOString());
      expect(await crl.locator('[data-field="nextUpdate"] time').getAttribute('datetime')).toBe(new Date(crl2At + 7 * DAY).toISOString());
      const nextFetch = Date.parse((await crl.locator('[data-field="nextFetch"] time').getAttribute('datetime')) ?? '');
      expect(nextFetch).toBeGreaterThan(await pageNow());
      expect(nextFetch).toBeLessThanOrEqual(crl2At + 7 * DAY);

      // A recipient fetched from the directory: its address is added, then downloaded at once.
      const sources = page.getByRole('region', { name: /^Adresses d’annuaire/ });
      await sources.getByLabel('Adresse de messagerie du destinataire').fill(OTHER);
      await sources.getByLabel('Adresse d’annuaire du certificat').fill(OTHER_URL);
      await sources.getByRole('button', { name: 'Ajouter et télécharger' }).click();
      await expect.poll(() => recipient(page, OTHER).getAttribute('data-state'), POLL).toBe('valid');
      expect(fetched).toContain(OTHER_URL);
      expect(await recipient(page, OTHER).textContent()).toMatch(/Renouvellement.*à partir du/s);
      expect(await sources.getByRole('list', { name: 'Adresses des certificats de destinataires' }).textContent()).toContain('nouvelle version chargée');

      // The revocation raises an alert, which can be dismissed (until tomorrow).
      const alerts = page.getByRole('region', { name: /^Alertes/ }).getByRole('listitem');
      const revokedAlert = alerts.filter({ hasText: `Le certificat de ${MAILBOX.amcTest} est révoqué` });
      await expect.poll(() => revokedAlert.count(), POLL).toBe(1);
      await shot(page, 'certificats-after-refresh');
      await shot(page, 'certificats-top', false);
      await recipient(page, MAILBOX.amcTest).scrollIntoViewIfNeeded();
      await shot(page, 'certificats-destinataires', false);
      await revokedAlert.getByRole('button', { name: /J’ai compris/ }).click();
      await expect.poll(() => revokedAlert.count(), POLL).toBe(0);

      const before = await storeState(page);
      expect(before).toMatchObject({ amo: 'valid', amc: 'revoked', other: 'valid' });
      expect(before.hierarchies).toContain('AC-FACTURATION-TEST');

      // Reload: same state, alert still dismissed.
      await page.reload();
      await expect.poll(() => recipient(page, MAILBOX.amcTest).getAttribute('data-state'), POLL).toBe('revoked');
      expect(await storeState(page)).toEqual(before);
      expect(await revokedAlert.count()).toBe(0);

      // Offline start, once the service worker controls the page.
      await page.evaluate(async () => {
        await navigator.serviceWorker.ready;
      });
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 30_000 });
      await context.setOffline(true);
      const offline = await page.reload();
      expect(offline?.fromServiceWorker()).toBe(true);
      await expect.poll(() => recipient(page, MAILBOX.amcTest).getAttribute('data-state'), POLL).toBe('revoked');
      expect(await storeState(page)).toEqual(before);
      await shot(page, 'certificats-offline');

      // Narrow screen.
      await page.setViewportSize({ width: 390, height: 844 });
      await shot(page, 'certificats-mobile', false);
      await recipient(page, MAILBOX.amcTest).scrollIntoViewIfNeeded();
      await shot(page, 'certificats-mobile-destinataires', false);
      await page.setViewportSize({ width: 1280, height: 720 });

      // The journal (still offline): intact, with the import events.
      await page.getByRole('navigation', { name: 'Rubriques de la section' }).getByRole('link', { name: 'Journal d’audit' }).click();
      await page.waitForURL(`${app.url}/certificats/journal`);
      await expect.poll(() => page.getByText('Journal intègre').isVisible(), POLL).toBe(true);
      const rows = page.getByRole('region', { name: 'Enregistrements du journal' }).locator('tbody tr');
      const events = await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.event));
      for (const e of ['ca.load', 'trust-chain.change', 'crl.load', 'certificate.load', 'directory.fetch', 'settings.change']) expect(events).toContain(e);
      const caRow = rows.filter({ hasText: 'Autorité de certification chargée' }).filter({ hasText: 'AC-SESAM-VITALE-TEST-2034' }).first();
      expect(await caRow.textContent()).toContain('réussi');
      expect(await rows.filter({ hasText: 'Certificat chargé' }).filter({ hasText: 'refusé' }).count()).toBeGreaterThan(0);

      // Export as JSON lines.
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Exporter (JSON Lines)' }).click()]);
      expect(download.suggestedFilename()).toMatch(/^teletrans-journal-.*\.jsonl$/);
      const lines = readFileSync((await download.path())!, 'utf8').trim().split('\n');
      const header = JSON.parse(lines[0]!) as { format: string };
      expect(header.format).toBeTruthy();
      const exported = lines.slice(1).map((l) => JSON.parse(l) as { seq: number; event: string; hash: string });
      expect(exported.length).toBeGreaterThanOrEqual(events.length);
      expect(exported.map((r) => r.event)).toContain('audit.export');
      await expect.poll(() => page.getByText('Journal intègre').isVisible(), POLL).toBe(true);

      // Tamper with record n° 2 in IndexedDB: the page shows where the journal was altered.
      await page.evaluate(
        () =>
          new Promise<void>((resolve, reject) => {
            const open = indexedDB.open('teletrans-trust');
            open.onerror = () => reject(open.error);
            open.onsuccess = () => {
              const db = open.result;
              const tx = db.transaction('audit', 'readwrite');
              const store = tx.objectStore('audit');
              const get = store.get(2);
              get.onsuccess = () => {
                const rec = get.result as { outcome: string };
                rec.outcome = rec.outcome === 'success' ? 'failure' : 'success';
                store.put(rec);
              };
              tx.oncomplete = () => {
                db.close();
                resolve();
              };
              tx.onerror = () => reject(tx.error);
            };
          })
      );
      await page.getByRole('button', { name: 'Vérifier à nouveau' }).click();
      await expect.poll(() => page.getByText('Journal altéré : enregistrement n° 2').isVisible(), POLL).toBe(true);
      expect(await page.getByRole('alert').filter({ hasText: 'Journal altéré' }).textContent()).toContain('a été modifié');
      expect(await rows.locator('xpath=self::*[contains(@class, "broken")]').count()).toBe(1);
      expect(((await rows.locator('xpath=self::*[contains(@class, "broken")]').locator('td').first().textContent()) ?? '').trim()).toMatch(/^2\b/);
      await shot(page, 'journal-altere');

      // Still altered after a reload (online again).
      await context.setOffline(false);
      await page.reload();
      await expect.poll(() => page.getByText('Journal altéré : enregistrement n° 2').isVisible(), POLL).toBe(true);

      // Tampered: the section is blocked (SP1) until the administrator resets the journal.
      await page.getByRole('navigation', { name: 'Rubriques de la section' }).getByRole('link', { name: 'Magasin de confiance' }).click();
      await page.waitForURL(`${app.url}/certificats`);
      await expect.poll(() => page.getByRole('alert').filter({ hasText: 'Poste bloqué' }).isVisible(), POLL).toBe(true);
      expect(await recipient(page, MAILBOX.amcTest).count()).toBe(0);
      // The whole workstation is blocked, not only the section: the home page and the cards
      // page (CPS and Vitale reading) show the same panel instead of their content.
      const blockedPanel = page.getByRole('alert').filter({ hasText: 'Poste bloqué : journal d’audit altéré' });
      for (const path of ['/', '/cartes']) {
        await page.goto(`${app.url}${path}`);
        await expect.poll(() => blockedPanel.isVisible(), POLL).toBe(true);
        expect(await page.locator('main').getAttribute('data-integrity')).toBe('tampered');
        expect(await page.title()).toBe('Poste bloqué — Teletrans');
        expect(await page.locator('[data-integrity="blocked"]').count()).toBe(1);
        await shot(page, `poste-bloque${path.replace('/', '-')}`.replace(/-$/, '-accueil'));
        expect(await axeSerious(page), path).toEqual([]);
      }
      expect(await page.getByRole('heading', { name: 'Cartes', exact: true }).count()).toBe(0);
      expect(await page.getByTestId('bridge-command').count()).toBe(0);
      // The journal page stays reachable from the panel: the administrator acts there.
      await page.getByRole('link', { name: 'Ouvrir le journal d’audit' }).click();
      await page.waitForURL(`${app.url}/certificats/journal`);
      await expect.poll(() => page.getByText('Journal altéré : enregistrement n° 2').isVisible(), POLL).toBe(true);
      expect(await blockedPanel.count()).toBe(0);
      await page.getByRole('button', { name: 'Réinitialiser le journal…' }).click();
      const confirmReset = page.getByRole('button', { name: 'Confirmer la réinitialisation' });
      expect(await confirmReset.isDisabled()).toBe(true);
      await page.getByRole('checkbox').check();
      // The administrator's CPS and its PIN authorize it: the button waits for the PIN.
      expect(await confirmReset.isDisabled()).toBe(true);
      await page.getByLabel('Code porteur de la CPS').fill('1234');
      await shot(page, 'journal-reinitialisation-carte');
      // The reset form of a tampered journal, as the administrator fills it in.
      expect(await axeSerious(page)).toEqual([]);
      const [archive] = await Promise.all([page.waitForEvent('download'), confirmReset.click()]);
      expect(archive.suggestedFilename()).toMatch(/^teletrans-journal-altere-.*\.jsonl$/);
      await expect.poll(() => page.getByText('Journal intègre').isVisible(), POLL).toBe(true);
      // The new journal: the reset, then a seal of each trust record kept (newest first on the page).
      const after = await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.event));
      expect(after.at(-1)).toBe('audit.reset');
      expect(after.length).toBeGreaterThan(1);
      expect(new Set(after.slice(0, -1))).toEqual(new Set(['trust.seal']));

      // Reset: the home page and the cards page are usable again (checked after the store has
      // opened and verified the new journal: the journal page says « Journal intègre » first).
      const integrity = () => page.locator('main').getAttribute('data-integrity');
      for (const path of ['/', '/cartes']) {
        await page.goto(`${app.url}${path}`);
        await expect.poll(integrity, POLL).toBe('intact');
        expect(await page.locator('[data-integrity="blocked"]').count()).toBe(0);
      }
      // The administrator's PIN unlocked the session too; after a reload the ordinary lock asks
      // for it again (not the blocking panel), and the cards page is back behind it.
      await expect.poll(() => page.getByRole('dialog', { name: 'Session verrouillée' }).isVisible(), POLL).toBe(true);
      const unlockPin = page.getByRole('dialog', { name: 'Session verrouillée' }).getByLabel('Code porteur de la CPS');
      await unlockPin.fill('1234');
      await unlockPin.press('Enter');
      await expect.poll(() => page.getByRole('heading', { name: 'Cartes', exact: true }).isVisible(), POLL).toBe(true);
      expect(await page.getByText('État du pont : connecté').count()).toBe(1);
      // Within the app from here (a reload would lock again).
      await page.getByRole('navigation', { name: 'Navigation principale' }).getByRole('link', { name: 'Certificats' }).click();
      await page.getByRole('navigation', { name: 'Rubriques de la section' }).getByRole('link', { name: 'Journal d’audit' }).click();
      await page.waitForURL(`${app.url}/certificats/journal`);
      await expect.poll(() => page.getByText('Journal intègre').isVisible(), POLL).toBe(true);

      // Removal, with confirmation.
      await page.getByRole('navigation', { name: 'Rubriques de la section' }).getByRole('link', { name: 'Magasin de confiance' }).click();
      await page.waitForURL(`${app.url}/certificats`);
      await expect.poll(() => recipient(page, MAILBOX.amcTest).count(), POLL).toBe(1);
      await page.getByRole('button', { name: `Supprimer le certificat de ${MAILBOX.amcTest}` }).click();
      await page.getByRole('button', { name: 'Annuler' }).click();
      expect(await recipient(page, MAILBOX.amcTest).count()).toBe(1);
      await page.getByRole('button', { name: `Supprimer le certificat de ${MAILBOX.amcTest}` }).click();
      await page.getByRole('button', { name: `Confirmer : supprimer le certificat de ${MAILBOX.amcTest}` }).click();
      await expect.poll(() => recipient(page, MAILBOX.amcTest).count(), POLL).toBe(0);
      expect(await recipient(page, MAILBOX.amoTest).getAttribute('data-state')).toBe('valid');
    } finally {
      await context.close();
    }
  });

  it('runs the schedule by itself while the page is open (one timer, nextRefreshAt)', async () => {
    // The CRL window is 02:00–22:00 Europe/Paris: the page's clock is set to the next noon in
    // Paris after the world was made, so the test means the same whenever CI runs it.
    const noon = nextParisWall(world.now, 12 * 60);
    const context = await browser.newContext({ locale: 'fr-FR' });
    const fetched: string[] = [];
    await context.route('**/api/directory/fetch?**', async (route) => {
      fetched.push(new URL(route.request().url()).searchParams.get('url') ?? '');
      await route.fulfill(unavailable);
    });
    const page = await context.newPage();
    // Time flows normally from there; only the starting instant is chosen.
    await page.clock.install({ time: noon });
    try {
      await page.goto(`${app.url}/certificats`);
      await expect.poll(() => page.getByText('Aucune autorité de certification n’est installée').isVisible(), POLL).toBe(true);
      // The intermediate names its issuer's CRL address: a source never fetched, due at once.
      await importFiles(page, ['hierarchie-test.pem']);
      const crlSources = page.getByRole('list', { name: 'Adresses des listes de révocation' });
      await expect.poll(() => crlSources.textContent(), POLL).toContain(DIR.testRootCrl);
      expect(await crlSources.textContent()).toContain('Pas encore téléchargée');
      // No click: the timer runs refresh() (at most 15 s after its previous run).
      await expect.poll(() => fetched, { timeout: 40_000, interval: 250 }).toContain(DIR.testRootCrl);
      await expect.poll(() => crlSources.textContent(), POLL).toContain('échec');
      // The failed attempt is retried tomorrow: the next run is scheduled in the future.
      const next = page.getByRole('region', { name: 'Mise à jour depuis l’annuaire' }).locator('time').first();
      const pageNow = (): Promise<number> => page.evaluate(() => Date.now());
      await expect.poll(async () => Date.parse((await next.getAttribute('datetime')) ?? '') > (await pageNow()) + 3_600_000, POLL).toBe(true);
      expect(fetched.filter((u) => u === DIR.testRootCrl)).toHaveLength(1);
    } finally {
      await context.close();
    }
  });
});
