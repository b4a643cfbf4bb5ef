/**
 * The relay keeps its CRLs fresh from files and URLs (crl-sources.ts): a revocation published
 * after start refuses the card, a replayed older CRL does not undo it, a broken or unreachable
 * source keeps the last good CRL, a source never loaded refuses rather than trusts. Real HTTP
 * server on loopback, real files, real PKI validation.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCrl } from '../pki/fixtures/forge.js';
import { CrlSources, RelayApi, SqliteStore, startRelay } from '../../src/lib/server/relay/index.js';
import { login, makeIgcSante, relayConfig, type IgcSante } from './fixtures/relay.js';

let pki: IgcSante;
let dir: string;
let server: Server;
let base: string;
/** What the HTTP server answers for /inter.crl: bytes, or a status code. */
let served: Uint8Array | number = 404;
const H = 3_600_000;

beforeAll(async () => {
  pki = await makeIgcSante();
  dir = mkdtempSync(join(tmpdir(), 'teletrans-relay-crl-'));
  writeFileSync(join(dir, 'root.crl'), pki.rootCrl);
  server = createServer((req, res) => {
    if (req.url !== '/inter.crl' || typeof served === 'number') {
      res.writeHead(typeof served === 'number' ? served : 404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(Buffer.from(served));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const interCrl = (thisUpdate: Date, revoked: number[]): Promise<Uint8Array> =>
  issueCrl({ issuerCert: pki.inter, signer: pki.interKey, thisUpdate, entries: revoked.map((serial) => ({ serial, reason: 'keyCompromise' as const })) });

describe('CRLs loaded and refreshed by the relay', () => {
  it('follows the published CRL: revocation after start refuses the card; replayed, broken or lost sources change nothing', async () => {
    const sources = new CrlSources([join(dir, 'root.crl'), `${base}/inter.crl`], () => undefined);
    const store = new SqliteStore(join(dir, 'a.sqlite'));
    const config = relayConfig(pki, { host: '127.0.0.1', port: 1, security: 'starttls' }, { crls: [] });
    const api = new RelayApi(store, config, undefined, () => sources.list());
    const call = (q: Request): Promise<Response> => api.handle(q);
    const status = async (): Promise<number> => (await login(call, pki.leaf, pki.leafKey)).status;
    try {
      // Never loaded (404): the intermediate's CRL is missing, so the card is refused.
      expect((await sources.refresh()).map((r) => r.ok)).toEqual([true, false]);
      expect(await status()).toBe(401);
      served = await interCrl(new Date(Date.now() - 2 * H), []);
      expect((await sources.refresh()).every((r) => r.ok)).toBe(true);
      expect(sources.list()).toHaveLength(2);
      expect(await status()).toBe(200);
      // The leaf (serial 100) is revoked in a newer CRL.
      served = await interCrl(new Date(Date.now() - H), [100]);
      await sources.refresh();
      const refused = await login(call, pki.leaf, pki.leafKey);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { detail: string }).detail).toMatch(/revoked/i);
      // An older CRL without the revocation, replayed: ignored.
      served = await interCrl(new Date(Date.now() - 3 * H), []);
      await sources.refresh();
      expect(await status()).toBe(401);
      // A broken answer and a server error keep the last good CRL.
      served = new TextEncoder().encode('-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n');
      const [, broken] = await sources.refresh();
      expect(broken).toMatchObject({ ok: false, crls: 1 });
      served = 500;
      const [, lost] = await sources.refresh();
      expect(lost).toMatchObject({ ok: false, crls: 1, error: 'HTTP 500' });
      expect(await status()).toBe(401);
    } finally {
      await store.close();
    }
  });

  it('refuses a source that is not only CRLs, and is wired into startRelay', async () => {
    writeFileSync(join(dir, 'cert.pem'), pki.root);
    const bad = new CrlSources([join(dir, 'cert.pem'), join(dir, 'missing.crl')], () => undefined);
    const reports = await bad.refresh();
    expect(reports.map((r) => r.ok)).toEqual([false, false]);
    expect(reports[0]!.error).toMatch(/not a CRL/);
    expect(bad.list()).toHaveLength(0);

    served = await interCrl(new Date(Date.now() - H), []);
    const store = new SqliteStore(join(dir, 'b.sqlite'));
    const relay = await startRelay(relayConfig(pki, { host: '127.0.0.1', port: 1, security: 'starttls' },
      { crls: [], crlSources: [join(dir, 'root.crl'), `${base}/inter.crl`] }), store, { deliver: false, pickupSchedule: false });
    try {
      expect((await login((q) => relay.api.handle(q), pki.leaf, pki.leafKey)).status).toBe(200);
    } finally {
      await relay.stop();
    }
  });
});
