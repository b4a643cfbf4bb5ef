/**
 * A nurse bills (issue 14 item 4, « prescriber for auxiliaries »), in Chromium on the production
 * build with the bridge's simulated cards from the server's demo PKI, as `npm start` runs them
 * (`insérer cps-infirmier 0`). An auxiliary's acts need a prescription: the form asks for the
 * prescriber, checks what is typed (identifier, a prescription dated after the care) in French
 * before signing, and offers it again with the patient's previous coding. The ALD flag appears
 * for a beneficiary under ALD, the DRE for one with a complementary contract; another patient
 * finds none of the previous one's prescription. The prescriber's name is never stored in clear.
 * Then the nurse bills through an OCT (issue 14 item 5, « direct or OCT as configured »): the
 * mode is her card's preference, the OCT's certificate must be in the trust store, and the
 * file reaches the OCT's mailbox, opened by OpenSSL with the OCT's key (way 1: in test mode the
 * single FACTURE file of way 2 does not exist, and the form says so).
 */
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AxeResults } from 'axe-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCps, makeVitale } from '../../bridge/cards/profiles.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import { SimulatedTransport } from '../../bridge/transport.js';
import { BRIDGE_URL_KEY } from '../../src/lib/client/card/bridge-instance.js';
import { readDemoPki, type DemoPki } from '../../src/lib/server/demo-pki.js';
import { genKey, issueCert, pem } from '../../src/lib/pki/demo/index.js';
import { parseMessage } from '../../src/lib/sesam/index.js';
import { launchChromium } from '../browser/harness.js';
import { pageApprover, stateDir } from '../bridge/helpers.js';
import { buildApp, startApp, type PrivateBuild, type RunningApp } from './app-server.js';
import { indexedDbText, mailClearText } from './clear-text.js';
import { pairAndSignIn } from './practitioner.js';

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core');
const POLL = { timeout: 20_000, interval: 100 };
const SHOTS = process.env.TELETRANS_SCREENSHOTS;
/** The OCT of the test: a mailbox the demo relay may send to, a certificate made below. */
const OCT = 'oct.fictif@teletrans.test';
/** A valid RPPS (Luhn), fictitious: the prescribing doctor. */
const PRESCRIBER_RPPS = '10000000009';

