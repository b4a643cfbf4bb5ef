/**
 * The Web Smart Card API (WICG draft, `navigator.smartCard`: PC/SC through the browser, in
 * isolated contexts such as an Isolated Web App or a ChromeOS kiosk app) as a CardTransport
 * (issue 17). The types below are the draft's IDL reduced to what is used, so the core keeps no
 * DOM dependency and the tests' emulation satisfies them.
 *
 * Presence follows `getStatusChange` in a loop (the reader states and pcsc-lite's event
 * counter, as the bridge's PC/SC transport reconciles them: a removal and an insertion seen as
 * one "present" state are told apart by the counter); readers coming and going through the
 * `\\?PnP?\Notification` pseudo-reader. One connection per reader, kept while the card stays;
 * each card session runs inside a PC/SC transaction, so that no other application's APDU slips
 * between two of ours.
 */
import { withGetResponse } from '../get-response.js';
import { FEATURE_VERIFY_PIN_DIRECT } from '../pinpad.js';
import type { PinPad, Transmit } from '../services.js';
import { CM_IOCTL_GET_FEATURE_REQUEST, CardAbsentError, Serialiser, TransportEmitter, parseFeatures, type CardTransport, type ReaderState } from '../transport.js';

export type SmartCardResponseCode =
  | 'no-service' | 'no-smartcard' | 'not-ready' | 'not-transacted' | 'proto-mismatch' | 'reader-unavailable'
  | 'removed-card' | 'reset-card' | 'server-too-busy' | 'sharing-violation' | 'system-cancelled' | 'unknown-reader'
  | 'unpowered-card' | 'unresponsive-card' | 'unsupported-card' | 'unsupported-feature';

export interface SmartCardStateFlagsIn { unaware?: boolean; ignore?: boolean; unavailable?: boolean; empty?: boolean; present?: boolean; exclusive?: boolean; inuse?: boolean; mute?: boolean; unpowered?: boolean }
export interface SmartCardStateFlagsOut { ignore?: boolean; changed?: boolean; unavailable?: boolean; unknown?: boolean; empty?: boolean; present?: boolean; exclusive?: boolean; inuse?: boolean; mute?: boolean; unpowered?: boolean }
export interface SmartCardReaderStateIn { readerName: string; currentState: SmartCardStateFlagsIn; currentCount?: number }
export interface SmartCardReaderStateOut { readerName: string; eventState: SmartCardStateFlagsOut; eventCount: number; answerToReset?: ArrayBuffer }
export type SmartCardDisposition = 'leave' | 'reset' | 'unpower' | 'eject';

export interface SmartCardConnectionLike {
  disconnect(disposition?: SmartCardDisposition): Promise<void>;
  transmit(sendBuffer: Uint8Array, options?: { protocol?: 'raw' | 't0' | 't1' }): Promise<ArrayBuffer>;
  control(controlCode: number, data: Uint8Array): Promise<ArrayBuffer>;
  startTransaction?(transaction: () => Promise<SmartCardDisposition | null | undefined>, options?: { signal?: AbortSignalLike }): Promise<void>;
}

export interface AbortSignalLike {
  readonly aborted: boolean;
}

export interface SmartCardContextLike {
  listReaders(): Promise<string[]>;
  getStatusChange(readerStates: SmartCardReaderStateIn[], options?: { timeout?: number; signal?: AbortSignalLike }): Promise<SmartCardReaderStateOut[]>;
  connect(readerName: string, accessMode: 'shared' | 'exclusive' | 'direct', options?: { preferredProtocols?: Array<'raw' | 't0' | 't1'> }): Promise<{ connection: SmartCardConnectionLike; activeProtocol?: 'raw' | 't0' | 't1' }>;
}

export interface SmartCardResourceManagerLike {
  establishContext(): Promise<SmartCardContextLike>;
}

/** A Web Smart Card API refusal we cannot turn into "no card": its response code kept. */
export class SmartCardTransportError extends Error {
  constructor(
    readonly code: SmartCardResponseCode | 'unavailable',
    message: string,
  ) {
    super(message);
    this.name = 'SmartCardTransportError';
  }
}

/** The card went away or must be reconnected: the session ends as with a card pulled. */
const CARD_GONE = new Set<string>(['removed-card', 'no-smartcard', 'unpowered-card', 'unresponsive-card', 'reset-card', 'unknown-reader', 'reader-unavailable']);
const PNP = '\\\\?PnP?\\Notification';

export interface SmartCardOptions {
  /**
   * SCARD_CTL_CODE of the platform's PC/SC: pcsc-lite's (Linux, ChromeOS, macOS) by default;
   * Windows' is `0x310000 | (code << 2)`. The page chooses it from the platform.
   */
  controlCode?: (code: number) => number;
  /** An AbortController's signal factory (the browser's); the watch loop stops with `close`. */
  abort?: () => { signal: AbortSignalLike; abort(): void };
}

