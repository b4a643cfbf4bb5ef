/**
 * The local operator of `npm start` (src/lib/server/mss/embedded-operator.ts) serves the relay's
 * own clients unchanged: the MSSanté service signs in at our test PRO Santé Connect, sends
 * (STARTTLS under the MSSanté policy, XOAUTH2), reads its inbox and messages (IMAP STARTTLS,
 * XOAUTH2), and is refused as an operator refuses — an expired token, a foreign sender, a
 * domain outside the trust space.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeMssMessage } from '../../src/lib/mss/compose.js';
import type { Whitelist, WhitelistEntry } from '../../src/lib/mss/whitelist.js';
import { startEmbeddedOperator, type EmbeddedOperator } from '../../src/lib/server/mss/embedded-operator.js';
import { MssOperatorError, openMailbox, submit } from '../../src/lib/server/mss/operator.js';
import { MssService, MssServiceError } from '../../src/lib/server/mss/service.js';
import { MemoryTokenVault } from '../../src/lib/server/mss/token-vault.js';
import { TestOidcProvider } from '../../src/lib/server/psc/test-provider.js';
import { freePort, makeTlsPki, type TestPki } from '../relay/fixtures/mail.js';
import { CLIENT, makeCard, providerOptions, PWA_ORIGIN, RPPS, type TestCard } from './fixtures/card.js';

const ME = 'dr.demo@demo.mssante.fr';
const OTHER = 'confrere@demo.mssante.fr';
const DOMAINS = ['demo.mssante.fr', 'patient.mssante.fr'];
const LIST: Whitelist = { generatedAt: new Date().toISOString(), signer: 'CN=X',
  domains: new Map([...DOMAINS, 'ailleurs.mssante.fr'].map((d): [string, WhitelistEntry] => [d, { domain: d, description: '', operatorCertificateDn: '', updated: '' }])) };

let pki: TestPki;
let card: TestCard;
let provider: TestOidcProvider;
let http: Server;
let op: EmbeddedOperator;
let svc: MssService;
let clock = Date.now();

beforeAll(async () => {
  pki = makeTlsPki(mkdtempSync(join(tmpdir(), 'mss-embedded-pki-')));
  card = await makeCard();
  const port = await freePort();
  provider = new TestOidcProvider({ ...providerOptions(card, { [RPPS]: ME }, () => clock), issuer: `http://127.0.0.1:${port}`, introspectors: [] });
  http = createServer((q, r) => void provider.handle(q, r));
  await new Promise<void>((r) => http.listen(port, '127.0.0.1', r));
  op = await startEmbeddedOperator({ dir: mkdtempSync(join(tmpdir(), 'mss-embedded-')), domains: DOMAINS, cert: readFileSync(pki.certPath, 'utf8'), key: readFileSync(pki.keyPath, 'utf8'),
    checkToken: async (t) => provider.mailboxOf(t) });
  svc = new MssService({ psc: { issuer: `http://127.0.0.1:${port}`, clientId: CLIENT.clientId, redirectUri: CLIENT.redirectUri }, tls: { ca: pki.caPem, servername: 'localhost' },
    whitelist: () => LIST, vault: new MemoryTokenVault(), now: () => clock,
    mailboxes: [{ practitioner: 'demo', address: ME, kind: 'personal', operator: { submission: { host: '127.0.0.1', port: op.submissionPort }, imap: { host: '127.0.0.1', port: op.imapPort } } }] });
  const ch = await svc.signInStart('demo');
  expect(ch.origin).toBe(PWA_ORIGIN);
  await svc.signInFinish('demo', await card.authenticator(ch));
}, 60_000);

afterAll(async () => {
  await svc?.close();
  await op?.close();
  await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
});

describe('the local operator of npm start', () => {
  it('takes a message from the relay and serves it back by IMAP, read and flagged', async () => {
    const m = composeMssMessage({ from: ME, fromKind: 'personal', to: [ME, OTHER], subject: 'Compte rendu', text: 'Bonjour.\r\n.Ligne commençant par un point', software: 'Teletrans/Teletrans/0.1.0', date: new Date() }, LIST);
    const r = await svc.send('demo', m.raw);
    expect(r.accepted.sort()).toEqual([ME, OTHER].sort());
    const inbox = await svc.inbox('demo');
    const e = inbox.find((x) => x.headers.includes(m.messageId))!;
    expect(e.flags).toEqual([]);
    expect(e.headers).toMatch(/^Subject: Compte rendu$/m);
    const raw = Buffer.from((await svc.message('demo', e.uid))!).toString('latin1');
    expect(raw).toContain(`Message-ID: ${m.messageId}`);
    expect(raw.replace(/^Return-Path: [^\r]*\r\n/, '')).toBe(Buffer.from(m.raw).toString('latin1'));
    expect((await svc.inbox('demo')).find((x) => x.uid === e.uid)!.flags).toEqual(['\\Seen']);
    const many = await svc.messages('demo', [e.uid]);
    expect(many.get(e.uid)!.length).toBe(raw.length);
  });

  it('refuses as an operator does: an expired token (535 5.7.8 / NO), another sender, a domain it does not serve', async () => {
    const token = await svc.accessToken('demo');
    const cfg = { submission: { host: '127.0.0.1', port: op.submissionPort }, imap: { host: '127.0.0.1', port: op.imapPort }, tls: { ca: pki.caPem, servername: 'localhost' } };
    const m = composeMssMessage({ from: ME, fromKind: 'personal', to: [OTHER], subject: 'x', text: 'x', software: 'T/T/1', date: new Date() }, LIST);
    clock += 3600_000;
    try {
      const e1 = await submit(cfg, { kind: 'xoauth2', address: ME, accessToken: token }, { from: ME, to: [OTHER] }, m.raw).catch((x: unknown) => x);
      expect(e1).toBeInstanceOf(MssOperatorError);
      expect((e1 as MssOperatorError).reply).toMatch(/^535 5\.7\.8/);
      const e2 = await openMailbox(cfg, { kind: 'xoauth2', address: ME, accessToken: token }).catch((x: unknown) => x);
      expect((e2 as MssOperatorError).reply).toMatch(/NO \[AUTHENTICATIONFAILED\] Authentication failed/);
    } finally {
      clock = Date.now();
    }
    const fresh = await svc.accessToken('demo');
    const forged = await submit(cfg, { kind: 'xoauth2', address: ME, accessToken: fresh }, { from: OTHER, to: [ME] }, m.raw).catch((x: unknown) => x);
    expect((forged as MssOperatorError).reply).toMatch(/^553 5\.7\.1/);
    const outside = composeMssMessage({ from: ME, fromKind: 'personal', to: ['x@ailleurs.mssante.fr'], subject: 'x', text: 'x', software: 'T/T/1', date: new Date() }, LIST);
    const e3 = await svc.send('demo', outside.raw).catch((x: unknown) => x);
    expect(e3).toBeInstanceOf(MssServiceError);
    expect((e3 as MssServiceError).message).toMatch(/550 5\.7\.1|refusé un destinataire/);
  });
});
