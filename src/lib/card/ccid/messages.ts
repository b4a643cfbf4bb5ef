/**
 * CCID bulk and interrupt messages (USB CCID rev. 1.1 §6): a 10-byte header — bMessageType,
 * dwLength (little-endian), bSlot, bSeq, three bytes particular to the message — then abData.
 */
import { CcidError } from './errors.js';

export const HEADER = 10;

/** Host to reader (bulk-out). */
export const PC_TO_RDR = {
  IccPowerOn: 0x62,
  IccPowerOff: 0x63,
  GetSlotStatus: 0x65,
  Secure: 0x69,
  XfrBlock: 0x6f,
  Abort: 0x72,
} as const;

/** Reader to host (bulk-in). */
export const RDR_TO_PC = {
  DataBlock: 0x80,
  SlotStatus: 0x81,
  Parameters: 0x82,
  Escape: 0x83,
} as const;

/** Reader to host (interrupt-in). */
export const NOTIFY = { SlotChange: 0x50, HardwareError: 0x51 } as const;

/** bmICCStatus (bStatus bits 0–1). */
export const ICC = { ACTIVE: 0, PRESENT_INACTIVE: 1, ABSENT: 2 } as const;
/** bmCommandStatus (bStatus bits 6–7). */
export const COMMAND = { OK: 0, FAILED: 1, TIME_EXTENSION: 2 } as const;

/** bError values the driver tells apart (§6.2.6). */
export const SLOT_ERROR = {
  CMD_ABORTED: 0xff,
  ICC_MUTE: 0xfe,
  XFR_PARITY_ERROR: 0xfd,
  XFR_OVERRUN: 0xfc,
  HW_ERROR: 0xfb,
  BAD_ATR_TS: 0xf8,
  BAD_ATR_TCK: 0xf7,
  ICC_PROTOCOL_NOT_SUPPORTED: 0xf6,
  ICC_CLASS_NOT_SUPPORTED: 0xf5,
  PROCEDURE_BYTE_CONFLICT: 0xf4,
  DEACTIVATED_PROTOCOL: 0xf3,
  BUSY_WITH_AUTO_SEQUENCE: 0xf2,
  PIN_TIMEOUT: 0xf0,
  PIN_CANCELLED: 0xef,
  CMD_SLOT_BUSY: 0xe0,
  CMD_NOT_SUPPORTED: 0x00,
} as const;

/** wLevelParameter / bChainParameter of the APDU levels (§6.1.4, §6.2.1). */
export const CHAIN = {
  WHOLE: 0x00,
  BEGIN: 0x01,
  END: 0x02,
  CONTINUE: 0x03,
  /** Empty abData: the next part of the response is expected (host asks for it). */
  MORE: 0x10,
} as const;

export interface CcidResponse {
  type: number;
  slot: number;
  seq: number;
  iccStatus: number;
  commandStatus: number;
  error: number;
  /** Byte 9: bChainParameter (DataBlock), bClockStatus (SlotStatus), bProtocolNum (Parameters). */
  param: number;
  data: Uint8Array;
}

/** Encodes a host-to-reader message; `specific` are bytes 7–9. */
export function encodeCommand(type: number, slot: number, seq: number, specific: readonly [number, number, number], data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const m = new Uint8Array(HEADER + data.length);
  m[0] = type;
  new DataView(m.buffer).setUint32(1, data.length, true);
  m[5] = slot;
  m[6] = seq & 0xff;
  m[7] = specific[0];
  m[8] = specific[1];
  m[9] = specific[2];
  m.set(data, HEADER);
  return m;
}

/** dwLength of a message's header, or null when fewer than 10 bytes are there yet. */
export function declaredLength(b: Uint8Array): number | null {
  return b.length < HEADER ? null : (b[1]! | (b[2]! << 8) | (b[3]! << 16) | (b[4]! << 24)) >>> 0;
}

/** Decodes one reader-to-host bulk message; `b` must hold exactly header + dwLength bytes. */
export function decodeResponse(b: Uint8Array): CcidResponse {
  const n = declaredLength(b);
  if (n === null) throw new CcidError('protocol', `réponse CCID de ${b.length} octets (10 au moins)`);
  if (b.length !== HEADER + n) throw new CcidError('protocol', `réponse CCID de ${b.length} octets, ${HEADER + n} annoncés`);
  const type = b[0]!;
  if (type !== RDR_TO_PC.DataBlock && type !== RDR_TO_PC.SlotStatus && type !== RDR_TO_PC.Parameters && type !== RDR_TO_PC.Escape) {
    throw new CcidError('protocol', `type de message CCID inconnu ${type.toString(16)}`);
  }
  const status = b[7]!;
  return {
    type, slot: b[5]!, seq: b[6]!,
    iccStatus: status & 0x03, commandStatus: (status >> 6) & 0x03,
    error: b[8]!, param: b[9]!, data: b.subarray(HEADER),
  };
}

export interface SlotChange {
  slot: number;
  present: boolean;
  changed: boolean;
}

/** RDR_to_PC_NotifySlotChange: two bits per slot (present, changed), slots 0 … maxSlotIndex. */
export function decodeSlotChange(b: Uint8Array, maxSlotIndex: number): SlotChange[] {
  const need = 1 + Math.ceil(((maxSlotIndex + 1) * 2) / 8);
  if (b[0] !== NOTIFY.SlotChange || b.length < need) throw new CcidError('protocol', 'notification de changement de fente CCID invalide');
  const out: SlotChange[] = [];
  for (let s = 0; s <= maxSlotIndex; s++) {
    const bits = (b[1 + (s >> 2)]! >> ((s & 3) * 2)) & 0x03;
    out.push({ slot: s, present: (bits & 1) !== 0, changed: (bits & 2) !== 0 });
  }
  return out;
}

/**
 * The CCID Secure command's abPINDataStructure for a PIN verification, from the PC/SC part 10
 * PIN_VERIFY_STRUCTURE (../pinpad.ts): the same fields less bTimerOut2 and ulDataLength, which
 * CCID does not carry (as the reference CCID driver does).
 */
export function secureVerifyData(part10: Uint8Array): Uint8Array {
  if (part10.length < 19 + 5) throw new CcidError('protocol', 'structure de saisie du code PIN trop courte');
  const out = new Uint8Array(1 + 1 + 13 + (part10.length - 19));
  out[0] = 0x00; // bPINOperation: verification
  out[1] = part10[0]!; // bTimeOut
  out.set(part10.subarray(2, 15), 2); // bmFormatString … bTeoPrologue
  out.set(part10.subarray(19), 15); // abPINApdu
  return out;
}
