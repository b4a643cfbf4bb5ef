/**
 * Intake refuses what is not an encrypted SESAM-Vitale lot (docs/ARCHITECTURE.md principle 3,
 * docs/domain/transmission.md §2 and §7): one Application/EDI-consent entity, flag K, an EnvelopedData.
 * EnvelopedData from OpenSSL (`openssl cms -encrypt`, the reference of §2) and from our own
 * packager (src/lib/sesam packageLot + src/lib/cms) are accepted.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encryptFor, joinParts } from '../../src/lib/cms/index.js';
import { RelayApi, SqliteStore, type RelayConfig } from '../../src/lib/server/relay/index.js';
import { MemoryCompostageStore, composeMessage, encodeBase64Mime, packageLot, parseMessage } from '../../src/lib/sesam/index.js';
import { INSURER_ADDR, PRACTITIONER_ADDR } from './fixtures/mail.js';
import { composeTestMessage, envelopedData } from './fixtures/message.js';
import { makeIgcSante, relayConfig, token, upload, type IgcSante } from './fixtures/relay.js';

const B = 'http://relay.test';
let dir: string;
let pki: IgcSante;
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teletrans-relay-profile-'));
  pki = await makeIgcSante();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function setup(): Promise<{ api: RelayApi; store: SqliteStore; t: string }> {
  const store = new SqliteStore(join(dir, `p${++n}.sqlite`));
  // No delivery in these tests: the SMTP server is never contacted.
  const config: RelayConfig = relayConfig(pki, { host: '127.0.0.1', port: 9, security: 'starttls' });
  const api = new RelayApi(store, config);
  return { api, store, t: await token(api, pki) };
}

async function refusedWith(api: RelayApi, store: SqliteStore, t: string, bytes: Uint8Array, reason: string): Promise<void> {
  const key = `key-refused-${++n}`;
  const r = await api.handle(upload(B, t, key, bytes));
  expect(r.status).toBe(422);
  const body = (await r.json()) as { error: string; reason: string; detail: string };
  expect(body.error).toBe(reason);
  expect(body.reason).toBe(reason);
  // Nothing stored: no message under the key, no row at all.
  expect(await store.getMessageByKey('ps1', key)).toBeNull();
  expect(Object.values(await store.countByStatus()).reduce((a, b) => a + b, 0)).toBe(0);
}

const plainLot = new TextEncoder().encode('000 FSE LOT EN CLAIR: NIR 1 85 05 75 123 456 78, ACTE C 25,00\r\n'.repeat(20));

describe('intake: encrypted SESAM-Vitale lots only', () => {
  it('refuses a plaintext lot (no K flag), and a K flag over plaintext, storing nothing', async () => {
    const { api, store, t } = await setup();
    await refusedWith(api, store, t, composeTestMessage({ from: PRACTITIONER_ADDR, to: INSURER_ADDR, description: 'FSE/B2', content: plainLot }).bytes,
      'profile-not-encrypted');
    await refusedWith(api, store, t, composeTestMessage({ from: PRACTITIONER_ADDR, to: INSURER_ADDR, content: plainLot }).bytes,
      'profile-not-enveloped-data');
    // The refusal is in the audit trail with its reason, without the content.
    const audit = await store.listAudit(10);
    const refused = audit.filter((e) => e.action === 'message.refused');
    expect(refused.map((e) => e.detail.reason).sort()).toEqual(['profile-not-encrypted', 'profile-not-enveloped-data']);
    expect(JSON.stringify(refused)).not.toMatch(/NIR|FSE LOT/);
  });

  it('refuses the K flag missing even over a real EnvelopedData', async () => {
    const { api, store, t } = await setup();
    await refusedWith(api, store, t, composeTestMessage({ from: PRACTITIONER_ADDR, to: INSURER_ADDR, description: 'FSE/B2/Z' }).bytes,
      'profile-not-encrypted');
  });

  it('refuses two Application/EDI-consent entities, and a message with none', async () => {
    const { api, store, t } = await setup();
    const part = (name: string): string => [
      'Content-Type: Application/EDI-consent', 'Content-Transfer-Encoding: BASE64', 'Content-Description: FSE/B2/K',
      `Content-Disposition: attachment; filename="${name}"`, '', new TextDecoder().decode(encodeBase64Mime(envelopedData(new Uint8Array(64)))), ''].join('\r\n');
    const two = [
      `From: ${PRACTITIONER_ADDR}`, `To: ${INSURER_ADDR}`, 'Subject: SV140700/123456789/2026112208000000001/00025',
      'Date: Sun, 22 Nov 2026 08:00:00 +0100', 'Message-ID: <two-parts@example.test>', 'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"', '', '--b1', part('A.pkcs7'), '--b1', part('B.pkcs7'), '--b1--', ''].join('\r\n');
    await refusedWith(api, store, t, new TextEncoder().encode(two), 'profile-multiple-attachments');
    const none = composeMessage({ from: PRACTITIONER_ADDR, to: INSURER_ADDR, subject: 'x', date: new Date(), description: 'FSE/B2/K',
      filename: 'A.pkcs7', content: envelopedData(new Uint8Array(16)) });
    const text = new TextDecoder().decode(none.bytes).replace('Application/EDI-consent', 'text/plain');
    await refusedWith(api, store, t, new TextEncoder().encode(text), 'profile-malformed');
  });

  it('accepts an EnvelopedData made by OpenSSL (openssl cms -encrypt), bytes unchanged', async () => {
    const { api, store, t } = await setup();
    const d = mkdtempSync(join(dir, 'ossl-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(d, 'k.pem'), '-out', join(d, 'c.pem'),
      '-days', '2', '-subj', '/CN=amo_pj.test@test.rss.fr'], { stdio: 'ignore' });
    writeFileSync(join(d, 'lot'), plainLot);
    execFileSync('openssl', ['cms', '-encrypt', '-binary', '-aes-128-cbc', '-outform', 'der', '-in', join(d, 'lot'), '-out', join(d, 'lot.pkcs7'), join(d, 'c.pem')]);
    const der = new Uint8Array(readFileSync(join(d, 'lot.pkcs7')));
    const m = composeTestMessage({ from: PRACTITIONER_ADDR, to: INSURER_ADDR, content: der });
    const r = await api.handle(upload(B, t, 'key-openssl-1', m.bytes));
    expect(r.status).toBe(202);
    const { id } = (await r.json()) as { id: string };
    expect((await store.getMessage(id))?.size).toBe(m.bytes.byteLength);
    // What the relay holds still opens with the recipient's key, and only with it.
    const raw = await store.getRaw(id);
    expect(Buffer.from(raw!).equals(Buffer.from(m.bytes))).toBe(true);
    writeFileSync(join(d, 'held.pkcs7'), parseMessage(raw!).attachment);
    const opened = execFileSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'der', '-in', join(d, 'held.pkcs7'), '-inkey', join(d, 'k.pem'), '-recip', join(d, 'c.pem')]);
    expect(Buffer.from(opened).equals(Buffer.from(plainLot))).toBe(true);
  });

  it('accepts a lot packaged by our packager (packageLot + encryptFor), compressed or not', async () => {
    const { api, t } = await setup();
    const d = mkdtempSync(join(dir, 'pkg-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(d, 'k.pem'), '-outform', 'der', '-out', join(d, 'c.der'),
      '-days', '2', '-subj', '/CN=amo_pj.test@test.rss.fr'], { stdio: 'ignore' });
    const cert = new Uint8Array(readFileSync(join(d, 'c.der')));
    for (const compressed of [false, true]) {
      const p = await packageLot({
        kind: 'FSE', mode: 'test', compressed, from: PRACTITIONER_ADDR, to: INSURER_ADDR, exercice: '123456789', invoices: 25, version: '140700',
        file: { name: `LOT000${compressed ? 2 : 1}`, data: plainLot },
        encrypt: async (plain) => joinParts((await encryptFor(plain, cert, { insecureSkipVerify: true })).parts),
        compostage: new MemoryCompostageStore(),
      });
      expect(p.description).toBe(compressed ? 'FSETEST/B2/ZK' : 'FSETEST/B2/K');
      const r = await api.handle(upload(B, t, `key-packager-${compressed ? 'z' : 'p'}`, p.message));
      expect(r.status).toBe(202);
    }
  });
});
