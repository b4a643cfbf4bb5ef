/**
 * Attachment encryption: EnvelopedData (RFC 5652 §6) as docs/domain/transmission.md §2 requires and
 * `openssl cms -encrypt -binary -aes-128-cbc -outform DER` produces: AES-128-CBC with a fresh
 * key and IV per document, the key transported to one RSA recipient (PKCS #1 v1.5 by default,
 * RSAES-OAEP-SHA-256 as an option), recipient named by issuerAndSerialNumber (default) or
 * subjectKeyIdentifier, binary DER.
 *
 * Speed and memory: the encrypted content is the last field of the whole structure, so the
 * DER is returned as parts, a small header followed by the ciphertext as the AES primitive
 * produced it. Nothing copies the ciphertext again: a Blob, a file write (writev) or a
 * fetch body takes the parts directly; `joinParts` exists for callers that need one buffer.
 */
import { fromHex } from '../pki/der.js';
import { type AesCbc, cbcCiphertextLength, webCryptoAesCbc } from './aes.js';
import { asBufferSource, randomBytes } from './bytes.js';
import { type Compressor, gzip } from './compress.js';
import { NULL, algorithm, concat, header, octetString, oid, seq, set, smallInt, tlv } from './der-writer.js';
import { CmsError } from './errors.js';
import { OID } from './oids.js';
import { type Recipient, assertChecked } from './recipient.js';
import { type RsaPkcs1, bigIntRsaPkcs1 } from './rsa.js';

export type KeyTransport = 'rsa-pkcs1-v1_5' | 'rsa-oaep-sha256';
export type RecipientIdentifier = 'issuer-and-serial' | 'subject-key-identifier';

export interface EncryptOptions {
  /** Default 'rsa-pkcs1-v1_5' (rsaEncryption), what SESAM-Vitale expects. */
  keyTransport?: KeyTransport;
  /** Default 'issuer-and-serial' (version 0 structures, as OpenSSL without -keyid). */
  recipientIdentifier?: RecipientIdentifier;
  /** Compress before encrypting (flag Z): true for gzip, or another Compressor. */
  compress?: boolean | Compressor;
  /** AES-CBC implementation; default WebCrypto. Node callers may pass the node:crypto adapter. */
  aes?: AesCbc;
  /** RSAES-PKCS1-v1_5 implementation; default BigInt. Node callers may pass the node:crypto adapter. */
  rsa?: RsaPkcs1;
  /**
   * The caller hands `data` over: it may be overwritten with ciphertext (and its last partial
   * block zeroed), and the result's parts may be views of it. Used only when the AES
   * implementation can encrypt in place (the Node adapter with its addon); otherwise `data`
   * is left as it is. Saves a copy of the file in memory and runs at OpenSSL's full speed.
   * A compressed buffer is ours, so it is always encrypted in place when possible.
   */
  consumeInput?: boolean;
}

export interface EncryptedDocument {
  /**
   * The ContentInfo DER in order: parts[0] is every byte before the ciphertext, the remaining
   * parts are the ciphertext. Pass them to `new Blob(parts)` or a vectored write as they are.
   */
  parts: Uint8Array<ArrayBuffer>[];
  byteLength: number;
  /** Name of the compressor applied before encryption, or null. */
  compression: string | null;
  keyTransport: KeyTransport;
  recipientIdentifier: RecipientIdentifier;
}

const AES128_KEY_BYTES = 16;
const AES_BLOCK = 16;

/** RSAES-OAEP-params as OpenSSL writes them: SHA-256, MGF1-SHA-256, default (empty) label. */
const OAEP_SHA256_ALGORITHM = seq(
  oid(OID.rsaesOaep),
  seq(tlv(0xa0, algorithm(OID.sha256)), tlv(0xa1, algorithm(OID.mgf1, algorithm(OID.sha256)))),
);
const RSA_PKCS1_ALGORITHM = algorithm(OID.rsaEncryption, NULL);

