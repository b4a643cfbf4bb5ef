/**
 * Enveloped XML signatures of the MSSanté trust space (mssante.md § Trust space): what the
 * agency signs its daily whitelist with — enveloped, rsa-sha256, exclusive c14n, SHA-256 —
 * including the shape of the published lists (XAdES SignedProperties referenced from
 * SignedInfo, an XPath Filter 2.0 transform subtracting the signature).
 *
 * The cryptography is xmldsigjs (PeculiarVentures: WebCrypto in the page and in Node, the same
 * family as the pkijs our PKI core already uses, maintained). Around it, the W3C's "XML
 * Signature Best Practices" are applied before any byte is trusted:
 * - no DTD, a bounded size (entity expansion and external entities are refused outright);
 * - exactly one Signature, a child of the document element, and a reference to the whole
 *   document (URI ""): what is signed is what is read — no wrapping;
 * - only the algorithms the trust space names (no SHA-1, no XSLT, no XPath 1.0 transform, no
 *   external URI); an XPath Filter 2.0 transform only as "subtract the signature";
 * - the key is validated, not merely used: the signer's certificate comes from KeyInfo, is
 *   validated by our PKI core with the SERV_S/MIME profile (the agency's own certificate,
 *   chaining to the configured IGC-Santé anchors, not revoked), and the signature is checked
 *   with that certificate's key only (never a KeyValue); a XAdES SigningCertificate, when
 *   present, must name that same certificate.
 * Node needs a DOM: src/lib/server/mss/node-xml.ts installs a strict one (the page has its own).
 */
import * as xmldsig from 'xmldsigjs';
import { Verifier, parseCertificate, type ServSmimeProfile } from '../pki/index.js';
import { MssError } from './errors.js';

export const NS = {
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  xades: 'http://uri.etsi.org/01903/v1.3.2#',
} as const;

export const ALG = {
  excC14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  enveloped: 'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
  filter2: 'http://www.w3.org/2002/06/xmldsig-filter2',
  signedPropertiesType: 'http://uri.etsi.org/01903#SignedProperties',
} as const;

/** The published whitelist is a few hundred kilobytes; far beyond that is refused before parsing. */
export const MAX_SIGNED_XML_BYTES = 8 * 1024 * 1024;

/** XPath Filter 2.0 expressions accepted: each selects the (one) enveloping signature. */
const SUBTRACT_SIGNATURE = new Set(['/descendant::ds:Signature', '//ds:Signature', '/descendant::ds:Signature[1]', '//ds:Signature[1]', 'here()/ancestor::ds:Signature[1]']);

/**
 * XPath Filter 2.0, limited to what verify() admits (Filter="subtract" of the enveloping
 * signature, checked beforehand): the same node set as the enveloped-signature transform.
 * xmldsigjs's release does not register filter2.
 */
class SubtractSignatureFilter2 extends xmldsig.Transform {
  override Algorithm = ALG.filter2;
  // Declared `string` by xmldsigjs; its own enveloped-signature transform returns the element too.
  override GetOutput(): string {
    const root = this.innerXml as Element | null;
    if (!root) throw new MssError('signature_transform_refused', 'Transformation XPath Filter 2.0 sans document.');
    for (const child of Array.from(root.childNodes)) {
      if (child.nodeType === 1 && (child as Element).localName === 'Signature' && (child as Element).namespaceURI === NS.ds) root.removeChild(child);
    }
    return root as unknown as string;
  }
}
// In the page xmldsigjs takes self.crypto itself; in Node it must be given one (a wrapper:
// setEngine writes a `name` onto the object it is given, and the global stays untouched).
if (xmldsig.Application.isNodePlugin()) {
  xmldsig.Application.setEngine('WebCrypto', { subtle: globalThis.crypto.subtle, getRandomValues: globalThis.crypto.getRandomValues.bind(globalThis.crypto) } as Crypto);
}
xmldsig.CryptoConfig.RegisterTransform(ALG.filter2, SubtractSignatureFilter2 as unknown as typeof xmldsig.Transform);

