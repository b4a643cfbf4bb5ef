/**
 * `npm start`'s one fictitious PKI (src/lib/server/demo-pki.ts, issue 14 item 1), shared by the
 * bridge's simulated cards, the relay and the insurers' test recipients:
 * - made once, atomically, even by two processes at once; read back identical;
 * - OpenSSL verifies the recipients' chain with the CRLs; the browser's demonstration bundle
 *   imports into a trust store (hierarchy « test », provenance `demo`), encrypts for the AMO
 *   mailbox, and OpenSSL opens it with the recipient's key kept in the demo directory;
 * - the bridge's simulated CPS, made from it (`--demo-dir`), logs in to the demo relay through
 *   the bridge (`card.authenticate`), as the page does; without its PIN it cannot.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCps, makeVitale } from '../../bridge/cards/profiles.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import { SimulatedTransport } from '../../bridge/transport.js';
import { relayLogin, RelayLoginError } from '../../src/lib/client/relay/login.js';
import { checkRecipient, encryptDocument, joinParts } from '../../src/lib/cms/index.js';
import { DEMO_RECIPIENTS, DEMO_RPPS, readDemoPki } from '../../src/lib/server/demo-pki.js';
import { SqliteStore, startRelay, type Relay } from '../../src/lib/server/relay/index.js';
import { startDemo, type DemoRelay } from '../../src/lib/server/relay/demo.js';
import { MemoryTrustStore } from '../../src/lib/trust/memory-store.js';
import { TrustService } from '../../src/lib/trust/service.js';
import { approver, client, stateDir } from '../bridge/helpers.js';

const ORIGIN = 'http://127.0.0.1:3000';
const REPO = join(import.meta.dirname, '..', '..');

describe('the demo PKI of npm start', () => {
  let dir: string;
  let demo: DemoRelay;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'teletrans-demo-system-'));
    demo = await startDemo(join(dir, 'demo'), [ORIGIN]);
  }, 60_000);
  afterAll(async () => {
    await demo?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is made once, atomically, by two processes at once: both read the same PKI', async () => {
    const shared = join(dir, 'race');
    const script = `import { ensureDemoPki } from ${JSON.stringify(join(REPO, 'src/lib/server/demo-pki.ts'))};
      const p = await ensureDemoPki(${JSON.stringify(shared)});
      console.log(Buffer.from(p.igcRoot.der).toString('base64').slice(-40) + ' ' + Buffer.from(p.recipients[0].der).toString('base64').slice(-40));`;
    const run = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (err += d));
        c.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(err))));
      });
    const [a, b] = await Promise.all([run(), run()]);
    expect(a).toBe(b);
    const again = await readDemoPki(shared);
    expect(`${Buffer.from(again.igcRoot.der).toString('base64').slice(-40)} ${Buffer.from(again.recipients[0]!.der).toString('base64').slice(-40)}`).toBe(a);
    expect(statSync(join(shared, 'pki.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(shared, 'recipients', `${DEMO_RECIPIENTS[0]}.key`)).mode & 0o777).toBe(0o600);
  }, 120_000);

  it('OpenSSL verifies the recipients with the CRLs; the bundle fills a trust store as demonstration data; OpenSSL opens what it encrypts', async () => {
    const d = join(dir, 'demo');
    writeFileSync(join(dir, 'chain.pem'), readFileSync(join(d, 'demo-sesam-root.pem')));
    const bundle = demo.trustBundle();
    const blocks = bundle.match(/-----BEGIN [A-Z0-9 ]+-----[^-]+-----END [A-Z0-9 ]+-----\n/g)!;
    expect(blocks.map((b) => /BEGIN ([A-Z0-9 ]+)-----/.exec(b)![1])).toEqual(['CERTIFICATE', 'CERTIFICATE', 'X509 CRL', 'X509 CRL', 'CERTIFICATE', 'CERTIFICATE']);
    expect(bundle).not.toMatch(/PRIVATE KEY/);
    writeFileSync(join(dir, 'ca.pem'), blocks[1]!);
    writeFileSync(join(dir, 'crls.pem'), blocks[2]! + blocks[3]!);
    for (const email of DEMO_RECIPIENTS) {
      const out = execFileSync('openssl', ['verify', '-crl_check_all', '-CAfile', join(dir, 'chain.pem'), '-untrusted', join(dir, 'ca.pem'), '-CRLfile', join(dir, 'crls.pem'), join(d, 'recipients', `${email}.pem`)], { encoding: 'utf8' });
      expect(out).toContain(': OK');
    }

    const trust = await TrustService.open({ store: new MemoryTrustStore(), clock: () => Date.now(), random: () => 0.5, actor: 'system', fetcher: async () => { throw new Error('offline'); } });
    const reports = await trust.importFile(bundle, { source: 'demo' });
    expect(reports.map((r) => r.outcome)).toEqual(['stored', 'stored', 'stored', 'stored', 'stored', 'stored']);
    const hierarchies = trust.hierarchies(Date.now());
    expect(hierarchies.map((h) => [h.hierarchy, h.roots.length, h.intermediates.length, h.roots[0]!.demo])).toEqual([['test', 1, 1, true]]);
    const recipients = trust.recipients(Date.now());
    expect(recipients.map((r) => [r.recipient, r.usable, r.demo]).sort()).toEqual(DEMO_RECIPIENTS.map((e) => [e, true, true]).sort());
    // Importing again (each start does, for fresher CRLs) changes nothing else.
    expect((await trust.importFile(demo.trustBundle(), { source: 'demo' })).filter((r) => r.kind !== 'crl').map((r) => r.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);

    const amo = DEMO_RECIPIENTS[0]!;
    const rec = recipients.find((r) => r.recipient === amo)!;
    const der = trust.snapshot().recipients.find((r) => r.fingerprint === rec.fingerprint)!.der;
    const crls = blocks.slice(2, 4).map((b) => new Uint8Array(Buffer.from(b.replace(/-----[A-Z0-9 ]+-----|\s/g, ''), 'base64')));
    const pem2der = (b: string): Uint8Array => new Uint8Array(Buffer.from(b.replace(/-----[A-Z0-9 ]+-----|\s/g, ''), 'base64'));
    const recipient = await checkRecipient(der, { anchors: [pem2der(blocks[0]!)], intermediates: [pem2der(blocks[1]!)], crls, email: amo, at: new Date() });
    const lot = new TextEncoder().encode('LOT FICTIF DE DEMONSTRATION\r\n');
    writeFileSync(join(dir, 'lot.p7m'), joinParts((await encryptDocument(lot, recipient)).parts));
    const opened = execFileSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'der', '-in', join(dir, 'lot.p7m'), '-inkey', join(d, 'recipients', `${amo}.key`), '-recip', join(d, 'recipients', `${amo}.pem`)]);
    expect(Buffer.from(opened).toString()).toBe('LOT FICTIF DE DEMONSTRATION\r\n');
    trust.close();
  }, 60_000);

  describe('the simulated CPS made from it logs in to the demo relay through the bridge', () => {
    let bridge: Bridge;
    let relay: Relay;
    let reader: string;
    const a = approver();

    beforeAll(async () => {
      const pki = await readDemoPki(join(dir, 'demo'));
      const cardPki = { rootDer: pki.igcRoot.der, caDer: pki.igcCa.der, caKey: pki.igcCa.key };
      const sim = new SimulatedTransport();
      const names = sim.readers().map((r) => r.name);
      sim.insert(names[0]!, (await makeCps(cardPki)).card);
      sim.insert(names[1]!, (await makeVitale(cardPki)).card);
      reader = names[0]!;
      bridge = await startBridge({ port: 0, transport: sim, stateDir: await stateDir(), approve: a.hook, allowedOrigins: [ORIGIN] });
      // As the server runs it: the CRLs of the demo CAs read from the demo directory.
      relay = await startRelay(demo.config, new SqliteStore(join(dir, 'relay.sqlite')), { deliver: false, pickupSchedule: false });
    }, 60_000);
    afterAll(async () => {
      await bridge?.close();
      await relay?.stop();
    });

    const relayFetch = (async (url: string | URL | Request, init?: RequestInit) => relay.api.handle(new Request(`http://relay.test${String(url)}`, init))) as typeof fetch;

    it('with the PIN verified in its bridge session: a relay session for the demo practitioner', async () => {
      const c = client(bridge.url, ORIGIN);
      await c.pair(a.pageCode);
      await c.connect();
      try {
        // Not before the PIN: the bridge refuses to authenticate (ADR 0003).
        const early = await relayLogin({ fetch: relayFetch, origin: ORIGIN, card: c, reader }).catch((e: unknown) => e);
        expect(early).toMatchObject({ code: 'pin_required' });
        expect(await c.verifyPin(reader, new TextEncoder().encode('1234'))).toMatchObject({ ok: true });
        const s = await relayLogin({ fetch: relayFetch, origin: ORIGIN, card: c, reader });
        expect(s.practitioner).toBe('demo');
        expect(s.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
        const list = await relay.api.handle(new Request('http://relay.test/api/relay/messages', { headers: { authorization: `Bearer ${s.token}` } }));
        expect(list.status).toBe(200);
        // Another origin's nonce is not this session's: the relay refuses the signature.
        const other = await relayLogin({ fetch: relayFetch, origin: 'http://localhost:3000', card: c, reader }).catch((e: unknown) => e);
        expect(other).toBeInstanceOf(RelayLoginError);
        expect(DEMO_RPPS).toBe('19999990013');
      } finally {
        c.close();
      }
    });
  });
});