async function oaepSha256Encrypt(r: Recipient, cek: Uint8Array): Promise<Uint8Array> {
  const s = globalThis.crypto.subtle;
  const key = await s.importKey('spki', asBufferSource(r.cert.spki), { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
  return new Uint8Array(await s.encrypt({ name: 'RSA-OAEP' }, key, asBufferSource(cek)));
}

function recipientId(r: Recipient, kind: RecipientIdentifier): Uint8Array {
  if (kind === 'subject-key-identifier') {
    const ski = r.cert.subjectKeyId;
    if (!ski || ski.length === 0) {
      throw new CmsError('recipient_invalid', 'Le certificat du destinataire n’a pas d’identifiant de clé (subjectKeyIdentifier).', {
        reasons: [{ code: 'ski_missing', message: 'Extension subjectKeyIdentifier absente.' }],
      });
    }
    return tlv(0x80, ski); // [0] IMPLICIT SubjectKeyIdentifier
  }
  return seq(r.cert.issuer.der, tlv(0x02, fromHex(r.cert.serial)));
}

/** Everything before the ciphertext, for a ciphertext of `ctLength` bytes. */
function envelopeHeader(ktri: Uint8Array, version: number, iv: Uint8Array, ctLength: number): Uint8Array<ArrayBuffer> {
  const contentType = oid(OID.data);
  const contentAlg = algorithm(OID.aes128Cbc, octetString(iv));
  const ctHeader = header(0x80, ctLength); // encryptedContent [0] IMPLICIT OCTET STRING
  const eciLength = contentType.length + contentAlg.length + ctHeader.length + ctLength;
  const eciHeader = header(0x30, eciLength);
  const versionInt = smallInt(version);
  const recipientInfos = set(ktri);
  const envLength = versionInt.length + recipientInfos.length + eciHeader.length + eciLength;
  const envHeader = header(0x30, envLength);
  const explicitLength = envHeader.length + envLength;
  const explicitHeader = header(0xa0, explicitLength);
  const outerType = oid(OID.envelopedData);
  const outerHeader = header(0x30, outerType.length + explicitHeader.length + explicitLength);
  return concat([outerHeader, outerType, explicitHeader, envHeader, versionInt, recipientInfos, eciHeader, contentType, contentAlg, ctHeader]);
}

/**
 * Encrypts one document for a checked recipient. Throws CmsError('recipient_invalid') if the
 * recipient did not come from `checkRecipient`.
 */
export async function encryptDocument(data: Uint8Array, recipient: Recipient, options: EncryptOptions = {}): Promise<EncryptedDocument> {
  assertChecked(recipient);
  const keyTransport = options.keyTransport ?? 'rsa-pkcs1-v1_5';
  const recipientIdentifier = options.recipientIdentifier ?? 'issuer-and-serial';
  const aes = options.aes ?? webCryptoAesCbc;
  const compressor = options.compress === true ? gzip : options.compress || null;
  const rid = recipientId(recipient, recipientIdentifier); // fails early, before any work

  const plain = compressor ? await compressor.compress(data) : data;
  const cek = randomBytes(AES128_KEY_BYTES);
  const iv = randomBytes(AES_BLOCK);
  try {
    // Start the bulk encryption first: WebCrypto runs it off the JavaScript thread, and the
    // key transport below (BigInt RSA) overlaps with it.
    const mine = plain !== data; // a compressor's output: nobody else holds it
    const ciphertext =
      aes.encryptInPlace && (mine || options.consumeInput === true) && plain.buffer instanceof ArrayBuffer
        ? aes.encryptInPlace(cek, iv, plain as Uint8Array<ArrayBuffer>)
        : aes.encrypt(cek, iv, plain);
    ciphertext.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
    const encryptedKey =
      keyTransport === 'rsa-oaep-sha256'
        ? await oaepSha256Encrypt(recipient, cek)
        : await (options.rsa ?? bigIntRsaPkcs1).encrypt({ spki: recipient.cert.spki, key: recipient.key }, cek);
    if (encryptedKey.length !== recipient.key.k) throw new CmsError('cms_unsupported_algorithm', 'Implémentation RSA défaillante (longueur du bloc chiffré inattendue).');
    const keyAlg = keyTransport === 'rsa-oaep-sha256' ? OAEP_SHA256_ALGORITHM : RSA_PKCS1_ALGORITHM;
    // RFC 5652 §6.2.1: version 0 with issuerAndSerialNumber, 2 with subjectKeyIdentifier;
    // EnvelopedData follows (§6.1: 0 when every RecipientInfo is version 0, else 2).
    const version = recipientIdentifier === 'subject-key-identifier' ? 2 : 0;
    const ktri = seq(smallInt(version), rid, keyAlg, octetString(encryptedKey));
    const expected = cbcCiphertextLength(plain.length);
    const head = envelopeHeader(ktri, version, iv, expected);
    const ct = await ciphertext;
    let ctLength = 0;
    for (const p of ct) ctLength += p.length;
    if (ctLength !== expected) throw new CmsError('cms_unsupported_algorithm', 'Implémentation AES-CBC défaillante (longueur du chiffré inattendue).');
    return {
      parts: [head, ...ct],
      byteLength: head.length + ctLength,
      compression: compressor ? compressor.name : null,
      keyTransport,
      recipientIdentifier,
    };
  } finally {
    cek.fill(0);
  }
}

/** One buffer from the parts (one copy; prefer passing the parts to a Blob or a file write). */
export function joinParts(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  return concat(parts);
}

/** docs/domain/transmission.md §2: the encrypted file is named after the original, plus `.pkcs7`. */
export function encryptedFileName(name: string): string {
  return `${name}.pkcs7`;
}
