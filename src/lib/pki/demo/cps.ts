/**
 * The fictitious CPS's two certificates, issued alike wherever a simulated card exists (the
 * bridge's virtual CPS, the embedded relay's demo credential): the IGC-Santé convention
 * "<national id>/<NAME>" in the common name, RSA 2048, critical keyUsage
 * - `auth`: digitalSignature only — the one the relay's CPS-authentication profile accepts;
 * - `sign`: nonRepudiation only — for signing invoices, refused for logging in.
 */
import { type ForgeKey, issueCert } from './issue.js';

export type CpsUsage = 'auth' | 'sign';

export interface CpsCertificateSpec {
  /** The holder's national identifier (fictitious RPPS), first in the common name. */
  rpps: string;
  /** Name after the "/" of the common name, e.g. "FICTIF-TEST CAMILLE". */
  name: string;
  /** Further RDNs after the CN, RFC 4514 order (e.g. "SN=FICTIF-TEST,GIVENNAME=CAMILLE,O=...,C=FR"). */
  rest?: string;
  usage: CpsUsage;
  /** The card key (only its public half is used). */
  key: ForgeKey;
  caDer: Uint8Array;
  caKey: ForgeKey;
  notBefore?: Date;
  notAfter?: Date;
}

export function cpsSubject(rpps: string, name: string, rest = 'C=FR'): string {
  return `CN=${rpps}/${name},${rest}`;
}

export function issueCpsCertificate(s: CpsCertificateSpec): Promise<Uint8Array> {
  return issueCert({
    subject: cpsSubject(s.rpps, s.name, s.rest),
    key: s.key,
    issuerCert: s.caDer,
    signer: s.caKey,
    notBefore: s.notBefore,
    notAfter: s.notAfter,
    keyUsage: { bits: s.usage === 'auth' ? ['digitalSignature'] : ['nonRepudiation'], critical: true },
  });
}
