/**
 * A fictitious IGC-Santé-like hierarchy for the MSSanté tests: root, "organisations" CA, the
 * agency's SERV_S/MIME certificate (signer of the whitelist), and certificates that must not
 * sign it (another structure's SERV_S/MIME, a CPS, a TLS server). Files for xmlsec1 too.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_CPS_POLICIES, DEMO_ORG_POLICIES, genKey, issueCert, issueCrl, issueServSmimeCertificate, type ForgeKey } from '../../src/lib/pki/demo/index.js';
import type { ServSmimeProfile } from '../../src/lib/pki/index.js';
import type { WhitelistEntry } from '../../src/lib/mss/whitelist.js';

export const AGENCY_DN = 'CN=ANS LISTE BLANCHE FICTIVE,OU=FICTIF-0001,O=AGENCE FICTIVE,C=FR';

export interface TrustFixture {
  root: Uint8Array;
  orgCa: Uint8Array;
  crls: Uint8Array[];
  agency: { der: Uint8Array; key: ForgeKey };
  other: { der: Uint8Array; key: ForgeKey };
  cps: { der: Uint8Array; key: ForgeKey };
  revoked: { der: Uint8Array; key: ForgeKey };
  profile: ServSmimeProfile;
  dir: string;
  pemOf(der: Uint8Array): string;
  keyPem(k: ForgeKey): Promise<string>;
}

const pem = (label: string, der: Uint8Array): string =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;

export async function makeTrust(): Promise<TrustFixture> {
  const [rootKey, caKey, agencyKey, otherKey, cpsKey, revokedKey] = await Promise.all([genKey(), genKey(), genKey(), genKey(), genKey(), genKey()]);
  const root = await issueCert({ subject: 'CN=IGC-SANTE FICTIVE RACINE,O=FICTIF,C=FR', key: rootKey, ca: true });
  const orgCa = await issueCert({ subject: 'CN=IGC-SANTE FICTIVE ORGANISATIONS,O=FICTIF,C=FR', key: caKey, issuerCert: root, signer: rootKey, ca: true });
  const agency = await issueServSmimeCertificate({ subject: AGENCY_DN, key: agencyKey, caDer: orgCa, caKey, serial: 11 });
  const other = await issueServSmimeCertificate({ subject: 'CN=AUTRE STRUCTURE,OU=FICTIF-0002,O=AUTRE,C=FR', key: otherKey, caDer: orgCa, caKey, serial: 12 });
  const cps = await issueCert({ subject: 'CN=19999990013/FICTIF,C=FR', key: cpsKey, issuerCert: orgCa, signer: caKey, serial: 13,
    keyUsage: { bits: ['digitalSignature'], critical: true }, policies: [DEMO_CPS_POLICIES.auth] });
  const revoked = await issueServSmimeCertificate({ subject: AGENCY_DN, key: revokedKey, caDer: orgCa, caKey, serial: 14 });
  const crls = [await issueCrl({ issuerCert: root, signer: rootKey }), await issueCrl({ issuerCert: orgCa, signer: caKey, entries: [{ serial: 14 }] })];
  const dir = mkdtempSync(join(tmpdir(), 'mss-trust-'));
  writeFileSync(join(dir, 'root.pem'), pem('CERTIFICATE', root));
  writeFileSync(join(dir, 'ca.pem'), pem('CERTIFICATE', orgCa));
  return {
    root, orgCa, crls, dir,
    agency: { der: agency, key: agencyKey }, other: { der: other, key: otherKey }, cps: { der: cps, key: cpsKey }, revoked: { der: revoked, key: revokedKey },
    profile: { issuers: [orgCa], policies: [DEMO_ORG_POLICIES.servSmime], subject: AGENCY_DN },
    pemOf: (der) => pem('CERTIFICATE', der),
    keyPem: async (k) => pem('PRIVATE KEY', new Uint8Array(await crypto.subtle.exportKey('pkcs8', k.privateKey))),
  };
}

export const ENTRIES: WhitelistEntry[] = [
  { domain: 'ch-fictif.mssante.fr', description: 'Centre hospitalier fictif', operatorCertificateDn: 'CN=OPERATEUR FICTIF,O=FICTIF,C=FR', updated: '2026-11-30' },
  { domain: 'medecin.mssante.fr', description: 'Opérateur national fictif', operatorCertificateDn: 'CN=OPERATEUR NATIONAL FICTIF,O=FICTIF,C=FR', updated: '2026-11-02' },
  { domain: 'patient.mssante.fr', description: 'Messageries citoyennes', operatorCertificateDn: 'CN=OPERATEUR PATIENT FICTIF,O=FICTIF,C=FR', updated: '2026-10-01' },
];
