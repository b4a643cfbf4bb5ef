/**
 * Public contract of the certificate validation core (isomorphic: browser and Node).
 * Everything the UI, the CLI and later the CMS/relay code need goes through these types.
 */
import type { CpsAuthenticationProfile } from './profile-cps-auth.js';
import type { ServSmimeProfile } from './profile-serv-smime.js';

/**
 * Validation profiles. `sesam-vitale-attachment` adds docs/domain/transmission.md §2–3 on top of RFC 5280;
 * `cps-authentication` the card's authentication certificate and RGS algorithms
 * (profile-cps-auth.ts), for logging in to a remote service; `serv-smime` a structure's
 * SERV_S/MIME server certificate, e.g. the signer of the MSSanté whitelist (profile-serv-smime.ts).
 */
export type Profile = 'rfc5280' | 'sesam-vitale-attachment' | 'cps-authentication' | 'serv-smime';

export interface VerifyInput {
  /** End-entity certificate, DER. */
  leaf: Uint8Array;
  /** Trust anchors (self-signed or not), DER. */
  anchors: Uint8Array[];
  /** Unordered pool of candidate intermediate certificates, DER. */
  intermediates?: Uint8Array[];
  /** Unordered pool of CRLs (complete, delta, indirect), DER. */
  crls?: Uint8Array[];
  /** Validation time; defaults to now. */
  at?: Date;
  profile?: Profile;
  /** The card's authentication profile (issuing CAs, policy) for cps-authentication; without it every leaf is refused. */
  cpsAuthentication?: CpsAuthenticationProfile;
  /** The expected SERV_S/MIME signer (issuing CAs, policy, holder) for serv-smime; without it every leaf is refused. */
  servSmime?: ServSmimeProfile;
  /** Expected mailbox (subjectAltName rfc822Name) for the sesam-vitale-attachment profile. */
  email?: string;
  /** RFC 5280 §6.1.1 inputs. Default: anyPolicy and all three flags false. */
  initialPolicySet?: string[];
  initialExplicitPolicy?: boolean;
  initialPolicyMappingInhibit?: boolean;
  initialAnyPolicyInhibit?: boolean;
  /**
   * Revocation checking (default 'require', as RFC 5280 §6.3 and PKITS expect): every
   * certificate of the path must be covered by a usable CRL. 'if-available' turns an unknown
   * status into a warning; 'off' skips CRLs altogether. When unset, the
   * sesam-vitale-attachment profile requires a CRL for the leaf and checks CA certificates
   * against their issuer's CRL when one is offered (docs/domain/transmission.md §3).
   */
  revocation?: 'require' | 'if-available' | 'off';
  /**
   * What an expired CRL (nextUpdate passed) means. Default: 'reject' for rfc5280 (the CRL is
   * not used), 'warn' for sesam-vitale-attachment (docs/domain/transmission.md §2: used, with a warning).
   */
  staleCrl?: 'reject' | 'warn';
}

/** One reason, machine-readable code plus a French sentence for people. */
export interface VerifyIssue {
  /** Stable reason code, e.g. "signature_invalid", "cert_revoked", "crl_expired". */
  code: string;
  /** French, for the practitioner. */
  message: string;
  /** Index in `path` of the certificate concerned (0 = leaf), when one is. */
  cert?: number;
  /** Subject DN of the certificate concerned (RFC 4514 string), when one is. */
  subject?: string;
}

export interface PathEntry {
  subject: string;
  issuer: string;
  /** Lowercase hex, as encoded. */
  serial: string;
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the DER, lowercase hex. */
  sha256: string;
  /** True for the trust anchor (last element). */
  anchor: boolean;
}

export interface VerifyResult {
  valid: boolean;
  warnings: VerifyIssue[];
  errors: VerifyIssue[];
  /** Leaf first, trust anchor last; the best candidate path when invalid (may be partial). */
  path: PathEntry[];
}

/** What a dropped file or pasted text turned out to contain. */
export interface DecodedItem {
  kind: 'certificate' | 'crl';
  der: Uint8Array;
  /** Short human label: subject DN for a certificate, issuer DN for a CRL. */
  label: string;
  /**
   * For certificates, the role the certificate most likely plays, to pre-fill forms: a
   * self-issued CA is an anchor, another CA an intermediate, anything else a leaf.
   */
  suggestedRole?: 'anchor' | 'intermediate' | 'leaf';
}
