/**
 * The relay's HTTP API as a Fetch-style handler (Request → Response), mounted by the SvelteKit
 * route src/routes/api/relay/[...path] and usable directly by tests.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Auth, AuthError, type TokenRequest } from './auth.js';
import { DEFAULTS, type PractitionerConfig, type RelayConfig } from './config.js';
import { DeliveryWorker } from './delivery.js';
import { addresses, header, headersAll, isAddress, splitHeaders } from './mime.js';
import { openapi } from './openapi.js';
import { pickup } from './pickup.js';
import { ProfileError, checkOutboundProfile } from './profile.js';
import { AnchorService, RECEIPT_CONTEXT, parseAnchorRequest } from './anchor.js';
import { RateLimiter } from './rate-limit.js';
import type { MessageRecord, RelayStore } from './store/types.js';
import { MssServiceError, type MssService } from '../mss/service.js';

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers } });
const problem = (status: number, code: string, detail: string, extra: Record<string, unknown> = {}): Response =>
  json(status, { error: code, detail, ...extra });

export function publicMessage(m: MessageRecord): Record<string, unknown> {
  return {
    id: m.id, idempotencyKey: m.idempotencyKey, messageId: m.messageId, subject: m.subject, size: m.size,
    to: m.envelopeTo, status: m.status, attempts: m.attempts,
    nextAttemptAt: m.status === 'deferred' ? new Date(m.nextAttemptAt).toISOString() : null,
    lastReply: m.lastReply, duplicateRisk: m.duplicateRisk, createdAt: new Date(m.createdAt).toISOString(),
    updatedAt: new Date(m.updatedAt).toISOString(),
  };
}

/** Reads the body with a hard cap; null when over. */
async function readCapped(req: Request, max: number): Promise<Uint8Array | null> {
  const len = Number(req.headers.get('content-length') ?? NaN);
  if (Number.isFinite(len) && len > max) return null;
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let n = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) { await reader.cancel().catch(() => undefined); return null; }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  // Not zeroed first: every byte is written, and a zeroed 100 KiB allocation cost 0.25 ms here.
  const out = Buffer.allocUnsafeSlow(n);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.byteLength; }
  return out;
}

function parseJson(raw: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(raw));
  } catch {
    return null;
  }
}

function recipientAllowed(p: PractitionerConfig, a: string): boolean {
  return p.allowedRecipients.some((r) => (r.startsWith('@') ? a.endsWith(r.toLowerCase()) : a === r.toLowerCase()));
}

export class RelayApi {
  readonly auth: Auth;
  private readonly authLimiter: RateLimiter;
  private readonly anchors: AnchorService;
  /** The MSSanté service, when the deployment configures one (routes under /mss). */
  mss?: MssService;
  constructor(readonly store: RelayStore, readonly config: RelayConfig, readonly worker?: DeliveryWorker, loadedCrls?: () => Uint8Array[]) {
    this.auth = new Auth(store, config, loadedCrls);
    this.anchors = new AnchorService(store);
    this.authLimiter = new RateLimiter(config.authRateLimit ?? DEFAULTS.authRateLimit);
  }

