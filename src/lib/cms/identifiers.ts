/**
 * RecipientIdentifier / SignerIdentifier (RFC 5652 §5.3, §6.2.1): issuerAndSerialNumber or
 * [0] subjectKeyIdentifier, and matching them against certificates.
 */
import type { Cert } from '../pki/cert.js';
import { bytesEqual, fromHex, integerBig } from '../pki/der.js';
import { parseNameDer } from '../pki/name.js';
import { TAG, type Node, childrenOf, joinSegments, octetSegments, readBigInt, whole } from './ber.js';
import { malformed } from './errors.js';

export type CertIdentifier =
  | { kind: 'issuer-and-serial'; issuer: Uint8Array; serial: bigint }
  | { kind: 'subject-key-identifier'; ski: Uint8Array };

/** Reads either form; `what` names the field in error messages. */
export function readCertIdentifier(buf: Uint8Array, n: Node | undefined, what: string): CertIdentifier {
  if (!n) throw malformed(`${what} manquant`);
  if (n.tag === TAG.SEQUENCE) {
    const f = childrenOf(buf, n, TAG.SEQUENCE, what);
    if (f.length !== 2 || f[0]!.tag !== TAG.SEQUENCE) throw malformed(`${what} : issuerAndSerialNumber mal formé`);
    return { kind: 'issuer-and-serial', issuer: whole(buf, f[0]!), serial: readBigInt(buf, f[1], `${what} : numéro de série`) };
  }
  if (n.tag === 0x80 || n.tag === 0xa0) {
    const ski = joinSegments(octetSegments(buf, n, 0x80, what));
    if (ski.length === 0) throw malformed(`${what} : identifiant de clé vide`);
    return { kind: 'subject-key-identifier', ski };
  }
  throw malformed(`${what} : forme inconnue`);
}

function sameIssuer(a: Uint8Array, cert: Cert): boolean {
  if (bytesEqual(a, cert.issuer.der)) return true;
  // Same name, different string encoding (RFC 5280 §7.1 comparison, as OpenSSL does).
  try {
    return parseNameDer(a).key === cert.issuer.key;
  } catch {
    return false;
  }
}

export function identifies(id: CertIdentifier, cert: Cert): boolean {
  if (id.kind === 'subject-key-identifier') return cert.subjectKeyId !== undefined && bytesEqual(cert.subjectKeyId, id.ski);
  let serial: bigint;
  try {
    serial = integerBig(fromHex(cert.serial));
  } catch {
    return false;
  }
  return serial === id.serial && sameIssuer(id.issuer, cert);
}
