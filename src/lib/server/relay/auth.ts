/**
 * Web eID style authentication: the relay issues a fresh nonce bound to the web origin; the
 * practitioner signs SHA-256(origin) ‖ SHA-256(nonce) with the CPS authentication key; the relay
 * checks the signature, the chain to the configured CA and its CRL (src/lib/pki), then opens a
 * session (15 min idle, 4 h at most). Session tokens are stored as SHA-256 only.
 */
import { createHash, randomBytes, X509Certificate, verify as nodeVerify, constants } from 'node:crypto';
import { verify as pkiVerify } from '../../pki/index.js';
import { DEFAULTS, type PractitionerConfig, type RelayConfig } from './config.js';
import type { RelayStore, SessionRecord } from './store/types.js';

export class AuthError extends Error {
  constructor(readonly code: string, message: string, readonly status = 401) {
    super(message);
  }
}

export const sha256 = (b: Uint8Array | string): Buffer => createHash('sha256').update(b).digest();

/** The bytes the card signs. */
export function challengeDigestInput(origin: string, nonce: string): Buffer {
  return Buffer.concat([sha256(origin), sha256(nonce)]);
}

export type SignatureAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'ES384';

export interface TokenRequest {
  certificate: string; // base64 DER
  intermediates?: string[];
  nonce: string;
  origin: string;
  algorithm: SignatureAlgorithm;
  signature: string; // base64
}

export class Auth {
  /** `loadedCrls`: CRLs the relay keeps fresh itself (crl-sources.ts), used beside `config.crls`. */
  constructor(private readonly store: RelayStore, private readonly config: RelayConfig, private readonly loadedCrls: () => Uint8Array[] = () => []) {}

  async challenge(origin: string, now = Date.now()): Promise<{ nonce: string; origin: string; expiresAt: number }> {
    if (!this.config.origins.includes(origin)) throw new AuthError('origin', 'origin not allowed', 403);
    const nonce = randomBytes(32).toString('base64url');
    const expiresAt = now + (this.config.nonceTtlMs ?? DEFAULTS.nonceTtlMs);
    await this.store.createNonce(nonce, origin, expiresAt);
    return { nonce, origin, expiresAt };
  }

  async token(req: TokenRequest, requestOrigin: string | null, now = Date.now()): Promise<{ token: string; practitioner: string; expiresAt: number }> {
    if (typeof req.nonce !== 'string' || typeof req.origin !== 'string' || typeof req.signature !== 'string' || typeof req.certificate !== 'string') {
      throw new AuthError('malformed', 'nonce, origin, certificate and signature are required', 400);
    }
    if (requestOrigin !== null && requestOrigin !== req.origin) throw new AuthError('origin', 'origin mismatch');
    const bound = await this.store.consumeNonce(req.nonce, now);
    if (bound === null) throw new AuthError('nonce', 'unknown, used or expired nonce');
    if (bound !== req.origin) throw new AuthError('origin', 'nonce bound to another origin');
    const der = Buffer.from(req.certificate, 'base64');
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(der);
    } catch {
      throw new AuthError('certificate', 'unreadable certificate', 400);
    }
    const data = challengeDigestInput(req.origin, req.nonce);
    const sig = Buffer.from(req.signature, 'base64');
    const key = x509.publicKey;
    let ok = false;
    try {
      switch (req.algorithm) {
        case 'RS256': ok = nodeVerify('sha256', data, key, sig); break;
        case 'PS256': ok = nodeVerify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig); break;
        case 'ES256': ok = nodeVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig); break;
        case 'ES384': ok = nodeVerify('sha384', data, { key, dsaEncoding: 'ieee-p1363' }, sig); break;
        default: throw new AuthError('algorithm', 'unsupported algorithm', 400);
      }
    } catch (e) {
      if (e instanceof AuthError) throw e;
      ok = false;
    }
    if (!ok) throw new AuthError('signature', 'signature does not verify');
    const result = await pkiVerify({
      leaf: new Uint8Array(der),
      anchors: this.config.anchors,
      intermediates: [...(this.config.intermediates ?? []), ...(req.intermediates ?? []).map((b) => new Uint8Array(Buffer.from(b, 'base64')))],
      crls: [...(this.config.crls ?? []), ...this.loadedCrls()],
      at: new Date(now),
      revocation: this.config.revocation ?? 'require',
    });
    if (!result.valid) throw new AuthError('chain', `certificate rejected: ${result.errors.map((e) => e.code).join(', ')}`);
    const p = this.practitionerFor(x509);
    if (!p) throw new AuthError('unknown-practitioner', 'certificate not linked to a configured practitioner', 403);
    const token = randomBytes(32).toString('base64url');
    const s: SessionRecord = { id: sha256(token).toString('hex'), practitioner: p.id,
      certSha256: sha256(der).toString('hex'), createdAt: now, lastSeenAt: now };
    await this.store.createSession(s);
    await this.store.audit({ at: now, actor: p.id, action: 'session.open', detail: { origin: req.origin, cert: s.certSha256, serial: x509.serialNumber } });
    return { token, practitioner: p.id, expiresAt: Math.min(now + this.idle, now + this.max) };
  }

  private get idle(): number { return this.config.sessionIdleMs ?? DEFAULTS.sessionIdleMs; }
  private get max(): number { return this.config.sessionMaxMs ?? DEFAULTS.sessionMaxMs; }

  practitionerFor(x: X509Certificate): PractitionerConfig | undefined {
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(x.subject)?.[1];
    const emails = (x.subjectAltName ?? '').split(/,\s*/).filter((s) => s.startsWith('email:')).map((s) => s.slice(6).toLowerCase());
    return this.config.practitioners.find((p) =>
      (p.certificateMatch.cn !== undefined && p.certificateMatch.cn === cn) ||
      (p.certificateMatch.email !== undefined && emails.includes(p.certificateMatch.email.toLowerCase())));
  }

  /** Resolves a bearer token to its practitioner, enforcing idle and absolute expiry. */
  async session(authorization: string | null, now = Date.now()): Promise<PractitionerConfig> {
    const m = /^Bearer ([A-Za-z0-9_-]{20,100})$/.exec(authorization ?? '');
    if (!m) throw new AuthError('no-session', 'missing bearer token');
    const id = sha256(m[1]!).toString('hex');
    const s = await this.store.getSession(id);
    if (!s) throw new AuthError('no-session', 'unknown session');
    if (now - s.lastSeenAt > this.idle || now - s.createdAt > this.max) {
      await this.store.deleteSession(id);
      throw new AuthError('expired', 'session expired: authenticate again with the card');
    }
    const p = this.config.practitioners.find((x) => x.id === s.practitioner);
    if (!p) throw new AuthError('unknown-practitioner', 'practitioner no longer configured', 403);
    // Touch at most every 10 s: keeps the idle clock right without a write per request.
    if (now - s.lastSeenAt > 10_000) await this.store.touchSession(id, now);
    return p;
  }
}
