/**
 * Our virtual cards' command set (bridge/cards/README.md): the AIDs, files, instructions and
 * key references both sides use — the virtual cards (card side, bridge/cards/) and the card
 * services (terminal side, ./virtual-services.ts), wherever those run (the bridge, a page).
 * Not the CPS's or Vitale's real command set: a documented one of ours for the simulator.
 */

/** Proprietary AIDs (RID F0 = not registered, ISO 7816-5): "TTCPS" and "TTVIT". */
export const AID_CPS = Uint8Array.from([0xf0, 0x54, 0x54, 0x43, 0x50, 0x53]);
export const AID_VITALE = Uint8Array.from([0xf0, 0x54, 0x54, 0x56, 0x49, 0x54]);

/** Historical bytes of the ATRs ("TTCPS" / "TTVIT"): how the card kinds are told apart. */
export const HIST_CPS = [0x54, 0x54, 0x43, 0x50, 0x53] as const;
export const HIST_VITALE = [0x54, 0x54, 0x56, 0x49, 0x54] as const;

/** File identifiers (see bridge/cards/README.md). */
export const EF = {
  IDENTITY: 0x0001,
  SITUATIONS: 0x0002,
  CARD_INFO: 0x0003,
  BENEFICIARIES: 0x0101,
  CA_CERT: 0xc000,
  AUTH_CERT: 0xc001,
  SIGN_CERT: 0xc002,
} as const;

export const INS = {
  SELECT: 0xa4,
  READ_BINARY: 0xb0,
  VERIFY: 0x20,
  PSO: 0x2a,
  INTERNAL_AUTHENTICATE: 0x88,
} as const;

export const KEY_REF = { AUTH: 0x01, SIGN: 0x02 } as const;
export const PIN_REF = 0x01;

/** PIN block of the command set: ASCII digits, 4 to 8, right-padded with FF to 8 bytes. */
export function padPin(digits: Uint8Array): Uint8Array {
  if (digits.length < 4 || digits.length > 8 || !digits.every((d) => d >= 0x30 && d <= 0x39)) {
    throw new Error('PIN must be 4 to 8 digits');
  }
  const out = new Uint8Array(8).fill(0xff);
  out.set(digits);
  return out;
}
