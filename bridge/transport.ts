/**
 * Readers and cards behind one interface: PC/SC (pcsc-lite through the `pcsclite` native
 * binding) or in-process simulated readers. Access to each reader is serialised: a card
 * service runs its whole APDU sequence inside `withCard`, and nobody else's APDU can slip
 * between two of its commands.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { VirtualCard } from './cards/card.js';
import { FEATURE_VERIFY_PIN_DIRECT } from '../src/lib/card/pinpad.js';
import {
  CM_IOCTL_GET_FEATURE_REQUEST, CardAbsentError, Serialiser, parseFeatures,
  type CardTransport, type CardTransportEvents, type PinPad, type ReaderState, type Transmit,
} from '../src/lib/card/transport.js';

// The interface and its types are the core's (src/lib/card/transport.ts): the page's transports
// implement the same one.
export { CardAbsentError, parseFeatures };
export type { CardTransport, PinPad, ReaderState, Transmit };

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// -------------------------------------------------------------------------------------------
// PC/SC

/* eslint-disable @typescript-eslint/no-explicit-any */
type PcscReader = any;

interface Slot {
  reader: PcscReader;
  state: ReaderState;
  protocol?: number;
  connecting?: Promise<void>;
  /** Control code of FEATURE_VERIFY_PIN_DIRECT, when the reader advertised it. */
  verifyPinCode?: number;
  /**
   * pcsc-lite's count of card events (insertions and removals) on this reader, the high word of
   * the reader state, as last seen. Two present states with different counts are two cards.
   */
  events?: number;
  /** The SCardDisconnect in flight: a connection waits for it (see `release`). */
  disconnecting?: Promise<void>;
}

export class PcscTransport extends EventEmitter<CardTransportEvents> implements CardTransport {
  readonly kind = 'pcsc';
  private pcsc: any;
  private slots = new Map<string, Slot>();
  private serial = new Serialiser();

  constructor() {
    super();
    const require = createRequire(import.meta.url);
    const pcsclite = require('pcsclite') as () => any;
    this.pcsc = pcsclite();
    this.pcsc.on('error', (e: Error) => this.emit('error', e));
    this.pcsc.on('reader', (r: PcscReader) => this.addReader(r));
  }

  private addReader(r: PcscReader): void {
    const slot: Slot = { reader: r, state: { name: r.name, present: false } };
    this.slots.set(r.name, slot);
    this.emit('reader', r.name);
    r.on('error', (e: Error) => this.emit('error', e));
    r.on('end', () => {
      this.slots.delete(r.name);
      this.emit('reader-removed', r.name);
    });
    r.on('status', (status: { state: number; atr?: Buffer }) => this.onStatus(slot, status.state, status.atr));
  }

  /**
   * One reader state from pcsclite's status thread. That thread keeps only the latest state for
   * the event loop (one result slot, coalescing uv_async_send): when the loop is busy, a removal
   * and the next insertion reach us as a single "present" state. So the state is reconciled
   * with pcsc-lite's event counter and the ATR, not taken as a transition: present → present
   * with another count (or another ATR) is a removal followed by an insertion.
   */
  private onStatus(slot: Slot, state: number, atr: Buffer | undefined): void {
    const r = slot.reader;
    const present = (state & r.SCARD_STATE_PRESENT) !== 0 && (state & r.SCARD_STATE_MUTE) === 0;
    const events = state >>> 16;
    const newAtr = atr?.length ? new Uint8Array(atr) : undefined;
    const swapped =
      present &&
      slot.state.present &&
      ((slot.events !== undefined && events !== slot.events) || (newAtr !== undefined && slot.state.atr !== undefined && !sameBytes(newAtr, slot.state.atr)));
    slot.events = events;
    if (slot.state.present && (!present || swapped)) this.cardGone(slot);
    if (present && !slot.state.present) this.cardCame(slot, newAtr);
  }

