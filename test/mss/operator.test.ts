/**
 * The relay's connection to an MSSanté operator (src/lib/server/mss/operator.ts, tls-policy.ts)
 * against real Postfix and Dovecot set up as an operator (fixtures/operator.ts), with our test
 * PRO Santé Connect provider: the practitioner signs in with the card (authorization code +
 * PKCE), the relay submits with SASL XOAUTH2 in one step, Dovecot introspects the token at the
 * provider, the colleagues and the patient find the message in their mailboxes. Refused, each
 * with its message: an expired or revoked token, a card's signature certificate at the
 * provider, a server offering a seventh suite or TLS 1.1, an application mailbox without its
 * client certificate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeMssMessage } from '../../src/lib/mss/compose.js';
import { signInWithCard, type TokenSet } from '../../src/lib/mss/psc.js';
import type { Whitelist, WhitelistEntry } from '../../src/lib/mss/whitelist.js';
import { ImapConnection, ImapError, parseValues } from '../../src/lib/server/mss/imap-client.js';
import { MssOperatorError, openMailbox, submit, type OperatorConfig } from '../../src/lib/server/mss/operator.js';
import { SmtpConnection } from '../../src/lib/server/relay/smtp-client.js';
import { checkNegotiatedTls } from '../../src/lib/server/mss/tls-policy.js';
import { CLIENT, makeCard, providerOptions, RPPS, type TestCard } from './fixtures/card.js';
import { APP_BOX, APP_PASS, COLLEAGUES, colleaguePass, DOMAINS, PATIENT_BOX, PRACTITIONER, startOperator, type Operator } from './fixtures/operator.js';

let op: Operator;
let card: TestCard;
let cfg: OperatorConfig;
let tokens: TokenSet;
let clock = Date.now();
const LIST: Whitelist = { generatedAt: '2026-12-05T02:00:00Z', signer: 'CN=AGENCE',
  domains: new Map(DOMAINS.map((d): [string, WhitelistEntry] => [d, { domain: d, description: '', operatorCertificateDn: 'CN=X', updated: '2026-12-01' }])) };

beforeAll(async () => {
  card = await makeCard();
  op = await startOperator(providerOptions(card, { [RPPS]: PRACTITIONER }, () => clock));
  cfg = { submission: { host: '127.0.0.1', port: op.submissionPort }, imap: { host: '127.0.0.1', port: op.imapPort }, tls: { ca: op.pki.caPem, servername: 'localhost' } };
  tokens = await signInWithCard(op.issuer, CLIENT, card.authenticator);
}, 120_000);

afterAll(async () => {
  if (process.env.MSS_OPERATOR_LOGS) console.log(op?.dovecotLog(), op?.maillog());
  await op?.stop();
});

const message = (from = PRACTITIONER, subject = 'Compte rendu de consultation'): { raw: Uint8Array; recipients: string[]; messageId: string } =>
  composeMssMessage({ from, fromKind: from === APP_BOX ? 'application' : 'personal', to: [COLLEAGUES.a, COLLEAGUES.b], cc: from === APP_BOX ? [] : [PATIENT_BOX], subject,
    text: 'Bonjour,\nle compte rendu suit.', software: 'Teletrans/Teletrans/0.1.0', date: new Date() }, LIST);

async function refusal(p: Promise<unknown>): Promise<MssOperatorError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(MssOperatorError);
  return e as MssOperatorError;
}

describe('PRO Santé Connect sign-in with the card', () => {
  it('gives an access token naming the practitioner, a refresh token and an ID token', () => {
    const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: RPPS, email: PRACTITIONER, iss: op.issuer, aud: 'mssante' });
    expect(tokens.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokens.id_token?.split('.')).toHaveLength(3);
  });

  it('refuses the card’s signature certificate (not the authentication one)', async () => {
    await expect(signInWithCard(op.issuer, CLIENT, card.wrongCertificate)).rejects.toThrow(/carte refusée : .*key_usage_not_authentication/);
  });
});

describe('submission: STARTTLS, the six suites, SASL XOAUTH2 in one step', () => {
  it('delivers to two colleagues and a patient; the operator saw XOAUTH2 and the MSSanté suite', async () => {
    const m = message();
    const r = await submit(cfg, { kind: 'xoauth2', address: PRACTITIONER, accessToken: tokens.access_token }, { from: PRACTITIONER, to: m.recipients }, m.raw);
    expect(r.accepted.sort()).toEqual([COLLEAGUES.a, COLLEAGUES.b, PATIENT_BOX].sort());
    expect(r.rejected).toEqual([]);
    await op.drain();
    for (const a of [COLLEAGUES.a, COLLEAGUES.b, PATIENT_BOX]) {
      expect(op.messages(a).some((b) => b.includes(`Message-ID: ${m.messageId}`))).toBe(true);
    }
    const log = op.maillog();
    expect(log).toMatch(/sasl_method=XOAUTH2, sasl_username=dr\.fictif@medecin\.mssante\.fr/);
    expect(log).toMatch(/TLS connection established from .*TLSv1\.[23] with cipher (ECDHE-RSA-AES256-GCM-SHA384|TLS_AES_256_GCM_SHA384)/);
  });

  it('an expired token gets 535 5.7.8 and the French message to sign in again; so does a revoked one', async () => {
    clock += 10 * 60_000;
    try {
      const e = await refusal(submit(cfg, { kind: 'xoauth2', address: PRACTITIONER, accessToken: tokens.access_token }, { from: PRACTITIONER, to: [COLLEAGUES.a] }, message().raw));
      expect(e.code).toBe('auth_failed');
      expect(e.reply).toMatch(/^535 5\.7\.8/);
      expect(e.message).toMatch(/Reconnectez-vous avec votre carte/);
    } finally {
      clock = Date.now();
    }
    const fresh = await signInWithCard(op.issuer, CLIENT, card.authenticator);
    await fetch(`${op.issuer}/revoke`, { method: 'POST', body: new URLSearchParams({ token: fresh.access_token }) });
    const e2 = await refusal(submit(cfg, { kind: 'xoauth2', address: PRACTITIONER, accessToken: fresh.access_token }, { from: PRACTITIONER, to: [COLLEAGUES.a] }, message().raw));
    expect(e2.code).toBe('auth_failed');
  });

  it('a token is good for its own mailbox only', async () => {
    const e = await refusal(submit(cfg, { kind: 'xoauth2', address: COLLEAGUES.a, accessToken: tokens.access_token }, { from: COLLEAGUES.a, to: [COLLEAGUES.b] }, message(COLLEAGUES.a).raw));
    expect(e.code).toBe('auth_failed');
  });

  it('a server offering only a seventh suite, or only TLS 1.1: no connection, with the reason', async () => {
    const seventh = await refusal(submit({ ...cfg, submission: { host: '127.0.0.1', port: op.seventhSuitePort } }, { kind: 'xoauth2', address: PRACTITIONER, accessToken: tokens.access_token }, { from: PRACTITIONER, to: [COLLEAGUES.a] }, message().raw));
    expect(seventh.code).toBe('tls_refused');
    expect(seventh.message).toMatch(/politique TLS de MSSanté/);
    const old = await refusal(submit({ ...cfg, submission: { host: '127.0.0.1', port: op.tls11Port } }, { kind: 'xoauth2', address: PRACTITIONER, accessToken: tokens.access_token }, { from: PRACTITIONER, to: [COLLEAGUES.a] }, message().raw));
    expect(old.code).toBe('tls_refused');
  });

  it('an application mailbox: the structure’s client certificate and PLAIN; without the certificate, refused', async () => {
    const m = message(APP_BOX, 'Rendez-vous');
    const creds = { kind: 'application' as const, address: APP_BOX, password: APP_PASS, cert: op.appCert.cert, key: op.appCert.key };
    const r = await submit(cfg, creds, { from: APP_BOX, to: m.recipients }, m.raw);
    expect(r.accepted.sort()).toEqual([COLLEAGUES.a, COLLEAGUES.b].sort());
    // The same login from a connection without the certificate: the operator refuses the sender.
    const { cert: _c, key: _k, ...bare } = creds;
    const e = await refusal(submit(cfg, { ...bare, cert: '', key: '' }, { from: APP_BOX, to: m.recipients }, m.raw));
    expect(e.code).toBe('recipient_refused');
    expect(e.reply).toMatch(/^554 5\.7\.1 <secretariat@ch-fictif\.mssante\.fr>: Sender address rejected/);
  });
});

describe('the TLS policy checked on what was negotiated', () => {
  it('accepts the six suites and TLS 1.3 AES-GCM, refuses anything else', () => {
    const ok = { type: 'ECDH', name: 'prime256v1', size: 256 };
    expect(checkNegotiatedTls({ protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-SHA256', ephemeral: ok })).toBeNull();
    expect(checkNegotiatedTls({ protocol: 'TLSv1.2', cipher: 'DHE-RSA-AES128-GCM-SHA256', ephemeral: { type: 'DH', size: 2048 } })).toBeNull();
    expect(checkNegotiatedTls({ protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', ephemeral: ok })).toBeNull();
    expect(checkNegotiatedTls({ protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES256-SHA', ephemeral: ok })).toMatch(/hors de la politique/);
    expect(checkNegotiatedTls({ protocol: 'TLSv1.2', cipher: 'AES256-GCM-SHA384', ephemeral: {} })).toMatch(/hors de la politique/);
    expect(checkNegotiatedTls({ protocol: 'TLSv1.1', cipher: 'ECDHE-RSA-AES256-SHA', ephemeral: ok })).toMatch(/TLS 1\.2 au minimum/);
    expect(checkNegotiatedTls({ protocol: 'TLSv1.2', cipher: 'DHE-RSA-AES256-GCM-SHA384', ephemeral: { type: 'DH', size: 1024 } })).toMatch(/2048 au minimum/);
    expect(checkNegotiatedTls({ protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES256-GCM-SHA384', ephemeral: { type: 'ECDH', name: 'X25519', size: 253 } })).toMatch(/256 au minimum/);
    expect(checkNegotiatedTls({ protocol: 'TLSv1.3', cipher: 'TLS_CHACHA20_POLY1305_SHA256', ephemeral: ok })).toMatch(/hors de la politique/);
  });
});

describe('reading: IMAP STARTTLS, XOAUTH2 in one step, the six suites', () => {
  it('a colleague reads the message sent to them; the practitioner reads their own inbox with the token', async () => {
    const m = message(PRACTITIONER, 'Lettre pour lecture IMAP');
    await submit(cfg, { kind: 'xoauth2', address: PRACTITIONER, accessToken: tokens.access_token }, { from: PRACTITIONER, to: m.recipients }, m.raw);
    await op.drain();
    const colleague = await openMailbox(cfg, { kind: 'application', address: COLLEAGUES.a, password: colleaguePass(COLLEAGUES.a), cert: '', key: '' }).catch((e: unknown) => e);
    // Colleagues log in with a password (no certificate): PLAIN over TLS.
    expect(colleague).toBeInstanceOf(ImapConnection);
    const c = colleague as ImapConnection;
    try {
      const box = await c.select('INBOX', true);
      expect(box.exists).toBeGreaterThanOrEqual(1);
      const uids = await c.uidSearch('ALL');
      const fetched = await c.uidFetch(uids.join(','), 'UID FLAGS RFC822.SIZE BODY.PEEK[]');
      const bodies = fetched.map((f) => f.sections.get('BODY[]')!.toString('latin1'));
      const mine = bodies.find((b) => b.includes(`Message-ID: ${m.messageId}`));
      expect(mine).toBeDefined();
      expect(mine).toContain('X-MSS-NIL: Teletrans/Teletrans/0.1.0');
      expect(fetched.find((f) => f.sections.get('BODY[]')!.toString('latin1') === mine)!.size).toBe(Buffer.byteLength(mine!, 'latin1'));
    } finally {
      await c.logout();
    }
    // Mail to the practitioner from outside, read with XOAUTH2.
    const inbound = await SmtpConnection.open({ host: '127.0.0.1', port: op.inboundPort, security: 'starttls', tls: { ca: op.pki.caPem, servername: 'localhost' }, connectionTimeoutMs: 5000, socketTimeoutMs: 10_000 });
    const reply = composeMssMessage({ from: COLLEAGUES.b, fromKind: 'personal', to: [PRACTITIONER], subject: 'Réponse', text: 'Merci.', software: 'Autre/Logiciel/1', date: new Date() }, LIST);
    await inbound.send({ from: COLLEAGUES.b, to: [PRACTITIONER] }, reply.raw);
    await inbound.close();
    await op.drain();
    const me = await openMailbox(cfg, { kind: 'xoauth2', address: PRACTITIONER, accessToken: tokens.access_token });
    try {
      await me.select('INBOX');
      const got = await me.uidFetch('1:*', 'UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT)]');
      expect(got.map((g) => g.sections.get('BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)]')!.toString())).toEqual(expect.arrayContaining([expect.stringContaining(reply.messageId)]));
      await me.uidStore(String(got[0]!.uid), '+FLAGS', ['\\Seen']);
      const again = await me.uidFetch(String(got[0]!.uid), 'UID FLAGS');
      expect(again[0]!.flags).toContain('\\Seen');
    } finally {
      await me.logout();
    }
    expect(op.dovecotLog()).toMatch(/imap-login: Info: Login: user=<dr\.fictif@medecin\.mssante\.fr>, method=XOAUTH2/);
  });

  it('an expired token: NO Authentication failed, in French for the practitioner', async () => {
    clock += 10 * 60_000;
    try {
      const e = await refusal(openMailbox(cfg, { kind: 'xoauth2', address: PRACTITIONER, accessToken: tokens.access_token }));
      expect(e.code).toBe('auth_failed');
      expect(e.reply).toMatch(/NO .*Authentication failed/);
      expect(e.message).toMatch(/NO Authentication failed.*Reconnectez-vous/);
    } finally {
      clock = Date.now();
    }
  });

  it('the application mailbox over IMAP: with the structure’s certificate only', async () => {
    const creds = { kind: 'application' as const, address: APP_BOX, password: APP_PASS, cert: op.appCert.cert, key: op.appCert.key };
    const c = await openMailbox(cfg, creds);
    await c.select('INBOX', true);
    await c.logout();
    const e = await refusal(openMailbox(cfg, { ...creds, cert: '', key: '' }));
    expect(e.code).toBe('auth_failed');
    expect(e.message).toMatch(/boîte applicative : le certificat de la structure/);
  });
});

describe('IMAP responses, read as bytes', () => {
  it('parses literals, quoted strings, NIL, nested lists and sections', () => {
    const v = parseValues(['12 FETCH (UID 34 FLAGS (\\Seen $Label) BODY[HEADER.FIELDS (SUBJECT)] {5}', Buffer.from('ab\r\nc'), ' INTERNALDATE "06-Dec-2026 10:00:00 +0000" X NIL)']);
    expect(v[0]).toBe('12');
    const kv = v[2] as unknown[];
    expect(kv.slice(0, 4)).toEqual(['UID', '34', 'FLAGS', ['\\Seen', '$Label']]);
    expect(kv[4]).toBe('BODY[HEADER.FIELDS (SUBJECT)]');
    expect(Buffer.isBuffer(kv[5]) && (kv[5] as Buffer).toString()).toBe('ab\r\nc');
    expect(kv.slice(6)).toEqual(['INTERNALDATE', '06-Dec-2026 10:00:00 +0000', 'X', null]);
    expect(() => parseValues(['(a (b)'])).toThrow(ImapError);
    expect(() => parseValues(['"open'])).toThrow(ImapError);
  });
});
