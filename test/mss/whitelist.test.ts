/**
 * The MSSanté trust space (src/lib/mss/whitelist.ts, xmldsig.ts): the agency's signed daily
 * whitelist, checked against xmlsec1 both ways — lists xmlsec1 signs in the published shape
 * (XAdES, XPath Filter 2.0) are read; what our demo agency signs, xmlsec1 verifies — and
 * every way of forging, replaying or mis-signing one is refused with its reason, keeping the
 * last valid copy.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MssError } from '../../src/lib/mss/errors.js';
import { genKey, issueCert } from '../../src/lib/pki/demo/index.js';
import { assertInTrustSpace, domainRefusals, isStale, readWhitelist, updateWhitelist, type Whitelist } from '../../src/lib/mss/whitelist.js';
import type { SignerTrust } from '../../src/lib/mss/xmldsig.js';
import { useNodeXml } from '../../src/lib/server/mss/node-xml.js';
import { signXml, whitelistXml } from '../../src/lib/server/mss/whitelist-signer.js';
import { AGENCY_DN, ENTRIES, makeTrust, type TrustFixture } from './fixtures/trust.js';
import { template, xmlsecSign, xmlsecVerify } from './xmlsec.js';

let t: TrustFixture;
let trust: SignerTrust;
const BODY = whitelistXml('2026-12-05T02:00:00Z', ENTRIES);

beforeAll(async () => {
  useNodeXml();
  t = await makeTrust();
  trust = { anchors: [t.root], intermediates: [t.orgCa], crls: t.crls, servSmime: t.profile };
}, 60_000);

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (e) {
    if (e instanceof MssError) return e.code;
    throw e;
  }
}

const agencySign = (xml: string, key = t.agency.key, certs = [t.agency.der, t.orgCa]): Promise<string> => signXml(xml, key.privateKey, certs);

describe('reading a signed whitelist', () => {
  it('reads what our demo agency signs, and xmlsec1 verifies the same file', async () => {
    const signed = await agencySign(BODY);
    const list = await readWhitelist(signed, trust);
    expect([...list.domains.keys()]).toEqual(ENTRIES.map((e) => e.domain));
    expect(list.domains.get('ch-fictif.mssante.fr')).toEqual(ENTRIES[0]);
    expect(list.generatedAt).toBe('2026-12-05T02:00:00Z');
    expect(list.signer).toBe(AGENCY_DN);
    const x = xmlsecVerify(t, signed);
    expect(x.output).toMatch(/OK/);
    expect(x.ok).toBe(true);
  });

  it('reads a list xmlsec1 signed in the published shape: XAdES SignedProperties and an XPath Filter 2.0 transform', async () => {
    const signed = await xmlsecSign(t, template(BODY, t.agency.der, { xades: true }), t.agency.key, [t.agency.der, t.orgCa]);
    expect(signed).toContain('xmldsig-filter2');
    expect(signed).toContain('SignedProperties');
    const list = await readWhitelist(signed, trust);
    expect(list.domains.size).toBe(3);
    expect(xmlsecVerify(t, signed).ok).toBe(true);
  });

  it('reads a list xmlsec1 signed with the plain enveloped transform', async () => {
    const signed = await xmlsecSign(t, template(BODY, t.agency.der, { transform: 'enveloped' }), t.agency.key, [t.agency.der, t.orgCa]);
    expect((await readWhitelist(signed, trust)).domains.size).toBe(3);
  });
});

describe('a forged, mis-signed or hostile list is refused with its reason', () => {
  it('a domain added, removed or changed after signing', async () => {
    const signed = await agencySign(BODY);
    expect(await code(readWhitelist(signed.replace('ch-fictif.mssante.fr', 'ch-pirate.mssante.fr'), trust))).toBe('signature_invalid');
    const added = signed.replace('<Domaine>', '<Domaine><Nom>pirate.fr</Nom><DnCertificatOperateur>CN=X</DnCertificatOperateur><DateMiseAJour>2026-12-01</DateMiseAJour></Domaine>\n  <Domaine>');
    expect(await code(readWhitelist(added, trust))).toBe('signature_invalid');
    const removed = signed.replace(/<Domaine>[\s\S]*?<\/Domaine>/, '');
    expect(await code(readWhitelist(removed, trust))).toBe('signature_invalid');
    const xs = await xmlsecSign(t, template(BODY, t.agency.der, { xades: true }), t.agency.key, [t.agency.der, t.orgCa]);
    expect(await code(readWhitelist(xs.replace('medecin.mssante.fr', 'medecin.pirate.fr'), trust))).toBe('signature_invalid');
    expect(await code(readWhitelist(xs.replace('2026-12-05T02:00:00Z</xades:SigningTime>', '2027-12-05T02:00:00Z</xades:SigningTime>'), trust))).toBe('signature_invalid');
  });

  it('signed by another structure’s SERV_S/MIME, by a card, or by a revoked agency certificate: the key is validated, not merely used', async () => {
    const other = await code(readWhitelist(await agencySign(BODY, t.other.key, [t.other.der, t.orgCa]), trust));
    expect(other).toBe('signer_not_trusted');
    const e = await readWhitelist(await agencySign(BODY, t.other.key, [t.other.der, t.orgCa]), trust).catch((x: MssError) => x);
    expect((e as MssError).details.map((d) => d.code)).toEqual(['signer_not_expected']);
    const cps = await readWhitelist(await agencySign(BODY, t.cps.key, [t.cps.der, t.orgCa]), trust).catch((e: MssError) => e);
    expect(cps).toBeInstanceOf(MssError);
    expect((cps as MssError).details.map((d) => d.code)).toEqual(['policy_not_serv_smime', 'signer_not_expected']);
    const revoked = await readWhitelist(await agencySign(BODY, t.revoked.key, [t.revoked.der, t.orgCa]), trust).catch((e: MssError) => e);
    expect((revoked as MssError).code).toBe('signer_not_trusted');
    expect((revoked as MssError).details.map((d) => d.code)).toContain('cert_revoked');
  });

  it('the agency’s certificate in KeyInfo but a signature by another key', async () => {
    const forged = await agencySign(BODY, t.other.key, [t.agency.der, t.orgCa]);
    expect(await code(readWhitelist(forged, trust))).toBe('signature_invalid');
  });

  it('a signer whose chain does not reach the configured anchors', async () => {
    const key = await genKey();
    const elsewhere = await issueCert({ subject: 'CN=AUTRE RACINE,O=FICTIF,C=FR', key, ca: true });
    expect(await code(readWhitelist(await agencySign(BODY), { ...trust, anchors: [elsewhere] }))).toBe('signer_not_trusted');
  });

  it('XAdES naming another certificate than the signer’s', async () => {
    const signed = await xmlsecSign(t, template(BODY, t.agency.der, { xades: true, xadesCert: t.other.der }), t.agency.key, [t.agency.der, t.orgCa]);
    expect(await code(readWhitelist(signed, trust))).toBe('signing_certificate_mismatch');
  });

  it('algorithms outside the trust space: SHA-1, inclusive c14n', async () => {
    const sha1 = await xmlsecSign(t, template(BODY, t.agency.der, { signatureMethod: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1' }), t.agency.key, [t.agency.der, t.orgCa]);
    expect(await code(readWhitelist(sha1, trust))).toBe('signature_algorithm_refused');
    const d1 = await xmlsecSign(t, template(BODY, t.agency.der, { digestMethod: 'http://www.w3.org/2000/09/xmldsig#sha1' }), t.agency.key, [t.agency.der, t.orgCa]);
    expect(await code(readWhitelist(d1, trust))).toBe('signature_algorithm_refused');
    const c14n = await xmlsecSign(t, template(BODY, t.agency.der, { c14n: 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315' }), t.agency.key, [t.agency.der, t.orgCa]);
    expect(await code(readWhitelist(c14n, trust))).toBe('signature_algorithm_refused');
  });

  it('signature wrapping: a second signature, a signature not enveloping the document, a reference to part of it', async () => {
    const signed = await agencySign(BODY);
    const sig = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(signed)![0];
    expect(await code(readWhitelist(signed.replace('</ListeBlanche>', `${sig}</ListeBlanche>`), trust))).toBe('signature_multiple');
    const moved = signed.replace(sig, '').replace('</Domaine>', `${sig}</Domaine>`);
    expect(await code(readWhitelist(moved, trust))).toBe('signature_misplaced');
    // The signature moved into a wrapper that claims to be the document: the list outside is unsigned.
    const wrapped = `<?xml version="1.0"?><ListeBlanche xmlns="urn:teletrans:mssante:liste-blanche:1" genereLe="2026-12-06T02:00:00Z"><Domaine><Nom>pirate.fr</Nom><DnCertificatOperateur>CN=X</DnCertificatOperateur><DateMiseAJour>2026-12-01</DateMiseAJour></Domaine><Enveloppe>${signed.replace(/^<\?xml[^>]*\?>\s*/, '')}</Enveloppe></ListeBlanche>`;
    expect(await code(readWhitelist(wrapped, trust))).toBe('signature_misplaced');
    const partial = signed.replace('<Domaine>', '<Domaine Id="d1">').replace('<ds:Reference URI="">', '<ds:Reference URI="#d1">');
    expect(await code(readWhitelist(partial, trust))).toBe('signature_reference_refused');
    expect(await code(readWhitelist(signed.replace('<ds:Reference URI="">', '<ds:Reference URI="http://pirate.fr/liste.xml">'), trust))).toBe('signature_reference_refused');
  });

  it('an XPath Filter 2.0 other than "subtract the signature" (it could cut domains out of what is signed)', async () => {
    const tmpl = template(BODY, t.agency.der).replace('Filter="subtract">/descendant::ds:Signature', 'Filter="subtract">/descendant::*[local-name()=\'Domaine\'][1] | /descendant::ds:Signature');
    const signed = await xmlsecSign(t, tmpl, t.agency.key, [t.agency.der, t.orgCa]);
    expect(await code(readWhitelist(signed, trust))).toBe('signature_transform_refused');
    const intersect = await xmlsecSign(t, template(BODY, t.agency.der).replace('Filter="subtract"', 'Filter="intersect"'), t.agency.key, [t.agency.der, t.orgCa]);
    expect(await code(readWhitelist(intersect, trust))).toBe('signature_transform_refused');
  });

  it('no signature, no certificate, a DTD, malformed XML, a wrong root', async () => {
    expect(await code(readWhitelist(BODY, trust))).toBe('signature_missing');
    const signed = await agencySign(BODY);
    expect(await code(readWhitelist(signed.replace(/<ds:KeyInfo>[\s\S]*<\/ds:KeyInfo>/, ''), trust))).toBe('signer_certificate_missing');
    const bomb = `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><ListeBlanche>&b;</ListeBlanche>`;
    expect(await code(readWhitelist(bomb, trust))).toBe('xml_dtd_refused');
    expect(await code(readWhitelist('<ListeBlanche><Domaine></ListeBlanche>', trust))).toBe('xml_malformed');
    expect(await code(readWhitelist('x'.repeat(9 * 1024 * 1024), trust))).toBe('xml_too_large');
    const other = await agencySign(BODY.replaceAll('ListeBlanche', 'AutreListe'));
    expect(await code(readWhitelist(other, trust))).toBe('whitelist_malformed');
  });

  it('without a configured signer profile nothing is accepted (fail closed)', async () => {
    const signed = await agencySign(BODY);
    expect(await code(readWhitelist(signed, { ...trust, servSmime: { issuers: [], policies: [], subject: '' } }))).toBe('signer_not_trusted');
  });
});

describe('the copy in use', () => {
  it('a failed update keeps the last valid copy and says why; a replayed older list is refused; a newer one replaces it', async () => {
    const first = await updateWhitelist(null, await agencySign(BODY), trust);
    expect(first.status).toBe('updated');
    const current = first.list!;
    const broken = await updateWhitelist(current, (await agencySign(BODY)).replace('medecin', 'medecim'), trust);
    expect(broken).toMatchObject({ status: 'kept_last_valid', list: current });
    expect(broken.status === 'kept_last_valid' && broken.error.code).toBe('signature_invalid');
    const older = await updateWhitelist(current, await agencySign(whitelistXml('2026-12-04T02:00:00Z', ENTRIES.slice(0, 1))), trust);
    expect(older.status === 'kept_last_valid' && older.error.code).toBe('whitelist_older');
    const same = await updateWhitelist(current, await agencySign(BODY), trust);
    expect(same.status).toBe('unchanged');
    const newer = await updateWhitelist(current, await agencySign(whitelistXml('2026-12-06T02:00:00Z', ENTRIES.slice(1))), trust);
    expect(newer.status).toBe('updated');
    expect(newer.list!.domains.has('ch-fictif.mssante.fr')).toBe(false);
    const none = await updateWhitelist(null, 'garbage', trust);
    expect(none).toMatchObject({ status: 'unavailable', list: null });
  });

  it('says when the list in use is older than two days', async () => {
    const list = (await updateWhitelist(null, await agencySign(BODY), trust)).list!;
    expect(isStale(list, Date.parse('2026-12-06T02:00:00Z'))).toBe(false);
    expect(isStale(list, Date.parse('2026-12-07T03:00:00Z'))).toBe(true);
  });
});

describe('before sending: the sender and every recipient in the trust space', () => {
  let list: Whitelist;
  beforeAll(async () => {
    list = await readWhitelist(await agencySign(BODY), trust);
  });
  it('lists each address outside it, with the reason', () => {
    expect(domainRefusals(list, 'dr.fictif@medecin.mssante.fr', ['Secretariat@CH-FICTIF.mssante.fr', '123456789012345@patient.mssante.fr'])).toEqual([]);
    const r = domainRefusals(list, 'moi@gmail.com', ['a@ch-fictif.mssante.fr', 'b@laposte.net', 'pas-une-adresse', 'x@mssante.fr.pirate.com']);
    expect(r.map((x) => [x.role, x.code])).toEqual([
      ['sender', 'domain_not_trusted'], ['recipient', 'domain_not_trusted'], ['recipient', 'address_invalid'], ['recipient', 'domain_not_trusted'],
    ]);
    expect(r[1]!.message).toContain('laposte.net');
  });
  it('refuses with a typed error, and blocks everything without a valid list', () => {
    expect(() => assertInTrustSpace(list, 'dr@medecin.mssante.fr', ['x@laposte.net'])).toThrow(expect.objectContaining({ code: 'domain_not_trusted' }));
    expect(() => assertInTrustSpace(null, 'dr@medecin.mssante.fr', ['a@ch-fictif.mssante.fr'])).toThrow(expect.objectContaining({ code: 'whitelist_unavailable' }));
    expect(() => assertInTrustSpace(list, 'dr@medecin.mssante.fr', ['a@ch-fictif.mssante.fr'])).not.toThrow();
  });
});
