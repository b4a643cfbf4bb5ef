/**
 * The relay's SMTP client: body escaping (pure functions) and, against the private Postfix
 * delivering into Dovecot, that what arrives is byte for byte what was stored, dots and all.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../src/lib/server/relay/delivery.js';
import { SmtpConnection, SmtpError, SmtpPool, xtext } from '../../src/lib/server/relay/smtp-client.js';
import { crlfLines, dataBody } from '../../src/lib/server/relay/smtp-data.js';
import { INSURER_ADDR, PRACTITIONER_ADDR, startMailServers, type MailServers } from './fixtures/mail.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const joined = (parts: Buffer[]): string => Buffer.concat(parts).toString('latin1');

describe('DATA body escaping', () => {
  it('leaves a clean CRLF body as is (no copy) and terminates it', () => {
    const raw = enc('Subject: x\r\n\r\nline\r\n');
    const parts = dataBody(raw);
    expect(parts[0]!.buffer).toBe(raw.buffer);
    expect(joined(parts)).toBe('Subject: x\r\n\r\nline\r\n.\r\n');
  });

  it('doubles dots that start a line, including the first line, and adds the missing final CRLF', () => {
    expect(joined(dataBody(enc('.a\r\nb\r\n.\r\n..c')))).toBe('..a\r\nb\r\n..\r\n...c\r\n.\r\n');
  });

  it('turns bare LF and bare CR into CRLF so that no smuggled end of data survives', () => {
    expect(crlfLines(enc('a\nb\rc\r\n')).toString('latin1')).toBe('a\r\nb\r\nc\r\n');
    // "\r.\r" would end the data at a receiver that reads a lone CR as a line end.
    expect(joined(dataBody(enc('x\r.\rMAIL FROM:<evil@x>\r\n')))).toBe('x\r\n..\r\nMAIL FROM:<evil@x>\r\n.\r\n');
    expect(joined(dataBody(enc('end\r')))).toBe('end\r\n.\r\n');
  });

  it('encodes DSN ENVID as xtext', () => {
    expect(xtext('a+b=c d')).toBe('a+2Bb+3Dc+20d');
    expect(xtext('plain-id_1')).toBe('plain-id_1');
  });
});

describe('against Postfix and Dovecot', () => {
  let mail: MailServers;
  let pool: SmtpPool;
  beforeAll(async () => {
    mail = await startMailServers();
    pool = new SmtpPool({ host: '127.0.0.1', port: mail.smtpPort, security: 'starttls', connectionTimeoutMs: 5000, socketTimeoutMs: 5000,
      tls: { ca: mail.pki.caPem, servername: 'localhost', minVersion: 'TLSv1.2' } }, 2);
  });
  afterAll(async () => {
    await pool?.close();
    mail?.stop();
  });

  it('delivers bodies with leading dots intact, several messages over the pooled connections', async () => {
    const before = mail.messages(INSURER_ADDR).length;
    const bodies = Array.from({ length: 6 }, (_, i) => `From: ${PRACTITIONER_ADDR}\r\nTo: ${INSURER_ADDR}\r\n` +
      `Message-ID: <dots-${i}-${Date.now()}@example.test>\r\nSubject: dots ${i}\r\n\r\n.\r\n..leading\r\nmiddle\r\n.end ${i}\r\n`);
    const results = await Promise.all(bodies.map((b, i) => pool.send({ from: PRACTITIONER_ADDR, to: [INSURER_ADDR], dsnId: `dots-${i}` }, enc(b))));
    for (const r of results) {
      expect(r.response).toMatch(/^250 /);
      expect(r.accepted).toEqual([INSURER_ADDR]);
    }
    await mail.drain();
    const got = mail.messages(INSURER_ADDR).slice(before).map((b) => b.toString('latin1'));
    for (const b of bodies) {
      const body = b.slice(b.indexOf('\r\n\r\n') + 4);
      // Dovecot stores LF line ends; compare the body lines.
      expect(got.some((g) => g.replace(/\r\n/g, '\n').endsWith(body.replace(/\r\n/g, '\n')))).toBe(true);
    }
  });

  it('reports a refused recipient as EENVELOPE with the server reply, and the connection carries on', async () => {
    const err = await pool.send({ from: PRACTITIONER_ADDR, to: ['reject@example.test'] }, enc('Subject: r\r\n\r\nx\r\n')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SmtpError);
    expect((err as SmtpError).code).toBe('EENVELOPE');
    expect((err as SmtpError).command).toBe('RCPT TO');
    expect((err as SmtpError).responseCode).toBeGreaterThanOrEqual(500);
    const ok = await pool.send({ from: PRACTITIONER_ADDR, to: [INSURER_ADDR] }, enc('Subject: after\r\n\r\nx\r\n'));
    expect(ok.response).toMatch(/^250 /);
  });

  it('pipelines message after message on one connection, each outcome its own (accepted, 5xx, 4xx, bad address)', async () => {
    const one = new SmtpPool({ host: '127.0.0.1', port: mail.smtpPort, security: 'starttls', connectionTimeoutMs: 5000, socketTimeoutMs: 5000,
      tls: { ca: mail.pki.caPem, servername: 'localhost', minVersion: 'TLSv1.2' } }, 1);
    try {
      await mail.drain(); // the earlier tests' messages first
      const before = mail.messages(INSURER_ADDR).length;
      const to = [INSURER_ADDR, 'reject@example.test', INSURER_ADDR, 'tempfail@example.test', 'a@b>x', INSURER_ADDR, INSURER_ADDR];
      const settled = await Promise.allSettled(to.map((t, i) =>
        one.send({ from: PRACTITIONER_ADDR, to: [t] }, enc(`Message-ID: <pipe-${i}-${Date.now()}@example.test>\r\nSubject: p${i}\r\n\r\n.${i}\r\n`))));
      const summary = settled.map((r) => (r.status === 'fulfilled' ? r.value.response.slice(0, 3) : `${(r.reason as SmtpError).code} ${(r.reason as SmtpError).responseCode ?? '-'}`));
      expect(summary).toEqual(['250', 'EENVELOPE 550', '250', 'EENVELOPE 450', 'EENVELOPE -', '250', '250']);
      await mail.drain();
      expect(mail.messages(INSURER_ADDR).length - before).toBe(4);
    } finally {
      await one.close();
    }
  });

  it('refuses an address that would break out of the envelope before sending anything', async () => {
    const err = await pool.send({ from: PRACTITIONER_ADDR, to: ['a@b>\r\nRCPT TO:<c@d'] }, enc('x\r\n')).catch((e: unknown) => e);
    expect((err as SmtpError).code).toBe('EENVELOPE');
  });
});

/**
 * A scripted TLS server that drops the connection at a chosen point. Postfix cannot be made to
 * vanish between receiving a body and answering it, so this branch is tested with a fake.
 */
