/**
 * CCID messages in HID reports, for readers and PIN pads reached through WebHID (issue 17).
 * There is no published HID class for smart-card readers: this is OUR report mapping, written
 * down in docs/card-transports.md, for a reader firmware (or an adapter) that frames the CCID
 * messages it would send on USB bulk and interrupt pipes into HID reports:
 *
 *   collection   usage page FFA0h (vendor-defined), usage 01h
 *   output 01h   64 bytes: a frame of a host-to-reader CCID message
 *   input  02h   64 bytes: a frame of a reader-to-host CCID message
 *   input  03h   64 bytes: one CCID notification (NotifySlotChange, HardwareError), zero-padded
 *   feature 04h  the 54-byte CCID class descriptor (slots, exchange level, message size, PIN support)
 *
 *   frame        byte 0: b7 first frame of the message, b6 last frame, b5–0 frame number (mod 64)
 *                byte 1: payload length (0–62)    bytes 2–63: payload, zero-padded
 *
 * Everything above the framing — descriptor fields, commands, chaining, time extensions,
 * Secure for the pad — is the CCID driver's (./driver.ts), shared with WebUSB.
 */
import { concatBytes } from '../bytes.js';
import { parseCcidClassDescriptor, type CcidClass } from './descriptor.js';
import { CcidError } from './errors.js';
import type { CcidLink } from './link.js';

export const HID_REPORT = { OUT: 0x01, IN: 0x02, NOTIFY: 0x03, DESCRIPTOR: 0x04 } as const;
/** requestDevice filter of the readers this mapping is for. */
export const HID_CCID_USAGE = { usagePage: 0xffa0, usage: 0x01 } as const;
export const HID_FRAME_BYTES = 64;
const PAYLOAD = HID_FRAME_BYTES - 2;
const FIRST = 0x80;
const LAST = 0x40;

/** Splits one message into frames. */
export function hidFrames(message: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const n = Math.max(1, Math.ceil(message.length / PAYLOAD));
  for (let i = 0; i < n; i++) {
    const part = message.subarray(i * PAYLOAD, (i + 1) * PAYLOAD);
    const f = new Uint8Array(HID_FRAME_BYTES);
    f[0] = (i === 0 ? FIRST : 0) | (i === n - 1 ? LAST : 0) | (i & 0x3f);
    f[1] = part.length;
    f.set(part, 2);
    out.push(f);
  }
  return out;
}

/** Joins frames into messages; a frame out of order or malformed throws CcidError `protocol`. */
export class HidFrameJoiner {
  private parts: Uint8Array[] | null = null;
  constructor(private readonly maxMessage: number) {}

  /** The whole message when `frame` is its last, else null. */
  push(frame: Uint8Array): Uint8Array | null {
    if (frame.length < 2 || frame[1]! > PAYLOAD || frame.length < 2 + frame[1]!) {
      this.parts = null;
      throw new CcidError('protocol', 'trame HID malformée');
    }
    const ctl = frame[0]!;
    const payload = frame.slice(2, 2 + frame[1]!);
    if (ctl & FIRST) this.parts = [];
    else if (!this.parts || (ctl & 0x3f) !== (this.parts.length & 0x3f)) {
      this.parts = null;
      throw new CcidError('protocol', 'trame HID hors séquence');
    }
    this.parts!.push(payload);
    const size = this.parts!.reduce((a, p) => a + p.length, 0);
    if (size > this.maxMessage) {
      this.parts = null;
      throw new CcidError('protocol', `message HID de plus de ${this.maxMessage} octets`);
    }
    if (!(ctl & LAST)) return null;
    const out = concatBytes(this.parts!);
    this.parts = null;
    return out;
  }
}

export interface HidInputReportEventLike {
  readonly reportId: number;
  readonly data: DataView;
}

