/**
 * « Messagerie » in Chromium on the production build (issue 18): the practitioner signs in to
 * the relay with the bridge's simulated CPS, then to our test PRO Santé Connect with the same
 * card, sends a message with a PDF to a colleague and a patient through the relay to a real
 * operator (Postfix + Dovecot, XOAUTH2), reads the colleague's answer and a delivery
 * notification from the inbox, answers; a domain outside the trust space is refused while
 * typing; offline, the inbox and the message already read stay readable (sealed copies).
 */
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AxeResults } from 'axe-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCps, makeVitale } from '../../bridge/cards/profiles.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import { SimulatedTransport } from '../../bridge/transport.js';
import { BRIDGE_URL_KEY } from '../../src/lib/client/card/bridge-instance.js';
import { composeMssMessage } from '../../src/lib/mss/compose.js';
import { readMessage } from '../../src/lib/mss/read.js';
import { buildXdm, INS_OID, LOINC, readXdm } from '../../src/lib/mss/xdm.js';
import { useNodeXml } from '../../src/lib/server/mss/node-xml.js';
import type { Whitelist, WhitelistEntry } from '../../src/lib/mss/whitelist.js';
import { DEMO_CPS_POLICIES } from '../../src/lib/pki/demo/index.js';
import { DEMO_RPPS, ensureDemoPki, issueDemoCrls } from '../../src/lib/server/demo-pki.js';
import { signXml, whitelistXml } from '../../src/lib/server/mss/whitelist-signer.js';
import { SmtpConnection } from '../../src/lib/server/relay/smtp-client.js';
import { launchChromium } from '../browser/harness.js';
import { pageApprover, stateDir } from '../bridge/helpers.js';
import { freePort } from '../relay/fixtures/mail.js';
import { COLLEAGUES, DOMAINS, FAILING, PATIENT_BOX, PRACTITIONER, startOperator, type Operator } from '../mss/fixtures/operator.js';
import { makeTrust } from '../mss/fixtures/trust.js';
import { buildApp, startApp, type PrivateBuild, type RunningApp } from './app-server.js';
import { pairAndSignIn } from './practitioner.js';

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core');
const POLL = { timeout: 30_000, interval: 100 };
const SHOTS = process.env.TELETRANS_SCREENSHOTS;
const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
const CDA = '<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><title>Compte rendu</title><recordTarget><patientRole><id extension="279035121518989" root="1.2.250.1.213.1.4.8"/></patientRole></recordTarget></ClinicalDocument>';

let build: PrivateBuild;
let browser: Browser;
let app: RunningApp;
let op: Operator;
let bridge: Bridge;
let context: BrowserContext;
let page: Page;
let listServer: Server;
let dir: string;

