/**
 * Typed errors of the MSSanté core. `code` is stable (tests and callers branch on it);
 * `message` is French, for the practitioner; `details` carries the certificate issues when the
 * signer was refused.
 */
import type { VerifyIssue } from '../pki/index.js';

export type MssErrorCode =
  // The signed whitelist (xmldsig.ts, whitelist.ts)
  | 'xml_too_large'
  | 'xml_dtd_refused'
  | 'xml_malformed'
  | 'xml_unavailable'
  | 'signature_missing'
  | 'signature_multiple'
  | 'signature_misplaced'
  | 'signature_algorithm_refused'
  | 'signature_reference_refused'
  | 'signature_transform_refused'
  | 'signer_certificate_missing'
  | 'signer_not_trusted'
  | 'signing_certificate_mismatch'
  | 'signature_invalid'
  | 'whitelist_malformed'
  | 'whitelist_older'
  // Addresses and the trust space (addresses.ts, trust-space.ts)
  | 'address_invalid'
  | 'domain_not_trusted'
  | 'whitelist_unavailable'
  // Composing (compose.ts)
  | 'too_many_recipients'
  | 'no_recipient'
  | 'message_too_large'
  | 'patient_not_reply'
  | 'documents_not_one_patient'
  | 'header_invalid'
  | 'attachment_invalid'
  // The XDM zip (xdm.ts, zip.ts)
  | 'zip_malformed'
  | 'zip_unsupported'
  | 'zip_too_large'
  | 'zip_too_many_entries'
  | 'zip_path_refused'
  | 'zip_ratio_refused'
  | 'xdm_malformed';

export class MssError extends Error {
  readonly code: MssErrorCode;
  readonly details: readonly VerifyIssue[];
  constructor(code: MssErrorCode, message: string, details: readonly VerifyIssue[] = []) {
    super(message);
    this.name = 'MssError';
    this.code = code;
    this.details = details;
  }
}

export const isMssError = (e: unknown): e is MssError => e instanceof MssError;
