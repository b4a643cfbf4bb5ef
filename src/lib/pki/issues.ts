/**
 * Reason codes of validation results and their French sentences. One place, so the UI, the
 * CLI and tests speak the same words.
 */
import type { VerifyIssue } from './types.js';

export type IssueCode =
  | 'cert_malformed'
  | 'issuer_not_found'
  | 'path_too_complex'
  | 'signature_invalid'
  | 'unsupported_algorithm'
  | 'cert_not_yet_valid'
  | 'cert_expired'
  | 'name_chaining'
  | 'not_ca'
  | 'path_length_exceeded'
  | 'key_usage_no_cert_sign'
  | 'unknown_critical_extension'
  | 'name_constraints_violated'
  | 'policy_required'
  | 'policy_mapping_any'
  | 'cert_revoked'
  | 'cert_on_hold'
  | 'crl_missing'
  | 'crl_expired'
  | 'crl_not_yet_valid'
  | 'crl_signature_invalid'
  | 'crl_signer_invalid'
  | 'crl_scope_mismatch'
  | 'crl_unknown_critical_extension'
  | 'crl_malformed'
  | 'revocation_incomplete'
  | 'revocation_not_checked'
  | 'input_ignored'
  | 'weak_key'
  | 'weak_signature_algorithm'
  | 'key_usage_missing'
  | 'key_usage_not_critical'
  | 'key_usage_insufficient'
  | 'email_missing'
  | 'email_mismatch'
  | 'key_type_not_rsa'
  | 'key_usage_not_authentication'
  | 'leaf_is_ca'
  | 'eku_not_client_auth'
  | 'policy_not_authentication'
  | 'issuer_not_card_ca'
  | 'profile_not_configured'
  | 'eku_not_smime'
  | 'policy_not_serv_smime'
  | 'signer_not_expected'
  | 'issuer_not_org_ca';

export function issue(code: IssueCode, message: string, cert?: number, subject?: string): VerifyIssue {
  const i: VerifyIssue = { code, message };
  if (cert !== undefined) i.cert = cert;
  if (subject !== undefined) i.subject = subject;
  return i;
}

let FR_DATE: Intl.DateTimeFormat | undefined; // made at first use: costly at start

/** A date for a French sentence, in UTC: "1 janvier 2010 à 08:30:01 UTC". */
export function frenchDate(ms: number): string {
  return `${(FR_DATE ??= new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long', timeStyle: 'medium', timeZone: 'UTC' })).format(ms)} UTC`;
}

/** CRLReason names (RFC 5280 §5.3.1) in French, for messages. */
export const REASON_FR: Record<string, string> = {
  unspecified: 'non précisé',
  keyCompromise: 'compromission de la clé',
  cACompromise: 'compromission de l’autorité',
  affiliationChanged: 'changement d’affiliation',
  superseded: 'remplacé',
  cessationOfOperation: 'cessation d’activité',
  certificateHold: 'suspension',
  removeFromCRL: 'retrait de la liste',
  privilegeWithdrawn: 'privilège retiré',
  aACompromise: 'compromission de l’autorité d’attributs',
};
