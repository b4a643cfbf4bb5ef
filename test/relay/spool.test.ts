/**
 * The SQLite store keeps bodies in segment files beside the database: durable before their rows,
 * gone once the message is finished, orphans and torn tails dropped at start-up, bodies of older
 * versions (a column, then one file each) moved over.
 */
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/lib/server/relay/index.js';
import { BodySpool } from '../../src/lib/server/relay/store/spool.js';

const dir = mkdtempSync(join(tmpdir(), 'teletrans-relay-spool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const msg = (id: string, key: string) => ({ id, practitioner: 'ps1', idempotencyKey: key, sha256: 'ab', envelopeFrom: 'ps@example.test',
  envelopeTo: ['amo@example.test'], raw: enc(`raw ${key}`), messageId: `<${key}@example.test>`, subject: 'S', now: 1000 });

describe('SQLite body files', () => {
  it('appends the body to a private segment, keeps one per idempotency key, and removes it once delivered', async () => {
    const db = join(dir, `b${++n}.sqlite`);
    const s = new SqliteStore(db, { bodyCacheBytes: 0 });
    const bodies = join(`${db}.bodies`, 'messages');
    await s.insertMessage(msg('m-1', 'key-1'));
    const again = await s.insertMessage(msg('m-2', 'key-1')); // a retry with a fresh id
    expect(again.created).toBe(false);
    expect(readdirSync(bodies)).toEqual(['00000001.seg']);
    expect(statSync(join(bodies, '00000001.seg')).mode & 0o777).toBe(0o600);
    expect(statSync(bodies).mode & 0o777).toBe(0o700);
    expect(new TextDecoder().decode((await s.getRaw('m-1'))!)).toBe('raw key-1');
    expect(await s.getRaw('m-2')).toBeNull();
    const [claimed] = await s.claimDue('A', 2000, 60_000, 1);
    expect(await s.finishDelivered(claimed!.id, 'A', '250 ok', 2001)).toBe(true);
    // The segment held nothing else: its file goes with the last body.
    await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(bodies)).toEqual([]);
    expect(await s.getRaw('m-1')).toBeNull();
    expect((await s.getMessage('m-1'))?.status).toBe('delivered');
    await s.close();
  });

  it('at start-up drops orphans (a crash between body and row), torn tails and stray files, and keeps queued bodies', async () => {
    const db = join(dir, `b${++n}.sqlite`);
    const s = new SqliteStore(db, { bodyCacheBytes: 0 });
    await s.insertMessage(msg('q-1', 'key-q'));
    await s.close();
    const bodies = join(`${db}.bodies`, 'messages');
    // A body written with no row (the crash came before the commit), then half a record.
    const orphan = new BodySpool(bodies);
    await orphan.put('orphan-1', enc('never committed'));
    await orphan.close();
    const [second] = readdirSync(bodies).filter((f) => f !== '00000001.seg');
    appendFileSync(join(bodies, second!), readFileSync(join(bodies, second!)).subarray(0, 20));
    writeFileSync(join(bodies, 'orphan-2.eml'), 'never committed (a body file of an earlier version)');
    writeFileSync(join(bodies, 'partial.tmp'), 'junk');
    const s2 = new SqliteStore(db, { bodyCacheBytes: 0 });
    expect(readdirSync(bodies)).toEqual(['00000001.seg']);
    expect(new TextDecoder().decode((await s2.getRaw('q-1'))!)).toBe('raw key-q');
    expect(await s2.getRaw('orphan-1')).toBeNull();
    // New bodies go to a new segment: an old one is never appended to.
    await s2.insertMessage(msg('q-2', 'key-q2'));
    expect(readdirSync(bodies).sort()).toEqual(['00000001.seg', '00000003.seg']);
    await s2.close();
  });

  it('reads a segment up to its last complete record and no further', async () => {
    const d = mkdtempSync(join(dir, 'torn-'));
    const a = new BodySpool(d);
    await a.put('a-1', enc('first'));
    await a.put('a-2', enc('second'));
    await a.close();
    const seg = join(d, '00000001.seg');
    const whole = readFileSync(seg);
    // Every cut of the second record: the first stays readable, the second is not there.
    const firstEnd = whole.indexOf('first') + 5;
    for (let cut = firstEnd; cut < whole.byteLength; cut++) {
      writeFileSync(seg, whole.subarray(0, cut));
      const b = new BodySpool(d);
      expect([cut, new TextDecoder().decode((await b.get('a-1'))!), await b.get('a-2')]).toEqual([cut, 'first', null]);
      await b.close();
    }
    // A flipped byte in the second header: the scan stops there.
    const bad = Buffer.from(whole);
    bad[firstEnd + 6]! ^= 1;
    writeFileSync(seg, bad);
    const c = new BodySpool(d);
    expect(await c.get('a-2')).toBeNull();
    expect(new TextDecoder().decode((await c.get('a-1'))!)).toBe('first');
    await c.close();
  });

  it('moves the one-file bodies of the previous version into a segment', async () => {
    const db = join(dir, `b${++n}.sqlite`);
    const s = new SqliteStore(db);
    await s.insertMessage(msg('l-1', 'key-l'));
    await s.close();
    // What the previous version left: the row, and its body as <id>.eml.
    const bodies = join(`${db}.bodies`, 'messages');
    rmSync(bodies, { recursive: true });
    await new BodySpool(bodies).close(); // recreates the directory, nothing in it
    writeFileSync(join(bodies, 'l-1.eml'), 'raw key-l (one file)', { mode: 0o600 });
    const s2 = new SqliteStore(db, { bodyCacheBytes: 0 });
    expect(readdirSync(bodies)).toEqual(['00000001.seg']);
    expect(new TextDecoder().decode((await s2.getRaw('l-1'))!)).toBe('raw key-l (one file)');
    await s2.close();
  });

  it('commits concurrent bodies together: one flush for many, each durable before its put resolves', async () => {
    const d = mkdtempSync(join(dir, 'group-'));
    const sp = new BodySpool(d);
    const bodies = Array.from({ length: 40 }, (_, i) => enc(`body ${i} `.repeat(i + 1)));
    await Promise.all(bodies.map((b, i) => sp.put(`g-${i}`, b)));
    expect(sp.flushes).toBeGreaterThanOrEqual(1);
    expect(sp.flushes).toBeLessThan(10);
    await sp.close();
    const again = new BodySpool(d);
    const read = await Promise.all(bodies.map((_, i) => again.get(`g-${i}`)));
    expect(read.map((b) => new TextDecoder().decode(b!))).toEqual(bodies.map((b) => new TextDecoder().decode(b)));
    await again.close();
  });

  it('writes thousands of bodies in one flush (more buffers than one writev call takes), every one read back', async () => {
    const d = mkdtempSync(join(dir, 'wide-'));
    const sp = new BodySpool(d);
    // While the first flush runs, 3000 more gather for the next: 6000 buffers in one writev.
    const bodies = Array.from({ length: 3000 }, (_, i) => new Uint8Array(100).fill(i & 255));
    await Promise.all([sp.put('first', enc('x')), ...bodies.map((b, i) => sp.put(`w-${i}`, b))]);
    expect(sp.flushes).toBe(2);
    await sp.close();
    const again = new BodySpool(d);
    const back = await Promise.all(bodies.map((_, i) => again.get(`w-${i}`)));
    expect(back.filter((b, i) => b?.length === 100 && b.every((x) => x === (i & 255))).length).toBe(3000);
    await again.close();
  });

  it('starts a new segment past its size and removes each segment once all its bodies are gone', async () => {
    const d = mkdtempSync(join(dir, 'roll-'));
    const sp = new BodySpool(d, 0, 100);
    for (let i = 0; i < 4; i++) await sp.put(`s-${i}`, new Uint8Array(80).fill(i));
    expect(readdirSync(d).sort()).toEqual(['00000001.seg', '00000002.seg', '00000003.seg', '00000004.seg']);
    await sp.remove('s-1');
    await sp.remove('s-3'); // the active segment, idle and empty: it goes too
    await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(d).sort()).toEqual(['00000001.seg', '00000003.seg']);
    expect([...(await sp.get('s-2'))!]).toEqual(new Array(80).fill(2));
    await sp.put('s-4', new Uint8Array(10).fill(4));
    expect(readdirSync(d).sort()).toEqual(['00000001.seg', '00000003.seg', '00000005.seg']);
    await sp.close();
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
    expect(new TextDecoder().decode((await s.getRaw('c-late'))!)).toBe('raw k-c-late');
    await s.close();
  });

  it('keeps the latest bodies in memory for delivery, within its budget, and forgets removed ones', async () => {
    const db = join(dir, `b${++n}.sqlite`);
    // 9-byte bodies ("raw key-N"), a 40-byte budget: the four latest stay in memory.
    const s = new SqliteStore(db, { bodyCacheBytes: 40 });
    const bodies = join(`${db}.bodies`, 'messages');
    for (let i = 1; i <= 6; i++) await s.insertMessage(msg(`m-${i}`, `key-${i}`));
    // The disk's copies overwritten in place with zeros (the spool's open segments see it): only
    // memory still has the bodies.
    const zero = (): void => { for (const f of readdirSync(bodies)) writeFileSync(join(bodies, f), Buffer.alloc(statSync(join(bodies, f)).size)); };
    zero();
    const got = await Promise.all([1, 2, 3, 4, 5, 6].map(async (i) => {
      const b = await s.getRaw(`m-${i}`);
      return b && new TextDecoder().decode(b);
    }));
    const z9 = '\0'.repeat(9);
    expect(got).toEqual([z9, z9, 'raw key-3', 'raw key-4', 'raw key-5', 'raw key-6']);
    const [claimed] = await s.claimDue('A', 2000, 60_000, 1);
    expect(claimed!.id).toBe('m-1');
    const [c3] = (await s.claimDue('A', 2000, 60_000, 2)).filter((m) => m.id === 'm-3');
    expect(await s.finishDelivered(c3!.id, 'A', '250 ok', 2001)).toBe(true);
    expect(await s.getRaw('m-3')).toBeNull();
    // A body over a quarter of the budget is not kept in memory.
    const big = { ...msg('m-big', 'key-big'), raw: enc('x'.repeat(11)) };
    await s.insertMessage(big);
    zero();
    expect(new TextDecoder().decode((await s.getRaw('m-big'))!)).toBe('\0'.repeat(11));
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
