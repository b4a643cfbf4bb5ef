/**
 * Web eID style authentication: the relay issues a fresh nonce bound to the web origin; the
 * practitioner signs SHA-256(origin) ‖ SHA-256(nonce) with the CPS authentication key; the relay
 * checks the signature, then the certificate with the CPS-authentication profile of the pki core
 * (chain to the configured CA, CRL, keyUsage digitalSignature: the card's authentication
 * certificate only, RSA ≥ 2048, no SHA-1), names the practitioner by a unique identifier (RPPS,
 * or issuer and serial: never the CN), then opens a session (15 min idle, 4 h at most).
 * Session tokens are stored as SHA-256 only. A session's certificate is validated again
 * whenever the CRLs in use change: a card revoked meanwhile ends its sessions.
 */
import { createHash, randomBytes, X509Certificate, verify as nodeVerify, constants } from 'node:crypto';
import { type VerifyResult, Verifier, cpsIdentity, parseCertificate } from '../../pki/index.js';
import { DEFAULTS, checkCardAuthentication, checkPractitioners, normalDn, normalSerial, type PractitionerConfig, type RelayConfig } from './config.js';
import type { RelayStore, SessionRecord } from './store/types.js';

export class AuthError extends Error {
  /** `reasons`: the pki core's reason codes when a certificate is refused (no certificate data). */
  constructor(readonly code: string, message: string, readonly status = 401, readonly reasons?: string[]) {
    super(message);
  }
}

