/**
 * Issue 24 defect 1: the relay forwards only what it checked. Hostile bodies from a logged-in
 * client, against the relay in front of a private Postfix delivering to Dovecot: a part beside
 * the encrypted lot (before it, after it, a nested message/rfc822, a nested multipart) is
 * refused with `profile-extra-part`; a header the profile names that is not well formed (a NUL
 * or an 8-bit byte in Date, a Date of 21:65:44, a Subject count of `00p01`, a control byte for
 * a `/`) with `profile-header-malformed`; plaintext in the preamble, the epilogue or an `X-`
 * header is dropped from what is stored and delivered. Then Postfix's queue and the Dovecot
 * mailbox are searched for the plaintext: zero hits, while the accepted lots arrived.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryWorker, RelayApi, SqliteStore, checkOutboundProfile, ProfileError } from '../../src/lib/server/relay/index.js';
import { composeMessage, parseMessage, parseRfc5322Date, type MessageStructure } from '../../src/lib/sesam/index.js';
import { INSURER_ADDR, PRACTITIONER_ADDR, startMailServers, type MailServers } from './fixtures/mail.js';
import { envelopedData } from './fixtures/message.js';
import { makeIgcSante, relayConfig, token, upload, type IgcSante } from './fixtures/relay.js';

const NIR = '180059999900135';
const SECRET = `NIR ${NIR} DUPONT-SECRET Jeanne 1234,56 EUR`;
const PLAINTEXT = [NIR, 'DUPONT-SECRET', '1234,56'];
const B = 'http://relay.test';

let mail: MailServers;
let pki: IgcSante;
let dir: string;
let api: RelayApi;
let store: SqliteStore;
let worker: DeliveryWorker;
let tok: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teletrans-relay-plaintext-'));
  [mail, pki] = await Promise.all([startMailServers(), makeIgcSante()]);
  store = new SqliteStore(join(dir, 'relay.sqlite'));
  const config = relayConfig(pki, { host: '127.0.0.1', port: mail.smtpPort, security: 'starttls', tls: { ca: mail.pki.caPem, servername: 'localhost' } });
  worker = new DeliveryWorker(store, config);
  api = new RelayApi(store, config, worker);
  tok = await token(api, pki);
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await store?.close();
  mail?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A valid lot (encrypted, the profile's headers), as a single part or a multipart with boundary `b1`. */
function lot(structure: MessageStructure = 'multipart', extra: { preamble?: string; epilogue?: string } = {}): { text: string; messageId: string } {
  const compostage = `20261206080000${String(++n).padStart(5, '0')}`;
  const m = composeMessage({
    from: PRACTITIONER_ADDR, to: INSURER_ADDR, subject: `SV140700/123456789/${compostage}/00001`, date: new Date(), description: 'FSE/B2/K',
    filename: `LOT${String(n).padStart(4, '0')}.pkcs7`, content: envelopedData(new Uint8Array(randomBytes(1024))), messageIdHint: compostage,
    structure, ...(structure === 'multipart' ? { boundary: 'b1', ...extra } : {}),
  });
  return { text: Buffer.from(m.bytes).toString('latin1'), messageId: m.messageId };
}
const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'latin1'));
const setHeader = (text: string, name: string, value: string): string => text.replace(new RegExp(`^${name}: .*$`, 'm'), `${name}: ${value}`);
const textPart = `--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${SECRET}\r\n`;

async function send(raw: Uint8Array): Promise<{ status: number; reason?: string; id?: string }> {
  const r = await api.handle(upload(B, tok, `hostile-${++n}-${Math.random().toString(36).slice(2)}`, raw));
  const body = (await r.json()) as { reason?: string; id?: string };
  return { status: r.status, ...(body.reason ? { reason: body.reason } : {}), ...(body.id ? { id: body.id } : {}) };
}

/** Every file under `root`, read whole. */
function filesUnder(root: string): Buffer[] {
  const out: Buffer[] = [];
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const f of names) {
      const p = join(d, f);
      try {
        const st = statSync(p);
        // Regular files only: Postfix's queue holds FIFOs, which a read would wait on forever.
        if (st.isDirectory()) walk(p);
        else if (st.isFile()) out.push(readFileSync(p));
      } catch {
        /* gone meanwhile */
      }
    }
  };
  walk(root);
  return out;
}

