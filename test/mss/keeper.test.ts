/**
 * The relay's copy of the trust space (src/lib/server/mss/whitelist-keeper.ts): fetched over
 * HTTP, verified, kept on disk as the signed file and verified again at restart; a broken,
 * unsigned, unreachable or replayed list changes nothing, and says why.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignerTrust } from '../../src/lib/mss/xmldsig.js';
import { WhitelistKeeper } from '../../src/lib/server/mss/whitelist-keeper.js';
import { signXml, whitelistXml } from '../../src/lib/server/mss/whitelist-signer.js';
import { freePort } from '../relay/fixtures/mail.js';
import { ENTRIES, makeTrust, type TrustFixture } from './fixtures/trust.js';

let t: TrustFixture;
let trust: SignerTrust;
let server: Server;
let url: string;
let serve: { status: number; body: string } = { status: 200, body: '' };

beforeAll(async () => {
  t = await makeTrust();
  trust = { anchors: [t.root], intermediates: [t.orgCa], crls: t.crls, servSmime: t.profile };
  const port = await freePort();
  server = createServer((_req, res) => {
    res.writeHead(serve.status, { 'content-type': 'application/xml' });
    res.end(serve.body);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  url = `http://127.0.0.1:${port}/liste-blanche.xml`;
}, 60_000);

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const signed = (at: string, entries = ENTRIES): Promise<string> => signXml(whitelistXml(at, entries), t.agency.key.privateKey, [t.agency.der, t.orgCa]);

describe('the relay’s copy of the whitelist', () => {
  it('fetches, verifies and keeps it; a restart verifies the kept file again; failures keep the last valid copy', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mss-keeper-')), 'liste-blanche.xml');
    const reports: string[] = [];
    const keeper = new WhitelistKeeper({ url, trust: () => trust, file, report: (u) => reports.push(u.status) });
    serve = { status: 200, body: await signed('2026-12-05T02:00:00Z') };
    expect((await keeper.refresh()).status).toBe('updated');
    expect(readFileSync(file, 'utf8')).toBe(serve.body);
    expect(keeper.current()!.domains.size).toBe(3);

    serve = { status: 200, body: serve.body.replace('medecin.mssante.fr', 'pirate.fr') };
    const broken = await keeper.refresh();
    expect(broken.status === 'kept_last_valid' && broken.error.code).toBe('signature_invalid');
    serve = { status: 503, body: 'indisponible' };
    const down = await keeper.refresh();
    expect(down.status === 'kept_last_valid' && down.error.code).toBe('whitelist_unavailable');
    serve = { status: 200, body: await signed('2026-12-01T02:00:00Z', ENTRIES.slice(0, 1)) };
    const replay = await keeper.refresh();
    expect(replay.status === 'kept_last_valid' && replay.error.code).toBe('whitelist_older');
    expect(keeper.current()!.domains.size).toBe(3);
    expect(reports).toEqual(['updated', 'kept_last_valid', 'kept_last_valid', 'kept_last_valid']);

    const restarted = new WhitelistKeeper({ url, trust: () => trust, file });
    await restarted.load();
    expect(restarted.current()!.generatedAt).toBe('2026-12-05T02:00:00Z');
    // A kept file changed on disk is not used.
    writeFileSync(file, readFileSync(file, 'utf8').replace('ch-fictif', 'ch-pirate'));
    const tampered = new WhitelistKeeper({ url, trust: () => trust, file });
    await tampered.load();
    expect(tampered.current()).toBeNull();
  });

  it('without any valid list, nothing is trusted and nothing is written', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mss-keeper-')), 'liste-blanche.xml');
    const keeper = new WhitelistKeeper({ url, trust: () => trust, file });
    serve = { status: 200, body: whitelistXml('2026-12-05T02:00:00Z', ENTRIES) };
    const u = await keeper.refresh();
    expect(u).toMatchObject({ status: 'unavailable', list: null });
    expect(u.status === 'unavailable' && u.error.code).toBe('signature_missing');
    expect(existsSync(file)).toBe(false);
  });
});
