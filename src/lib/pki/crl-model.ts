/**
 * The parsed form of a CRL, as produced by the streaming reader (crl.ts) and consumed by
 * revocation checking (revocation.ts). Entries are never materialised as an object tree of
 * the whole list: the reader fills flat indexes.
 */
import type { GeneralName, Name } from './name.js';
import type { IssuingDistributionPoint } from './dist-point.js';

/** CRLReason (RFC 5280 §5.3.1). 7 is unused. */
export type ReasonCode = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 8 | 9 | 10;

export const REASON_NAMES: Record<ReasonCode, string> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'cACompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  8: 'removeFromCRL',
  9: 'privilegeWithdrawn',
  10: 'aACompromise',
};

export interface CrlEntry {
  /** Serial number content octets as lowercase hex, exactly as encoded (e.g. "01", "00ff"). */
  serial: string;
  /** Milliseconds since epoch. */
  revocationDate: number;
  reason?: ReasonCode;
  invalidityDate?: number;
  /**
   * For indirect CRLs: the certificate issuer this entry applies to (from the entry's
   * certificateIssuer extension, or inherited from the previous entry, or absent = CRL issuer).
   */
  certificateIssuer?: GeneralName[];
  /** OIDs of critical entry extensions the reader does not understand (entry must not be trusted). */
  unknownCriticalExtensions?: string[];
}

export interface AlgorithmIdentifier {
  oid: string;
  /** DER of the parameters element, if present (including NULL). */
  params?: Uint8Array;
}

export interface Crl {
  /** The whole DER. */
  der: Uint8Array;
  /** The signed part (tbsCertList), a view into der. */
  tbs: Uint8Array;
  version: 1 | 2;
  /** tbsCertList.signature */
  tbsSignatureAlgorithm: AlgorithmIdentifier;
  /** CertificateList.signatureAlgorithm; must equal tbsSignatureAlgorithm. */
  signatureAlgorithm: AlgorithmIdentifier;
  /** The signature bits (BIT STRING content without the unused-bits octet). */
  signature: Uint8Array;
  issuer: Name;
  thisUpdate: number;
  nextUpdate?: number;
  /** Number of revokedCertificates entries. */
  size: number;
  /** crlNumber extension as a bigint. */
  crlNumber?: bigint;
  /** deltaCRLIndicator: the base CRL number; present ⇔ this is a delta CRL. */
  deltaBase?: bigint;
  idp?: IssuingDistributionPoint;
  /** authorityKeyIdentifier keyIdentifier, if present. */
  authorityKeyId?: Uint8Array;
  /** OIDs of critical CRL extensions not understood (the CRL must not be used). */
  unknownCriticalExtensions: string[];
  /**
   * Entries by serial hex. Usually one per serial; several when an indirect CRL lists the
   * same serial for different certificate issuers.
   */
  entries: Map<string, CrlEntry | CrlEntry[]>;
}
