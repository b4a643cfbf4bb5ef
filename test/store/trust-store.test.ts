/**
 * The trust store in Chromium over IndexedDB: schema migrations from v1 to the latest,
 * imports of anchors, a CRL and a recipient certificate, the state after a reload and in a
 * new tab, a tab closed in the middle of an import (the previous state stays in force), two
 * tabs appending to the audit chain at once, and the audit chain verified in the browser.
 */
import { adminCard } from './admin-card.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../browser/harness.js';
import { MAILBOX, type World, b64, makeWorld, pemOf } from '../trust/world.js';
import { type SameOriginSession, openSameOriginSession } from './same-origin.js';

type TrustPageModule = typeof import('./entry.js');
declare const TrustPage: TrustPageModule;

const ENTRY = 'test/store/entry.ts';

let browser: Browser;
let world: World;

beforeAll(async () => {
  [browser, world] = await Promise.all([launchChromium(), makeWorld()]);
});

afterAll(async () => {
  await browser?.close();
});

async function session(): Promise<SameOriginSession> {
  return openSameOriginSession(browser, ENTRY, 'TrustPage');
}

/** Opens the service in a tab, at the world's clock. */
async function openIn(page: Page): Promise<void> {
  await page.evaluate(async (now) => {
    TrustPage.clock.now = now;
    await TrustPage.open();
  }, world.now);
}

const summary = (page: Page): ReturnType<TrustPageModule['summary']> => page.evaluate(() => TrustPage.summary());

describe('schema migrations', () => {
  it('upgrades a version-1 database to the latest, step by step, keeping its data usable', async () => {
    const s = await session();
    try {
      const page = await s.open();
      const crl = await world.crl({ ca: 'testInter', revoked: [31337], crlNumber: 5 });
      const leaf = await world.leaf({ email: MAILBOX.amoTest, serial: 4242 });
      await page.evaluate((d) => TrustPage.writeV1(d), {
        root: b64(world.der.testRoot),
        inter: b64(world.der.testInter),
        leaf: b64(leaf),
        crl: b64(crl),
        now: world.now,
      });
      const v1 = await page.evaluate(() => TrustPage.schema());
      expect(v1.version).toBe(1);
      expect(v1.stores.crls).toEqual({ keyPath: 'issuerKey', indexes: [] });
      expect(v1.stores.recipients!.indexes).toEqual(['mailbox']);

      // v2: the CRL re-keyed, its DER and a revocation index in their own stores.
      expect(await page.evaluate(() => TrustPage.upgradeTo(2))).toBe(2);
      const v2 = await page.evaluate(() => TrustPage.schema());
      expect(v2.stores.crls).toEqual({ keyPath: 'id', indexes: ['issuerKey'] });
      expect(Object.keys(v2.stores).sort()).toEqual(['audit', 'cas', 'crlDer', 'crlIndex', 'crls', 'recipients', 'settings']);
      expect(await page.evaluate(() => TrustPage.storeCounts().catch(() => ({})))).toBeDefined();

      // Latest: opened by the service itself.
      await openIn(page);
      const latest = await page.evaluate(() => TrustPage.schema());
      expect(latest.version).toBe(await page.evaluate(() => TrustPage.TRUST_DB_VERSION));
      expect(latest.stores.recipients!.indexes).toEqual(['recipient']);
      expect(latest.stores.cas!.indexes.sort()).toEqual(['hierarchy', 'subjectKey']);
      expect(Object.keys(latest.stores).sort()).toEqual(['audit', 'cas', 'crlDer', 'crlIndex', 'crls', 'meta', 'recipients', 'settings', 'sources']);

      const st = await summary(page);
      expect(st.cas).toHaveLength(2);
      expect(st.crls).toEqual([{ issuer: 'CN=AC-FACTURATION-TEST,OU=AC-FACTURATION-TEST,O=sesam-vitale,C=FR', crlNumber: '05', size: 1, freshness: 'à jour' }]);
      expect(st.recipients).toEqual([{ recipient: MAILBOX.amoTest, serial: '1092', state: 'valide', usable: true, crl: 'à jour' }]);
      // The index built during the upgrade answers.
      const answers = await page.evaluate(() => {
        const t = TrustPage.trust();
        const key = t.hierarchies()[0]!.intermediates[0]!.subjectKey;
        return [t.isRevoked(key, '7a69'), t.isRevoked(key, '1092')];
      });
      expect(answers[0]).toMatchObject({ status: 'revoked', reason: 'keyCompromise' });
      expect(answers[1]).toMatchObject({ status: 'good' });
      // The old journal was never sealed: it is not trusted silently (docs/adr/0002-audit-seal.md).
      // It blocks trust changes until the administrator archives it and starts a sealed one.
      expect(st.audit).toEqual({ ok: false, problem: 'key_missing', index: 0 });
      expect(await page.evaluate(() => TrustPage.outcome(() => TrustPage.trust().log({ event: 'session.open', outcome: 'success' })))).toMatchObject({ ok: false, code: 'audit_integrity_failed' });
      const reset = await page.evaluate((c) => TrustPage.outcome(() => TrustPage.resetWithCard(c)), await adminCard());
      expect(reset).toMatchObject({ ok: true, value: { count: 3, problem: 'key_missing' } });
      await page.evaluate(() => TrustPage.trust().log({ event: 'session.open', outcome: 'success' }));
      // The new journal: the reset, a seal of each trust record kept (2 CAs, the CRL and its index,
      // the recipient, the slot setting), then the session.
      expect((await summary(page)).audit).toEqual({ ok: true, count: 8, mac: 'verified' });
      expect((await summary(page)).auditEvents).toEqual(['audit.reset:success', ...Array<string>(6).fill('trust.seal:success'), 'session.open:success']);
      // The slot drawn by the old version is kept.
      expect(await page.evaluate(() => TrustPage.trust().settings().crlSlot)).toBe(600);
    } finally {
      await s.close();
    }
  });
});