/** Sessions whose certificate was checked against the current CRLs, per process (bounded). */
const MAX_CHECKED_SESSIONS = 50_000;

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
  /** Warm caches (parsed certificates and CRLs, signature results) across logins and re-checks. */
  private readonly verifier = new Verifier();
  /** CRL identities, to tell when the set in use changed (crl-sources.ts hands out new arrays on reload). */
  private readonly crlIds = new WeakMap<Uint8Array, number>();
  private nextCrlId = 0;
  /** Session id → the CRL set its certificate was last validated against. */
  private readonly checked = new Map<string, string>();

  /** `loadedCrls`: CRLs the relay keeps fresh itself (crl-sources.ts), used beside `config.crls`. */
  constructor(private readonly store: RelayStore, private readonly config: RelayConfig, private readonly loadedCrls: () => Uint8Array[] = () => []) {
    checkPractitioners(config.practitioners);
    checkCardAuthentication(config.cardAuthentication);
  }

  private crls(): Uint8Array[] {
    return [...(this.config.crls ?? []), ...this.loadedCrls()];
  }

  private crlEpoch(crls: readonly Uint8Array[]): string {
    return crls.map((c) => {
      let id = this.crlIds.get(c);
      if (id === undefined) {
        id = ++this.nextCrlId;
        this.crlIds.set(c, id);
      }
      return id;
    }).join(',');
  }

  /** The CPS-authentication profile over `der` with the relay's trust and current CRLs. */
  private validate(der: Uint8Array, crls: Uint8Array[], now: number, intermediates: Uint8Array[] = []): Promise<VerifyResult> {
    return this.verifier.verify({
      leaf: der,
      anchors: this.config.anchors,
      intermediates: [...(this.config.intermediates ?? []), ...intermediates],
      crls,
      at: new Date(now),
      revocation: this.config.revocation ?? 'require',
      profile: 'cps-authentication',
      cpsAuthentication: this.config.cardAuthentication,
    });
  }

  async challenge(origin: string, now = Date.now()): Promise<{ nonce: string; origin: string; expiresAt: number }> {
    if (!this.config.origins.includes(origin)) throw new AuthError('origin', 'origin not allowed', 403);
    const nonce = randomBytes(32).toString('base64url');
    const expiresAt = now + (this.config.nonceTtlMs ?? DEFAULTS.nonceTtlMs);
    await this.store.createNonce(nonce, origin, expiresAt);
    return { nonce, origin, expiresAt };
  }

  async token(req: TokenRequest, requestOrigin: string | null, now = Date.now()): Promise<{ token: string; practitioner: string; from: string; expiresAt: number }> {
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
    if (req.intermediates !== undefined && (!Array.isArray(req.intermediates) || req.intermediates.some((b) => typeof b !== 'string'))) {
      throw new AuthError('malformed', 'intermediates: an array of base64 DER certificates', 400);
    }
    const crls = this.crls();
    const epoch = this.crlEpoch(crls);
    const leaf = new Uint8Array(der);
    const result = await this.validate(leaf, crls, now, (req.intermediates ?? []).map((b) => new Uint8Array(Buffer.from(b, 'base64'))));
    if (!result.valid) {
      const codes = [...new Set(result.errors.map((e) => e.code))];
      throw new AuthError('chain', `certificate rejected: ${codes.join(', ')}`, 401, codes);
    }
    const p = this.practitionerFor(leaf);
    if (!p) throw new AuthError('unknown-practitioner', 'certificate not linked to a configured practitioner', 403);
    const token = randomBytes(32).toString('base64url');
    const s: SessionRecord = { id: sha256(token).toString('hex'), practitioner: p.id,
      certSha256: sha256(der).toString('hex'), createdAt: now, lastSeenAt: now, certDer: leaf };
    await this.store.createSession(s);
    this.remember(s.id, epoch);
    await this.store.audit({ at: now, actor: p.id, action: 'session.open', detail: { origin: req.origin, cert: s.certSha256, serial: x509.serialNumber } });
    // `from`: the mailbox the relay accepts as this practitioner's From (the PWA packages with it).
    return { token, practitioner: p.id, from: p.from, expiresAt: Math.min(now + this.idle, now + this.max) };
  }

  private remember(id: string, epoch: string): void {
    if (this.checked.size >= MAX_CHECKED_SESSIONS) this.checked.clear(); // re-checked on next use: correct, only slower
    this.checked.set(id, epoch);
  }

  /** Ends the session of `authorization` (logout). False when there was none. */
  async logout(authorization: string | null, now = Date.now()): Promise<boolean> {
    const id = sessionId(authorization);
    const s = await this.store.getSession(id);
    await this.store.deleteSession(id);
    this.checked.delete(id);
    if (!s) return false;
    await this.store.audit({ at: now, actor: s.practitioner, action: 'session.close', detail: { cert: s.certSha256, reason: 'logout' } });
    return true;
  }

  private get idle(): number { return this.config.sessionIdleMs ?? DEFAULTS.sessionIdleMs; }
  private get max(): number { return this.config.sessionMaxMs ?? DEFAULTS.sessionMaxMs; }

  /**
   * The configured practitioner a certificate names: by its national identifier (RPPS) and/or
   * its issuer and serial, every given field matching. Several matches: none (the configuration
   * check refuses overlaps, so this only guards against an identifier shared across CAs).
   */
  practitionerFor(der: Uint8Array): PractitionerConfig | undefined {
    const id = cpsIdentity(parseCertificate(new Uint8Array(der)));
    const issuer = normalDn(id.issuer);
    const serial = normalSerial(id.serial);
    const found = this.config.practitioners.filter((p) => {
      const m = p.certificateMatch;
      if (m.rpps === undefined && m.serial === undefined) return false;
      if (m.rpps !== undefined && m.rpps !== id.nationalId) return false;
      if (m.serial !== undefined && (normalSerial(m.serial) !== serial || normalDn(m.issuer ?? '') !== issuer)) return false;
      return true;
    });
    return found.length === 1 ? found[0] : undefined;
  }

  /** Resolves a bearer token to its practitioner, enforcing idle and absolute expiry. */
  async session(authorization: string | null, now = Date.now()): Promise<PractitionerConfig> {
    const id = sessionId(authorization);
    const s = await this.store.getSession(id);
    if (!s) throw new AuthError('no-session', 'unknown session');
    if (now - s.lastSeenAt > this.idle || now - s.createdAt > this.max) {
      await this.store.deleteSession(id);
      this.checked.delete(id);
      throw new AuthError('expired', 'session expired: authenticate again with the card');
    }
    const p = this.config.practitioners.find((x) => x.id === s.practitioner);
    if (!p) throw new AuthError('unknown-practitioner', 'practitioner no longer configured', 403);
    await this.recheck(s, now);
    // Touch at most every 10 s: keeps the idle clock right without a write per request.
    if (now - s.lastSeenAt > 10_000) await this.store.touchSession(id, now);
    return p;
  }

  /**
   * Validates the session's certificate again when the CRLs in use changed since it was last
   * checked (a refresh, crl-sources.ts): a card revoked meanwhile (or expired, or whose CRL can
   * no longer be used under `require`) ends the session. A session without its certificate
   * (made before sessions kept it) must log in again.
   */
  private async recheck(s: SessionRecord, now: number): Promise<void> {
    const crls = this.crls();
    const epoch = this.crlEpoch(crls);
    if (this.checked.get(s.id) === epoch) return;
    const result = s.certDer ? await this.validate(s.certDer, crls, now) : null;
    if (result?.valid) {
      this.remember(s.id, epoch);
      return;
    }
    await this.store.deleteSession(s.id);
    this.checked.delete(s.id);
    const codes = result ? [...new Set(result.errors.map((e) => e.code))] : ['certificate_unknown'];
    await this.store.audit({ at: now, actor: s.practitioner, action: 'session.revoked', detail: { cert: s.certSha256, reasons: codes } });
    throw new AuthError(codes.includes('cert_revoked') ? 'revoked' : 'certificate',
      `session ended: the card's certificate is no longer valid (${codes.join(', ')})`, 401, codes);
  }
}

function sessionId(authorization: string | null): string {
  const m = /^Bearer ([A-Za-z0-9_-]{20,100})$/.exec(authorization ?? '');
  if (!m) throw new AuthError('no-session', 'missing bearer token');
  return sha256(m[1]!).toString('hex');
}
