/**
 * `npm start`'s returns without a mail server (src/lib/server/insurer/demo.ts): the demo PKI's
 * insurer keys decrypt what the practitioner encrypted to them, the simulated front end answers
 * into the practitioner's embedded Maildir, and the relay picks it up from there (pickupMaildir):
 * stored once, removed, an ARL acknowledging the lot; scenarios parsed strictly.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKeySigner } from '../../src/lib/billing/index.js';
import { genKey, issueCpsCertificate, pem } from '../../src/lib/pki/demo/index.js';
import { type DemoCrls, type DemoPki, ensureDemoPki, issueDemoCrls } from '../../src/lib/server/demo-pki.js';
import { demoFrontEnd, demoMailbox, parseScenario } from '../../src/lib/server/insurer/demo.js';
import { DEMO_FROM, DEMO_PRACTITIONERS } from '../../src/lib/server/relay/demo.js';
import { SqliteStore, pickupMaildir, type PractitionerConfig } from '../../src/lib/server/relay/index.js';
import { parseMessage } from '../../src/lib/sesam/index.js';
import { type ReturnReading, type SignerValidator, readReturn } from '../../src/lib/sesam/returns/read.js';
import { verify } from '../../src/lib/pki/index.js';
import { RPPS } from '../billing/fixtures.js';
import { SENT_AT, sentDay } from './fixtures.js';

const at = SENT_AT;
let dir: string;
let pki: DemoPki;
let crls: DemoCrls;
let signer: ReturnType<typeof testKeySigner>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teletrans-demo-front-end-'));
  pki = await ensureDemoPki(join(dir, 'demo'));
  crls = await issueDemoCrls(pki, at.getTime());
  const key = await genKey();
  const cert = await issueCpsCertificate({ rpps: RPPS.doctor, name: 'FICTIF-TEST CLAIRE', usage: 'sign', key, caDer: pki.igcCa.der, caKey: pki.igcCa.key, notBefore: new Date('2024-06-01'), notAfter: new Date('2027-06-01') });
  signer = testKeySigner(key.privateKey, cert);
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function lotMessage(): Promise<{ bytes: Uint8Array; to: string }> {
  const { message } = await sentDay({ recipient: pki.recipients[0]!.der, signer, from: DEMO_FROM });
  return { bytes: message, to: parseMessage(message).to };
}

describe('the demo front end and the embedded mailbox', () => {
  it('answers into the practitioner’s Maildir; the relay picks the ARL up once and removes it', async () => {
    const mailboxes = join(dir, 'mailboxes');
    const lines: string[] = [];
    const answer = demoFrontEnd({ pki, crls: () => crls, mailboxes, practitioners: DEMO_PRACTITIONERS, log: (l) => lines.push(l) });
    const m = await lotMessage();
    expect(m.to.toLowerCase()).toBe(pki.recipients[0]!.email.toLowerCase());
    await answer(m.bytes, { to: [m.to] });
    expect(lines.join('\n')).toMatch(/read, 1 réponse/);
    const box = demoMailbox(mailboxes, 'demo');
    expect(readdirSync(join(box, 'new'))).toHaveLength(1);
    expect(readdirSync(join(box, 'tmp'))).toHaveLength(0);

    const store = new SqliteStore(join(dir, 'relay.sqlite'));
    const p: PractitionerConfig = { id: 'demo', certificateMatch: { rpps: DEMO_PRACTITIONERS[0]!.rpps }, from: DEMO_FROM, allowedRecipients: ['@test.rss.fr'], mailbox: { protocol: 'maildir', path: box } };
    const first = await pickupMaildir(store, p, { protocol: 'maildir', path: box });
    expect(first).toMatchObject({ fetched: 1, stored: 1, removed: 1 });
    expect(readdirSync(join(box, 'new'))).toHaveLength(0);
    expect(await pickupMaildir(store, p, { protocol: 'maildir', path: box })).toMatchObject({ fetched: 0, stored: 0 });
    const [ret] = await store.listReturns('demo', false);
    const reading = await readReturn((await store.getReturnRaw('demo', ret!.id))!);
    expect(reading.kind).toBe('arl');
    expect(reading.arl?.lots).toEqual([expect.objectContaining({ sender: '751234567', kind: 'FSE', documents: 1, accepted: true })]);
    expect(reading.inReplyTo).toBe(parseMessage(m.bytes).messageId);
  });

  it('a message for a mailbox it does not hold is ignored; the lost-ARL scenario leaves the mailbox empty', async () => {
    const mailboxes = join(dir, 'mailboxes-2');
    const m = await lotMessage();
    await demoFrontEnd({ pki, crls: () => crls, mailboxes, practitioners: DEMO_PRACTITIONERS })(m.bytes, { to: ['someone@teletrans.test'] });
    await demoFrontEnd({ pki, crls: () => crls, mailboxes, practitioners: DEMO_PRACTITIONERS, scenario: parseScenario('lose-arl') })(m.bytes, { to: [m.to] });
    expect(() => readdirSync(join(mailboxes, 'demo', 'new'))).toThrow();
    // Mute: not even the 40050 a revoked certificate would bring.
    const muted = join(dir, 'mailboxes-muted');
    await demoFrontEnd({ pki, crls: () => crls, mailboxes: muted, practitioners: DEMO_PRACTITIONERS, scenario: parseScenario('revoke-old,mute') })((await lotMessage()).bytes, { to: [m.to] });
    expect(() => readdirSync(join(muted, 'demo', 'new'))).toThrow();
  });

  it('rotate: the flow for the certificate the browser knows is read, and a 40150 carries the new one; revoke-old: 40050', async () => {
    // The signer is judged now (the demo PKI and the rotated certificate are of today).
    const fresh = await issueDemoCrls(pki);
    const validateSigner: SignerValidator = async ({ certificate, intermediates, email }) => {
      const r = await verify({ leaf: certificate, anchors: [pki.sesamRoot.der], intermediates: [pki.sesamCa.der, ...intermediates], crls: [fresh.sesamRoot, fresh.sesamCa], profile: 'sesam-vitale-attachment', email });
      return { valid: r.valid, errors: r.errors.map((e) => ({ code: e.code, message: e.message })) };
    };
    const read = async (scenario: string): Promise<ReturnReading[]> => {
      const mailboxes = join(dir, `mailboxes-${scenario}`);
      const m = await lotMessage();
      await demoFrontEnd({ pki, crls: () => crls, mailboxes, practitioners: DEMO_PRACTITIONERS, scenario: parseScenario(scenario), keysDir: join(dir, `keys-${scenario}`) })(m.bytes, { to: [m.to] });
      const box = join(mailboxes, 'demo', 'new');
      return Promise.all(readdirSync(box).sort().map((f) => readReturn(new Uint8Array(readFileSync(join(box, f))), { validateSigner })));
    };
    const rotated = await read('rotate');
    expect(rotated.map((r) => r.kind).sort()).toEqual(['arl', 'service']);
    const warning = rotated.find((r) => r.kind === 'service')!;
    expect(warning.service?.signer.errors).toEqual([]);
    expect(warning.service).toMatchObject({ code: '40150', verified: true });
    expect(Buffer.compare(warning.service!.signer.certificate!, pki.recipients[0]!.der)).not.toBe(0);
    // The newer certificate and its key, kept for a test lab's OpenSSL: the one that signed.
    const m0 = pki.recipients[0]!.email;
    const kept = join(dir, 'keys-rotate', `${m0}.pem`);
    expect(readFileSync(kept, 'utf8')).toBe(pem(warning.service!.signer.certificate!));
    expect(readFileSync(join(dir, 'keys-rotate', `${m0}.key`), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const revoked = await read('revoke-old');
    expect(revoked.map((r) => r.service?.code)).toEqual(['40050']);
    expect(revoked[0]!.service?.verified).toBe(true);
  });

  it('scenarios are parsed strictly', () => {
    expect(parseScenario('lose-arl, reject ,delay=3')).toEqual({ loseArl: true, rejectLots: { code: 'DEMO', reason: expect.any(String) }, delayMs: 3000 });
    expect(parseScenario(undefined)).toEqual({});
    expect(parseScenario('reject-payments').rejectPayments?.code).toBe('DEMO');
    expect(parseScenario('rotate').rotation).toBe('previous');
    expect(parseScenario('revoke-old').rotation).toBe('revoked');
    expect(parseScenario('mute').mute).toBe(true);
    expect(() => parseScenario('lose_arl')).toThrow(/scénario inconnu/);
    expect(() => parseScenario('delay=-1')).toThrow();
  });
});
