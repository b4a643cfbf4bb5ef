/**
 * USB descriptors of a CCID reader (USB CCID rev. 1.1 §5): the configuration descriptor read
 * raw (GET_DESCRIPTOR), walked to the smart-card interface (class 0Bh), its 54-byte class
 * descriptor (type 21h) and its endpoints. Raw, because WebUSB parses the interfaces and
 * endpoints but not the class descriptor, where the exchange level, the slots, the largest
 * message and the PIN support are.
 */
import { CcidError } from './errors.js';

export const USB_CLASS_SMART_CARD = 0x0b;
const DT_CONFIGURATION = 0x02;
const DT_INTERFACE = 0x04;
const DT_ENDPOINT = 0x05;
const DT_CCID = 0x21;
const CCID_DESCRIPTOR_LENGTH = 0x36;

/** dwFeatures' exchange level (bits 16–18). */
export type ExchangeLevel = 'character' | 'tpdu' | 'short-apdu' | 'extended-apdu';

/** The CCID class descriptor's fields the driver uses, whatever carries the messages (USB, HID). */
export interface CcidClass {
  bcdCcid: number;
  /** Slots are 0 … maxSlotIndex. */
  maxSlotIndex: number;
  /** dwProtocols: bit 0 T=0, bit 1 T=1. */
  protocols: number;
  features: number;
  level: ExchangeLevel;
  /** Largest message, header included (dwMaxCCIDMessageLength). */
  maxMessageLength: number;
  /** bPINSupport: bit 0 verification, bit 1 modification. */
  pinSupport: number;
  maxBusySlots: number;
}

/** A USB reader's: the class descriptor, its interface and its endpoints. */
export interface CcidDescriptor extends CcidClass {
  configurationValue: number;
  interfaceNumber: number;
  alternateSetting: number;
  bulkIn: number;
  bulkOut: number;
  /** Endpoint number of the interrupt pipe (slot changes), when the reader has one. */
  interruptIn?: number;
  interruptPacketSize?: number;
}

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

function levelOf(features: number): ExchangeLevel {
  if (features & 0x00040000) return 'extended-apdu';
  if (features & 0x00020000) return 'short-apdu';
  if (features & 0x00010000) return 'tpdu';
  return 'character';
}

/** wTotalLength of a configuration descriptor's first 9 bytes (to read it whole next). */
export function configurationTotalLength(head: Uint8Array): number {
  if (head.length < 4 || head[1] !== DT_CONFIGURATION || head[0]! < 9) {
    throw new CcidError('descriptor_invalid', 'descripteur de configuration USB invalide');
  }
  return u16(head, 2);
}

interface Walked {
  iface?: { number: number; alternate: number; cls: number };
  ccid?: Uint8Array;
  endpoints: Array<{ address: number; attributes: number; packetSize: number }>;
}

/** Parses the whole configuration descriptor; throws CcidError, never reads out of bounds. */
export function parseCcidConfiguration(b: Uint8Array): CcidDescriptor {
  const total = configurationTotalLength(b);
  if (total > b.length || total < 9) throw new CcidError('descriptor_invalid', 'descripteur de configuration USB tronqué');
  const configurationValue = b[5]!;
  // The first smart-card interface with its class descriptor and the endpoints that follow it.
  let found: Walked | null = null;
  let current: Walked | null = null;
  for (let o = b[0]!; o < total; ) {
    const len = b[o]!;
    if (len < 2 || o + len > total) throw new CcidError('descriptor_invalid', `descripteur USB de longueur ${len} à l'octet ${o}`);
    const type = b[o + 1]!;
    if (type === DT_INTERFACE) {
      if (len < 9) throw new CcidError('descriptor_invalid', "descripteur d'interface USB trop court");
      if (found) break;
      current = { iface: { number: b[o + 2]!, alternate: b[o + 3]!, cls: b[o + 5]! }, endpoints: [] };
      if (current.iface!.cls === USB_CLASS_SMART_CARD) found = current;
    } else if (type === DT_CCID && current === found && found) {
      if (len !== CCID_DESCRIPTOR_LENGTH) throw new CcidError('descriptor_invalid', `descripteur CCID de ${len} octets (54 attendus)`);
      found.ccid = b.subarray(o, o + len);
    } else if (type === DT_ENDPOINT && current) {
      if (len < 7) throw new CcidError('descriptor_invalid', "descripteur d'extrémité USB trop court");
      current.endpoints.push({ address: b[o + 2]!, attributes: b[o + 3]!, packetSize: u16(b, o + 4) & 0x7ff });
    }
    o += len;
  }
  if (!found?.iface || !found.ccid) throw new CcidError('not_ccid', "ce périphérique USB n'est pas un lecteur de cartes à puce (CCID)");
  const bulk = (dirIn: boolean) => found!.endpoints.find((e) => (e.attributes & 0x03) === 2 && ((e.address & 0x80) !== 0) === dirIn);
  const bulkIn = bulk(true);
  const bulkOut = bulk(false);
  if (!bulkIn || !bulkOut) throw new CcidError('not_ccid', 'lecteur CCID sans extrémités bulk');
  const interrupt = found.endpoints.find((e) => (e.attributes & 0x03) === 3 && (e.address & 0x80) !== 0);
  return {
    ...parseCcidClassDescriptor(found.ccid),
    configurationValue,
    interfaceNumber: found.iface.number,
    alternateSetting: found.iface.alternate,
    bulkIn: bulkIn.address & 0x0f,
    bulkOut: bulkOut.address & 0x0f,
    ...(interrupt ? { interruptIn: interrupt.address & 0x0f, interruptPacketSize: interrupt.packetSize || 8 } : {}),
  };
}

/** The 54-byte CCID class descriptor (§5.1), from a USB configuration or a HID feature report. */
export function parseCcidClassDescriptor(c: Uint8Array): CcidClass {
  if (c.length !== CCID_DESCRIPTOR_LENGTH || c[0] !== CCID_DESCRIPTOR_LENGTH || c[1] !== DT_CCID) {
    throw new CcidError('descriptor_invalid', `descripteur de classe CCID invalide (${c.length} octets)`);
  }
  const features = u32(c, 40);
  const maxMessageLength = u32(c, 44);
  const maxSlotIndex = c[4]!;
  if (maxMessageLength < 10 + 4 || maxMessageLength > 10 + 65_544 + 4) {
    throw new CcidError('descriptor_invalid', `dwMaxCCIDMessageLength ${maxMessageLength} hors limites`);
  }
  if (maxSlotIndex > 15) throw new CcidError('descriptor_invalid', `bMaxSlotIndex ${maxSlotIndex} hors limites`);
  return {
    bcdCcid: u16(c, 2),
    maxSlotIndex,
    protocols: u32(c, 6),
    features,
    level: levelOf(features),
    maxMessageLength,
    pinSupport: c[52]!,
    maxBusySlots: c[53]!,
  };
}
