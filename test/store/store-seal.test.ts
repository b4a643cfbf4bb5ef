/**
 * Issue 24 defect 3, the store's part: the trust records are sealed in the audit chain
 * (src/lib/trust/service/store-seal.ts), in Chromium over IndexedDB. Each attack of the issue,
 * done to the stored data behind the application's back, is detected by the next tab and
 * blocks: a recipient's DER swapped for a self-signed certificate on another key (what lots
 * would be encrypted to), a recipient filed under another mailbox, the whole journal deleted
 * while the CAs stay, and — with the journal's own key, as a same-origin script can — the
 * root's load record dropped or CA subjects renamed, then everything resealed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../browser/harness.js';
import { genKey, issueCert } from '../pki/fixtures/forge.js';
import { type World, MAILBOX, b64, makeWorld, pemOf } from '../trust/world.js';
import { adminCard } from './admin-card.js';
import { type SameOriginSession, openSameOriginSession } from './same-origin.js';
import { freshTab, openIn } from './tabs.js';

type TrustPageModule = typeof import('./entry.js');
declare const TrustPage: TrustPageModule;

let browser: Browser;
let world: World;
let crl: Uint8Array;
let leaf: Uint8Array;
let impostor: Uint8Array;

beforeAll(async () => {
  [browser, world] = await Promise.all([launchChromium(), makeWorld()]);
  crl = await world.crl({ ca: 'testInter' });
  leaf = await world.leaf({ email: MAILBOX.amoTest, serial: 4242 });
  // Same subject as the insurer's certificate, another key, signed by itself.
  impostor = await issueCert({ subject: `CN=${MAILBOX.amoTest},O=sesam-vitale,C=FR`, key: await genKey() });
});

afterAll(async () => {
  await browser?.close();
});


/** A workstation with the test hierarchy, its CRL and the AMO test recipient, imported through the service. */
async function workstation(): Promise<{ s: SameOriginSession; page: Page }> {
  const s = await openSameOriginSession(browser, 'test/store/entry.ts', 'TrustPage');
  const page = await s.open();
  await openIn(page, world.now);
  const outcomes = await page.evaluate(async ([chain, c, l]) => {
    const t = TrustPage.trust();
    const out = (await t.importFile(chain!)).map((r) => r.outcome);
    out.push((await t.importCrl(TrustPage.bytes(c!))).outcome);
    out.push(...(await t.importFile(TrustPage.bytes(l!))).map((r) => r.outcome));
    return out;
  }, [pemOf(world.der.testRoot) + pemOf(world.der.testInter), b64(crl), b64(leaf)]);
  expect(outcomes).toEqual(['stored', 'stored', 'stored', 'stored']);
  expect(await page.evaluate(() => TrustPage.trust().verifyAudit())).toMatchObject({ ok: true, mac: 'verified' });
  return { s, page };
}


/** What encryption would use for the AMO test mailbox: refused while blocked. */
const certificateFor = (page: Page): ReturnType<TrustPageModule['outcome']> =>
  page.evaluate((m) => TrustPage.outcome(() => TrustPage.trust().certificateFor(m)?.fingerprint), MAILBOX.amoTest);

