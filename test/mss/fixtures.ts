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
import { INS_OID, LOINC, type XdmInput } from '../../src/lib/mss/xdm.js';

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

const enc = new TextEncoder();
const cda = (title: string, ins: string): Uint8Array =>
  enc.encode(`<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><title>${title}</title><recordTarget><patientRole><id extension="${ins}" root="1.2.250.1.213.1.4.10"/></patientRole></recordTarget></ClinicalDocument>`);

/** A fictitious patient (test INS authority) and two CDA documents about them. */
export const PATIENT = { ins: '279035121518989', oid: INS_OID.nirTest, qualified: true };
export function xdmInput(over: Partial<XdmInput> = {}): XdmInput {
  return {
    patient: PATIENT,
    documents: [
      { title: 'Compte rendu de consultation', type: { code: '11488-4', scheme: LOINC, display: 'Compte rendu de consultation' },
        format: { code: 'urn:ihe:iti:xds-sd:pdf:2008', scheme: '1.3.6.1.4.1.19376.1.2.3', display: 'PDF structuré' }, data: cda('CR', PATIENT.ins), creationTime: new Date('2026-12-05T10:15:00Z') },
      { title: 'Lettre de liaison', type: { code: '34133-9', scheme: LOINC, display: 'Synthèse' },
        format: { code: 'urn:ihe:iti:xds-sd:text:2008', scheme: '1.3.6.1.4.1.19376.1.2.3', display: 'Texte structuré' }, data: cda('Lettre', PATIENT.ins), creationTime: new Date('2026-12-05T10:20:00Z') },
    ],
    sourceOid: '1.2.250.1.999.1', uniqueSuffix: '20261205101500', submissionTime: new Date('2026-12-05T10:30:00Z'), software: 'Teletrans/Teletrans/0.1.0',
    ...over,
  };
}