describe('the relay forwards only what it checked (issue 24 defect 1)', () => {
  it('refuses a part beside the lot: after it, before it, a nested message/rfc822, a nested multipart', async () => {
    const variants: Record<string, string> = {
      after: lot().text.replace('--b1--', `${textPart}--b1--`),
      before: lot().text.replace('--b1\r\n', `${textPart}--b1\r\n`),
      rfc822: lot().text.replace('--b1--', `--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: note\r\n\r\n${SECRET}\r\n--b1--`),
      nested: (() => {
        const t = lot().text;
        const head = t.slice(0, t.indexOf('--b1\r\n'));
        const entity = t.slice(t.indexOf('--b1\r\n') + 6, t.indexOf('\r\n--b1--'));
        return `${head}--b1\r\nContent-Type: multipart/mixed; boundary="b2"\r\n\r\n--b2\r\n${entity}\r\n--b2--\r\n--b1--\r\n`;
      })(),
    };
    for (const [name, text] of Object.entries(variants)) {
      const r = await send(bytes(text));
      expect({ name, ...r }).toEqual({ name, status: 422, reason: 'profile-extra-part' });
    }
  });

  it('refuses a header the profile names when it is not well formed', async () => {
    const variants: Record<string, string> = {
      'NUL in Date': setHeader(lot().text, 'Date', 'Sun, 06 Dec 2026 08:00:00 +0100\0'),
      '8-bit byte in Date': setHeader(lot().text, 'Date', 'Sun, 06 Dec 2026 08:00:00 +0100\xe9'),
      'Date 21:65:44': setHeader(lot().text, 'Date', 'Sun, 06 Dec 2026 21:65:44 +0100'),
      'Date 31 Feb': setHeader(lot().text, 'Date', 'Wed, 31 Feb 2026 08:00:00 +0100'),
      'count 00p01': (() => {
        const t = lot().text;
        return t.replace(/^(Subject: .*\/)00001$/m, '$100p01');
      })(),
      'control byte for a slash': (() => {
        const t = lot().text;
        return t.replace(/^Subject: SV140700\//m, 'Subject: SV140700\x01');
      })(),
      'lower-case prefix': lot().text.replace(/^Subject: SV/m, 'Subject: sv'),
      'control byte in the entity': lot().text.replace('Content-Description: FSE/B2/K', 'Content-Description: FSE/B2/K\x7f'),
    };
    for (const [name, text] of Object.entries(variants)) {
      const r = await send(bytes(text));
      expect({ name, ...r }).toEqual({ name, status: 422, reason: 'profile-header-malformed' });
    }
  });

  it('drops plaintext in the preamble, the epilogue and an X- header: Postfix’s queue and the Dovecot mailbox hold none of it, the lots arrive', async () => {
    const accepted = [
      lot('multipart', { preamble: SECRET }),
      lot('multipart', { epilogue: SECRET }),
      (() => {
        const l = lot();
        return { ...l, text: l.text.replace(/^Date: /m, `X-Patient: ${SECRET}\r\nDate: `) };
      })(),
      (() => {
        const l = lot('single');
        return { ...l, text: l.text.replace(/^Date: /m, `X-Note: ${SECRET}\r\nDate: `) };
      })(),
    ];
    const before = mail.messages(INSURER_ADDR).length;
    for (const l of accepted) {
      const r = await send(bytes(l.text));
      expect(r.status).toBe(202);
      // What the store keeps is already the message written again: nothing of the plaintext.
      const stored = await store.withRaw(r.id!, async (raw) => Buffer.from(raw!).toString('latin1'));
      for (const p of PLAINTEXT) expect(stored).not.toContain(p);
      expect(stored).toContain(l.messageId);
      // Still a SESAM-Vitale message the insurer reads: the same lot, the same headers.
      const again = parseMessage(bytes(stored));
      expect(again.attachment).toEqual(parseMessage(bytes(l.text)).attachment);
      expect(again.subject).toBe(parseMessage(bytes(l.text)).subject);
    }
    for (let i = 0; i < 20 && (await worker.runOnce()) > 0; i++);
    await mail.drain();
    const delivered = mail.messages(INSURER_ADDR).slice(before).map((m) => m.toString('latin1'));
    for (const l of accepted) expect(delivered.filter((m) => m.includes(l.messageId))).toHaveLength(1);
    // Every file Postfix and Dovecot hold (queue, mailboxes, logs): not one byte of the plaintext.
    const held = filesUnder(mail.root).map((b) => b.toString('latin1'));
    expect(held.length).toBeGreaterThan(0);
    for (const p of PLAINTEXT) expect(held.filter((f) => f.includes(p))).toEqual([]);
  });

  it('checks a message as a pure function too: the canonical copy keeps only the named headers and the entity', () => {
    const l = lot('multipart', { preamble: SECRET, epilogue: SECRET });
    const out = Buffer.from(checkOutboundProfile(bytes(l.text.replace(/^Date: /m, `X-Patient: ${SECRET}\r\nDate: `))).canonical).toString('latin1');
    const head = out.slice(0, out.indexOf('\r\n\r\n'));
    expect(head.split('\r\n').map((h) => h.slice(0, h.indexOf(':')))).toEqual(['Date', 'From', 'To', 'Message-ID', 'Subject', 'MIME-Version', 'Content-Type']);
    expect(out).not.toContain('DUPONT-SECRET');
    expect(() => checkOutboundProfile(bytes(l.text.replace('--b1--', `${textPart}--b1--`)))).toThrow(ProfileError);
  });

  it('reads a Date only when it names a real time', () => {
    expect(parseRfc5322Date('Sun, 06 Dec 2026 08:00:00 +0100')).toBe(Date.UTC(2026, 11, 6, 7, 0, 0));
    expect(parseRfc5322Date('6 Dec 2026 08:00 -0230')).toBe(Date.UTC(2026, 11, 6, 10, 30, 0));
    for (const bad of ['Sun, 06 Dec 2026 21:65:44 +0100', 'Mon, 06 Dec 2026 08:00:00 +0100', 'Sun, 32 Dec 2026 08:00:00 +0100', 'Sun, 06 Dec 2026 08:00:00 GMT', 'Sun,  06 Dec 2026 08:00:00 +0100', '', 'hier'])
      expect(parseRfc5322Date(bad), bad).toBeNull();
  });
});
