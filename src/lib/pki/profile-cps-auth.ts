/**
 * The CPS-authentication profile, on top of RFC 5280 validation: what a relay (or any remote
 * service) accepts as the practitioner's card logging in (docs/domain/security.md SP3, C2, G5).
 *
 * A CPS carries two certificates: authentication (keyUsage digitalSignature) and signature
 * (keyUsage nonRepudiation only, for signing invoices). Only the first may open a session:
 * - keyUsage present, with digitalSignature; a nonRepudiation-only (signature) certificate is
 *   refused, and so is any certificate whose usage is certificate or CRL signing;
 * - an end entity (no basicConstraints cA);
 * - RGS algorithms over the whole path (G5): RSA ≥ 2048 bits, no DSA, no SHA-1 signature.
 *
 * `cpsIdentity` names the holder by what is unique: the national identifier (RPPS, or the
 * IGC-Santé "identifiant national" with its type prefix) carried in the subject's serialNumber
 * attribute or, by the CPS convention, before the "/" of the common name ("<id>/<NAME>"), and
 * always the certificate's issuer and serial number. A common name alone is never an identity:
 * two practitioners may share a name.
 */
import { type Cert, KU, OID } from './cert.js';
import { type IssueCode, issue } from './issues.js';
import { nameToString } from './name.js';
import { rgsAlgorithmIssues } from './profile-sesam.js';
import type { VerifyIssue } from './types.js';

const OID_SERIAL_NUMBER = '2.5.4.5';
const OID_CN = '2.5.4.3';

export function cpsAuthenticationIssues(path: Cert[], anchorCount: number): VerifyIssue[] {
  const out: VerifyIssue[] = [];
  const leaf = path[0];
  if (!leaf) return out;
  const subj = nameToString(leaf.subject);
  const add = (code: IssueCode, message: string): void => {
    out.push(issue(code, message, 0, subj));
  };
  const ku = leaf.extensions.find((e) => e.oid === OID.keyUsage);
  if (!ku || leaf.keyUsage === undefined) {
    add('key_usage_missing', `Le certificat « ${subj} » n’a pas d’extension keyUsage : ce n’est pas un certificat d’authentification CPS.`);
  } else if ((leaf.keyUsage & KU.digitalSignature) === 0) {
    add('key_usage_not_authentication',
      `Le certificat « ${subj} » n’a pas l’usage digitalSignature : c’est le certificat de signature de la carte, pas celui d’authentification.`);
  } else if ((leaf.keyUsage & (KU.keyCertSign | KU.cRLSign)) !== 0) {
    add('key_usage_not_authentication', `Le certificat « ${subj} » est un certificat d’autorité, pas celui d’une carte.`);
  }
  if (leaf.basicConstraints?.ca) add('leaf_is_ca', `Le certificat « ${subj} » est un certificat d’autorité, pas celui d’une carte.`);
  out.push(...rgsAlgorithmIssues(path, anchorCount));
  return out;
}

export interface CpsIdentity {
  /**
   * The holder's national identifier (as written: RPPS, or IGC-Santé's prefixed form), from the
   * subject's serialNumber attribute, else from "<id>/<NAME>" in the common name; null when
   * the certificate carries neither.
   */
  nationalId: string | null;
  /** Issuer DN (RFC 4514 string) and serial (lowercase hex, as encoded): unique per CA. */
  issuer: string;
  serial: string;
}

function attribute(c: Cert, type: string): string | undefined {
  for (const rdn of c.subject.rdns) for (const a of rdn) if (a.type === type && a.text !== undefined) return a.text.trim();
  return undefined;
}

/** Who a CPS authentication certificate names, by unique identifiers only. */
export function cpsIdentity(c: Cert): CpsIdentity {
  const serialNumber = attribute(c, OID_SERIAL_NUMBER);
  const fromCn = /^\s*(\d{6,20})\s*\//.exec(attribute(c, OID_CN) ?? '')?.[1];
  const nationalId = serialNumber && /^[0-9A-Za-z-]{6,40}$/.test(serialNumber) ? serialNumber : (fromCn ?? null);
  return { nationalId, issuer: nameToString(c.issuer), serial: c.serial };
}