interface Reader {
  name: string;
  present: boolean;
  atr?: Uint8Array;
  count: number;
  pinPad?: boolean;
  verifyPinCode?: number;
  connection?: SmartCardConnectionLike;
  /** Bumped at each removal: a session on the old card fails. */
  generation: number;
}

const codeOf = (e: unknown): string | undefined => (e && typeof e === 'object' && 'responseCode' in e ? String((e as { responseCode: unknown }).responseCode) : undefined);
const PCSC_LITE_CTL = (code: number): number => 0x42000000 + code;

export class SmartCardTransport extends TransportEmitter implements CardTransport {
  readonly kind = 'smartcard';
  private readonly readersByName = new Map<string, Reader>();
  private readonly sessions = new Serialiser();
  private closed = false;
  private watching: { signal: AbortSignalLike; abort(): void } | null = null;

  private constructor(
    private readonly context: SmartCardContextLike,
    private readonly options: SmartCardOptions,
  ) {
    super();
  }

  /** Establishes a context, reads the readers' states, and watches them. Throws SmartCardTransportError. */
  static async open(manager: SmartCardResourceManagerLike, options: SmartCardOptions = {}): Promise<SmartCardTransport> {
    let context: SmartCardContextLike;
    try {
      context = await manager.establishContext();
    } catch (e) {
      throw new SmartCardTransportError((codeOf(e) as SmartCardResponseCode | undefined) ?? 'unavailable', `service PC/SC indisponible : ${(e as Error).message}`);
    }
    const t = new SmartCardTransport(context, options);
    await t.refreshReaders(false);
    void t.watch();
    return t;
  }

  readers(): ReaderState[] {
    return [...this.readersByName.values()].map((r) => ({ name: r.name, present: r.present, ...(r.atr ? { atr: r.atr.slice() } : {}), ...(r.pinPad !== undefined ? { pinPad: r.pinPad } : {}) }));
  }

  withCard<T>(name: string, fn: (tx: Transmit, pad: PinPad | null) => Promise<T>): Promise<T> {
    return this.sessions.run(name, async () => {
      const r = this.readersByName.get(name);
      if (!r?.present) throw new CardAbsentError(name);
      const generation = r.generation;
      const c = await this.connection(r);
      const alive = (): void => {
        if (r.generation !== generation || !r.present) throw new CardAbsentError(name, 'carte retirée pendant la commande');
      };
      const raw: Transmit = async (apdu) => {
        alive();
        const out = new Uint8Array(await this.call(r, () => c.transmit(apdu)));
        alive();
        if (out.length < 2) throw new CardAbsentError(name, 'pas de réponse de la carte');
        return out;
      };
      const code = r.verifyPinCode;
      const pad: PinPad | null = code === undefined ? null : {
        verifyPinDirect: async (s) => {
          alive();
          const out = new Uint8Array(await this.call(r, () => c.control(code, s)));
          if (out.length < 2) throw new CardAbsentError(name, 'pas de réponse du clavier du lecteur');
          return out;
        },
      };
      const session = (): Promise<T> => fn(withGetResponse(raw), pad);
      if (!c.startTransaction) return session();
      let result: { v: T } | null = null;
      await this.call(r, () => c.startTransaction!(async () => {
        result = { v: await session() };
        return 'leave';
      }));
      return result!.v as T;
    });
  }

  resetCard(name: string): Promise<void> {
    return this.sessions.run(name, async () => {
      const r = this.readersByName.get(name);
      if (!r?.present) return;
      const c = await this.connection(r);
      r.connection = undefined;
      await this.call(r, () => c.disconnect('reset'));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watching?.abort();
    for (const r of this.readersByName.values()) {
      const c = r.connection;
      r.connection = undefined;
      await c?.disconnect('leave').catch(() => undefined);
    }
  }

  /** Runs a PC/SC call; a card gone becomes CardAbsentError (and the connection is dropped). */
  private async call<T>(r: Reader, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof CardAbsentError) throw e;
      const code = codeOf(e);
      if (code === undefined) throw e; // not the API's: the session's own error (a card service's)
      r.connection = undefined;
      if (CARD_GONE.has(code)) throw new CardAbsentError(r.name, code);
      throw new SmartCardTransportError(code as SmartCardResponseCode, `lecteur ${r.name} : ${code}`);
    }
  }

