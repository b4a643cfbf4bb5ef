/**
 * The signer of the MSSanté trust space's whitelist (docs/mss-whitelist.md): the national
 * agency's SERV_S/MIME server certificate, on top of RFC 5280 validation. The W3C's XML
 * Signature best practices ask that the key be validated, not merely used: a signature by any
 * other certificate of the same hierarchy — a practitioner's card, another structure's server,
 * a TLS certificate — proves nothing about the list.
 *
 * - issued by one of the CAs that issue structures' server certificates (`issuers`: IGC-Santé's
 *   "organisations" CA, or the fictitious PKI's), not merely chaining to an anchor;
 * - asserting the SERV_S/MIME policy (`policies`);
 * - the agency's own: its subject is `subject` (RFC 4514 string, compared case-insensitively);
 * - keyUsage present, critical, with digitalSignature and no CA usage; an extendedKeyUsage, if
 *   any, that allows S/MIME (emailProtection); an end entity;
 * - RGS algorithms over the whole path (RSA ≥ 2048 bits, no SHA-1 signature).
 * Without a configured profile every certificate is refused.
 */
import { type Cert, KU, OID } from './cert.js';
import { EKU, extendedKeyUsage, issuedByOneOf } from './profile-common.js';
import { type IssueCode, issue } from './issues.js';
import { nameToString } from './name.js';
import { rgsAlgorithmIssues } from './profile-sesam.js';
import type { VerifyIssue } from './types.js';


export interface ServSmimeProfile {
  /** The CAs (DER) that issue structures' server certificates: the leaf's issuer must be one of them. */
  issuers: readonly Uint8Array[];
  /** The SERV_S/MIME policy OIDs: the leaf must assert one of them. */
  policies: readonly string[];
  /** The expected holder (the agency), RFC 4514. */
  subject: string;
}



const normalDn = (s: string): string => s.replace(/\s*([,=])\s*/g, '$1').trim().toLowerCase();

export function servSmimeIssues(path: Cert[], anchorCount: number, profile?: ServSmimeProfile): VerifyIssue[] {
  const out: VerifyIssue[] = [];
  const leaf = path[0];
  if (!leaf) return out;
  const subj = nameToString(leaf.subject);
  const add = (code: IssueCode, message: string): void => {
    out.push(issue(code, message, 0, subj));
  };
  if (!profile || profile.issuers.length === 0 || profile.policies.length === 0 || profile.subject.trim() === '') {
    add('profile_not_configured', 'Aucun profil de signataire configuré (autorité, politique SERV_S/MIME, titulaire) : aucune signature ne peut être acceptée.');
  }
  const ku = leaf.extensions.find((e) => e.oid === OID.keyUsage);
  if (!ku || leaf.keyUsage === undefined) {
    add('key_usage_missing', `Le certificat « ${subj} » n’a pas d’extension keyUsage.`);
  } else {
    if (!ku.critical) add('key_usage_not_critical', `L’extension keyUsage du certificat « ${subj} » n’est pas critique.`);
    if ((leaf.keyUsage & KU.digitalSignature) === 0 || (leaf.keyUsage & (KU.keyCertSign | KU.cRLSign)) !== 0) {
      add('key_usage_insufficient', `Le certificat « ${subj} » n’a pas l’usage de signature d’un certificat serveur S/MIME.`);
    }
  }
  const eku = extendedKeyUsage(leaf);
  if (eku === null || (eku !== undefined && !eku.includes(EKU.emailProtection) && !eku.includes(EKU.any))) {
    add('eku_not_smime', `Le certificat « ${subj} » n’est pas destiné à la signature de messages (extendedKeyUsage) : ce n’est pas un certificat SERV_S/MIME.`);
  }
  if (leaf.basicConstraints?.ca) add('leaf_is_ca', `Le certificat « ${subj} » est un certificat d’autorité, pas celui d’un serveur.`);
  if (profile && profile.policies.length > 0 && !(leaf.policies ?? []).some((p) => profile.policies.includes(p.oid))) {
    add('policy_not_serv_smime', `Le certificat « ${subj} » n’est pas émis sous la politique des certificats SERV_S/MIME.`);
  }
  if (profile && profile.subject.trim() !== '' && normalDn(subj) !== normalDn(profile.subject)) {
    add('signer_not_expected', `Le certificat « ${subj} » n’est pas celui de « ${profile.subject} ».`);
  }
  if (profile && profile.issuers.length > 0) {
    const known = issuedByOneOf(path, profile.issuers);
    if (!known) add('issuer_not_org_ca', `Le certificat « ${subj} » n’est pas émis par une autorité qui délivre les certificats des structures.`);
  }
  out.push(...rgsAlgorithmIssues(path, anchorCount));
  return out;
}