  private cardCame(slot: Slot, atr: Uint8Array | undefined): void {
    const r = slot.reader;
    const state: ReaderState = { name: r.name, present: true, atr, pinPad: slot.state.pinPad };
    slot.state = state;
    // Connect first (feature discovery, in the reader's queue) so that the page learns with
    // the insertion whether the PIN is typed on the page or on the pad.
    const announce = (): void => {
      if (slot.state === state) this.emit('inserted', { ...state });
    };
    if (state.pinPad !== undefined) announce();
    else void this.serial.run(r.name, () => this.connect(slot)).then(announce, announce);
  }

  private cardGone(slot: Slot): void {
    const r = slot.reader;
    slot.state = { name: r.name, present: false, pinPad: slot.state.pinPad };
    void this.release(slot, r.SCARD_LEAVE_CARD);
    this.emit('removed', r.name);
  }

  /**
   * Lets go of the card handle. Disconnections are chained and a connection waits for them:
   * pcsclite's connect() answers "connected" at once, without connecting, while `connected` is
   * still true, so a reconnection racing a disconnection would keep a dead handle.
   */
  private release(slot: Slot, disposition: number): Promise<void> {
    const r = slot.reader;
    slot.protocol = undefined;
    const p = (slot.disconnecting ?? Promise.resolve()).then(
      () =>
        new Promise<void>((resolve) => {
          if (!r.connected) return resolve();
          r.disconnect(disposition, (err: Error | null) => {
            // A handle pcsc-lite no longer knows (card gone, service restarted): forget it, so
            // that the next connection makes a new one instead of reusing it.
            if (err) r.connected = false;
            resolve();
          });
        }),
    );
    slot.disconnecting = p;
    void p.then(() => {
      if (slot.disconnecting === p) slot.disconnecting = undefined;
    });
    return p;
  }

  readers(): ReaderState[] {
    return [...this.slots.values()].map((s) => ({ ...s.state }));
  }

  private async connect(slot: Slot): Promise<void> {
    const r = slot.reader;
    if (slot.disconnecting) await slot.disconnecting;
    if (r.connected && slot.protocol !== undefined) return;
    // A handle without a protocol was dropped (an error, a removal): close it before a new one.
    if (r.connected && !slot.connecting) await this.release(slot, r.SCARD_LEAVE_CARD);
    slot.connecting ??= new Promise<void>((resolve, reject) => {
      r.connect({ share_mode: r.SCARD_SHARE_SHARED }, (err: Error | null, protocol: number) => {
        slot.connecting = undefined;
        if (err) return reject(new CardAbsentError(r.name, err.message));
        slot.protocol = protocol;
        if (slot.state.pinPad !== undefined) return resolve();
        // Feature discovery; readers without part 10 (vpcd among them) answer with an error.
        try {
          r.control(Buffer.alloc(0), r.SCARD_CTL_CODE(CM_IOCTL_GET_FEATURE_REQUEST), 256, (e: Error | null, out: Buffer) => {
            slot.verifyPinCode = e ? undefined : parseFeatures(new Uint8Array(out)).get(FEATURE_VERIFY_PIN_DIRECT);
            slot.state.pinPad = slot.verifyPinCode !== undefined;
            resolve();
          });
        } catch {
          slot.state.pinPad = false;
          resolve();
        }
      });
    });
    return slot.connecting;
  }

  withCard<T>(reader: string, fn: (tx: Transmit, pad: PinPad | null) => Promise<T>): Promise<T> {
    return this.serial.run(reader, async () => {
      const slot = this.slots.get(reader);
      if (!slot || !slot.state.present) throw new CardAbsentError(reader);
      await this.connect(slot);
      const tx: Transmit = (apdu) =>
        new Promise((resolve, reject) => {
          if (!slot.reader.connected) return reject(new CardAbsentError(reader));
          // Buffer over the caller's memory (no copy): wiping the APDU (PIN) wipes what we handed over.
          slot.reader.transmit(Buffer.from(apdu.buffer, apdu.byteOffset, apdu.byteLength), 1024, slot.protocol, (err: Error | null, data: Buffer) => {
            if (err) {
              void this.release(slot, slot.reader.SCARD_LEAVE_CARD);
              return reject(new CardAbsentError(reader, err.message));
            }
            // vpcd (and some readers) answer nothing when the card goes away mid-command.
            if (data.length < 2) return reject(new CardAbsentError(reader, 'no answer from the card'));
            resolve(new Uint8Array(data));
          });
        });
      const code = slot.verifyPinCode;
      const pad: PinPad | null =
        code === undefined
          ? null
          : {
              verifyPinDirect: (structure) =>
                new Promise((resolve, reject) => {
                  if (!slot.reader.connected) return reject(new CardAbsentError(reader));
                  // The control code comes from the reader's feature list: already a full code.
                  slot.reader.control(Buffer.from(structure.buffer, structure.byteOffset, structure.byteLength), code, 258, (err: Error | null, out: Buffer) => {
                    if (err) return reject(new CardAbsentError(reader, err.message));
                    if (out.length < 2) return reject(new CardAbsentError(reader, 'no answer from the PIN pad'));
                    const copy = new Uint8Array(out);
                    out.fill(0);
                    resolve(copy);
                  });
                }),
            };
      return fn(tx, pad);
    });
  }

