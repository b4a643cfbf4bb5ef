/**
 * Opening EnvelopedData (RFC 5652 §6) with an RSA private key: key transport by
 * RSAES-PKCS1-v1_5 (BigInt, see rsa.ts) or RSAES-OAEP (WebCrypto), content in
 * AES-128/192/256-CBC — what `openssl cms -encrypt` produces with -aes-128-cbc, -aes192,
 * -aes256 and `-keyopt rsa_padding_mode:oaep`, in DER or streamed BER.
 *
 * Every failure is a CmsError; all key-transport and content-decryption failures share one
 * code and message (`cms_decrypt_failed`), which gives an attacker no padding oracle.
 */
import type { Cert } from '../pki/cert.js';
import { parseCertificate } from '../pki/index.js';
import { type AesCbc, webCryptoAesCbc } from './aes.js';
import {
  TAG,
  type Algorithm,
  type Node,
  absentOrNull,
  children,
  childrenOf,
  contents,
  joinSegments,
  octetSegments,
  readAlgorithm,
  readOid,
  readRoot,
  readSmallInt,
} from './ber.js';
import { asBufferSource } from './bytes.js';
import { NULL, algorithm, octetString, seq, smallInt } from './der-writer.js';
import type { RecipientIdentifier } from './envelope.js';
import { CmsError, decryptFailed, malformed, unsupported } from './errors.js';
import { type CertIdentifier, identifies, readCertIdentifier } from './identifiers.js';
import { AES_CBC_KEY_BYTES, HASH_BY_OID, type HashName, OID } from './oids.js';
import { type RsaPrivateKey, parseRsaPrivateKey, pkcs1v15Decrypt } from './rsa.js';

export interface DecryptOptions {
  /** The recipient's RSA private key: PKCS #8 (or PKCS #1) DER, or a WebCrypto CryptoKey. */
  key: Uint8Array | CryptoKey;
  /**
   * The recipient's certificate (DER), to pick its RecipientInfo. Without it every
   * key-transport RecipientInfo is tried in order.
   */
  certificate?: Uint8Array;
  /** AES-CBC implementation; default WebCrypto. */
  aes?: AesCbc;
}

export interface DecryptedDocument {
  /** encryptedContentInfo.contentType (id-data for attachments). */
  contentType: string;
  content: Uint8Array;
  contentEncryption: 'aes-128-cbc' | 'aes-192-cbc' | 'aes-256-cbc';
  keyTransport: 'rsa-pkcs1-v1_5' | 'rsa-oaep';
  recipientIdentifier: RecipientIdentifier;
}

interface Oaep {
  hash: HashName;
  label?: Uint8Array;
}

interface KeyTrans {
  id: CertIdentifier;
  /** null for rsaEncryption (PKCS #1 v1.5). */
  oaep: Oaep | null;
  encryptedKey: Uint8Array;
}

interface Parsed {
  recipients: KeyTrans[];
  contentType: string;
  contentAlgorithm: string;
  keyBytes: 16 | 24 | 32;
  iv: Uint8Array;
  ciphertext: Uint8Array;
}

const AES_NAMES: Record<number, DecryptedDocument['contentEncryption']> = { 16: 'aes-128-cbc', 24: 'aes-192-cbc', 32: 'aes-256-cbc' };

/** Explicitly tagged field: exactly one element inside. */
function explicit(buf: Uint8Array, n: Node | undefined, tag: number, what: string): Node {
  const inner = childrenOf(buf, n, tag, what);
  if (inner.length !== 1) throw malformed(`${what} mal formé`);
  return inner[0]!;
}