describe('imports, reload, new tab', () => {
  it('keeps anchors of two hierarchies, a CRL and a recipient certificate across a reload and a new tab', async () => {
    const s = await session();
    try {
      const a = await s.open();
      await openIn(a);
      const reports = await a.evaluate(
        async (d) => {
          const t = TrustPage.trust();
          const out = [];
          out.push(...(await t.importFile(d.testChain)));
          out.push(await t.importCa(TrustPage.bytes(d.prodRoot)));
          out.push(await t.importCrl(TrustPage.bytes(d.crl)));
          out.push(...(await t.importFile(TrustPage.bytes(d.leaf))));
          return out.map((r) => `${r.kind}:${r.outcome}`);
        },
        {
          testChain: pemOf(world.der.testRoot) + pemOf(world.der.testInter),
          prodRoot: b64(world.der.prodRoot),
          crl: b64(await world.crl({ ca: 'testInter' })),
          leaf: b64(await world.leaf({ email: MAILBOX.amoTest, serial: 777 })),
        },
      );
      expect(reports).toEqual(['ca:stored', 'ca:stored', 'ca:stored', 'crl:stored', 'certificate:stored']);
      const before = await summary(a);
      expect(before.cas).toEqual([
        'production:root:CN=AC-SESAM-VITALE-2034,O=sesam-vitale,C=FR',
        'test:root:CN=AC-SESAM-VITALE-TEST-2034,O=sesam-vitale,C=FR',
        'test:intermediate:CN=AC-FACTURATION-TEST,OU=AC-FACTURATION-TEST,O=sesam-vitale,C=FR',
      ]);
      expect(before.recipients).toEqual([{ recipient: MAILBOX.amoTest, serial: '0309', state: 'valide', usable: true, crl: 'à jour' }]);
      expect(before.audit).toMatchObject({ ok: true, mac: 'verified' });

      await s.reload(a);
      await openIn(a);
      expect(await summary(a)).toEqual(before);

      const b = await s.open();
      await openIn(b);
      expect(await summary(b)).toEqual(before);

      // A change made in one tab reaches the other (BroadcastChannel, then a reload).
      await b.evaluate((der) => TrustPage.trust().importCa(TrustPage.bytes(der)), b64(world.der.prodInter));
      await a.waitForFunction(() => TrustPage.trust().hierarchies().find((h) => h.hierarchy === 'production')?.intermediates.length === 1);
      await a.close();
    } finally {
      await s.close();
    }
  });
});

