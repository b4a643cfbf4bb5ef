/**
 * A LOCAL OpenID Connect provider standing in for PRO Santé Connect in `npm start` and the
 * tests — ours, not the real service (which is configuration: its issuer URL and client).
 * It does what the workstation needs from the real one:
 * - authorization code flow with PKCE (S256 only), exact redirect URIs, state echoed;
 * - the practitioner authenticates with the CPS: the provider issues a challenge, the card's
 *   authentication key signs SHA-256(origin) ‖ SHA-256(nonce) (the same scheme as the relay's
 *   login, so the bridge's `card.authenticate` serves both), and the certificate must pass the
 *   cps-authentication profile of our PKI core;
 * - access tokens are JWTs (RS256) naming the practitioner (sub = RPPS) and their mailbox,
 *   short-lived; refresh tokens rotate; revocation (RFC 7009); introspection (RFC 7662) for
 *   the operators' IMAP/SMTP servers (Dovecot's oauth2 passdb), behind client credentials.
 * State is in memory: a restart signs everybody out, as a test provider may.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign as nodeSign, timingSafeEqual, verify as nodeVerify, X509Certificate, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Verifier, cpsIdentity, parseCertificate, type CpsAuthenticationProfile } from '../../pki/index.js';

export interface ProviderClient {
  clientId: string;
  redirectUris: readonly string[];
  /** The web origin the card signs for (the PWA's). */
  origin: string;
}

export interface TestProviderConfig {
  /** The provider's own URL (http://127.0.0.1:port in tests). */
  issuer: string;
  clients: readonly ProviderClient[];
  /** The operators' servers that introspect tokens, with their secrets. */
  introspectors: ReadonlyArray<{ id: string; secret: string }>;
  anchors: readonly Uint8Array[];
  intermediates?: readonly Uint8Array[];
  crls?: () => readonly Uint8Array[];
  cardAuthentication: CpsAuthenticationProfile;
  /** The practitioner's MSSanté mailbox, by national identifier (RPPS); none = no token. */
  mailboxFor: (rpps: string) => string | undefined;
  accessTtlMs?: number;
  refreshTtlMs?: number;
  now?: () => number;
}

interface Pending { clientId: string; redirectUri: string; state: string; challenge: string; nonce: string; scope: string; expiresAt: number; used: boolean }
interface Code { clientId: string; redirectUri: string; challenge: string; sub: string; email: string; nonce: string; scope: string; expiresAt: number }
interface Refresh { clientId: string; sub: string; email: string; scope: string; expiresAt: number }

const b64u = (b: Buffer | string): string => Buffer.from(b).toString('base64url');
const sha256 = (b: Buffer | string): Buffer => createHash('sha256').update(b).digest();

export class OidcError extends Error {
  constructor(readonly error: string, message: string, readonly status = 400) {
    super(message);
  }
}

export class TestOidcProvider {
  private readonly privateKey: KeyObject;
  private readonly publicJwk: Record<string, unknown>;
  private readonly kid: string;
  private readonly pending = new Map<string, Pending>();
  private readonly codes = new Map<string, Code>();
  private readonly refresh = new Map<string, Refresh>();
  private readonly revoked = new Set<string>();
  private readonly verifier = new Verifier();
  private readonly now: () => number;