/** The part of WebHID's `HIDDevice` used (structural: the browser's object satisfies it). */
export interface HidDeviceLike {
  readonly vendorId: number;
  readonly productId: number;
  readonly productName: string;
  readonly opened: boolean;
  open(): Promise<void>;
  close(): Promise<void>;
  sendReport(reportId: number, data: Uint8Array): Promise<void>;
  receiveFeatureReport(reportId: number): Promise<DataView>;
  addEventListener(type: 'inputreport', listener: (e: HidInputReportEventLike) => void): void;
  removeEventListener(type: 'inputreport', listener: (e: HidInputReportEventLike) => void): void;
}

/** A queue whose readers wait; failed for good on close. */
class Inbox {
  private readonly items: Array<Uint8Array | CcidError> = [];
  private readonly waiters: Array<{ resolve: (b: Uint8Array) => void; reject: (e: Error) => void }> = [];
  private closedWith: CcidError | null = null;
  put(x: Uint8Array | CcidError): void {
    const w = this.waiters.shift();
    if (!w) return void this.items.push(x);
    if (x instanceof CcidError) w.reject(x);
    else w.resolve(x);
  }
  take(): Promise<Uint8Array> {
    const x = this.items.shift();
    if (x) return x instanceof CcidError ? Promise.reject(x) : Promise.resolve(x);
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }
  close(e: CcidError): void {
    this.closedWith = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }
}

const view = (d: DataView): Uint8Array => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

export class HidCcidLink implements CcidLink {
  readonly kind = 'webhid';
  readonly product: string;
  readonly notifies = true;
  private readonly messages = new Inbox();
  private readonly notifications = new Inbox();
  private readonly joiner: HidFrameJoiner;
  private readonly onReport = (e: HidInputReportEventLike): void => {
    const b = view(e.data);
    if (e.reportId === HID_REPORT.NOTIFY) {
      this.notifications.put(b.slice());
      return;
    }
    if (e.reportId !== HID_REPORT.IN) return;
    try {
      const m = this.joiner.push(b);
      if (m) this.messages.put(m);
    } catch (err) {
      this.messages.put(err as CcidError);
    }
  };

  private constructor(
    private readonly device: HidDeviceLike,
    readonly ccid: CcidClass,
  ) {
    this.product = device.productName?.trim() || 'Lecteur HID';
    this.joiner = new HidFrameJoiner(ccid.maxMessageLength);
    device.addEventListener('inputreport', this.onReport);
  }

  /** Opens the device and reads the CCID class descriptor from its feature report. Throws CcidError. */
  static async open(device: HidDeviceLike): Promise<HidCcidLink> {
    try {
      if (!device.opened) await device.open();
    } catch (e) {
      throw new CcidError('unavailable', `ouverture du lecteur HID : ${(e as Error).message}`);
    }
    let d: DataView;
    try {
      d = await device.receiveFeatureReport(HID_REPORT.DESCRIPTOR);
    } catch (e) {
      throw new CcidError('not_ccid', `ce périphérique HID ne donne pas de descripteur CCID : ${(e as Error).message}`);
    }
    // Browsers give the report with or without its ID byte: the descriptor starts with 36h 21h.
    let b = view(d);
    if (b[0] === HID_REPORT.DESCRIPTOR && b[1] === 0x36) b = b.subarray(1);
    return new HidCcidLink(device, parseCcidClassDescriptor(b.subarray(0, 0x36)));
  }

  async send(message: Uint8Array): Promise<void> {
    const frames = hidFrames(message);
    try {
      for (const f of frames) await this.device.sendReport(HID_REPORT.OUT, f);
    } catch (e) {
      throw new CcidError('transfer_failed', `envoi au lecteur HID : ${(e as Error).message}`);
    } finally {
      for (const f of frames) f.fill(0); // may hold a PIN
    }
  }

  receive(): Promise<Uint8Array> {
    return this.messages.take();
  }

  notification(): Promise<Uint8Array | null> {
    return this.notifications.take();
  }

  async close(): Promise<void> {
    this.device.removeEventListener('inputreport', this.onReport);
    const e = new CcidError('closed', 'lecteur fermé');
    this.messages.close(e);
    this.notifications.close(e);
    await this.device.close().catch(() => undefined);
  }
}
