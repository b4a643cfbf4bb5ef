/** The CCID driver's typed errors (reason codes; French messages for the settings page). */

export type CcidErrorCode =
  /** The configuration descriptor is malformed (lengths, types, truncation). */
  | 'descriptor_invalid'
  /** No smart-card (class 0Bh) interface with its CCID descriptor and bulk endpoints. */
  | 'not_ccid'
  /** The reader exchanges characters or TPDUs: this driver speaks the APDU levels only. */
  | 'unsupported_level'
  /** An extended APDU to a reader that takes short APDUs only, or an APDU longer than 65 544 bytes. */
  | 'apdu_too_long'
  /**
   * The device could not be opened, configured or claimed: typically another driver holds it
   * (pcscd's CCID driver, the operating system's), or it went away.
   */
  | 'unavailable'
  /** The device refused a transfer (stall), or a transfer failed. */
  | 'transfer_failed'
  /** No answer within the time allowed (time extensions counted). */
  | 'timeout'
  /** A response that does not follow the CCID protocol (type, length, sequence, slot, chaining). */
  | 'protocol'
  /** The reader reports an error for the command (bError), other than a card gone. */
  | 'reader_error'
  /** The device was closed or disconnected. */
  | 'closed';

export class CcidError extends Error {
  constructor(
    readonly code: CcidErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CcidError';
  }
}
