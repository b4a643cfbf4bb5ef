/**
 * The card side of vsmartcard's vpcd protocol: a virtual card "inserted" in a vpcd reader is a
 * TCP connection to the reader's port (pcscd's vpcd driver listens there). Frames are a 2-byte
 * big-endian length then the payload; a 1-byte payload is a control message (0x00 power off,
 * 0x01 power on, 0x02 reset, 0x04 get ATR), anything else a command APDU to answer.
 * Closing the connection is pulling the card out.
 */
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import type { VirtualCard } from './card.js';

/**
 * vpcd's driver writes a frame's length and its payload in two send() calls without
 * TCP_NODELAY: Nagle holds the payload until the length is acknowledged, and our side's
 * delayed ACK (40 ms on Linux) would add 40 ms to every APDU. Setting TCP_QUICKACK after each
 * read acknowledges at once. Optional: without the `sockopt` binding the cards still work,
 * only slower.
 */
const IPPROTO_TCP = 6;
const TCP_QUICKACK = 12;
type SetSockOpt = (s: Socket, level: number, name: number, value: number) => void;
let setsockopt: SetSockOpt | null = null;
try {
  if (process.platform === 'linux') setsockopt = (createRequire(import.meta.url)('sockopt') as { setsockopt: SetSockOpt }).setsockopt;
} catch {
  setsockopt = null;
}
function quickAck(s: Socket): void {
  try {
    setsockopt?.(s, IPPROTO_TCP, TCP_QUICKACK, 1);
  } catch {
    /* socket closing */
  }
}

export class VpcdInsertion {
  private socket: Socket | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private chain: Promise<void> = Promise.resolve();
  /** Count of APDUs processed (tests and bench). */
  apdus = 0;

  constructor(
    readonly card: VirtualCard,
    readonly port: number,
    readonly host = '127.0.0.1',
  ) {}

  /** Inserts the card: connects to vpcd. Resolves once connected. */
  insert(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.host, port: this.port });
      s.setNoDelay(true);
      s.once('connect', () => {
        this.socket = s;
        resolve();
      });
      s.once('error', (e) => {
        if (!this.socket) reject(e);
      });
      s.on('data', (d) => {
        quickAck(s);
        this.onData(d);
      });
      s.on('close', () => {
        if (this.socket === s) this.socket = null;
      });
    });
  }

  get inserted(): boolean {
    return this.socket !== null;
  }

  /** Pulls the card out: the connection is destroyed at once, mid-command or not. */
  remove(): void {
    this.socket?.destroy();
    this.socket = null;
    this.card.reset();
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 2) {
      const n = this.buf.readUInt16BE(0);
      if (this.buf.length < 2 + n) break;
      const frame = new Uint8Array(this.buf.subarray(2, 2 + n));
      this.buf = this.buf.subarray(2 + n);
      const s = this.socket;
      this.chain = this.chain.then(() => this.handle(frame, s)).catch(() => undefined);
    }
  }

  private async handle(frame: Uint8Array, s: Socket | null): Promise<void> {
    if (!s || s !== this.socket) return;
    if (frame.length === 1) {
      const c = frame[0]!;
      if (c === 0x00 || c === 0x01 || c === 0x02) this.card.reset();
      else if (c === 0x04) send(s, this.card.atr);
      return;
    }
    this.apdus++;
    const r = await this.card.process(frame);
    if (s === this.socket && !s.destroyed) send(s, r);
  }
}

function send(s: Socket, payload: Uint8Array): void {
  const out = Buffer.allocUnsafe(2 + payload.length);
  out.writeUInt16BE(payload.length, 0);
  out.set(payload, 2);
  s.write(out);
}
