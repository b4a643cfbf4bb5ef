/**
 * The embedded defaults (demo.ts): the demo credential is a CPS authentication certificate from
 * the shared fictitious PKI (src/lib/pki/demo), named by its RPPS; it logs in under the
 * CPS-authentication profile, and a credential kept from before (CN only) is re-issued.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { testKeySigner } from '../../src/lib/billing/index.js';
import { genKey, issueCert, issueCpsCertificate } from '../../src/lib/pki/demo/index.js';
import { cpsIdentity, parseCertificate } from '../../src/lib/pki/index.js';
import { readDemoPki } from '../../src/lib/server/demo-pki.js';
import { DEMO_FROM, DEMO_RPPS, startDemo } from '../../src/lib/server/relay/demo.js';
import { SqliteStore, demoSmtp, pickup, startRelay } from '../../src/lib/server/relay/index.js';
import { readReturn } from '../../src/lib/sesam/returns/read.js';
import { RPPS } from '../billing/fixtures.js';
import { sentDay } from '../insurer/fixtures.js';
import { login, upload } from './fixtures/relay.js';

const ORIGIN = 'http://127.0.0.1:3000';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function credential(dir: string): { cert: Uint8Array; key: Promise<CryptoKey> } {
  const block = (text: string, label: string): Uint8Array<ArrayBuffer> =>
    new Uint8Array(Buffer.from(new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`).exec(text)![1]!.replace(/\s+/g, ''), 'base64'));
  const cert = block(readFileSync(join(dir, 'practitioner.pem'), 'utf8'), 'CERTIFICATE');
  const key = crypto.subtle.importKey('pkcs8', block(readFileSync(join(dir, 'practitioner.key'), 'utf8'), 'PRIVATE KEY'),
    { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
  return { cert, key };
}

describe('embedded defaults', () => {
  it('issues a demo CPS authentication credential that logs in as the demo practitioner, and renews a CN-only one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'teletrans-demo-'));
    dirs.push(dir);
    let demo = await startDemo(dir, [ORIGIN]);
    try {
      const { cert, key } = credential(dir);
      expect(cpsIdentity(parseCertificate(cert)).nationalId).toBe(DEMO_RPPS);
      // As getRelay() starts it: the demo's CRLs come through crlSources.
      const relay = await startRelay(demo.config, new SqliteStore(join(dir, 'r1.sqlite')), { deliver: false, pickupSchedule: false });
      try {
        const r = await login((q) => relay.api.handle(q), cert, { privateKey: await key } as Parameters<typeof login>[2], ORIGIN);
        expect(r.status).toBe(200);
        expect(((await r.json()) as { practitioner: string }).practitioner).toBe('demo');
      } finally {
        await relay.stop();
      }
    } finally {
      await demo.stop();
    }
    // A directory from before practitioners were named by RPPS: its leaf carried the name only.
    const saved = JSON.parse(readFileSync(join(dir, 'pki.json'), 'utf8')) as { leafDer: string; caDer: string };
    const old = await issueCert({ subject: 'CN=DEMO FICTIF 899700000001,OU=CPS DEMO,O=TELETRANS FICTIF,C=FR', key: await genKey(),
      keyUsage: { bits: ['digitalSignature'], critical: true } });
    writeFileSync(join(dir, 'pki.json'), JSON.stringify({ ...saved, leafDer: Buffer.from(old).toString('base64') }));
    demo = await startDemo(dir, [ORIGIN]);
    try {
      const { cert } = credential(dir);
      expect(cpsIdentity(parseCertificate(cert)).nationalId).toBe(DEMO_RPPS);
      const kept = JSON.parse(readFileSync(join(dir, 'pki.json'), 'utf8')) as { leafDer: string; caDer: string };
      expect(kept.caDer).toBe(saved.caDer); // same CAs: only the credential is new
      expect(kept.leafDer).toBe(Buffer.from(cert).toString('base64'));
    } finally {
      await demo.stop();
    }
  });
});

describe('returns on the embedded defaults (issue 15)', () => {
  it('a lot sent through the demo relay reaches the test peer, the simulated front end answers into the embedded mailbox, the relay picks the ARL up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'teletrans-demo-returns-'));
    dirs.push(dir);
    const demo = await startDemo(dir, [ORIGIN]);
    const store = new SqliteStore(join(dir, 'relay.sqlite'));
    const relay = await startRelay(demo.config, store, { pickupSchedule: false });
    try {
      const pki = await readDemoPki(dir);
      const amo = pki.recipients[0]!;
      // A CPS signature certificate from the demo PKI, as the bridge's simulated card holds one.
      const cardKey = await genKey();
      const cardCert = await issueCpsCertificate({ rpps: RPPS.doctor, name: 'FICTIF-TEST CLAIRE', usage: 'sign', key: cardKey, caDer: pki.igcCa.der, caKey: pki.igcCa.key });
      const { message } = await sentDay({ recipient: amo.der, signer: testKeySigner(cardKey.privateKey, cardCert), from: DEMO_FROM });
      const { cert, key } = credential(dir);
      const lr = await login((q) => relay.api.handle(q), cert, { privateKey: await key } as Parameters<typeof login>[2], ORIGIN);
      const { token } = (await lr.json()) as { token: string };
      const accepted = await relay.api.handle(upload('http://relay.test', token, 'demo-returns-1', message));
      expect(accepted.status, await accepted.clone().text()).toBe(202);
      const { id } = (await accepted.json()) as { id: string };
      relay.worker.poke();
      const box = join(dir, 'mailboxes', 'demo', 'new');
      const end = Date.now() + 30_000;
      while (!(existsSync(box) && readdirSync(box).length > 0)) {
        if (Date.now() > end) throw new Error(`no answer in the embedded mailbox (message ${(await store.getMessage(id))?.status})`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const practitioner = demo.config.practitioners.find((p) => p.id === 'demo')!;
      expect(practitioner.mailbox).toEqual({ protocol: 'maildir', path: join(dir, 'mailboxes', 'demo') });
      expect(await pickup(store, practitioner)).toMatchObject({ stored: 1, removed: 1 });
      const [ret] = await store.listReturns('demo', false);
      const arl = await readReturn((await store.getReturnRaw('demo', ret!.id))!);
      expect(arl.kind).toBe('arl');
      expect(arl.nature).toBe('ARLTEST/NOEMIE');
      expect(arl.arl?.lots).toEqual([expect.objectContaining({ documents: 1, accepted: true })]);
    } finally {
      await relay.stop();
      await demo.stop();
    }
  });
});

describe('the embedded defaults with a mail server of the lab’s own (TELETRANS_RELAY_DEMO_SMTP)', () => {
  it('is STARTTLS to host:port with the CA named, and stops the start on a malformed value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'teletrans-demo-smtp-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n');
    expect(demoSmtp({})).toBeUndefined();
    expect(demoSmtp({ TELETRANS_RELAY_DEMO_SMTP: '127.0.0.1:2525', TELETRANS_RELAY_DEMO_SMTP_CA: join(dir, 'ca.pem') })).toEqual({
      host: '127.0.0.1', port: 2525, security: 'starttls', tls: { ca: readFileSync(join(dir, 'ca.pem'), 'utf8'), servername: 'localhost' },
    });
    for (const bad of ['127.0.0.1', 'mx:0', 'mx:70000', 'mx:25 --x', 'a b:25'])
      expect(() => demoSmtp({ TELETRANS_RELAY_DEMO_SMTP: bad, TELETRANS_RELAY_DEMO_SMTP_CA: join(dir, 'ca.pem') }), bad).toThrow(/expected host:port/);
    expect(() => demoSmtp({ TELETRANS_RELAY_DEMO_SMTP: 'mx.test:587' })).toThrow(/TELETRANS_RELAY_DEMO_SMTP_CA/);
  });
});
