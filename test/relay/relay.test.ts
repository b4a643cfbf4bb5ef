/**
 * The relay against real peers: private Postfix (delivering to Dovecot over LMTP) and Dovecot
 * (IMAP, POP3), a SQLite store, the IGC-Santé-shaped test CA for CPS authentication.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeliveryWorker, RateLimiter, RelayApi, SqliteStore, backoffMs, partialOutcome, pickup, type MailboxConfig, type MessageRecord, type RelayConfig, type SmtpConfig,
} from '../../src/lib/server/relay/index.js';
import { INSURER_ADDR, PRACTITIONER_ADDR, PRACTITIONER_PASS, freePort, startMailServers, type MailServers } from './fixtures/mail.js';
import { ORIGIN, composeTestMessage, login, makeIgcSante, relayConfig, token, upload, type IgcSante } from './fixtures/relay.js';

let mail: MailServers;
let pki: IgcSante;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teletrans-relay-test-'));
  [mail, pki] = await Promise.all([startMailServers(), makeIgcSante()]);
});
afterAll(() => {
  mail?.stop();
  rmSync(dir, { recursive: true, force: true });
});

let dbn = 0;
const smtp = (o: Partial<SmtpConfig> = {}): SmtpConfig => ({ host: '127.0.0.1', port: mail.smtpPort, security: 'starttls',
  tls: { ca: mail.pki.caPem, servername: 'localhost' }, connectionTimeoutMs: 3000, socketTimeoutMs: 3000, ...o });
function setup(s: SmtpConfig = smtp(), extra: Partial<RelayConfig> = {}): { api: RelayApi; store: SqliteStore; worker: DeliveryWorker; config: RelayConfig } {
  const store = new SqliteStore(join(dir, `r${++dbn}.sqlite`));
  const config = relayConfig(pki, s, extra);
  const worker = new DeliveryWorker(store, config);
  return { api: new RelayApi(store, config, worker), store, worker, config };
}
const B = 'http://relay.test';

async function until<T>(f: () => Promise<T | null | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('authentication (Web eID style, CPS certificate)', () => {
  it('opens a session for a valid signature, chain and CRL', async () => {
    const { api } = setup();
    const r = await login((q) => api.handle(q), pki.leaf, pki.leafKey);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { token: string; practitioner: string };
    expect(body.practitioner).toBe('ps1');
    const list = await api.handle(new Request(`${B}/api/relay/messages`, { headers: { authorization: `Bearer ${body.token}` } }));
    expect(list.status).toBe(200);
  });

  it('limits challenge and token requests per client address (429 with Retry-After), not other clients', async () => {
    const { api } = setup(smtp(), { authRateLimit: { perMinute: 60, burst: 3 } });
    const challenge = (client: string): Promise<Response> =>
      api.handle(new Request(`${B}/api/relay/auth/challenge`, { method: 'POST', headers: { origin: ORIGIN } }), client);
    for (let i = 0; i < 3; i++) expect((await challenge('192.0.2.1')).status).toBe(200);
    const refused = await challenge('192.0.2.1');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await refused.json()) as { error: string }).error).toBe('rate-limited');
    const token = await api.handle(new Request(`${B}/api/relay/auth/token`, { method: 'POST', body: '{}', headers: { origin: ORIGIN } }), '192.0.2.1');
    expect(token.status).toBe(429);
    expect((await challenge('192.0.2.2')).status).toBe(200);
    // The bucket refills at the configured rate.
    const l = new RateLimiter({ perMinute: 60, burst: 2 }, 2);
    expect([l.take('a', 0), l.take('a', 0), l.take('a', 0)].map((r) => r.ok)).toEqual([true, true, false]);
    expect(l.take('a', 999)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(l.take('a', 1100).ok).toBe(true);
    // At most maxClients buckets: the oldest client is forgotten (and starts afresh).
    l.take('b', 1100);
    l.take('c', 1100);
    expect([l.take('a', 1100).ok, l.take('a', 1100).ok]).toEqual([true, true]);
  });

  it('rejects a revoked card, an unknown practitioner, a wrong key, a foreign origin and a replayed nonce', async () => {
    const { api, store } = setup();
    const call = (q: Request): Promise<Response> => api.handle(q);
    const revoked = await login(call, pki.revokedLeaf, pki.revokedKey);
    expect(revoked.status).toBe(401);
    expect(((await revoked.json()) as { detail: string }).detail).toMatch(/revoked/i);
    expect((await login(call, pki.strangerLeaf, pki.strangerKey)).status).toBe(403);
    expect((await login(call, pki.leaf, pki.strangerKey)).status).toBe(401);
    expect((await api.handle(new Request(`${B}/api/relay/auth/challenge`, { method: 'POST', headers: { origin: 'https://evil.test' } }))).status).toBe(403);
    // Replay: the same signed token twice.
    const ch = await api.handle(new Request(`${B}/api/relay/auth/challenge`, { method: 'POST', headers: { origin: ORIGIN } }));
    const { nonce } = (await ch.json()) as { nonce: string };
    const { challengeDigestInput } = await import('../../src/lib/server/relay/index.js');
    const sig = new Uint8Array(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', pki.leafKey.privateKey, new Uint8Array(challengeDigestInput(ORIGIN, nonce))));
    const body = JSON.stringify({ certificate: Buffer.from(pki.leaf).toString('base64'), nonce, origin: ORIGIN, algorithm: 'RS256', signature: Buffer.from(sig).toString('base64') });
    const tok = (): Request => new Request(`${B}/api/relay/auth/token`, { method: 'POST', headers: { origin: ORIGIN }, body });
    expect((await api.handle(tok())).status).toBe(200);
    expect((await api.handle(tok())).status).toBe(401);
    const audit = await store.listAudit(20);
    expect(audit.some((e) => e.action === 'session.open')).toBe(true);
    // SA2: refusals are in the access history, with their reason and no secret.
    const refused = audit.filter((e) => e.action === 'session.refused');
    expect(refused.length).toBeGreaterThanOrEqual(5);
    expect(refused.some((e) => e.detail.origin === 'https://evil.test')).toBe(true);
    expect(JSON.stringify(refused)).not.toMatch(/BEGIN|MII|[A-Za-z0-9+/=]{40,}/); // no certificate, signature or token
  });

  it('expires sessions after 15 min idle and 4 h at most', async () => {
    const { api } = setup();
    const t = await token(api, pki);
    const now = Date.now();
    const auth = `Bearer ${t}`;
    await expect(api.auth.session(auth, now + 14 * 60_000)).resolves.toBeTruthy();
    await expect(api.auth.session(auth, now + 14 * 60_000 + 16 * 60_000)).rejects.toThrow(/expired/);
    const t2 = await token(api, pki);
    let at = Date.now();
    for (let i = 0; i < 17; i++) { at += 14 * 60_000; await api.auth.session(`Bearer ${t2}`, at); }
    await expect(api.auth.session(`Bearer ${t2}`, at + 14 * 60_000)).rejects.toThrow(/expired/);
    const r = await api.handle(new Request(`${B}/api/relay/messages`, { headers: { authorization: 'Bearer ' + 'x'.repeat(43) } }));
    expect(r.status).toBe(401);
  });
});

describe('intake', () => {
  it('stores before 2xx, replays the same answer, refuses conflicts, oversize, bad envelopes', async () => {
    const { api, store } = setup(smtp(), { maxMessageBytes: 64 * 1024 });
    const t = await token(api, pki);
    const m = composeTestMessage({ from: PRACTITIONER_ADDR, to: INSURER_ADDR, size: 4096 });
    const r1 = await api.handle(upload(B, t, 'key-00000001', m.bytes));
    expect(r1.status).toBe(202);
    const b1 = (await r1.json()) as { id: string; status: string; messageId: string };
    expect(b1.status).toBe('queued');
    expect(b1.messageId).toBe(m.messageId);
    expect((await store.getMessage(b1.id))?.size).toBe(m.bytes.byteLength);
    const r2 = await api.handle(upload(B, t, 'key-00000001', m.bytes));
    expect(r2.status).toBe(202);
    expect(r2.headers.get('idempotent-replayed')).toBe('true');
    expect(((await r2.json()) as { id: string }).id).toBe(b1.id);
    const other = composeTestMessage({ from: PRACTITIONER_ADDR, to: INSURER_ADDR, size: 10 });
    expect((await api.handle(upload(B, t, 'key-00000001', other.bytes))).status).toBe(409);
    const big = composeTestMessage({ from: PRACTITIONER_ADDR, to: INSURER_ADDR, size: 70 * 1024 });
    expect((await api.handle(upload(B, t, 'key-big-0001', big.bytes))).status).toBe(413);
    const wrongFrom = composeTestMessage({ from: 'someone@example.test', to: INSURER_ADDR });
    expect((await api.handle(upload(B, t, 'key-from-001', wrongFrom.bytes))).status).toBe(422);
    const wrongTo = composeTestMessage({ from: PRACTITIONER_ADDR, to: 'amo@elsewhere.test' });
    expect((await api.handle(upload(B, t, 'key-to-00001', wrongTo.bytes))).status).toBe(422);
    expect((await api.handle(upload(B, t, 'short', m.bytes))).status).toBe(400);
    expect((await api.handle(upload(B, t, 'key-garbage1', new TextEncoder().encode('not a message')))).status).toBe(422);
    const ct = new Request(`${B}/api/relay/messages`, { method: 'POST', body: 'x', headers: { authorization: `Bearer ${t}`, 'idempotency-key': 'key-ct-00001', 'content-type': 'text/plain' } });
    expect((await api.handle(ct)).status).toBe(415);
    expect((await api.handle(upload(B, 'nope', 'key-00000002', m.bytes))).status).toBe(401);
    const st = await api.handle(new Request(`${B}/api/relay/messages/${b1.id}`, { headers: { authorization: `Bearer ${t}` } }));
    expect(((await st.json()) as { status: string }).status).toBe('queued');
    expect(Object.values(await store.countByStatus()).reduce((a, b) => a + b, 0)).toBe(1);
    const doc = (await (await api.handle(new Request(`${B}/api/relay/openapi.json`))).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/messages');
  });
});

async function sendOne(s: SmtpConfig, to = INSURER_ADDR, extra: Partial<RelayConfig> = {}): Promise<{ rec: MessageRecord; store: SqliteStore; worker: DeliveryWorker; messageId: string }> {
  const { api, store, worker } = setup(s, extra);
  const t = await token(api, pki);
  const m = composeTestMessage({ from: PRACTITIONER_ADDR, to, size: 2048 });
  const r = await api.handle(upload(B, t, `k-${Math.random().toString(36).slice(2)}`, m.bytes));
  expect(r.status).toBe(202);
  const { id } = (await r.json()) as { id: string };
  await worker.runOnce();
  return { rec: (await store.getMessage(id))!, store, worker, messageId: m.messageId };
}

describe('delivery by SMTP to Postfix', () => {
  it('delivers with STARTTLS and the MSSanté cipher policy; the message reaches the Dovecot mailbox', async () => {
    const before = mail.messages(INSURER_ADDR).length;
    const { rec, messageId } = await sendOne(smtp({ tls: { ca: mail.pki.caPem, servername: 'localhost', policy: 'mssante' } }));
    expect(rec.status).toBe('delivered');
    expect(rec.lastReply).toMatch(/^250 /);
    await mail.drain();
    const msgs = mail.messages(INSURER_ADDR);
    expect(msgs.length).toBe(before + 1);
    expect(msgs.some((b) => b.toString().includes(messageId))).toBe(true);
  });

  it('delivers with implicit TLS', async () => {
    const { rec } = await sendOne(smtp({ port: mail.smtpsPort, security: 'implicit' }));
    expect(rec.status).toBe('delivered');
  });

  it('defers on 4xx with backoff, fails on 5xx keeping the reason', async () => {
    const temp = await sendOne(smtp(), 'tempfail@example.test');
    expect(temp.rec.status).toBe('deferred');
    expect(temp.rec.lastReply).toMatch(/450/);
    expect(temp.rec.nextAttemptAt).toBeGreaterThan(Date.now() - 1000);
    expect(temp.rec.duplicateRisk).toBe(false);
    const perm = await sendOne(smtp(), 'reject@example.test');
    expect(perm.rec.status).toBe('failed');
    expect(perm.rec.lastReply).toMatch(/550 5\.1\.1/);
    const b = [1, 2, 3, 4, 5, 6].map((a) => backoffMs(a, 1000, 20_000, () => 1));
    expect(b).toEqual([1000, 2000, 4000, 8000, 16000, 20000]);
    expect(backoffMs(3, 1000, 20_000, () => 0)).toBe(2000);
  });

  it('retries only the recipients refused with 4xx when the others took the message, and names the refusals', async () => {
    const { store, worker } = setup(smtp());
    const before = mail.messages(INSURER_ADDR).length;
    const m = composeTestMessage({ from: PRACTITIONER_ADDR, to: INSURER_ADDR, size: 512 });
    const id = `partial-${Date.now()}`;
    await store.insertMessage({ id, practitioner: 'ps1', idempotencyKey: id, sha256: '-', envelopeFrom: PRACTITIONER_ADDR,
      envelopeTo: [INSURER_ADDR, 'tempfail@example.test', 'reject@example.test'], raw: m.bytes, messageId: m.messageId, subject: null, now: Date.now() });
    await worker.runOnce();
    let rec = (await store.getMessage(id))!;
    expect(rec.status).toBe('deferred');
    expect(rec.envelopeTo).toEqual(['tempfail@example.test']);
    expect(rec.lastReply).toMatch(/^250 .*refused: <tempfail@example\.test> 450 .*<reject@example\.test> 550 /);
    // The next attempt goes to the deferred recipient alone: the insurer does not get it twice.
    await until(async () => { await worker.runOnce(); rec = (await store.getMessage(id))!; return rec.attempts >= 2; });
    expect(rec.status).toBe('deferred');
    expect(rec.envelopeTo).toEqual(['tempfail@example.test']);
    await mail.drain();
    expect(mail.messages(INSURER_ADDR).length).toBe(before + 1);
    expect(partialOutcome('250 ok', [{ address: 'x@y', response: '550 no' }])).toEqual({ kind: 'delivered', reply: '250 ok; refused: <x@y> 550 no' });
    await worker.stop();
  });

  it('defers when the server is down, and delivers once it is back', async () => {
    const port = await freePort();
    const { rec, store, worker } = await sendOne(smtp({ port }));
    expect(rec.status).toBe('deferred');
    expect(rec.lastReply).toMatch(/ECONNREFUSED|ECONNECTION/);
    // The server "comes back": a TCP forwarder to Postfix on the same port.
    const fwd = net.createServer((c) => { const u = net.connect(mail.smtpPort, '127.0.0.1'); c.pipe(u).pipe(c); c.on('error', () => u.destroy()); u.on('error', () => c.destroy()); });
    await new Promise<void>((r) => fwd.listen(port, '127.0.0.1', r));
    try {
      await until(async () => { await worker.runOnce(); return (await store.getMessage(rec.id))?.status === 'delivered'; });
      expect((await store.getMessage(rec.id))?.attempts).toBeGreaterThanOrEqual(2);
    } finally {
      await worker.stop();
      fwd.close();
    }
  });

  it('defers when the server is slow (no greeting) and when TLS is misconfigured', async () => {
    const port = await freePort();
    const sockets: net.Socket[] = [];
    const slow = net.createServer((c) => { sockets.push(c); });
    await new Promise<void>((r) => slow.listen(port, '127.0.0.1', r));
    try {
      const t0 = Date.now();
      const { rec } = await sendOne(smtp({ port, connectionTimeoutMs: 800, socketTimeoutMs: 800 }));
      expect(rec.status).toBe('deferred');
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(rec.lastReply).toMatch(/timeout|ETIMEDOUT/i);
    } finally {
      sockets.forEach((s) => s.destroy());
      slow.close();
    }
    const wrongCa = await sendOne(smtp({ tls: { ca: mail.pki.otherCaPem, servername: 'localhost' } }));
    expect(wrongCa.rec.status).toBe('deferred');
    expect(wrongCa.rec.lastReply).toMatch(/certificate|self.signed|issuer/i);
    const wrongName = await sendOne(smtp({ tls: { ca: mail.pki.caPem, servername: 'mx.other.test' } }));
    expect(wrongName.rec.status).toBe('deferred');
    expect(wrongName.rec.lastReply).toMatch(/altnames|hostname|IP|does not match/i);
    // TLS 1.2+ only: a TLS 1.0/1.1-only client policy would not even be offered.
  });
});

describe('returns', () => {
  const mailbox = (protocol: 'imap' | 'pop3'): MailboxConfig => ({ protocol, host: '127.0.0.1', port: protocol === 'imap' ? mail.imapPort : mail.pop3Port,
    security: 'starttls', tls: { ca: mail.pki.caPem, servername: 'localhost' }, auth: { user: PRACTITIONER_ADDR, pass: PRACTITIONER_PASS } });

  it('matches a DSN back to the message (bounced), holds returns until acknowledged, removes them from the mailbox only after storing (IMAP)', async () => {
    const extra = { practitioners: [{ id: 'ps1', certificateMatch: { rpps: '899700000001' }, from: PRACTITIONER_ADDR, allowedRecipients: ['@example.test'], mailbox: mailbox('imap') }] };
    const { api, store, worker } = setup(smtp(), extra);
    const t = await token(api, pki);
    const m = composeTestMessage({ from: PRACTITIONER_ADDR, to: 'bounce@example.test' });
    const { id } = (await (await api.handle(upload(B, t, 'key-bounce-1', m.bytes))).json()) as { id: string };
    await worker.runOnce();
    expect((await store.getMessage(id))?.status).toBe('delivered');
    await mail.drain();
    await until(async () => mail.messages(PRACTITIONER_ADDR).length > 0);
    const auth = { authorization: `Bearer ${t}` };
    const pr = await api.handle(new Request(`${B}/api/relay/returns/pickup`, { method: 'POST', headers: auth }));
    const counts = (await pr.json()) as { stored: number; bounced: number; removed: number };
    expect(counts.stored).toBeGreaterThanOrEqual(1);
    expect(counts.bounced).toBe(1);
    const msg = (await store.getMessage(id))!;
    expect(msg.status).toBe('bounced');
    expect(msg.lastReply).toMatch(/5\.1\.1/);
    expect(mail.messages(PRACTITIONER_ADDR)).toHaveLength(0);
    const list = (await (await api.handle(new Request(`${B}/api/relay/returns`, { headers: auth }))).json()) as { returns: Array<{ id: string; relatedMessage: string | null }> };
    const dsn = list.returns.find((x) => x.relatedMessage === id);
    expect(dsn).toBeTruthy();
    const raw = await api.handle(new Request(`${B}/api/relay/returns/${dsn!.id}`, { headers: auth }));
    expect(await raw.text()).toMatch(/delivery-status/i);
    expect((await api.handle(new Request(`${B}/api/relay/returns/${dsn!.id}/ack`, { method: 'POST', headers: auth }))).status).toBe(200);
    const after = (await (await api.handle(new Request(`${B}/api/relay/returns`, { headers: auth }))).json()) as { returns: unknown[] };
    expect(after.returns.length).toBe(list.returns.length - 1);
    // A second pick-up finds nothing new.
    expect((await pickup(store, extra.practitioners[0]!)).stored).toBe(0);
  });

  it('picks up by POP3, idempotently', async () => {
    const p = { id: 'ps1', certificateMatch: { rpps: '899700000001' }, from: PRACTITIONER_ADDR, allowedRecipients: ['@example.test'], mailbox: mailbox('pop3') };
    const { store, worker } = setup(smtp(), { practitioners: [p] });
    // Two "insurer returns" arrive in the practitioner's mailbox.
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const m = composeTestMessage({ from: INSURER_ADDR, to: PRACTITIONER_ADDR });
      ids.push(m.messageId);
      const { insertMessage } = store;
      await insertMessage.call(store, { id: `ret-${i}-${Date.now()}`, practitioner: 'sender', idempotencyKey: `r${i}`, sha256: 'x', envelopeFrom: INSURER_ADDR,
        envelopeTo: [PRACTITIONER_ADDR], raw: m.bytes, messageId: m.messageId, subject: null, now: Date.now() });
    }
    await worker.runOnce();
    await mail.drain();
    await until(async () => mail.messages(PRACTITIONER_ADDR).length >= 2);
    const r = await pickup(store, p);
    expect(r.stored).toBe(2);
    expect(r.removed).toBe(2);
    const rets = await store.listReturns('ps1', false);
    expect(rets.map((x) => x.messageId).sort()).toEqual([...ids].sort());
    expect(mail.messages(PRACTITIONER_ADDR)).toHaveLength(0);
  });
});
