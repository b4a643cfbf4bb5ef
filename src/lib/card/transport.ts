/**
 * How the card services reach a card, whatever carries the APDUs (issue 17): PC/SC in the
 * bridge, our simulated readers, and in a page the Web Smart Card API, CCID over WebUSB or a
 * HID reader over WebHID. Pure TypeScript: no Node and no DOM type, so that the bridge and the
 * page implement the same interface.
 *
 * Access to each reader is serialised: a card service runs its whole APDU sequence inside
 * `withCard`, and nobody else's APDU can slip between two of its commands.
 */
import type { PinPad, Transmit } from './services.js';

export type { PinPad, Transmit };

/** Which transport carries the APDUs (shown on the settings page). */
export type TransportKind = 'pcsc' | 'simulated' | 'bridge' | 'smartcard' | 'webusb' | 'webhid';

export interface ReaderState {
  name: string;
  present: boolean;
  atr?: Uint8Array;
  /**
   * The reader has a PIN pad (PC/SC part 10 FEATURE_VERIFY_PIN_DIRECT, or a CCID reader's
   * bPINSupport). Undefined until known. A reader property: kept across card insertions. The
   * PIN is then entered on the pad through `PinPad.verifyPinDirect` (./pinpad.ts).
   */
  pinPad?: boolean;
}

/** What a transport announces. */
export interface CardTransportEvents {
  /** A reader appeared (its name). */
  reader: [name: string];
  'reader-removed': [name: string];
  /** A card was inserted (announced once the reader's PIN pad is known). */
  inserted: [state: ReaderState];
  /** The card of this reader went away. */
  removed: [name: string];
  /** Something the transport cannot attach to a call (a reader lost, a notification refused). */
  error: [error: Error];
}

export type CardTransportEvent = keyof CardTransportEvents;

export interface CardTransport {
  readonly kind: TransportKind;
  readers(): ReaderState[];
  on<E extends CardTransportEvent>(event: E, listener: (...args: CardTransportEvents[E]) => void): unknown;
  off<E extends CardTransportEvent>(event: E, listener: (...args: CardTransportEvents[E]) => void): unknown;
  /**
   * Runs `fn` with exclusive use of the reader's card; rejects with CardAbsentError if none.
   * `pad` is the reader's PIN pad, null when it has none.
   */
  withCard<T>(reader: string, fn: (tx: Transmit, pad: PinPad | null) => Promise<T>): Promise<T>;
  /**
   * Clears the card's security state (the PIN verified, the selections): PC/SC disconnects with
   * SCARD_RESET_CARD, CCID powers the card off and on. In the reader's queue, after the
   * commands already queued. Resolves when done; nothing to do when no card is there.
   */
  resetCard(reader: string): Promise<void>;
  close(): Promise<void>;
}

export class CardAbsentError extends Error {
  readonly code = 'card_absent';
  constructor(reader: string, detail = '') {
    super(`no card in reader ${reader}${detail ? `: ${detail}` : ''}`);
  }
}

/** A minimal typed event emitter for the transports that run in a page (the bridge's use Node's). */
export class TransportEmitter {
  // Stored untyped: each set holds the listeners of its own event only (on/off are typed).
  private readonly listeners = new Map<CardTransportEvent, Set<(...args: unknown[]) => void>>();

  on<E extends CardTransportEvent>(event: E, listener: (...args: CardTransportEvents[E]) => void): this {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as unknown as (...args: unknown[]) => void);
    return this;
  }

  off<E extends CardTransportEvent>(event: E, listener: (...args: CardTransportEvents[E]) => void): this {
    this.listeners.get(event)?.delete(listener as unknown as (...args: unknown[]) => void);
    return this;
  }

  /** Calls each listener; one that throws does not stop the others (its error is reported as `error`). */
  protected emit<E extends CardTransportEvent>(event: E, ...args: CardTransportEvents[E]): void {
    for (const l of [...(this.listeners.get(event) ?? [])]) {
      try {
        l(...args);
      } catch (e) {
        if (event !== 'error') this.emit('error', e instanceof Error ? e : new Error(String(e)));
      }
    }
  }
}

/** A promise queue per key (per reader): each task starts once the previous one has settled. */
export class Serialiser {
  private tails = new Map<string, Promise<unknown>>();
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

/** PC/SC part 10 CM_IOCTL_GET_FEATURE_REQUEST: the reader lists its features (PIN pad…) with their control codes. */
export const CM_IOCTL_GET_FEATURE_REQUEST = 3400;

/** Part 10 feature TLV list (tag, length 4, control code big-endian), as readers answer GET_FEATURE_REQUEST. */
export function parseFeatures(b: Uint8Array): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i + 6 <= b.length; i += 2 + b[i + 1]!) {
    if (b[i + 1] !== 4) break;
    m.set(b[i]!, ((b[i + 2]! << 24) | (b[i + 3]! << 16) | (b[i + 4]! << 8) | b[i + 5]!) >>> 0);
  }
  return m;
}
