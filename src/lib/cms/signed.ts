/**
 * SignedData verification (RFC 5652 §5), for the insurers' signed service messages
 * (docs/domain/transmission.md §9: 4005, 4015, 4025). Checks, for every SignerInfo:
 *   - the signer certificate, found among the SignedData certificates or the caller's,
 *     by issuerAndSerialNumber or subjectKeyIdentifier;
 *   - with signed attributes: content-type equal to eContentType, message-digest equal to
 *     the digest of the content, and the signature over the attributes' DER re-tagged as
 *     SET OF (§5.4: the exact received bytes with 0xA0 replaced by 0x31);
 *   - without signed attributes: the signature over the content itself (id-data only);
 *   - RSA PKCS #1 v1.5 (also as `rsaEncryption`, which OpenSSL writes), RSA-PSS, ECDSA.
 * Content may be encapsulated or detached. The signer certificate is returned, NOT trusted:
 * the caller validates it with the PKI Verifier (chain, CRL, profile) before believing it.
 */
import type { Cert } from '../pki/cert.js';
import { PkiError, parseCertificate } from '../pki/index.js';
import { readTime } from '../pki/der.js';
import { type PublicKeyInfo, signatureScheme, verifySignature } from '../pki/signature.js';
import type { AlgorithmIdentifier } from '../pki/crl-model.js';
import {
  TAG,
  type Node,
  absentOrNull,
  children,
  childrenOf,
  contents,
  isIndefinite,
  joinSegments,
  octetSegments,
  readAlgorithm,
  readOid,
  readRoot,
  readSmallInt,
  whole,
} from './ber.js';
import { asBufferSource, constantTimeEqual } from './bytes.js';
import { CmsError, malformed, unsupported } from './errors.js';
import { type CertIdentifier, identifies, readCertIdentifier } from './identifiers.js';
import { HASH_BY_OID, type HashName, OID } from './oids.js';

export interface VerifySignedOptions {
  /** The content of a detached signature (`openssl cms -sign` without -nodetach). */
  content?: Uint8Array;
  /** More candidate signer certificates (DER), e.g. from the local certificate store. */
  certificates?: Uint8Array[];
}

export interface SignerResult {
  /** The signer certificate (DER): validate it with the PKI Verifier before trusting it. */
  certificate: Uint8Array;
  cert: Cert;
  digestAlgorithm: HashName;
  /** OID of the signature algorithm as applied (rsaEncryption mapped to sha…WithRSAEncryption). */
  signatureAlgorithm: string;
  signedAttributes: boolean;
  /** The signing-time attribute, if present (claimed by the signer, not proven). */
  signingTime?: Date;
  /** SHA-1 digest or signature: verifies, but below RGS requirements. */
  weak: boolean;
}

export interface SignedResult {
  contentType: string;
  /** The signed content: the encapsulated one, or the detached one given. */
  content: Uint8Array;
  detached: boolean;
  /** One entry per SignerInfo; all of them verified. */
  signers: SignerResult[];
  /** Every certificate carried by the SignedData (DER), as intermediates for validation. */
  certificates: Uint8Array[];
}

interface SignerInfo {
  id: CertIdentifier;
  digest: HashName;
  signedAttrs?: Node;
  signatureAlgorithm: { oid: string; params?: Node };
  signature: Uint8Array;
}

const RSA_WITH: Record<HashName, string> = {
  'SHA-1': OID.sha1WithRsa,
  'SHA-256': OID.sha256WithRsa,
  'SHA-384': OID.sha384WithRsa,
  'SHA-512': OID.sha512WithRsa,
};
const ECDSA_WITH: Record<HashName, string> = {
  'SHA-1': OID.ecdsaSha1,
  'SHA-256': OID.ecdsaSha256,
  'SHA-384': OID.ecdsaSha384,
  'SHA-512': OID.ecdsaSha512,
};

