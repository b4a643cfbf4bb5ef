/**
 * xmlsec1 (Aleksey Sanin's XML Security Library, Debian's package): the reference
 * implementation our signed lists are checked against, both ways — it signs templates in the
 * published shape (XAdES SignedProperties, XPath Filter 2.0), and it verifies what we sign.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { TrustFixture } from './fixtures/trust.js';
import type { ForgeKey } from '../../src/lib/pki/demo/index.js';

export interface TemplateOptions {
  /** 'filter2' (the published shape) or 'enveloped'. */
  transform?: 'filter2' | 'enveloped';
  xades?: boolean;
  signatureMethod?: string;
  digestMethod?: string;
  c14n?: string;
  /** The certificate XAdES names (default: the signer's). */
  xadesCert?: Uint8Array;
}

const DS = 'http://www.w3.org/2000/09/xmldsig#';

export function template(body: string, signerDer: Uint8Array, o: TemplateOptions = {}): string {
  const c14n = o.c14n ?? 'http://www.w3.org/2001/10/xml-exc-c14n#';
  const sm = o.signatureMethod ?? 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
  const dm = o.digestMethod ?? 'http://www.w3.org/2001/04/xmlenc#sha256';
  const transform = (o.transform ?? 'filter2') === 'filter2'
    ? '<ds:Transform Algorithm="http://www.w3.org/2002/06/xmldsig-filter2"><dsig-xpath:XPath xmlns:dsig-xpath="http://www.w3.org/2002/06/xmldsig-filter2" Filter="subtract">/descendant::ds:Signature</dsig-xpath:XPath></ds:Transform>'
    : '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>';
  const certDigest = createHash('sha256').update(o.xadesCert ?? signerDer).digest('base64');
  const xadesRef = o.xades
    ? `<ds:Reference URI="#xades-props" Type="http://uri.etsi.org/01903#SignedProperties"><ds:Transforms><ds:Transform Algorithm="${c14n}"/></ds:Transforms><ds:DigestMethod Algorithm="${dm}"/><ds:DigestValue/></ds:Reference>`
    : '';
  const xadesObj = o.xades
    ? `<ds:Object><xades:QualifyingProperties xmlns:xades="http://uri.etsi.org/01903/v1.3.2#" Target="#sig"><xades:SignedProperties Id="xades-props"><xades:SignedSignatureProperties><xades:SigningTime>2026-12-05T02:00:00Z</xades:SigningTime><xades:SigningCertificateV2><xades:Cert><xades:CertDigest><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>${certDigest}</ds:DigestValue></xades:CertDigest></xades:Cert></xades:SigningCertificateV2></xades:SignedSignatureProperties></xades:SignedProperties></xades:QualifyingProperties></ds:Object>`
    : '';
  const sig = `<ds:Signature xmlns:ds="${DS}" Id="sig"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="${c14n}"/><ds:SignatureMethod Algorithm="${sm}"/>` +
    `<ds:Reference URI=""><ds:Transforms>${transform}<ds:Transform Algorithm="${c14n}"/></ds:Transforms><ds:DigestMethod Algorithm="${dm}"/><ds:DigestValue/></ds:Reference>${xadesRef}</ds:SignedInfo>` +
    `<ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo>${xadesObj}</ds:Signature>`;
  return body.replace(/<\/ListeBlanche>\s*$/, `${sig}</ListeBlanche>`);
}

/** Signs a template with xmlsec1: key, signer certificate and CA go into KeyInfo. */
export async function xmlsecSign(t: TrustFixture, tmpl: string, key: ForgeKey, certs: readonly Uint8Array[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'xmlsec-'));
  writeFileSync(join(dir, 'key.pem'), await t.keyPem(key));
  const certFiles = certs.map((c, i) => {
    const f = join(dir, `c${i}.pem`);
    writeFileSync(f, t.pemOf(c));
    return f;
  });
  writeFileSync(join(dir, 'tmpl.xml'), tmpl);
  execFileSync('xmlsec1', ['--sign', '--privkey-pem', [join(dir, 'key.pem'), ...certFiles].join(','),
    '--id-attr:Id', 'http://uri.etsi.org/01903/v1.3.2#:SignedProperties', '--output', join(dir, 'out.xml'), join(dir, 'tmpl.xml')],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  return readFileSync(join(dir, 'out.xml'), 'utf8');
}

/** Verifies with xmlsec1 against the fixture's root; true when xmlsec1 says OK. */
export function xmlsecVerify(t: TrustFixture, xml: string): { ok: boolean; output: string } {
  const f = join(t.dir, `v-${Date.now()}-${Math.random().toString(16).slice(2)}.xml`);
  writeFileSync(f, xml);
  const r = spawnSync('xmlsec1', ['--verify', '--trusted-pem', join(t.dir, 'root.pem'), '--untrusted-pem', join(t.dir, 'ca.pem'),
    '--id-attr:Id', 'http://uri.etsi.org/01903/v1.3.2#:SignedProperties', f], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
