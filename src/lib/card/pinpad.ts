/**
 * Secure PIN entry on PIN-pad readers, PC/SC part 10 v2.02.09 §2.5.2 (FEATURE_VERIFY_PIN_DIRECT).
 * The bridge sends the reader a PIN_VERIFY_STRUCTURE holding a VERIFY APDU template; the
 * practitioner types the PIN on the pad, the reader writes it into the template and sends the
 * APDU to the card itself. The PIN never reaches this process (SP4).
 *
 * Layout (packed, multi-byte fields little-endian as pcsc-lite's reader.h and the CCID driver
 * expect), 19 bytes then abData:
 *   0 bTimerOut  1 bTimerOut2  2 bmFormatString  3 bmPINBlockString  4 bmPINLengthFormat
 *   5 wPINMaxExtraDigit (2: max digits, min digits)  7 bEntryValidationCondition
 *   8 bNumberMessage  9 wLangId (2)  11 bMsgIndex  12 bTeoPrologue (3)  15 ulDataLength (4)
 *   19 abData
 */

import type { PinPadErrorCode } from './protocol.js';

/** Part 10 feature tag of FEATURE_VERIFY_PIN_DIRECT. */
export const FEATURE_VERIFY_PIN_DIRECT = 0x06;
/** wLangId of the pad's messages: French (France). */
export const LANG_FR = 0x040c;
export const PIN_VERIFY_HEADER = 19;

/** Where and how the card wants the PIN inside the VERIFY data (what the pad must fill in). */
export interface PinBlockFormat {
  /** Byte offset of the first PIN digit inside the APDU data (after Lc). */
  offset: number;
  /** PIN block size in bytes (the template's padding is kept beyond the digits). */
  blockBytes: number;
  minDigits: number;
  maxDigits: number;
  /** ASCII digits ('0'…'9'), left-justified: the only encoding our cards use. */
  encoding: 'ascii';
}

export interface PinPadTiming {
  /** Seconds to wait for the first key (bTimerOut); 0 lets the reader choose. */
  timeoutS: number;
  /** Seconds allowed after the first key (bTimerOut2). */
  afterFirstKeyS: number;
}

export const DEFAULT_PIN_PAD_TIMING: PinPadTiming = { timeoutS: 30, afterFirstKeyS: 30 };

/** bEntryValidationCondition: the practitioner confirms with the pad's OK key. */
const VALIDATE_WITH_KEY = 0x02;

/** Builds the PIN_VERIFY_STRUCTURE for `template` (the VERIFY APDU with the PIN block padded). */
export function pinVerifyStructure(template: Uint8Array, f: PinBlockFormat, t: PinPadTiming = DEFAULT_PIN_PAD_TIMING): Uint8Array {
  if (template.length < 5 || template[4] !== template.length - 5) throw new RangeError('VERIFY template must be a case 3 APDU');
  if (f.offset > 15 || f.blockBytes < 1 || f.blockBytes > 15 || f.offset + f.blockBytes > template[4]!) throw new RangeError('PIN block outside the template');
  if (f.minDigits < 1 || f.maxDigits > 255 || f.minDigits > f.maxDigits || f.maxDigits > f.blockBytes) throw new RangeError('bad PIN length bounds');
  const s = new Uint8Array(PIN_VERIFY_HEADER + template.length);
  const v = new DataView(s.buffer);
  s[0] = t.timeoutS;
  s[1] = t.afterFirstKeyS;
  // bmFormatString: b7 system units are bytes, b6-3 PIN position in units, b2 left justify (0),
  // b1-0 format 10 = ASCII.
  s[2] = 0x80 | (f.offset << 3) | 0x02;
  // bmPINBlockString: b7-4 size of the PIN length field (0: the card takes no length), b3-0
  // PIN block size in bytes.
  s[3] = f.blockBytes;
  // bmPINLengthFormat: no PIN length written into the APDU.
  s[4] = 0x00;
  // wPINMaxExtraDigit 0xXXYY, XX = minimum, YY = maximum digits.
  v.setUint16(5, (f.minDigits << 8) | f.maxDigits, true);
  s[7] = VALIDATE_WITH_KEY;
  // One message: "enter PIN" (bMsgIndex 0), in French.
  s[8] = 0x01;
  v.setUint16(9, LANG_FR, true);
  s[11] = 0x00;
  // bTeoPrologue: T=1 prologue, filled by the driver (00 00 00).
  v.setUint32(15, template.length, true);
  s.set(template, PIN_VERIFY_HEADER);
  return s;
}

/** What the pad itself answers instead of the card (part 10 §2.5.2 and CCID). */
export const PIN_PAD_SW: ReadonlyMap<number, PinPadErrorCode> = new Map([
  [0x6400, 'pin_pad_timeout'],
  [0x6401, 'pin_pad_cancelled'],
  [0x6403, 'pin_pad_length'],
  [0x6b80, 'pin_pad_invalid'],
]);

/** The practitioner-facing messages (French UI). */
export const PIN_PAD_MESSAGES: Readonly<Record<PinPadErrorCode, string>> = {
  pin_pad_timeout: 'Délai dépassé : aucun code PIN validé sur le clavier du lecteur.',
  pin_pad_cancelled: 'Saisie du code PIN annulée sur le lecteur.',
  pin_pad_length: 'Le code PIN saisi sur le lecteur doit compter 4 à 8 chiffres.',
  pin_pad_invalid: 'Le lecteur a refusé les paramètres de saisie sécurisée du code PIN.',
};
