/**
 * Certificate and CRL validation core: the one entry point for the PWA, the CLI, and later
 * the CMS and relay code. Isomorphic (WebCrypto only).
 */
import { type Cert, parseCertificate } from './cert.js';
import { parseCrl } from './crl.js';
import type { Crl } from './crl-model.js';
import { MAX_INPUT_BYTES } from './input.js';
import { type EngineCaches, Engine, iso, newCaches } from './engine.js';
import { PkiError } from './errors.js';
import { issue } from './issues.js';
import { nameToString } from './name.js';
import { cpsAuthenticationIssues } from './profile-cps-auth.js';
import { sesamAttachmentIssues } from './profile-sesam.js';
import { servSmimeIssues } from './profile-serv-smime.js';
import { sha256Hex } from './signature.js';
import type { PathEntry, VerifyInput, VerifyIssue, VerifyResult } from './types.js';

export type * from './types.js';
export { PkiError, isPkiError } from './errors.js';
export { decodeInput, pemBlocks, MAX_INPUT_BYTES } from './input.js';
export { parseCertificate } from './cert.js';
export { parseCrl } from './crl.js';
export type { Cert } from './cert.js';
export type { Crl, CrlEntry } from './crl-model.js';
export { nameToString } from './name.js';
export { cpsIdentity, type CpsIdentity, type CpsAuthenticationProfile } from './profile-cps-auth.js';
export type { ServSmimeProfile } from './profile-serv-smime.js';

const ANY_POLICY = '2.5.29.32.0';
/** Past this many cached objects a cache is emptied: bounded memory for long-running tabs. */
const CACHE_LIMIT = 20_000;

/** FNV-1a over the bytes: a cheap identity for large CRLs in the parse cache. */
function fnv1a(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}

/**
 * Validates certificates and keeps warm caches between calls: parsed certificates and CRLs,
 * imported keys, and signature results (keyed by the objects' identity, so a signature is
 * checked once per signer key).
 */
export class Verifier {
  private readonly certs = new Map<string, Cert>();
  private readonly crls = new Map<string, Crl>();
  private readonly digests = new WeakMap<Cert, Promise<string>>();
  private caches: EngineCaches = newCaches();

  private cert(der: Uint8Array): Cert {
    checkSize(der);
    const k = `${der.length}:${fnv1a(der)}`;
    let c = this.certs.get(k);
    if (!c || !sameBytes(c.der, der)) {
      if (this.certs.size >= CACHE_LIMIT) this.certs.clear();
      c = parseCertificate(new Uint8Array(der)); // a copy, even of a Node Buffer (its slice() is a view)
      this.certs.set(k, c);
    }
    return c;
  }

  private crl(der: Uint8Array): Crl {
    checkSize(der);
    const k = `${der.length}:${fnv1a(der)}`;
    let c = this.crls.get(k);
    if (!c || !sameBytes(c.der, der)) {
      if (this.crls.size >= 256) this.crls.clear();
      c = parseCrl(new Uint8Array(der));
      this.crls.set(k, c);
    }
    return c;
  }

  private sha256(c: Cert): Promise<string> {
    let p = this.digests.get(c);
    if (!p) {
      p = sha256Hex(c.der);
      this.digests.set(c, p);
    }
    return p;
  }

  private async entry(c: Cert, anchor: boolean): Promise<PathEntry> {
    return {
      subject: nameToString(c.subject),
      issuer: nameToString(c.issuer),
      serial: c.serial,
      notBefore: iso(c.notBefore),
      notAfter: iso(c.notAfter),
      sha256: await this.sha256(c),
      anchor,
    };
  }

