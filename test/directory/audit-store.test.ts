/**
 * The directory door's audit events are durable (docs/domain/security.md SA2): a fetch through the
 * endpoint leaves a row in the relay's real SQLite store, still there after the store is
 * reopened and after the relay's retention prune (≥ 12 months), holding no client address;
 * the client's pseudonym is made under the store's own key, the same after a restart.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectoryEndpoint, makeConfig } from '../../src/lib/server/directory';
import { durableAuditSink, loadPseudonymKey, pseudonymKeyId, pseudonymise } from '../../src/lib/server/directory/audit';
import { DEFAULTS } from '../../src/lib/server/relay/config';
import { SqliteStore } from '../../src/lib/server/relay/store/sqlite';
import { directoryTrailStore } from '../../src/lib/server/directory/trail-store';
import { pkitsDir } from '../pki/pkits-data';

const APP = 'http://127.0.0.1:5999';
const CLIENT_ADDRESS = '198.51.100.23';
const DAY = 86_400_000;

let dir: string;
let http: Server;
let port: number;
const cert = readFileSync(join(pkitsDir, 'certs', 'deltaCRLIndicatorNoBaseCACert.crt'));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teletrans-dir-audit-'));
  http = createServer((req, res) => {
    if (req.url === '/ca.crt') res.writeHead(200, { 'content-type': 'application/pkix-cert' }).end(cert);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  port = (http.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => http?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('directory audit in the relay store', () => {
  it('a fetch leaves a durable row in SQLite, kept by the retention prune', async () => {
    const file = join(dir, 'relay.sqlite');
    const store = new SqliteStore(file);
    await loadPseudonymKey(async () => store);
    const keyId = pseudonymKeyId();
    const pseudonym = pseudonymise(CLIENT_ADDRESS);
    const lines: unknown[] = [];
    const sink = durableAuditSink(async () => store, { stdout: (e) => lines.push(e) });
    const endpoint = createDirectoryEndpoint({
      config: () => makeConfig({ allow: `127.0.0.1:${port}`, timeoutMs: 2_000, connectTimeoutMs: 1_000, rate: { burst: 100, perMinute: 100 } }),
      audit: sink
    });
    const get = async (target: string): Promise<number> => {
      const url = new URL('/api/directory/fetch', APP);
      url.searchParams.append('url', target);
      const res = await endpoint.GET({ request: new Request(url, { headers: { origin: APP } }), url, getClientAddress: () => CLIENT_ADDRESS });
      await res.arrayBuffer();
      return res.status;
    };
    const before = Date.now();
    expect(await get(`http://127.0.0.1:${port}/ca.crt`)).toBe(200);
    expect(await get(`http://127.0.0.1:${port}/absent.crt`)).toBe(404);
    await sink.flush();
    // The stdout line is still written.
    expect(lines).toHaveLength(2);
    // A row older than the retention, to see the prune at work beside ours.
    await store.audit({ at: before - DEFAULTS.auditRetentionMs - DAY, actor: null, action: 'directory.fetch', detail: { status: 200 } });
    await store.close();

    // Reopened: the rows are on disk.
    const again = new SqliteStore(file);
    try {
      expect(DEFAULTS.auditRetentionMs).toBeGreaterThanOrEqual(365 * DAY);
      expect(await again.pruneAudit(Date.now() - DEFAULTS.auditRetentionMs)).toBe(1);
      const rows = (await again.listAudit(10)).filter((r) => r.action === 'directory.fetch');
      expect(rows).toHaveLength(2);
      const [missing, found] = rows; // newest first
      expect(found).toMatchObject({
        actor: null,
        action: 'directory.fetch',
        detail: { status: 200, items: 1, target: expect.stringContaining(`127.0.0.1:${port}`), keyId, client: pseudonym }
      });
      expect(found!.at).toBeGreaterThanOrEqual(before);
      expect(found!.detail.client).toMatch(/^[A-Za-z0-9_-]{12}$/);
      // After a restart (the store reopened, the key loaded again): the same pseudonym.
      await loadPseudonymKey(async () => again);
      expect([pseudonymKeyId(), pseudonymise(CLIENT_ADDRESS)]).toEqual([keyId, pseudonym]);
      expect(Buffer.from(await again.auditPseudonymKey()).toString('hex')).not.toBe('');
      expect(JSON.stringify(rows)).not.toContain(Buffer.from(await again.auditPseudonymKey()).toString('hex'));
      expect(missing).toMatchObject({ detail: { status: 404, code: 'not_found' } });
      // No client address in the trail, in any form.
      expect(JSON.stringify(rows)).not.toContain(CLIENT_ADDRESS);
    } finally {
      await again.close();
    }
  });

  it('a store that fails does not fail the request, and says so on stderr', async () => {
    const errors: string[] = [];
    const sink = durableAuditSink(async () => ({ audit: () => Promise.reject(new Error('disk full')) }), { stdout: null, onError: (e) => errors.push(e.message) });
    const endpoint = createDirectoryEndpoint({ config: () => makeConfig({ allow: `127.0.0.1:${port}` }), audit: sink });
    const url = new URL('/api/directory/fetch', APP);
    url.searchParams.append('url', `http://127.0.0.1:${port}/ca.crt`);
    const res = await endpoint.GET({ request: new Request(url), url, getClientAddress: () => CLIENT_ADDRESS });
    expect(res.status).toBe(200);
    await sink.flush();
    expect(errors).toEqual(['disk full']);
  });

  it('without a relay, the trail goes to an embedded SQLite file of its own: kept across a restart with the same pseudonyms, pruned past the retention', async () => {
    const file = join(dir, 'no-relay', 'directory-audit.sqlite');
    const noRelay = async (): Promise<null> => null;
    const trail = directoryTrailStore(noRelay, file);
    await loadPseudonymKey(trail);
    const keyId = pseudonymKeyId();
    const pseudonym = pseudonymise(CLIENT_ADDRESS);
    const sink = durableAuditSink(trail, { stdout: null });
    const endpoint = createDirectoryEndpoint({ config: () => makeConfig({ allow: `127.0.0.1:${port}`, rate: { burst: 100, perMinute: 100 } }), audit: sink });
    const url = new URL('/api/directory/fetch', APP);
    url.searchParams.append('url', `http://127.0.0.1:${port}/ca.crt`);
    expect((await endpoint.GET({ request: new Request(url, { headers: { origin: APP } }), url, getClientAddress: () => CLIENT_ADDRESS })).status).toBe(200);
    await sink.flush();
    // The same store for every call: opened once.
    expect(await trail()).toBe(await trail());
    const store = (await trail()) as SqliteStore;
    await store.audit({ at: Date.now() - DEFAULTS.auditRetentionMs - DAY, actor: null, action: 'directory.fetch', detail: { status: 200 } });
    await store.close();

    // A restart: a new store over the same file; the old row pruned at open, ours kept, the same key.
    const again = directoryTrailStore(noRelay, file);
    await loadPseudonymKey(again);
    expect([pseudonymKeyId(), pseudonymise(CLIENT_ADDRESS)]).toEqual([keyId, pseudonym]);
    const reopened = (await again()) as SqliteStore;
    try {
      await expect.poll(async () => (await reopened.listAudit(10)).filter((r) => r.action === 'directory.fetch').length).toBe(1);
      const [row] = (await reopened.listAudit(10)).filter((r) => r.action === 'directory.fetch');
      expect(row).toMatchObject({ detail: { status: 200, keyId, client: pseudonym } });
      expect(JSON.stringify(row)).not.toContain(CLIENT_ADDRESS);
    } finally {
      await reopened.close();
    }
    // With a relay, its store is used and no file is made.
    const relayFile = join(dir, 'unused', 'directory-audit.sqlite');
    const relayStore = new SqliteStore(join(dir, 'relay2.sqlite'));
    try {
      expect(await directoryTrailStore(async () => relayStore, relayFile)()).toBe(relayStore);
      expect(existsSync(relayFile)).toBe(false);
    } finally {
      await relayStore.close();
    }
  });
});