function parseOaepParams(buf: Uint8Array, params: Node | undefined): Oaep {
  // RFC 8017 A.2.1: every field defaults to SHA-1 / MGF1-SHA-1 / empty label.
  let hash: HashName = 'SHA-1';
  let mgfHash: HashName = 'SHA-1';
  let label: Uint8Array | undefined;
  if (params && !absentOrNull(buf, params)) {
    for (const f of childrenOf(buf, params, TAG.SEQUENCE, 'paramètres RSAES-OAEP')) {
      const alg = readAlgorithm(buf, explicit(buf, f, f.tag, 'paramètre RSAES-OAEP'), 'paramètre RSAES-OAEP');
      if (f.tag === 0xa0) {
        const h = HASH_BY_OID[alg.oid];
        if (!h || !absentOrNull(buf, alg.params)) throw unsupported(`hachage OAEP ${alg.oid}`);
        hash = h;
      } else if (f.tag === 0xa1) {
        if (alg.oid !== OID.mgf1) throw unsupported(`fonction de masque OAEP ${alg.oid}`);
        const inner = readAlgorithm(buf, alg.params, 'paramètres MGF1');
        const h = HASH_BY_OID[inner.oid];
        if (!h) throw unsupported(`hachage MGF1 ${inner.oid}`);
        mgfHash = h;
      } else if (f.tag === 0xa2) {
        if (alg.oid !== OID.pSpecified || !alg.params) throw unsupported('source d’étiquette OAEP');
        const l = joinSegments(octetSegments(buf, alg.params));
        if (l.length > 0) label = l;
      } else {
        throw malformed('paramètres RSAES-OAEP : champ inconnu');
      }
    }
  }
  // WebCrypto's RSA-OAEP uses one hash for both the label and MGF1.
  if (mgfHash !== hash) throw unsupported('RSAES-OAEP avec des hachages différents pour OAEP et MGF1');
  return label ? { hash, label } : { hash };
}

function parseKeyTrans(buf: Uint8Array, n: Node): KeyTrans {
  const f = childrenOf(buf, n, TAG.SEQUENCE, 'KeyTransRecipientInfo');
  if (f.length !== 4) throw malformed('KeyTransRecipientInfo mal formé');
  const version = readSmallInt(buf, f[0], 'version KeyTransRecipientInfo');
  const id = readCertIdentifier(buf, f[1], 'RecipientIdentifier');
  // RFC 5652 §6.2.1: version 0 with issuerAndSerialNumber, 2 with subjectKeyIdentifier.
  if (version !== (id.kind === 'issuer-and-serial' ? 0 : 2)) throw malformed('version de KeyTransRecipientInfo incohérente');
  const alg: Algorithm = readAlgorithm(buf, f[2], 'keyEncryptionAlgorithm');
  let oaep: Oaep | null;
  if (alg.oid === OID.rsaEncryption) {
    if (!absentOrNull(buf, alg.params)) throw malformed('paramètres rsaEncryption inattendus');
    oaep = null;
  } else if (alg.oid === OID.rsaesOaep) {
    oaep = parseOaepParams(buf, alg.params);
  } else {
    throw unsupported(`transport de clé ${alg.oid}`);
  }
  const encryptedKey = joinSegments(octetSegments(buf, f[3]!, TAG.OCTET_STRING, 'encryptedKey'));
  return { id, oaep, encryptedKey };
}

/** Structure of the ContentInfo / EnvelopedData; no cryptography. */
export function parseEnvelopedData(der: Uint8Array): Parsed {
  const ci = childrenOf(der, readRoot(der), TAG.SEQUENCE, 'ContentInfo');
  if (ci.length !== 2) throw malformed('ContentInfo mal formé');
  const type = readOid(der, ci[0], 'type de contenu');
  if (type !== OID.envelopedData) throw malformed(`EnvelopedData attendu, type ${type} trouvé`);
  const env = childrenOf(der, explicit(der, ci[1], 0xa0, 'contenu'), TAG.SEQUENCE, 'EnvelopedData');
  let i = 0;
  const version = readSmallInt(der, env[i++], 'version EnvelopedData');
  if (version !== 0 && version !== 2 && version !== 3 && version !== 4) throw malformed(`version EnvelopedData ${version} inconnue`);
  if (env[i]?.tag === 0xa0) i++; // originatorInfo: certificates for key agreement, unused here
  const infos = childrenOf(der, env[i++], TAG.SET, 'recipientInfos');
  if (infos.length === 0) throw malformed('aucun destinataire');
  const eci = childrenOf(der, env[i++], TAG.SEQUENCE, 'EncryptedContentInfo');
  if (env[i]?.tag === 0xa1) i++; // unprotectedAttrs
  if (i !== env.length) throw malformed('champ inattendu dans EnvelopedData');

  // Only KeyTransRecipientInfo (a SEQUENCE); kari [1], kekri [2], pwri [3], ori [4] are skipped.
  const recipients = infos.filter((n) => n.tag === TAG.SEQUENCE).map((n) => parseKeyTrans(der, n));
  for (const n of infos) if (n.tag !== TAG.SEQUENCE && (n.tag < 0xa1 || n.tag > 0xa4)) throw malformed('RecipientInfo inconnu');

  if (eci.length < 2 || eci.length > 3) throw malformed('EncryptedContentInfo mal formé');
  const contentType = readOid(der, eci[0], 'type du contenu chiffré');
  const alg = readAlgorithm(der, eci[1], 'contentEncryptionAlgorithm');
  const keyBytes = AES_CBC_KEY_BYTES[alg.oid];
  if (!keyBytes) {
    const name = alg.oid === OID.desEde3Cbc ? '3-DES (abandonné)' : alg.oid === OID.rc2Cbc ? 'RC2' : alg.oid;
    throw unsupported(`chiffrement du contenu ${name}`);
  }
  if (!alg.params || alg.params.tag !== TAG.OCTET_STRING) throw malformed('vecteur d’initialisation AES manquant');
  const iv = contents(der, alg.params);
  if (iv.length !== 16) throw malformed('vecteur d’initialisation AES de taille invalide');
  if (!eci[2]) throw new CmsError('cms_content_missing', 'Contenu chiffré absent (contenu détaché non pris en charge).');
  const ciphertext = joinSegments(octetSegments(der, eci[2], 0x80, 'encryptedContent'));
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) throw decryptFailed();
  return { recipients, contentType, contentAlgorithm: alg.oid, keyBytes, iv, ciphertext };
}

