/**
 * Page side of the emulated WebUSB and WebHID readers (issue 17): `navigator.usb` answering with
 * one EmulatedCcidDevice, `navigator.hid` with one EmulatedHidCcidDevice, both running in the page, its cards' APDUs crossing to the test process
 * (`__cardApdu`, Playwright exposeFunction) where the virtual cards are. The device's own time
 * is measured in the page, so the driver's is what the page adds to it.
 */
import { EmulatedCcidDevice, type CardLike, type EmulatedCcidOptions } from '../fixtures/ccid-device.js';
import { EmulatedHidCcidDevice } from '../fixtures/hid-device.js';

type CardBridge = (card: string, hex: string) => Promise<string>;

const hex = (u: Uint8Array): string => Array.from(u, (x) => x.toString(16).padStart(2, '0')).join('');
const bytes = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));

/** A card in the test process, reached by its id. */
export function remoteCard(id: string, atrHex: string): CardLike {
  return {
    atr: bytes(atrHex),
    reset: () => void (globalThis as unknown as { __cardApdu: CardBridge }).__cardApdu(id, 'reset'),
    process: async (apdu) => bytes(await (globalThis as unknown as { __cardApdu: CardBridge }).__cardApdu(id, hex(apdu))),
  };
}

/** Installs `navigator.usb` with one emulated CCID reader (granted, as after requestDevice). */
export function installEmulatedUsb(options: EmulatedCcidOptions = {}): EmulatedCcidDevice {
  const device = new EmulatedCcidDevice(options);
  const usb = {
    getDevices: async () => [device],
    requestDevice: async () => device,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
  };
  Object.defineProperty(navigator, 'usb', { value: usb, configurable: true });
  return device;
}

/** Installs `navigator.hid` with one emulated HID reader speaking our CCID report mapping. */
export function installEmulatedHid(options: EmulatedCcidOptions = {}): EmulatedHidCcidDevice {
  const device = new EmulatedHidCcidDevice(options);
  const hid = {
    getDevices: async () => [device],
    requestDevice: async () => [device],
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
  };
  Object.defineProperty(navigator, 'hid', { value: hid, configurable: true });
  return device;
}
