/**
 * Typed errors of the CMS core. `code` is stable and machine-readable; `message` is French,
 * for the practitioner. Every failure of parsing, decryption or verification surfaces as a
 * CmsError: callers never have to catch anything else from this module.
 */
export type CmsErrorCode =
  /** Not a well-formed CMS object (bad DER/BER, wrong structure, truncated). */
  | 'cms_malformed'
  /** Well-formed but uses an algorithm or feature we do not implement (or refuse: 3-DES, MD5). */
  | 'cms_unsupported_algorithm'
  /** No RecipientInfo matches the given certificate / key. */
  | 'cms_no_matching_recipient'
  /** Key transport or content decryption failed (wrong key, bad padding, corrupted data). */
  | 'cms_decrypt_failed'
  /** A SignerInfo signature does not verify. */
  | 'cms_signature_invalid'
  /** The message-digest signed attribute does not match the content. */
  | 'cms_digest_mismatch'
  /** The content-type signed attribute does not match eContentType. */
  | 'cms_content_type_mismatch'
  /** No certificate for a SignerInfo, neither in the SignedData nor given by the caller. */
  | 'cms_signer_not_found'
  /** Detached signature and no content given (or content given twice). */
  | 'cms_content_missing'
  /** The private key cannot be used (not RSA, malformed PKCS #8, not extractable). */
  | 'cms_key_invalid'
  /** Decompressed data larger than allowed, or not valid compressed data. */
  | 'cms_decompress_failed'
  /** The recipient certificate fails the sesam-vitale-attachment profile (see `reasons`). */
  | 'recipient_invalid';

/** One validation reason, as produced by the PKI Verifier. */
export interface CmsReason {
  code: string;
  message: string;
}

export class CmsError extends Error {
  readonly code: CmsErrorCode;
  /** For `recipient_invalid`: the Verifier's reason codes and messages. */
  readonly reasons: CmsReason[];
  constructor(code: CmsErrorCode, message: string, options?: { reasons?: CmsReason[]; cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'CmsError';
    this.code = code;
    this.reasons = options?.reasons ?? [];
  }
}

export function isCmsError(e: unknown): e is CmsError {
  return e instanceof CmsError;
}

export function malformed(detail: string): CmsError {
  return new CmsError('cms_malformed', `Objet CMS invalide : ${detail}.`);
}

export function unsupported(detail: string): CmsError {
  return new CmsError('cms_unsupported_algorithm', `Algorithme ou structure CMS non pris en charge : ${detail}.`);
}

/** One message for every decryption failure, so that the failure says nothing about where it happened. */
export function decryptFailed(cause?: unknown): CmsError {
  return new CmsError(
    'cms_decrypt_failed',
    'Déchiffrement impossible : clé privée incorrecte ou données altérées.',
    cause !== undefined ? { cause } : undefined,
  );
}

/**
 * Runs `f` and turns anything that is not a CmsError into CmsError(`code`): the public entry
 * points promise typed errors only. Such an error is a bug of ours, hence "erreur interne".
 */
export async function typedErrors<T>(code: CmsErrorCode, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof CmsError) throw e;
    throw new CmsError(code, `Objet CMS illisible (erreur interne : ${e instanceof Error ? e.message : String(e)}).`, { cause: e });
  }
}
