/**
 * Return pick-up from the practitioner's mailbox by IMAP (imapflow), POP3 (a small client
 * below) or from a local Maildir (the embedded mailbox of `npm start`). Each message is stored durably first; only then is it removed from the server (when
 * `removeAfterStore`, the default). DSNs (RFC 3464) are matched back to our messages by
 * Original-Envelope-Id (we send ENVID = our id) or by the returned Message-ID.
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { ImapFlow } from 'imapflow';
import { tlsOptions, type MaildirConfig, type NetMailboxConfig, type PractitionerConfig } from './config.js';
import { header, parseDsn, splitHeaders } from './mime.js';
import type { RelayStore } from './store/types.js';

export interface PickupResult { fetched: number; stored: number; removed: number; bounced: number }

async function storeReturn(store: RelayStore, p: PractitionerConfig, sourceKey: string, raw: Uint8Array, r: PickupResult): Promise<void> {
  r.fetched++;
  const h = splitHeaders(raw);
  let related: string | null = null;
  const dsn = parseDsn(raw);
  if (dsn) {
    const target = (dsn.envelopeId ? await store.getMessage(dsn.envelopeId) : null)
      ?? (dsn.originalMessageId ? await store.findByMessageId(dsn.originalMessageId) : null);
    if (target && target.practitioner === p.id) {
      related = target.id;
      const failed = dsn.recipients.find((x) => x.action === 'failed');
      if (failed && target.status !== 'bounced') {
        await store.markBounced(target.id, `${failed.status ?? ''} ${failed.diagnostic ?? ''}`.trim(), Date.now());
        r.bounced++;
      }
    }
  }
  const { created } = await store.insertReturn({ id: randomUUID(), practitioner: p.id, sourceKey, raw,
    messageId: header(h, 'message-id'), subject: header(h, 'subject'), relatedMessage: related, now: Date.now() });
  if (created) r.stored++;
}

export async function pickupImap(store: RelayStore, p: PractitionerConfig, mb: NetMailboxConfig): Promise<PickupResult> {
  const r: PickupResult = { fetched: 0, stored: 0, removed: 0, bounced: 0 };
  const client = new ImapFlow({
    host: mb.host, port: mb.port, secure: mb.security === 'implicit', doSTARTTLS: mb.security === 'starttls',
    tls: tlsOptions(mb.tls, mb.host) as never,
    auth: mb.auth.accessToken ? { user: mb.auth.user, accessToken: mb.auth.accessToken } : { user: mb.auth.user, pass: mb.auth.pass ?? '' },
    logger: false,
  });
  await client.connect();
  try {
    const box = await client.mailboxOpen(mb.mailbox ?? 'INBOX');
    const validity = String(box.uidValidity);
    const done: number[] = [];
    if (box.exists > 0) {
      const uids: number[] = [];
      for await (const m of client.fetch('1:*', { uid: true })) uids.push(m.uid);
      for (const uid of uids) {
        const key = `imap:${mb.mailbox ?? 'INBOX'}:${validity}:${uid}`;
        if (!(await store.hasReturn(p.id, key))) {
          const m = await client.fetchOne(String(uid), { source: true }, { uid: true });
          if (!m || !m.source) continue;
          await storeReturn(store, p, key, new Uint8Array(m.source), r);
        }
        done.push(uid);
      }
    }
    if (done.length && mb.removeAfterStore !== false) {
      await client.messageDelete(done.join(','), { uid: true });
      r.removed = done.length;
    }
  } finally {
    await client.logout().catch(() => client.close());
  }
  return r;
}

export type Pop3ErrorCode =
  /** Bytes followed the STLS reply before the TLS handshake: injected in clear by a man in the middle. */
  | 'starttls-injection'
  /** A reply line or a multi-line answer past its limit. */
  | 'too-large'
  /** The server answered -ERR (or anything but +OK). */
  | 'negative-reply'
  /** The connection failed or closed before the answer. */
  | 'connection';

export class Pop3Error extends Error {
  constructor(readonly code: Pop3ErrorCode, message: string) {
    super(`POP3: ${message}`);
    this.name = 'Pop3Error';
  }
}

/** Limits on what the server may make us hold: one reply line, one multi-line answer (a message). */
export const POP3_LIMITS = { maxLineBytes: 64 * 1024, maxResponseBytes: 64 * 1024 * 1024 };

