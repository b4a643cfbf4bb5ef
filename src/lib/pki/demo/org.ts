/**
 * The fictitious PKI's structure ("organisations") certificates, as IGC-Santé issues them to
 * structures: SERV_S/MIME (a server's S/MIME signature, e.g. the agency that signs the MSSanté
 * whitelist) and ORG AUTH_CLI (a structure's TLS client, for application mailboxes). Each
 * asserts its policy (DEMO_ORG_POLICIES): the profiles that accept them require it.
 */
import { type ForgeKey, issueCert } from './issue.js';

/** Not IGC-Santé's OIDs: arcs of our own under the same 2.25 UUID as DEMO_CPS_POLICIES. */
export const DEMO_ORG_POLICIES = {
  servSmime: '2.25.148276281164427754648465140806896172893.2.1',
  orgAuthCli: '2.25.148276281164427754648465140806896172893.2.2',
} as const;

/** extendedKeyUsage value (SEQUENCE OF OID) for the purposes given, dotted. */
export function ekuValue(oids: readonly string[]): Uint8Array {
  const body: number[] = [];
  for (const oid of oids) {
    const arcs = oid.split('.').map(Number);
    const enc: number[] = [40 * arcs[0]! + arcs[1]!];
    for (const a of arcs.slice(2)) {
      const bytes: number[] = [];
      let v = a;
      do {
        bytes.unshift(v & 0x7f);
        v = Math.floor(v / 128);
      } while (v > 0);
      for (let i = 0; i < bytes.length - 1; i++) bytes[i]! |= 0x80;
      enc.push(...bytes);
    }
    if (enc.length > 127) throw new Error('ekuValue: OID too long');
    body.push(0x06, enc.length, ...enc);
  }
  if (body.length > 127) throw new Error('ekuValue: too many purposes');
  return Uint8Array.from([0x30, body.length, ...body]);
}

export interface OrgCertificateSpec {
  subject: string;
  key: ForgeKey;
  caDer: Uint8Array;
  caKey: ForgeKey;
  emails?: string[];
  notBefore?: Date;
  notAfter?: Date;
  serial?: number;
}

/** SERV_S/MIME: digitalSignature (critical), emailProtection, the SERV_S/MIME policy. */
export function issueServSmimeCertificate(s: OrgCertificateSpec): Promise<Uint8Array> {
  return issueCert({
    subject: s.subject, key: s.key, issuerCert: s.caDer, signer: s.caKey, notBefore: s.notBefore, notAfter: s.notAfter, serial: s.serial,
    emails: s.emails,
    keyUsage: { bits: ['digitalSignature'], critical: true },
    policies: [DEMO_ORG_POLICIES.servSmime],
    extensions: [{ oid: '2.5.29.37', value: ekuValue(['1.3.6.1.5.5.7.3.4']) }],
  });
}

/** ORG AUTH_CLI: digitalSignature (critical), clientAuth, the ORG AUTH_CLI policy; the structure's id in the OU. */
export function issueOrgAuthClientCertificate(s: OrgCertificateSpec): Promise<Uint8Array> {
  return issueCert({
    subject: s.subject, key: s.key, issuerCert: s.caDer, signer: s.caKey, notBefore: s.notBefore, notAfter: s.notAfter, serial: s.serial,
    keyUsage: { bits: ['digitalSignature'], critical: true },
    policies: [DEMO_ORG_POLICIES.orgAuthCli],
    extensions: [{ oid: '2.5.29.37', value: ekuValue(['1.3.6.1.5.5.7.3.2']) }],
  });
}
