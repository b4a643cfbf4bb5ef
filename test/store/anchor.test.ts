/**
 * Issue 24 defect 3: the audit journal's head anchored at the relay, the workstation in Chromium
 * over IndexedDB and the real relay API (SQLite) in this process, reached through the page's
 * port. Only the journal's id, sequence number and head hash leave the page; the relay's signed
 * receipt is kept. Attacks on the stored journal with its own key — rewriting and resealing,
 * truncating, restoring an older copy of the profile, replacing the journal — are detected at
 * the next start against the last receipt, or as soon as the relay is reached; each blocks,
 * and the administrator's reset is taken by the relay as a reset.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { RelayApi, SqliteStore } from '../../src/lib/server/relay/index.js';
import { launchChromium } from '../browser/harness.js';
import { makeIgcSante, relayConfig, token } from '../relay/fixtures/relay.js';
import { type World, makeWorld, pemOf } from '../trust/world.js';
import { adminCard } from './admin-card.js';
import { type SameOriginSession, openSameOriginSession } from './same-origin.js';

type TrustPageModule = typeof import('./entry.js');
declare const TrustPage: TrustPageModule;

let browser: Browser;
let world: World;
let dir: string;
let store: SqliteStore;
let api: RelayApi;
let tok: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teletrans-store-anchor-'));
  const [b, w, pki] = await Promise.all([launchChromium(), makeWorld(), makeIgcSante()]);
  [browser, world] = [b, w];
  store = new SqliteStore(join(dir, 'relay.sqlite'));
  api = new RelayApi(store, relayConfig(pki, { host: '127.0.0.1', port: 9, security: 'starttls' }));
  tok = await token(api, pki);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The page reaches the relay through these (the HTTP glue is src/lib/client/relay/anchor.ts). */
async function wire(page: Page): Promise<void> {
  await page.exposeFunction('relayPost', async (body: unknown) => {
    const r = await api.handle(new Request('http://relay.test/api/relay/audit/anchor', { method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }));
    return { status: r.status, json: await r.json() };
  });
  await page.exposeFunction('relayKey', async () => ((await (await api.handle(new Request('http://relay.test/api/relay/audit/receipt-key'))).json()) as { key: string }).key);
}

async function tab(s: SameOriginSession): Promise<Page> {
  const page = await s.open();
  await wire(page);
  await page.evaluate(async (now) => {
    TrustPage.clock.now = now;
    await TrustPage.open();
  }, world.now);
  return page;
}

/** Anchors now from `page`: the outcome, or the refusal's code and problem. */
const anchor = (page: Page): ReturnType<TrustPageModule['outcome']> =>
  page.evaluate(() => {
    const w = window as unknown as { relayPost(b: unknown): Promise<{ status: number; json: Record<string, unknown> }>; relayKey(): Promise<string> };
    return TrustPage.outcome(() => TrustPage.trust().anchor({ post: (b) => w.relayPost(b), receiptKey: () => w.relayKey() }));
  });

const integrity = (page: Page): Promise<ReturnType<TrustPageModule['TrustService']['prototype']['integrity']>> => page.evaluate(() => TrustPage.trust().integrity());
const logSome = (page: Page, n: number): Promise<void> => page.evaluate(async (k) => {
  for (let i = 0; i < k; i++) await TrustPage.trust().log({ event: 'session.open', outcome: 'success' });
}, n);

async function workstation(): Promise<{ s: SameOriginSession; page: Page }> {
  const s = await openSameOriginSession(browser, 'test/store/entry.ts', 'TrustPage');
  const page = await tab(s);
  await page.evaluate((chain) => TrustPage.trust().importFile(chain), pemOf(world.der.testRoot) + pemOf(world.der.testInter));
  await logSome(page, 2);
  return { s, page };
}

