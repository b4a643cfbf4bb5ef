/**
 * End-to-end: the PWA refreshes its trust store from a real directory. The production build
 * (`node build`) serves the pages and the relay's directory endpoint, which reads a private
 * slapd shaped like the GIE SESAM-Vitale directory (test/directory/slapd.ts); Chromium drives
 * the « Certificats » page. Nothing answers in the endpoint's place: the browser's fetcher reads
 * what the server writes (src/lib/trust/directory-wire.ts).
 *
 * The page's clock starts at 23:00 Paris, outside the automatic CRL window: what the
 * practitioner asks for is fetched at once, whatever the hour.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Locator, Page } from 'playwright-core';
import { formatWall } from '../../src/lib/time/zoned-time';
import { launchChromium } from '../browser/harness';
import { CA_DN, RECIPIENT_MAILBOX, type RunningSlapd, type SesamTestDirectory, buildSesamTestDirectory, crlUrls, freePort, startSlapd } from '../directory/slapd';
import { nextParisWall, pemOf } from '../trust/world';
import { type PrivateBuild, type RunningApp, buildApp, startApp } from './app-server';

const POLL = { timeout: 20_000, interval: 100 };

interface StoredCrl {
  issuer: string;
  crlNumber?: string;
  sourceUrl?: string;
}
interface StoredRecipient {
  recipient: string;
  /** The DER as plain numbers (what crosses page.evaluate). */
  der: number[];
}

/** What the page's IndexedDB holds (the store the trust service commits to). */
function stored(page: Page): Promise<{ crls: StoredCrl[]; recipients: StoredRecipient[] }> {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('teletrans-trust');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const tx = db.transaction(['crls', 'recipients'], 'readonly');
          const crls = tx.objectStore('crls').getAll();
          const recipients = tx.objectStore('recipients').getAll();
          tx.oncomplete = () => {
            db.close();
            const rs = recipients.result as { recipient: string; der: Uint8Array }[];
            resolve({ crls: crls.result as StoredCrl[], recipients: rs.map((r) => ({ recipient: r.recipient, der: Array.from(r.der) })) });
          };
          tx.onerror = () => reject(tx.error);
        };
      })
  );
}