const OUTLINE_SCRATCH_MAX = 64 * 1024 * 1024;
let outlineScratch = new Uint8Array(0);

/** The outer structure of an EnvelopedData: what a relay checks without any key. */
export interface EnvelopedOutline {
  /** Key-transport recipients. */
  recipients: number;
  /** The content-encryption algorithm (an AES-CBC OID). */
  contentAlgorithm: string;
}

/**
 * `parseEnvelopedData`'s verdict on an object of `length` bytes known only by its first bytes
 * (`head`), for a relay that must not pay for decoding 75 KiB of ciphertext it never reads.
 * The bytes past `head` stand as zeros; the answer is given only when it cannot depend on them:
 * the ciphertext one primitive string that starts inside `head` and runs to the very end (so
 * every enclosing length is definite and nothing follows it). Otherwise (BER indefinite
 * lengths, a segmented ciphertext, attributes after it, a head too short, or any error) null:
 * the caller decodes the whole object and asks `parseEnvelopedData`, which has the last word.
 */
export function outlineEnvelopedData(head: Uint8Array, length: number): EnvelopedOutline | null {
  if (head.length >= length || length > OUTLINE_SCRATCH_MAX) return null;
  // One scratch buffer, reused: allocating 75 KiB per message cost more than the parse.
  if (outlineScratch.length < length) outlineScratch = new Uint8Array(Math.max(length, outlineScratch.length * 2));
  const buf = outlineScratch.subarray(0, length);
  buf.set(head);
  buf.fill(0, head.length);
  let parsed: Parsed;
  try {
    parsed = parseEnvelopedData(buf);
  } catch {
    return null;
  }
  const c = parsed.ciphertext;
  const offset = c.byteOffset - buf.byteOffset;
  if (c.buffer !== buf.buffer || offset > head.length || offset + c.length !== length) return null;
  return { recipients: parsed.recipients.length, contentAlgorithm: parsed.contentAlgorithm };
}

/** PKCS #1 RSAPrivateKey → PKCS #8 PrivateKeyInfo, the only form WebCrypto imports. */
function toPkcs8(der: Uint8Array): Uint8Array {
  const f = children(der, readRoot(der));
  if (f[1]?.tag !== TAG.INTEGER) return der; // already PKCS #8
  return seq(smallInt(0), algorithm(OID.rsaEncryption, NULL), octetString(der));
}

/** The private key in the forms each key transport needs, derived lazily. */
class KeySource {
  private big?: RsaPrivateKey;
  private readonly oaepKeys = new Map<string, Promise<CryptoKey>>();
  constructor(private readonly key: Uint8Array | CryptoKey) {}