  /** The reader's connection, made at first use; the PIN pad discovered with it (part 10). */
  private async connection(r: Reader): Promise<SmartCardConnectionLike> {
    if (r.connection) return r.connection;
    const { connection } = await this.call(r, () => this.context.connect(r.name, 'shared', { preferredProtocols: ['t0', 't1'] }));
    r.connection = connection;
    if (r.pinPad === undefined) {
      const ctl = this.options.controlCode ?? PCSC_LITE_CTL;
      try {
        const features = parseFeatures(new Uint8Array(await connection.control(ctl(CM_IOCTL_GET_FEATURE_REQUEST), new Uint8Array(0))));
        r.verifyPinCode = features.get(FEATURE_VERIFY_PIN_DIRECT);
      } catch {
        r.verifyPinCode = undefined; // readers without part 10 answer with an error
      }
      r.pinPad = r.verifyPinCode !== undefined;
    }
    return connection;
  }

  private async refreshReaders(announce: boolean): Promise<void> {
    const names = await this.context.listReaders().catch((e: unknown) => {
      // pcsc-lite with no reader at all: an empty list, not a failure.
      if (codeOf(e) === 'no-readers-available' || codeOf(e) === 'unknown-reader') return [] as string[];
      throw new SmartCardTransportError((codeOf(e) as SmartCardResponseCode | undefined) ?? 'unavailable', `liste des lecteurs : ${(e as Error).message}`);
    });
    for (const [name, r] of this.readersByName) {
      if (names.includes(name)) continue;
      if (r.present) this.gone(r);
      this.readersByName.delete(name);
      if (announce) this.emit('reader-removed', name);
    }
    const added = names.filter((n) => !this.readersByName.has(n));
    if (!added.length) return;
    const states = await this.context.getStatusChange(added.map((readerName) => ({ readerName, currentState: { unaware: true } })), { timeout: 0 });
    for (const s of states) {
      const r: Reader = { name: s.readerName, present: false, count: s.eventCount, generation: 0 };
      this.readersByName.set(r.name, r);
      if (announce) this.emit('reader', r.name);
      this.apply(r, s, announce);
    }
  }

  private gone(r: Reader): void {
    r.present = false;
    r.atr = undefined;
    r.generation++;
    const c = r.connection;
    r.connection = undefined;
    void c?.disconnect('leave').catch(() => undefined);
    this.emit('removed', r.name);
  }

  /** A reader's new state; present → present with another event count is a swap. */
  private apply(r: Reader, s: SmartCardReaderStateOut, announce: boolean): void {
    const present = !!s.eventState.present && !s.eventState.mute;
    const atr = s.answerToReset ? new Uint8Array(s.answerToReset) : undefined;
    const swapped = present && r.present && (s.eventCount !== r.count || (atr !== undefined && r.atr !== undefined && !same(atr, r.atr)));
    r.count = s.eventCount;
    if (r.present && (!present || swapped)) this.gone(r);
    if (present && !r.present) {
      r.present = true;
      r.atr = atr;
      if (!announce) return;
      // Connect first (PIN pad discovery, in the reader's queue) so the insertion says how the PIN is typed.
      const announceIt = (): void => {
        if (r.present && r.atr === atr) this.emit('inserted', { name: r.name, present: true, ...(atr ? { atr: atr.slice() } : {}), ...(r.pinPad !== undefined ? { pinPad: r.pinPad } : {}) });
      };
      void this.sessions.run(r.name, () => this.connection(r)).then(announceIt, announceIt);
    }
  }

  private async watch(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      this.watching = this.options.abort?.() ?? null;
      const list = [...this.readersByName.values()];
      const states: SmartCardReaderStateIn[] = [
        ...list.map((r) => ({ readerName: r.name, currentState: r.present ? { present: true } : { empty: true }, currentCount: r.count })),
        { readerName: PNP, currentState: {}, currentCount: list.length },
      ];
      let out: SmartCardReaderStateOut[];
      try {
        out = await this.context.getStatusChange(states, this.watching ? { signal: this.watching.signal } : {});
        failures = 0;
      } catch (e) {
        if (this.closed) return;
        const code = codeOf(e);
        // A reader that went away makes the whole call fail: the list is read again.
        if (code === 'unknown-reader' || code === 'reader-unavailable') {
          await this.refreshReaders(true).catch(() => undefined);
          continue;
        }
        if (++failures > 5) {
          this.emit('error', new SmartCardTransportError((code as SmartCardResponseCode | undefined) ?? 'unavailable', `suivi des lecteurs interrompu : ${(e as Error).message}`));
          return;
        }
        await new Promise((res) => setTimeout(res, 200 * failures));
        continue;
      }
      if (this.closed) return;
      let pnp = false;
      for (const s of out) {
        if (s.readerName === PNP) {
          pnp ||= !!s.eventState.changed;
          continue;
        }
        const r = this.readersByName.get(s.readerName);
        if (!r) continue;
        if (s.eventState.unknown || s.eventState.unavailable) pnp = true;
        else this.apply(r, s, true);
      }
      if (pnp) await this.refreshReaders(true).catch((e: unknown) => this.emit('error', e instanceof Error ? e : new Error(String(e))));
    }
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
