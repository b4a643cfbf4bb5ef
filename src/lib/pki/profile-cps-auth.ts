/**
 * The CPS-authentication profile, on top of RFC 5280 validation: what a relay (or any remote
 * service) accepts as the practitioner's card logging in (docs/domain/security.md SP3, C2, G5).
 *
 * A CPS carries two certificates: authentication and signature (nonRepudiation, for signing
 * invoices). Only the first opens a session, and only as its profile defines it (issue 24
 * defect 2: "any signing leaf under the anchors" is not a card):
 * - issued by one of the CAs that issue practitioner cards (`issuers`: IGC-Santé's "personnes"
 *   CA, or the fictitious PKI's), not merely chaining to an anchor;
 * - asserting the authentication certificate's policy (`policies`: certificatePolicies);
 * - keyUsage exactly digitalSignature (with nonRepudiation, keyEncipherment or a CA usage it is
 *   some other certificate); an extendedKeyUsage, if any, that allows client authentication;
 * - an end entity (no basicConstraints cA);
 * - RGS algorithms over the whole path (G5): RSA ≥ 2048 bits, no DSA, no SHA-1 signature.
 * Without a configured profile (no issuer or no policy) every certificate is refused.
 *
 * `cpsIdentity` names the holder by what is unique: the national identifier from where the
 * profile puts it — before the "/" of the common name ("<id>/<NAME>") — and always the
 * certificate's issuer and serial number. A common name alone is never an identity: two
 * practitioners may share a name. The identifier means something only for a certificate this
 * profile accepted.
 */
import { type Cert, KU, OID } from './cert.js';
import { EKU, extendedKeyUsage, issuedByOneOf } from './profile-common.js';
import { type IssueCode, issue } from './issues.js';
import { nameToString } from './name.js';
import { rgsAlgorithmIssues } from './profile-sesam.js';
import type { VerifyIssue } from './types.js';

const OID_CN = '2.5.4.3';

/** What makes a certificate the card's authentication certificate, in a given PKI. */
export interface CpsAuthenticationProfile {
  /** The CAs (DER) that issue practitioner cards: the leaf's issuer must be one of them (same name, same key). */
  issuers: readonly Uint8Array[];
  /** The authentication certificate's policy OIDs: the leaf must assert one of them. */
  policies: readonly string[];
}



export function cpsAuthenticationIssues(path: Cert[], anchorCount: number, profile?: CpsAuthenticationProfile): VerifyIssue[] {
  const out: VerifyIssue[] = [];
  const leaf = path[0];
  if (!leaf) return out;
  const subj = nameToString(leaf.subject);
  const add = (code: IssueCode, message: string): void => {
    out.push(issue(code, message, 0, subj));
  };
  if (!profile || profile.issuers.length === 0 || profile.policies.length === 0) {
    add('profile_not_configured', 'Aucun profil de carte CPS configuré (autorités émettrices des cartes et politique du certificat d’authentification) : aucune carte ne peut être acceptée.');
  }
  const ku = leaf.extensions.find((e) => e.oid === OID.keyUsage);
  if (!ku || leaf.keyUsage === undefined) {
    add('key_usage_missing', `Le certificat « ${subj} » n’a pas d’extension keyUsage : ce n’est pas un certificat d’authentification CPS.`);
  } else if ((leaf.keyUsage & KU.digitalSignature) === 0) {
    add('key_usage_not_authentication',
      `Le certificat « ${subj} » n’a pas l’usage digitalSignature : c’est le certificat de signature de la carte, pas celui d’authentification.`);
  } else if ((leaf.keyUsage & (KU.keyCertSign | KU.cRLSign)) !== 0) {
    add('key_usage_not_authentication', `Le certificat « ${subj} » est un certificat d’autorité, pas celui d’une carte.`);
  } else if (leaf.keyUsage !== KU.digitalSignature) {
    add('key_usage_not_authentication',
      `Le certificat « ${subj} » a d’autres usages que digitalSignature : le certificat d’authentification d’une carte CPS n’a que celui-là.`);
  }
  const eku = extendedKeyUsage(leaf);
  if (eku === null || (eku !== undefined && !eku.includes(EKU.clientAuth) && !eku.includes(EKU.any))) {
    add('eku_not_client_auth', `Le certificat « ${subj} » n’est pas destiné à l’authentification d’un client (extendedKeyUsage) : un certificat de serveur n’est pas une carte.`);
  }
  if (leaf.basicConstraints?.ca) add('leaf_is_ca', `Le certificat « ${subj} » est un certificat d’autorité, pas celui d’une carte.`);
  if (profile && profile.policies.length > 0 && !(leaf.policies ?? []).some((p) => profile.policies.includes(p.oid))) {
    add('policy_not_authentication', `Le certificat « ${subj} » n’est pas émis sous la politique du certificat d’authentification des cartes CPS.`);
  }
  if (profile && profile.issuers.length > 0) {
    const known = issuedByOneOf(path, profile.issuers);
    if (!known) {
      add('issuer_not_card_ca', `Le certificat « ${subj} » n’est pas émis par une autorité qui délivre les cartes CPS des professionnels de santé.`);
    }
  }
  out.push(...rgsAlgorithmIssues(path, anchorCount));
  return out;
}

export interface CpsIdentity {
  /**
   * The holder's national identifier (as written: RPPS, or IGC-Santé's prefixed form), from
   * "<id>/<NAME>" in the common name (where the profile puts it); null otherwise. Never from a
   * serialNumber attribute or any other field a certificate outside the profile could fill.
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
  const nationalId = /^\s*(\d{6,20})\s*\//.exec(attribute(c, OID_CN) ?? '')?.[1] ?? null;
  return { nationalId, issuer: nameToString(c.issuer), serial: c.serial };
}