describe('directory refresh through the real endpoint and slapd (production build)', () => {
  let directory: SesamTestDirectory;
  let slapd: RunningSlapd;
  let build: PrivateBuild;
  let app: RunningApp;
  let browser: Browser;
  let urls: { root: string; ca: string };

  beforeAll(async () => {
    // The certificates name their CRLs on this slapd: its port is chosen first.
    const port = await freePort();
    urls = crlUrls(port);
    directory = buildSesamTestDirectory({ ldapPort: port, previousCaCrl: true });
    [slapd, build, browser] = await Promise.all([startSlapd(directory.ldif, { port }), buildApp(), launchChromium()]);
    app = await startApp(build.server, { TELETRANS_DIRECTORY_ALLOW: `127.0.0.1:${port}` });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    build?.remove();
    await slapd?.stop();
    if (directory) rmSync(directory.pki.root, { recursive: true, force: true });
  });

  it('« Mettre à jour maintenant » at 23:00 brings the recipient’s certificate and the new CRL from slapd', async () => {
    const context = await browser.newContext({ locale: 'fr-FR' });
    // Watched, not answered: every directory request goes to the server.
    const asked: string[] = [];
    context.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname === '/api/directory/fetch') asked.push(url.searchParams.get('url') ?? '');
    });
    const page = await context.newPage();
    // The OpenSSL certificates and CRLs start now (real time): the page's 23:00 is after that.
    const start = nextParisWall(Date.now(), 23 * 60);
    await page.clock.install({ time: start });
    try {
      await page.goto(`${app.url}/certificats`);
      await expect.poll(() => page.getByText('Aucune autorité de certification n’est installée').isVisible(), POLL).toBe(true);
      expect(formatWall(await page.evaluate(() => Date.now())).slice(11, 13)).toBe('23');

      // The hierarchy and the CA's CRL n° 01, from files.
      const results = page.getByRole('list', { name: 'Résultat des imports' });
      const files = [
        { name: 'hierarchie-test.pem', mimeType: 'application/x-pem-file', buffer: Buffer.from(pemOf(directory.rootCert) + pemOf(directory.caCert)) },
        { name: 'ac-facturation-test.crl', mimeType: 'application/pkix-crl', buffer: Buffer.from(directory.caCrlPrevious!) }
      ];
      for (const file of files) {
        await page.locator('input[type="file"]').setInputFiles(file);
        await expect.poll(() => results.getByRole('list', { name: `Éléments de ${file.name}` }).getByRole('listitem').first().getAttribute('data-outcome'), POLL).toBe('stored');
      }
      const crlOf = (cn: string): Locator =>
        page.getByRole('list', { name: 'Listes de révocation installées' }).getByRole('listitem').filter({ has: page.getByRole('heading', { name: `LCR de ${cn}` }) });
      const numberOf = (item: Locator) => item.locator('dt', { hasText: 'Numéro de LCR' }).locator('xpath=following-sibling::dd[1]').textContent();
      await expect.poll(() => numberOf(crlOf('AC-FACTURATION-TEST')), POLL).toBe('01');
      expect(await crlOf('AC-SESAM-VITALE-TEST-2034').count()).toBe(0);
      expect(asked).toEqual([]); // 23:00: the schedule fetched nothing by itself

      // The recipient, by its mailbox on the directory: added and downloaded at once.
      const sources = page.getByRole('region', { name: /^Adresses d’annuaire/ });
      const recipientUrl = `${slapd.url}/${CA_DN},cn=${RECIPIENT_MAILBOX}/certificate`;
      await sources.getByLabel('Adresse de messagerie du destinataire').fill(RECIPIENT_MAILBOX);
      await sources.getByLabel('Adresse d’annuaire du certificat').fill(recipientUrl);
      await sources.getByRole('button', { name: 'Ajouter et télécharger' }).click();
      const recipient = page
        .getByRole('list', { name: 'Certificats des destinataires' })
        .getByRole('listitem')
        .filter({ has: page.getByRole('heading', { name: RECIPIENT_MAILBOX }) });
      await expect.poll(() => recipient.getAttribute('data-state'), POLL).toBe('valid');
      // The root's CRL (named by the CA certificate, never fetched) came with it, at 23:00.
      await expect.poll(() => crlOf('AC-SESAM-VITALE-TEST-2034').count(), POLL).toBe(1);
      expect(asked).toEqual(expect.arrayContaining([recipientUrl, urls.root]));

      // « Mettre à jour maintenant »: every source, from slapd; the directory has the CA's CRL n° 02.
      await page.getByRole('button', { name: 'Mettre à jour maintenant' }).click();
      const report = page.getByRole('list', { name: 'Résultat de la mise à jour' }).getByRole('listitem');
      const outcome = (url: string) => report.filter({ hasText: url }).getAttribute('data-outcome');
      await expect.poll(() => outcome(urls.ca), POLL).toBe('success');
      expect(await outcome(urls.root)).toBe('unchanged');
      expect(await outcome(recipientUrl)).toBe('unchanged');
      await expect.poll(() => numberOf(crlOf('AC-FACTURATION-TEST')), POLL).toBe('02');
      expect(await recipient.getAttribute('data-state')).toBe('valid');
      expect(asked.filter((u) => u === urls.ca)).toHaveLength(1);

      // The store itself: the new CRL, from the directory, and the recipient's certificate.
      const held = await stored(page);
      const caCrl = held.crls.find((c) => c.issuer.includes('CN=AC-FACTURATION-TEST'));
      expect(caCrl).toMatchObject({ crlNumber: '02', sourceUrl: urls.ca });
      expect(held.crls.find((c) => c.issuer.includes('CN=AC-SESAM-VITALE-TEST-2034'))).toMatchObject({ sourceUrl: urls.root });
      expect(held.recipients.map((r) => [r.recipient, Buffer.from(r.der).equals(Buffer.from(directory.recipientCert))])).toEqual([[RECIPIENT_MAILBOX, true]]);
    } finally {
      await context.close();
    }
  });
});
