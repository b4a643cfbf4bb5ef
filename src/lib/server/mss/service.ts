/**
 * The relay's MSSanté service, per practitioner: PRO Santé Connect sign-in driven from the
 * relay (the page only signs the provider's challenge with the card, so the PKCE verifier,
 * the code and the tokens never reach the page), tokens renewed before they expire and revoked
 * on sign-out (the refresh token encrypted at rest: token-vault.ts), and the operator sessions:
 * submission of a message the page composed — every rule checked again here, a page is not
 * trusted — and reading the inbox over one IMAP session kept per mailbox, re-established after
 * the operators' limits (15 minutes idle, 4 hours).
 *
 * Traces (mssante.md § Traces): action, practitioner, time, message id, recipient count, size,
 * outcome — never a body, never a subject (subjects can be health data).
 */
import { MAX_MESSAGE_BYTES, MAX_RECIPIENTS, PATIENT_DOMAIN, isPatientAddress } from '../../mss/compose.js';
import { domainRefusals, isStale, type Whitelist } from '../../mss/whitelist.js';
import { authorizeUrl, codeFromRedirect, pkcePair, randomToken, refreshRequestBody, tokenRequestBody, type Discovery, type TokenSet } from '../../mss/psc.js';
import { addresses, header, headersAll, splitHeaders } from '../relay/mime.js';
import type { SendResult } from '../relay/smtp-client.js';
import { discover, type AutoconfigOptions, type MailboxKind } from './autoconfig.js';
import type { FetchedMessage, ImapConnection } from './imap-client.js';
import { fromSmtpError, MssOperatorError, openMailbox, submissionPool, submit, type MailboxCredentials, type OperatorConfig, type OperatorEndpoint } from './operator.js';
import type { SmtpPool } from '../relay/smtp-client.js';
import type { TokenVault } from './token-vault.js';

export interface MssMailboxConfig {
  /** The relay's practitioner id (its session names them). */
  practitioner: string;
  address: string;
  kind: MailboxKind;
  /** Manual endpoints; default: DNS SRV on the address's domain. */
  operator?: { submission: OperatorEndpoint; imap: OperatorEndpoint };
  /** Application mailboxes: the structure's certificate and password. */
  application?: { password: string; cert: string; key: string };
  /** Ask the operator for a notice on delivery too (« reçu »), not only on failure (default true). */
  successNotices?: boolean;
}

export interface MssServiceConfig {
  psc: { issuer: string; clientId: string; redirectUri: string };
  /** Trust for the operators' server certificates. */
  tls: { ca?: string | string[]; servername?: string };
  mailboxes: readonly MssMailboxConfig[];
  whitelist: () => Whitelist | null;
  vault: TokenVault;
  autoconfig?: Omit<AutoconfigOptions, 'override'>;
  /** Operator limits: idle and total life of an IMAP session. */
  idleMs?: number;
  maxSessionMs?: number;
  /** Renew the access token this long before it expires. */
  renewBeforeMs?: number;
  now?: () => number;
  fetch?: typeof fetch;
  trace?: (e: { action: string; practitioner: string; detail: Record<string, unknown> }) => void;
}

export type MssServiceErrorCode = 'not_configured' | 'signin_required' | 'signin_failed' | 'refused' | 'operator';

export class MssServiceError extends Error {
  constructor(readonly code: MssServiceErrorCode, message: string, readonly status = 400, readonly reason?: string) {
    super(message);
    this.name = 'MssServiceError';
  }
}

interface Access { token: string; expiresAt: number }
interface Pending { verifier: string; state: string; request: string; expiresAt: number; discovery: Discovery }
interface Session { conn: ImapConnection; openedAt: number; lastUsed: number; selected: boolean }
interface Submission { pool: SmtpPool; key: string; openedAt: number; lastUsed: number }

export interface InboxEntry {
  uid: number;
  flags: string[];
  size: number;
  internalDate?: string;
  /** Raw header block of the fields below (the page decodes it with the core's reader). */
  headers: string;
}

