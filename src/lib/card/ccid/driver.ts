/**
 * A CCID driver over WebUSB (USB CCID rev. 1.1), for the page that may claim the reader itself
 * (an Isolated Web App, a ChromeOS kiosk app, enterprise policy: issue 17). Readers that
 * exchange at the short or extended APDU level — the reader runs T=0/T=1 with the card — which
 * is what the PIN-pad and two-slot readers sold for SESAM-Vitale do; character and TPDU levels
 * are refused with a typed error.
 *
 * One command at a time on the bulk pipes (the reader answers in order; bMaxCCIDBusySlots is
 * not relied on); one card session at a time per slot (`withCard`). Every wait is bounded: a
 * response must come within `responseTimeoutMs` (a time extension restarts it) and a command
 * within `maxCommandMs` all told, so a silent or chattering device gives a `timeout`, never a
 * hang. A response that arrives after its command was given up is recognised by its sequence
 * number and dropped.
 */
import { concatBytes } from '../bytes.js';
import { withGetResponse } from '../get-response.js';
import type { PinPad, Transmit } from '../services.js';
import { CardAbsentError, Serialiser, TransportEmitter, type CardTransport, type ReaderState } from '../transport.js';
import type { CcidClass } from './descriptor.js';
import { CcidError } from './errors.js';
import type { CcidLink } from './link.js';
import {
  CHAIN, COMMAND, HEADER, ICC, NOTIFY, PC_TO_RDR, RDR_TO_PC, SLOT_ERROR,
  declaredLength, decodeResponse, decodeSlotChange, encodeCommand, secureVerifyData, type CcidResponse,
} from './messages.js';
import { UsbCcidLink, timed } from './usb-link.js';
import type { UsbDeviceLike } from './usb.js';

export interface CcidOptions {
  /** Longest wait for one response, ms (a time extension restarts it). Default 10 s. */
  responseTimeoutMs?: number;
  /** Longest a command may take with its time extensions, ms. Default 60 s (the PIN pad's own delay is added). */
  maxCommandMs?: number;
  /** Slot status polling when the reader has no interrupt endpoint, ms. Default 1 s. */
  pollMs?: number;
}

/** Stale responses (answers to commands given up) dropped before one command's own is taken as lost. */
const MAX_STALE = 8;
/** Largest extended APDU (ISO 7816-4: 4 + 3 + 65 535 + 2) and response (65 536 + 2). */
const MAX_APDU = 65_544;
const MAX_RESPONSE = 65_538;

interface Slot {
  name: string;
  present: boolean;
  atr?: Uint8Array;
  /** Bumped at each removal: a command in flight on a pulled card fails. */
  generation: number;
}

const hex = (n: number): string => n.toString(16).padStart(2, '0').toUpperCase();

export class CcidTransport extends TransportEmitter implements CardTransport {
  readonly kind: 'webusb' | 'webhid';
  private seq = 0;
  private readonly bulk = new Serialiser();
  private readonly sessions = new Serialiser();
  private readonly slots: Slot[];
  /** The read in flight, kept across a timeout so that its late answer is read (and dropped) by the next command. */
  private pendingIn: Promise<Uint8Array> | null = null;
  private closed = false;
  private poller: ReturnType<typeof setTimeout> | null = null;
  private readonly responseTimeoutMs: number;
  private readonly maxCommandMs: number;

  private constructor(
    private readonly link: CcidLink,
    private readonly options: CcidOptions,
  ) {
    super();
    this.kind = link.kind;
    this.responseTimeoutMs = options.responseTimeoutMs ?? 10_000;
    this.maxCommandMs = options.maxCommandMs ?? 60_000;
    this.slots = Array.from({ length: link.ccid.maxSlotIndex + 1 }, (_, i) => ({ name: `${link.product} ${String(i).padStart(2, '0')}`, present: false, generation: 0 }));
  }

  /** The reader's CCID class descriptor (for a USB reader, with its interface and endpoints). */
  get descriptor(): CcidClass {
    return this.link.ccid;
  }

  /**
   * Opens a USB reader (WebUSB), reads its descriptors, claims the smart-card interface, powers
   * the cards present and starts listening for insertions. Throws CcidError (`not_ccid`,
   * `unsupported_level`, `descriptor_invalid`, `unavailable`, `transfer_failed`, `timeout`).
   */
  static async open(device: UsbDeviceLike, options: CcidOptions = {}): Promise<CcidTransport> {
    return CcidTransport.over(await UsbCcidLink.open(device, options.responseTimeoutMs ?? 10_000), options);
  }

