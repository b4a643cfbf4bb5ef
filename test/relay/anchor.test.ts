/**
 * Issue 24 defect 3: workstations anchor their audit journal's head at the relay
 * (src/lib/server/relay/anchor.ts), through the API with a card session, on SQLite and on a
 * private PostgreSQL cluster. The relay keeps sequence numbers and hashes only, append-only;
 * it signs a receipt the workstation verifies with WebCrypto; it refuses — and writes to its
 * own trail — a journal that goes back (truncated, restored from an older copy), one rewritten
 * at an anchored point, and another journal that does not say it reset this one.
 */
import { randomUUID, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiptBytes, type AnchorReceipt } from '../../src/lib/server/relay/anchor.js';
import { PostgresStore, RelayApi, SqliteStore, type RelayStore } from '../../src/lib/server/relay/index.js';
import { startPostgres, type PgCluster } from './fixtures/postgres.js';
import { makeIgcSante, relayConfig, token, type IgcSante } from './fixtures/relay.js';

const B = 'http://relay.test/api/relay';
let pgc: PgCluster;
let pki: IgcSante;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teletrans-relay-anchor-'));
  [pgc, pki] = await Promise.all([startPostgres(), makeIgcSante()]);
}, 120_000);
afterAll(() => {
  pgc?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const hash = (n: number): string => n.toString(16).padStart(64, '0');

const engines: Array<[string, () => Promise<RelayStore>, () => Promise<Array<Record<string, unknown>>>, (sql: string) => Promise<void>]> = [
  ['sqlite', async () => new SqliteStore(join(dir, 'relay.sqlite')),
    async () => { const db = new Database(join(dir, 'relay.sqlite'), { readonly: true }); try { return db.prepare('SELECT * FROM audit_anchors').all() as Array<Record<string, unknown>>; } finally { db.close(); } },
    async (sql) => { const db = new Database(join(dir, 'relay.sqlite')); try { db.exec(sql.replaceAll('relay_audit_anchors', 'audit_anchors')); } finally { db.close(); } }],
  ['postgres', () => PostgresStore.open({ host: pgc.host, port: pgc.port, user: pgc.user, database: pgc.database }),
    async () => { const c = new pg.Client({ host: pgc.host, port: pgc.port, user: pgc.user, database: pgc.database }); await c.connect(); try { return (await c.query('SELECT * FROM relay_audit_anchors')).rows as Array<Record<string, unknown>>; } finally { await c.end(); } },
    async (sql) => { const c = new pg.Client({ host: pgc.host, port: pgc.port, user: pgc.user, database: pgc.database }); await c.connect(); try { await c.query(sql); } finally { await c.end(); } }],
];

describe.each(engines)('%s', (_name, open, rows, exec) => {
  it('takes a journal that goes on, signs each receipt; refuses one that goes back, is rewritten or replaced, and says so in its own trail', async () => {
    const store = await open();
    try {
      const api = new RelayApi(store, relayConfig(pki, { host: '127.0.0.1', port: 9, security: 'starttls' }));
      const tok = await token(api, pki);
      const anchor = async (body: unknown, t = tok): Promise<{ status: number; json: Record<string, unknown> }> => {
        const r = await api.handle(new Request(`${B}/audit/anchor`, { method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }));
        return { status: r.status, json: (await r.json()) as Record<string, unknown> };
      };
      const keyAnswer = (await (await api.handle(new Request(`${B}/audit/receipt-key`))).json()) as { key: string; algorithm: string };
      expect(keyAnswer.algorithm).toBe('ECDSA-P256-SHA256');
      const key = await webcrypto.subtle.importKey('spki', Buffer.from(keyAnswer.key, 'base64'), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
      const verifies = async (j: Record<string, unknown>): Promise<boolean> =>
        webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, Buffer.from(String(j.signature), 'base64'), receiptBytes(j.receipt as AnchorReceipt));

      const device = randomUUID();
      const journal = randomUUID();
      const first = await anchor({ device, journal, seq: 4, head: hash(4) });
      expect(first.status).toBe(200);
      expect(first.json).toMatchObject({ outcome: 'first', receipt: { v: 1, device, journal, seq: 4, head: hash(4), practitioner: 'ps1' } });
      expect(await verifies(first.json)).toBe(true);
      // A receipt whose fields were changed does not verify.
      expect(await verifies({ ...first.json, receipt: { ...(first.json.receipt as object), seq: 40 } })).toBe(false);

      // Further on: the relay wants the proof that this chain passes through its latest point.
      expect(await anchor({ device, journal, seq: 9, head: hash(9) })).toMatchObject({ status: 409, json: { reason: 'anchor-continuity', latest: { seq: 4, head: hash(4) } } });
      // A chain rewritten before that point has another hash there.
      expect(await anchor({ device, journal, seq: 9, head: hash(9), continuity: { seq: 4, head: hash(44) } })).toMatchObject({ status: 409, json: { reason: 'anchor-forked' } });
      expect(await anchor({ device, journal, seq: 9, head: hash(9), continuity: { seq: 4, head: hash(4) } })).toMatchObject({ status: 200, json: { outcome: 'advanced' } });
      const same = await anchor({ device, journal, seq: 9, head: hash(9) });
      expect(same).toMatchObject({ status: 200, json: { outcome: 'same', receipt: { seq: 9 } } });
      expect(await verifies(same.json)).toBe(true);

      // Restored from an older copy, or truncated: it goes back.
      expect(await anchor({ device, journal, seq: 5, head: hash(5) })).toMatchObject({ status: 409, json: { reason: 'anchor-regressed', latest: { journal, seq: 9, head: hash(9) } } });
      // Rewritten and resealed: the anchored point has another hash.
      expect(await anchor({ device, journal, seq: 9, head: hash(99) })).toMatchObject({ status: 409, json: { reason: 'anchor-forked' } });
      // Deleted and started afresh: another journal that does not name this one.
      const other = randomUUID();
      expect(await anchor({ device, journal: other, seq: 0, head: hash(1) })).toMatchObject({ status: 409, json: { reason: 'anchor-journal-changed' } });
      expect(await anchor({ device, journal: other, seq: 0, head: hash(1), previousJournal: randomUUID() })).toMatchObject({ status: 409, json: { reason: 'anchor-journal-changed' } });
      // The administrator's reset names the journal it replaced: taken, and the old one is over.
      expect(await anchor({ device, journal: other, seq: 3, head: hash(3), previousJournal: journal })).toMatchObject({ status: 200, json: { outcome: 'reset' } });
      expect(await anchor({ device, journal, seq: 10, head: hash(10) })).toMatchObject({ status: 409, json: { reason: 'anchor-journal-changed' } });

      // Malformed, oversized, unauthenticated.
      for (const bad of [{ device: 'x', journal, seq: 1, head: hash(1) }, { device, journal, seq: 1.5, head: hash(1) }, { device, journal, seq: 1, head: 'ABC' },
        { device, journal, seq: 1, head: hash(1), records: ['…'] }]) {
        expect((await anchor(bad)).status, JSON.stringify(bad)).toBe(400);
      }
      expect((await anchor({ device, journal, seq: 1, head: hash(1), pad: 'x'.repeat(2000) })).status).toBe(413);
      expect((await anchor({ device, journal, seq: 1, head: hash(1) }, 'not-a-token')).status).toBe(401);

      // The relay's own trail: the first anchor, the reset and every refusal, without content.
      const trail = (await store.listAudit(50)).filter((e) => e.action === 'audit.anchor').map((e) => e.detail.outcome).reverse();
      expect(trail).toEqual(['first', 'forked', 'regressed', 'forked', 'journal-changed', 'journal-changed', 'reset', 'journal-changed']);

      // The table: device, journal, sequence number, head hash, practitioner, time — nothing else.
      const kept = (await rows()).filter((r) => r.device === device);
      expect(kept.map((r) => `${r.journal === journal ? 'j1' : 'j2'}:${r.seq}`)).toEqual(['j1:4', 'j1:9', 'j2:3']);
      for (const r of kept) expect(Object.keys(r).sort()).toEqual(['at', 'device', 'head', 'id', 'journal', 'practitioner', 'seq']);
      // Append-only, even for whoever holds the database.
      await expect(exec(`UPDATE relay_audit_anchors SET seq = 1 WHERE device = '${device}'`)).rejects.toThrow(/append-only/);
      await expect(exec(`DELETE FROM relay_audit_anchors WHERE device = '${device}'`)).rejects.toThrow(/append-only/);
    } finally {
      await store.close();
    }
  });
});
