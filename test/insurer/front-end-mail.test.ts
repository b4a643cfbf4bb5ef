/**
 * The returns loop on the real servers, without the page: a day billed and uploaded to the relay
 * (intake checks), delivered by the relay to Postfix into the front end's Dovecot mailbox, read
 * there by the simulated front end, answered by SMTP through Postfix into the practitioner's
 * mailbox, picked up by the relay (IMAP), and read by `readReturn`: the ARL acknowledges the
 * lot; a flow for the front end's previous certificate also brings a signed 40150.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_CATALOGUE } from '../../src/lib/billing/index.js';
import type { FrontEndConfig } from '../../src/lib/server/insurer/front-end.js';
import { answerByMail } from '../../src/lib/server/insurer/mail.js';
import type { SmtpClientOptions } from '../../src/lib/server/relay/smtp-client.js';
import { DeliveryWorker, RelayApi, SqliteStore, pickup, type MailboxConfig, type SmtpConfig } from '../../src/lib/server/relay/index.js';
import { readReturn } from '../../src/lib/sesam/returns/read.js';
import { cpsPki, type CpsPki } from '../billing/support/cps-pki.js';
import { RPPS } from '../billing/fixtures.js';
import { type Party, party, removeTemp } from '../cms/helpers.js';
import { attachmentExt } from '../pki/fixtures/openssl-pki.js';
import { PRACTITIONER_ADDR, PRACTITIONER_PASS, startMailServers, type MailServers } from '../relay/fixtures/mail.js';
import { makeIgcSante, relayConfig, token, upload, type IgcSante } from '../relay/fixtures/relay.js';
import { EMAIL, type ReturnsFixture, makeReturnsFixture } from '../sesam/fixtures/returns.js';
import { frontEndKey, sentDay } from './fixtures.js';

let mail: MailServers;
let igc: IgcSante;
let rf: ReturnsFixture;
let cps: CpsPki;
let next: Party;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teletrans-front-end-mail-'));
  [mail, igc, cps] = await Promise.all([startMailServers({ mailboxes: [EMAIL] }), makeIgcSante(), cpsPki(RPPS.doctor)]);
  rf = makeReturnsFixture();
  next = party(rf.fx.pki.leaf(rf.fx.inter, 'front-next', `/C=FR/O=sesam-vitale/CN=${EMAIL}`, attachmentExt(EMAIL)));
}, 120_000);

afterAll(() => {
  mail?.stop();
  removeTemp();
  rmSync(dir, { recursive: true, force: true });
});

const smtp = (): SmtpConfig => ({ host: '127.0.0.1', port: mail.smtpPort, security: 'starttls', tls: { ca: mail.pki.caPem, servername: 'localhost' }, connectionTimeoutMs: 5000, socketTimeoutMs: 5000 });
/** The front end submits its answers to Postfix as any mail client: STARTTLS, the test CA, TLS 1.2 at least. */
const submission = (): SmtpClientOptions => ({ host: '127.0.0.1', port: mail.smtpPort, security: 'starttls', tls: { ca: mail.pki.caPem, servername: 'localhost', minVersion: 'TLSv1.2' }, connectionTimeoutMs: 5000, socketTimeoutMs: 5000 });
const mailbox = (): MailboxConfig => ({ protocol: 'imap', host: '127.0.0.1', port: mail.imapPort, security: 'starttls', tls: { ca: mail.pki.caPem, servername: 'localhost' }, auth: { user: PRACTITIONER_ADDR, pass: PRACTITIONER_PASS } });
const key = frontEndKey;

async function until<T>(f: () => T | null | undefined | false, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const dayMessage = async (recipient: Uint8Array): Promise<Uint8Array> => (await sentDay({ recipient, signer: cps.signer, from: PRACTITIONER_ADDR })).message;

describe('returns through Postfix and Dovecot', () => {
  it('relay → Postfix → front end → Postfix → Dovecot → relay pick-up: an ARL, and a 40150 for the previous certificate', async () => {
    const practitioner = { id: 'ps1', certificateMatch: { rpps: '899700000001' }, from: PRACTITIONER_ADDR, allowedRecipients: ['@test.rss.fr'], mailbox: mailbox() };
    const store = new SqliteStore(join(dir, 'relay.sqlite'));
    const config = relayConfig(igc, smtp(), { practitioners: [practitioner] });
    const worker = new DeliveryWorker(store, config);
    const api = new RelayApi(store, config, worker);
    const t = await token(api, igc);

    const current = await dayMessage(next.cert);
    const older = await dayMessage(rf.front.cert);
    for (const [i, m] of [current, older].entries()) {
      const r = await api.handle(upload('http://relay.test', t, `front-end-loop-${i}`, m));
      expect(r.status, await r.clone().text()).toBe(202);
    }
    await worker.runOnce();
    await mail.drain();
    const received = await until(() => (mail.messages(EMAIL).length >= 2 ? mail.messages(EMAIL) : null));

    const cfg: FrontEndConfig = {
      mailbox: EMAIL,
      keys: [key(next, 'current'), key(rf.front, 'previous')],
      chain: [rf.fx.interDer],
      reader: { anchors: [cps.root], revocation: 'off', catalogue: SAMPLE_CATALOGUE },
      seen: new Set(),
    };
    const results = await answerByMail(received.map((b) => new Uint8Array(b)), cfg, submission());
    expect(results.map((r) => r.outcome.kind)).toEqual(['read', 'read']);
    expect(results.flatMap((r) => r.answers)).toHaveLength(3);
    await mail.drain();
    await until(() => mail.messages(PRACTITIONER_ADDR).length >= 3);

    const picked = await pickup(store, practitioner);
    expect(picked.stored).toBe(3);
    const readings = await Promise.all((await store.listReturns('ps1', false)).map(async (x) => readReturn((await store.getReturnRaw('ps1', x.id))!, { validateSigner: rf.validateSigner })));
    const arls = readings.filter((r) => r.kind === 'arl');
    expect(arls).toHaveLength(2);
    for (const a of arls) expect(a.arl?.lots.every((l) => l.accepted)).toBe(true);
    const warnings = readings.filter((r) => r.kind === 'service');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.service).toMatchObject({ code: '40150', verified: true, signer: { email: EMAIL } });
    // Each answer names the message it answers.
    const sentIds = [current, older].map((m) => /^Message-ID: (\S+)/im.exec(new TextDecoder().decode(m))![1]);
    expect(new Set(readings.map((r) => r.inReplyTo))).toEqual(new Set(sentIds));
  });
});