beforeAll(async () => {
  useNodeXml();
  [build, browser] = await Promise.all([buildApp(), launchChromium()]);
  dir = mkdtempSync(join(tmpdir(), 'teletrans-e2e-mss-'));
  const demoDir = join(dir, 'demo');
  const pki = await ensureDemoPki(demoDir);
  const crls = await issueDemoCrls(pki);
  const port = await freePort();
  const appUrl = `http://127.0.0.1:${port}`;
  // The test PRO Santé Connect trusts the demo PKI's cards; the operator maps the demo RPPS to its mailbox.
  op = await startOperator({
    clients: [{ clientId: 'teletrans', redirectUris: [`${appUrl}/mss/connexion`], origin: appUrl }],
    anchors: [pki.igcRoot.der], intermediates: [pki.igcCa.der], crls: () => [crls.igcRoot, crls.igcCa],
    cardAuthentication: { issuers: [pki.igcCa.der], policies: [DEMO_CPS_POLICIES.auth] },
    mailboxFor: (rpps) => (rpps === DEMO_RPPS ? PRACTITIONER : undefined),
  });
  // The agency's signed whitelist, served over HTTP.
  const t = await makeTrust();
  const entries: WhitelistEntry[] = DOMAINS.map((d) => ({ domain: d, description: 'fictif', operatorCertificateDn: 'CN=OPERATEUR FICTIF,C=FR', updated: '2026-12-01' }));
  const signed = await signXml(whitelistXml(new Date(Date.now() - 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'), entries), t.agency.key.privateKey, [t.agency.der, t.orgCa]);
  const listPort = await freePort();
  listServer = createServer((_q, r) => r.writeHead(200, { 'content-type': 'application/xml' }).end(signed));
  await new Promise<void>((r) => listServer.listen(listPort, '127.0.0.1', r));
  const mssFile = join(dir, 'mss.json');
  writeFileSync(mssFile, JSON.stringify({
    psc: { issuer: op.issuer, clientId: 'teletrans', redirectUri: `${appUrl}/mss/connexion` },
    tls: { ca: op.pki.caPem, servername: 'localhost' },
    whitelist: { url: `http://127.0.0.1:${listPort}/liste.xml`, anchors: [b64(t.root)], intermediates: [b64(t.orgCa)], crls: t.crls.map(b64),
      signer: { issuers: [b64(t.orgCa)], policies: [...t.profile.policies], subject: t.profile.subject } },
    mailboxes: [{ practitioner: 'demo', address: PRACTITIONER, kind: 'personal', operator: { submission: { host: '127.0.0.1', port: op.submissionPort }, imap: { host: '127.0.0.1', port: op.imapPort } } }],
    tokenDir: join(dir, 'mss-tokens'),
  }));
  app = await startApp(build.server, { TELETRANS_RELAY_DEMO_DIR: demoDir, TELETRANS_RELAY_MSS_CONFIG: mssFile, PORT: String(port) });
  const cardPki = { rootDer: pki.igcRoot.der, caDer: pki.igcCa.der, caKey: pki.igcCa.key };
  const sim = new SimulatedTransport();
  const [cpsReader, vitaleReader] = sim.readers().map((r) => r.name);
  sim.insert(cpsReader!, (await makeCps(cardPki)).card);
  sim.insert(vitaleReader!, (await makeVitale(cardPki)).card);
  bridge = await startBridge({ port: 0, transport: sim, stateDir: await stateDir(), allowedOrigins: [app.url], approve: pageApprover(() => page) });
  context = await browser.newContext({ bypassCSP: false, viewport: { width: 1366, height: 900 }, locale: 'fr-FR' });
  await context.addInitScript(([key, url]) => localStorage.setItem(key, url), [BRIDGE_URL_KEY, bridge.url] as const);
  page = await context.newPage();
}, 300_000);

afterAll(async () => {
  await context?.close();
  await bridge?.close();
  await app?.stop();
  await op?.stop();
  await new Promise<void>((r) => (listServer ? listServer.close(() => r()) : r()));
  await browser?.close();
  build?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function axe(p: Page): Promise<string[]> {
  // Through the debugging protocol (as a test tool, not as the page's script): the page's CSP stays on.
  await p.evaluate(readFileSync(AXE_PATH, 'utf8'));
  const results = await p.evaluate(() => (window as unknown as { axe: { run(c: Document, o: object): Promise<AxeResults> } }).axe.run(document, { resultTypes: ['violations'] }));
  return results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

const LIST: Whitelist = { generatedAt: '2026-12-05T02:00:00Z', signer: 'CN=X', domains: new Map(DOMAINS.map((d): [string, WhitelistEntry] => [d, { domain: d, description: '', operatorCertificateDn: '', updated: '' }])) };

describe('« Messagerie »', () => {
  it('signs in to PRO Santé Connect with the card, sends with a PDF, reads the answer and the delivery notices, answers; refuses a domain outside the trust space', async () => {
    await pairAndSignIn(page, app.url, '999000002');
    await page.getByRole('navigation').getByRole('link', { name: 'Messagerie' }).click();
    await page.waitForURL(`${app.url}/messagerie`);
    const box = page.getByRole('region', { name: 'Messagerie sécurisée de santé' });
    await expect.poll(() => box.getByRole('status').first().textContent(), POLL).toMatch(/dr\.fictif@medecin\.mssante\.fr — non connecté/);
    await box.getByRole('button', { name: 'Se connecter avec PRO Santé Connect (carte CPS)' }).click();
    await expect.poll(() => box.getByRole('status').first().textContent(), POLL).toMatch(/connecté à PRO Santé Connect/);

    // A new message: a domain outside the trust space is refused as it is typed.
    await box.getByRole('button', { name: 'Nouveau message' }).click();
    const form = page.getByRole('form', { name: 'Nouveau message' });
    await form.getByLabel('À').fill(`${COLLEAGUES.a}, ami@gmail.com`);
    await expect.poll(() => form.getByRole('alert').textContent(), POLL).toMatch(/gmail\.com.*n’est pas dans l’espace de confiance MSSanté/);
    await expect.poll(() => form.getByRole('button', { name: 'Envoyer' }).isDisabled(), POLL).toBe(true);
    await form.getByLabel('À').fill(`${COLLEAGUES.a}, ${FAILING.unknown}`);
    await form.getByLabel('Copie').fill(PATIENT_BOX);
    await form.getByLabel('Objet').fill('Compte rendu de consultation');
    await form.getByLabel('Message').fill('Chère consœur,\nvoici le compte rendu.');
    await form.getByLabel('Documents PDF').setInputFiles({ name: 'compte-rendu.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.7\n%fictif\n%%EOF\n') });
    // The same document structured (CDA) for one patient: the page builds the XDM archive.
    await form.getByLabel('Documents CDA').setInputFiles({ name: 'compte-rendu.xml', mimeType: 'text/xml', buffer: Buffer.from(CDA) });
    await form.getByLabel('Type de document').selectOption('11488-4');
    await form.getByLabel('INS du patient').fill('279035121518989');
    await form.getByLabel('INS qualifiée (identité vérifiée)').check();
    await form.getByRole('button', { name: 'Envoyer' }).click();
    await expect.poll(() => box.locator('p.ok').textContent(), POLL).toMatch(/remis à l’opérateur pour 3 destinataire/);
    await op.drain();
    const sent = op.messages(COLLEAGUES.a).map((b) => b.toString('latin1')).find((m) => m.includes('compte-rendu.pdf'));
    expect(sent).toMatch(/X-MSS-NIL: Teletrans\/Teletrans\/0\.1\.0/);
    expect(sent).toMatch(/X-MSS-INS: O/);
    expect(sent).toMatch(/X-MSS-CODECDA: 11488-4/);
    // The colleague's software opens the archive: one document, about the patient, as sent.
    const read = readMessage(new Uint8Array(Buffer.from(sent!, 'latin1')));
    const zip = read.attachments.find((a) => a.kind === 'xdm')!;
    const xdm = await readXdm(zip.data);
    expect(xdm.patientId).toBe('279035121518989^^^&1.2.250.1.213.1.4.8&ISO');
    expect(xdm.documents.map((d) => [d.title, d.typeCode])).toEqual([['compte-rendu', '11488-4']]);
    expect(Buffer.from(xdm.documents[0]!.data).toString()).toBe(CDA);

    // The colleague answers (mail from outside the relay).
    const answerZip = await buildXdm({ patient: { ins: '279035121518989', oid: INS_OID.nir, qualified: true }, documents: [{ title: 'Résultats biologiques', type: { code: '11502-2', scheme: LOINC, display: 'CR biologie' },
      format: { code: 'urn:ihe:iti:xds:2017:mimeTypeSufficient', scheme: '1.3.6.1.4.1.19376.1.2.3', display: 'MIME' }, data: Buffer.from(CDA), creationTime: new Date() }],
    sourceOid: '1.2.250.1.999.2', uniqueSuffix: '1', submissionTime: new Date(), software: 'Autre/Logiciel/1' });
    const answer = composeMssMessage({ from: COLLEAGUES.a, fromKind: 'personal', to: [PRACTITIONER], subject: 'Re: Compte rendu de consultation', text: 'Bien reçu, merci.', software: 'Autre/Logiciel/1', date: new Date(),
      xdm: { zip: answerZip, typeCodes: ['11502-2'], insQualified: true }, pdfs: [{ name: 'resultats.pdf', data: Buffer.from('%PDF-1.7\n%%EOF\n') }] }, LIST);
    const c = await SmtpConnection.open({ host: '127.0.0.1', port: op.inboundPort, security: 'starttls', tls: { ca: op.pki.caPem, servername: 'localhost' }, connectionTimeoutMs: 5000, socketTimeoutMs: 10_000 });
    await c.send({ from: COLLEAGUES.a, to: [PRACTITIONER] }, answer.raw);
    await c.close();
    await op.drain();

    const inbox = box.getByRole('list', { name: 'Boîte de réception' });
    const reader = page.getByRole('article', { name: 'Message' });
    // The delivery notices: « Relever » until the one for the unknown recipient is there, said plainly.
    const deadline = Date.now() + 40_000;
    let notice = '';
    while (!/inconnu@medecin\.mssante\.fr/.test(notice)) {
      if (Date.now() > deadline) throw new Error(`no delivery notice for the unknown recipient; last read: ${notice}`);
      await box.getByRole('button', { name: 'Relever' }).click();
      await expect.poll(() => box.getByRole('button', { name: 'Relever' }).isEnabled(), POLL).toBe(true);
      for (const b of await inbox.getByRole('button', { name: /Avis de remise/ }).all()) {
        await b.click();
        await expect.poll(() => reader.getByRole('table', { name: 'Avis de remise' }).isVisible(), POLL).toBe(true);
        notice = (await reader.getByRole('table', { name: 'Avis de remise' }).textContent()) ?? '';
        if (/inconnu@medecin\.mssante\.fr/.test(notice)) break;
      }
    }
    expect(notice).toMatch(/inconnu@medecin\.mssante\.fr\s*Destinataire inconnu/);
    // The answer, read, then answered.
    await expect.poll(() => inbox.getByRole('button', { name: /Re: Compte rendu de consultation/ }).count(), POLL).toBe(1);
    await inbox.getByRole('button', { name: /Re: Compte rendu de consultation/ }).click();
    await expect.poll(() => reader.locator('pre.body').textContent(), POLL).toMatch(/Bien reçu, merci\./);
    // The XDM archive's documents listed, the PDF to open.
    await expect.poll(() => reader.getByRole('list', { name: 'Documents de l’archive XDM' }).textContent(), POLL).toMatch(/Résultats biologiques — type 11502-2/);
    expect(await reader.getByRole('link', { name: 'Ouvrir le PDF « resultats.pdf »' }).getAttribute('href')).toMatch(/^blob:/);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'messagerie.png'), fullPage: true });
    expect((await axe(page)).join('\n')).toBe('');
    await reader.getByRole('button', { name: 'Répondre' }).click();
    await expect.poll(() => form.getByLabel('À').inputValue(), POLL).toBe(COLLEAGUES.a);
    await form.getByLabel('Message').fill('Avec plaisir.');
    await form.getByRole('button', { name: 'Envoyer' }).click();
    await expect.poll(() => box.locator('p.ok').textContent(), POLL).toMatch(/pour 1 destinataire/);
    await op.drain();
    expect(op.messages(COLLEAGUES.a).some((b) => b.includes(`In-Reply-To: ${answer.messageId}`))).toBe(true);
  }, 180_000);

  it('offline, the inbox and the message already read stay readable, from the copies sealed under the card', async () => {
    // The operator's side cut (the relay's MSSanté routes), the loopback kept: the card bridge is on it.
    const cut = (route: { abort(code: string): Promise<void> }) => route.abort('internetdisconnected');
    await page.route('**/api/relay/mss/**', cut);
    try {
      await page.reload();
      // A reload locks the session: the PIN again, then the vault opens the sealed copies.
      const pin = page.getByLabel('Code porteur de la CPS');
      await expect.poll(() => pin.isVisible(), POLL).toBe(true);
      await pin.fill('1234');
      await pin.press('Enter');
      const box = page.getByRole('region', { name: 'Messagerie sécurisée de santé' });
      await expect.poll(() => box.isVisible(), POLL).toBe(true);
      if (SHOTS) await page.screenshot({ path: join(SHOTS, 'messagerie-hors-connexion.png'), fullPage: true });
      await expect.poll(() => box.getByText('Hors connexion : boîte telle que lue la dernière fois.').first().isVisible(), POLL).toBe(true);
      const inbox = box.getByRole('list', { name: 'Boîte de réception' });
      await inbox.getByRole('button', { name: /Re: Compte rendu de consultation/ }).click();
      await expect.poll(() => page.getByRole('article', { name: 'Message' }).locator('pre.body').textContent(), POLL).toMatch(/Bien reçu, merci\./);
      // What is kept is sealed: no subject in clear in IndexedDB.
      const clear = await page.evaluate(async () => {
        const db = await new Promise<IDBDatabase>((res, rej) => { const r = indexedDB.open('teletrans-mss'); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
        const all = await new Promise<unknown[]>((res) => { const r = db.transaction('inbox').objectStore('inbox').getAll(); r.onsuccess = () => res(r.result as unknown[]); });
        return JSON.stringify(all, (_k, v: unknown) => (v instanceof Uint8Array ? new TextDecoder('latin1').decode(v) : v));
      });
      expect(clear).not.toMatch(/Compte rendu|dr\.autre/);
    } finally {
      await page.unroute('**/api/relay/mss/**', cut);
    }
  }, 120_000);
});
