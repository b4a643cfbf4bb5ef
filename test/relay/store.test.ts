/** The storage contract, run against SQLite (file, WAL) and a private PostgreSQL 15 cluster. */
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore, SqliteStore, type RelayStore } from '../../src/lib/server/relay/index.js';
import { startPostgres, type PgCluster } from './fixtures/postgres.js';

let pgc: PgCluster;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teletrans-relay-store-'));
  pgc = await startPostgres();
});
afterAll(() => {
  pgc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
const engines: Array<[string, () => Promise<RelayStore>]> = [
  ['sqlite', async () => new SqliteStore(join(dir, `s${++n}.sqlite`))],
  ['postgres', async () => {
    const s = await PostgresStore.open({ host: pgc.host, port: pgc.port, user: pgc.user, database: pgc.database });
    await (s as unknown as { pool: { query(q: string): Promise<unknown> } }).pool.query(
      'TRUNCATE relay_messages, relay_returns, relay_nonces, relay_sessions, relay_audit');
    return s;
  }],
];

const msg = (key: string, now = 1000) => ({
  id: `id-${key}-${Math.random().toString(16).slice(2)}`, practitioner: 'ps1', idempotencyKey: key, sha256: 'ab',
  envelopeFrom: 'ps@example.test', envelopeTo: ['amo@example.test'], raw: new TextEncoder().encode(`raw ${key}`),
  messageId: `<${key}@example.test>`, subject: 'S', now,
});

describe.each(engines)('%s store', (_name, open) => {
  it('inserts once per idempotency key and keeps the raw bytes', async () => {
    const s = await open();
    const a = await s.insertMessage(msg('k1'));
    const b = await s.insertMessage(msg('k1'));
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.message.id).toBe(a.message.id);
    expect(new TextDecoder().decode((await s.getRaw(a.message.id))!)).toBe('raw k1');
    expect((await s.findByMessageId('<k1@example.test>'))?.id).toBe(a.message.id);
    await s.close();
  });

  it('claims with leases: one owner at a time, finish only by the holder, expired lease flagged', async () => {
    const s = await open();
    for (let i = 0; i < 10; i++) await s.insertMessage(msg(`c${i}`));
    const [a, b] = await Promise.all([s.claimDue('A', 2000, 1000, 6), s.claimDue('B', 2000, 1000, 6)]);
    const ids = [...a, ...b].map((m) => m.id);
    expect(ids.length).toBe(10);
    expect(new Set(ids).size).toBe(10);
    const first = a[0] ?? b[0]!;
    const holder = a.length ? 'A' : 'B';
    expect(await s.finishDelivered(first.id, holder === 'A' ? 'B' : 'A', '250 ok', 2100)).toBe(false);
    expect(await s.finishDelivered(first.id, holder, '250 ok', 2100)).toBe(true);
    expect((await s.getMessage(first.id))?.status).toBe('delivered');
    // Nothing due before the leases expire; then the rest come back flagged.
    expect(await s.claimDue('C', 2500, 1000, 100)).toHaveLength(0);
    const again = await s.claimDue('C', 3500, 1000, 100);
    expect(again).toHaveLength(9);
    expect(again.every((m) => m.duplicateRisk && m.attempts === 2)).toBe(true);
    const d = again[0]!;
    const envelopeTo = (await s.getMessage(d.id))!.envelopeTo;
    expect(await s.finishDeferred(d.id, 'C', '451 later', 10_000, 3600)).toBe(true);
    expect((await s.getMessage(d.id))?.envelopeTo).toEqual(envelopeTo); // unchanged without remainingTo
    const e = again[1]!;
    expect(await s.finishDeferred(e.id, 'C', '250 ok; refused: <b@x> 450 later', 10_000, 3600, false, ['b@example.test'])).toBe(true);
    expect((await s.getMessage(e.id))?.envelopeTo).toEqual(['b@example.test']);
    expect(await s.claimDue('C', 4000, 1000, 100)).toHaveLength(0);
    expect((await s.claimDue('C', 10_000, 1000, 100)).map((m) => m.id)).toContain(d.id);
    expect(await s.finishFailed(d.id, 'C', '550 no', 10_001)).toBe(true);
    expect((await s.getMessage(d.id))?.lastReply).toBe('550 no');
    await s.markBounced(d.id, '5.1.1', 10_002);
    expect((await s.countByStatus()).bounced).toBe(1);
    await s.close();
  });

  it('returns, nonces, sessions and audit', async () => {
    const s = await open();
    const r = { id: 'r1', practitioner: 'ps1', sourceKey: 'imap:INBOX:1:1', messageId: '<m@x>', subject: 'ARL', raw: new Uint8Array([1, 2]), relatedMessage: null, now: 5 };
    expect((await s.insertReturn(r)).created).toBe(true);
    expect((await s.insertReturn({ ...r, id: 'r2' })).created).toBe(false);
    expect(await s.hasReturn('ps1', 'imap:INBOX:1:1')).toBe(true);
    expect(await s.listReturns('ps1', false)).toHaveLength(1);
    expect(await s.acknowledgeReturn('ps1', 'r1', 6)).toBe(true);
    expect(await s.acknowledgeReturn('other', 'r1', 6)).toBe(false);
    expect(await s.listReturns('ps1', false)).toHaveLength(0);
    expect(await s.listReturns('ps1', true)).toHaveLength(1);
    expect(Array.from((await s.getReturnRaw('ps1', 'r1'))!)).toEqual([1, 2]);
    await s.createNonce('n1', 'https://o', Date.now() + 1000);
    expect(await s.consumeNonce('n1', Date.now())).toBe('https://o');
    expect(await s.consumeNonce('n1', Date.now())).toBeNull();
    await s.createNonce('n2', 'https://o', Date.now() + 1000);
    expect(await s.consumeNonce('n2', Date.now() + 2000)).toBeNull();
    await s.createSession({ id: 's1', practitioner: 'ps1', certSha256: 'c', createdAt: 1, lastSeenAt: 1, certDer: Uint8Array.of(0x30, 0) });
    await s.touchSession('s1', 7);
    expect((await s.getSession('s1'))?.lastSeenAt).toBe(7);
    expect(Array.from((await s.getSession('s1'))!.certDer!)).toEqual([0x30, 0]);
    await s.deleteSession('s1');
    expect(await s.getSession('s1')).toBeNull();
    await s.audit({ at: 1, actor: 'ps1', action: 'x', detail: { a: 1 } });
    expect((await s.listAudit(5))[0]?.action).toBe('x');
    await s.close();
  });

  it('prunes audit events older than the retention limit only', async () => {
    const s = await open();
    const day = 24 * 3600_000;
    const now = 400 * day;
    for (const age of [500, 396, 395, 10]) await s.audit({ at: now - age * day, actor: 'ps1', action: `a${age}`, detail: {} });
    expect(await s.pruneAudit(now - 396 * day)).toBe(1);
    expect((await s.listAudit(10)).map((e) => e.action).sort()).toEqual(['a10', 'a395', 'a396']);
    await s.close();
  });
});

describe('sqlite store files', () => {
  it('are readable by their owner only, the WAL included, and an older world-readable file is narrowed', async () => {
    const path = join(dir, 'modes.sqlite');
    writeFileSync(path, '');
    chmodSync(path, 0o644);
    const s = new SqliteStore(path);
    await s.insertMessage(msg('mode'));
    for (const f of [path, `${path}-wal`, `${path}-shm`]) expect([f, statSync(f).mode & 0o777]).toEqual([f, 0o600]);
    await s.close();
  });
});

describe('sqlite group commit', () => {
  it('rolls back only the write that fails: the others in the same commit land', async () => {
    // White-box: no public call fails halfway inside a transaction, so the test queues its own
    // writes next to a real insert, in the same event-loop turn (one group commit).
    const s = new SqliteStore(join(dir, 'group.sqlite'));
    await s.insertMessage(msg('g0'));
    const inner = s as unknown as { write<T>(fn: () => T): Promise<T>; db: { prepare(q: string): { run(...a: unknown[]): unknown } } };
    const setSubject = (subject: string) => inner.db.prepare("UPDATE messages SET subject = ? WHERE idempotency_key = 'g0'").run(subject);
    const results = await Promise.allSettled([
      inner.write(() => setSubject('kept')),
      inner.write(() => {
        setSubject('rolled back');
        throw new Error('write failed halfway');
      }),
      s.insertMessage(msg('g1')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('write failed halfway');
    expect((await s.listMessages('ps1', 10)).map((m) => [m.idempotencyKey, m.subject]).sort())
      .toEqual([['g0', 'kept'], ['g1', 'S']]);
    await s.close();
  });
});
