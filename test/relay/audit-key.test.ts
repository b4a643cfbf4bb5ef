/**
 * The relay store's audit pseudonym key (RelayStore.auditPseudonymKey), on SQLite and on a
 * private PostgreSQL cluster: made once, 32 bytes, the same for every instance and after a
 * restart, never written into the audit trail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore, SqliteStore, type RelayStore } from '../../src/lib/server/relay/index.js';
import { startPostgres, type PgCluster } from './fixtures/postgres.js';

let pgc: PgCluster;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teletrans-relay-audit-key-'));
  pgc = await startPostgres();
});
afterAll(() => {
  pgc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const engines: Array<[string, () => Promise<RelayStore>]> = [
  ['sqlite', async () => new SqliteStore(join(dir, 'relay.sqlite'))],
  ['postgres', () => PostgresStore.open({ host: pgc.host, port: pgc.port, user: pgc.user, database: pgc.database })],
];

describe.each(engines)('%s store', (_name, open) => {
  it('keeps one pseudonym key for every instance and across restarts', async () => {
    const [a, b] = [await open(), await open()];
    const [ka, kb] = await Promise.all([a.auditPseudonymKey(), b.auditPseudonymKey()]);
    expect(ka).toHaveLength(32);
    expect(Buffer.from(kb).equals(Buffer.from(ka))).toBe(true);
    await a.audit({ at: Date.now(), actor: null, action: 'directory.fetch', detail: { status: 200 } });
    const hex = Buffer.from(ka).toString('hex');
    expect(JSON.stringify(await a.listAudit(10))).not.toContain(hex);
    await Promise.all([a.close(), b.close()]);
    const c = await open();
    try {
      expect(Buffer.from(await c.auditPseudonymKey()).equals(Buffer.from(ka))).toBe(true);
    } finally {
      await c.close();
    }
  });
});
