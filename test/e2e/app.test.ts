/**
 * End-to-end: the production build served by `node build`, driven in Chromium.
 * Uses the PKITS data (test/fixtures/pkits/) for the « Certificats » scenarios.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../browser/harness';
import { pkitsDir } from '../pki/pkits-data';
import { buildApp, startApp, type PrivateBuild, type RunningApp } from './app-server';
import { INSURER_ADDR, PRACTITIONER_ADDR, startMailServers, type MailServers } from '../relay/fixtures/mail';
import { ORIGIN, composeTestMessage, configJson, login, makeIgcSante, relayConfig } from '../relay/fixtures/relay';

const PKITS_CERTS = join(pkitsDir, 'certs');
const PKITS_CRLS = join(pkitsDir, 'crls');
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

interface Manifest {
  name: string;
  lang: string;
  display: string;
  start_url: string;
  icons: { src: string; sizes: string; type: string }[];
}

describe('Teletrans PWA (production build)', () => {
  let build: PrivateBuild;
  let app: RunningApp;
  let browser: Browser;

  beforeAll(async () => {
    [build, browser] = await Promise.all([buildApp(), launchChromium()]);
    app = await startApp(build.server);
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    build?.remove();
  });

  it('runs the relay inside the node server: CPS login, durable intake, SMTP delivery to Postfix', async () => {
    const [mail, pki]: [MailServers, Awaited<ReturnType<typeof makeIgcSante>>] = await Promise.all([startMailServers(), makeIgcSante()]);
    const dir = mkdtempSync(join(tmpdir(), 'teletrans-e2e-relay-'));
    let relayApp: RunningApp | null = null;
    try {
      const config = relayConfig(pki, { host: '127.0.0.1', port: mail.smtpPort, security: 'starttls', tls: { ca: mail.pki.caPem, servername: 'localhost' } },
        { delivery: { pollMs: 100 } });
      writeFileSync(join(dir, 'relay.json'), configJson(config));
      // BODY_SIZE_LIMIT as scripts/start.sh (npm start) sets it.
      relayApp = await startApp(build.server, { TELETRANS_RELAY_CONFIG: join(dir, 'relay.json'), TELETRANS_RELAY_SQLITE: join(dir, 'relay.sqlite'),
        BODY_SIZE_LIMIT: '16M' });
      const base = relayApp.url;
      const lr = await login(async (q) => fetch(q.url.replace('http://relay.test', base), { method: q.method, headers: q.headers, body: await q.arrayBuffer() }),
        pki.leaf, pki.leafKey);
      expect(lr.status).toBe(200);
      const { token } = (await lr.json()) as { token: string };
      // A 1 MiB lot: above adapter-node's 512 KiB default body limit.
      const m = composeTestMessage({ from: PRACTITIONER_ADDR, to: INSURER_ADDR, size: 1024 * 1024 });
      const post = (): Promise<Response> => fetch(`${base}/api/relay/messages`, { method: 'POST', body: Buffer.from(m.bytes),
        headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'e2e-relay-0001', 'content-type': 'message/rfc822' } });
      const first = await post();
      expect(first.status).toBe(202);
      const { id } = (await first.json()) as { id: string };
      const again = await post();
      expect(again.status).toBe(202);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      let status = '';
      for (let i = 0; i < 100 && status !== 'delivered'; i++) {
        const r = await fetch(`${base}/api/relay/messages/${id}`, { headers: { authorization: `Bearer ${token}` } });
        status = ((await r.json()) as { status: string }).status;
        if (status !== 'delivered') await new Promise((res) => setTimeout(res, 100));
      }
      expect(status).toBe('delivered');
      await mail.drain();
      expect(mail.messages(INSURER_ADDR).filter((b) => b.toString('latin1').includes(m.messageId)).length).toBe(1);
      const anonymous = await fetch(`${base}/api/relay/messages`);
      expect(anonymous.status).toBe(401);
    } finally {
      await relayApp?.stop();
      mail.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts the relay with the server on its embedded defaults (npm start): demo credential, SQLite, local test peer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'teletrans-e2e-demo-'));
    let demoApp: RunningApp | null = null;
    try {
      demoApp = await startApp(build.server, { TELETRANS_RELAY_DEMO_DIR: dir, TELETRANS_RELAY_ORIGINS: ORIGIN, BODY_SIZE_LIMIT: '16M' });
      // Made at server start, before any request: the relay does not wait to be called.
      expect(existsSync(join(dir, 'practitioner.key'))).toBe(true);
      expect(statSync(join(dir, 'practitioner.key')).mode & 0o777).toBe(0o600);
      const base = demoApp.url;
      const pemDer = (text: string, label: string): Uint8Array<ArrayBuffer> =>
        new Uint8Array(Buffer.from(new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`).exec(text)![1]!.replace(/\s+/g, ''), 'base64'));
      const cert = pemDer(readFileSync(join(dir, 'practitioner.pem'), 'utf8'), 'CERTIFICATE');
      const privateKey = await crypto.subtle.importKey('pkcs8', pemDer(readFileSync(join(dir, 'practitioner.key'), 'utf8'), 'PRIVATE KEY'),
        { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
      const lr = await login(async (q) => fetch(q.url.replace('http://relay.test', base), { method: q.method, headers: q.headers, body: await q.arrayBuffer() }),
        cert, { privateKey } as Parameters<typeof login>[2]);
      expect(lr.status).toBe(200);
      const { token } = (await lr.json()) as { token: string };
      const to = 'amo_pj.test@test.rss.fr';
      const m = composeTestMessage({ from: 'ps.demo@teletrans.test', to, size: 4096 });
      const r = await fetch(`${base}/api/relay/messages`, { method: 'POST', body: Buffer.from(m.bytes),
        headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'e2e-demo-00001', 'content-type': 'message/rfc822' } });
      expect(r.status).toBe(202);
      const inbox = join(dir, 'peer-mail', to);
      for (let i = 0; i < 100 && !(existsSync(inbox) && readdirSync(inbox).some((f) => f.endsWith('.eml'))); i++) await new Promise((res) => setTimeout(res, 100));
      const files = readdirSync(inbox).filter((f) => f.endsWith('.eml'));
      expect(files).toHaveLength(1);
      expect(readFileSync(join(inbox, files[0]!), 'latin1')).toContain(m.messageId);
      // A real insurer address is not among the demo's allowed recipients.
      const real = composeTestMessage({ from: 'ps.demo@teletrans.test', to: 'amo_pj.reel@reel.rss.fr', size: 10 });
      expect((await fetch(`${base}/api/relay/messages`, { method: 'POST', body: Buffer.from(real.bytes),
        headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'e2e-demo-00002', 'content-type': 'message/rfc822' } })).status).toBe(422);

      // The browser's trust store starts with the demo hierarchy, marked as demonstration data.
      const bundle = await fetch(`${base}/api/demo/trust`);
      expect(bundle.status).toBe(200);
      const pemText = await bundle.text();
      expect(pemText.match(/BEGIN CERTIFICATE/g)).toHaveLength(4);
      expect(pemText.match(/BEGIN X509 CRL/g)).toHaveLength(2);
      expect(pemText).not.toContain('PRIVATE');
      const { context, page } = await newPage();
      try {
        await page.goto(`${base}/certificats`);
        for (const mailbox of ['amo_pj.test@test.rss.fr', 'amc_pj.test@test.rss.fr']) {
          const card = page.locator('li.recipient', { has: page.getByRole('heading', { name: mailbox }) });
          await card.waitFor({ timeout: 20_000 });
          expect(await card.textContent()).toContain('démonstration, fictif');
          expect(await card.getAttribute('data-state')).toBe('valid');
        }
        expect(await page.getByRole('heading', { name: 'Test (GIE SESAM-Vitale)' }).count()).toBe(1);
      } finally {
        await context.close();
      }
    } finally {
      await demoApp?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ locale: 'fr-FR' });
    const page = await context.newPage();
    return { context, page };
  }

  it('says whether this workstation’s data is safe from eviction, and asks the browser to keep it', async () => {
    const { context, page } = await newPage();
    try {
      await page.goto(app.url);
      const notice = page.getByRole('region', { name: 'Données de ce poste' });
      await notice.waitFor({ timeout: 20_000 });
      const before = await notice.getAttribute('data-level');
      expect(['ask', 'ok']).toContain(before);
      if (before === 'ask') {
        await notice.getByRole('button', { name: 'Protéger les données de ce poste' }).click();
        await expect.poll(() => notice.getAttribute('data-level'), { timeout: 10_000 }).not.toBe('ask');
        // Chromium decides: kept, or refused with the fix said plainly.
        const after = await notice.getAttribute('data-level');
        const persisted = await page.evaluate(() => navigator.storage.persisted());
        expect(after).toBe(persisted ? 'ok' : 'warn');
        if (!persisted) expect(await notice.textContent()).toContain('Installez l’application');
      }
    } finally {
      await context.close();
    }
  });

  it('fails closed: a trust store that cannot be opened (a database of another version) blocks every page', async () => {
    const { context, page } = await newPage();
    try {
      await page.goto(app.url);
      await expect.poll(() => page.locator('main').getAttribute('data-integrity'), { timeout: 20_000 }).toBe('intact');
      // Another version of the database (a downgrade, a damaged upgrade): the app cannot open it.
      await page.evaluate(
        (name) =>
          new Promise<void>((resolve, reject) => {
            const r = indexedDB.open(name, 9999);
            r.onupgradeneeded = () => undefined;
            r.onsuccess = () => {
              r.result.close();
              resolve();
            };
            r.onerror = () => reject(r.error);
          }),
        'teletrans-trust',
      );
      const panel = page.getByRole('alert').filter({ hasText: 'Poste bloqué : magasin de confiance impossible à vérifier' });
      for (const path of ['/', '/cartes', '/facturer']) {
        await page.goto(`${app.url}${path}`);
        await expect.poll(() => panel.isVisible(), { timeout: 20_000 }).toBe(true);
        expect(await page.locator('main').getAttribute('data-integrity')).toBe('tampered');
        expect(await page.getByRole('button', { name: 'Appairer ce navigateur avec le pont' }).count()).toBe(0);
      }
    } finally {
      await context.close();
    }
  });

  it('serves no demonstration data outside the embedded defaults', async () => {
    const r = await fetch(`${app.url}/api/demo/trust`);
    expect(r.status).toBe(204);
    expect(await r.text()).toBe('');
  });

  it('serves the manifest and its icons', async () => {
    const response = await fetch(`${app.url}/manifest.webmanifest`);
    expect(response.status).toBe(200);
    const manifest = JSON.parse(await response.text()) as Manifest;
    expect(manifest).toMatchObject({ name: 'Teletrans', lang: 'fr', display: 'standalone', start_url: '/' });
    const sizes = manifest.icons.map((icon) => icon.sizes);
    expect(sizes).toEqual(expect.arrayContaining(['192x192', '512x512']));
    for (const icon of manifest.icons.filter((i) => i.type === 'image/png')) {
      const bytes = new Uint8Array(await (await fetch(new URL(icon.src, app.url))).arrayBuffer());
      expect(Array.from(bytes.subarray(0, 8))).toEqual(PNG_SIGNATURE);
    }
  });

  it('renders the French pages, registers the service worker and works offline', async () => {
    const { context, page } = await newPage();
    try {
      await page.goto(`${app.url}/`);
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Bienvenue dans Teletrans');
      expect(await page.evaluate(() => document.documentElement.lang)).toBe('fr');
      expect(await page.locator('link[rel="manifest"]').getAttribute('href')).toBe('/manifest.webmanifest');

      await page.getByRole('navigation').getByRole('link', { name: 'Certificats' }).click();
      await page.waitForURL(`${app.url}/certificats`);
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Certificats');

      const worker = await page.evaluate(async () => {
        const timeout = new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('no active service worker after 30 s')), 30_000)
        );
        const registration = await Promise.race([navigator.serviceWorker.ready, timeout]);
        return { scope: registration.scope, script: registration.active?.scriptURL };
      });
      expect(worker).toEqual({ scope: `${app.url}/`, script: `${app.url}/service-worker.js` });
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null);

      await context.setOffline(true);
      expect(await page.evaluate(() => navigator.onLine)).toBe(false);
      const offlineResponse = await page.reload();
      expect(offlineResponse?.fromServiceWorker()).toBe(true);
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Certificats');
      await expect.poll(() => page.getByText('Déposez ici vos certificats et LCR').isVisible()).toBe(true);

      // Offline navigations render too: to a route not loaded before (the worker serves the
      // shell under its cached headers, Content-Security-Policy included), and through the
      // client-side router.
      const offlineNavigation = await page.goto(`${app.url}/certificats/journal`);
      expect(offlineNavigation?.fromServiceWorker()).toBe(true);
      expect(offlineNavigation?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Journal d’audit');
      await page.getByRole('navigation', { name: 'Navigation principale' }).getByRole('link', { name: 'Cartes' }).click();
      await page.waitForURL(`${app.url}/cartes`);
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Cartes');
    } finally {
      await context.close();
    }
  });

  it('runs the trust schedules in the service worker on a periodic background sync', async () => {
    const { context, page } = await newPage();
    try {
      await page.goto(`${app.url}/certificats`);
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 30_000 });
      await page.evaluate(() => {
        const w = window as unknown as { trustSyncs: number };
        w.trustSyncs = 0;
        navigator.serviceWorker.addEventListener('message', (e: MessageEvent<{ type?: string }>) => {
          if (e.data?.type === 'teletrans-trust-refreshed') w.trustSyncs++;
        });
      });
      // Chromium fires periodic syncs only for installed PWAs on its own schedule; the
      // DevTools protocol dispatches the very event the browser would.
      const cdp = await context.newCDPSession(page);
      const registrationId = new Promise<string>((resolve) => {
        cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }: { registrations: Array<{ registrationId: string; scopeURL: string }> }) => {
          const r = registrations.find((x) => x.scopeURL === `${app.url}/`);
          if (r) resolve(r.registrationId);
        });
      });
      await cdp.send('ServiceWorker.enable');
      await cdp.send('ServiceWorker.dispatchPeriodicSyncEvent', { origin: app.url, registrationId: await registrationId, tag: 'teletrans-trust-refresh' });
      await expect.poll(() => page.evaluate(() => (window as unknown as { trustSyncs: number }).trustSyncs), { timeout: 20_000 }).toBe(1);
      // Another tag is not ours: nothing runs.
      await cdp.send('ServiceWorker.dispatchPeriodicSyncEvent', { origin: app.url, registrationId: await registrationId, tag: 'other' });
      await page.waitForTimeout(500);
      expect(await page.evaluate(() => (window as unknown as { trustSyncs: number }).trustSyncs)).toBe(1);
    } finally {
      await context.close();
    }
  });

  it('shows the « Cartes » page, which says when the card bridge cannot be reached', async () => {
    const { context, page } = await newPage();
    try {
      await page.goto(`${app.url}/`);
      await page.getByRole('navigation').getByRole('link', { name: 'Cartes' }).click();
      await page.waitForURL(`${app.url}/cartes`);
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Cartes');
      // Not paired yet: the page offers pairing. No bridge listens in this test, so pairing
      // must end with a French refusal rather than hang or fail silently.
      await expect.poll(() => page.getByText(/État du pont/).textContent(), { timeout: 20_000 }).toContain('non appairé');
      await page.getByRole('button', { name: 'Appairer ce navigateur avec le pont' }).click();
      await expect.poll(() => page.getByRole('status').textContent(), { timeout: 20_000 }).toBe('Appairage refusé ou interrompu.');
      expect(await page.getByText('Session verrouillée : insérez votre CPS.').isVisible()).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('verifies a PKITS chain through the « Certificats » page', async () => {
    const { context, page } = await newPage();
    try {
      await page.goto(`${app.url}/certificats/verifier`);
      const fileInput = page.locator('input[type="file"]');
      await fileInput.setInputFiles([
        join(PKITS_CERTS, 'TrustAnchorRootCertificate.crt'),
        join(PKITS_CERTS, 'GoodCACert.crt'),
        join(PKITS_CERTS, 'ValidCertificatePathTest1EE.crt'),
        join(PKITS_CRLS, 'TrustAnchorRootCRL.crl'),
        join(PKITS_CRLS, 'GoodCACRL.crl')
      ]);
      const items = page.getByRole('list', { name: 'Fichiers chargés' }).getByRole('listitem');
      await expect.poll(() => items.count()).toBe(5);
      expect(await items.filter({ hasText: 'TrustAnchorRootCRL.crl' }).textContent()).toContain('LCR');
      expect(await items.filter({ hasText: 'GoodCACert.crt' }).textContent()).toContain('Certificat');

      const role = (file: string) => page.getByLabel(`Rôle de ${file}`);
      await role('TrustAnchorRootCertificate.crt').selectOption({ label: 'Ancre de confiance' });
      await role('GoodCACert.crt').selectOption({ label: 'Intermédiaire' });
      await role('ValidCertificatePathTest1EE.crt').selectOption({ label: 'Certificat à vérifier' });
      await page.getByLabel(/Date de validation/).fill('2020-06-01T12:00');

      const verifyButton = page.getByRole('button', { name: 'Vérifier' });
      await verifyButton.click();
      const verdict = page.getByRole('heading', { level: 2, name: /^Chaîne (in)?valide$/ });
      await expect.poll(() => verdict.textContent()).toBe('Chaîne valide');
      const path = page.getByRole('list', { name: 'Chemin de certification' }).getByRole('listitem');
      expect(await path.count()).toBe(3);
      expect(await path.nth(0).textContent()).toContain('Certificat à vérifier');
      expect(await path.nth(1).textContent()).toContain('Intermédiaire');
      expect(await path.nth(2).textContent()).toContain('Ancre de confiance');

      // Same chain with a leaf whose signature is broken.
      await page.getByRole('button', { name: 'Retirer ValidCertificatePathTest1EE.crt' }).click();
      await expect.poll(() => items.count()).toBe(4);
      await expect.poll(() => verdict.count()).toBe(0);
      await fileInput.setInputFiles(join(PKITS_CERTS, 'InvalidEESignatureTest3EE.crt'));
      await role('InvalidEESignatureTest3EE.crt').selectOption({ label: 'Certificat à vérifier' });
      await verifyButton.click();
      await expect.poll(() => verdict.textContent()).toBe('Chaîne invalide');
      const errors = page.getByRole('region', { name: 'Erreurs' }).getByRole('listitem');
      expect(await errors.count()).toBeGreaterThan(0);
      const firstError = (await errors.first().textContent()) ?? '';
      expect(firstError).toMatch(/signature/i);
      const message = (await errors.first().locator('.message').textContent()) ?? '';
      expect(message.trim().length).toBeGreaterThan(10);
      expect(message).not.toMatch(/^[a-z_]+$/); // a sentence for people, not the code
    } finally {
      await context.close();
    }
  });

  it('shows a decoding error next to the file name and keeps the other files', async () => {
    const { context, page } = await newPage();
    try {
      await page.goto(`${app.url}/certificats/verifier`);
      await page.locator('input[type="file"]').setInputFiles([
        { name: 'GoodCACert.crt', mimeType: 'application/pkix-cert', buffer: readFileSync(join(PKITS_CERTS, 'GoodCACert.crt')) },
        { name: 'illisible.pem', mimeType: 'application/x-pem-file', buffer: Buffer.from('pas un certificat\n') }
      ]);
      const items = page.getByRole('list', { name: 'Fichiers chargés' }).getByRole('listitem');
      await expect.poll(() => items.count()).toBe(2);
      const broken = items.filter({ hasText: 'illisible.pem' });
      expect(await broken.textContent()).toContain('Fichier illisible');
      expect(((await broken.getByRole('alert').textContent()) ?? '').trim().length).toBeGreaterThan(10);
      expect(await items.filter({ hasText: 'GoodCACert.crt' }).textContent()).toContain('Certificat');
    } finally {
      await context.close();
    }
  });
});
