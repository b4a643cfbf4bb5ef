/**
 * Service messages written by us (src/lib/sesam/returns/service.ts, SignedData by
 * src/lib/cms/sign.ts), as the simulated front end sends them: verified by the real OpenSSL
 * (`openssl smime -verify` against the test hierarchy, detached and opaque) and read back by
 * `readReturn` as verified; the subject of a hostile original cannot inject a header.
 */
import { execFileSync } from 'node:child_process';
import { createSign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySigned } from '../../src/lib/cms/index.js';
import { readReturn } from '../../src/lib/sesam/returns/read.js';
import { composeServiceMessage, type ServiceMessageInput } from '../../src/lib/sesam/returns/service.js';
import { removeTemp } from '../cms/helpers.js';
import { EMAIL, ORIGINAL_ID, PRACTITIONER, type ReturnsFixture, makeReturnsFixture } from './fixtures/returns.js';

let rf: ReturnsFixture;
let caFile: string;

beforeAll(() => {
  rf = makeReturnsFixture();
  caFile = join(rf.dir, 'ca.pem');
  writeFileSync(caFile, rf.fx.root.certPem + rf.fx.inter.certPem);
}, 60_000);

afterAll(removeTemp);

const input = (over: Partial<ServiceMessageInput> = {}): ServiceMessageInput => ({
  from: EMAIL,
  to: PRACTITIONER,
  code: '40050',
  inReplyTo: ORIGINAL_ID,
  originalSubject: 'SV140700/123456789/2026120614300500001/00003',
  messageId: '<svc-1@test.rss.fr>',
  date: new Date('2026-12-06T13:40:00Z'),
  signer: {
    certificate: rf.front.cert,
    sign: async (data) => new Uint8Array(createSign('sha256').update(data).sign(readFileSync(rf.front.keyPath, 'utf8'))),
  },
  ...over,
});

function opensslVerify(message: Uint8Array): string {
  const path = join(rf.dir, `svc-${Math.random().toString(36).slice(2)}.eml`);
  writeFileSync(path, message);
  return execFileSync('openssl', ['smime', '-verify', '-in', path, '-CAfile', caFile, '-purpose', 'any'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('service messages we sign', () => {
  it.each([
    ['detached (multipart/signed)', false, '40050'],
    ['opaque (pkcs7-mime signed-data)', true, '40150'],
    ['4025, detached', false, '4025'],
  ] as const)('%s: OpenSSL verifies it, readReturn believes it', async (_what, opaque, code) => {
    const m = await composeServiceMessage(input({ opaque, code }));
    // OpenSSL prints the signed entity once the signature and the chain verify (it throws otherwise).
    expect(opensslVerify(m)).toMatch(/Content-Type: text\/plain/);
    const r = await readReturn(m, { validateSigner: rf.validateSigner });
    expect(r.kind).toBe('service');
    expect(r.service).toMatchObject({ code, inReplyTo: ORIGINAL_ID, verified: true, signer: { valid: true, email: EMAIL } });
    expect(r.subject).toBe(`${code} Re: SV140700/123456789/2026120614300500001/00003`);
    expect(r.text?.startsWith(`${code} `)).toBe(true);
    expect(r.text).toContain('« SV140700/123456789/2026120614300500001/00003 »');
  });

  it('the SignedData carries what OpenSSL writes: SHA-256, signed attributes, the signing time', async () => {
    const m = await composeServiceMessage(input({ opaque: true }));
    const der = new Uint8Array(Buffer.from(new TextDecoder().decode(m).split('\r\n\r\n')[1]!.replace(/\s+/g, ''), 'base64'));
    const v = await verifySigned(der);
    expect(v.detached).toBe(false);
    expect(v.signers[0]).toMatchObject({ digestAlgorithm: 'SHA-256', signedAttributes: true, weak: false });
    expect(v.signers[0]!.signingTime?.toISOString()).toBe('2026-12-06T13:40:00.000Z');
  });

  it('a hostile original subject cannot add a header', async () => {
    const m = await composeServiceMessage(input({ originalSubject: 'SV1/2\r\nBcc: victim@example.org\r\nX: y' }));
    const head = new TextDecoder().decode(m).split('\r\n\r\n')[0]!;
    expect(head).not.toMatch(/^Bcc:/m);
    expect((await readReturn(m, { validateSigner: rf.validateSigner })).service?.verified).toBe(true);
  });

  it('a message signed by another mailbox’s certificate is not believed', async () => {
    const m = await composeServiceMessage(input({ from: 'amo_pj.reel@reel.rss.fr' }));
    const r = await readReturn(m, { validateSigner: rf.validateSigner });
    expect(r.signature?.valid).toBe(true);
    expect(r.service?.verified).toBe(false);
    expect(r.service?.signer.errors.map((e) => e.code)).toContain('email_mismatch');
  });
});