export interface SignerTrust {
  /** IGC-Santé's anchors (DER). */
  anchors: readonly Uint8Array[];
  intermediates?: readonly Uint8Array[];
  crls?: readonly Uint8Array[];
  /** The agency's certificate as the SERV_S/MIME profile describes it. */
  servSmime: ServSmimeProfile;
  /** Validation time (default now). */
  at?: Date;
  /** Reuse the caller's warm caches. */
  verifier?: Verifier;
}

export interface VerifiedXml {
  /** The parsed document, as verified: read the data from it and from nothing else. */
  doc: Document;
  /** The signer's certificate (DER) and its validated subject. */
  signer: Uint8Array;
  signerSubject: string;
  /** XAdES SigningTime, when the signature carries one (ISO text as written). */
  signingTime?: string;
}

const refuse = (code: ConstructorParameters<typeof MssError>[0], message: string): never => {
  throw new MssError(code, message);
};

function elements(parent: Element | Document, ns: string, local: string): Element[] {
  return Array.from(parent.getElementsByTagNameNS(ns, local));
}

function childElements(parent: Element, ns?: string, local?: string): Element[] {
  const out: Element[] = [];
  for (const c of Array.from(parent.childNodes)) {
    if (c.nodeType !== 1) continue;
    const e = c as Element;
    if ((ns === undefined || e.namespaceURI === ns) && (local === undefined || e.localName === local)) out.push(e);
  }
  return out;
}

function only(parent: Element, ns: string, local: string, what: string): Element {
  const found = childElements(parent, ns, local);
  if (found.length !== 1) refuse('signature_reference_refused', `Signature XML : ${what} attendu une seule fois.`);
  return found[0]!;
}

function b64(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) refuse('signer_certificate_missing', 'Certificat du signataire illisible (base64).');
  const bin = atob(clean);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Parses with the platform's DOM (the page's, or the strict one installed in Node). */
export function parseXml(text: string): Document {
  if (new TextEncoder().encode(text).byteLength > MAX_SIGNED_XML_BYTES) {
    refuse('xml_too_large', `Document XML trop volumineux (maximum ${MAX_SIGNED_XML_BYTES} octets).`);
  }
  // No DTD at all: no entity to expand, nothing external to fetch.
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) refuse('xml_dtd_refused', 'Le document XML contient une DTD : refusé.');
  let doc: Document;
  try {
    doc = xmldsig.Parse(text);
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    if (/dependency|not registered|is not a constructor/i.test(m)) refuse('xml_unavailable', 'Aucun analyseur XML n’est disponible ici.');
    return refuse('xml_malformed', 'Document XML mal formé.');
  }
  if (!doc?.documentElement || doc.getElementsByTagName('parsererror').length > 0) refuse('xml_malformed', 'Document XML mal formé.');
  return doc;
}

interface Checked {
  signature: Element;
  certs: Uint8Array[];
  signedProperties?: Element;
}

