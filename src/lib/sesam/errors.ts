/**
 * Typed errors of the message layer. `code` is stable and machine-readable (tests and callers
 * branch on it); `message` is French, for the practitioner.
 *
 * - SesamFieldError: a value given to a composer (subject field, address, file name...) is not
 *   acceptable. Raised before anything is produced, so a bad field never reaches the wire.
 * - SesamMessageError: a message being read back is malformed or outside our limits.
 */
export type SesamFieldErrorCode =
  | 'invalid_kind'
  | 'invalid_mode'
  | 'invalid_combination'
  | 'invalid_version'
  | 'invalid_exercice'
  | 'invalid_compostage'
  | 'invalid_counter'
  | 'invalid_invoice_count'
  | 'invalid_date'
  | 'invalid_address'
  | 'invalid_filename'
  | 'invalid_header_value'
  | 'invalid_boundary'
  | 'invalid_oct_field'
  | 'invalid_lot'
  | 'missing_oct';

export type SesamMessageErrorCode =
  | 'message_too_large'
  | 'header_too_large'
  | 'header_malformed'
  | 'missing_header'
  | 'duplicate_header'
  | 'content_type_malformed'
  | 'missing_boundary'
  | 'truncated'
  | 'too_deep'
  | 'too_many_parts'
  | 'no_attachment'
  | 'multiple_attachments'
  | 'unsupported_transfer_encoding'
  | 'bad_base64'
  | 'oct_frame_malformed';

export class SesamError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'SesamError';
    this.code = code;
  }
}

export class SesamFieldError extends SesamError {
  declare readonly code: SesamFieldErrorCode;
  /** Which input was refused (e.g. "exercice", "from"). */
  readonly field: string;
  constructor(code: SesamFieldErrorCode, field: string, message: string) {
    super(code, message);
    this.name = 'SesamFieldError';
    this.field = field;
  }
}

export class SesamMessageError extends SesamError {
  declare readonly code: SesamMessageErrorCode;
  /** The header concerned, for missing_header / duplicate_header / header_malformed. */
  readonly header?: string;
  constructor(code: SesamMessageErrorCode, message: string, header?: string) {
    super(code, message);
    this.name = 'SesamMessageError';
    if (header !== undefined) this.header = header;
  }
}

export function isSesamError(e: unknown): e is SesamError {
  return e instanceof SesamError;
}
