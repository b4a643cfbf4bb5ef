/**
 * The local test peer: a small SMTP server standing in for the insurers' front end when the
 * app runs on its embedded defaults, so that the relay has somewhere real to deliver to.
 *
 * It behaves like the front ends in what the relay relies on: TLS is mandatory (STARTTLS,
 * TLS ≥ 1.2, MAIL refused before it), PIPELINING (RFC 2920, including a body followed by the
 * next envelope in the same packet), SIZE, DSN parameters accepted. Each accepted message is
 * written, exactly as received after dot un-stuffing, to `dir/<recipient>/<time>-<random>.eml`
 * (fsync, then rename, so a file that exists is complete). No AUTH, no relaying rules: it is
 * for the loopback, which is where it listens unless told otherwise.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

export interface TestPeerOptions {
  /** Default 127.0.0.1: the peer accepts anything from anyone, so loopback only. */
  host?: string;
  /** 0 = any free port (the chosen one is returned). */
  port: number;
  /** Where messages are stored, one directory per recipient. */
  dir: string;
  /** PEM certificate (chain) and key offered after STARTTLS. */
  cert: string;
  key: string;
  /** Default 20 MiB, like the front ends. */
  maxMessageBytes?: number;
  log?: (line: string) => void;
  /**
   * Called with each message once it is stored (the simulated insurer front end answers from
   * here in `npm start`). Not awaited by the SMTP answer; its failure is logged, never fatal.
   */
  onMessage?: (message: Uint8Array, envelope: { from: string | null; to: readonly string[] }) => Promise<void>;
}

export interface TestPeer {
  port: number;
  close(): Promise<void>;
}

const NAME = 'localhost';
/** Command lines longer than this are refused (RFC 5321 asks for 512; parameters make them longer). */
const MAX_LINE = 4096;
const MAX_RECIPIENTS = 100;
/** Protocol errors tolerated on one connection before it is dropped (as Postfix does). */
const MAX_ERRORS = 20;
const IDLE_MS = 5 * 60_000;
/** Recipients become directory names: nothing that could hold a '/' or a '\' or start a path. */
const RCPT_PATTERN = /^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$/;
const CRLF_DOT = Buffer.from('\r\n.');
const EMPTY = Buffer.alloc(0);

export async function startTestPeer(o: TestPeerOptions): Promise<TestPeer> {
  const maxBytes = o.maxMessageBytes ?? 20 * 1024 * 1024;
  const log = o.log ?? ((): void => undefined);
  // Made once: a bad certificate or key fails here, at start, not at the first STARTTLS.
  const secureContext = tls.createSecureContext({ cert: o.cert, key: o.key, minVersion: 'TLSv1.2' });
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };

  const server = net.createServer((socket) => {
    track(socket);
    new Session(socket, { maxBytes, dir: o.dir, secureContext, log, track, ...(o.onMessage ? { onMessage: o.onMessage } : {}) }).start();
  });
  server.on('error', (e) => log(`test peer: server error: ${e.message}`));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '127.0.0.1', () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  log(`test peer: listening on ${o.host ?? '127.0.0.1'}:${port}, storing into ${o.dir}`);

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

interface SessionContext {
  onMessage?: TestPeerOptions['onMessage'];
  maxBytes: number;
  dir: string;
  secureContext: tls.SecureContext;
  log: (line: string) => void;
  track: (s: net.Socket) => void;
}

/** One SMTP connection: input is buffered and handled strictly in order, whatever its chunking. */
class Session {
  private buf: Buffer = EMPTY;
  private out: string[] = [];
  private running = false;
  private ended = false;
  private secure = false;
  private greeted = false;
  private errors = 0;
  /** Dropping the rest of an over-long command line, already answered. */
  private skipping = false;

  // Transaction
  private from: string | null = null;
  private rcpts: string[] = [];

  // DATA
  private inData = false;
  private atLineStart = true;
  private body: Buffer[] = [];
  private bodyBytes = 0;

  constructor(private socket: net.Socket, private readonly c: SessionContext) {}

  start(): void {
    this.attach(this.socket);
    this.reply(`220 ${NAME} ESMTP Teletrans test peer`);
    this.flush();
  }

