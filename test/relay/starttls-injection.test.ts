/**
 * STARTTLS injection (RFC 3207 §4.2, RFC 2595 §4; CVE-2011-0411 and kin): a man in the middle
 * appends a reply in clear to the server's STLS/STARTTLS answer, in the same write, hoping the
 * client reads it as if it had come over TLS. The relay's POP3 and SMTP clients refuse.
 *
 * The peers are small TCP servers in this file: a FAKE, justified because no real server
 * (Dovecot, Postfix) produces this traffic; it is precisely what only an attacker sends. The
 * normal STLS/STARTTLS paths run against the real Dovecot and Postfix in relay.test.ts and
 * smtp-client.test.ts. (IMAP goes through imapflow, which refuses the same attack itself with
 * STARTTLS_INJECTION since 1.0.x; see the note in docs/adr/0005-relay-refuses-plaintext.md.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pop3Error, POP3_LIMITS, SqliteStore, pickupPop3, type MailboxConfig, type NetMailboxConfig, type PractitionerConfig } from '../../src/lib/server/relay/index.js';
import { SmtpConnection, SmtpError } from '../../src/lib/server/relay/smtp-client.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'teletrans-injection-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A line-based hostile server: `answer` maps each received line to what is written back (one write). */
async function hostile(greeting: string, answer: (line: string) => string | null): Promise<{ port: number; received: string[]; close(): void }> {
  const received: string[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((c) => {
    sockets.push(c);
    c.on('error', () => undefined);
    c.write(greeting);
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        received.push(line);
        const a = answer(line);
        if (a !== null) c.write(a);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, received, close: () => { sockets.forEach((s) => s.destroy()); server.close(); } };
}

const practitioner = (mailbox: MailboxConfig): PractitionerConfig =>
  ({ id: 'ps1', certificateMatch: { rpps: '899700000001' }, from: 'ps@example.test', allowedRecipients: ['@example.test'], mailbox });
const mailbox = (port: number): NetMailboxConfig =>
  ({ protocol: 'pop3', host: '127.0.0.1', port, security: 'starttls', tls: { servername: 'localhost' }, auth: { user: 'ps@example.test', pass: 'secret-ps' } });

describe('POP3 client', () => {
  it('refuses a reply injected after +OK to STLS, and never sends the credentials', async () => {
    const srv = await hostile('+OK POP3 ready\r\n', (l) => (l === 'STLS' ? '+OK Begin TLS negotiation\r\n+OK injected\r\n' : '+OK\r\n'));
    const store = new SqliteStore(join(dir, 'pop3.sqlite'));
    try {
      const mb = mailbox(srv.port);
      const e = await pickupPop3(store, practitioner(mb), mb).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(Pop3Error);
      expect((e as Pop3Error).code).toBe('starttls-injection');
      expect(srv.received).toEqual(['STLS']);
      expect(await store.listReturns('ps1', true)).toHaveLength(0);
    } finally {
      srv.close();
      await store.close();
    }
  });

  it('bounds what the server can make it buffer (typed error), a reply line without end', async () => {
    const srv = await hostile('+OK ' + 'A'.repeat(POP3_LIMITS.maxLineBytes + 1024), () => null);
    const store = new SqliteStore(join(dir, 'pop3-big.sqlite'));
    try {
      const mb = mailbox(srv.port);
      const e = await pickupPop3(store, practitioner(mb), mb).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(Pop3Error);
      expect((e as Pop3Error).code).toBe('too-large');
      expect(srv.received).toEqual([]);
    } finally {
      srv.close();
      await store.close();
    }
  });
});

describe('SMTP client', () => {
  const open = (port: number): Promise<SmtpConnection> => SmtpConnection.open({ host: '127.0.0.1', port, security: 'starttls',
    tls: { servername: 'localhost' }, connectionTimeoutMs: 3000, socketTimeoutMs: 3000 });
  const ehlo = (l: string): string | null => (l.startsWith('EHLO') ? '250-hostile.test\r\n250 STARTTLS\r\n' : null);

  for (const [what, injected] of [['a whole reply', '250 injected\r\n'], ['a partial reply', '250-inj']] as const) {
    it(`refuses ${what} injected after 220 to STARTTLS`, async () => {
      const srv = await hostile('220 hostile.test ESMTP\r\n', (l) => (l === 'STARTTLS' ? `220 2.0.0 Ready to start TLS\r\n${injected}` : ehlo(l)));
      try {
        const e = await open(srv.port).catch((x: unknown) => x);
        expect(e).toBeInstanceOf(SmtpError);
        expect((e as SmtpError).code).toBe('ETLS');
        expect((e as SmtpError).message).toMatch(/injection/);
        expect(srv.received.filter((l) => !l.startsWith('EHLO'))).toEqual(['STARTTLS']);
      } finally {
        srv.close();
      }
    });
  }
});
