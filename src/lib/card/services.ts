/**
 * Card services behind one interface. Two implementations:
 *  (a) `VirtualCardServices` (./virtual-services.ts): our documented virtual CPS/Vitale command set
 *      (bridge/cards/README.md), for the simulator and the tests;
 *  (b) `SsvCardServices` (bridge/services/ssv.ts): where the official SESAM-Vitale library (SSV, "API
 *      Lecture"/"API CPS") is loaded when it is installed. Never required.
 */
import type { CardErrorCode, PinResult } from './protocol.js';
import type { CpsRead, VitaleRead } from './reads.js';

/** One APDU to the card, its response (data and status word). */
export type Transmit = (apdu: Uint8Array) => Promise<Uint8Array>;

/** A reader's PIN pad: part 10 VERIFY_PIN_DIRECT through SCardControl. */
export interface PinPad {
  /**
   * Sends a PIN_VERIFY_STRUCTURE (./pinpad.ts) to the control code the reader advertised;
   * resolves with the card's response APDU, or the pad's own status (6400 timeout, 6401
   * cancel, 6403 length, 6B80 bad parameter).
   */
  verifyPinDirect(structure: Uint8Array): Promise<Uint8Array>;
}

export type { PinResult };

export type CardKind = 'CPS' | 'VITALE';

export type { CpsRead, VitaleRead };

export interface CardCertificates {
  auth: Uint8Array;
  sign?: Uint8Array;
  /** Issuing CA, as stored on the card. */
  ca?: Uint8Array;
}

export class CardServiceError extends Error {
  constructor(
    readonly code: CardErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface CardServices {
  readonly name: string;
  /** Which card this ATR is, for this implementation (null: not ours). */
  identify(atr: Uint8Array | undefined): CardKind | null;
  readCps(tx: Transmit): Promise<CpsRead>;
  readVitale(tx: Transmit): Promise<VitaleRead>;
  /** `pin`: ASCII digits. The implementation wipes every buffer it copies the PIN into. */
  verifyPin(tx: Transmit, pin: Uint8Array): Promise<PinResult>;
  /** The CPS PIN's state without trying it (VERIFY without data): tries left, -1 while verified. */
  pinStatus(tx: Transmit): Promise<{ verified: boolean; triesLeft: number; blocked: boolean }>;
  /**
   * Same, the PIN typed on the reader's pad (PC/SC part 10): same results as `verifyPin`;
   * the pad's own outcomes reject with CardServiceError `pin_pad_*`.
   */
  verifyPinOnPad(tx: Transmit, pad: PinPad): Promise<PinResult>;
  /**
   * PKCS#1 v1.5 signature of a SHA-256 digest with the CPS signature key (PIN verified first).
   * The bridge calls it only within a session that verified the PIN itself (server.ts).
   */
  sign(tx: Transmit, digest: Uint8Array): Promise<Uint8Array>;
  /**
   * Same with the authentication key (CPS: PIN verified; Vitale: none). `digest` is computed by
   * the bridge (SHA-256 of the origin-bound input), never taken from the page.
   */
  authenticate(tx: Transmit, kind: CardKind, digest: Uint8Array): Promise<Uint8Array>;
  certificates(tx: Transmit, kind: CardKind): Promise<CardCertificates>;
}
