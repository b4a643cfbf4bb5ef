/**
 * The local test peer (src/lib/server/relay/test-peer.ts), driven by the relay's real SMTP
 * client (STARTTLS, pipelining of successive messages, SIZE, DSN parameters) and by a raw
 * socket for what a well-behaved client never sends.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpError, SmtpPool } from '../../src/lib/server/relay/smtp-client.js';
import { startTestPeer, type TestPeer } from '../../src/lib/server/relay/test-peer.js';
import { makeTlsPki, type TestPki } from './fixtures/mail.js';

const MAX = 64 * 1024;
const FROM = 'ps@example.test';
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A line-level SMTP client that can STARTTLS; `next()` gives whole (multi-line) replies in order. */
class Raw {
  private buf = '';
  private lines: string[] = [];
  private replies: string[] = [];
  private waiters: Array<(r: string) => void> = [];
  closed = false;

  private constructor(public socket: net.Socket) {
    this.listen(socket);
  }

  static async connect(port: number): Promise<Raw> {
    const s = net.connect(port, '127.0.0.1');
    await new Promise<void>((res, rej) => s.once('connect', res).once('error', rej));
    s.setNoDelay(true);
    return new Raw(s);
  }

  private listen(s: net.Socket): void {
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      this.buf += d;
      for (let i = this.buf.indexOf('\r\n'); i !== -1; i = this.buf.indexOf('\r\n')) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        this.lines.push(line);
        if (/^\d{3}-/.test(line)) continue;
        const reply = this.lines.join('\n');
        this.lines = [];
        const w = this.waiters.shift();
        if (w) w(reply);
        else this.replies.push(reply);
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      this.closed = true;
    });
  }

  next(): Promise<string> {
    const r = this.replies.shift();
    if (r !== undefined) return Promise.resolve(r);
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error('no reply within 5 s')), 5000);
      this.waiters.push((x) => {
        clearTimeout(t);
        res(x);
      });
    });
  }

  write(s: string | Buffer): Promise<void> {
    return new Promise((res) => this.socket.write(s, () => res()));
  }

  async cmd(line: string): Promise<string> {
    await this.write(`${line}\r\n`);
    return this.next();
  }

  /** Reads `n` replies. */
  async take(n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next());
    return out;
  }

  /** After a 220 to STARTTLS: TLS on the same socket, checked against the test CA. */
  async upgrade(ca: string): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    const s = tls.connect({ socket: plain, ca, servername: 'localhost', minVersion: 'TLSv1.2' });
    await new Promise<void>((res, rej) => s.once('secureConnect', res).once('error', rej));
    this.socket = s;
    this.listen(s);
  }

  /** Connected, STARTTLS done, EHLO answered: ready for MAIL. */
  static async secure(port: number, ca: string): Promise<Raw> {
    const c = await Raw.connect(port);
    await c.next();
    expect(await c.cmd('EHLO client.test')).toMatch(/^250 /m);
    expect(await c.cmd('STARTTLS')).toMatch(/^220 /);
    await c.upgrade(ca);
    expect(await c.cmd('EHLO client.test')).toMatch(/^250 /m);
    return c;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Client form of a body: dots doubled at line starts, then the end marker. */
const stuffed = (body: string): string => `${body.replace(/^\./, '..').replace(/\r\n\./g, '\r\n..')}.\r\n`;

describe('local test peer', () => {
  let root: string;
  let pki: TestPki;
  let peer: TestPeer;
  let pool: SmtpPool;
  const logs: string[] = [];
  const mailDir = (): string => join(root, 'mail');
  const stored = (addr: string): string[] => {
    const d = join(mailDir(), addr);
    if (!existsSync(d)) return [];
    return readdirSync(d).map((f) => readFileSync(join(d, f), 'latin1'));
  };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'teletrans-test-peer-'));
    pki = makeTlsPki(join(root, 'pki'));
    peer = await startTestPeer({
      port: 0,
      dir: mailDir(),
      cert: readFileSync(pki.certPath, 'utf8'),
      key: readFileSync(pki.keyPath, 'utf8'),
      maxMessageBytes: MAX,
      log: (l) => logs.push(l),
    });
    pool = new SmtpPool({ host: '127.0.0.1', port: peer.port, security: 'starttls', connectionTimeoutMs: 5000, socketTimeoutMs: 5000,
      tls: { ca: pki.caPem, servername: 'localhost', minVersion: 'TLSv1.2' } }, 2);
  });

  afterAll(async () => {
    await pool?.close();
    await peer?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('stores 20 concurrently sent messages byte for byte, leading dots and all, over 2 pipelined connections', async () => {
    const to = 'Dots@Example.test'; // stored under the lower-cased address
    const bodies = Array.from({ length: 20 }, (_, i) => {
      let b = `${i % 3 === 0 ? '.starts with a dot\r\n' : ''}From: ${FROM}\r\nTo: ${to}\r\nMessage-ID: <m${i}@example.test>\r\nSubject: n ${i}\r\n\r\n`;
      if (i % 2 === 0) b += '.\r\n..\r\n...three\r\n.end\r\n';
      if (i % 5 === 0) b += `${'x'.repeat(70)}\r\n.${'y'.repeat(70)}\r\n`.repeat(200); // ~29 KiB: spans several reads
      return `${b}last line ${i}\r\n`;
    });
    const results = await Promise.all(bodies.map((b, i) => pool.send({ from: FROM, to: [to], dsnId: `id+${i}` }, enc(b))));
    for (const r of results) {
      expect(r.response).toMatch(/^250 2\.0\.0 Ok: queued as \S+$/);
      expect(r.accepted).toEqual([to]);
    }
    const dir = join(mailDir(), 'dots@example.test');
    const names = readdirSync(dir);
    expect(names).toHaveLength(20);
    for (const n of names) {
      expect(n).toMatch(/^\d+-[0-9a-f]+\.eml$/); // no temp file left behind
      expect(statSync(join(dir, n)).mode & 0o777).toBe(0o600);
    }
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(stored('dots@example.test').sort()).toEqual([...bodies].sort());
  });

  it('refuses a message over the maximum size with 552, and the pool carries on', async () => {
    const to = 'big@example.test';
    const big = `Subject: big\r\n\r\n${'z'.repeat(100)}\r\n`.repeat(Math.ceil((MAX + 1) / 118));
    const err = await pool.send({ from: FROM, to: [to] }, enc(big)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SmtpError);
    expect((err as SmtpError).responseCode).toBe(552);
    const ok = await pool.send({ from: FROM, to: [to] }, enc('Subject: small\r\n\r\nfits\r\n'));
    expect(ok.response).toMatch(/^250 /);
    expect(stored(to)).toEqual(['Subject: small\r\n\r\nfits\r\n']);
  });

  it('answers malformed and out-of-order input with errors and keeps serving', async () => {
    const c = await Raw.connect(peer.port);
    expect(await c.next()).toMatch(/^220 \S+ ESMTP Teletrans test peer$/);
    const ehlo = await c.cmd('EHLO client.test');
    for (const ext of ['PIPELINING', `SIZE ${MAX}`, '8BITMIME', 'STARTTLS', 'DSN', 'ENHANCEDSTATUSCODES']) expect(ehlo).toMatch(new RegExp(`^250[- ]${ext}$`, 'm'));
    expect(await c.cmd('MAIL FROM:<a@example.test>')).toBe('530 5.7.0 Must issue a STARTTLS command first');
    expect(await c.cmd('RCPT TO:<b@example.test>')).toMatch(/^503 /);
    expect(await c.cmd('DATA')).toMatch(/^503 /);
    expect(await c.cmd('FROB nicate')).toMatch(/^502 /);
    expect(await c.cmd('\x00\xff\x01 garbage')).toMatch(/^500 /);
    expect(await c.cmd('')).toMatch(/^500 /);
    expect(await c.cmd('EHLO')).toMatch(/^501 /);
    // Over-long lines, in one write and spread over several: one 500 each, nothing more.
    expect(await c.cmd(`NOOP ${'A'.repeat(10_000)}`)).toMatch(/^500 /);
    for (let i = 0; i < 4; i++) await c.write('B'.repeat(3000));
    await c.write('\r\n');
    expect(await c.next()).toMatch(/^500 /);
    expect(await c.cmd('NOOP')).toBe('250 2.0.0 Ok');
    expect(await c.cmd('HELO client.test')).toMatch(/^250 /);

    // Plaintext pipelined behind STARTTLS is dropped, not run under TLS (RFC 3207 §4.2).
    await c.write('STARTTLS\r\nMAIL FROM:<evil@example.test>\r\n');
    expect(await c.next()).toMatch(/^220 /);
    await c.upgrade(pki.caPem);
    expect(await c.cmd('MAIL FROM:<a@example.test>')).toMatch(/^503 /); // a new EHLO is due
    const ehlo2 = await c.cmd('EHLO client.test');
    expect(ehlo2).toMatch(/^250 /m);
    expect(ehlo2).not.toMatch(/STARTTLS/);
    expect(await c.cmd('STARTTLS')).toMatch(/^503 /);

    expect(await c.cmd('MAIL FROM:<a@example.test> SIZE=99999999999')).toMatch(/^552 5\.3\.4 /);
    expect(await c.cmd('MAIL FROM:<a@example.test> FOO=bar')).toMatch(/^555 /);
    expect(await c.cmd('MAIL FROM:a@example.test')).toMatch(/^501 /);
    expect(await c.cmd('MAIL FROM:<a@example.test> SIZE=10 RET=HDRS ENVID=x+2By BODY=8BITMIME')).toMatch(/^250 /);
    expect(await c.cmd('MAIL FROM:<a@example.test>')).toMatch(/^503 /);
    expect(await c.cmd('DATA')).toMatch(/^554 /); // no recipient yet
    for (const bad of ['../../etc@x', 'a/b@x', 'a@x/..', 'a\\b@x', 'nobody', '@x', 'a b@x']) expect(await c.cmd(`RCPT TO:<${bad}>`)).toMatch(/^553 5\.1\.3 /);
    expect(await c.cmd('RCPT TO:<ok@example.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;ok@example.test')).toMatch(/^250 /);
    expect(await c.cmd('RSET')).toBe('250 2.0.0 Ok');
    expect(await c.cmd('RCPT TO:<ok@example.test>')).toMatch(/^503 /); // RSET ended the transaction
    expect(await c.cmd('NOOP')).toBe('250 2.0.0 Ok');
    expect(await c.cmd('QUIT')).toMatch(/^221 /);
    await new Promise((r) => setTimeout(r, 100));
    expect(c.closed).toBe(true);

    // Nothing but the test's own directories was created.
    expect(readdirSync(root).sort()).toEqual(['mail', 'pki']);
    expect(readdirSync(mailDir()).filter((d) => !d.endsWith('@example.test'))).toEqual([]);

    // A client that sends nothing but garbage is dropped after 20 errors.
    const g = await Raw.connect(peer.port);
    await g.next();
    await g.write('garbage\r\n'.repeat(25));
    const replies = await g.take(21);
    expect(replies.slice(0, 20).every((x) => x.startsWith('502 '))).toBe(true);
    expect(replies[20]).toMatch(/^421 /);
    await new Promise((r) => setTimeout(r, 100));
    expect(g.closed).toBe(true);
  });

  it('handles a whole pipelined session in one write, and bodies cut at awkward places', async () => {
    const c = await Raw.secure(peer.port, pki.caPem);
    const to = 'pipe@example.test';
    const b1 = '.a\r\nb\r\n.\r\n';
    const b2 = 'no final dot\r\n..two\r\n';
    await c.write(
      `MAIL FROM:<${FROM}> SIZE=${b1.length}\r\nRCPT TO:<${to}>\r\nRCPT TO:<PIPE@example.test>\r\nRCPT TO:<../x@y>\r\nDATA\r\n${stuffed(b1)}` +
        `MAIL FROM:<>\r\nRCPT TO:<${to}>\r\nDATA\r\n${stuffed(b2)}NOOP\r\n`,
    );
    const r = await c.take(10);
    expect(r.map((x) => x.slice(0, 3))).toEqual(['250', '250', '250', '553', '354', '250', '250', '250', '354', '250']);
    expect(r[5]).toMatch(/^250 2\.0\.0 Ok: queued as /);
    expect(await c.next()).toBe('250 2.0.0 Ok'); // the NOOP
    expect(stored(to).sort()).toEqual([b1, b2].sort()); // the duplicate recipient stored once

    // Byte by byte: the end marker, CRLF and stuffed dots never arrive whole.
    const b3 = '.\r\nx\r\n.y\r\n\r\n';
    await c.write(`MAIL FROM:<${FROM}>\r\nRCPT TO:<bytes@example.test>\r\nDATA\r\n`);
    expect((await c.take(3)).map((x) => x.slice(0, 3))).toEqual(['250', '250', '354']);
    for (const ch of stuffed(b3)) {
      await c.write(ch);
      await new Promise((res) => setImmediate(res));
    }
    expect(await c.next()).toMatch(/^250 2\.0\.0 Ok: queued as /);
    expect(stored('bytes@example.test')).toEqual([b3]);

    // Too big without SIZE: refused after the body, and the connection stays usable.
    await c.write(`MAIL FROM:<${FROM}>\r\nRCPT TO:<huge@example.test>\r\nDATA\r\n${stuffed(`${'h'.repeat(998)}\r\n`.repeat(80))}NOOP\r\n`);
    const r2 = await c.take(5);
    expect(r2.map((x) => x.slice(0, 3))).toEqual(['250', '250', '354', '552', '250']);
    expect(stored('huge@example.test')).toEqual([]);
    expect(await c.cmd('QUIT')).toMatch(/^221 /);
    c.close();
  });

  it('close() stops listening and drops open connections', async () => {
    const other = await startTestPeer({ port: 0, dir: join(root, 'other'), cert: readFileSync(pki.certPath, 'utf8'), key: readFileSync(pki.keyPath, 'utf8') });
    const c = await Raw.connect(other.port);
    expect(await c.next()).toMatch(/^220 /);
    await other.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(c.closed).toBe(true);
    await expect(Raw.connect(other.port)).rejects.toThrow();
    rmSync(join(root, 'other'), { recursive: true, force: true });
  });
});