describe('a tab closed in the middle of an import', () => {
  it('leaves the previous CRL in force, and nothing half-written', async () => {
    const s = await session();
    try {
      const leaf = await world.leaf({ email: MAILBOX.amoTest, serial: 555 });
      const a = await s.open();
      await openIn(a);
      await a.evaluate(
        async (d) => {
          const t = TrustPage.trust();
          await t.importFile(d.chain);
          await t.importCrl(TrustPage.bytes(d.crl));
          await t.importFile(TrustPage.bytes(d.leaf));
        },
        { chain: pemOf(world.der.testRoot) + pemOf(world.der.testInter), crl: b64(await world.crl({ ca: 'testInter', crlNumber: 1 })), leaf: b64(leaf) },
      );
      const before = await summary(a);
      const countsBefore = await a.evaluate(() => TrustPage.storeCounts());
      expect(before.crls[0]!.crlNumber).toBe('01');
      await a.close();

      // A new tab imports CRL n° 2, which revokes the recipient; the tab is closed while the
      // commit's transaction is open.
      const b = await s.open();
      let holding!: () => void;
      const held = new Promise<void>((resolve) => (holding = resolve));
      await b.exposeFunction('__trustHolding', () => holding());
      await openIn(b);
      const crl2 = b64(await world.crl({ ca: 'testInter', crlNumber: 2, revoked: [555] }));
      const importing = b
        .evaluate(async (der) => {
          const store = await TrustPage.IdbTrustStore.open({
            beforeComplete: TrustPage.holdOpenAndSignal(() => void (window as unknown as { __trustHolding(): Promise<void> }).__trustHolding()),
          });
          const t = await TrustPage.TrustService.open({ store, clock: () => TrustPage.clock.now });
          await t.importCrl(TrustPage.bytes(der));
          return 'committed';
        }, crl2)
        .catch(() => 'tab closed');
      await held;
      await b.close();
      expect(await importing).toBe('tab closed');

      const c = await s.open();
      await openIn(c);
      const after = await summary(c);
      expect(after).toEqual(before);
      expect(after.crls[0]!.crlNumber).toBe('01');
      expect(after.recipients[0]!.state).toBe('valide');
      expect(await c.evaluate(() => TrustPage.storeCounts())).toEqual(countsBefore);

      // The same import, not interrupted, goes through.
      await c.evaluate((der) => TrustPage.trust().importCrl(TrustPage.bytes(der)), crl2);
      const done = await summary(c);
      expect(done.crls[0]!.crlNumber).toBe('02');
      expect(done.recipients[0]!.state).toBe('révoqué');
      expect(done.audit).toMatchObject({ ok: true });
    } finally {
      await s.close();
    }
  });
});

describe('audit chain in the browser', () => {
  it('stays one valid chain when two tabs write at once', async () => {
    const s = await session();
    try {
      const [a, b] = [await s.open(), await s.open()];
      await openIn(a);
      await openIn(b);
      const burst = (p: Page, n: number): Promise<void> =>
        p.evaluate(async (n) => {
          const t = TrustPage.trust();
          await Promise.all(Array.from({ length: n }, () => t.log({ event: 'session.open', outcome: 'success' })));
        }, n);
      await Promise.all([burst(a, 15), burst(b, 15)]);
      const st = await summary(a);
      // 1 (slot drawn at first open) and its seal, + 30.
      expect(st.audit).toEqual({ ok: true, count: 32, mac: 'verified' });
    } finally {
      await s.close();
    }
  });

  it('flags a record altered or deleted behind the application’s back', async () => {
    const s = await session();
    try {
      const page = await s.open();
      await openIn(page);
      const result = await page.evaluate(async () => {
        const t = TrustPage.trust();
        for (let i = 0; i < 4; i++) await t.log({ event: 'session.lock', outcome: 'success' });
        const db = await TrustPage.openTrustDb();
        const r = (await db.get('audit', 2))!;
        await db.put('audit', { ...r, outcome: 'failure' });
        const altered = await t.verifyAudit();
        await db.put('audit', r);
        await db.delete('audit', 3);
        const deleted = await t.verifyAudit();
        db.close();
        // Tampered: the export (which would append its own record) is refused; the reset archives it.
        const exported = await TrustPage.outcome(() => t.exportAudit());
        return { altered, deleted, exported };
      });
      expect(result.altered).toMatchObject({ ok: false, index: 2, problem: 'altered' });
      expect(result.deleted).toMatchObject({ ok: false, index: 3, problem: 'missing' });
      expect(result.exported).toMatchObject({ ok: false, name: 'AuditIntegrityError', code: 'audit_integrity_failed' });
    } finally {
      await s.close();
    }
  });
});