function explicit(buf: Uint8Array, n: Node | undefined, tag: number, what: string): Node {
  const inner = childrenOf(buf, n, tag, what);
  if (inner.length !== 1) throw malformed(`${what} mal formé`);
  return inner[0]!;
}

function digestOf(buf: Uint8Array, n: Node | undefined): HashName {
  const alg = readAlgorithm(buf, n, 'digestAlgorithm');
  const h = HASH_BY_OID[alg.oid];
  if (!h) throw unsupported(`condensat ${alg.oid}`);
  if (!absentOrNull(buf, alg.params)) throw malformed('paramètres de condensat inattendus');
  return h;
}

function parseSignerInfo(buf: Uint8Array, n: Node): SignerInfo {
  const f = childrenOf(buf, n, TAG.SEQUENCE, 'SignerInfo');
  let i = 0;
  const version = readSmallInt(buf, f[i++], 'version SignerInfo');
  const id = readCertIdentifier(buf, f[i++], 'SignerIdentifier');
  // RFC 5652 §5.3: version 1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier.
  if (version !== (id.kind === 'issuer-and-serial' ? 1 : 3)) throw malformed('version de SignerInfo incohérente');
  const digest = digestOf(buf, f[i++]);
  let signedAttrs: Node | undefined;
  if (f[i]?.tag === 0xa0) signedAttrs = f[i++];
  const sigAlg = readAlgorithm(buf, f[i++], 'signatureAlgorithm');
  const sigNode = f[i++];
  if (!sigNode) throw malformed('signature manquante');
  const signature = joinSegments(octetSegments(buf, sigNode, TAG.OCTET_STRING, 'signature'));
  if (f[i]?.tag === 0xa1) i++; // unsignedAttrs (countersignatures, timestamps): not needed
  if (i !== f.length) throw malformed('champ inattendu dans SignerInfo');
  return { id, digest, ...(signedAttrs ? { signedAttrs } : {}), signatureAlgorithm: sigAlg, signature };
}

interface Attributes {
  contentType: string;
  messageDigest: Uint8Array;
  signingTime?: Date;
}

/** The attributes we check; each may appear once, with exactly one value (§11.1–11.3). */
function parseSignedAttributes(buf: Uint8Array, n: Node): Attributes {
  if (isIndefinite(n)) throw malformed('attributs signés non DER (longueur indéfinie)');
  const seen = new Set<string>();
  let contentType: string | undefined;
  let messageDigest: Uint8Array | undefined;
  let signingTime: Date | undefined;
  for (const a of children(buf, n)) {
    const f = childrenOf(buf, a, TAG.SEQUENCE, 'attribut signé');
    if (f.length !== 2) throw malformed('attribut signé mal formé');
    const type = readOid(buf, f[0], 'type d’attribut');
    const values = childrenOf(buf, f[1], TAG.SET, 'valeurs d’attribut');
    if (type !== OID.contentTypeAttr && type !== OID.messageDigestAttr && type !== OID.signingTimeAttr) continue;
    if (seen.has(type)) throw malformed(`attribut ${type} en double`);
    seen.add(type);
    if (values.length !== 1) throw malformed(`attribut ${type} : une seule valeur attendue`);
    const v = values[0]!;
    if (type === OID.contentTypeAttr) contentType = readOid(buf, v, 'attribut content-type');
    else if (type === OID.messageDigestAttr) {
      if (v.tag !== TAG.OCTET_STRING) throw malformed('attribut message-digest mal formé');
      messageDigest = contents(buf, v);
    } else {
      if (v.tag !== TAG.UTC_TIME && v.tag !== TAG.GENERALIZED_TIME) throw malformed('attribut signing-time mal formé');
      try {
        signingTime = new Date(readTime(buf, { tag: v.tag, start: v.start, valueStart: v.valueStart, end: v.valueEnd }));
      } catch {
        throw malformed('attribut signing-time illisible');
      }
    }
  }
  if (!contentType) throw malformed('attribut signé content-type absent');
  if (!messageDigest) throw malformed('attribut signé message-digest absent');
  return signingTime ? { contentType, messageDigest, signingTime } : { contentType, messageDigest };
}

