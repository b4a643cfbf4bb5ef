/**
 * A CPS signature certificate of a fictitious PKI for billing tests: a root, the practitioner's
 * signature key and certificate (nonRepudiation, RPPS in the subject as a CPS carries it), and
 * a test-key signer over it. Real cards are in the bridge tests (pcscd + vpcd).
 */
import { testKeySigner, type InvoiceSigner } from '../../../src/lib/billing/index.js';
import { genKey, issueCert, issueCpsCertificate, type ForgeKey } from '../../../src/lib/pki/demo/index.js';

export interface CpsPki {
  root: Uint8Array;
  cert: Uint8Array;
  key: ForgeKey;
  signer: InvoiceSigner;
}

export async function cpsPki(rpps: string): Promise<CpsPki> {
  const caKey = await genKey();
  const root = await issueCert({ subject: 'CN=AC RACINE FICTIVE TEST,O=TELETRANS,C=FR', key: caKey, ca: true, notBefore: new Date('2024-01-01'), notAfter: new Date('2030-01-01') });
  const key = await genKey();
  const cert = await issueCpsCertificate({ rpps, name: 'FICTIF-TEST CLAIRE', usage: 'sign', key, caDer: root, caKey, notBefore: new Date('2024-06-01'), notAfter: new Date('2027-06-01') });
  return { root, cert, key, signer: testKeySigner(key.privateKey, cert) };
}