describe('a nurse bills on prescription (npm start’s embedded defaults, the nurse’s card)', () => {
  let build: PrivateBuild;
  let app: RunningApp;
  let browser: Browser;
  let bridge: Bridge;
  let context: BrowserContext;
  let page: Page;
  let dir: string;
  let pki: DemoPki;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'teletrans-e2e-auxiliary-'));
    [build, browser] = await Promise.all([buildApp(), launchChromium()]);
    app = await startApp(build.server, { TELETRANS_RELAY_DEMO_DIR: join(dir, 'demo') });
    pki = await readDemoPki(join(dir, 'demo'));
    const cardPki = { rootDer: pki.igcRoot.der, caDer: pki.igcCa.der, caKey: pki.igcCa.key };
    const sim = new SimulatedTransport();
    const [cpsReader, vitaleReader] = sim.readers().map((r) => r.name);
    sim.insert(cpsReader!, (await makeCps(cardPki, { profession: 'nurse' })).card);
    sim.insert(vitaleReader!, (await makeVitale(cardPki)).card);
    bridge = await startBridge({ port: 0, transport: sim, stateDir: await stateDir(), allowedOrigins: [app.url], approve: pageApprover(() => page) });
    // bypassCSP: axe-core is injected as an inline script.
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

  const problems = (): ReturnType<Page['getByRole']> => page.getByRole('list', { name: 'À corriger avant de signer' });
  const prescriber = (): ReturnType<Page['getByRole']> => page.getByRole('group', { name: /^Prescripteur/ });
  const codes = (): Promise<string[]> => problems().locator('li').evaluateAll((lis) => lis.map((l) => l.getAttribute('data-code') ?? ''));
  const beneficiaries = (): ReturnType<Page['getByRole']> => page.getByRole('group', { name: 'Bénéficiaire (à choisir)' }).getByRole('radio');
  async function axe(): Promise<string[]> {
    await page.addScriptTag({ path: AXE_PATH });
    const results = await page.evaluate(() => (window as unknown as { axe: { run(c: Document, o: object): Promise<AxeResults> } }).axe.run(document, { resultTypes: ['violations'] }));
    return results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }

  it('signed in with the nurse’s CPS: the prescriber is asked for an AMI, checked in French, and the invoice signs once it is right', async () => {
    // Paired, the PIN, the relay connected (the demo relay knows the nurse's card as it knows the
    // doctor's), a billing situation chosen.
    await pairAndSignIn(page, app.url, '999000001');
    expect(await page.getByRole('region', { name: 'Session du praticien' }).textContent()).toContain('ALEX FICTIF-SOINS');

    await page.getByRole('navigation').getByRole('link', { name: 'Facturer' }).click();
    await page.waitForURL(`${app.url}/facturer`);
    await expect.poll(() => beneficiaries().count(), POLL).toBe(3);
    // The child under ALD.
    await beneficiaries().nth(2).check();
    const search = page.getByLabel('Ajouter un acte (code ou mots du libellé)');
    await expect.poll(() => search.isVisible(), POLL).toBe(true);
    // An auxiliary's form offers the prescriber from the start.
    expect(await prescriber().locator('legend').textContent()).toBe('Prescripteur (si les soins sont prescrits)');
    await search.fill('AMI');
    await search.press('Enter');
    await expect.poll(() => codes(), POLL).toEqual(['prescriber_required']);
    expect(await prescriber().locator('legend').textContent()).toBe('Prescripteur');
    expect(await page.getByRole('button', { name: 'Signer la facture' }).isDisabled()).toBe(true);

    // A wrong identifier, then a prescription dated after the care: each said, with its part of the form.
    await prescriber().getByLabel('N° RPPS ou Assurance Maladie').fill('12345');
    await expect.poll(() => codes(), POLL).toEqual(['prescriber_invalid']);
    expect(await problems().textContent()).toContain('Prescripteur : Identifiant du prescripteur invalide');
    const today = await page.evaluate(() => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(new Date()));
    const shift = (days: number): string => new Date(Date.parse(`${today}T12:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
    await prescriber().getByLabel('N° RPPS ou Assurance Maladie').fill(PRESCRIBER_RPPS);
    await prescriber().getByLabel('Nom').fill('BERNARD');
    await prescriber().getByLabel('Date de la prescription').fill(shift(1));
    await expect.poll(() => codes(), POLL).toEqual(['prescription_after_act']);
    await prescriber().getByLabel('Date de la prescription').fill(shift(-3));
    await expect.poll(() => problems().count(), POLL).toBe(0);

    // The act is for the ALD: the AMO pays it all.
    const ald = page.getByLabel('AMI en rapport avec l’ALD');
    expect(await ald.isChecked()).toBe(false);
    const fee = await page.locator('[data-amount="fee"]').textContent();
    expect(await page.locator('[data-amount="amo"]').textContent()).not.toBe(fee);
    await ald.check();
    await expect.poll(() => page.locator('[data-amount="amo"]').textContent(), POLL).toBe(fee);
    // No AMC on this beneficiary's card, no DRE to offer; a nurse has no care pathway.
    expect(await page.getByLabel('Facturer la complémentaire à part (DRE)').count()).toBe(0);
    expect(await page.getByLabel('Parcours de soins').count()).toBe(0);

    expect(await axe()).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'facturer-prescriber.png'), fullPage: true });
    await search.press('Control+Enter');
    await expect.poll(() => page.locator('.invoice .outcome').textContent(), POLL).toMatch(/^Facture n° \d+ signée\.$/);
  }, 180_000);

  it('the next visit: the previous coding brings the prescriber and the ALD back; another patient starts with neither, and may have a DRE', async () => {
    const take = page.getByRole('button', { name: 'Reprendre ces actes' });
    await expect.poll(() => take.isVisible(), POLL).toBe(true);
    // The form starts a new invoice for the same patient: the prescription stays typed.
    expect(await prescriber().getByLabel('Nom').inputValue()).toBe('BERNARD');
    await prescriber().getByLabel('Nom').fill('');
    await prescriber().getByLabel('N° RPPS ou Assurance Maladie').fill('');
    await prescriber().getByLabel('Date de la prescription').fill('');
    await take.click();
    expect(await prescriber().getByLabel('N° RPPS ou Assurance Maladie').inputValue()).toBe(PRESCRIBER_RPPS);
    expect(await prescriber().getByLabel('Nom').inputValue()).toBe('BERNARD');
    expect(await page.getByLabel('AMI en rapport avec l’ALD').isChecked()).toBe(true);

    // Another beneficiary (the holder, no ALD): the acts stay, without their ALD flag, and
    // nothing of the child's prescription does.
    await beneficiaries().nth(0).check();
    await expect.poll(() => prescriber().getByLabel('Nom').inputValue(), POLL).toBe('');
    await expect.poll(() => codes(), POLL).toEqual(['prescriber_required']);
    expect(await page.locator('.acts tbody tr').count()).toBe(1);
    expect(await page.getByLabel('AMI en rapport avec l’ALD').count()).toBe(0);
    const dre = page.getByLabel('Facturer la complémentaire à part (DRE)');
    expect(await dre.isVisible()).toBe(true);
    await dre.check();
    expect(await axe()).toEqual([]);

    // What IndexedDB holds: the prescriber's name nowhere in clear.
    const raw = await indexedDbText(page);
    expect(raw).toContain('"status":"signed"');
    expect(raw).not.toMatch(/BERNARD|FICTIF-SOINS|10000000009/);
  }, 120_000);

  it('through an OCT: the mode kept with the card, refused while the OCT has no certificate here, then the file delivered to the OCT and opened with its key', async () => {
    const panel = page.getByRole('region', { name: 'Télétransmission' });
    expect(await panel.locator('.way').textContent()).toBe('Transmission directe aux caisses (AMO et AMC).');
    await panel.getByText('Changer le mode de transmission').click();
    await panel.getByLabel('Par un OCT, fichier unique FACTURE (voie 2)').check();
    await panel.getByLabel('Adresse de messagerie de l’OCT').fill(OCT);
    await panel.getByLabel('Numéro de l’OCT').fill('990000001');
    await panel.getByRole('button', { name: 'Enregistrer' }).click();
    // Test flows: the single file of way 2 is a production thing.
    await expect.poll(() => panel.locator('.setting-message').textContent(), POLL).toBe('Le fichier unique FACTURE n’existe qu’en production : en test et en démonstration, choisissez la voie 1.');
    await panel.getByLabel('Par un OCT, mêmes fichiers qu’en directe (voie 1)').check();
    await panel.getByRole('button', { name: 'Enregistrer' }).click();
    await expect.poll(() => panel.locator('.way').textContent(), POLL).toBe(`Transmission par l’OCT ${OCT}.`);
    expect(await axe()).toEqual([]);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'facturer-oct.png'), fullPage: true });

    // No certificate for the OCT in the trust store: nothing is transmitted, nothing numbered.
    const send = panel.getByRole('button', { name: 'Télétransmettre (1 facture)' });
    await send.click();
    await expect.poll(() => panel.locator('.transmit + .message').textContent(), POLL).toContain(`Rien n’a été transmis : Pas de certificat utilisable pour ${OCT}`);
    expect(await panel.getByRole('table', { name: 'Boîte d’envoi' }).count()).toBe(0);

    // The OCT's encryption certificate, from the demo's SESAM-Vitale test CA, installed on « Certificats ».
    const key = await genKey();
    const der = await issueCert({
      subject: `CN=${OCT},OU=TELETRANS DEMO,O=TELETRANS FICTIF,C=FR`,
      key,
      issuerCert: pki.sesamCa.der,
      signer: pki.sesamCa.key,
      serial: 4242,
      emails: [OCT],
      keyUsage: { bits: ['digitalSignature', 'nonRepudiation', 'keyEncipherment'], critical: true },
      notBefore: new Date(Date.now() - 86_400_000),
      notAfter: new Date(Date.now() + 365 * 86_400_000),
    });
    await page.getByRole('navigation', { name: 'Navigation principale' }).getByRole('link', { name: 'Certificats' }).click();
    await page.waitForURL(`${app.url}/certificats`);
    await page.locator('input[type="file"]').setInputFiles([{ name: 'oct.cer', mimeType: 'application/pkix-cert', buffer: Buffer.from(der) }]);
    await expect.poll(() => page.getByRole('list', { name: 'Résultat des imports' }).textContent(), POLL).toContain(OCT);
    await page.getByRole('navigation', { name: 'Navigation principale' }).getByRole('link', { name: 'Facturer' }).click();
    await page.waitForURL(`${app.url}/facturer`);

    // The mode came back with the card's preferences; one action, and the OCT has it.
    await expect.poll(() => panel.locator('.way').getAttribute('data-way'), POLL).toBe('oct_split');
    await send.click();
    await expect.poll(() => panel.locator('.transmit + .message').textContent(), POLL).toMatch(/^1 facture en 1 message, chiffré et mis en boîte d’envoi\./);
    const row = panel.getByRole('table', { name: 'Boîte d’envoi' }).locator('tbody tr');
    await expect.poll(() => row.getAttribute('data-state'), POLL).toBe('delivered');
    expect(await row.textContent()).toContain(`remis à ${OCT}`);
    const subject = (await row.locator('th').textContent())!;
    const inbox = join(dir, 'demo', 'peer-mail', OCT);
    const received = readdirSync(inbox).map((f) => readFileSync(join(inbox, f))).filter((m) => m.toString('latin1').includes(`Subject: ${subject}`));
    expect(received).toHaveLength(1);
    const parsed = parseMessage(new Uint8Array(received[0]!));
    // Way 1: the FSE file of direct mode, with its own Content-Description (transmission.md §7).
    expect(parsed.description.raw).toMatch(/^FSETEST\/B2\/Z?K$/);
    expect(parsed.to).toContain(OCT);
    writeFileSync(join(dir, 'oct.p7'), parsed.attachment);
    writeFileSync(join(dir, 'oct.key'), pem(new Uint8Array(await crypto.subtle.exportKey('pkcs8', key.privateKey)), 'PRIVATE KEY'));
    writeFileSync(join(dir, 'oct.pem'), pem(der));
    const opened = execFileSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'der', '-in', join(dir, 'oct.p7'), '-inkey', join(dir, 'oct.key'), '-recip', join(dir, 'oct.pem')]);
    // Compressed (the Z flag) or not: our simulator's FSE file, as in direct mode.
    const plain = parsed.description.compressed ? execFileSync('gzip', ['-dc'], { input: opened }) : opened;
    expect(plain.subarray(0, 64).toString('latin1')).toContain('TELETRANS-SSV-SIM');
    expect(mailClearText(received[0]!)).not.toMatch(/ALEX|FICTIF-SOINS|BERNARD/);
  }, 180_000);
});