  private attach(s: net.Socket): void {
    s.setTimeout(IDLE_MS);
    s.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.pump();
    });
    s.on('timeout', () => {
      if (this.ended) return s.destroy(); // the client never closed its side after our goodbye
      this.reply('421 4.4.2 Idle timeout, closing');
      this.quit();
    });
    s.on('error', () => s.destroy()); // a reset peer is its own business
    s.on('close', () => {
      this.ended = true;
    });
  }

  private pump(): void {
    if (this.running || this.ended) return;
    this.running = true;
    void this.process()
      .catch((e: unknown) => {
        this.c.log(`test peer: internal error: ${(e as Error).message}`);
        this.reply('421 4.3.0 Internal error, closing');
        this.quit();
      })
      .finally(() => {
        this.running = false;
        this.flush();
      });
  }

  /** Handles everything buffered; replies are gathered and written together (fewer packets). */
  private async process(): Promise<void> {
    while (!this.ended) {
      if (this.inData) {
        if (!this.readData()) break;
        this.flush();
        await this.endData();
        continue;
      }
      const line = this.nextLine();
      if (line === null) break;
      if (line === undefined) continue;
      this.command(line);
    }
  }

  /** The next command line; undefined for a line dropped (already answered), null for none yet. */
  private nextLine(): string | null | undefined {
    const i = this.buf.indexOf(0x0a);
    if (i === -1) {
      if (this.buf.length > MAX_LINE) {
        if (!this.skipping) this.error('500 5.5.2 Line too long');
        this.skipping = true;
        this.buf = EMPTY;
      }
      return null;
    }
    const raw = this.buf.subarray(0, i);
    this.buf = this.buf.subarray(i + 1);
    if (this.skipping) {
      this.skipping = false;
      return undefined;
    }
    if (raw.length > MAX_LINE) {
      this.error('500 5.5.2 Line too long');
      return undefined;
    }
    return raw.toString('latin1').replace(/\r$/, '');
  }

  private command(line: string): void {
    // Commands are printable ASCII; anything else is garbage, not a command to guess at.
    if (!/^[\x20-\x7e]+$/.test(line)) return this.error('500 5.5.2 Syntax error, command unrecognized');
    const m = /^([A-Za-z]+)(?: (.*))?$/.exec(line);
    if (!m) return this.error('500 5.5.2 Syntax error, command unrecognized');
    const verb = m[1]!.toUpperCase();
    const arg = (m[2] ?? '').trim();
    switch (verb) {
      case 'EHLO':
      case 'HELO':
        return this.hello(verb, arg);
      case 'STARTTLS':
        return this.startTls(arg);
      case 'MAIL':
        return this.mail(arg);
      case 'RCPT':
        return this.rcpt(arg);
      case 'DATA':
        return this.data(arg);
      case 'RSET':
        if (arg) return this.error('501 5.5.4 Syntax: RSET');
        this.resetTransaction();
        return this.reply('250 2.0.0 Ok');
      case 'NOOP':
        return this.reply('250 2.0.0 Ok');
      case 'QUIT':
        this.reply(`221 2.0.0 ${NAME} closing connection`);
        return this.quit();
      default:
        return this.error('502 5.5.2 Unknown command');
    }
  }

  private hello(verb: string, arg: string): void {
    if (!/^\S+$/.test(arg)) return this.error(`501 5.5.4 Syntax: ${verb} hostname`);
    this.resetTransaction();
    this.greeted = true;
    if (verb === 'HELO') return this.reply(`250 ${NAME}`);
    const ext = [`${NAME} Hello ${arg}`, 'PIPELINING', `SIZE ${this.c.maxBytes}`, '8BITMIME'];
    if (!this.secure) ext.push('STARTTLS');
    ext.push('DSN', 'ENHANCEDSTATUSCODES');
    this.reply(ext.map((e, i) => `250${i === ext.length - 1 ? ' ' : '-'}${e}`).join('\r\n'));
  }

  private startTls(arg: string): void {
    if (arg) return this.error('501 5.5.4 Syntax: STARTTLS');
    if (this.secure) return this.error('503 5.5.1 TLS already active');
    // Plaintext pipelined after STARTTLS must not be taken as sent under TLS (command injection,
    // RFC 3207 §4.2): drop it.
    this.buf = EMPTY;
    this.reply('220 2.0.0 Ready to start TLS');
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('timeout');
    plain.setTimeout(0);
    // Paused, the ClientHello waits in the plain socket's buffer; TLSSocket reads it from there.
    plain.pause();
    this.flush(() => {
      if (!plain.writable) return; // gone meanwhile
      const s = new tls.TLSSocket(plain, { isServer: true, secureContext: this.c.secureContext });
      this.c.track(s);
      this.socket = s;
      this.secure = true;
      this.greeted = false; // RFC 3207 §4.2: forget everything learnt before, a new EHLO is due
      this.resetTransaction();
      this.attach(s);
    });
  }

  private mail(arg: string): void {
    if (!this.secure) return this.error('530 5.7.0 Must issue a STARTTLS command first');
    if (!this.greeted) return this.error('503 5.5.1 Send EHLO first');
    if (this.from !== null) return this.error('503 5.5.1 Nested MAIL command');
    const m = /^FROM:\s*<([^<>]*)>(?:\s+(.*))?$/i.exec(arg);
    if (!m) return this.error('501 5.5.4 Syntax: MAIL FROM:<address>');
    const from = m[1]!;
    if (from && !/^[\x21-\x7e]{1,320}$/.test(from)) return this.reply('553 5.1.7 Bad sender address syntax');
    for (const [k, v] of params(m[2])) {
      if (k === 'SIZE') {
        if (v === undefined || !/^\d{1,15}$/.test(v)) return this.error('501 5.5.4 Bad SIZE parameter');
        if (Number(v) > this.c.maxBytes) return this.reply('552 5.3.4 Message size exceeds fixed maximum message size');
      } else if (k === 'BODY') {
        if (v !== '7BIT' && v !== '8BITMIME') return this.error('501 5.5.4 Bad BODY parameter');
      } else if (k !== 'RET' && k !== 'ENVID') {
        // DSN parameters are accepted and ignored: the peer sends no DSNs.
        return this.error(`555 5.5.4 Unsupported parameter ${k}`);
      }
    }
    this.from = from;
    this.reply('250 2.1.0 Ok');
  }

  private rcpt(arg: string): void {
    if (this.from === null) return this.error('503 5.5.1 Need MAIL command first');
    const m = /^TO:\s*<([^<>]*)>(?:\s+(.*))?$/i.exec(arg);
    if (!m) return this.error('501 5.5.4 Syntax: RCPT TO:<address>');
    const to = m[1]!;
    if (to.length > 254 || !RCPT_PATTERN.test(to)) return this.reply('553 5.1.3 Bad recipient address syntax');
    for (const [k] of params(m[2])) if (k !== 'NOTIFY' && k !== 'ORCPT') return this.error(`555 5.5.4 Unsupported parameter ${k}`);
    const lower = to.toLowerCase();
    if (!this.rcpts.includes(lower)) {
      if (this.rcpts.length >= MAX_RECIPIENTS) return this.reply('452 4.5.3 Too many recipients');
      this.rcpts.push(lower);
    }
    this.reply('250 2.1.5 Ok');
  }

  private data(arg: string): void {
    if (arg) return this.error('501 5.5.4 Syntax: DATA');
    if (this.from === null) return this.error('503 5.5.1 Need MAIL command first');
    // RFC 2920 §3.1: a pipelined DATA after refused recipients is refused, not given a 354.
    if (this.rcpts.length === 0) return this.reply('554 5.5.1 No valid recipients');
    this.inData = true;
    this.atLineStart = true;
    this.body = [];
    this.bodyBytes = 0;
    this.reply('354 End data with <CR><LF>.<CR><LF>');
  }

  /**
   * Moves buffered body bytes into the message, un-stuffing dots; true once CRLF.CRLF is read.
   * Only CRLF ends a line here (strict RFC 5321), so a bare LF or CR cannot end the data early.
   * Past the maximum size, bytes are counted and dropped, so memory stays bounded.
   */
  private readData(): boolean {
    for (;;) {
      if (this.atLineStart) {
        if (this.buf.length === 0) return false;
        if (this.buf[0] === 0x2e) {
          if (this.buf.length < 3 && '.\r'.startsWith(this.buf.toString('latin1'))) return false; // maybe the end: wait
          if (this.buf[1] === 0x0d && this.buf[2] === 0x0a) {
            this.buf = this.buf.subarray(3);
            return true;
          }
          this.buf = this.buf.subarray(1); // a stuffed dot
        }
        this.atLineStart = false;
      }
      const i = this.buf.indexOf(CRLF_DOT);
      if (i !== -1) {
        this.take(i + 2);
        this.atLineStart = true;
        continue;
      }
      // Keep a trailing CR: its LF (and a dot after it) may come in the next chunk.
      const n = this.buf.length;
      if (n >= 2 && this.buf[n - 2] === 0x0d && this.buf[n - 1] === 0x0a) {
        this.take(n);
        this.atLineStart = true;
      } else this.take(this.buf[n - 1] === 0x0d ? n - 1 : n);
      return false;
    }
  }

  private take(n: number): void {
    if (n === 0) return;
    this.bodyBytes += n;
    if (this.bodyBytes <= this.c.maxBytes) this.body.push(this.buf.subarray(0, n));
    else this.body = [];
    this.buf = this.buf.subarray(n);
  }

  /** After CRLF.CRLF: stores the message for each recipient, then answers (the transaction ends either way). */
  private async endData(): Promise<void> {
    this.inData = false;
    const from = this.from;
    const rcpts = this.rcpts;
    const body = this.body;
    const size = this.bodyBytes;
    this.resetTransaction();
    if (size > this.c.maxBytes) {
      this.reply('552 5.3.4 Message size exceeds fixed maximum message size');
      return;
    }
    const id = `${Date.now()}-${randomBytes(8).toString('hex')}`;
    // Stop reading while the disk works: what follows waits in the kernel, not in memory.
    this.socket.pause();
    try {
      const message = Buffer.concat(body, size);
      for (const r of rcpts) await store(this.c.dir, r, id, message);
      this.c.log(`test peer: stored ${id} from <${from ?? ''}> to ${rcpts.join(', ')} (${size} bytes)`);
      this.reply(`250 2.0.0 Ok: queued as ${id}`);
      const hook = this.c.onMessage;
      if (hook) void hook(new Uint8Array(message), { from, to: rcpts }).catch((e: Error) => this.c.log(`test peer: answering ${id} failed: ${e.message}`));
    } catch (e) {
      this.c.log(`test peer: storing ${id} failed: ${(e as Error).message}`);
      this.reply('451 4.3.0 Local error in processing');
    } finally {
      if (!this.ended) this.socket.resume();
    }
  }

  private resetTransaction(): void {
    this.from = null;
    this.rcpts = [];
    this.body = [];
    this.bodyBytes = 0;
  }

  private reply(line: string): void {
    this.out.push(`${line}\r\n`);
  }

  /** A protocol error; too many of them and the client is dropped (a confused or hostile peer). */
  private error(line: string): void {
    this.reply(line);
    if (++this.errors >= MAX_ERRORS) {
      this.reply('421 4.7.0 Too many errors, closing');
      this.quit();
    }
  }

  private flush(done?: () => void): void {
    const text = this.out.join('');
    this.out = [];
    if (!text || !this.socket.writable) return done?.();
    this.socket.write(text, () => done?.());
  }

  private quit(): void {
    this.ended = true;
    this.buf = EMPTY;
    this.flush();
    this.socket.end();
    this.socket.setTimeout(10_000); // then destroyed if the client keeps its side open
  }
}

