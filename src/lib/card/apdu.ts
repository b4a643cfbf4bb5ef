/**
 * ISO 7816-4 short APDUs: parsing, building, status words. Shared by the virtual cards (card
 * side) and the card services (terminal side).
 */

export const SW = {
  OK: 0x9000,
  WRONG_LENGTH: 0x6700,
  SECURITY_NOT_SATISFIED: 0x6982,
  AUTH_METHOD_BLOCKED: 0x6983,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  WRONG_DATA: 0x6a80,
  FILE_NOT_FOUND: 0x6a82,
  WRONG_P1P2: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  NO_PRECISE_DIAGNOSIS: 0x6f00,
  /** 63Cx: verification failed, x tries left. */
  verifyFailed: (left: number) => 0x63c0 | (left & 0x0f),
} as const;

export interface Command {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data: Uint8Array;
  /** Expected length; 256 when Le = 00; undefined when absent. */
  le?: number;
}

/** Parses a short APDU (cases 1–4). Throws on anything malformed. */
export function parseCommand(b: Uint8Array): Command {
  if (b.length < 4) throw new Error('APDU shorter than 4 bytes');
  const [cla, ins, p1, p2] = [b[0]!, b[1]!, b[2]!, b[3]!];
  if (b.length === 4) return { cla, ins, p1, p2, data: new Uint8Array(0) };
  if (b.length === 5) return { cla, ins, p1, p2, data: new Uint8Array(0), le: b[4]! || 256 };
  const lc = b[4]!;
  if (lc === 0) throw new Error('extended APDUs are not supported');
  if (b.length === 5 + lc) return { cla, ins, p1, p2, data: b.subarray(5, 5 + lc) };
  if (b.length === 6 + lc) return { cla, ins, p1, p2, data: b.subarray(5, 5 + lc), le: b[5 + lc]! || 256 };
  throw new Error('APDU length does not match Lc');
}

export function buildCommand(cla: number, ins: number, p1: number, p2: number, data?: Uint8Array, le?: number): Uint8Array {
  const n = data?.length ?? 0;
  if (n > 255) throw new Error('data longer than 255 bytes');
  const out = new Uint8Array(4 + (n ? 1 + n : 0) + (le !== undefined ? 1 : 0));
  out.set([cla, ins, p1, p2]);
  let i = 4;
  if (n) {
    out[i++] = n;
    out.set(data!, i);
    i += n;
  }
  if (le !== undefined) out[i] = le & 0xff;
  return out;
}

export function response(data: Uint8Array | null, sw: number): Uint8Array {
  const n = data?.length ?? 0;
  const out = new Uint8Array(n + 2);
  if (data) out.set(data);
  out[n] = sw >> 8;
  out[n + 1] = sw & 0xff;
  return out;
}

export function splitResponse(r: Uint8Array): { data: Uint8Array; sw: number } {
  if (r.length < 2) throw new Error('response shorter than 2 bytes');
  return { data: r.subarray(0, r.length - 2), sw: (r[r.length - 2]! << 8) | r[r.length - 1]! };
}

export const swHex = (sw: number): string => sw.toString(16).padStart(4, '0').toUpperCase();
