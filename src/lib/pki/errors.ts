/**
 * Typed errors of the PKI core. `code` is stable and machine-readable; `message` is French,
 * for the practitioner. Parsing failures are thrown as PkiError; validation failures are
 * collected as VerifyIssue values in the result.
 */
export type PkiErrorCode =
  | 'der_malformed'
  | 'pem_malformed'
  | 'input_unrecognised'
  | 'cert_malformed'
  | 'crl_malformed'
  | 'name_malformed'
  | 'extension_malformed'
  | 'input_too_large'
  | 'unsupported_algorithm';

export class PkiError extends Error {
  readonly code: PkiErrorCode;
  constructor(code: PkiErrorCode, message: string) {
    super(message);
    this.name = 'PkiError';
    this.code = code;
  }
}

export function isPkiError(e: unknown): e is PkiError {
  return e instanceof PkiError;
}
