/**
 * Writes and signs whitelists in OUR format (docs/mss-whitelist.md) as the agency would: the
 * embedded system's fictitious agency (npm start) and the tests. Enveloped signature, rsa-sha256,
 * exclusive c14n, SHA-256, the signer's certificate (and its CA) in KeyInfo. Not the agency's
 * publication format; nothing real is signed with it.
 */
import * as xmldsig from 'xmldsigjs';
import { ALG } from '../../mss/xmldsig.js';
import { WHITELIST_NS, type WhitelistEntry } from '../../mss/whitelist.js';
import { useNodeXml } from './node-xml.js';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function whitelistXml(generatedAt: string, entries: readonly WhitelistEntry[]): string {
  const rows = entries.map((e) =>
    `  <Domaine>\n    <Nom>${esc(e.domain)}</Nom>\n    <Description>${esc(e.description)}</Description>\n` +
    `    <DnCertificatOperateur>${esc(e.operatorCertificateDn)}</DnCertificatOperateur>\n    <DateMiseAJour>${esc(e.updated)}</DateMiseAJour>\n  </Domaine>\n`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ListeBlanche xmlns="${WHITELIST_NS}" genereLe="${esc(generatedAt)}">\n${rows.join('')}</ListeBlanche>`;
}

const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');

/** Signs `xml` (enveloped) with the agency's key; `certs` = signer first, then its CA(s). */
export async function signXml(xml: string, privateKey: CryptoKey, certs: readonly Uint8Array[]): Promise<string> {
  useNodeXml();
  const doc = xmldsig.Parse(xml);
  const signed = new xmldsig.SignedXml();
  signed.XmlSignature.SignedInfo.CanonicalizationMethod.Algorithm = ALG.excC14n;
  await signed.Sign({ name: 'RSASSA-PKCS1-v1_5' }, privateKey, doc, {
    x509: certs.map(b64),
    references: [{ uri: '', hash: 'SHA-256', transforms: ['enveloped', 'exc-c14n'] }],
  });
  const sig = signed.GetXml();
  if (!sig) throw new Error('signXml: no signature produced');
  doc.documentElement.appendChild(doc.importNode(sig, true));
  return `<?xml version="1.0" encoding="UTF-8"?>\n${xmldsig.Stringify(doc.documentElement)}`;
}
