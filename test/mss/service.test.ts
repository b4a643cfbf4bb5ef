/**
 * The relay's MSSanté service (src/lib/server/mss/service.ts) against the test operator
 * (Postfix + Dovecot + our PRO Santé Connect): sign-in driven by the relay with only the card's
 * signature from the page, tokens renewed after expiry and revoked on sign-out, the refresh
 * token encrypted at rest, a message sent after the relay's own checks and read by IMAP over
 * one kept session — re-opened past the operators' idle limit — and the relay refusing what a
 * hostile page could post.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeMssMessage, type MssComposeInput } from '../../src/lib/mss/compose.js';
import type { Whitelist, WhitelistEntry } from '../../src/lib/mss/whitelist.js';
import { MssService, MssServiceError } from '../../src/lib/server/mss/service.js';
import { FileTokenVault } from '../../src/lib/server/mss/token-vault.js';
import { makeCard, providerOptions, PWA_ORIGIN, RPPS, type TestCard } from './fixtures/card.js';
import { APP_BOX, APP_PASS, COLLEAGUES, colleaguePass, DOMAINS, PATIENT_BOX, PRACTITIONER, startOperator, type Operator } from './fixtures/operator.js';
import { openMailbox } from '../../src/lib/server/mss/operator.js';

let op: Operator;
let card: TestCard;
let svc: MssService;
let appSvc: MssService;
let vaultDir: string;
let clock = Date.now();
const traces: Array<{ action: string; detail: Record<string, unknown> }> = [];
let list: Whitelist | null = { generatedAt: '2026-12-05T02:00:00Z', signer: 'CN=AGENCE',
  domains: new Map(DOMAINS.map((d): [string, WhitelistEntry] => [d, { domain: d, description: '', operatorCertificateDn: 'CN=X', updated: '2026-12-01' }])) };

beforeAll(async () => {
  card = await makeCard();
  op = await startOperator(providerOptions(card, { [RPPS]: PRACTITIONER }, () => clock));
  vaultDir = join(mkdtempSync(join(tmpdir(), 'mss-vault-')), 'tokens');
  const endpoints = { submission: { host: '127.0.0.1', port: op.submissionPort }, imap: { host: '127.0.0.1', port: op.imapPort } };
  const base = {
    psc: { issuer: op.issuer, clientId: 'teletrans', redirectUri: `${PWA_ORIGIN}/mss/connexion` },
    tls: { ca: op.pki.caPem, servername: 'localhost' }, whitelist: () => list, vault: new FileTokenVault(vaultDir),
    now: () => clock, idleMs: 14 * 60_000, trace: (e: { action: string; detail: Record<string, unknown> }) => traces.push(e),
  };
  svc = new MssService({ ...base, mailboxes: [{ practitioner: 'ps1', address: PRACTITIONER, kind: 'personal', operator: endpoints }] });
  appSvc = new MssService({ ...base, mailboxes: [{ practitioner: 'sec', address: APP_BOX, kind: 'application', operator: endpoints,
    application: { password: APP_PASS, cert: op.appCert.cert, key: op.appCert.key } }] });
}, 120_000);

afterAll(async () => {
  await svc?.close();
  await appSvc?.close();
  await op?.stop();
});

async function signIn(s = svc, p = 'ps1', who = card.authenticator): Promise<{ address: string }> {
  const ch = await s.signInStart(p);
  expect(ch.origin).toBe(PWA_ORIGIN);
  return s.signInFinish(p, await who({ nonce: ch.nonce, origin: ch.origin }));
}

const compose = (over: Partial<MssComposeInput> = {}): ReturnType<typeof composeMssMessage> => composeMssMessage({
  from: PRACTITIONER, fromKind: 'personal', to: [COLLEAGUES.a], cc: [PATIENT_BOX], subject: 'Résultats', text: 'Bonjour', software: 'Teletrans/Teletrans/0.1.0',
  date: new Date(), ...over }, list);

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => null, (x: unknown) => x);
  if (e instanceof MssServiceError) return e.reason ?? e.code;
  throw e ?? new Error('accepted');
}

describe('sign-in held by the relay', () => {
  it('without sign-in nothing is sent: the practitioner is asked to connect with the card', async () => {
    expect(await code(svc.send('ps1', compose().raw))).toBe('signin_required');
  });

  it('the page signs the provider’s challenge; the relay keeps the tokens, the refresh token encrypted at rest', async () => {
    expect(await signIn()).toMatchObject({ address: PRACTITIONER });
    const files = readdirSync(vaultDir);
    expect(files).toHaveLength(1);
    const stored = readFileSync(join(vaultDir, files[0]!));
    expect(stored.includes(Buffer.from(PRACTITIONER))).toBe(false);
    expect(stored.toString('latin1')).not.toMatch(/[A-Za-z0-9_-]{43}/);
  });

  it('the signature certificate of the card is refused at the provider', async () => {
    expect(await code(signIn(svc, 'ps1', card.wrongCertificate))).toBe('access_denied');
    expect(await signIn()).toMatchObject({ address: PRACTITIONER });
  });
});

describe('sending and reading', () => {
  it('sends to a colleague and a patient; the colleague reads it; the trace has no subject and no body', async () => {
    const m = compose();
    const r = await svc.send('ps1', m.raw);
    expect(r.accepted.sort()).toEqual([COLLEAGUES.a, PATIENT_BOX].sort());
    await op.drain();
    expect(op.messages(COLLEAGUES.a).some((b) => b.includes(`Message-ID: ${m.messageId}`))).toBe(true);
    const t = traces.filter((x) => x.action === 'mss.send').pop()!;
    expect(t.detail).toMatchObject({ messageId: m.messageId, recipients: 2, accepted: 2 });
    expect(JSON.stringify(traces)).not.toMatch(/Résultats|R=C3=A9sultats|Bonjour/);
  });

  it('reads the inbox over one kept IMAP session, re-opened past the operators’ idle limit', async () => {
    const reply = composeMssMessage({ from: COLLEAGUES.a, fromKind: 'personal', to: [PRACTITIONER], subject: 'Re: Résultats', text: 'Reçu.', software: 'Autre/1', date: new Date() }, list);
    const colleague = await openMailbox({ submission: { host: '127.0.0.1', port: op.submissionPort }, imap: { host: '127.0.0.1', port: op.imapPort }, tls: { ca: op.pki.caPem, servername: 'localhost' } },
      { kind: 'application', address: COLLEAGUES.a, password: colleaguePass(COLLEAGUES.a), cert: '', key: '' });
    await colleague.logout();
    const { SmtpConnection } = await import('../../src/lib/server/relay/smtp-client.js');
    const c = await SmtpConnection.open({ host: '127.0.0.1', port: op.inboundPort, security: 'starttls', tls: { ca: op.pki.caPem, servername: 'localhost' }, connectionTimeoutMs: 5000, socketTimeoutMs: 10_000 });
    await c.send({ from: COLLEAGUES.a, to: [PRACTITIONER] }, reply.raw);
    await c.close();
    await op.drain();
    const before = svc.imapSessionsOpened;
    const inbox = await svc.inbox('ps1');
    const entry = inbox.find((e) => e.headers.includes(reply.messageId))!;
    expect(entry.headers).toMatch(/^Subject: =\?UTF-8\?B\?/m);
    expect(entry.flags).not.toContain('\\Seen');
    const raw = await svc.message('ps1', entry.uid);
    expect(Buffer.from(raw!).toString('latin1')).toContain(`Message-ID: ${reply.messageId}`);
    expect((await svc.inbox('ps1')).find((e) => e.uid === entry.uid)!.flags).toContain('\\Seen');
    expect(svc.imapSessionsOpened).toBe(before + 1);
    clock += 15 * 60_000; // past the operators' 15 minutes idle (the access token is renewed too)
    try {
      expect((await svc.inbox('ps1')).length).toBe(inbox.length);
      expect(svc.imapSessionsOpened).toBe(before + 2);
      expect(traces.some((x) => x.action === 'mss.token.renewed')).toBe(true);
    } finally {
      clock = Date.now();
    }
  });
});

describe('the relay re-checks what the page posts', () => {
  it('refuses a forged From, a Bcc, 41 recipients, a domain outside the trust space, no whitelist, 10 MB + 1', async () => {
    const forged = new TextEncoder().encode(new TextDecoder().decode(compose().raw).replace(`From: ${PRACTITIONER}`, `From: ${COLLEAGUES.b}`));
    expect(await code(svc.send('ps1', forged))).toBe('from');
    const bcc = new TextEncoder().encode(new TextDecoder().decode(compose().raw).replace('MIME-Version: 1.0', 'Bcc: espion@medecin.mssante.fr\r\nMIME-Version: 1.0'));
    expect(await code(svc.send('ps1', bcc))).toBe('bcc');
    const many = Array.from({ length: 41 }, (_, i) => `c${i}@ch-fictif.mssante.fr`);
    const hdr = new TextDecoder().decode(compose().raw).replace(`To: ${COLLEAGUES.a}`, `To: ${many.join(', ')}`).replace(/Cc: [^\r]*\r\n/, '');
    expect(await code(svc.send('ps1', new TextEncoder().encode(hdr)))).toBe('too_many_recipients');
    const outside = new TextEncoder().encode(new TextDecoder().decode(compose().raw).replace(`To: ${COLLEAGUES.a}`, 'To: ami@gmail.com'));
    expect(await code(svc.send('ps1', outside))).toBe('domain_not_trusted');
    const saved = list;
    const good = compose({ cc: [] }).raw;
    list = null;
    try {
      expect(await code(svc.send('ps1', good))).toBe('whitelist_unavailable');
    } finally {
      list = saved;
    }
    expect(await code(svc.send('ps1', new Uint8Array(10_000_001)))).toBe('message_too_large');
  });

  it('an application mailbox writes to a patient only to answer that patient’s message', async () => {
    const first = composeMssMessage({ from: APP_BOX, fromKind: 'application', to: [PATIENT_BOX], subject: 'Rappel', text: 'RDV', software: 'Teletrans/Teletrans/0.1.0', date: new Date(),
      replyTo: { messageId: '<inconnu.1@patient.mssante.fr>', from: PATIENT_BOX } }, list);
    expect(await code(appSvc.send('sec', first.raw))).toBe('patient_not_reply');
    // The patient writes first; the answer goes.
    const fromPatient = composeMssMessage({ from: PATIENT_BOX, fromKind: 'personal', to: [APP_BOX], subject: 'Question', text: '?', software: 'Appli/Patient/1', date: new Date() }, list);
    const { SmtpConnection } = await import('../../src/lib/server/relay/smtp-client.js');
    const c = await SmtpConnection.open({ host: '127.0.0.1', port: op.inboundPort, security: 'starttls', tls: { ca: op.pki.caPem, servername: 'localhost' }, connectionTimeoutMs: 5000, socketTimeoutMs: 10_000 });
    await c.send({ from: PATIENT_BOX, to: [APP_BOX] }, fromPatient.raw);
    await c.close();
    await op.drain();
    const answer = composeMssMessage({ from: APP_BOX, fromKind: 'application', to: [PATIENT_BOX], subject: 'Re: Question', text: 'Réponse', software: 'Teletrans/Teletrans/0.1.0', date: new Date(),
      replyTo: { messageId: fromPatient.messageId, from: PATIENT_BOX } }, list);
    const r = await appSvc.send('sec', answer.raw);
    expect(r.accepted).toEqual([PATIENT_BOX]);
  });
});

describe('sign-out', () => {
  it('revokes the tokens at the provider and forgets them: nothing more is sent or read', async () => {
    await svc.signOut('ps1');
    expect(readdirSync(vaultDir)).toEqual([]);
    expect(await code(svc.send('ps1', compose().raw))).toBe('signin_required');
    expect(await code(svc.inbox('ps1'))).toBe('signin_required');
    expect(traces.some((x) => x.action === 'mss.signout')).toBe(true);
  });
});
