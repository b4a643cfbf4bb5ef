/**
 * `teletrans returns read` run as administrators run it (node bin/teletrans.js, a child process):
 * service messages signed by OpenSSL, an AMC signer for the AMO mailbox, an unsigned one, no
 * anchor, an ARL, an unreadable file — each with its JSON and its exit code (0, 1, 2).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzip } from '../../src/lib/cms/index.js';
import { buildArl } from '../../src/lib/sesam/returns/arl.js';
import { removeTemp } from '../cms/helpers.js';
import { AMC_EMAIL, ARL, EMAIL, ORIGINAL_ID, PRACTITIONER, type ReturnsFixture, fileMessage, makeReturnsFixture, signedServiceMessage } from '../sesam/fixtures/returns.js';
import { runCli } from './run-cli.js';

let rf: ReturnsFixture;
let trust: string[];
let k = 0;

const save = (bytes: Uint8Array): string => {
  const path = join(rf.dir, `message-${k++}.eml`);
  writeFileSync(path, bytes);
  return path;
};

beforeAll(() => {
  rf = makeReturnsFixture();
  const root = join(rf.dir, 'root.der');
  const inter = join(rf.dir, 'inter.der');
  writeFileSync(root, rf.fx.rootDer);
  writeFileSync(inter, rf.fx.interDer);
  trust = ['--anchor', root, '--intermediate', inter, ...rf.crls.flatMap((c) => ['--crl', c.path])];
}, 60_000);

afterAll(removeTemp);

describe('teletrans returns read', () => {
  it('a signed 40050 from the front end: read, verified, exit 0', async () => {
    const r = await runCli(['returns', 'read', ...trust, '--json', save(signedServiceMessage(rf, 'smime', false, rf.front, '40050'))]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      kind: 'service',
      nature: '',
      compressed: false,
      signed: true,
      signature: { valid: true, errors: [] },
      service: { code: '40050', in_reply_to: ORIGINAL_ID, signer: { valid: true, email: EMAIL, errors: [] } },
      lots: [],
    });
  });

  it('an opaque 40150 made by openssl cms, in French', async () => {
    const r = await runCli(['returns', 'read', ...trust, save(signedServiceMessage(rf, 'cms', true, rf.front, '40150'))]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('message de service');
    expect(r.stdout).toContain('Signature : valide.');
    expect(r.stdout).toContain(`Signataire : valide (${EMAIL}).`);
    expect(r.stdout).toContain('Message de service vérifié.');
  });

  it('refused signers and unsigned service messages: exit 1 with the reason', async () => {
    const amc = await runCli(['returns', 'read', ...trust, '--json', save(signedServiceMessage(rf, 'cms', false, rf.amc, '40150'))]);
    expect(amc.code).toBe(1);
    const a = JSON.parse(amc.stdout);
    expect(a.signature.valid).toBe(true);
    expect(a.service.signer.valid).toBe(false);
    expect(a.service.signer.email).toBe(AMC_EMAIL);
    expect(a.service.signer.errors.map((e: { code: string }) => e.code)).toContain('email_mismatch');

    const revoked = await runCli(['returns', 'read', ...trust, '--json', save(signedServiceMessage(rf, 'smime', true, rf.revoked, '40050'))]);
    expect(revoked.code).toBe(1);
    expect(JSON.parse(revoked.stdout).service.signer.errors.map((e: { code: string }) => e.code)).toContain('cert_revoked');

    const noAnchor = await runCli(['returns', 'read', '--json', save(signedServiceMessage(rf, 'smime', false, rf.front, '40050'))]);
    expect(noAnchor.code).toBe(1);
    expect(JSON.parse(noAnchor.stdout).service.signer.errors[0].code).toBe('signer_not_checked');

    const unsigned = new TextEncoder().encode(`From: ${EMAIL}\r\nTo: ${PRACTITIONER}\r\nSubject: 4025 flux non chiffre\r\nContent-Type: text/plain\r\n\r\n4025\r\n`);
    const u = await runCli(['returns', 'read', ...trust, '--json', save(unsigned)]);
    expect(u.code).toBe(1);
    expect(JSON.parse(u.stdout)).toMatchObject({ kind: 'service', signed: false, signature: { valid: false, errors: [{ code: 'unsigned' }] }, service: { code: '4025', signer: { valid: false } } });

    const tampered = Buffer.from(signedServiceMessage(rf, 'smime', false, rf.front, '40050'));
    tampered[tampered.indexOf('Le fichier')] = 0x6c;
    const t = await runCli(['returns', 'read', ...trust, '--json', save(new Uint8Array(tampered))]);
    expect(t.code).toBe(1);
    expect(JSON.parse(t.stdout).signature).toMatchObject({ valid: false, errors: [{ code: 'cms_digest_mismatch' }] });
  });

  it('an ARL compressed (/Z): its lots, exit 0', async () => {
    const r = await runCli(['returns', 'read', '--json', save(fileMessage('ARLTEST/NOEMIE/Z', await gzip.compress(buildArl(ARL)), 'F000123.ARL'))]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'arl', nature: 'ARLTEST/NOEMIE/Z', compressed: true, signed: false, lots: ARL.lots, file: ARL.fileName, compostage: ARL.compostage });
  });

  it('unreadable input and bad usage: exit 2', async () => {
    const garbage = await runCli(['returns', 'read', save(new TextEncoder().encode('ceci n’est pas un message'))]);
    expect(garbage.code).toBe(2);
    expect(garbage.stderr).toMatch(/message illisible/);
    const badArl = await runCli(['returns', 'read', save(fileMessage('ARLTEST/NOEMIE', new TextEncoder().encode('TELETRANS-ARL;9\n'), 'F.ARL'))]);
    expect(badArl.code).toBe(2);
    expect((await runCli(['returns', 'read'])).code).toBe(2);
    expect((await runCli(['returns', 'read', 'a.eml', 'b.eml'])).code).toBe(2);
    expect((await runCli(['returns', 'lire', 'a.eml'])).code).toBe(2);
    expect((await runCli(['returns', 'read', join(rf.dir, 'absent.eml')])).code).toBe(2);
    const help = await runCli(['returns', 'read', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('teletrans returns read');
  });
});
