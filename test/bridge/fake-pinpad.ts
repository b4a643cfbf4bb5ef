/**
 * A fake PIN-pad reader for the tests. vpcd (the only reader the test stack has) offers no
 * PC/SC part 10 features, so the bridge's pad branch cannot be reached on the real stack: this
 * fake stands in for the reader's firmware. It checks the PIN_VERIFY_STRUCTURE the bridge sends
 * the way a CCID reader would, "types" the scripted digits into the VERIFY template, sends the
 * APDU to the virtual card and returns its answer, or answers as a pad does (timeout, cancel…).
 */
import type { PinPad, ReaderState, Transmit } from '../../bridge/transport.js';
import type { CardTransportEvents } from '../../src/lib/card/transport.js';
import { SimulatedTransport } from '../../bridge/transport.js';

export type PadAction = { digits: string } | 'timeout' | 'cancel';

export interface ParsedPinVerify {
  timeoutS: number;
  afterFirstKeyS: number;
  unitsBytes: boolean;
  position: number;
  rightJustify: boolean;
  format: number;
  pinLengthBits: number;
  blockBytes: number;
  pinLengthFormat: number;
  minDigits: number;
  maxDigits: number;
  validation: number;
  messages: number;
  langId: number;
  msgIndex: number;
  teoPrologue: number[];
  data: Uint8Array;
}

/** Reads a PIN_VERIFY_STRUCTURE field by field, little-endian (written independently of bridge/pinpad.ts). */
export function parsePinVerify(b: Uint8Array): ParsedPinVerify | null {
  if (b.length < 19) return null;
  const len = b[15]! | (b[16]! << 8) | (b[17]! << 16) | (b[18]! << 24);
  if (len !== b.length - 19) return null;
  return {
    timeoutS: b[0]!,
    afterFirstKeyS: b[1]!,
    unitsBytes: (b[2]! & 0x80) !== 0,
    position: (b[2]! >> 3) & 0x0f,
    rightJustify: (b[2]! & 0x04) !== 0,
    format: b[2]! & 0x03,
    pinLengthBits: b[3]! >> 4,
    blockBytes: b[3]! & 0x0f,
    pinLengthFormat: b[4]!,
    // wPINMaxExtraDigit = 0xXXYY (XX min, YY max), little-endian: YY first.
    maxDigits: b[5]!,
    minDigits: b[6]!,
    validation: b[7]!,
    messages: b[8]!,
    langId: b[9]! | (b[10]! << 8),
    msgIndex: b[11]!,
    teoPrologue: [b[12]!, b[13]!, b[14]!],
    data: b.slice(19),
  };
}

const sw = (x: number): Uint8Array => Uint8Array.of(x >> 8, x & 0xff);

export class FakePinPad {
  /** What the practitioner will do on the pad, one entry per verification. */
  readonly script: PadAction[] = [];
  /** Every structure received, parsed (null when malformed). */
  readonly received: Array<ParsedPinVerify | null> = [];
  /** Every APDU sent to the card, copied before the fake wipes its own buffer (test only). */
  readonly apdus: Uint8Array[] = [];
  /** Behave as a reader that supports none of the requested formats (answers 6B80). */
  refuseParameters = false;

  async verify(structure: Uint8Array, tx: Transmit): Promise<Uint8Array> {
    const p = parsePinVerify(structure);
    this.received.push(p);
    // What a CCID reader refuses: 6B80 (invalid parameter).
    if (!p || this.refuseParameters || !p.unitsBytes || p.format !== 0x02 || p.rightJustify || p.pinLengthBits !== 0 || p.pinLengthFormat !== 0) return sw(0x6b80);
    if (p.data.length < 5 || p.data[4] !== p.data.length - 5 || p.position + p.blockBytes > p.data[4]!) return sw(0x6b80);
    if (p.minDigits > p.maxDigits || p.maxDigits > p.blockBytes) return sw(0x6b80);
    const action = this.script.shift() ?? 'timeout';
    if (action === 'timeout') return sw(0x6400);
    if (action === 'cancel') return sw(0x6401);
    if (action.digits.length < p.minDigits || action.digits.length > p.maxDigits) return sw(0x6403);
    const apdu = p.data.slice();
    for (let i = 0; i < action.digits.length; i++) apdu[5 + p.position + i] = action.digits.charCodeAt(i);
    this.apdus.push(apdu.slice());
    try {
      return await tx(apdu);
    } finally {
      apdu.fill(0);
    }
  }
}

/** Simulated readers where some have the fake pad (and report `pinPad`). */
export class PadReaderTransport extends SimulatedTransport {
  constructor(
    names: string[],
    private readonly padReaders: Set<string>,
    readonly pad: FakePinPad,
  ) {
    super(names);
  }

  override readers(): ReaderState[] {
    return super.readers().map((r) => ({ ...r, pinPad: this.padReaders.has(r.name) }));
  }

  /** Insertions carry `pinPad`, as the PC/SC transport's do. */
  override emit<K>(event: K | keyof CardTransportEvents, ...args: K extends keyof CardTransportEvents ? CardTransportEvents[K] : never): boolean {
    if (event === 'inserted') {
      const r = args[0] as ReaderState;
      return super.emit('inserted', { ...r, pinPad: this.padReaders.has(r.name) });
    }
    return super.emit(event, ...args);
  }

  override withCard<T>(reader: string, fn: (tx: Transmit, pad: PinPad | null) => Promise<T>): Promise<T> {
    return super.withCard(reader, (tx) => fn(tx, this.padReaders.has(reader) ? { verifyPinDirect: (s) => this.pad.verify(s, tx) } : null));
  }
}
