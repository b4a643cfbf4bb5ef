/**
 * A small IMAP4rev1 client (RFC 3501) for the relay's reading side of an MSSanté mailbox: what
 * the inbox needs and nothing more — STARTTLS on 143 under the MSSanté TLS policy, AUTHENTICATE
 * XOAUTH2 in one step (SASL-IR, RFC 4959) or PLAIN, SELECT/EXAMINE, UID SEARCH, UID FETCH,
 * UID STORE, NOOP, LOGOUT.
 *
 * Why ours and not imapflow (used for the insurers' returns): with a token imapflow picks
 * OAUTHBEARER whenever the server offers it, and MSSanté names XOAUTH2 in an exact form; and
 * STARTTLS must refuse anything the server sent in clear before the handshake (RFC 3207 §4.2's
 * injection, as our SMTP and POP3 clients do). Literals are read as bytes (messages are binary
 * safe), every response and literal is bounded, every wait has a timeout.
 */
import net from 'node:net';
import tls from 'node:tls';
import { checkTlsSocket, mssTlsOptions, type MssTlsOptions } from './tls-policy.js';

export type ImapErrorCode = 'ECONNECTION' | 'ETIMEDOUT' | 'ETLS' | 'EPROTOCOL' | 'EAUTH' | 'ECOMMAND';

export class ImapError extends Error {
  constructor(readonly code: ImapErrorCode, message: string, readonly command: string, readonly response?: string) {
    super(message);
    this.name = 'ImapError';
  }
}

/** A parsed IMAP value: atom/quoted string, literal bytes, NIL, or a parenthesised list. */
export type ImapValue = string | Buffer | null | ImapValue[];

export interface ImapResponse {
  /** '*' untagged, '+' continuation, or the tag. */
  tag: string;
  /** Parsed tokens after the tag. */
  values: ImapValue[];
  /** The first line as text (no literal contents), for messages and traces. */
  line: string;
}

const MAX_LINE = 64 * 1024;
const MAX_LITERAL = 40 * 1024 * 1024;

/** Splits a response into values. `parts`: text segments, each literal's bytes after the segment announcing it. */
export function parseValues(parts: ReadonlyArray<string | Buffer>): ImapValue[] {
  const stack: ImapValue[][] = [[]];
  const push = (v: ImapValue): void => {
    stack[stack.length - 1]!.push(v);
  };
  for (const part of parts) {
    if (Buffer.isBuffer(part)) {
      push(part);
      continue;
    }
    const text = part;
    let p = 0;
    while (p < text.length) {
      const c = text[p]!;
      if (c === ' ') {
        p++;
      } else if (c === '(') {
        const l: ImapValue[] = [];
        push(l);
        stack.push(l);
        p++;
      } else if (c === ')') {
        if (stack.length === 1) throw new ImapError('EPROTOCOL', 'unbalanced parenthesis', '');
        stack.pop();
        p++;
      } else if (c === '"') {
        let str = '';
        p++;
        for (;;) {
          if (p >= text.length) throw new ImapError('EPROTOCOL', 'unterminated quoted string', '');
          const ch = text[p]!;
          if (ch === '\\') {
            str += text[p + 1] ?? '';
            p += 2;
          } else if (ch === '"') {
            p++;
            break;
          } else {
            str += ch;
            p++;
          }
        }
        push(str);
      } else if (c === '{') {
        // "{n}" ends its segment: the literal is the next part.
        if (!/^\{\d+\+?\}$/.test(text.slice(p))) throw new ImapError('EPROTOCOL', 'malformed literal', '');
        p = text.length;
      } else {
        // An atom, possibly with a section "BODY[HEADER.FIELDS (A B)]" or a partial "<0>".
        let q = p;
        let depth = 0;
        while (q < text.length) {
          const ch = text[q]!;
          if (ch === '[') depth++;
          else if (ch === ']') depth--;
          else if (depth === 0 && (ch === ' ' || ch === '(' || ch === ')')) break;
          q++;
        }
        const atom = text.slice(p, q);
        push(atom === 'NIL' ? null : atom);
        p = q;
      }
    }
  }
  if (stack.length !== 1) throw new ImapError('EPROTOCOL', 'unbalanced parenthesis', '');
  return stack[0]!;
}

export interface ImapOptions {
  host: string;
  port: number;
  tls: MssTlsOptions;
  connectionTimeoutMs?: number;
  socketTimeoutMs?: number;
}

export type ImapAuth = { kind: 'xoauth2'; user: string; accessToken: string } | { kind: 'plain'; user: string; password: string };