  /** `client`: the caller's address (the route passes SvelteKit's getClientAddress()), for rate limits. */
  async handle(req: Request, client = 'unknown'): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname.replace(/^\/api\/relay/, '') || '/';
    try {
      if (req.method === 'GET' && path === '/openapi.json') return json(200, openapi);
      if (req.method === 'POST' && path.startsWith('/auth/')) {
        const t = this.authLimiter.take(client);
        if (!t.ok) {
          return json(429, { error: 'rate-limited', detail: 'too many authentication requests; try again later' },
            { 'retry-after': String(t.retryAfterSeconds) });
        }
      }
      if (req.method === 'POST' && path === '/auth/challenge') {
        // Unauthenticated: the body is read only up to a small cap.
        const max = this.config.maxChallengeBytes ?? DEFAULTS.maxChallengeBytes;
        const raw = await readCapped(req, max);
        if (raw === null) return problem(413, 'too-large', `challenge request larger than ${max} bytes`);
        const origin = req.headers.get('origin') ?? (parseJson(raw) as { origin?: unknown } | null)?.origin;
        return json(200, await this.auth.challenge(typeof origin === 'string' ? origin : ''));
      }
      if (req.method === 'POST' && path === '/auth/token') {
        const max = this.config.maxTokenBytes ?? DEFAULTS.maxTokenBytes;
        const raw = await readCapped(req, max);
        if (raw === null) return problem(413, 'too-large', `token request larger than ${max} bytes`);
        const body = parseJson(raw) as TokenRequest | null;
        if (!body || typeof body !== 'object') return problem(400, 'malformed', 'JSON body expected');
        return json(200, await this.auth.token(body, req.headers.get('origin')));
      }
      if (req.method === 'POST' && path === '/auth/logout') {
        const ended = await this.auth.logout(req.headers.get('authorization'));
        return json(200, { loggedOut: true, sessionEnded: ended });
      }
      if (req.method === 'GET' && path === '/audit/receipt-key') {
        return json(200, { key: await this.anchors.publicKey(), algorithm: 'ECDSA-P256-SHA256', context: RECEIPT_CONTEXT });
      }
      const p = await this.auth.session(req.headers.get('authorization'));
      if (req.method === 'POST' && path === '/messages') return await this.intake(req, p);
      if (path.startsWith('/mss/')) return await this.mssRoute(req, path, p);
      if (req.method === 'POST' && path === '/audit/anchor') {
        const raw = await readCapped(req, 1024);
        if (raw === null) return problem(413, 'too-large', 'anchor request larger than 1024 bytes');
        const body = parseAnchorRequest(parseJson(raw));
        if (typeof body === 'string') return problem(400, 'malformed', body);
        const a = await this.anchors.anchor(p.id, body, Date.now());
        if (a.status === 409) {
          return problem(409, a.reason, a.reason === 'anchor-continuity' ? 'prove the journal passes through the latest anchored point (continuity)' : 'this journal does not continue the one the relay anchored for this workstation',
            { reason: a.reason, latest: a.latest });
        }
        return json(200, { outcome: a.outcome, receipt: a.receipt, signature: a.signature, latest: a.latest });
      }
      if (req.method === 'GET' && path === '/messages') {
        return json(200, { messages: (await this.store.listMessages(p.id, 500)).map(publicMessage) });
      }
      let m = /^\/messages\/([\w-]{1,64})$/.exec(path);
      if (req.method === 'GET' && m) {
        const msg = await this.store.getMessage(m[1]!);
        if (!msg || msg.practitioner !== p.id) return problem(404, 'not-found', 'no such message');
        return json(200, publicMessage(msg));
      }
      if (req.method === 'GET' && path === '/returns') {
        const all = url.searchParams.get('all') === '1';
        return json(200, { returns: (await this.store.listReturns(p.id, all)).map((r) => ({ ...r,
          receivedAt: new Date(r.receivedAt).toISOString(), acknowledgedAt: r.acknowledgedAt ? new Date(r.acknowledgedAt).toISOString() : null })) });
      }
      if (req.method === 'POST' && path === '/returns/pickup') {
        const r = await pickup(this.store, p);
        await this.store.audit({ at: Date.now(), actor: p.id, action: 'returns.pickup', detail: { ...r } });
        return json(200, r);
      }
      m = /^\/returns\/([\w-]{1,64})$/.exec(path);
      if (req.method === 'GET' && m) {
        const raw = await this.store.getReturnRaw(p.id, m[1]!);
        if (!raw) return problem(404, 'not-found', 'no such return');
        return new Response(Buffer.from(raw), { status: 200, headers: { 'content-type': 'message/rfc822', 'cache-control': 'no-store' } });
      }
      m = /^\/returns\/([\w-]{1,64})\/ack$/.exec(path);
      if (req.method === 'POST' && m) {
        if (!(await this.store.acknowledgeReturn(p.id, m[1]!, Date.now()))) return problem(404, 'not-found', 'no such return');
        await this.store.audit({ at: Date.now(), actor: p.id, action: 'returns.ack', detail: { id: m[1] } });
        return json(200, { id: m[1], acknowledged: true });
      }
      return problem(404, 'not-found', `${req.method} ${path}`);
    } catch (e) {
      if (e instanceof MssServiceError) return problem(e.status, e.reason ?? e.code, e.message, { code: e.code });
      if (e instanceof AuthError) {
        // SA2: refused access attempts are part of the access history (no token, no signature kept).
        if (path.startsWith('/auth/')) {
          await this.store.audit({ at: Date.now(), actor: null, action: 'session.refused', detail: { code: e.code, reasons: e.reasons ?? null, origin: req.headers.get('origin') } })
            .catch(() => undefined);
        }
        return problem(e.status, e.code, e.message, e.reasons ? { reasons: e.reasons } : {});
      }
      process.stderr.write(`relay api: ${(e as Error).stack ?? String(e)}\n`);
      return problem(500, 'internal', 'internal error');
    }
  }

  private async intake(req: Request, p: PractitionerConfig): Promise<Response> {
    const key = req.headers.get('idempotency-key') ?? '';
    if (!/^[\x21-\x7e]{8,128}$/.test(key)) return problem(400, 'idempotency-key', 'Idempotency-Key header: 8 to 128 visible ASCII characters');
    const ct = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (ct !== 'message/rfc822') return problem(415, 'content-type', 'message/rfc822 expected');
    const max = this.config.maxMessageBytes ?? DEFAULTS.maxMessageBytes;
    // A retry of an accepted upload answers the same, without re-reading rules that may have changed.
    const raw = await readCapped(req, max);
    if (raw === null) return problem(413, 'too-large', `message larger than ${max} bytes`);
    if (raw.byteLength === 0) return problem(400, 'empty', 'empty message');
    const digest = createHash('sha256').update(raw).digest('hex');
    const prior = await this.store.getMessageByKey(p.id, key);
    if (prior) return this.replay(prior, digest);
    const h = splitHeaders(raw);
    const from = addresses(header(h, 'from'));
    const to = [...new Set([...headersAll(h, 'to'), ...headersAll(h, 'cc')].flatMap((v) => addresses(v)))];
    const messageId = header(h, 'message-id');
    if (from.length !== 1 || from[0] !== p.from.toLowerCase()) return problem(422, 'from', `From must be ${p.from}`);
    if (!to.length) return problem(422, 'to', 'no recipient');
    if (to.length > (this.config.maxRecipients ?? DEFAULTS.maxRecipients)) return problem(422, 'to', 'too many recipients');
    const bad = to.filter((a) => !isAddress(a) || !recipientAllowed(p, a));
    if (bad.length) return problem(422, 'recipient-not-allowed', `recipient(s) not allowed: ${bad.join(', ')}`);
    if (!messageId || !/^<[^<>\s]+@[^<>\s]+>$/.test(messageId)) return problem(422, 'message-id', 'a Message-ID header <id@domain> is required');
    if (headersAll(h, 'bcc').length) return problem(422, 'bcc', 'Bcc is not accepted');
    // Principle 3: only encrypted lots go through; refused before anything is stored. What is
    // stored and delivered is the message written again from what was checked (profile.ts).
    let canonical: Uint8Array;
    try {
      canonical = checkOutboundProfile(raw).canonical;
    } catch (e) {
      if (!(e instanceof ProfileError)) throw e;
      await this.store.audit({ at: Date.now(), actor: p.id, action: 'message.refused', detail: { reason: e.reason, cause: e.detail ?? null, size: raw.byteLength } })
        .catch(() => undefined);
      return problem(422, e.reason, e.message, { reason: e.reason, cause: e.detail ?? null });
    }
    const { created, message } = await this.store.insertMessage({
      id: randomUUID(), practitioner: p.id, idempotencyKey: key, sha256: digest, envelopeFrom: p.from, envelopeTo: to,
      raw: canonical, messageId, subject: header(h, 'subject'), now: Date.now(),
    });
    if (!created) return this.replay(message, digest);
    await this.store.audit({ at: Date.now(), actor: p.id, action: 'message.accepted',
      detail: { id: message.id, messageId, to, size: raw.byteLength } });
    this.worker?.poke();
    return json(202, publicMessage(message), { location: `/api/relay/messages/${message.id}` });
  }

  /** MSSanté, for the practitioner of the session (docs/adr/0031): sign-in, send, inbox. */
  private async mssRoute(req: Request, path: string, p: PractitionerConfig): Promise<Response> {
    const mss = this.mss;
    if (!mss) return problem(404, 'mss-not-configured', 'no MSSanté service on this relay');
    if (req.method === 'GET' && path === '/mss/status') {
      const m = mss.mailbox(p.id);
      return json(200, { address: m.address, kind: m.kind, signedIn: mss.signedIn(p.id), whitelist: mss.whitelistStatus() });
    }
    if (req.method === 'POST' && path === '/mss/signin/start') return json(200, await mss.signInStart(p.id));
    if (req.method === 'POST' && path === '/mss/signin/finish') {
      const raw = await readCapped(req, 64 * 1024);
      if (raw === null) return problem(413, 'too-large', 'sign-in request too large');
      const b = parseJson(raw) as { certificate?: unknown; signature?: unknown; algorithm?: unknown; intermediates?: unknown } | null;
      if (!b || typeof b.certificate !== 'string' || typeof b.signature !== 'string') return problem(400, 'malformed', 'certificate and signature (base64) are required');
      const inter = Array.isArray(b.intermediates) ? b.intermediates.filter((x): x is string => typeof x === 'string') : [];
      return json(200, await mss.signInFinish(p.id, { certificate: b.certificate, signature: b.signature, algorithm: typeof b.algorithm === 'string' ? b.algorithm : 'RS256', intermediates: inter }));
    }
    if (req.method === 'POST' && path === '/mss/signout') {
      await mss.signOut(p.id);
      return json(200, { signedOut: true });
    }
    if (req.method === 'POST' && path === '/mss/messages') {
      const ct = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (ct !== 'message/rfc822') return problem(415, 'content-type', 'message/rfc822 expected');
      const raw = await readCapped(req, 10_000_000);
      if (raw === null) return problem(422, 'message_too_large', 'message larger than 10 MB');
      return json(200, await mss.send(p.id, raw));
    }
    if (req.method === 'GET' && path === '/mss/inbox') return json(200, { messages: await mss.inbox(p.id) });
    if (req.method === 'POST' && path === '/mss/fetch') {
      // Several messages in one answer (offline copies): per message, UID and length (u32 big-endian) then the bytes.
      const raw = await readCapped(req, 16 * 1024);
      const b = raw ? (parseJson(raw) as { uids?: unknown } | null) : null;
      if (!b || !Array.isArray(b.uids) || b.uids.some((u) => !Number.isSafeInteger(u))) return problem(400, 'malformed', 'uids: an array of integers');
      const got = await mss.messages(p.id, b.uids as number[]);
      const parts: Buffer[] = [];
      for (const [uid, bytes] of got) {
        const head = Buffer.alloc(8);
        head.writeUInt32BE(uid, 0);
        head.writeUInt32BE(bytes.byteLength, 4);
        parts.push(head, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      }
      return new Response(Buffer.concat(parts), { status: 200, headers: { 'content-type': 'application/vnd.teletrans.mss-bundle', 'cache-control': 'no-store' } });
    }
    const m = /^\/mss\/messages\/(\d{1,10})$/.exec(path);
    if (req.method === 'GET' && m) {
      const raw = await mss.message(p.id, Number(m[1]));
      if (!raw) return problem(404, 'not-found', 'no such message');
      return new Response(Buffer.from(raw), { status: 200, headers: { 'content-type': 'message/rfc822', 'cache-control': 'no-store' } });
    }
    return problem(404, 'not-found', `${req.method} ${path}`);
  }

  private replay(prior: MessageRecord, digest: string): Response {
    if (prior.sha256 !== digest) return problem(409, 'idempotency-conflict', 'this Idempotency-Key was used for a different message');
    return json(202, publicMessage(prior), { location: `/api/relay/messages/${prior.id}`, 'idempotent-replayed': 'true' });
  }
}