/** The static checks: one signature, the expected algorithms, a whole-document reference. */
function checkShape(doc: Document): Checked {
  const sigs = elements(doc, NS.ds, 'Signature');
  if (sigs.length === 0) refuse('signature_missing', 'Le document n’est pas signé.');
  if (sigs.length > 1) refuse('signature_multiple', 'Le document porte plusieurs signatures : refusé.');
  const signature = sigs[0]!;
  if (signature.parentNode !== doc.documentElement) refuse('signature_misplaced', 'La signature n’enveloppe pas le document entier.');

  const signedInfo = only(signature, NS.ds, 'SignedInfo', 'SignedInfo');
  const c14n = only(signedInfo, NS.ds, 'CanonicalizationMethod', 'CanonicalizationMethod').getAttribute('Algorithm');
  if (c14n !== ALG.excC14n) refuse('signature_algorithm_refused', `Canonicalisation refusée (${c14n ?? 'absente'}) : c14n exclusive attendue.`);
  const method = only(signedInfo, NS.ds, 'SignatureMethod', 'SignatureMethod').getAttribute('Algorithm');
  if (method !== ALG.rsaSha256) refuse('signature_algorithm_refused', `Algorithme de signature refusé (${method ?? 'absent'}) : rsa-sha256 attendu.`);

  const refs = childElements(signedInfo, NS.ds, 'Reference');
  let whole = 0;
  let signedProperties: Element | undefined;
  for (const ref of refs) {
    const uri = ref.getAttribute('URI');
    const digest = only(ref, NS.ds, 'DigestMethod', 'DigestMethod').getAttribute('Algorithm');
    if (digest !== ALG.sha256) refuse('signature_algorithm_refused', `Empreinte refusée (${digest ?? 'absente'}) : SHA-256 attendu.`);
    const transforms = childElements(ref, NS.ds, 'Transforms').flatMap((t) => childElements(t, NS.ds, 'Transform'));
    if (uri === '') {
      whole++;
      let removesSignature = false;
      for (const t of transforms) {
        const alg = t.getAttribute('Algorithm');
        if (alg === ALG.excC14n) continue;
        if (alg === ALG.enveloped) {
          removesSignature = true;
          continue;
        }
        if (alg === ALG.filter2) {
          const xp = childElements(t, ALG.filter2, 'XPath');
          const expr = xp[0]?.textContent?.replace(/\s+/g, '') ?? '';
          if (xp.length !== 1 || xp[0]!.getAttribute('Filter') !== 'subtract' || !SUBTRACT_SIGNATURE.has(expr) || xp[0]!.lookupNamespaceURI('ds') !== NS.ds) {
            refuse('signature_transform_refused', 'Transformation XPath Filter 2.0 refusée : seule la soustraction de la signature est admise.');
          }
          removesSignature = true;
          continue;
        }
        refuse('signature_transform_refused', `Transformation refusée (${alg ?? 'absente'}).`);
      }
      if (!removesSignature) refuse('signature_transform_refused', 'La référence au document ne retire pas la signature (enveloped ou XPath Filter 2.0 attendu).');
    } else if (uri !== null && /^#[A-Za-z_][\w.-]*$/.test(uri) && ref.getAttribute('Type') === ALG.signedPropertiesType) {
      if (signedProperties) refuse('signature_reference_refused', 'Plusieurs références aux propriétés signées : refusé.');
      for (const t of transforms) {
        if (t.getAttribute('Algorithm') !== ALG.excC14n) refuse('signature_transform_refused', `Transformation refusée sur les propriétés signées (${t.getAttribute('Algorithm') ?? 'absente'}).`);
      }
      const id = uri.slice(1);
      const targets = elements(doc, NS.xades, 'SignedProperties').filter((e) => e.getAttribute('Id') === id);
      const target = targets[0];
      if (targets.length !== 1 || !target || !signature.contains(target)) {
        refuse('signature_reference_refused', 'Les propriétés signées référencées ne sont pas dans la signature.');
      }
      signedProperties = target;
    } else {
      refuse('signature_reference_refused', `Référence refusée (${uri === null ? 'sans URI' : uri}) : seul le document entier (URI "") et les propriétés XAdES sont admis.`);
    }
  }
  if (whole !== 1) refuse('signature_reference_refused', 'La signature doit porter exactement une référence au document entier (URI "").');

  const keyInfo = childElements(signature, NS.ds, 'KeyInfo')[0];
  const certs = keyInfo
    ? childElements(keyInfo, NS.ds, 'X509Data').flatMap((d) => childElements(d, NS.ds, 'X509Certificate')).map((c) => b64(c.textContent ?? ''))
    : [];
  if (certs.length === 0) refuse('signer_certificate_missing', 'La signature ne porte pas le certificat du signataire (KeyInfo/X509Data).');
  return { signature, certs, signedProperties };
}

