/**
 * Errors of the return files of our own formats (docs/returns/). `code` is stable; `message` is
 * French and names no patient (a return names lots and files, never a person).
 */
export type ReturnFormatErrorCode =
  | 'not_utf8'
  | 'too_large'
  | 'bad_header'
  | 'bad_line'
  | 'bad_field'
  | 'duplicate_lot'
  | 'no_lot'
  | 'too_many_lots'
  | 'missing_end'
  | 'count_mismatch'
  | 'trailing_data';

export class ReturnFormatError extends Error {
  constructor(
    readonly code: ReturnFormatErrorCode,
    /** 1-based line of the file, when the error is about one. */
    readonly line: number | undefined,
    message: string,
  ) {
    super(line === undefined ? message : `ligne ${line} : ${message}`);
    this.name = 'ReturnFormatError';
  }
}