function droppingServer(mail: MailServers, dropAfter: 'DATA' | 'body'): Promise<{ port: number; close(): void }> {
  const server = tls.createServer({ cert: readFileSync(mail.pki.certPath), key: readFileSync(mail.pki.keyPath) }, (s) => {
    s.write('220 fake ESMTP\r\n');
    let inBody = false;
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (inBody) {
        if (buf.includes('\r\n.\r\n')) s.destroy(); // body received, answer never sent
        return;
      }
      for (let i = buf.indexOf('\r\n'); i !== -1; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (/^EHLO/i.test(line)) s.write('250-fake\r\n250 PIPELINING\r\n');
        else if (/^(MAIL|RCPT)/i.test(line)) s.write('250 ok\r\n');
        else if (/^DATA/i.test(line)) {
          if (dropAfter === 'DATA') return void s.destroy();
          s.write('354 go\r\n');
          inBody = true;
        }
      }
    });
    s.on('error', () => undefined);
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ port: (server.address() as { port: number }).port, close: () => server.close() })));
}

describe('lost answers and the duplicate risk', () => {
  let mail: MailServers;
  beforeAll(async () => {
    mail = await startMailServers({ discard: true });
  });
  afterAll(() => mail?.stop());

  for (const [dropAfter, risk] of [['body', true], ['DATA', false]] as const) {
    it(`a connection lost after ${dropAfter === 'body' ? 'the body went out' : 'DATA, before the body'} is ${risk ? '' : 'not '}a duplicate risk`, async () => {
      const fake = await droppingServer(mail, dropAfter);
      try {
        const c = await SmtpConnection.open({ host: '127.0.0.1', port: fake.port, security: 'implicit', connectionTimeoutMs: 3000, socketTimeoutMs: 3000,
          tls: { ca: mail.pki.caPem, servername: 'localhost', minVersion: 'TLSv1.2' } });
        const err = (await c.send({ from: PRACTITIONER_ADDR, to: [INSURER_ADDR] }, enc('Subject: s\r\n\r\nbody\r\n')).catch((e: unknown) => e)) as SmtpError;
        expect(err).toBeInstanceOf(SmtpError);
        expect(err.responseCode).toBeUndefined();
        const outcome = classify(err);
        expect(outcome.kind).toBe('deferred');
        expect(outcome.kind === 'deferred' && outcome.risk).toBe(risk);
        c.destroy();
      } finally {
        fake.close();
      }
    });
  }

  it('an answer lost after a body puts that message at risk, not the next one whose envelope followed it', async () => {
    const fake = await droppingServer(mail, 'body');
    const pool = new SmtpPool({ host: '127.0.0.1', port: fake.port, security: 'implicit', connectionTimeoutMs: 3000, socketTimeoutMs: 3000,
      tls: { ca: mail.pki.caPem, servername: 'localhost', minVersion: 'TLSv1.2' } }, 1);
    try {
      const [a, b] = (await Promise.all([1, 2].map((i) => pool.send({ from: PRACTITIONER_ADDR, to: [INSURER_ADDR] }, enc(`Subject: ${i}\r\n\r\nx\r\n`))
        .catch((e: unknown) => e)))) as SmtpError[];
      expect([a!.command, b!.command]).toEqual(['MESSAGE', 'MAIL FROM']);
      expect(classify(a!)).toMatchObject({ kind: 'deferred', risk: true });
      expect(classify(b!)).toMatchObject({ kind: 'deferred', risk: false });
    } finally {
      await pool.close();
      fake.close();
    }
  });

  it('classifies server answers: 4xx deferred without risk, 5xx failed with the reply kept', () => {
    expect(classify(new SmtpError('EENVELOPE', 'x', 'RCPT TO', 450, '450 4.2.1 later'))).toEqual({ kind: 'deferred', reply: '450 4.2.1 later', risk: false });
    expect(classify(new SmtpError('EMESSAGE', 'x', 'MESSAGE', 554, '554 5.6.0 no'))).toEqual({ kind: 'failed', reply: '554 5.6.0 no' });
  });
});