/** The certificate of KeyInfo that issued no other: the signer's (the first when ambiguous). */
function pickLeaf(certs: Uint8Array[]): { leaf: Uint8Array; others: Uint8Array[] } {
  const parsed = certs.map((der) => {
    try {
      return parseCertificate(der);
    } catch {
      return null;
    }
  });
  if (parsed[0] === null) refuse('signer_certificate_missing', 'Le certificat du signataire est illisible.');
  const subjects = parsed.map((c) => (c ? c.subject.key : ''));
  const issuers = new Set(parsed.map((c) => (c && !c.selfIssued ? c.issuer.key : '')));
  const idx = parsed.findIndex((c, i) => c !== null && !issuers.has(subjects[i]!));
  const at = idx < 0 ? 0 : idx;
  return { leaf: certs[at]!, others: certs.filter((_, i) => i !== at) };
}

async function sha256(u: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', u as BufferSource));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** XAdES SigningCertificate(V2): every CertDigest must be SHA-256 and one must be the signer's. */
async function checkSigningCertificate(signedProperties: Element, leaf: Uint8Array): Promise<void> {
  const digests = elements(signedProperties, NS.xades, 'CertDigest');
  if (digests.length === 0) return;
  const mine = await sha256(leaf);
  let match = false;
  for (const d of digests) {
    const alg = childElements(d, NS.ds, 'DigestMethod')[0]?.getAttribute('Algorithm');
    if (alg !== ALG.sha256) refuse('signature_algorithm_refused', `Empreinte du certificat signataire refusée (${alg ?? 'absente'}) : SHA-256 attendu.`);
    const value = childElements(d, NS.ds, 'DigestValue')[0]?.textContent ?? '';
    let bytes: Uint8Array;
    try {
      bytes = b64(value);
    } catch {
      bytes = new Uint8Array();
    }
    if (sameBytes(bytes, mine)) match = true;
  }
  if (!match) refuse('signing_certificate_mismatch', 'Les propriétés signées (XAdES) désignent un autre certificat que celui du signataire.');
}

/**
 * Verifies an enveloped signature over the whole document by the expected SERV_S/MIME signer.
 * Throws MssError (typed code, French message, certificate issues in `details`); returns the
 * document as verified.
 */
export async function verifySignedXml(text: string, trust: SignerTrust): Promise<VerifiedXml> {
  const doc = parseXml(text);
  const { signature, certs, signedProperties } = checkShape(doc);
  const { leaf, others } = pickLeaf(certs);

  const verifier = trust.verifier ?? new Verifier();
  const result = await verifier.verify({
    leaf,
    anchors: [...trust.anchors],
    intermediates: [...others, ...(trust.intermediates ?? [])],
    crls: [...(trust.crls ?? [])],
    at: trust.at,
    profile: 'serv-smime',
    servSmime: trust.servSmime,
  });
  if (!result.valid) {
    throw new MssError('signer_not_trusted', `Le signataire n’est pas reconnu : ${result.errors.map((e) => e.message).join(' ')}`, result.errors);
  }
  if (signedProperties) await checkSigningCertificate(signedProperties, leaf);

  const cert = parseCertificate(leaf);
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('spki', cert.spki as BufferSource, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, ['verify']);
  } catch {
    return refuse('signature_algorithm_refused', 'La clé du signataire n’est pas une clé RSA utilisable.');
  }
  let ok = false;
  try {
    const signed = new xmldsig.SignedXml(doc);
    signed.LoadXml(signature);
    ok = await signed.Verify(key);
  } catch (e) {
    if (e instanceof MssError) throw e;
    ok = false;
  }
  if (!ok) refuse('signature_invalid', 'La signature du document est invalide : il a été modifié ou n’a pas été signé par ce certificat.');

  const signingTime = signedProperties ? elements(signedProperties, NS.xades, 'SigningTime')[0]?.textContent?.trim() : undefined;
  return { doc, signer: leaf, signerSubject: result.path[0]?.subject ?? '', ...(signingTime ? { signingTime } : {}) };
}