/**
 * Minimal POP3 (RFC 1939, STLS RFC 2595) client: USER/PASS, UIDL, RETR, DELE, QUIT.
 * Received bytes go into one buffer whose capacity doubles as needed (linear, not a copy of the
 * whole buffer per packet), bounded by the limits; delimiters are searched from where the last
 * search stopped. After the STLS reply nothing may be buffered: whatever is (the same TCP
 * segment or an earlier one) came in clear and is refused, never read as if it came over TLS.
 */
class Pop3 {
  private data = Buffer.alloc(4096);
  private head = 0;
  private tail = 0;
  /** Offset (absolute in `data`) from which the pending delimiter search resumes. */
  private scanned = 0;
  private waiters: Array<() => void> = [];
  private closed: Error | null = null;
  constructor(private sock: net.Socket | tls.TLSSocket, private readonly limits = POP3_LIMITS) { this.attach(sock); }

  private attach(s: net.Socket): void {
    s.on('data', (d: Buffer) => this.push(d));
    s.on('error', (e) => { this.closed ??= new Pop3Error('connection', e.message); this.notify(); });
    s.on('close', () => { this.closed ??= new Pop3Error('connection', 'connection closed'); this.notify(); });
  }

  private get buffered(): number { return this.tail - this.head; }

  private push(d: Buffer): void {
    if (this.closed) return;
    if (this.buffered + d.length > this.limits.maxResponseBytes) {
      this.fail(new Pop3Error('too-large', `answer larger than ${this.limits.maxResponseBytes} bytes`));
      return;
    }
    if (this.tail + d.length > this.data.length) {
      const need = this.buffered + d.length;
      if (need <= this.data.length / 2) {
        this.data.copy(this.data, 0, this.head, this.tail); // compact: room enough once consumed bytes are dropped
      } else {
        let cap = this.data.length;
        while (cap < need) cap *= 2;
        const grown = Buffer.alloc(Math.min(cap, this.limits.maxResponseBytes + 4096));
        this.data.copy(grown, 0, this.head, this.tail);
        this.data = grown;
      }
      this.scanned -= this.head;
      this.tail -= this.head;
      this.head = 0;
    }
    d.copy(this.data, this.tail);
    this.tail += d.length;
    this.notify();
  }

  private fail(e: Pop3Error): void {
    this.closed ??= e;
    this.sock.destroy();
    this.notify();
  }

  private notify(): void { const w = this.waiters; this.waiters = []; w.forEach((f) => f()); }

  /**
   * Waits for `delim` (or, `atStart`, for it at the very start of the buffer) and takes the bytes
   * up to and including it. `max`: how much may be buffered without it.
   */
  private async until(delim: Buffer, max: number, atStart?: Buffer): Promise<Buffer> {
    this.scanned = this.head;
    for (;;) {
      if (atStart && this.buffered >= atStart.length && this.data.subarray(this.head, this.head + atStart.length).equals(atStart)) {
        return this.take(atStart.length);
      }
      const from = Math.max(this.head, this.scanned - delim.length + 1);
      const i = this.data.subarray(0, this.tail).indexOf(delim, from);
      if (i >= 0) return this.take(i + delim.length - this.head);
      this.scanned = this.tail;
      if (this.buffered > max) {
        const e = new Pop3Error('too-large', `answer larger than ${max} bytes`);
        this.fail(e);
        throw e;
      }
      if (this.closed) throw this.closed;
      await new Promise<void>((res) => this.waiters.push(res));
    }
  }

  private take(n: number): Buffer {
    const out = Buffer.from(this.data.subarray(this.head, this.head + n)); // a copy: the buffer is reused
    this.head += n;
    if (this.head === this.tail) { this.head = 0; this.tail = 0; }
    this.scanned = this.head;
    return out;
  }

  async line(): Promise<string> {
    const l = await this.until(CRLF, this.limits.maxLineBytes);
    const s = l.toString('latin1').replace(/\r\n$/, '');
    if (!s.startsWith('+OK')) throw new Pop3Error('negative-reply', s.slice(0, 200));
    return s;
  }

  /** Multi-line answer body, dot-unstuffed. */
  async multi(): Promise<Buffer> {
    await this.line();
    const raw = await this.until(END_MULTI, this.limits.maxResponseBytes, DOT_LINE);
    const body = raw.length === 3 ? Buffer.alloc(0) : raw.subarray(0, raw.length - 3);
    return Buffer.from(body.toString('latin1').replace(/^\.\./gm, '.'), 'latin1');
  }

