/**
 * ISO 7816-4 §5.3 / 7816-3 T=0 response handling a terminal must do itself: `61xx` (xx more
 * bytes: fetch them with GET RESPONSE, again while 61xx comes back) and `6Cxx` (wrong Le: send
 * the same command again with Le = xx). PC/SC and CCID readers at APDU level leave both to the
 * application with T=0 cards; the card services expect whole responses.
 */
import { concatBytes } from './bytes.js';
import type { Transmit } from './services.js';

const GET_RESPONSE = 0xc0;
/** A card that keeps answering 61xx is not followed forever (64 × 256 bytes is beyond any file of ours). */
const MAX_ROUNDS = 64;

export class ResponseChainError extends Error {
  readonly code = 'card_error';
  constructor(message: string) {
    super(message);
  }
}

/** The same command with Le = `le` (short APDUs: the last byte of a case 2/4 command, or appended to case 1/3). */
function withLe(apdu: Uint8Array, le: number): Uint8Array {
  const hasLe = apdu.length === 5 || (apdu.length > 5 && apdu.length === 6 + apdu[4]!);
  const out = new Uint8Array(hasLe ? apdu.length : apdu.length + 1);
  out.set(apdu.subarray(0, hasLe ? apdu.length - 1 : apdu.length));
  out[out.length - 1] = le;
  return out;
}

export function withGetResponse(tx: Transmit): Transmit {
  return async (apdu) => {
    let r = await tx(apdu);
    if (r.length === 2 && r[0] === 0x6c) {
      const again = withLe(apdu, r[1]!);
      try {
        r = await tx(again);
      } finally {
        again.fill(0); // a copy of the command: it may hold a PIN
      }
    }
    if (r.length < 2 || r[r.length - 2] !== 0x61) return r;
    const parts: Uint8Array[] = [];
    for (let round = 0; ; round++) {
      if (round === MAX_ROUNDS) throw new ResponseChainError('la carte annonce des données sans fin (61xx répété)');
      parts.push(r.subarray(0, r.length - 2));
      const more = r[r.length - 1]!;
      r = await tx(Uint8Array.of(apdu[0]! & 0x03, GET_RESPONSE, 0x00, 0x00, more));
      if (r.length < 2) return r;
      if (r[r.length - 2] !== 0x61) break;
    }
    parts.push(r);
    return concatBytes(parts);
  };
}
