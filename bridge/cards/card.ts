/**
 * A virtual smart card: a tiny ISO 7816-4 file system with applications selected by AID,
 * transparent files, one PIN with a tries counter, and RSA keys that never leave the card
 * (no command reads them; only signatures come out). See ./README.md for the command set.
 */
import { createHash, privateEncrypt, constants, type KeyObject } from 'node:crypto';
import { SW, parseCommand, response, type Command } from '../../src/lib/card/apdu.js';
import { INS, KEY_REF, PIN_REF, padPin } from '../../src/lib/card/command-set.js';

export { INS, KEY_REF, PIN_REF, padPin };


/** Key references (P2 of INTERNAL AUTHENTICATE; PSO: CDS always uses the signature key). */

export interface VirtualApp {
  aid: Uint8Array;
  /** Transparent EFs by 2-byte file identifier. */
  files: Map<number, Uint8Array>;
  authKey?: KeyObject;
  signKey?: KeyObject;
  /** INTERNAL AUTHENTICATE requires the PIN (CPS: yes; Vitale: no). */
  authNeedsPin: boolean;
}

export interface CardOptions {
  label: string;
  atr: Uint8Array;
  app: VirtualApp;
  /** PIN as ASCII digits; undefined for cards without PIN. */
  pin?: string;
  maxTries?: number;
  /** Tries left at start (0: a blocked card). */
  triesLeft?: number;
  /** Artificial delay of signature commands, ms (tests pull the card meanwhile). */
  signDelayMs?: number;
}

const SHA256_DIGEST_INFO_PREFIX = Uint8Array.from([
  0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
]);

/** PKCS#1 v1.5 signature of a precomputed SHA-256 hash (the card signs digests, not data). */
function signDigest(key: KeyObject, digest: Uint8Array): Uint8Array {
  const di = new Uint8Array(SHA256_DIGEST_INFO_PREFIX.length + 32);
  di.set(SHA256_DIGEST_INFO_PREFIX);
  di.set(digest, SHA256_DIGEST_INFO_PREFIX.length);
  return new Uint8Array(privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, di));
}

const eq = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export class VirtualCard {
  readonly label: string;
  readonly atr: Uint8Array;
  readonly signDelayMs: number;
  private readonly app: VirtualApp;
  private readonly pin?: Uint8Array;
  private readonly maxTries: number;
  private tries: number;
  private selectedApp = false;
  private selectedEf: Uint8Array | null = null;
  private pinOk = false;

  constructor(o: CardOptions) {
    this.label = o.label;
    this.atr = o.atr;
    this.app = o.app;
    this.pin = o.pin === undefined ? undefined : padPin(new TextEncoder().encode(o.pin));
    this.maxTries = o.maxTries ?? 3;
    this.tries = o.triesLeft ?? this.maxTries;
    this.signDelayMs = o.signDelayMs ?? 0;
  }

  /** Power off / on / reset: the security state is lost, the PIN counter is not. */
  reset(): void {
    this.selectedApp = false;
    this.selectedEf = null;
    this.pinOk = false;
  }

  get triesLeft(): number {
    return this.tries;
  }

  /** Processes one command APDU; never throws (malformed input gives an error status). */
  async process(apdu: Uint8Array): Promise<Uint8Array> {
    let c: Command;
    try {
      c = parseCommand(apdu);
    } catch {
      return response(null, SW.WRONG_LENGTH);
    }
    if (c.cla !== 0x00) return response(null, SW.CLA_NOT_SUPPORTED);
    try {
      switch (c.ins) {
        case INS.SELECT:
          return this.select(c);
        case INS.READ_BINARY:
          return this.readBinary(c);
        case INS.VERIFY:
          return this.verify(c);
        case INS.PSO:
          if (c.p1 !== 0x9e || c.p2 !== 0x9a) return response(null, SW.WRONG_P1P2);
          return await this.sign(this.app.signKey, c.data, true);
        case INS.INTERNAL_AUTHENTICATE:
          if (c.p1 !== 0x00 || c.p2 !== KEY_REF.AUTH) return response(null, SW.WRONG_P1P2);
          return await this.sign(this.app.authKey, c.data, this.app.authNeedsPin);
        default:
          return response(null, SW.INS_NOT_SUPPORTED);
      }
    } catch {
      return response(null, SW.NO_PRECISE_DIAGNOSIS);
    }
  }

  private select(c: Command): Uint8Array {
    if (c.p1 === 0x04) {
      if (!eq(c.data, this.app.aid)) return response(null, SW.FILE_NOT_FOUND);
      // Re-selecting the (only) application keeps its security state, as on most cards.
      this.selectedApp = true;
      this.selectedEf = null;
      return response(null, SW.OK);
    }
    if (c.p1 === 0x02 || c.p1 === 0x00) {
      if (!this.selectedApp) return response(null, SW.FILE_NOT_FOUND);
      if (c.data.length !== 2) return response(null, SW.WRONG_LENGTH);
      const f = this.app.files.get((c.data[0]! << 8) | c.data[1]!);
      if (!f) return response(null, SW.FILE_NOT_FOUND);
      this.selectedEf = f;
      // FCP reduced to the file size (tag 80), unless P2 = 0C (no response data).
      return response(c.p2 === 0x0c ? null : Uint8Array.of(0x62, 0x04, 0x80, 0x02, f.length >> 8, f.length & 0xff), SW.OK);
    }
    return response(null, SW.WRONG_P1P2);
  }

  private readBinary(c: Command): Uint8Array {
    if (!this.selectedEf) return response(null, SW.CONDITIONS_NOT_SATISFIED);
    if (c.p1 & 0x80) return response(null, SW.WRONG_P1P2);
    const off = (c.p1 << 8) | c.p2;
    if (off > this.selectedEf.length) return response(null, SW.WRONG_P1P2);
    const n = Math.min(c.le ?? 256, this.selectedEf.length - off);
    return response(this.selectedEf.subarray(off, off + n), SW.OK);
  }

  private verify(c: Command): Uint8Array {
    if (!this.selectedApp) return response(null, SW.CONDITIONS_NOT_SATISFIED);
    if (c.p1 !== 0x00 || c.p2 !== PIN_REF || !this.pin) return response(null, SW.WRONG_P1P2);
    if (this.tries === 0) return response(null, SW.AUTH_METHOD_BLOCKED);
    if (c.data.length === 0) return response(null, this.pinOk ? SW.OK : SW.verifyFailed(this.tries));
    if (c.data.length !== 8) return response(null, SW.WRONG_LENGTH);
    if (eq(c.data, this.pin)) {
      this.tries = this.maxTries;
      this.pinOk = true;
      return response(null, SW.OK);
    }
    this.tries--;
    this.pinOk = false;
    return response(null, this.tries === 0 ? SW.AUTH_METHOD_BLOCKED : SW.verifyFailed(this.tries));
  }

  private async sign(key: KeyObject | undefined, data: Uint8Array, needsPin: boolean): Promise<Uint8Array> {
    if (!this.selectedApp || !key) return response(null, SW.CONDITIONS_NOT_SATISFIED);
    if (needsPin && !this.pinOk) return response(null, SW.SECURITY_NOT_SATISFIED);
    if (data.length !== 32) return response(null, SW.WRONG_DATA);
    if (this.signDelayMs) await new Promise((r) => setTimeout(r, this.signDelayMs));
    return response(signDigest(key, data), SW.OK);
  }
}


export const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
