/**
 * The audit journal's seal in Chromium over IndexedDB (docs/domain/security.md SP1), attacked the way
 * someone editing the stored data would (test/store/attacks.ts): (a) a record rewritten and
 * the plain hash chain recomputed, (b) the key deleted, (c) the key replaced by a fresh one
 * and everything resealed, (d) the head and `audit-mac-from` edited in meta, (e) the last
 * records deleted. Each is detected by a tab opened afterwards, and the detection blocks the
 * sensitive functions with the typed error `audit_integrity_failed` until the administrator's
 * reset, after which they work again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../browser/harness.js';
import { type World, b64, makeWorld, pemOf } from '../trust/world.js';
import { createHash } from 'node:crypto';
import { type AdminCard, adminCard } from './admin-card.js';
import { type SameOriginSession, openSameOriginSession } from './same-origin.js';
import { freshTab, openIn } from './tabs.js';

type TrustPageModule = typeof import('./entry.js');
declare const TrustPage: TrustPageModule;

let browser: Browser;
let world: World;
let card: AdminCard;

beforeAll(async () => {
  [browser, world, card] = await Promise.all([launchChromium(), makeWorld(), adminCard()]);
});

afterAll(async () => {
  await browser?.close();
});


/** A session whose journal holds a few records: the test chain imported, sessions logged. */
async function journal(): Promise<{ s: SameOriginSession; page: Page }> {
  const s = await openSameOriginSession(browser, 'test/store/entry.ts', 'TrustPage');
  const page = await s.open();
  await openIn(page, world.now);
  await page.evaluate(async (chain) => {
    const t = TrustPage.trust();
    await t.importFile(chain);
    for (let i = 0; i < 3; i++) await t.log({ event: 'session.open', outcome: 'success' });
  }, pemOf(world.der.testRoot) + pemOf(world.der.testInter));
  expect(await page.evaluate(() => TrustPage.trust().verifyAudit())).toMatchObject({ ok: true, mac: 'verified' });
  return { s, page };
}


/** An import of a CA (a trust-state change) in `page`: how it ended. */
function importCa(page: Page, der: string): ReturnType<TrustPageModule['outcome']> {
  return page.evaluate((d) => TrustPage.outcome(async () => (await TrustPage.trust().importCa(TrustPage.bytes(d))).outcome), der);
}