describe('the trust records sealed in the journal (issue 24 defect 3)', () => {
  it('an untouched workstation opens intact, its recipient usable; the journal holds a seal per trust record', async () => {
    const { s, page } = await workstation();
    try {
      const { page: tab, integrity } = await freshTab(s, world.now);
      expect(integrity).toEqual({ state: 'intact' });
      expect(await certificateFor(tab)).toMatchObject({ ok: true });
      const seals = await page.evaluate(async () => (await TrustPage.trust().auditView()).records.filter((r) => r.event === 'trust.seal').map((r) => r.details?.store).sort());
      expect(seals).toEqual(['cas', 'cas', 'crlIndex', 'crls', 'recipients', 'settings']);
    } finally {
      await s.close();
    }
  });

  it('a recipient\'s DER swapped for a self-signed certificate on another key, same subject: detected, encryption refused', async () => {
    const { s, page } = await workstation();
    try {
      await page.evaluate(([m, d]) => TrustPage.attacks.swapRecipientDer(m!, TrustPage.bytes(d!)), [MAILBOX.amoTest, b64(impostor)]);
      const { page: tab, integrity } = await freshTab(s, world.now);
      expect(integrity).toMatchObject({ state: 'tampered', problem: 'store_unsealed' });
      expect((integrity as { message: string }).message).toMatch(/empreinte/);
      expect(await certificateFor(tab)).toMatchObject({ ok: false, code: 'audit_integrity_failed' });
      // The tab that was open notices at its next reload of the store.
      await page.evaluate(() => TrustPage.trust().reload().catch(() => undefined));
      expect(await page.evaluate(() => TrustPage.trust().integrity())).toMatchObject({ state: 'tampered', problem: 'store_unsealed' });
    } finally {
      await s.close();
    }
  });

  it('a recipient filed under another mailbox: detected', async () => {
    const { s, page } = await workstation();
    try {
      await page.evaluate(([a, b]) => TrustPage.attacks.redirectRecipient(a!, b!), [MAILBOX.amoTest, MAILBOX.amcTest]);
      expect((await freshTab(s, world.now)).integrity).toMatchObject({ state: 'tampered', problem: 'store_unsealed' });
    } finally {
      await s.close();
    }
  });

  it('the journal deleted with its key, check, head and witness while the CAs stay: journal_missing, blocked — not « Journal vide »', async () => {
    const { s, page } = await workstation();
    try {
      await page.evaluate(() => TrustPage.attacks.deleteJournal());
      const { page: tab, integrity } = await freshTab(s, world.now);
      expect(integrity).toMatchObject({ state: 'tampered', problem: 'journal_missing' });
      expect(await certificateFor(tab)).toMatchObject({ ok: false, code: 'audit_integrity_failed' });
      expect(await tab.evaluate(() => TrustPage.trust().verifyAudit())).toMatchObject({ ok: false, problem: 'journal_missing' });
    } finally {
      await s.close();
    }
  });

  it('with the journal\'s own key: the root\'s load record dropped and resealed, or CA subjects renamed and resealed — detected', async () => {
    const { s, page } = await workstation();
    try {
      await page.evaluate(() =>
        TrustPage.attacks.resealWithStoredKey((rs) => {
          const root = rs.findIndex((r) => r.event === 'ca.load' && r.details?.role === 'root');
          return rs.filter((_, i) => i !== root);
        }),
      );
      const { integrity } = await freshTab(s, world.now);
      expect(integrity).toMatchObject({ state: 'tampered', problem: 'store_unsealed' });
      expect((integrity as { message: string }).message).toMatch(/enregistrement de chargement/);
    } finally {
      await s.close();
    }
    const second = await workstation();
    try {
      await second.page.evaluate(() =>
        TrustPage.attacks.resealWithStoredKey((rs) => rs.map((r) => (r.event === 'ca.load' && r.object?.subject ? { ...r, object: { ...r.object, subject: 'CN=AC RENOMMEE,O=sesam-vitale,C=FR' } } : r))),
      );
      const { integrity } = await freshTab(second.s, world.now);
      expect(integrity).toMatchObject({ state: 'tampered', problem: 'store_unsealed' });
      expect((integrity as { message: string }).message).toMatch(/autre nom/);
    } finally {
      await second.s.close();
    }
  });

  it('the administrator\'s reset starts the new journal with a seal of what is stored: the next tab opens intact', async () => {
    const { s, page } = await workstation();
    try {
      await page.evaluate(() => TrustPage.attacks.rewriteRecord(3));
      const { page: tab, integrity } = await freshTab(s, world.now);
      expect(integrity).toMatchObject({ state: 'tampered', problem: 'forged' });
      expect(await tab.evaluate((c) => TrustPage.outcome(() => TrustPage.resetWithCard(c)), await adminCard())).toMatchObject({ ok: true });
      const after = await freshTab(s, world.now);
      expect(after.integrity).toEqual({ state: 'intact' });
      expect(await certificateFor(after.page)).toMatchObject({ ok: true });
    } finally {
      await s.close();
    }
  });
});
