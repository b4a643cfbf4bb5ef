/** CCID over WebUSB: the smart-card interface claimed, messages on its bulk pipes, notifications on its interrupt pipe. */
import { configurationTotalLength, parseCcidConfiguration, type CcidDescriptor } from './descriptor.js';
import { CcidError } from './errors.js';
import type { CcidLink } from './link.js';
import type { UsbDeviceLike, UsbInTransferResult } from './usb.js';

const GET_DESCRIPTOR = 0x06;
const CONFIGURATION_DESCRIPTOR = 0x0200;
/** An interrupt pipe that keeps stalling is given up (the driver then polls). */
const MAX_INTERRUPT_STALLS = 3;

const bytesOf = (r: UsbInTransferResult): Uint8Array => (r.data ? new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength) : new Uint8Array(0));

export function timed<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new CcidError('timeout', `${what} : pas de réponse du lecteur en ${ms} ms`)), ms);
    p.then(
      (v) => { clearTimeout(t); resolve(v); },
      (e: unknown) => { clearTimeout(t); reject(e); },
    );
  });
}

/** Reads the raw configuration descriptor: its first 9 bytes for wTotalLength, then the whole. */
export async function readConfigurationDescriptor(device: UsbDeviceLike): Promise<Uint8Array> {
  const get = async (length: number): Promise<Uint8Array> => {
    const r = await device.controlTransferIn({ requestType: 'standard', recipient: 'device', request: GET_DESCRIPTOR, value: CONFIGURATION_DESCRIPTOR, index: 0 }, length);
    if (r.status !== 'ok') throw new CcidError('transfer_failed', `lecture du descripteur USB : ${r.status}`);
    return bytesOf(r).slice();
  };
  const total = configurationTotalLength(await get(9));
  return get(total);
}

/** The browser's own refusals (DOMException) become typed errors: the settings page says which. */
async function step<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw e instanceof CcidError ? e : new CcidError('unavailable', `${what} : ${(e as Error).message ?? String(e)}`);
  }
}

export class UsbCcidLink implements CcidLink {
  readonly kind = 'webusb';
  readonly product: string;
  readonly notifies: boolean;
  private stalls = 0;

  private constructor(
    private readonly device: UsbDeviceLike,
    readonly ccid: CcidDescriptor,
  ) {
    this.product = device.productName?.trim() || 'Lecteur CCID';
    this.notifies = ccid.interruptIn !== undefined;
  }

  /**
   * Opens the device, reads its descriptors and claims the smart-card interface. Throws
   * CcidError (`not_ccid`, `unsupported_level`, `descriptor_invalid`, `unavailable` — a reader
   * held by another driver, pcscd's or the system's, cannot be claimed —, `timeout`).
   */
  static async open(device: UsbDeviceLike, timeoutMs: number): Promise<UsbCcidLink> {
    if (!device.opened) await step('ouverture du lecteur USB', () => device.open());
    const raw = await step('lecture du descripteur USB', () => timed(readConfigurationDescriptor(device), timeoutMs, 'descripteur USB'));
    const d = parseCcidConfiguration(raw);
    if (d.level === 'character' || d.level === 'tpdu') {
      throw new CcidError('unsupported_level', `ce lecteur échange au niveau ${d.level === 'tpdu' ? 'TPDU' : 'caractère'} : seuls les lecteurs au niveau APDU sont pris en charge`);
    }
    if (device.configuration?.configurationValue !== d.configurationValue) {
      await step('choix de la configuration USB', () => device.selectConfiguration(d.configurationValue));
    }
    await step("réservation de l'interface du lecteur (un autre pilote la tient-il ?)", () => device.claimInterface(d.interfaceNumber));
    return new UsbCcidLink(device, d);
  }

  async send(message: Uint8Array): Promise<void> {
    let out;
    try {
      out = await this.device.transferOut(this.ccid.bulkOut, message);
    } catch (e) {
      throw new CcidError('closed', `envoi au lecteur : ${(e as Error).message}`);
    }
    if (out.status !== 'ok' || out.bytesWritten !== message.length) {
      if (out.status === 'stall') await this.device.clearHalt('out', this.ccid.bulkOut).catch(() => undefined);
      throw new CcidError('transfer_failed', `envoi au lecteur : ${out.status}`);
    }
  }

  async receive(maxLength: number): Promise<Uint8Array> {
    let r: UsbInTransferResult;
    try {
      r = await this.device.transferIn(this.ccid.bulkIn, Math.max(maxLength, 64));
    } catch (e) {
      throw new CcidError('closed', `réception du lecteur : ${(e as Error).message}`);
    }
    if (r.status !== 'ok') {
      if (r.status === 'stall') await this.device.clearHalt('in', this.ccid.bulkIn).catch(() => undefined);
      throw new CcidError('transfer_failed', `réception du lecteur : ${r.status}`);
    }
    return bytesOf(r);
  }

  async notification(): Promise<Uint8Array | null> {
    const ep = this.ccid.interruptIn;
    if (ep === undefined) return null;
    for (;;) {
      let r: UsbInTransferResult;
      try {
        r = await this.device.transferIn(ep, this.ccid.interruptPacketSize ?? 8);
      } catch (e) {
        throw new CcidError('closed', `lecteur déconnecté : ${(e as Error).message}`);
      }
      if (r.status === 'ok') {
        this.stalls = 0;
        return bytesOf(r).slice();
      }
      if (++this.stalls > MAX_INTERRUPT_STALLS) return null;
      await this.device.clearHalt('in', ep).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.device.releaseInterface(this.ccid.interfaceNumber).catch(() => undefined);
    await this.device.close().catch(() => undefined);
  }
}