  /** The driver over a link already opened (USB, or HID reports: ./hid-link.ts). */
  static async over(link: CcidLink, options: CcidOptions = {}): Promise<CcidTransport> {
    if (link.ccid.level === 'character' || link.ccid.level === 'tpdu') {
      await link.close();
      throw new CcidError('unsupported_level', `ce lecteur échange au niveau ${link.ccid.level === 'tpdu' ? 'TPDU' : 'caractère'} : seuls les lecteurs au niveau APDU sont pris en charge`);
    }
    const t = new CcidTransport(link, options);
    try {
      for (let s = 0; s <= link.ccid.maxSlotIndex; s++) {
        const st = await t.exchange(s, PC_TO_RDR.GetSlotStatus, [0, 0, 0]);
        if (st.iccStatus !== ICC.ABSENT) await t.powerOn(s, false);
      }
    } catch (e) {
      await t.close();
      throw e;
    }
    if (link.notifies) void t.listen();
    else t.poll();
    return t;
  }

  readers(): ReaderState[] {
    const pinPad = (this.descriptor.pinSupport & 0x01) !== 0;
    return this.slots.map((s) => ({ name: s.name, present: s.present, ...(s.atr ? { atr: s.atr.slice() } : {}), pinPad }));
  }

  withCard<T>(reader: string, fn: (tx: Transmit, pad: PinPad | null) => Promise<T>): Promise<T> {
    return this.sessions.run(reader, async () => {
      const index = this.slots.findIndex((s) => s.name === reader);
      const slot = this.slots[index];
      if (!slot?.present) throw new CardAbsentError(reader);
      const generation = slot.generation;
      const alive = (): void => {
        if (slot.generation !== generation || !slot.present) throw new CardAbsentError(reader, 'carte retirée pendant la commande');
      };
      const raw: Transmit = async (apdu) => {
        alive();
        const r = await this.transmit(index, apdu);
        alive();
        if (r.length < 2) throw new CardAbsentError(reader, 'pas de réponse de la carte');
        return r;
      };
      const pad: PinPad | null = this.descriptor.pinSupport & 0x01 ? { verifyPinDirect: async (s) => { alive(); return this.secureVerify(index, s); } } : null;
      return fn(withGetResponse(raw), pad);
    });
  }