describe('attacks on the stored journal, detected by the next tab', () => {
  it('(a) a record rewritten and the plain hash chain recomputed', async () => {
    const { s, page } = await journal();
    try {
      await page.evaluate(() => TrustPage.attacks.rewriteRecord(2));
      const { integrity } = await freshTab(s, world.now);
      expect(integrity).toMatchObject({ state: 'tampered', problem: 'forged', seq: 2 });
    } finally {
      await s.close();
    }
  });

  it('(b) the key deleted, alone or with its check', async () => {
    const { s, page } = await journal();
    try {
      await page.evaluate(() => TrustPage.attacks.deleteKey());
      expect((await freshTab(s, world.now)).integrity).toMatchObject({ state: 'tampered', problem: 'key_missing' });
      await page.evaluate(() => TrustPage.attacks.deleteKey(true));
      expect((await freshTab(s, world.now)).integrity).toMatchObject({ state: 'tampered', problem: 'key_missing' });
    } finally {
      await s.close();
    }
  });

  it('(c) the key replaced by a fresh one and every record and the head resealed', async () => {
    const { s, page } = await journal();
    try {
      // The records and the head verify under the new key, but the key check does not.
      await page.evaluate(() => TrustPage.attacks.replaceKeyAndReseal({ forgeCheck: false, rewriteSeq: 1 }));
      expect((await freshTab(s, world.now)).integrity).toMatchObject({ state: 'tampered', problem: 'key_check' });
      // The check forged with the new key too: everything in IndexedDB is consistent; the
      // witness kept outside the database does not match.
      await page.evaluate(() => TrustPage.attacks.replaceKeyAndReseal({ forgeCheck: true, rewriteSeq: 1 }));
      expect((await freshTab(s, world.now)).integrity).toMatchObject({ state: 'tampered', problem: 'key_replaced' });
      // The tab that was open during the attack holds the real key and tells as well.
      expect(await page.evaluate(() => TrustPage.trust().verifyAudit())).toMatchObject({ ok: false, problem: 'key_replaced' });
      expect(await page.evaluate(() => TrustPage.trust().integrity())).toMatchObject({ state: 'tampered' });
    } finally {
      await s.close();
    }
  });

  it('(d) the head and audit-mac-from edited in meta', async () => {
    const { s, page } = await journal();
    try {
      // The head moved back two records (its seal kept: it cannot be remade without the key).
      await page.evaluate(() => TrustPage.attacks.editHeadAndMacFrom({ headSeq: 3 }));
      expect((await freshTab(s, world.now)).integrity).toMatchObject({ state: 'tampered', problem: 'head' });
    } finally {
      await s.close();
    }
    const second = await journal();
    try {
      // audit-mac-from set past every record, which used to exempt them from their seals,
      // and a record's seal removed: the seal is still required.
      await second.page.evaluate(() => TrustPage.attacks.editHeadAndMacFrom({ macFrom: 1000, stripMacOf: 1 }));
      expect((await freshTab(second.s, world.now)).integrity).toMatchObject({ state: 'tampered', problem: 'unsealed', seq: 1 });
    } finally {
      await second.s.close();
    }
  });

  it('(e) the last records deleted, with or without moving the head', async () => {
    const { s, page } = await journal();
    try {
      const before = await page.evaluate(() => TrustPage.attacks.auditMeta());
      await page.evaluate(() => TrustPage.attacks.truncate(2, 'no'));
      expect((await freshTab(s, world.now)).integrity).toMatchObject({ state: 'tampered', problem: 'truncated' });
      await page.evaluate(() => TrustPage.attacks.truncate(1, 'keep-seal'));
      expect((await freshTab(s, world.now)).integrity).toMatchObject({ state: 'tampered', problem: 'head' });
      await page.evaluate(() => TrustPage.attacks.truncate(1, 'drop-seal'));
      expect((await freshTab(s, world.now)).integrity).toMatchObject({ state: 'tampered', problem: 'head' });
      expect((await page.evaluate(() => TrustPage.attacks.auditMeta())).records).toBe(before.records - 4);
    } finally {
      await s.close();
    }
  });

  it('the whole database deleted behind the application’s back (the witness remains)', async () => {
    const { s, page } = await journal();
    try {
      await page.evaluate(() => {
        TrustPage.trust().close();
        return TrustPage.attacks.deleteDatabase();
      });
      expect((await freshTab(s, world.now)).integrity).toMatchObject({ state: 'tampered', problem: 'key_missing' });
    } finally {
      await s.close();
    }
  });
});

describe('the block fails closed (issue 24 defect 4)', () => {
  it('a tampered journal plus one garbage record: the store opens blocked, never « intact », and refuses what is sensitive', async () => {
    const { s, page } = await journal();
    try {
      await page.evaluate(() => TrustPage.attacks.rewriteRecord(2));
      await page.evaluate(() => TrustPage.attacks.garbageCa());
      const { page: tab, integrity } = await freshTab(s, world.now);
      expect(integrity).toMatchObject({ state: 'tampered', problem: 'forged', seq: 2 });
      expect(await importCa(tab, b64(world.der.prodRoot))).toMatchObject({ ok: false, code: 'audit_integrity_failed' });
      expect(await tab.evaluate(() => TrustPage.outcome(() => TrustPage.trust().certificateFor('amo_pj.test@test.rss.fr')))).toMatchObject({ ok: false, code: 'audit_integrity_failed' });
    } finally {
      await s.close();
    }
  });

  it('a garbage record alone, with an intact journal: unverifiable, blocked — at open, and in a tab already open when it reads the store again', async () => {
    const { s, page } = await journal();
    try {
      await page.evaluate(() => TrustPage.attacks.garbageCa());
      const { page: tab, integrity } = await freshTab(s, world.now);
      expect(integrity).toMatchObject({ state: 'tampered', problem: 'unverifiable' });
      expect(await importCa(tab, b64(world.der.prodRoot))).toMatchObject({ ok: false, code: 'audit_integrity_failed', problem: 'unverifiable' });
      // The tab that was open: its next reload fails and latches the block (it was intact).
      expect(await page.evaluate(() => TrustPage.trust().integrity())).toMatchObject({ state: 'intact' });
      expect(await page.evaluate(() => TrustPage.outcome(() => TrustPage.trust().reload()))).toMatchObject({ ok: false });
      expect(await page.evaluate(() => TrustPage.trust().integrity())).toMatchObject({ state: 'tampered', problem: 'unverifiable' });
      expect(await importCa(page, b64(world.der.prodRoot))).toMatchObject({ ok: false, code: 'audit_integrity_failed' });
    } finally {
      await s.close();
    }
  });
});

