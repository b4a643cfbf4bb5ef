/**
 * `teletrans encrypt`: exit codes 0 (written, OpenSSL decrypts it), 1 (recipient refused, reasons
 * printed, nothing written), 2 (usage, unreadable input). In-process with a fake context, and
 * once through the real bin/teletrans.js.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encryptCommand } from '../../src/lib/cli/encrypt.js';
import type { Context, PkiCore } from '../../src/lib/cli/context.js';
import { EMAIL, type Fixture, makeFixture, opensslDecrypt, prng, removeTemp, tmp } from './helpers.js';

const REPO = resolve(import.meta.dirname, '..', '..');
let fx: Fixture;
let dir: string;
let input: string;
const DATA = prng(42).bytes(100_000);

beforeAll(() => {
  fx = makeFixture();
  dir = tmp();
  input = join(dir, 'FSE-00025.b2');
  writeFileSync(input, DATA);
});

afterAll(removeTemp);

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const ctx: Context = {
    out: async (line) => void (out += line + '\n'),
    err: (text) => void (err += text),
    stdin: Readable.from([]),
    cwd: dir,
    core: async () => (await import('../../src/lib/pki/index.js')) as unknown as PkiCore,
  };
  const code = await encryptCommand.run(args, ctx);
  return { code, out, err };
}

const trust = (): string[] => [
  '--anchor', fx.root.certPath, '--intermediate', fx.inter.certPath, '--crl', fx.rootCrl.path, '--crl', fx.interCrl.path,
];

describe('teletrans encrypt', () => {
  it('0: validates, encrypts, writes IN.pkcs7 by default; OpenSSL decrypts it', async () => {
    const r = await run(['--recipient', fx.recipient.certPath, '--email', EMAIL, ...trust(), 'FSE-00025.b2']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const out = join(dir, 'FSE-00025.b2.pkcs7');
    expect(r.out).toContain(out);
    expect(Buffer.compare(opensslDecrypt(readFileSync(out), fx.recipient), DATA)).toBe(0);
  });

  it('0: --oaep --ski --compress, explicit OUT', async () => {
    const out = join(dir, 'all-options.pkcs7');
    const r = await run(['--recipient', fx.recipient.certPath, '--email', EMAIL, ...trust(), '--oaep', '--ski', '--compress', input, out]);
    expect(r.code).toBe(0);
    expect(gunzipSync(opensslDecrypt(readFileSync(out), fx.recipient)).equals(Buffer.from(DATA))).toBe(true);
    // id-RSAES-OAEP and a [0] subjectKeyIdentifier are in the file.
    const der = readFileSync(out);
    expect(der.includes(Buffer.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07]))).toBe(true);
  });

  it('1: wrong mailbox or no CRL, reasons printed, nothing written', async () => {
    const out = join(dir, 'refused.pkcs7');
    const r = await run(['--recipient', fx.recipient.certPath, '--email', 'amc_pj.test@test.rss.fr', ...trust(), input, out]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\[email_mismatch\]/);
    expect(existsSync(out)).toBe(false);
    const noCrl = await run(['--recipient', fx.recipient.certPath, '--email', EMAIL, '--anchor', fx.root.certPath, '--intermediate', fx.inter.certPath, input, out]);
    expect(noCrl.code).toBe(1);
    expect(noCrl.err).toMatch(/\[crl_missing\]/);
    expect(existsSync(out)).toBe(false);
  });

  it('0 with a warning when the CRL is expired', async () => {
    const stale = fx.pki.crl(fx.inter, 'cli-stale', { lastUpdate: '20200101000000Z', nextUpdate: '20200108000000Z' });
    const r = await run(['--recipient', fx.recipient.certPath, '--email', EMAIL, '--anchor', fx.root.certPath, '--intermediate', fx.inter.certPath,
      '--crl', fx.rootCrl.path, '--crl', stale.path, input, join(dir, 'stale.pkcs7')]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/avertissement \[crl_expired\]/);
  });

  it('0 with --insecure-skip-verify (no email, no anchor), with a warning', async () => {
    const out = join(dir, 'insecure.pkcs7');
    const r = await run(['--recipient', fx.recipient.certPath, '--insecure-skip-verify', input, out]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/NON vérifié/);
    expect(Buffer.compare(opensslDecrypt(readFileSync(out), fx.recipient), DATA)).toBe(0);
  });

  it('2: usage errors', async () => {
    const cases: string[][] = [
      [],
      ['--recipient', fx.recipient.certPath, ...trust(), input], // no --email
      ['--recipient', fx.recipient.certPath, '--email', EMAIL, input], // no --anchor
      ['--email', EMAIL, ...trust(), input], // no --recipient
      ['--recipient', fx.recipient.certPath, '--email', EMAIL, ...trust()], // no IN
      ['--recipient', fx.recipient.certPath, '--email', EMAIL, ...trust(), input, 'a', 'b'],
      ['--recipient', fx.recipient.certPath, '--bogus', input],
      ['--recipient', fx.recipient.certPath, '--email', EMAIL, ...trust(), '--at', 'hier', input],
      ['--recipient', fx.rootCrl.path, '--email', EMAIL, ...trust(), input], // a CRL as --recipient
    ];
    for (const args of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(/^teletrans encrypt : /);
    }
  });

  it('2: unreadable input or certificate', async () => {
    const missing = await run(['--recipient', fx.recipient.certPath, '--email', EMAIL, ...trust(), 'absent.b2']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/introuvable/);
    const badCert = join(dir, 'garbage.pem');
    writeFileSync(badCert, 'not a certificate');
    expect((await run(['--recipient', badCert, '--email', EMAIL, ...trust(), input])).code).toBe(2);
    expect((await run(['--recipient', fx.recipient.certPath, '--insecure-skip-verify', input, join(dir, 'no-such-dir', 'x')])).code).toBe(2);
  });

  it('--help exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Usage : teletrans encrypt/);
  });

  it('through bin/teletrans.js: 0 written, 1 refused, 2 usage; listed by --help', () => {
    const out = join(dir, 'bin.pkcs7');
    const ok = spawnSync(process.execPath, [join(REPO, 'bin/teletrans.js'), 'encrypt', '--recipient', fx.recipient.certPath, '--email', EMAIL, ...trust(), input, out], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(Buffer.compare(opensslDecrypt(readFileSync(out), fx.recipient), DATA)).toBe(0);
    const refused = spawnSync(process.execPath, [join(REPO, 'bin/teletrans.js'), 'encrypt', '--recipient', fx.recipient.certPath, '--email', 'x@y.fr', ...trust(), input, join(dir, 'r.pkcs7')], { encoding: 'utf8' });
    expect(refused.status).toBe(1);
    const usage = spawnSync(process.execPath, [join(REPO, 'bin/teletrans.js'), 'encrypt'], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(execFileSync(process.execPath, [join(REPO, 'bin/teletrans.js'), '--help'], { encoding: 'utf8' })).toMatch(/encrypt/);
  });
});