/** ESMTP parameters `KEY[=VALUE]`, keys upper-cased. */
function params(s: string | undefined): Array<[string, string | undefined]> {
  if (!s) return [];
  return s.split(/\s+/).filter(Boolean).map((p) => {
    const eq = p.indexOf('=');
    return eq === -1 ? [p.toUpperCase(), undefined] : [p.slice(0, eq).toUpperCase(), p.slice(eq + 1)];
  });
}

/** Writes one copy durably: temp file, fsync, rename, fsync of the directories touched. */
async function store(dir: string, rcpt: string, id: string, message: Buffer): Promise<void> {
  const d = `${dir}/${rcpt}`;
  const created = await fs.mkdir(d, { recursive: true, mode: 0o700 });
  const tmp = `${d}/.${id}.tmp`;
  const fh = await fs.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(message);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await fs.rename(tmp, `${d}/${id}.eml`);
  await syncDir(d);
  if (created !== undefined) await syncDir(dir); // the new recipient directory's own entry
}

/**
 * Makes a directory's entries durable. Best effort: not every platform can fsync a directory,
 * and failing after the rename would only make the client send the message again.
 */
async function syncDir(d: string): Promise<void> {
  await fs.open(d, 'r').then((dh) => dh.sync().finally(() => dh.close())).catch(() => undefined);
}