describe('a tampered journal blocks the sensitive functions until the administrator acts', () => {
  it('refuses an import with audit_integrity_failed, then works again after the reset', async () => {
    const { s, page } = await journal();
    try {
      const before = await page.evaluate(() => TrustPage.attacks.auditMeta());
      await page.evaluate(() => TrustPage.attacks.rewriteRecord(1));
      const { page: tab, integrity } = await freshTab(s, world.now);
      expect(integrity).toMatchObject({ state: 'tampered', problem: 'forged' });

      // Trust-state changes and sensitive functions are refused, with the typed error.
      const refusedImport = await importCa(tab, b64(world.der.prodRoot));
      expect(refusedImport).toMatchObject({ ok: false, name: 'AuditIntegrityError', code: 'audit_integrity_failed', problem: 'forged' });
      expect(await tab.evaluate(() => TrustPage.outcome(() => TrustPage.trust().log({ event: 'session.open', outcome: 'success' })))).toMatchObject({ ok: false, code: 'audit_integrity_failed' });
      expect(await tab.evaluate(() => TrustPage.outcome(() => TrustPage.trust().refresh({ force: true })))).toMatchObject({ ok: false, code: 'audit_integrity_failed' });
      expect(await tab.evaluate(() => TrustPage.outcome(() => TrustPage.trust().certificateFor('amo_pj.test@test.rss.fr')))).toMatchObject({ ok: false, code: 'audit_integrity_failed' });
      expect(await tab.evaluate(() => TrustPage.outcome(() => TrustPage.trust().exportAudit()))).toMatchObject({ ok: false, code: 'audit_integrity_failed' });
      // Nothing was written by the refused operations.
      expect((await tab.evaluate(() => TrustPage.attacks.auditMeta())).records).toBe(before.records);
      expect(await tab.evaluate(() => TrustPage.trust().hierarchies().map((h) => h.hierarchy))).toEqual(['test']);

      // The reset needs an explicit confirmation, and the administrator's card with its PIN
      // (issue 24 defect 3): a confirmation alone, a card's signature certificate, or an
      // authorization for another journal are refused, and nothing is written.
      expect(await tab.evaluate(() => TrustPage.outcome(() => TrustPage.trust().resetAudit({ confirm: false })))).toMatchObject({ ok: false, name: 'AuditResetRefused', code: 'confirmation_required' });
      expect(await tab.evaluate(() => TrustPage.outcome(() => TrustPage.trust().resetAudit({ confirm: true })))).toMatchObject({ ok: false, name: 'AuditResetRefused', code: 'card_required' });
      expect(await tab.evaluate((c) => TrustPage.outcome(() => TrustPage.resetWithCard(c)), await adminCard(['nonRepudiation']))).toMatchObject({ ok: false, code: 'card_invalid' });
      expect(await tab.evaluate((c) => TrustPage.outcome(() => TrustPage.resetWithCard(c, '00000000-0000-4000-8000-000000000000')), card)).toMatchObject({ ok: false, code: 'card_invalid' });
      expect((await tab.evaluate(() => TrustPage.attacks.auditMeta())).records).toBe(before.records);
      const reset = await tab.evaluate((c) => TrustPage.outcome(() => TrustPage.resetWithCard(c)), card);
      expect(reset).toMatchObject({ ok: true, value: { count: before.records, problem: 'forged' } });
      const report = (reset as { value: { sha256: string; archive: string } }).value;
      expect(report.archive.trimEnd().split('\n')).toHaveLength(before.records + 1);
      expect(await tab.evaluate((text) => TrustPage.sha256HexSync(new TextEncoder().encode(text)), report.archive)).toBe(report.sha256);

      // A new sealed journal whose first record says the previous one failed, with the archive's
      // hash, then a seal of each trust record kept (2 CAs and the slot setting: store-seal.ts).
      const view = await tab.evaluate(() => TrustPage.trust().auditView());
      expect(view.integrity).toMatchObject({ ok: true, count: 4, mac: 'verified' });
      expect(view.records.slice(0, 3).map((r) => `${r.event}:${r.details?.reason}`)).toEqual(Array(3).fill('trust.seal:integrity'));
      expect(view.records[3]).toMatchObject({
        seq: 0,
        event: 'audit.reset',
        outcome: 'success',
        actor: 'user:7c9e6679-7425-40de-944b-e07fc1f90ae7',
        object: { kind: 'audit', fingerprint: report.sha256 },
        // The card that authorized it, by its certificate's fingerprint.
        details: { reason: 'integrity', code: 'forged', count: before.records, card: createHash('sha256').update(card.der).digest('hex') },
      });
      const meta = await tab.evaluate(() => TrustPage.attacks.auditMeta());
      expect(meta.archives).toEqual([{ sha256: report.sha256, count: before.records, problem: 'forged', lines: before.records + 1 }]);
      expect(meta.keys).not.toContain('audit-mac-from');

      // The import works again, and a new tab finds the journal intact.
      expect(await importCa(tab, b64(world.der.prodRoot))).toEqual({ ok: true, value: 'stored' });
      const { integrity: after } = await freshTab(s, world.now);
      expect(after).toEqual({ state: 'intact' });
      // A sound journal is never reset.
      expect(await tab.evaluate((c) => TrustPage.outcome(() => TrustPage.resetWithCard(c)), card)).toMatchObject({ ok: false, code: 'audit_intact' });
    } finally {
      await s.close();
    }
  });

  it('stays blocked in this tab when the data is put back, and another tab’s reset unblocks it', async () => {
    const { s, page } = await journal();
    try {
      const saved = await page.evaluate(() => TrustPage.openTrustDb().then(async (db) => ((r) => (db.close(), r))(await db.get('audit', 2))));
      await page.evaluate(() => TrustPage.attacks.rewriteRecord(2));
      expect(await page.evaluate(() => TrustPage.trust().verifyAudit())).toMatchObject({ ok: false, problem: 'forged' });
      // Putting the record back does not clear the state: only the administrator does.
      await page.evaluate(async (r) => {
        const db = await TrustPage.openTrustDb();
        await db.put('audit', r!);
        db.close();
      }, saved);
      expect(await importCa(page, b64(world.der.prodRoot))).toMatchObject({ ok: false, code: 'audit_integrity_failed' });
      // The administrator resets in another tab (which found the journal as it is now).
      const other = await s.open();
      await openIn(other, world.now);
      await other.evaluate(() => TrustPage.attacks.rewriteRecord(2));
      expect(await other.evaluate(() => TrustPage.trust().verifyAudit())).toMatchObject({ ok: false });
      expect(await other.evaluate((c) => TrustPage.outcome(() => TrustPage.resetWithCard(c)), card)).toMatchObject({ ok: true });
      // This tab adopts the new journal once it verifies it.
      expect(await page.evaluate(() => TrustPage.trust().verifyAudit())).toMatchObject({ ok: true, count: 4 });
      expect(await importCa(page, b64(world.der.prodRoot))).toEqual({ ok: true, value: 'stored' });
    } finally {
      await s.close();
    }
  });
});