  constructor(private readonly cfg: TestProviderConfig) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.publicJwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
    this.kid = b64u(sha256(JSON.stringify(this.publicJwk))).slice(0, 16);
    this.now = cfg.now ?? Date.now;
  }

  get accessTtl(): number { return this.cfg.accessTtlMs ?? 5 * 60_000; }

  discovery(): Record<string, unknown> {
    const i = this.cfg.issuer;
    return {
      issuer: i, authorization_endpoint: `${i}/authorize`, token_endpoint: `${i}/token`, jwks_uri: `${i}/jwks`,
      introspection_endpoint: `${i}/introspect`, revocation_endpoint: `${i}/revoke`, card_authentication_endpoint: `${i}/authorize/card`,
      response_types_supported: ['code'], grant_types_supported: ['authorization_code', 'refresh_token'],
      code_challenge_methods_supported: ['S256'], id_token_signing_alg_values_supported: ['RS256'], subject_types_supported: ['public'],
      token_endpoint_auth_methods_supported: ['none'], scopes_supported: ['openid', 'scope_all'],
    };
  }

  private client(id: string | null): ProviderClient {
    const c = this.cfg.clients.find((x) => x.clientId === id);
    if (!c) throw new OidcError('invalid_client', 'client inconnu', 401);
    return c;
  }

  /** Step 1 (GET /authorize): checks the request, returns the card challenge. */
  authorize(q: URLSearchParams): { request: string; nonce: string; origin: string; expiresAt: number } {
    const c = this.client(q.get('client_id'));
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!c.redirectUris.includes(redirectUri)) throw new OidcError('invalid_request', 'redirect_uri non enregistrée');
    if (q.get('response_type') !== 'code') throw new OidcError('unsupported_response_type', 'seul le flux « code » est admis');
    if (q.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(q.get('code_challenge') ?? '')) throw new OidcError('invalid_request', 'PKCE S256 obligatoire');
    const state = q.get('state') ?? '';
    if (state.length < 8 || state.length > 256) throw new OidcError('invalid_request', 'state obligatoire');
    const request = randomBytes(24).toString('base64url');
    const nonce = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + 120_000;
    this.pending.set(request, { clientId: c.clientId, redirectUri, state, challenge: q.get('code_challenge')!, nonce, scope: q.get('scope') ?? 'openid', expiresAt, used: false });
    return { request, nonce, origin: c.origin, expiresAt };
  }

  /** Step 2 (POST /authorize/card): the card's signature over the challenge → the redirect with a code. */
  async authenticateCard(body: { request?: unknown; certificate?: unknown; intermediates?: unknown; signature?: unknown; algorithm?: unknown }): Promise<{ redirect: string }> {
    if (typeof body.request !== 'string' || typeof body.certificate !== 'string' || typeof body.signature !== 'string') throw new OidcError('invalid_request', 'request, certificate et signature sont requis');
    const p = this.pending.get(body.request);
    if (!p || p.used || p.expiresAt < this.now()) throw new OidcError('access_denied', 'demande inconnue, déjà utilisée ou expirée', 401);
    p.used = true;
    const c = this.client(p.clientId);
    const der = Buffer.from(body.certificate, 'base64');
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(der);
    } catch {
      throw new OidcError('access_denied', 'certificat illisible', 401);
    }
    const data = Buffer.concat([sha256(c.origin), sha256(p.nonce)]);
    const alg = body.algorithm ?? 'RS256';
    let ok = false;
    try {
      if (alg === 'RS256') ok = nodeVerify('sha256', data, x509.publicKey, Buffer.from(body.signature, 'base64'));
      else if (alg === 'ES256') ok = nodeVerify('sha256', data, { key: x509.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(body.signature, 'base64'));
    } catch {
      ok = false;
    }
    if (!ok) throw new OidcError('access_denied', 'la signature de la carte ne correspond pas', 401);
    const intermediates = Array.isArray(body.intermediates) ? body.intermediates.filter((x): x is string => typeof x === 'string').map((x) => new Uint8Array(Buffer.from(x, 'base64'))) : [];
    const r = await this.verifier.verify({
      leaf: new Uint8Array(der), anchors: [...this.cfg.anchors], intermediates: [...(this.cfg.intermediates ?? []), ...intermediates],
      crls: [...(this.cfg.crls?.() ?? [])], at: new Date(this.now()), profile: 'cps-authentication', cpsAuthentication: this.cfg.cardAuthentication,
    });
    if (!r.valid) throw new OidcError('access_denied', `carte refusée : ${[...new Set(r.errors.map((e) => e.code))].join(', ')}`, 401);
    const rpps = cpsIdentity(parseCertificate(new Uint8Array(der))).nationalId;
    const email = rpps ? this.cfg.mailboxFor(rpps) : undefined;
    if (!rpps || !email) throw new OidcError('access_denied', 'aucune messagerie MSSanté pour ce professionnel', 403);
    const code = randomBytes(32).toString('base64url');
    this.codes.set(code, { clientId: p.clientId, redirectUri: p.redirectUri, challenge: p.challenge, sub: rpps, email, nonce: p.nonce, scope: p.scope, expiresAt: this.now() + 60_000 });
    const u = new URL(p.redirectUri);
    u.searchParams.set('code', code);
    u.searchParams.set('state', p.state);
    u.searchParams.set('iss', this.cfg.issuer);
    return { redirect: u.toString() };
  }

  private jwt(claims: Record<string, unknown>): string {
    const head = b64u(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: this.kid }));
    const body = b64u(JSON.stringify(claims));
    return `${head}.${body}.${b64u(nodeSign('sha256', Buffer.from(`${head}.${body}`), this.privateKey))}`;
  }

  private tokens(clientId: string, sub: string, email: string, scope: string, nonce?: string): Record<string, unknown> {
    const now = this.now();
    const iat = Math.floor(now / 1000);
    const exp = Math.floor((now + this.accessTtl) / 1000);
    const access = this.jwt({ iss: this.cfg.issuer, sub, email, aud: 'mssante', azp: clientId, scope, iat, exp, jti: randomBytes(12).toString('base64url') });
    const refreshToken = randomBytes(32).toString('base64url');
    this.refresh.set(sha256(refreshToken).toString('hex'), { clientId, sub, email, scope, expiresAt: now + (this.cfg.refreshTtlMs ?? 8 * 3600_000) });
    const id = this.jwt({ iss: this.cfg.issuer, sub, aud: clientId, iat, exp, ...(nonce ? { nonce } : {}), SubjectNameID: sub });
    return { access_token: access, token_type: 'Bearer', expires_in: Math.floor(this.accessTtl / 1000), refresh_token: refreshToken, id_token: id, scope };
  }

  /** POST /token: authorization_code (PKCE checked) or refresh_token (rotated). */
  token(f: URLSearchParams): Record<string, unknown> {
    const grant = f.get('grant_type');
    const c = this.client(f.get('client_id'));
    if (grant === 'authorization_code') {
      const code = this.codes.get(f.get('code') ?? '');
      this.codes.delete(f.get('code') ?? '');
      if (!code || code.expiresAt < this.now() || code.clientId !== c.clientId) throw new OidcError('invalid_grant', 'code inconnu, expiré ou déjà utilisé');
      if (f.get('redirect_uri') !== code.redirectUri) throw new OidcError('invalid_grant', 'redirect_uri différente');
      const verifier = f.get('code_verifier') ?? '';
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || b64u(sha256(verifier)) !== code.challenge) throw new OidcError('invalid_grant', 'code_verifier ne correspond pas (PKCE)');
      return this.tokens(c.clientId, code.sub, code.email, code.scope, code.nonce);
    }
    if (grant === 'refresh_token') {
      const key = sha256(f.get('refresh_token') ?? '').toString('hex');
      const r = this.refresh.get(key);
      this.refresh.delete(key);
      if (!r || r.expiresAt < this.now() || r.clientId !== c.clientId) throw new OidcError('invalid_grant', 'jeton de renouvellement inconnu, expiré ou révoqué');
      return this.tokens(c.clientId, r.sub, r.email, r.scope);
    }
    throw new OidcError('unsupported_grant_type', 'grant_type non pris en charge');
  }

  /** Reads and checks an access token of ours; null when not active. */
  private active(token: string): Record<string, unknown> | null {
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    let ok = false;
    try {
      ok = nodeVerify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), createPublicKey({ key: this.publicJwk as never, format: 'jwk' }), Buffer.from(parts[2]!, 'base64url'));
    } catch {
      ok = false;
    }
    if (!ok) return null;
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (claims.iss !== this.cfg.issuer || claims.aud !== 'mssante' || typeof claims.exp !== 'number' || claims.exp * 1000 <= this.now()) return null;
    if (this.revoked.has(String(claims.jti))) return null;
    return claims;
  }

  /** The mailbox an active access token of ours stands for (in-process introspection: the embedded operator). */
  mailboxOf(token: string): string | null {
    const claims = this.active(token);
    return claims && typeof claims.email === 'string' ? claims.email : null;
  }

  private checkIntrospector(authorization: string | undefined): void {
    const m = /^Basic (.+)$/.exec(authorization ?? '');
    const [id, secret] = m ? Buffer.from(m[1]!, 'base64').toString('utf8').split(':') : [];
    const known = this.cfg.introspectors.find((x) => x.id === id);
    const good = known !== undefined && secret !== undefined && secret.length === known.secret.length && timingSafeEqual(Buffer.from(secret), Buffer.from(known.secret));
    if (!good) throw new OidcError('invalid_client', 'introspection réservée aux serveurs des opérateurs', 401);
  }

  /** POST /introspect (RFC 7662), for the operators' servers. */
  introspect(f: URLSearchParams, authorization: string | undefined): Record<string, unknown> {
    this.checkIntrospector(authorization);
    const claims = this.active(f.get('token') ?? '');
    if (!claims) return { active: false };
    return { active: true, sub: claims.sub, email: claims.email, exp: claims.exp, iat: claims.iat, scope: claims.scope, client_id: claims.azp, token_type: 'Bearer' };
  }

  /** POST /revoke (RFC 7009): a refresh token, or an access token (its jti). Always 200. */
  revoke(f: URLSearchParams): void {
    const token = f.get('token') ?? '';
    this.refresh.delete(sha256(token).toString('hex'));
    const parts = token.split('.');
    if (parts.length === 3) {
      try {
        const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { jti?: string };
        if (this.active(token) && claims.jti) this.revoked.add(claims.jti);
      } catch { /* not ours */ }
    }
  }

  jwks(): Record<string, unknown> {
    return { keys: [{ ...this.publicJwk, kid: this.kid, use: 'sig', alg: 'RS256' }] };
  }

  /** The HTTP face: mount at the issuer's path. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    try {
      const url = new URL(req.url ?? '/', this.cfg.issuer);
      const path = url.pathname.slice(new URL(this.cfg.issuer).pathname.replace(/\/$/, '').length);
      const form = async (): Promise<URLSearchParams> => {
        const chunks: Buffer[] = [];
        let n = 0;
        for await (const c of req) {
          n += (c as Buffer).length;
          if (n > 64 * 1024) throw new OidcError('invalid_request', 'requête trop grande', 413);
          chunks.push(c as Buffer);
        }
        const text = Buffer.concat(chunks).toString('utf8');
        return (req.headers['content-type'] ?? '').includes('json') ? new URLSearchParams(Object.entries(JSON.parse(text || '{}') as Record<string, string>)) : new URLSearchParams(text);
      };
      if (req.method === 'GET' && path === '/.well-known/openid-configuration') return send(200, this.discovery());
      if (req.method === 'GET' && path === '/jwks') return send(200, this.jwks());
      if (req.method === 'GET' && path === '/authorize') return send(200, this.authorize(url.searchParams));
      if (req.method === 'POST' && path === '/authorize/card') {
        const f = await form();
        const inter = f.get('intermediates');
        return send(200, await this.authenticateCard({ request: f.get('request') ?? undefined, certificate: f.get('certificate') ?? undefined, signature: f.get('signature') ?? undefined,
          algorithm: f.get('algorithm') ?? undefined, intermediates: inter ? inter.split(',') : [] }));
      }
      if (req.method === 'POST' && path === '/token') return send(200, this.token(await form()));
      if (req.method === 'POST' && path === '/introspect') return send(200, this.introspect(await form(), req.headers.authorization));
      if (req.method === 'POST' && path === '/revoke') {
        this.revoke(await form());
        return send(200, {});
      }
      send(404, { error: 'not_found' });
    } catch (e) {
      if (e instanceof OidcError) return send(e.status, { error: e.error, error_description: e.message });
      send(500, { error: 'server_error' });
    }
  }
}
