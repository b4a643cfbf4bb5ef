/**
 * Return pick-up from the practitioner's mailbox by IMAP (imapflow) or POP3 (a small client
 * below). Each message is stored durably first; only then is it removed from the server (when
 * `removeAfterStore`, the default). DSNs (RFC 3464) are matched back to our messages by
 * Original-Envelope-Id (we send ENVID = our id) or by the returned Message-ID.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { ImapFlow } from 'imapflow';
import { tlsOptions, type MailboxConfig, type PractitionerConfig } from './config.js';
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

export async function pickupImap(store: RelayStore, p: PractitionerConfig, mb: MailboxConfig): Promise<PickupResult> {
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

/** Minimal POP3 (RFC 1939, STLS RFC 2595) client: USER/PASS, UIDL, RETR, DELE, QUIT. */
class Pop3 {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private closed: Error | null = null;
  constructor(private sock: net.Socket | tls.TLSSocket) { this.attach(sock); }

  private attach(s: net.Socket): void {
    s.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.notify(); });
    s.on('error', (e) => { this.closed = e; this.notify(); });
    s.on('close', () => { this.closed ??= new Error('connection closed'); this.notify(); });
  }

  private notify(): void { const w = this.waiters; this.waiters = []; w.forEach((f) => f()); }

  private async until(find: () => number): Promise<Buffer> {
    for (;;) {
      const i = find();
      if (i >= 0) { const out = this.buf.subarray(0, i); this.buf = this.buf.subarray(i); return out; }
      if (this.closed) throw this.closed;
      await new Promise<void>((res) => this.waiters.push(res));
    }
  }

  async line(): Promise<string> {
    const l = await this.until(() => { const i = this.buf.indexOf('\r\n'); return i < 0 ? -1 : i + 2; });
    const s = l.toString('latin1').replace(/\r\n$/, '');
    if (!s.startsWith('+OK')) throw new Error(`POP3: ${s}`);
    return s;
  }

  /** Multi-line answer body, dot-unstuffed. */
  async multi(): Promise<Buffer> {
    await this.line();
    const raw = await this.until(() => {
      if (this.buf.subarray(0, 3).toString() === '.\r\n') return 3;
      const i = this.buf.indexOf('\r\n.\r\n'); return i < 0 ? -1 : i + 5;
    });
    const body = raw.length === 3 ? Buffer.alloc(0) : raw.subarray(0, raw.length - 3);
    return Buffer.from(body.toString('latin1').replace(/^\.\./gm, '.'), 'latin1');
  }

  cmd(c: string): void { this.sock.write(c + '\r\n'); }

  async startTls(opts: tls.ConnectionOptions): Promise<void> {
    this.cmd('STLS');
    await this.line();
    this.sock.removeAllListeners('data');
    const t = tls.connect({ ...opts, socket: this.sock });
    await new Promise<void>((res, rej) => { t.once('secureConnect', res); t.once('error', rej); });
    this.sock = t;
    this.attach(t);
  }

  end(): void { this.sock.end(); }
}

export async function pickupPop3(store: RelayStore, p: PractitionerConfig, mb: MailboxConfig): Promise<PickupResult> {
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

export function pickup(store: RelayStore, p: PractitionerConfig): Promise<PickupResult> {
  if (!p.mailbox) return Promise.resolve({ fetched: 0, stored: 0, removed: 0, bounced: 0 });
  return p.mailbox.protocol === 'pop3' ? pickupPop3(store, p, p.mailbox) : pickupImap(store, p, p.mailbox);
}