  async verify(input: VerifyInput): Promise<VerifyResult> {
    if (this.caches.signatures.size > CACHE_LIMIT * 4) this.caches = newCaches();
    const warnings: VerifyIssue[] = [];
    const profile = input.profile ?? 'rfc5280';
    let leaf: Cert;
    try {
      leaf = this.cert(input.leaf);
    } catch (e) {
      return invalid(e, 'cert_malformed', 'Le certificat à vérifier est illisible.');
    }
    const anchors: Cert[] = [];
    for (const [i, der] of input.anchors.entries()) {
      try {
        anchors.push(this.cert(der));
      } catch (e) {
        warnings.push(issue('input_ignored', `Ancre de confiance n° ${i + 1} ignorée : ${msg(e)}`));
      }
    }
    const pool: Cert[] = [];
    for (const [i, der] of (input.intermediates ?? []).entries()) {
      try {
        pool.push(this.cert(der));
      } catch (e) {
        warnings.push(issue('input_ignored', `Certificat intermédiaire n° ${i + 1} ignoré : ${msg(e)}`));
      }
    }
    const crls: Crl[] = [];
    for (const [i, der] of (input.crls ?? []).entries()) {
      try {
        crls.push(this.crl(der));
      } catch (e) {
        warnings.push(issue('input_ignored', `LCR n° ${i + 1} ignorée : ${msg(e)}`));
      }
    }
    if (anchors.length === 0) {
      return {
        valid: false,
        warnings,
        errors: [issue('issuer_not_found', 'Aucune autorité de confiance n’a été fournie.')],
        path: [await this.entry(leaf, false)],
      };
    }
    const at = input.at ? input.at.getTime() : Date.now();
    if (!Number.isFinite(at)) return invalid(null, 'cert_malformed', 'Date de validation invalide.');
    const engine = new Engine(
      anchors,
      pool,
      crls,
      {
        at,
        initialPolicySet: input.initialPolicySet?.length ? input.initialPolicySet : [ANY_POLICY],
        initialExplicitPolicy: input.initialExplicitPolicy ?? false,
        initialPolicyMappingInhibit: input.initialPolicyMappingInhibit ?? false,
        initialAnyPolicyInhibit: input.initialAnyPolicyInhibit ?? false,
        revocation: input.revocation ?? 'require',
        // docs/domain/transmission.md §3: CA certificates are checked against their issuer's CRL when one is offered.
        caRevocation: input.revocation ?? (profile === 'sesam-vitale-attachment' ? 'if-available' : 'require'),
        staleCrl: input.staleCrl ?? (profile === 'sesam-vitale-attachment' ? 'warn' : 'reject'),
      },
      this.caches,
    );
    let r;
    try {
      r = await engine.validate(leaf);
    } catch (e) {
      // Parsing errors surfacing late (e.g. in a key) are verdicts on the input, not crashes.
      if (e instanceof PkiError) return { valid: false, warnings, errors: [{ code: e.code, message: e.message }], path: [] };
      throw e;
    }
    const errors = [...r.errors];
    warnings.push(...r.warnings);
    const complete = r.path.length > 0 && anchors.includes(r.path[r.path.length - 1]!);
    if (profile === 'sesam-vitale-attachment') {
      errors.push(...sesamAttachmentIssues(r.path, complete ? 1 : 0, input.email));
    } else if (profile === 'cps-authentication') {
      errors.push(...cpsAuthenticationIssues(r.path, complete ? 1 : 0, input.cpsAuthentication));
    } else if (profile === 'serv-smime') {
      errors.push(...servSmimeIssues(r.path, complete ? 1 : 0, input.servSmime));
    }
    const path = await Promise.all(r.path.map((c, i) => this.entry(c, complete && i === r.path.length - 1)));
    return { valid: errors.length === 0, warnings, errors, path };
  }
}

function checkSize(der: Uint8Array): void {
  if (der.byteLength > MAX_INPUT_BYTES) {
    throw new PkiError('input_too_large', `Donnée trop volumineuse (${der.byteLength} octets, maximum ${MAX_INPUT_BYTES}).`);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function invalid(e: unknown, code: 'cert_malformed', fallback: string): VerifyResult {
  const error = e instanceof PkiError ? { code: e.code, message: e.message } : { code, message: fallback };
  return { valid: false, warnings: [], errors: [error], path: [] };
}

/** One-shot validation with cold caches. */
export function verify(input: VerifyInput): Promise<VerifyResult> {
  return new Verifier().verify(input);
}