  cmd(c: string): void { this.sock.write(c + '\r\n'); }

  async startTls(opts: tls.ConnectionOptions): Promise<void> {
    this.cmd('STLS');
    await this.line();
    // RFC 2595 §4 / RFC 3207 §4.2 spirit: nothing may follow the reply before the handshake.
    if (this.buffered > 0) {
      const e = new Pop3Error('starttls-injection', `${this.buffered} byte(s) received after the STLS reply, before TLS: refused`);
      this.fail(e);
      throw e;
    }
    this.sock.removeAllListeners('data');
    const t = tls.connect({ ...opts, socket: this.sock });
    await new Promise<void>((res, rej) => { t.once('secureConnect', res); t.once('error', rej); });
    this.sock = t;
    this.attach(t);
  }

  end(): void { this.sock.end(); }
}

const CRLF = Buffer.from('\r\n');
const END_MULTI = Buffer.from('\r\n.\r\n');
const DOT_LINE = Buffer.from('.\r\n');

export async function pickupPop3(store: RelayStore, p: PractitionerConfig, mb: NetMailboxConfig): Promise<PickupResult> {
  const r: PickupResult = { fetched: 0, stored: 0, removed: 0, bounced: 0 };
  const opts = { ...tlsOptions(mb.tls, mb.host), host: mb.host, port: mb.port };
  const sock = mb.security === 'implicit' ? tls.connect(opts) : net.connect({ host: mb.host, port: mb.port });
  await new Promise<void>((res, rej) => { sock.once(mb.security === 'implicit' ? 'secureConnect' : 'connect', () => res()); sock.once('error', rej); });
  sock.setTimeout(60_000, () => sock.destroy(new Error('POP3 timeout')));
  const c = new Pop3(sock);
  try {
    await c.line();
    if (mb.security === 'starttls') await c.startTls(opts);
    c.cmd(`USER ${mb.auth.user}`); await c.line();
    c.cmd(`PASS ${mb.auth.pass ?? ''}`); await c.line();
    c.cmd('UIDL');
    const list = (await c.multi()).toString('latin1').split('\r\n').filter(Boolean).map((l) => l.split(' ') as [string, string]);
    for (const [n, uidl] of list) {
      const key = `pop3:${uidl}`;
      if (!(await store.hasReturn(p.id, key))) {
        c.cmd(`RETR ${n}`);
        await storeReturn(store, p, key, new Uint8Array(await c.multi()), r);
      }
      if (mb.removeAfterStore !== false) { c.cmd(`DELE ${n}`); await c.line(); r.removed++; }
    }
    c.cmd('QUIT'); await c.line().catch(() => undefined);
  } finally {
    c.end();
  }
  return r;
}

/** Names of finished Maildir files (tmp/ is never read: a writer finishes there, then renames into new/). */
const MAILDIR_NAME = /^[\w.,:=-]{1,255}$/;

/**
 * Pick-up from a Maildir: every message in new/ and cur/ (a writer moves a finished file from
 * tmp/ into new/, so what is there is whole), stored, then removed. Keyed by file name up to
 * its flags (`:2,…`), so a message moved from new/ to cur/ by another reader is not taken twice.
 */
export async function pickupMaildir(store: RelayStore, p: PractitionerConfig, mb: MaildirConfig): Promise<PickupResult> {
  const r: PickupResult = { fetched: 0, stored: 0, removed: 0, bounced: 0 };
  for (const sub of ['new', 'cur']) {
    const dir = join(mb.path, sub);
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => MAILDIR_NAME.test(n) && !n.startsWith('.')).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    for (const name of names) {
      const key = `maildir:${name.split(':')[0]}`;
      if (!(await store.hasReturn(p.id, key))) await storeReturn(store, p, key, new Uint8Array(await readFile(join(dir, name))), r);
      if (mb.removeAfterStore !== false) {
        await unlink(join(dir, name)).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        });
        r.removed++;
      }
    }
  }
  return r;
}

export function pickup(store: RelayStore, p: PractitionerConfig): Promise<PickupResult> {
  if (!p.mailbox) return Promise.resolve({ fetched: 0, stored: 0, removed: 0, bounced: 0 });
  const mb = p.mailbox;
  if (mb.protocol === 'maildir') return pickupMaildir(store, p, mb);
  return mb.protocol === 'pop3' ? pickupPop3(store, p, mb) : pickupImap(store, p, mb);
}