describe('the journal anchored at the relay (issue 24 defect 3)', () => {
  it('goes on from anchor to anchor; the relay keeps the device, journal, sequence number and head only', async () => {
    const { s, page } = await workstation();
    try {
      expect(await anchor(page)).toEqual({ ok: true, value: 'first' });
      await logSome(page, 3);
      expect(await anchor(page)).toEqual({ ok: true, value: 'advanced' });
      expect(await anchor(page)).toEqual({ ok: true, value: 'same' });
      // A new tab checks its chain against the receipt at start: intact.
      expect(await integrity(await tab(s))).toEqual({ state: 'intact' });
      const db = new Database(join(dir, 'relay.sqlite'), { readonly: true });
      try {
        const rows = db.prepare('SELECT * FROM audit_anchors').all() as Array<Record<string, unknown>>;
        for (const r of rows) {
          expect(Object.keys(r).sort()).toEqual(['at', 'device', 'head', 'id', 'journal', 'practitioner', 'seq']);
          expect(String(r.head)).toMatch(/^[0-9a-f]{64}$/);
        }
      } finally {
        db.close();
      }
    } finally {
      await s.close();
    }
  });

  it('a send that fails (no network) keeps the device id it drew: the next anchor is the same device', async () => {
    const { s, page } = await workstation();
    try {
      const offline = (): ReturnType<TrustPageModule['outcome']> => page.evaluate(() =>
        TrustPage.outcome(() => TrustPage.trust().anchor({ post: () => Promise.reject(new Error('réseau coupé')), receiptKey: () => Promise.reject(new Error('réseau coupé')) })));
      const deviceId = (): Promise<unknown> => page.evaluate(() => TrustPage.trust().snapshot().meta.find((m) => m.key === 'device-id')?.value);
      expect(await offline()).toMatchObject({ ok: false });
      const first = await deviceId();
      expect(first).toMatch(/^[0-9a-f-]{36}$/);
      expect(await offline()).toMatchObject({ ok: false });
      expect(await deviceId()).toBe(first);
      // Not an integrity failure: the journal is as it was.
      expect(await integrity(page)).toEqual({ state: 'intact' });
      expect(await anchor(page)).toEqual({ ok: true, value: 'first' });
      expect(await page.evaluate(() => (TrustPage.trust().snapshot().meta.find((m) => m.key === 'audit-receipt')?.value as { receipt: { device: string } }).receipt.device)).toBe(first);
    } finally {
      await s.close();
    }
  });

  it('rewritten and resealed with the stored key after an anchor: blocked at the next start, offline, against the receipt', async () => {
    const { s, page } = await workstation();
    try {
      expect(await anchor(page)).toMatchObject({ ok: true });
      await page.evaluate(() => TrustPage.attacks.resealWithStoredKey((rs) => rs.map((r) => (r.event === 'session.open' ? { ...r, outcome: 'failure' } : r))));
      const next = await tab(s);
      expect(await integrity(next)).toMatchObject({ state: 'tampered', problem: 'anchor_mismatch' });
    } finally {
      await s.close();
    }
  });

  it('truncated after an anchor (the last records dropped, the head resealed): blocked at the next start', async () => {
    const { s, page } = await workstation();
    try {
      expect(await anchor(page)).toMatchObject({ ok: true });
      await page.evaluate(() => TrustPage.attacks.resealWithStoredKey((rs) => rs.slice(0, -2)));
      expect(await integrity(await tab(s))).toMatchObject({ state: 'tampered', problem: 'anchor_mismatch' });
    } finally {
      await s.close();
    }
  });

  it('an older copy of the profile restored, receipt included: intact offline, blocked as soon as the relay is reached', async () => {
    const { s, page } = await workstation();
    try {
      expect(await anchor(page)).toMatchObject({ ok: true });
      const older = await page.evaluate(() => TrustPage.attacks.snapshotJournal());
      await logSome(page, 4);
      expect(await anchor(page)).toEqual({ ok: true, value: 'advanced' });
      await page.evaluate((saved) => TrustPage.attacks.restoreJournal(saved), older);
      const next = await tab(s);
      // Nothing on the workstation contradicts the copy: its receipt is its own.
      expect(await integrity(next)).toEqual({ state: 'intact' });
      expect(await anchor(next)).toMatchObject({ ok: false, code: 'audit_integrity_failed', problem: 'anchor_mismatch' });
      expect(await integrity(next)).toMatchObject({ state: 'tampered', problem: 'anchor_mismatch' });
      expect((await store.listAudit(20)).some((e) => e.action === 'audit.anchor' && e.detail.outcome === 'regressed')).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('the journal replaced by another (deleted, then a fresh one resealed by a script): the relay refuses it; the administrator\'s reset is taken as a reset', async () => {
    const { s, page } = await workstation();
    try {
      expect(await anchor(page)).toMatchObject({ ok: true });
      await page.evaluate(() => TrustPage.attacks.replaceKeyAndReseal({ forgeCheck: true }));
      // The witness tells at once here; the relay would tell too.
      const next = await tab(s);
      expect(await integrity(next)).toMatchObject({ state: 'tampered' });
      // The administrator resets: the new journal names the one it replaced; the relay takes it.
      expect(await next.evaluate((c) => TrustPage.outcome(() => TrustPage.resetWithCard(c)), await adminCard())).toMatchObject({ ok: true });
      expect(await anchor(next)).toEqual({ ok: true, value: 'reset' });
      expect(await integrity(await tab(s))).toEqual({ state: 'intact' });
    } finally {
      await s.close();
    }
  });
});