const HEADER_FIELDS = 'FROM TO CC SUBJECT DATE MESSAGE-ID IN-REPLY-TO CONTENT-TYPE X-MSS-INS X-MSS-CODECDA';

export class MssService {
  private readonly access = new Map<string, Access>();
  private readonly pending = new Map<string, Pending>();
  private readonly sessions = new Map<string, Session>();
  private readonly submissions = new Map<string, Submission>();
  private readonly now: () => number;
  private readonly fetcher: typeof fetch;
  /** Sessions opened, for the operator limits' tests and the trace. */
  imapSessionsOpened = 0;

  constructor(private readonly cfg: MssServiceConfig) {
    this.now = cfg.now ?? Date.now;
    this.fetcher = cfg.fetch ?? fetch;
  }

  mailbox(practitioner: string): MssMailboxConfig {
    const m = this.cfg.mailboxes.find((x) => x.practitioner === practitioner);
    if (!m) throw new MssServiceError('not_configured', 'Aucune messagerie MSSanté n’est configurée pour ce professionnel.', 404);
    return m;
  }

  private trace(action: string, practitioner: string, detail: Record<string, unknown>): void {
    this.cfg.trace?.({ action, practitioner, detail });
  }

  private async discovery(): Promise<Discovery> {
    const r = await this.fetcher(`${this.cfg.psc.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
    if (!r.ok) throw new MssServiceError('signin_failed', 'PRO Santé Connect est injoignable.', 502);
    const d = (await r.json()) as Discovery;
    if (d.issuer !== this.cfg.psc.issuer.replace(/\/$/, '')) throw new MssServiceError('signin_failed', 'PRO Santé Connect : émetteur inattendu.', 502);
    return d;
  }

  private async post(url: string, body: URLSearchParams): Promise<Record<string, unknown>> {
    const r = await this.fetcher(url, { method: 'POST', body });
    const j = (await r.json().catch(() => ({}))) as Record<string, unknown>;
    if (!r.ok) throw new MssServiceError('signin_failed', `PRO Santé Connect : ${String(j.error_description ?? j.error ?? r.status)}`, r.status === 401 || r.status === 403 ? 401 : 502, String(j.error ?? ''));
    return j;
  }

  /** Step 1: the relay starts the code flow; the page gets the card challenge only. */
  async signInStart(practitioner: string): Promise<{ request: string; nonce: string; origin: string }> {
    this.mailbox(practitioner);
    const d = await this.discovery();
    const { verifier, challenge } = await pkcePair();
    const state = randomToken(16);
    const r = await this.fetcher(authorizeUrl(d, { clientId: this.cfg.psc.clientId, redirectUri: this.cfg.psc.redirectUri, state, challenge }));
    const j = (await r.json().catch(() => ({}))) as { request?: string; nonce?: string; origin?: string; error_description?: string };
    if (!r.ok || !j.request || !j.nonce || !j.origin) throw new MssServiceError('signin_failed', `PRO Santé Connect : ${j.error_description ?? 'autorisation refusée'}`, 502);
    this.pending.set(practitioner, { verifier, state, request: j.request, expiresAt: this.now() + 120_000, discovery: d });
    return { request: j.request, nonce: j.nonce, origin: j.origin };
  }

  /** Step 2: the card's signature → code → tokens, kept here. */
  async signInFinish(practitioner: string, card: { certificate: string; signature: string; algorithm?: string; intermediates?: string[] }): Promise<{ address: string; expiresAt: number }> {
    const m = this.mailbox(practitioner);
    const p = this.pending.get(practitioner);
    this.pending.delete(practitioner);
    if (!p || p.expiresAt < this.now()) throw new MssServiceError('signin_failed', 'Connexion PRO Santé Connect expirée : recommencez.', 401);
    if (!p.discovery.card_authentication_endpoint) throw new MssServiceError('signin_failed', 'PRO Santé Connect : pas d’authentification par carte.', 502);
    const body = new URLSearchParams({ request: p.request, certificate: card.certificate, signature: card.signature, algorithm: card.algorithm ?? 'RS256' });
    if (card.intermediates?.length) body.set('intermediates', card.intermediates.join(','));
    const { redirect } = (await this.post(p.discovery.card_authentication_endpoint, body)) as { redirect: string };
    let code: string;
    try {
      code = codeFromRedirect(redirect, p.state, p.discovery.issuer);
    } catch (e) {
      throw new MssServiceError('signin_failed', (e as Error).message, 401);
    }
    const t = (await this.post(p.discovery.token_endpoint, tokenRequestBody({ code, verifier: p.verifier, clientId: this.cfg.psc.clientId, redirectUri: this.cfg.psc.redirectUri }))) as unknown as TokenSet;
    const claims = jwtClaims(t.access_token);
    if (claims.email !== undefined && String(claims.email).toLowerCase() !== m.address.toLowerCase()) {
      throw new MssServiceError('signin_failed', 'La carte utilisée n’est pas celle du titulaire de cette messagerie.', 403);
    }
    this.keep(practitioner, m.address, t);
    this.trace('mss.signin', practitioner, { address: m.address });
    return { address: m.address, expiresAt: this.access.get(practitioner)!.expiresAt };
  }

  private keep(practitioner: string, address: string, t: TokenSet): void {
    const now = this.now();
    this.access.set(practitioner, { token: t.access_token, expiresAt: now + t.expires_in * 1000 });
    if (t.refresh_token) this.cfg.vault.put(practitioner, { refreshToken: t.refresh_token, refreshExpiresAt: now + 8 * 3600_000, address });
  }

  /** A valid access token: the one held, or a renewed one; otherwise sign in again. */
  async accessToken(practitioner: string): Promise<string> {
    const a = this.access.get(practitioner);
    if (a && a.expiresAt - (this.cfg.renewBeforeMs ?? 60_000) > this.now()) return a.token;
    const g = this.cfg.vault.get(practitioner);
    if (!g || g.refreshExpiresAt < this.now()) {
      this.access.delete(practitioner);
      throw new MssServiceError('signin_required', 'Connectez-vous à PRO Santé Connect avec votre carte pour utiliser la messagerie.', 401);
    }
    const d = await this.discovery();
    try {
      const t = (await this.post(d.token_endpoint, refreshRequestBody({ refreshToken: g.refreshToken, clientId: this.cfg.psc.clientId }))) as unknown as TokenSet;
      this.keep(practitioner, g.address, t);
      this.trace('mss.token.renewed', practitioner, {});
      return t.access_token;
    } catch (e) {
      this.cfg.vault.delete(practitioner);
      this.access.delete(practitioner);
      if (e instanceof MssServiceError && e.status === 502) throw e;
      throw new MssServiceError('signin_required', 'La session PRO Santé Connect a pris fin : reconnectez-vous avec votre carte.', 401);
    }
  }

  /** Signed in: an access token held or a refresh token kept. */
  signedIn(practitioner: string): boolean {
    const a = this.access.get(practitioner);
    if (a && a.expiresAt > this.now()) return true;
    const g = this.cfg.vault.get(practitioner);
    return g !== null && g.refreshExpiresAt > this.now();
  }

  /** The trust space in use, for the page: domains, date, staleness. */
  whitelistStatus(): { available: boolean; generatedAt?: string; stale?: boolean; domains?: string[] } {
    const l = this.cfg.whitelist();
    if (!l) return { available: false };
    return { available: true, generatedAt: l.generatedAt, stale: isStale(l, this.now()), domains: [...l.domains.keys()] };
  }

  /** Sign-out: tokens revoked at the provider, forgotten here, the IMAP session closed. */
  async signOut(practitioner: string): Promise<void> {
    const g = this.cfg.vault.get(practitioner);
    const a = this.access.get(practitioner);
    this.cfg.vault.delete(practitioner);
    this.access.delete(practitioner);
    await this.closeSession(practitioner);
    await this.closePool(practitioner);
    const d = await this.discovery().catch(() => null);
    if (d?.revocation_endpoint) {
      for (const token of [g?.refreshToken, a?.token]) {
        if (token) await this.fetcher(d.revocation_endpoint, { method: 'POST', body: new URLSearchParams({ token }) }).catch(() => undefined);
      }
    }
    this.trace('mss.signout', practitioner, {});
  }

  private async credentials(m: MssMailboxConfig): Promise<MailboxCredentials> {
    if (m.kind === 'application') {
      if (!m.application) throw new MssServiceError('not_configured', 'Boîte applicative sans certificat de structure configuré.', 500);
      return { kind: 'application', address: m.address, ...m.application };
    }
    return { kind: 'xoauth2', address: m.address, accessToken: await this.accessToken(m.practitioner) };
  }

  private async operator(m: MssMailboxConfig): Promise<OperatorConfig[]> {
    const d = await discover(m.address, m.kind, { ...this.cfg.autoconfig, ...(m.operator ? { override: m.operator } : {}) }).catch((e: Error) => {
      throw new MssServiceError('operator', `Opérateur MSSanté introuvable pour ${m.address} : ${e.message}`, 502);
    });
    return d.submission.map((s, i) => ({ submission: s, imap: d.imap[Math.min(i, d.imap.length - 1)]!, tls: this.cfg.tls }));
  }

  /**
   * Checks a message the page composed, as the core's composer does, then submits it. The
   * page is not trusted: From, recipients, size, trust space and the patient rule again.
   */
  async send(practitioner: string, raw: Uint8Array): Promise<SendResult & { messageId: string }> {
    const m = this.mailbox(practitioner);
    const refuse = (reason: string, message: string): never => {
      this.trace('mss.send.refused', practitioner, { reason, size: raw.byteLength });
      throw new MssServiceError('refused', message, 422, reason);
    };
    if (raw.byteLength > MAX_MESSAGE_BYTES) refuse('message_too_large', `Message de ${raw.byteLength} octets : ${MAX_MESSAGE_BYTES} au plus.`);
    const h = splitHeaders(raw);
    const from = addresses(header(h, 'from'));
    if (from.length !== 1 || from[0] !== m.address.toLowerCase()) refuse('from', `L’expéditeur doit être ${m.address}.`);
    if (headersAll(h, 'bcc').length) refuse('bcc', 'Copie cachée non admise.');
    const to = [...headersAll(h, 'to'), ...headersAll(h, 'cc')].flatMap((v) => addresses(v));
    if (to.length === 0) refuse('no_recipient', 'Aucun destinataire.');
    if (to.length > MAX_RECIPIENTS) refuse('too_many_recipients', `${to.length} destinataires : ${MAX_RECIPIENTS} au plus.`);
    if (new Set(to).size !== to.length) refuse('address_invalid', 'Un destinataire figure deux fois.');
    const messageId = header(h, 'message-id') ?? '';
    if (!/^<[^<>\s]+@[^<>\s]+>$/.test(messageId)) refuse('message_id', 'Message-ID absent ou invalide.');
    const list = this.cfg.whitelist();
    if (!list) refuse('whitelist_unavailable', 'Aucune liste blanche MSSanté valide : l’envoi est bloqué.');
    const out = domainRefusals(list!, m.address, to);
    if (out.length) refuse(out[0]!.code, out.map((o) => o.message).join(' '));
    const patients = to.filter((a) => a.endsWith(`@${PATIENT_DOMAIN}`));
    if (patients.some((a) => !isPatientAddress(a))) refuse('address_invalid', 'Adresse de patient invalide (INS de 15 caractères).');
    if (patients.length && m.kind !== 'personal') {
      const inReplyTo = header(h, 'in-reply-to') ?? '';
      if (patients.length > 1 || !(await this.answersPatient(m, inReplyTo, patients[0]!))) {
        refuse('patient_not_reply', 'Seul un professionnel peut écrire le premier à un patient : depuis cette boîte, un patient ne reçoit qu’une réponse à son message.');
      }
    }
    const creds = await this.credentials(m);
    const ops = await this.operator(m);
    const env = { from: m.address, to, notifySuccess: m.successNotices !== false };
    let last: unknown;
    try {
      // The first entry point through the mailbox's kept sessions.
      const r = await this.pool(m, creds, ops[0]!).send(env, raw);
      this.trace('mss.send', practitioner, { messageId, recipients: to.length, accepted: r.accepted.length, size: raw.byteLength });
      return { ...r, messageId };
    } catch (e) {
      await this.closePool(practitioner);
      last = fromSmtpError(e, creds.kind);
    }
    // The others only when that one could not be reached; a refusal is final.
    for (const op of ops.slice(1)) {
      if (!(last instanceof MssOperatorError) || (last.code !== 'unreachable' && last.code !== 'timeout')) break;
      try {
        const r = await submit(op, creds, env, raw);
        this.trace('mss.send', practitioner, { messageId, recipients: to.length, accepted: r.accepted.length, size: raw.byteLength });
        return { ...r, messageId };
      } catch (e) {
        last = e;
      }
    }
    this.trace('mss.send.failed', practitioner, { messageId, code: last instanceof MssOperatorError ? last.code : 'error', reply: last instanceof MssOperatorError ? last.reply ?? null : null });
    if (last instanceof MssOperatorError) throw new MssServiceError('operator', last.message, last.code === 'auth_failed' ? 401 : 502, last.code);
    throw last;
  }

  /** The mailbox's submission sessions: kept while the same token serves and within the operators' limits. */
  private pool(m: MssMailboxConfig, creds: MailboxCredentials, op: OperatorConfig): SmtpPool {
    const key = `${op.submission.host}:${op.submission.port}:${creds.kind === 'xoauth2' ? creds.accessToken : creds.password}`;
    const now = this.now();
    const cur = this.submissions.get(m.practitioner);
    if (cur && cur.key === key && now - cur.lastUsed < (this.cfg.idleMs ?? 14 * 60_000) && now - cur.openedAt < (this.cfg.maxSessionMs ?? 4 * 3600_000 - 60_000)) {
      cur.lastUsed = now;
      return cur.pool;
    }
    if (cur) void cur.pool.close().catch(() => undefined);
    const pool = submissionPool(op, creds, 4);
    this.submissions.set(m.practitioner, { pool, key, openedAt: now, lastUsed: now });
    return pool;
  }

  private async closePool(practitioner: string): Promise<void> {
    const s = this.submissions.get(practitioner);
    this.submissions.delete(practitioner);
    if (s) await s.pool.close().catch(() => undefined);
  }

  /** The mailbox holds a message with that Message-ID from that patient. */
  private async answersPatient(m: MssMailboxConfig, inReplyTo: string, patient: string): Promise<boolean> {
    // Strict: the id goes into an IMAP quoted string (no quote, no backslash).
    if (!/^<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,200}@[A-Za-z0-9.[\]-]{1,200}>$/.test(inReplyTo)) return false;
    const uids = await this.withSession(m.practitioner, async (c) => {
      await c.noop(); // what arrived since the session opened
      return c.uidSearch(`HEADER Message-ID "${inReplyTo}" FROM "${patient}"`);
    });
    return uids.length > 0;
  }

  private async closeSession(practitioner: string): Promise<void> {
    const s = this.sessions.get(practitioner);
    this.sessions.delete(practitioner);
    if (s) await s.conn.logout().catch(() => undefined);
  }

  /** Runs `f` on the practitioner's IMAP session: reused, or opened again past the operators' limits or after a failure. */
  async withSession<T>(practitioner: string, f: (c: ImapConnection) => Promise<T>): Promise<T> {
    const m = this.mailbox(practitioner);
    const now = this.now();
    let s = this.sessions.get(practitioner);
    if (s && (now - s.lastUsed >= (this.cfg.idleMs ?? 14 * 60_000) || now - s.openedAt >= (this.cfg.maxSessionMs ?? 4 * 3600_000 - 60_000))) {
      await this.closeSession(practitioner);
      s = undefined;
    }
    for (let attempt = 0; ; attempt++) {
      if (!s) {
        const ops = await this.operator(m);
        const creds = await this.credentials(m);
        let conn: ImapConnection | null = null;
        let last: unknown;
        for (const op of ops) {
          try {
            conn = await openMailbox(op, creds);
            break;
          } catch (e) {
            last = e;
            if (!(e instanceof MssOperatorError) || (e.code !== 'unreachable' && e.code !== 'timeout')) break;
          }
        }
        if (!conn) {
          if (last instanceof MssOperatorError) throw new MssServiceError('operator', last.message, last.code === 'auth_failed' ? 401 : 502, last.code);
          throw last;
        }
        this.imapSessionsOpened++;
        s = { conn, openedAt: this.now(), lastUsed: this.now(), selected: false };
        this.sessions.set(practitioner, s);
      }
      try {
        if (!s.selected) {
          await s.conn.select('INBOX');
          s.selected = true;
        }
        const r = await f(s.conn);
        s.lastUsed = this.now();
        return r;
      } catch (e) {
        await this.closeSession(practitioner);
        s = undefined;
        // A session the operator closed on its side: once more on a new one.
        if (attempt === 0 && (e as { code?: string }).code === 'ECONNECTION') continue;
        throw e;
      }
    }
  }

  /** The inbox: headers, flags and sizes of every message (the page keeps them for offline use). */
  async inbox(practitioner: string): Promise<InboxEntry[]> {
    const fetched = await this.withSession(practitioner, async (c): Promise<FetchedMessage[]> => {
      await c.noop(); // what arrived since the session opened
      if ((await c.uidSearch('ALL')).length === 0) return [];
      return c.uidFetch('1:*', `UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (${HEADER_FIELDS})]`);
    });
    return fetched.map((f) => ({ uid: f.uid, flags: f.flags, size: f.size ?? 0, ...(f.internalDate ? { internalDate: f.internalDate } : {}),
      headers: (f.sections.get(`BODY[HEADER.FIELDS (${HEADER_FIELDS})]`) ?? Buffer.alloc(0)).toString('latin1') }));
  }

  /** One message, whole (RFC 822 bytes); marked as read. */
  async message(practitioner: string, uid: number): Promise<Uint8Array | null> {
    if (!Number.isSafeInteger(uid) || uid <= 0) return null;
    return this.withSession(practitioner, async (c) => {
      const [f] = await c.uidFetch(String(uid), 'UID BODY[]'); // read: the server sets \Seen
      if (!f) return null;
      this.trace('mss.read', practitioner, { uid, size: f.sections.get('BODY[]')?.length ?? 0 });
      return asBytes(f.sections.get('BODY[]'));
    });
  }

  /** Several messages whole in one exchange (the page's offline copies, the bench). */
  async messages(practitioner: string, uids: readonly number[]): Promise<Map<number, Uint8Array>> {
    const good = [...new Set(uids)].filter((u) => Number.isSafeInteger(u) && u > 0).slice(0, 1000);
    if (good.length === 0) return new Map();
    return this.withSession(practitioner, async (c) => {
      // BODY[] (not PEEK): the server marks them read in the same exchange.
      const fetched = await c.uidFetch(good.join(','), 'UID BODY[]');
      this.trace('mss.read', practitioner, { messages: fetched.length });
      return new Map(fetched.map((f) => [f.uid, asBytes(f.sections.get('BODY[]'))]));
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.submissions.keys()].map((p) => this.closePool(p)));
    await Promise.all([...this.sessions.keys()].map((p) => this.closeSession(p)));
  }
}

/** The fetched bytes as they are (a view, not a copy: messages run to megabytes). */
const asBytes = (b: Buffer | undefined): Uint8Array => (b ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array());

function jwtClaims(token: string): Record<string, unknown> {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}