export interface FetchedMessage {
  uid: number;
  flags: string[];
  size?: number;
  internalDate?: string;
  /** BODY[...] sections by their name as the server echoed them. */
  sections: Map<string, Buffer>;
}

export class ImapConnection {
  private socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private parts: Array<string | Buffer> = [];
  private queue: ImapResponse[] = [];
  private wake: (() => void) | null = null;
  private failure: ImapError | null = null;
  private nextTag = 1;
  capabilities = new Set<string>();
  private readonly timeoutMs: number;

  private constructor(socket: net.Socket, private readonly o: ImapOptions) {
    this.socket = socket;
    this.timeoutMs = o.socketTimeoutMs ?? 60_000;
    this.attach(socket);
  }

  static async open(o: ImapOptions, auth: ImapAuth): Promise<ImapConnection> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: o.host, port: o.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new ImapError('ETIMEDOUT', `no connection within ${o.connectionTimeoutMs ?? 15_000} ms`, 'CONN'));
      }, o.connectionTimeoutMs ?? 15_000);
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(new ImapError('ECONNECTION', e.message, 'CONN'));
      });
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
    });
    const c = new ImapConnection(socket, o);
    try {
      await c.handshake(auth);
      return c;
    } catch (e) {
      c.destroy();
      throw e;
    }
  }

  private attach(s: net.Socket): void {
    s.setTimeout(this.timeoutMs);
    s.on('data', (d: Buffer) => this.onData(d));
    s.on('timeout', () => this.fail(new ImapError('ETIMEDOUT', `no answer within ${this.timeoutMs} ms`, 'IDLE')));
    s.on('error', (e) => this.fail(new ImapError('ECONNECTION', e.message, 'IDLE')));
    s.on('close', () => this.fail(new ImapError('ECONNECTION', 'connection closed by the server', 'IDLE')));
  }

  private detach(s: net.Socket): void {
    for (const ev of ['data', 'timeout', 'error', 'close']) s.removeAllListeners(ev);
    s.setTimeout(0);
  }

  private fail(e: ImapError): void {
    if (this.failure) return;
    this.failure = e;
    this.socket.destroy();
    this.wake?.();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private literalWanted: number | null = null;
  /** Chunks of the literal being received, joined once when whole (not re-copied at every chunk). */
  private literalChunks: Buffer[] = [];
  private literalHave = 0;

  private onData(d: Buffer): void {
    if (this.literalWanted !== null && this.buf.length === 0) {
      // Inside a literal: keep the chunk, join when complete.
      const need = this.literalWanted - this.literalHave;
      if (d.length < need) {
        this.literalChunks.push(d);
        this.literalHave += d.length;
        return;
      }
      this.literalChunks.push(d.subarray(0, need));
      this.parts.push(this.literalChunks.length === 1 ? Buffer.from(this.literalChunks[0]!) : Buffer.concat(this.literalChunks, this.literalWanted));
      this.literalChunks = [];
      this.literalHave = 0;
      this.literalWanted = null;
      d = d.subarray(need);
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.literalWanted !== null) {
        const n = this.literalWanted;
        if (this.buf.length < n) {
          // The rest arrives in later chunks: keep what is here as the literal's first chunk.
          this.literalChunks = [Buffer.from(this.buf)];
          this.literalHave = this.buf.length;
          this.buf = Buffer.alloc(0);
          break;
        }
        this.parts.push(Buffer.from(this.buf.subarray(0, n)));
        this.buf = this.buf.subarray(n);
        this.literalWanted = null;
        continue;
      }
      const nl = this.buf.indexOf('\r\n');
      if (nl < 0) {
        if (this.buf.length > MAX_LINE) this.fail(new ImapError('EPROTOCOL', 'response line too long', 'IDLE'));
        break;
      }
      const line = this.buf.subarray(0, nl).toString('latin1');
      this.buf = this.buf.subarray(nl + 2);
      this.parts.push(line);
      const lit = /\{(\d+)\+?\}$/.exec(line);
      if (lit) {
        const n = Number(lit[1]);
        if (n > MAX_LITERAL) {
          this.fail(new ImapError('EPROTOCOL', `literal of ${n} bytes refused`, 'IDLE'));
          return;
        }
        this.literalWanted = n;
        continue;
      }
      this.complete();
    }
  }

  private complete(): void {
    const parts = this.parts;
    this.parts = [];
    const first = parts[0] as string;
    const sp = first.indexOf(' ');
    const tag = sp < 0 ? first : first.slice(0, sp);
    const rest: Array<string | Buffer> = [sp < 0 ? '' : first.slice(sp + 1), ...parts.slice(1)];
    let values: ImapValue[];
    try {
      values = tag === '+' ? [rest[0] as string] : parseValues(rest);
    } catch (e) {
      this.fail(e instanceof ImapError ? e : new ImapError('EPROTOCOL', 'unreadable response', 'IDLE'));
      return;
    }
    this.queue.push({ tag, values, line: first });
    this.wake?.();
  }

  private async next(): Promise<ImapResponse> {
    for (;;) {
      const r = this.queue.shift();
      if (r) return r;
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
  }

  private write(s: string): void {
    this.socket.write(s);
  }

  /** Runs a command; returns its untagged responses; throws on NO/BAD (code by `onNo`). */
  async command(text: string, opts: { name?: string; onNo?: ImapErrorCode; continuation?: (challenge: string) => string } = {}): Promise<ImapResponse[]> {
    if (this.failure) throw this.failure;
    const tag = `T${this.nextTag++}`;
    const name = opts.name ?? text.split(' ')[0]!;
    this.write(`${tag} ${text}\r\n`);
    const untagged: ImapResponse[] = [];
    for (;;) {
      const r = await this.next().catch((e: unknown) => {
        throw e instanceof ImapError ? new ImapError(e.code, e.message, name, e.response) : e;
      });
      if (r.tag === '*') {
        untagged.push(r);
        this.capabilityFrom(r);
        continue;
      }
      if (r.tag === '+') {
        this.write(`${opts.continuation ? opts.continuation(String(r.values[0] ?? '')) : ''}\r\n`);
        continue;
      }
      if (r.tag !== tag) throw new ImapError('EPROTOCOL', `unexpected tag ${r.tag}`, name, r.line);
      const status = String(r.values[0] ?? '').toUpperCase();
      if (status === 'OK') return untagged;
      throw new ImapError(opts.onNo ?? 'ECOMMAND', `${name}: ${r.line.slice(tag.length + 1)}`, name, r.line.slice(tag.length + 1));
    }
  }

  private capabilityFrom(r: ImapResponse): void {
    const v = r.values;
    const caps = String(v[0]).toUpperCase() === 'CAPABILITY' ? v.slice(1) : /\[CAPABILITY /i.test(r.line) ? r.line.replace(/^.*\[CAPABILITY ([^\]]*)\].*$/i, '$1').split(' ') : null;
    if (caps) this.capabilities = new Set(caps.map((c) => String(c).toUpperCase()));
  }

  private async handshake(auth: ImapAuth): Promise<void> {
    const greeting = await this.next();
    if (greeting.tag !== '*' || String(greeting.values[0]).toUpperCase() !== 'OK') throw new ImapError('EPROTOCOL', `greeting: ${greeting.line}`, 'CONN', greeting.line);
    this.capabilityFrom(greeting);
    await this.command('CAPABILITY');
    if (!this.capabilities.has('STARTTLS')) throw new ImapError('ETLS', 'the server does not offer STARTTLS', 'STARTTLS');
    await this.command('STARTTLS', { onNo: 'ETLS' });
    // RFC 3207 §4.2 / RFC 3501 §6.2.1: nothing received in clear after the OK may be used.
    if (this.queue.length || this.buf.length || this.parts.length) {
      throw new ImapError('ETLS', 'data received after the STARTTLS reply, before TLS: refused (STARTTLS injection)', 'STARTTLS');
    }
    await this.upgrade();
    this.capabilities.clear();
    await this.command('CAPABILITY');
    await this.authenticate(auth);
  }

  private upgrade(): Promise<void> {
    const plain = this.socket;
    this.detach(plain);
    return new Promise<void>((resolve, reject) => {
      const s = tls.connect({ ...mssTlsOptions(this.o.host, this.o.tls), socket: plain });
      s.once('error', (e) => {
        s.destroy();
        reject(new ImapError('ETLS', `TLS: ${e.message}`, 'STARTTLS'));
      });
      s.once('secureConnect', () => {
        s.removeAllListeners('error');
        const refusal = checkTlsSocket(s);
        if (refusal) {
          s.destroy();
          reject(new ImapError('ETLS', `TLS: ${refusal}`, 'STARTTLS'));
          return;
        }
        this.socket = s;
        this.attach(s);
        resolve();
      });
    });
  }

  private async authenticate(a: ImapAuth): Promise<void> {
    const ir = a.kind === 'xoauth2'
      ? Buffer.from(`user=${a.user}\x01auth=Bearer ${a.accessToken}\x01\x01`).toString('base64')
      : Buffer.from(`\0${a.user}\0${a.password}`).toString('base64');
    const mech = a.kind === 'xoauth2' ? 'XOAUTH2' : 'PLAIN';
    if (!this.capabilities.has(`AUTH=${mech}`)) throw new ImapError('EAUTH', `the server does not offer ${mech}`, 'AUTHENTICATE');
    if (this.capabilities.has('SASL-IR')) {
      // On failure XOAUTH2 sends a "+" with the error; an empty line ends the exchange.
      await this.command(`AUTHENTICATE ${mech} ${ir}`, { name: 'AUTHENTICATE', onNo: 'EAUTH', continuation: () => '' });
    } else {
      let sent = false;
      await this.command(`AUTHENTICATE ${mech}`, { name: 'AUTHENTICATE', onNo: 'EAUTH', continuation: () => (sent ? '' : ((sent = true), ir)) });
    }
    this.capabilities.clear();
    await this.command('CAPABILITY');
  }

  /** SELECT (or EXAMINE when read-only): EXISTS and UIDVALIDITY. */
  async select(mailbox = 'INBOX', readOnly = false): Promise<{ exists: number; uidValidity: number; uidNext?: number }> {
    const rs = await this.command(`${readOnly ? 'EXAMINE' : 'SELECT'} ${quote(mailbox)}`);
    let exists = 0;
    let uidValidity = 0;
    let uidNext: number | undefined;
    for (const r of rs) {
      if (String(r.values[1]).toUpperCase() === 'EXISTS') exists = Number(r.values[0]);
      const v = /\[UIDVALIDITY (\d+)\]/i.exec(r.line);
      if (v) uidValidity = Number(v[1]);
      const n = /\[UIDNEXT (\d+)\]/i.exec(r.line);
      if (n) uidNext = Number(n[1]);
    }
    return { exists, uidValidity, ...(uidNext ? { uidNext } : {}) };
  }

  async uidSearch(criteria = 'ALL'): Promise<number[]> {
    const rs = await this.command(`UID SEARCH ${criteria}`);
    return rs.filter((r) => String(r.values[0]).toUpperCase() === 'SEARCH').flatMap((r) => r.values.slice(1).map(Number)).filter(Number.isFinite);
  }

  /** UID FETCH of `items` over a UID set ("1:*", "4,7,9"). */
  async uidFetch(set: string, items: string): Promise<FetchedMessage[]> {
    if (!/^[\d:,*]+$/.test(set)) throw new ImapError('ECOMMAND', 'invalid UID set', 'UID FETCH');
    const rs = await this.command(`UID FETCH ${set} (${items})`, { name: 'UID FETCH' });
    const out: FetchedMessage[] = [];
    for (const r of rs) {
      if (String(r.values[1]).toUpperCase() !== 'FETCH' || !Array.isArray(r.values[2])) continue;
      const kv = r.values[2];
      const m: FetchedMessage = { uid: 0, flags: [], sections: new Map() };
      for (let i = 0; i + 1 < kv.length; i += 2) {
        const k = String(kv[i]).toUpperCase();
        const v = kv[i + 1];
        if (k === 'UID') m.uid = Number(v);
        else if (k === 'FLAGS' && Array.isArray(v)) m.flags = v.map(String);
        else if (k === 'RFC822.SIZE') m.size = Number(v);
        else if (k === 'INTERNALDATE') m.internalDate = String(v);
        else if (k.startsWith('BODY[')) m.sections.set(k.replace(/<\d+>$/, ''), Buffer.isBuffer(v) ? v : Buffer.from(v === null ? '' : String(v), 'latin1'));
      }
      if (m.uid > 0) out.push(m);
    }
    return out;
  }

  async uidStore(set: string, change: '+FLAGS' | '-FLAGS', flags: readonly string[]): Promise<void> {
    if (!/^[\d:,*]+$/.test(set) || flags.some((f) => !/^\\?[A-Za-z$]+$/.test(f))) throw new ImapError('ECOMMAND', 'invalid STORE', 'UID STORE');
    await this.command(`UID STORE ${set} ${change}.SILENT (${flags.join(' ')})`, { name: 'UID STORE' });
  }

  noop(): Promise<ImapResponse[]> {
    return this.command('NOOP');
  }

  async logout(): Promise<void> {
    try {
      await this.command('LOGOUT');
    } catch { /* the server may close first */ }
    this.socket.destroy();
  }
}

function quote(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\r\n\u0000]/.test(s) || s.length > 200) throw new ImapError('ECOMMAND', 'invalid mailbox name', 'SELECT');
  return `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