  resetCard(reader: string): Promise<void> {
    return this.sessions.run(reader, async () => {
      const index = this.slots.findIndex((s) => s.name === reader);
      if (!this.slots[index]?.present) return;
      await this.exchange(index, PC_TO_RDR.IccPowerOff, [0, 0, 0]);
      await this.powerOn(index, false);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.poller) clearTimeout(this.poller);
    await this.link.close();
  }

  // --- slots ------------------------------------------------------------------------------

  /** Powers the card on (the reader picks voltage and protocol); `announce`: emit `inserted`. */
  private async powerOn(index: number, announce: boolean): Promise<void> {
    const slot = this.slots[index]!;
    const r = await this.exchange(index, PC_TO_RDR.IccPowerOn, [0, 0, 0]);
    if (r.commandStatus === COMMAND.FAILED) {
      if (r.iccStatus === ICC.ABSENT || r.error === SLOT_ERROR.ICC_MUTE) return this.gone(index);
      throw new CcidError('reader_error', `mise sous tension de la carte (${slot.name}) : erreur ${hex(r.error)}`);
    }
    if (r.type !== RDR_TO_PC.DataBlock || r.data.length < 2 || r.data.length > 33) throw new CcidError('protocol', `ATR invalide (${r.data.length} octets)`);
    slot.present = true;
    slot.atr = r.data.slice();
    if (announce) this.emit('inserted', { name: slot.name, present: true, atr: slot.atr.slice(), pinPad: (this.descriptor.pinSupport & 0x01) !== 0 });
  }

  private gone(index: number): void {
    const slot = this.slots[index]!;
    if (!slot.present) return;
    slot.present = false;
    slot.atr = undefined;
    slot.generation++;
    this.emit('removed', slot.name);
  }

  /** A slot's new state, from a notification or a poll. */
  private changed(index: number, present: boolean, changed: boolean): void {
    const slot = this.slots[index]!;
    if (slot.present && (!present || changed)) this.gone(index);
    if (present && !slot.present) {
      // In the slot's session queue: a card session in progress on the old card ends first.
      void this.sessions.run(slot.name, () => this.powerOn(index, true)).catch((e: unknown) => this.emit('error', e instanceof Error ? e : new Error(String(e))));
    }
  }

  /** The reader's notifications: RDR_to_PC_NotifySlotChange and HardwareError, until closed. */
  private async listen(): Promise<void> {
    while (!this.closed) {
      let b: Uint8Array | null;
      try {
        b = await this.link.notification();
      } catch (e) {
        if (!this.closed) this.emit('error', e instanceof Error ? e : new Error(String(e)));
        return;
      }
      if (this.closed) return;
      if (b === null) {
        this.emit('error', new CcidError('transfer_failed', 'notifications du lecteur indisponibles : interrogation périodique'));
        this.poll();
        return;
      }
      try {
        if (b[0] === NOTIFY.SlotChange) {
          for (const c of decodeSlotChange(b, this.descriptor.maxSlotIndex)) this.changed(c.slot, c.present, c.changed);
        } else if (b[0] === NOTIFY.HardwareError && b.length >= 4) {
          this.emit('error', new CcidError('reader_error', `erreur matérielle du lecteur (fente ${b[1]}, code ${hex(b[3]!)})`));
        } else {
          throw new CcidError('protocol', `notification CCID inconnue (${b.length ? hex(b[0]!) : 'vide'})`);
        }
      } catch (e) {
        this.emit('error', e instanceof Error ? e : new Error(String(e)));
      }
    }
  }

  /** Without an interrupt pipe: the slots' status, every `pollMs`. */
  private poll(): void {
    const tick = async (): Promise<void> => {
      for (let s = 0; s < this.slots.length && !this.closed; s++) {
        try {
          const r = await this.exchange(s, PC_TO_RDR.GetSlotStatus, [0, 0, 0]);
          this.changed(s, r.iccStatus !== ICC.ABSENT, false);
        } catch (e) {
          if (!this.closed) this.emit('error', e instanceof Error ? e : new Error(String(e)));
        }
      }
      if (!this.closed) this.poller = setTimeout(() => void tick(), this.options.pollMs ?? 1000);
    };
    this.poller = setTimeout(() => void tick(), this.options.pollMs ?? 1000);
  }

  // --- APDUs ------------------------------------------------------------------------------

  /** One APDU through XfrBlock, chained (wLevelParameter) when longer than the reader's messages. */
  private async transmit(index: number, apdu: Uint8Array): Promise<Uint8Array> {
    const extended = apdu.length > 5 && apdu[4] === 0;
    if (apdu.length > MAX_APDU || ((extended || apdu.length > 261) && this.descriptor.level !== 'extended-apdu')) {
      throw new CcidError('apdu_too_long', `APDU de ${apdu.length} octets : ce lecteur ne prend que les APDU courtes`);
    }
    const room = this.descriptor.maxMessageLength - HEADER;
    let r: CcidResponse;
    if (apdu.length <= room) {
      r = await this.xfr(index, apdu, CHAIN.WHOLE);
    } else {
      let o = 0;
      for (;;) {
        const part = apdu.subarray(o, o + room);
        const last = o + room >= apdu.length;
        r = await this.xfr(index, part, o === 0 ? CHAIN.BEGIN : last ? CHAIN.END : CHAIN.CONTINUE);
        if (last) break;
        if (r.data.length !== 0 || r.param !== CHAIN.MORE) throw new CcidError('protocol', 'le lecteur ne suit pas le chaînage de la commande');
        o += room;
      }
    }
    return this.collect(index, r);
  }

  /** The whole response of a DataBlock, fetching its following parts while chained. */
  private async collect(index: number, first: CcidResponse): Promise<Uint8Array> {
    if (first.param === CHAIN.WHOLE) return first.data.slice();
    if (first.param !== CHAIN.BEGIN) throw new CcidError('protocol', `bChainParameter ${hex(first.param)} inattendu`);
    const parts = [first.data.slice()];
    let total = first.data.length;
    for (;;) {
      const r = await this.xfr(index, new Uint8Array(0), CHAIN.MORE);
      parts.push(r.data.slice());
      total += r.data.length;
      if (total > MAX_RESPONSE) throw new CcidError('protocol', 'réponse chaînée plus longue qu’une APDU');
      if (r.param === CHAIN.END) break;
      if (r.param !== CHAIN.CONTINUE) throw new CcidError('protocol', `bChainParameter ${hex(r.param)} inattendu`);
    }
    return concatBytes(parts);
  }

  private async xfr(index: number, data: Uint8Array, level: number): Promise<CcidResponse> {
    const r = await this.exchange(index, PC_TO_RDR.XfrBlock, [0, level & 0xff, level >> 8], data);
    this.failed(index, r, 'échange avec la carte');
    if (r.type !== RDR_TO_PC.DataBlock) throw new CcidError('protocol', `réponse ${hex(r.type)} à un XfrBlock`);
    return r;
  }

  /**
   * PIN verification on the reader's pad (PC_to_RDR_Secure): the part 10 structure becomes
   * CCID's; the pad's outcomes come back as the part 10 status words (6400 delay, 6401
   * cancelled, 6B80 parameters refused), as the card services expect (../pinpad.ts).
   */
  private async secureVerify(index: number, part10: Uint8Array): Promise<Uint8Array> {
    const data = secureVerifyData(part10);
    const padMs = (part10[0] || 30) * 1000 + (part10[1] || 0) * 1000;
    let r: CcidResponse;
    try {
      r = await this.exchange(index, PC_TO_RDR.Secure, [0, 0, 0], data, this.maxCommandMs + padMs);
    } finally {
      data.fill(0);
    }
    if (r.commandStatus === COMMAND.FAILED) {
      if (r.error === SLOT_ERROR.PIN_TIMEOUT) return Uint8Array.of(0x64, 0x00);
      if (r.error === SLOT_ERROR.PIN_CANCELLED) return Uint8Array.of(0x64, 0x01);
      this.failed(index, r, 'saisie du code PIN');
      return Uint8Array.of(0x6b, 0x80);
    }
    if (r.type !== RDR_TO_PC.DataBlock) throw new CcidError('protocol', `réponse ${hex(r.type)} à un Secure`);
    return this.collect(index, r);
  }

  /** Throws for a failed command: CardAbsentError when the card is gone or mute, CcidError otherwise. */
  private failed(index: number, r: CcidResponse, what: string): void {
    if (r.commandStatus !== COMMAND.FAILED) return;
    const slot = this.slots[index]!;
    if (r.iccStatus === ICC.ABSENT || r.error === SLOT_ERROR.ICC_MUTE) {
      if (r.iccStatus === ICC.ABSENT) this.gone(index);
      throw new CardAbsentError(slot.name, what);
    }
    throw new CcidError('reader_error', `${what} : erreur ${hex(r.error)} du lecteur`);
  }

  // --- bulk pipes -------------------------------------------------------------------------

  /** Sends one message and reads its answer (time extensions followed, stale answers dropped). */
  private exchange(slot: number, type: number, specific: readonly [number, number, number], data?: Uint8Array, maxMs = this.maxCommandMs): Promise<CcidResponse> {
    return this.bulk.run('bulk', async () => {
      if (this.closed) throw new CcidError('closed', 'lecteur fermé');
      const seq = this.seq;
      this.seq = (this.seq + 1) & 0xff;
      const msg = encodeCommand(type, slot, seq, specific, data);
      try {
        await timed(this.link.send(msg), this.responseTimeoutMs, 'envoi au lecteur');
      } finally {
        msg.fill(0); // may hold a PIN (VERIFY typed on the page)
      }
      const deadline = Date.now() + maxMs;
      let stale = 0;
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) throw new CcidError('timeout', `commande ${hex(type)} : le lecteur demande plus de ${maxMs} ms`);
        const r = decodeResponse(await this.readMessage(Math.min(this.responseTimeoutMs, left)));
        if (r.seq !== seq) {
          if (++stale > MAX_STALE) throw new CcidError('protocol', 'réponses du lecteur hors séquence');
          continue;
        }
        if (r.slot !== slot) throw new CcidError('protocol', `réponse pour la fente ${r.slot}, ${slot} attendue`);
        if (r.commandStatus === COMMAND.TIME_EXTENSION) continue;
        if (r.commandStatus === 3) throw new CcidError('protocol', 'bmCommandStatus réservé');
        return r;
      }
    });
  }

  /** One whole message (header + dwLength), over as many reads as it takes. */
  private async readMessage(timeoutMs: number): Promise<Uint8Array> {
    const max = this.descriptor.maxMessageLength;
    let buf: Uint8Array = new Uint8Array(0);
    let empty = 0;
    for (;;) {
      const chunk = await timed(this.readOnce(max - buf.length), timeoutMs, 'réponse du lecteur');
      // A zero-length packet ends a transfer whose size is a multiple of the endpoint's packets;
      // some readers send a stray one: skipped, a few in a row at most.
      if (chunk.length === 0) {
        if (++empty > 4) throw new CcidError('protocol', 'le lecteur n’envoie que des paquets vides');
        continue;
      }
      empty = 0;
      buf = concatBytes([buf, chunk]);
      const n = declaredLength(buf);
      if (n !== null) {
        if (HEADER + n > max) throw new CcidError('protocol', `message du lecteur de ${HEADER + n} octets (au plus ${max})`);
        if (buf.length >= HEADER + n) {
          if (buf.length > HEADER + n) throw new CcidError('protocol', 'octets en trop après un message du lecteur');
          return buf;
        }
      }
    }
  }

  private readOnce(length: number): Promise<Uint8Array> {
    if (!this.pendingIn) {
      const p = this.link.receive(length).catch((e: unknown) => {
        throw this.closed ? new CcidError('closed', 'lecteur fermé') : e;
      });
      this.pendingIn = p;
      void p.then(
        () => { if (this.pendingIn === p) this.pendingIn = null; },
        () => { if (this.pendingIn === p) this.pendingIn = null; },
      );
    }
    return this.pendingIn;
  }
}