/** The algorithm handed to the PKI's verifySignature, from SignerInfo fields. */
function effectiveAlgorithm(buf: Uint8Array, s: SignerInfo): AlgorithmIdentifier {
  const { oid, params } = s.signatureAlgorithm;
  // RFC 3370 §3.2 / RFC 5754: rsaEncryption here means PKCS #1 v1.5 with the digest algorithm.
  if (oid === OID.rsaEncryption) return { oid: RSA_WITH[s.digest] };
  if (oid === OID.ecPublicKey) return { oid: ECDSA_WITH[s.digest] };
  return params ? { oid, params: whole(buf, params) } : { oid };
}

async function digest(hash: HashName, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest(hash, asBufferSource(data)));
}

function parseCertificates(buf: Uint8Array, n: Node | undefined): Cert[] {
  if (!n) return [];
  const out: Cert[] = [];
  for (const c of children(buf, n)) {
    if (c.tag !== TAG.SEQUENCE) continue; // attribute certificates and other formats: not signers
    if (isIndefinite(c)) throw malformed('certificat non DER dans SignedData');
    try {
      out.push(parseCertificate(whole(buf, c).slice()));
    } catch (e) {
      throw malformed(`certificat illisible dans SignedData (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  return out;
}

/**
 * Imported signer keys, by algorithm and SPKI: a front end signs a month of service messages
 * with one key, and importing it cost more than verifying. Bounded (emptied past 64 keys).
 */
const SIGNER_KEYS = new Map<string, Promise<CryptoKey | null>>();
function signerKeys(): Map<string, Promise<CryptoKey | null>> {
  if (SIGNER_KEYS.size >= 64) SIGNER_KEYS.clear();
  return SIGNER_KEYS;
}

async function verifySigner(buf: Uint8Array, s: SignerInfo, eContentType: string, content: Uint8Array, candidates: Cert[]): Promise<SignerResult> {
  const matching = candidates.filter((c) => identifies(s.id, c));
  if (matching.length === 0) {
    throw new CmsError('cms_signer_not_found', 'Certificat du signataire introuvable (ni dans le message ni parmi les certificats fournis).');
  }
  let signed: Uint8Array;
  let signingTime: Date | undefined;
  if (s.signedAttrs) {
    const attrs = parseSignedAttributes(buf, s.signedAttrs);
    if (attrs.contentType !== eContentType) {
      throw new CmsError('cms_content_type_mismatch', 'Le type de contenu signé ne correspond pas au contenu du message.');
    }
    if (!constantTimeEqual(attrs.messageDigest, await digest(s.digest, content))) {
      throw new CmsError('cms_digest_mismatch', 'Le condensat signé ne correspond pas au contenu : message altéré.');
    }
    // §5.4: the signature covers the DER of SET OF Attribute, i.e. the received bytes re-tagged.
    signed = whole(buf, s.signedAttrs).slice();
    signed[0] = TAG.SET;
    signingTime = attrs.signingTime;
  } else {
    if (eContentType !== OID.data) throw malformed('attributs signés obligatoires pour ce type de contenu');
    signed = content;
  }
  const alg = effectiveAlgorithm(buf, s);
  let weak: boolean;
  try {
    weak = signatureScheme(alg).weak || s.digest === 'SHA-1';
  } catch (e) {
    throw unsupported(e instanceof Error ? e.message : String(alg.oid));
  }
  for (const cert of matching) {
    const pk: PublicKeyInfo = { spki: cert.spki, algorithm: cert.spkiAlgorithm, key: cert.publicKey };
    let ok: boolean;
    try {
      ok = await verifySignature(alg, pk, s.signature, signed, signerKeys());
    } catch (e) {
      if (e instanceof PkiError) throw unsupported(e.message);
      throw new CmsError('cms_signature_invalid', 'Signature invalide.', { cause: e });
    }
    if (ok) {
      return {
        certificate: cert.der,
        cert,
        digestAlgorithm: s.digest,
        signatureAlgorithm: alg.oid,
        signedAttributes: s.signedAttrs !== undefined,
        ...(signingTime ? { signingTime } : {}),
        weak,
      };
    }
  }
  throw new CmsError('cms_signature_invalid', 'Signature invalide : le message ou sa signature a été altéré, ou le certificat ne correspond pas.');
}

/**
 * Verifies a SignedData (ContentInfo DER or BER). Throws CmsError: cms_malformed,
 * cms_unsupported_algorithm, cms_content_missing, cms_signer_not_found,
 * cms_content_type_mismatch, cms_digest_mismatch, cms_signature_invalid.
 */
export async function verifySigned(der: Uint8Array, options: VerifySignedOptions = {}): Promise<SignedResult> {
  const ci = childrenOf(der, readRoot(der), TAG.SEQUENCE, 'ContentInfo');
  if (ci.length !== 2) throw malformed('ContentInfo mal formé');
  const type = readOid(der, ci[0], 'type de contenu');
  if (type !== OID.signedData) throw malformed(`SignedData attendu, type ${type} trouvé`);
  const sd = childrenOf(der, explicit(der, ci[1], 0xa0, 'contenu'), TAG.SEQUENCE, 'SignedData');
  let i = 0;
  const version = readSmallInt(der, sd[i++], 'version SignedData');
  if (version !== 1 && version !== 3 && version !== 4 && version !== 5) throw malformed(`version SignedData ${version} inconnue`);
  childrenOf(der, sd[i++], TAG.SET, 'digestAlgorithms');
  const encap = childrenOf(der, sd[i++], TAG.SEQUENCE, 'EncapsulatedContentInfo');
  if (encap.length < 1 || encap.length > 2) throw malformed('EncapsulatedContentInfo mal formé');
  const eContentType = readOid(der, encap[0], 'eContentType');
  let certsNode: Node | undefined;
  if (sd[i]?.tag === 0xa0) certsNode = sd[i++];
  if (sd[i]?.tag === 0xa1) i++; // CRLs: the caller fetches and checks revocation itself
  const signerInfos = childrenOf(der, sd[i++], TAG.SET, 'signerInfos');
  if (i !== sd.length) throw malformed('champ inattendu dans SignedData');

  let content: Uint8Array;
  const detached = encap[1] === undefined;
  if (!detached) {
    if (options.content) throw new CmsError('cms_content_missing', 'Le message contient déjà son contenu : ne pas fournir de contenu détaché.');
    content = joinSegments(octetSegments(der, explicit(der, encap[1], 0xa0, 'eContent'), TAG.OCTET_STRING, 'eContent'));
  } else {
    if (!options.content) throw new CmsError('cms_content_missing', 'Signature détachée : le contenu signé doit être fourni.');
    content = options.content;
  }

  const embedded = parseCertificates(der, certsNode);
  const given: Cert[] = [];
  for (const c of options.certificates ?? []) {
    try {
      given.push(parseCertificate(c.slice()));
    } catch (e) {
      throw new CmsError('cms_signer_not_found', 'Certificat fourni illisible.', { cause: e });
    }
  }
  const infos = signerInfos.map((n) => parseSignerInfo(der, n));
  if (infos.length === 0) throw new CmsError('cms_signature_invalid', 'Le message ne porte aucune signature.');
  const signers: SignerResult[] = [];
  for (const s of infos) signers.push(await verifySigner(der, s, eContentType, content, [...embedded, ...given]));
  return { contentType: eContentType, content, detached, signers, certificates: embedded.map((c) => c.der) };
}
