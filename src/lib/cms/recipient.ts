/**
 * The recipient of an encrypted attachment: its certificate, checked against the
 * sesam-vitale-attachment profile (docs/domain/transmission.md §2–3) before any key is encrypted for it.
 *
 * A Recipient can only be obtained from `checkRecipient`, which either validates the
 * certificate (chain, dates, CRL required, keyUsage, mailbox in subjectAltName, RSA ≥ 2048) or
 * records an explicit `insecureSkipVerify` (tests, demos). Encryption refuses anything else,
 * so no code path can encrypt for an unchecked certificate by accident.
 */
import type { Cert } from '../pki/cert.js';
import { PkiError, Verifier, parseCertificate } from '../pki/index.js';
import type { PathEntry, VerifyInput, VerifyIssue, VerifyResult } from '../pki/types.js';
import { CmsError } from './errors.js';
import { type RsaPublicKey, rsaPublicKeyOf } from './rsa.js';

export interface RecipientPolicy {
  /** Trust anchors (DER), e.g. AC-SESAM-VITALE-2034. */
  anchors: Uint8Array[];
  /** Candidate intermediates (DER), e.g. AC-FACTURATION. */
  intermediates?: Uint8Array[];
  /** CRLs (DER). Without one covering the certificate, it is refused (docs/domain/transmission.md §2). */
  crls?: Uint8Array[];
  /** Validation time; defaults to now. */
  at?: Date;
  /** The mailbox the lot is sent to, e.g. amo_pj.reel@reel.rss.fr. */
  email: string;
  /** A warm Verifier to reuse across documents (caches parsed CRLs and signature results). */
  verifier?: { verify(input: VerifyInput): Promise<VerifyResult> };
}

/** Encrypt without validating the certificate. For tests and demonstrations only. */
export interface InsecureSkipVerify {
  insecureSkipVerify: true;
}

export interface Recipient {
  readonly der: Uint8Array;
  readonly cert: Cert;
  readonly key: RsaPublicKey;
  /** False when created with `insecureSkipVerify`. */
  readonly verified: boolean;
  /** Validation warnings to show (e.g. crl_expired: used anyway, per docs/domain/transmission.md §2). */
  readonly warnings: VerifyIssue[];
  /** The validated path, leaf first (empty when not verified). */
  readonly path: PathEntry[];
}

const issued = new WeakSet<Recipient>();

function refused(reasons: Array<{ code: string; message: string }>): CmsError {
  const detail = reasons.map((r) => r.message).join(' ');
  return new CmsError('recipient_invalid', `Certificat du destinataire refusé : ${detail}`, {
    reasons: reasons.map((r) => ({ code: r.code, message: r.message })),
  });
}

/**
 * Parses and validates the recipient certificate. Throws CmsError('recipient_invalid') with
 * the Verifier's reasons when the certificate may not be used, and
 * CmsError('cms_unsupported_algorithm') when its key cannot transport a key (not RSA).
 */
export async function checkRecipient(certDer: Uint8Array, policy: RecipientPolicy | InsecureSkipVerify): Promise<Recipient> {
  let cert: Cert;
  try {
    cert = parseCertificate(certDer.slice());
  } catch (e) {
    const code = e instanceof PkiError ? e.code : 'cert_malformed';
    throw refused([{ code, message: e instanceof Error ? e.message : 'Certificat illisible.' }]);
  }
  let warnings: VerifyIssue[] = [];
  let path: PathEntry[] = [];
  let verified = false;
  if (!('insecureSkipVerify' in policy && policy.insecureSkipVerify === true)) {
    const p = policy as RecipientPolicy;
    const input: VerifyInput = {
      leaf: cert.der,
      anchors: p.anchors,
      intermediates: p.intermediates ?? [],
      crls: p.crls ?? [],
      profile: 'sesam-vitale-attachment',
      email: p.email,
      ...(p.at ? { at: p.at } : {}),
    };
    const result = await (p.verifier ?? new Verifier()).verify(input);
    if (!result.valid) throw refused(result.errors);
    warnings = result.warnings;
    path = result.path;
    verified = true;
  }
  const r: Recipient = Object.freeze({ der: cert.der, cert, key: rsaPublicKeyOf(cert), verified, warnings, path });
  issued.add(r);
  return r;
}

/** Guards encryption: only recipients made by `checkRecipient` are accepted. */
export function assertChecked(r: Recipient): void {
  if (!issued.has(r)) {
    throw new CmsError('recipient_invalid', 'Destinataire non vérifié : utiliser checkRecipient() avant de chiffrer.', {
      reasons: [{ code: 'recipient_unchecked', message: 'Destinataire non vérifié.' }],
    });
  }
}
