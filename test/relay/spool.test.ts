/**
 * The SQLite store keeps bodies in files beside the database: durable before their rows, gone
 * once the message is finished, orphans swept at start-up, older databases moved over.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/lib/server/relay/index.js';

const dir = mkdtempSync(join(tmpdir(), 'teletrans-relay-spool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const msg = (id: string, key: string) => ({ id, practitioner: 'ps1', idempotencyKey: key, sha256: 'ab', envelopeFrom: 'ps@example.test',
  envelopeTo: ['amo@example.test'], raw: enc(`raw ${key}`), messageId: `<${key}@example.test>`, subject: 'S', now: 1000 });

describe('SQLite body files', () => {
  it('writes the body as a private file, keeps one per idempotency key, and drops it once delivered', async () => {
    const db = join(dir, `b${++n}.sqlite`);
    const s = new SqliteStore(db);
    const bodies = join(`${db}.bodies`, 'messages');
    await s.insertMessage(msg('m-1', 'key-1'));
    const again = await s.insertMessage(msg('m-2', 'key-1')); // a retry with a fresh id
    expect(again.created).toBe(false);
    expect(readdirSync(bodies)).toEqual(['m-1.eml']);
    expect(statSync(join(bodies, 'm-1.eml')).mode & 0o777).toBe(0o600);
    expect(new TextDecoder().decode((await s.getRaw('m-1'))!)).toBe('raw key-1');
    const [claimed] = await s.claimDue('A', 2000, 60_000, 1);
    expect(await s.finishDelivered(claimed!.id, 'A', '250 ok', 2001)).toBe(true);
    expect(readdirSync(bodies)).toEqual([]);
    expect(await s.getRaw('m-1')).toBeNull();
    expect((await s.getMessage('m-1'))?.status).toBe('delivered');
    await s.close();
  });

  it('sweeps orphans (a crash between body and row) at start-up and keeps the bodies of queued messages', async () => {
    const db = join(dir, `b${++n}.sqlite`);
    const s = new SqliteStore(db);
    await s.insertMessage(msg('q-1', 'key-q'));
    await s.close();
    const bodies = join(`${db}.bodies`, 'messages');
    writeFileSync(join(bodies, 'orphan-1.eml'), 'never committed');
    writeFileSync(join(bodies, 'partial.tmp'), 'junk');
    const s2 = new SqliteStore(db);
    expect(readdirSync(bodies)).toEqual(['q-1.eml']);
    expect(new TextDecoder().decode((await s2.getRaw('q-1'))!)).toBe('raw key-q');
    await s2.close();
  });

  it('moves bodies out of a database written when they were a column', async () => {
    const db = join(dir, `b${++n}.sqlite`);
    const old = new Database(db);
    old.exec(`CREATE TABLE messages (id TEXT PRIMARY KEY, practitioner TEXT NOT NULL, idempotency_key TEXT NOT NULL,
      sha256 TEXT NOT NULL, envelope_from TEXT NOT NULL, envelope_to TEXT NOT NULL, raw BLOB NOT NULL, size INTEGER NOT NULL,
      message_id TEXT, subject TEXT, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,
      last_reply TEXT, duplicate_risk INTEGER NOT NULL DEFAULT 0, lease_owner TEXT, lease_expires_at INTEGER,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, UNIQUE (practitioner, idempotency_key))`);
    old.prepare(`INSERT INTO messages (id, practitioner, idempotency_key, sha256, envelope_from, envelope_to, raw, size, status,
      next_attempt_at, created_at, updated_at) VALUES ('old-1', 'ps1', 'k-old', 'ab', 'ps@example.test', '["amo@example.test"]', ?, 7,
      'queued', 0, 0, 0)`).run(Buffer.from('old raw'));
    old.close();
    const s = new SqliteStore(db);
    expect(new TextDecoder().decode((await s.getRaw('old-1'))!)).toBe('old raw');
    const cols = (new Database(db, { readonly: true }).prepare("SELECT name FROM pragma_table_info('messages')").all() as Array<{ name: string }>).map((c) => c.name);
    expect(cols).not.toContain('raw');
    expect((await s.claimDue('A', 1, 1000, 5)).map((m) => m.id)).toEqual(['old-1']);
    await s.close();
  });

  it('claims queued, deferred and lease-expired messages in due order, never one not yet due', async () => {
    const db = join(dir, `b${++n}.sqlite`);
    const s = new SqliteStore(db);
    for (const [id, now] of [['c-late', 5000], ['c-early', 1000], ['c-mid', 3000]] as const) {
      await s.insertMessage({ ...msg(id, `k-${id}`), now });
    }
    const first = await s.claimDue('A', 3500, 10_000, 10);
    expect(first.map((m) => m.id)).toEqual(['c-early', 'c-mid']);
    expect(await s.finishDeferred('c-early', 'A', '451 later', 4000, 3600)).toBe(true);
    // c-mid's lease (until 13 500) has not expired at 4 500; c-early is due again, c-late not yet.
    expect((await s.claimDue('B', 4500, 10_000, 10)).map((m) => m.id)).toEqual(['c-early']);
    const late = await s.claimDue('C', 20_000, 10_000, 10);
    expect(late.map((m) => m.id).sort()).toEqual(['c-early', 'c-late', 'c-mid']);
    expect(late.find((m) => m.id === 'c-mid')?.duplicateRisk).toBe(true);
    expect(existsSync(join(`${db}.bodies`, 'messages', 'c-late.eml'))).toBe(true);
    await s.close();
  });

  it('keeps the latest bodies in memory for delivery, within its budget, and forgets removed ones', async () => {
    const db = join(dir, `b${++n}.sqlite`);
    // 9-byte bodies ("raw key-N"), a 40-byte budget: the four latest stay in memory.
    const s = new SqliteStore(db, { bodyCacheBytes: 40 });
    const bodies = join(`${db}.bodies`, 'messages');
    for (let i = 1; i <= 6; i++) await s.insertMessage(msg(`m-${i}`, `key-${i}`));
    for (const f of readdirSync(bodies)) rmSync(join(bodies, f)); // only memory can answer now
    const got = await Promise.all([1, 2, 3, 4, 5, 6].map(async (i) => {
      const b = await s.getRaw(`m-${i}`);
      return b && new TextDecoder().decode(b);
    }));
    expect(got).toEqual([null, null, 'raw key-3', 'raw key-4', 'raw key-5', 'raw key-6']);
    const [claimed] = await s.claimDue('A', 2000, 60_000, 1);
    expect(claimed!.id).toBe('m-1');
    const [c3] = (await s.claimDue('A', 2000, 60_000, 2)).filter((m) => m.id === 'm-3');
    expect(await s.finishDelivered(c3!.id, 'A', '250 ok', 2001)).toBe(true);
    expect(await s.getRaw('m-3')).toBeNull();
    // A body over a quarter of the budget is not kept in memory.
    const big = { ...msg('m-big', 'key-big'), raw: enc('x'.repeat(11)) };
    await s.insertMessage(big);
    rmSync(join(bodies, 'm-big.eml'));
    expect(await s.getRaw('m-big')).toBeNull();
    await s.close();
  });

  it('lends bodies read from disk in reused buffers, whole and exact, and hands out copies through getRaw', async () => {
    const db = join(dir, `b${++n}.sqlite`);
    const s = new SqliteStore(db, { bodyCacheBytes: 0 }); // every read goes to the file
    const sizes = [0, 1, 100 * 1024, 256 * 1024, 256 * 1024 + 1];
    const bodies = sizes.map((len, i) => Uint8Array.from({ length: len }, (_, j) => (j * 7 + i) & 0xff));
    for (const [i, raw] of bodies.entries()) await s.insertMessage({ ...msg(`r-${i}`, `rk-${i}`), raw });
    const seen: ArrayBufferLike[] = [];
    for (const [i, raw] of bodies.entries()) {
      const same = await s.withRaw(`r-${i}`, async (b) => {
        seen.push(b!.buffer);
        return b!.byteLength === raw.byteLength && Buffer.compare(Buffer.from(b!), Buffer.from(raw)) === 0;
      });
      expect([i, same]).toEqual([i, true]);
    }
    // Sequential loans of bodies up to 256 KiB share one buffer; the larger one had its own.
    expect(new Set(seen.slice(0, 4)).size).toBe(1);
    expect(seen[4]).not.toBe(seen[0]);
    // getRaw's answer is the caller's: a later loan does not change it.
    const kept = (await s.getRaw('r-2'))!;
    await s.withRaw('r-1', async () => undefined);
    expect(Buffer.compare(Buffer.from(kept), Buffer.from(bodies[2]!))).toBe(0);
    expect(kept.buffer).not.toBe(seen[0]);
    // A loan that fails gives the buffer back too; a missing body is lent as null.
    await expect(s.withRaw('r-3', async () => { throw new Error('send failed'); })).rejects.toThrow('send failed');
    expect(await s.withRaw('r-1', async (b) => b!.buffer)).toBe(seen[0]);
    expect(await s.withRaw('nope', async (b) => b)).toBeNull();
    await expect(s.withRaw('../x', async (b) => b)).rejects.toThrow(/invalid id/);
    await s.close();
  });

  it('records delivery outcomes with the next commit, or on close, durably', async () => {
    const db = join(dir, `b${++n}.sqlite`);
    let s = new SqliteStore(db);
    for (let i = 1; i <= 3; i++) await s.insertMessage(msg(`m-${i}`, `key-${i}`));
    const claimed = await s.claimDue('A', 2000, 60_000, 3);
    expect(claimed).toHaveLength(3);
    // An outcome alone waits for a later commit (a claim here) or a short timer.
    const first = s.finishDelivered('m-1', 'A', '250 ok', 2001);
    await s.claimDue('A', 2002, 60_000, 1);
    expect(await first).toBe(true);
    expect(await s.finishFailed('m-2', 'A', '550 no', 2003)).toBe(true); // the timer alone
    void s.finishDelivered('m-3', 'A', '250 ok', 2004); // not awaited: close must take it along
    await s.close();
    s = new SqliteStore(db);
    expect((await Promise.all(['m-1', 'm-2', 'm-3'].map((id) => s.getMessage(id)))).map((m) => m?.status))
      .toEqual(['delivered', 'failed', 'delivered']);
    await s.close();
  });
});