  private async pkcs8(): Promise<Uint8Array> {
    if (this.key instanceof Uint8Array) return this.key;
    if (!this.key.extractable) {
      throw new CmsError('cms_key_invalid', 'Clé privée non exportable : le transport de clé PKCS #1 v1.5 exige ses composantes (WebCrypto ne le propose pas).');
    }
    try {
      return new Uint8Array(await crypto.subtle.exportKey('pkcs8', this.key));
    } catch (e) {
      throw new CmsError('cms_key_invalid', 'Clé privée inutilisable (export PKCS #8 refusé).', { cause: e });
    }
  }

  async rsa(): Promise<RsaPrivateKey> {
    this.big ??= parseRsaPrivateKey(await this.pkcs8());
    return this.big;
  }

  oaep(hash: HashName): Promise<CryptoKey> {
    let p = this.oaepKeys.get(hash);
    if (!p) {
      const k = this.key;
      if (!(k instanceof Uint8Array) && k.algorithm.name === 'RSA-OAEP' && (k.algorithm as RsaHashedKeyAlgorithm).hash.name === hash) {
        p = Promise.resolve(k);
      } else {
        p = this.pkcs8().then(async (der) => {
          parseRsaPrivateKey(der); // typed error for a non-RSA or malformed key
          return crypto.subtle
            .importKey('pkcs8', asBufferSource(toPkcs8(der)), { name: 'RSA-OAEP', hash }, false, ['decrypt'])
            .catch((e: unknown) => {
              throw new CmsError('cms_key_invalid', 'Clé privée refusée par WebCrypto pour RSA-OAEP.', { cause: e });
            });
        });
      }
      this.oaepKeys.set(hash, p);
    }
    return p;
  }
}

async function unwrapKey(source: KeySource, r: KeyTrans, keyBytes: number): Promise<Uint8Array> {
  if (!r.oaep) return pkcs1v15Decrypt(await source.rsa(), r.encryptedKey, keyBytes);
  const key = await source.oaep(r.oaep.hash);
  const params: RsaOaepParams = r.oaep.label ? { name: 'RSA-OAEP', label: asBufferSource(r.oaep.label) } : { name: 'RSA-OAEP' };
  let cek: Uint8Array;
  try {
    cek = new Uint8Array(await crypto.subtle.decrypt(params, key, asBufferSource(r.encryptedKey)));
  } catch (e) {
    throw decryptFailed(e);
  }
  if (cek.length !== keyBytes) throw decryptFailed();
  return cek;
}

/**
 * Decrypts an EnvelopedData. Throws CmsError: cms_malformed, cms_unsupported_algorithm,
 * cms_no_matching_recipient, cms_key_invalid, cms_decrypt_failed, cms_content_missing.
 */
export async function decryptDocument(der: Uint8Array, options: DecryptOptions): Promise<DecryptedDocument> {
  const parsed = parseEnvelopedData(der);
  let candidates = parsed.recipients;
  if (options.certificate) {
    let cert: Cert;
    try {
      cert = parseCertificate(options.certificate.slice());
    } catch (e) {
      throw new CmsError('cms_key_invalid', 'Certificat du destinataire illisible.', { cause: e });
    }
    candidates = candidates.filter((r) => identifies(r.id, cert));
  }
  if (candidates.length === 0) {
    throw new CmsError('cms_no_matching_recipient', 'Ce document n’est chiffré pour aucun des destinataires indiqués (certificat ou clé).');
  }
  const source = new KeySource(options.key);
  const aes = options.aes ?? webCryptoAesCbc;
  let failure: CmsError = decryptFailed();
  for (const r of candidates) {
    let cek: Uint8Array | undefined;
    try {
      cek = await unwrapKey(source, r, parsed.keyBytes);
      let content: Uint8Array;
      try {
        content = await aes.decrypt(cek, parsed.iv, parsed.ciphertext);
      } catch (e) {
        throw e instanceof CmsError ? e : decryptFailed(e);
      }
      return {
        contentType: parsed.contentType,
        content,
        contentEncryption: AES_NAMES[parsed.keyBytes]!,
        keyTransport: r.oaep ? 'rsa-oaep' : 'rsa-pkcs1-v1_5',
        recipientIdentifier: r.id.kind,
      };
    } catch (e) {
      // Another RecipientInfo may be ours (several recipients, no certificate given).
      if (e instanceof CmsError && e.code === 'cms_decrypt_failed') failure = e;
      else throw e;
    } finally {
      cek?.fill(0);
    }
  }
  throw failure;
}
