/**
 * The SESAM-Vitale attachment-encryption profile (docs/domain/transmission.md §2–3), on top
 * of RFC 5280 validation: keyUsage present, critical, with digitalSignature,
 * keyEncipherment and nonRepudiation; subjectAltName rfc822Name equal to the expected
 * mailbox; RSA ≥ 2048 bits (the lot's AES key is transported with RSA); RGS algorithms only
 * (docs/domain/security.md G5: no SHA-1 signatures, no key under 2048 bits in the path).
 * Revocation rules (CRL mandatory, stale CRL used with a warning) are engine options.
 */
import { type Cert, KU, OID } from './cert.js';
import { type IssueCode, issue } from './issues.js';
import { nameToString } from './name.js';
import { KEY_OID, keyBits, signatureScheme } from './signature.js';
import type { VerifyIssue } from './types.js';

export const MIN_RSA_BITS = 2048;
const REQUIRED_KU = KU.digitalSignature | KU.keyEncipherment | KU.nonRepudiation;

/** Mailboxes compare case-insensitively: the insurers' addresses are published in lower case. */
function sameMailbox(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

export function sesamAttachmentIssues(path: Cert[], anchorCount: number, email: string | undefined): VerifyIssue[] {
  const out: VerifyIssue[] = [];
  const leaf = path[0];
  if (!leaf) return out;
  const subj = nameToString(leaf.subject);
  const add = (code: IssueCode, message: string, i = 0): void => {
    out.push(issue(code, message, i, nameToString(path[i]!.subject)));
  };

  const ku = leaf.extensions.find((e) => e.oid === OID.keyUsage);
  if (!ku || leaf.keyUsage === undefined) {
    add('key_usage_missing', `Le certificat « ${subj} » n’a pas d’extension keyUsage.`);
  } else {
    if (!ku.critical) add('key_usage_not_critical', `L’extension keyUsage du certificat « ${subj} » n’est pas critique.`);
    if ((leaf.keyUsage & REQUIRED_KU) !== REQUIRED_KU) {
      add(
        'key_usage_insufficient',
        `L’usage de clé du certificat « ${subj} » doit comprendre digitalSignature, keyEncipherment et nonRepudiation.`,
      );
    }
  }

  const mailboxes = (leaf.subjectAltNames ?? []).flatMap((g) => (g.kind === 'rfc822' ? [g.value] : []));
  if (!email) {
    add('email_missing', 'Aucune adresse de messagerie attendue n’a été indiquée pour ce profil.');
  } else if (mailboxes.length === 0) {
    add('email_missing', `Le certificat « ${subj} » ne porte aucune adresse de messagerie (subjectAltName rfc822Name).`);
  } else if (!mailboxes.some((m) => sameMailbox(m, email))) {
    add('email_mismatch', `Le certificat « ${subj} » est celui de ${mailboxes.join(', ')}, pas de ${email}.`);
  }

  if (leaf.spkiAlgorithm.oid !== KEY_OID.rsa) {
    add('key_type_not_rsa', `La clé du certificat « ${subj} » n’est pas une clé RSA : le transport de clé l’exige.`);
  }
  out.push(...rgsAlgorithmIssues(path, anchorCount));
  return out;
}

/**
 * RGS algorithms (docs/domain/security.md G5) over a validated path, leaf first: RSA keys of at least 2048
 * bits, no DSA, no SHA-1 signature on any certificate but the trust anchor (whose own
 * signature nobody relies on). Shared by the attachment and CPS-authentication profiles.
 */
export function rgsAlgorithmIssues(path: Cert[], anchorCount: number): VerifyIssue[] {
  const out: VerifyIssue[] = [];
  const add = (code: IssueCode, message: string, i: number): void => {
    out.push(issue(code, message, i, nameToString(path[i]!.subject)));
  };
  // Key sizes and signature algorithms of every certificate the path relies on.
  const checked = path.length - Math.min(anchorCount, 1);
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    const isRsa = c.spkiAlgorithm.oid === KEY_OID.rsa || c.spkiAlgorithm.oid === KEY_OID.rsaPss;
    const bits = keyBits({ spki: c.spki, algorithm: c.spkiAlgorithm, key: c.publicKey });
    if (isRsa && bits < MIN_RSA_BITS) {
      add('weak_key', `La clé RSA du certificat « ${nameToString(c.subject)} » fait ${bits} bits ; 2048 au minimum sont exigés.`, i);
    } else if (c.spkiAlgorithm.oid === KEY_OID.dsa) {
      add('weak_key', `La clé DSA du certificat « ${nameToString(c.subject)} » n’est pas admise par le RGS.`, i);
    }
    if (i < checked) {
      let weak = false;
      try {
        weak = signatureScheme(c.signatureAlgorithm).weak;
      } catch {
        weak = true;
      }
      if (weak) {
        add('weak_signature_algorithm', `Le certificat « ${nameToString(c.subject)} » est signé avec un algorithme obsolète (SHA-1).`, i);
      }
    }
  }
  return out;
}
