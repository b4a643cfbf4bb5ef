/**
 * A CPS authentication credential for the administrator's reset in the store tests: an RSA key
 * and a certificate with keyUsage digitalSignature (what the trust service checks), base64 for
 * page.evaluate.
 */
import { genKey, issueCert } from '../pki/fixtures/forge.js';

export interface AdminCard {
  pkcs8: string;
  cert: string;
  /** The certificate's DER, for assertions. */
  der: Uint8Array;
}

export async function adminCard(keyUsage: Array<'digitalSignature' | 'nonRepudiation'> = ['digitalSignature']): Promise<AdminCard> {
  const key = await genKey();
  const der = await issueCert({ subject: 'CN=899700000001/FICTIF-TEST ADMIN,C=FR', key, keyUsage: { bits: keyUsage, critical: true } });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', key.privateKey));
  return { pkcs8: Buffer.from(pkcs8).toString('base64'), cert: Buffer.from(der).toString('base64'), der };
}