  resetCard(reader: string): Promise<void> {
    return this.serial.run(reader, async () => {
      const slot = this.slots.get(reader);
      if (!slot || !slot.state.present) return;
      // Connected first if need be: the reset is a disposition of SCardDisconnect.
      await this.connect(slot);
      const r = slot.reader;
      slot.protocol = undefined;
      await new Promise<void>((resolve, reject) => {
        r.disconnect(r.SCARD_RESET_CARD, (err: Error | null) => (err ? reject(new CardAbsentError(reader, err.message)) : resolve()));
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.slots.values()) {
      try {
        if (s.reader.connected) await new Promise((r) => s.reader.disconnect(s.reader.SCARD_LEAVE_CARD, r));
        s.reader.close();
      } catch {
        /* already gone */
      }
    }
    this.slots.clear();
    try {
      this.pcsc.close();
    } catch {
      /* already closed */
    }
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

// -------------------------------------------------------------------------------------------
// Simulated readers (no pcscd): cards are called in-process.

export class SimulatedTransport extends EventEmitter<CardTransportEvents> implements CardTransport {
  readonly kind = 'simulated';
  private cards = new Map<string, VirtualCard | null>();
  private serial = new Serialiser();
  /** Bumped on every insertion/removal: a command in flight on a pulled card fails. */
  private generation = new Map<string, number>();

  constructor(readerNames: string[] = ['Lecteur simulé 00', 'Lecteur simulé 01']) {
    super();
    for (const n of readerNames) {
      this.cards.set(n, null);
      this.generation.set(n, 0);
    }
  }

  readers(): ReaderState[] {
    return [...this.cards.entries()].map(([name, c]) => (c ? { name, present: true, atr: c.atr } : { name, present: false }));
  }

  insert(reader: string, card: VirtualCard): void {
    if (!this.cards.has(reader)) throw new Error(`unknown reader ${reader}`);
    if (this.cards.get(reader)) this.remove(reader);
    card.reset();
    this.cards.set(reader, card);
    this.generation.set(reader, this.generation.get(reader)! + 1);
    this.emit('inserted', { name: reader, present: true, atr: card.atr });
  }

  remove(reader: string): void {
    const c = this.cards.get(reader);
    if (!c) return;
    c.reset();
    this.cards.set(reader, null);
    this.generation.set(reader, this.generation.get(reader)! + 1);
    this.emit('removed', reader);
  }

  withCard<T>(reader: string, fn: (tx: Transmit, pad: PinPad | null) => Promise<T>): Promise<T> {
    return this.serial.run(reader, async () => {
      const card = this.cards.get(reader);
      if (!card) throw new CardAbsentError(reader);
      const gen = this.generation.get(reader);
      const tx: Transmit = async (apdu) => {
        if (this.generation.get(reader) !== gen) throw new CardAbsentError(reader);
        const r = await card.process(apdu);
        if (this.generation.get(reader) !== gen) throw new CardAbsentError(reader, 'card pulled during the command');
        return r;
      };
      // Simulated readers have no PIN pad.
      return fn(tx, null);
    });
  }

  resetCard(reader: string): Promise<void> {
    return this.serial.run(reader, async () => {
      this.cards.get(reader)?.reset();
    });
  }

  async close(): Promise<void> {}
}
