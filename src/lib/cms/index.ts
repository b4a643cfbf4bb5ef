/**
 * CMS (RFC 5652) core for attachment encryption and signed service messages
 * (docs/domain/transmission.md §2, §9). Isomorphic: WebCrypto and BigInt only, so the PWA
 * encrypts lots in the browser for their final recipient and the relay never sees plaintext.
 *
 *   const r = await checkRecipient(certDer, { anchors, intermediates, crls, email: 'amo_pj.test@test.rss.fr' });
 *   const doc = await encryptDocument(lot, r, { compress: profileHasZ });
 *   const file = new File(doc.parts, encryptedFileName('lot.b2'));   // no copy of the ciphertext
 *
 *   const { content } = await decryptDocument(der, { key: pkcs8Der, certificate });
 *   const { signers } = await verifySigned(der);   // then validate signers[0].certificate
 *
 * Every failure is a CmsError with a stable `code` and a French `message`.
 */
import { decryptDocument as decryptImpl, type DecryptOptions, type DecryptedDocument } from './decrypt.js';
import { encryptDocument as encryptImpl, type EncryptOptions, type EncryptedDocument } from './envelope.js';
import { typedErrors } from './errors.js';
import { type InsecureSkipVerify, type Recipient, type RecipientPolicy, checkRecipient as checkImpl } from './recipient.js';
import { verifySigned as verifyImpl, type SignedResult, type VerifySignedOptions } from './signed.js';
import { signData as signImpl, type SignOptions } from './sign.js';

export { CmsError, isCmsError, type CmsErrorCode, type CmsReason } from './errors.js';
export { type AesCbc, webCryptoAesCbc, cbcCiphertextLength } from './aes.js';
export { type RsaPkcs1, type RsaPublicKey, bigIntRsaPkcs1 } from './rsa.js';
export { type Compressor, gzip, DEFAULT_MAX_DECOMPRESSED } from './compress.js';
export { joinParts, encryptedFileName } from './envelope.js';
export type { EncryptOptions, EncryptedDocument, KeyTransport, RecipientIdentifier } from './envelope.js';
export type { DecryptOptions, DecryptedDocument } from './decrypt.js';
export type { InsecureSkipVerify, Recipient, RecipientPolicy } from './recipient.js';
export type { SignedResult, SignerResult, VerifySignedOptions } from './signed.js';
export type { SignOptions } from './sign.js';
export { OID as CMS_OID } from './oids.js';

/**
 * Parses the recipient certificate and validates it with the sesam-vitale-attachment profile
 * (or records an explicit `{ insecureSkipVerify: true }`, for tests). Throws
 * CmsError('recipient_invalid') with the Verifier's reasons in `reasons`.
 */
export function checkRecipient(certDer: Uint8Array, policy: RecipientPolicy | InsecureSkipVerify): Promise<Recipient> {
  return typedErrors('recipient_invalid', () => checkImpl(certDer, policy));
}

/** Encrypts one document (EnvelopedData, DER as parts) for a recipient from `checkRecipient`. */
export function encryptDocument(data: Uint8Array, recipient: Recipient, options?: EncryptOptions): Promise<EncryptedDocument> {
  return typedErrors('cms_unsupported_algorithm', () => encryptImpl(data, recipient, options));
}

/** Checks the recipient, then encrypts: for one-off documents (lots reuse `checkRecipient`). */
export async function encryptFor(
  data: Uint8Array,
  certDer: Uint8Array,
  policy: RecipientPolicy | InsecureSkipVerify,
  options?: EncryptOptions,
): Promise<EncryptedDocument> {
  return encryptDocument(data, await checkRecipient(certDer, policy), options);
}

/** Decrypts an EnvelopedData (DER or BER) with the recipient's RSA private key. */
export function decryptDocument(der: Uint8Array, options: DecryptOptions): Promise<DecryptedDocument> {
  return typedErrors('cms_malformed', () => decryptImpl(der, options));
}

/** Verifies a SignedData; the returned signer certificates still need PKI validation. */
export function verifySigned(der: Uint8Array, options?: VerifySignedOptions): Promise<SignedResult> {
  return typedErrors('cms_malformed', () => verifyImpl(der, options));
}

/** Signs `content` (SignedData, SHA-256, RSA PKCS #1 v1.5); a certificate that cannot be read is cms_malformed. */
export function signData(content: Uint8Array, options: SignOptions): Promise<Uint8Array> {
  return typedErrors('cms_malformed', () => signImpl(content, options));
}
