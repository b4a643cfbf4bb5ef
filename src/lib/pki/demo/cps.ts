/**
 * The fictitious CPS's two certificates, issued alike wherever a simulated card exists (the
 * bridge's virtual CPS, the embedded relay's demo credential): the IGC-Santé convention
 * "<national id>/<NAME>" in the common name, RSA 2048, critical keyUsage
 * - `auth`: digitalSignature only — the one the relay's CPS-authentication profile accepts;
 * - `sign`: nonRepudiation only — for signing invoices, refused for logging in.
 * Each asserts its policy (DEMO_CPS_POLICIES), as IGC-Santé's certificates assert theirs: the
 * relay's CPS-authentication profile requires the authentication one.
 */
import { type ForgeKey, issueCert } from './issue.js';

export type CpsUsage = 'auth' | 'sign';

/**
 * The fictitious PKI's certificate policies for the card's two certificates. Not IGC-Santé's
 * OIDs: arcs of our own under 2.25 (a UUID, ITU-T X.667), which nobody else assigns.
 */
export const DEMO_CPS_POLICIES: Readonly<Record<CpsUsage, string>> = {
  auth: '2.25.148276281164427754648465140806896172893.1.1',
  sign: '2.25.148276281164427754648465140806896172893.1.2',
};

/**
 * The same for a CPE (a structure's staff card): other policies, so that nothing taking a
 * practitioner's card (the relay's login, an invoice signature's check) takes a CPE's.
 */
export const DEMO_CPE_POLICIES: Readonly<Record<CpsUsage, string>> = {
  auth: '2.25.148276281164427754648465140806896172893.1.3',
  sign: '2.25.148276281164427754648465140806896172893.1.4',
};

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
    policies: [DEMO_CPS_POLICIES[s.usage]],
  });
}
