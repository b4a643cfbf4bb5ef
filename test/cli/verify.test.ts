/**
 * End-to-end tests of `teletrans verify`: spawn the real bin/teletrans.js (node) on files made
 * by test/pki/fixtures/forge.ts and by OpenSSL. Exit codes: 0 valid, 1 invalid, 2 usage/input.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  genKey, issueCert, issueCrl, pemCert, pemCrl, sesamChain, writeFiles, SESAM_EMAIL, SESAM_LEAF_KU,
  type ForgeKey, type SesamChain,
} from '../pki/fixtures/forge';
import { runCli, type CliRun } from './run-cli.js';

const SESAM = ['--profile', 'sesam-vitale-attachment', '--email', SESAM_EMAIL];
const DAY = 86_400_000;

type Run = CliRun;
/** In the test's directory unless told otherwise. */
const run = (args: string[], opts: { input?: string; cwd?: string } = {}): Promise<Run> => runCli(args, { ...opts, cwd: opts.cwd ?? dir });

interface Issue { code: string; message: string; cert?: number; subject?: string }
interface Result { valid: boolean; warnings: Issue[]; errors: Issue[]; path: Array<Record<string, unknown>> }

function expectIssue(i: Issue): void {
  expect(typeof i.code).toBe('string');
  expect(i.code.length).toBeGreaterThan(0);
  expect(typeof i.message).toBe('string');
}

/** Exactly one JSON line with exactly the four documented keys. */
function parseJson(r: Run): Result {
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  expect(lines, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toHaveLength(1);
  const j = JSON.parse(lines[0]!) as Result;
  expect(Object.keys(j)).toEqual(['valid', 'warnings', 'errors', 'path']);
  expect(typeof j.valid).toBe('boolean');
  j.warnings.forEach(expectIssue);
  j.errors.forEach(expectIssue);
  for (const p of j.path) {
    for (const k of ['subject', 'issuer', 'serial', 'notBefore', 'notAfter', 'sha256']) expect(typeof p[k]).toBe('string');
    expect(typeof p.anchor).toBe('boolean');
  }
  return j;
}

/** Runs with --json and checks the exit code matches the verdict (0 valid / 1 invalid). */
async function verdict(args: string[]): Promise<Result & { run: Run }> {
  const r = await run(['verify', '--json', ...args]);
  const j = parseJson(r);
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(j.valid ? 0 : 1);
  if (!j.valid) expect(j.errors.length).toBeGreaterThan(0);
  return { ...j, run: r };
}

/** Exit 2 with the documented JSON failure line and a message on stderr. */
async function usageFailure(args: string[], cwd?: string): Promise<Issue> {
  const r = await run(['verify', '--json', ...args], { cwd });
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(2);
  const j = parseJson(r);
  expect(j).toMatchObject({ valid: false, warnings: [], path: [] });
  expect(j.errors).toHaveLength(1);
  expect(r.stderr.trim().length).toBeGreaterThan(0);
  return j.errors[0]!;
}

const sha256 = (d: Uint8Array): string => createHash('sha256').update(d).digest('hex');

let dir: string;
let c: SesamChain;
const timings: Record<string, number> = {};

/** Paths (relative to `dir`) of the standard chain. */
const STD = ['--anchor', 'root.pem', '--intermediate', 'inter.pem'];
const STD_CRLS = ['--crl', 'root.crl', '--crl', 'inter.crl'];

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Root → intermediate → leaf with OpenSSL, CRLs by `openssl ca -gencrl`, one revoked leaf. */
function makeOpensslChain(base: string): void {
  const o = join(base, 'ossl');
  execFileSync('mkdir', ['-p', join(o, 'rootdb'), join(o, 'interdb')]);
  for (const db of ['rootdb', 'interdb']) {
    writeFileSync(join(o, db, 'index.txt'), '');
    writeFileSync(join(o, db, 'crlnumber'), '01\n');
  }
  const caConf = (db: string): string => `[ ca ]
default_ca = CA_default
[ CA_default ]
dir = ${join(o, db)}
database = $dir/index.txt
crlnumber = $dir/crlnumber
default_md = sha256
default_crl_days = 7
[ crl_ext ]
authorityKeyIdentifier = keyid:always
`;
  writeFileSync(join(o, 'root.cnf'), caConf('rootdb'));
  writeFileSync(join(o, 'inter.cnf'), caConf('interdb'));
  writeFileSync(join(o, 'inter.ext'), `basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`);
  writeFileSync(join(o, 'leaf.ext'), `basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment, nonRepudiation
subjectAltName = email:${SESAM_EMAIL}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`);
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'root.key', '-out', 'root.pem', '-days', '3650', '-sha256',
    '-subj', '/C=FR/O=sesam-vitale/CN=AC-SESAM-VITALE-TEST-2034 (OpenSSL)',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], o);
  openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'inter.key', '-out', 'inter.csr',
    '-subj', '/C=FR/O=sesam-vitale/OU=AC-FACTURATION-TEST/CN=AC-FACTURATION-TEST (OpenSSL)'], o);
  openssl(['x509', '-req', '-in', 'inter.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-set_serial', '0x02',
    '-days', '1825', '-sha256', '-extfile', 'inter.ext', '-out', 'inter.pem'], o);
  for (const [name, serial] of [['leaf', '0x1001'], ['revoked', '0x1002']] as const) {
    openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`,
      '-subj', `/C=FR/O=sesam-vitale/CN=${SESAM_EMAIL}`], o);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'inter.pem', '-CAkey', 'inter.key', '-set_serial', serial,
      '-days', '365', '-sha256', '-extfile', 'leaf.ext', '-out', `${name}.pem`], o);
  }
  // The leaf in DER, to exercise DER input.
  openssl(['x509', '-in', 'leaf.pem', '-outform', 'DER', '-out', 'leaf.der'], o);
  openssl(['ca', '-gencrl', '-config', 'root.cnf', '-keyfile', 'root.key', '-cert', 'root.pem', '-crlexts', 'crl_ext', '-out', 'root.crl'], o);
  openssl(['ca', '-config', 'inter.cnf', '-keyfile', 'inter.key', '-cert', 'inter.pem', '-revoke', 'revoked.pem', '-crl_reason', 'keyCompromise'], o);
  openssl(['ca', '-gencrl', '-config', 'inter.cnf', '-keyfile', 'inter.key', '-cert', 'inter.pem', '-crlexts', 'crl_ext', '-out', 'inter.crl'], o);
  // Both CRLs in one PEM file (several blocks).
  writeFileSync(join(o, 'crls.pem'), readFileSync(join(o, 'root.crl'), 'utf8') + readFileSync(join(o, 'inter.crl'), 'utf8'));
}

beforeAll(async () => {
  const t0 = performance.now();
  c = await sesamChain();
  const { root, inter, rootKey, interKey } = c;
  const leafSpec = (key: ForgeKey, extra: Partial<Parameters<typeof issueCert>[0]> = {}) =>
    issueCert({
      subject: `CN=${SESAM_EMAIL},O=sesam-vitale,C=FR`, key, issuerCert: inter, signer: interKey,
      emails: [SESAM_EMAIL], keyUsage: { bits: SESAM_LEAF_KU, critical: true }, ...extra,
    });
  const now = Date.now();
  const [weakKey, forgedKey, ko, kw, kio, kiw, klo, klw] = await Promise.all([
    genKey('rsa1024'), genKey(), genKey(), genKey(), genKey(), genKey(), genKey(), genKey(),
  ]);

  // CA migration: old and new root with the same name, each with an intermediate (same name).
  const ROOT_N = 'CN=AC-MIGRATION-TEST,O=sesam-vitale,C=FR';
  const INTER_N = 'CN=AC-FACTURATION-MIGRATION,O=sesam-vitale,C=FR';
  const ro = await issueCert({ subject: ROOT_N, key: ko, ca: true, serial: 10 });
  const rw = await issueCert({ subject: ROOT_N, key: kw, ca: true, serial: 11 });
  const io = await issueCert({ subject: INTER_N, key: kio, issuerCert: ro, signer: ko, ca: true, serial: 12 });
  const iw = await issueCert({ subject: INTER_N, key: kiw, issuerCert: rw, signer: kw, ca: true, serial: 13 });
  const migLeaf = (key: ForgeKey, ic: Uint8Array, ik: ForgeKey, serial: number) =>
    issueCert({
      subject: `CN=${SESAM_EMAIL},O=sesam-vitale,C=FR`, key, issuerCert: ic, signer: ik, serial,
      emails: [SESAM_EMAIL], keyUsage: { bits: SESAM_LEAF_KU, critical: true },
    });

  const files: Record<string, Uint8Array | string> = {
    'root.pem': pemCert(root),
    'inter.pem': pemCert(inter),
    'inter.der': inter,
    'leaf.pem': pemCert(c.leaf),
    'leaf.der': c.leaf,
    'root.crl': c.rootCrl,
    'inter.crl': pemCrl(c.interCrl),
    'crls.pem': pemCrl(c.rootCrl) + pemCrl(c.interCrl),
    // Expired CRLs (nextUpdate a week ago): usable, with a warning.
    'root-expired.crl': await issueCrl({ issuerCert: root, signer: rootKey, thisUpdate: new Date(now - 14 * DAY), nextUpdate: new Date(now - 7 * DAY) }),
    'inter-expired.crl': await issueCrl({ issuerCert: inter, signer: interKey, thisUpdate: new Date(now - 14 * DAY), nextUpdate: new Date(now - 7 * DAY) }),
    'leaf-ku-noncritical.pem': pemCert(await leafSpec(await genKey(), { keyUsage: { bits: SESAM_LEAF_KU, critical: false } })),
    'leaf-rsa1024.pem': pemCert(await leafSpec(weakKey)),
    'inter-revoking.crl': await issueCrl({ issuerCert: inter, signer: interKey, crlNumber: 2, entries: [{ serial: c.leafSerial, reason: 'keyCompromise' }] }),
    // Same issuer name and AKI as the intermediate, signed by another key.
    'inter-forged.crl': await issueCrl({ issuerCert: inter, signer: forgedKey, crlNumber: 3 }),
    'mig/root-old.pem': pemCert(ro),
    'mig/root-new.pem': pemCert(rw),
    'mig/inters.pem': pemCert(io) + pemCert(iw),
    'mig/leaf-new.pem': pemCert(await migLeaf(klw, iw, kiw, 100)),
    'mig/leaf-old.pem': pemCert(await migLeaf(klo, io, kio, 101)),
    'mig/crls.pem': [
      await issueCrl({ issuerCert: ro, signer: ko }),
      await issueCrl({ issuerCert: rw, signer: kw }),
      await issueCrl({ issuerCert: io, signer: kio }),
      await issueCrl({ issuerCert: iw, signer: kiw }),
    ].map(pemCrl).join(''),
    'bad.pem': '-----BEGIN CERTIFICATE-----\nMIIB!!!ce n\'est pas du base64***\n-----END CERTIFICATE-----\n',
    'garbage.der': new Uint8Array([0x30, 0x82, 0x05, 0x00, 0x02, 0x01]),
  };
  dir = await writeFiles(files);
  timings.forge_ms = performance.now() - t0;
  const t1 = performance.now();
  makeOpensslChain(dir);
  timings.openssl_ms = performance.now() - t1;
});

afterAll(() => {
  if (dir && !process.env.KEEP_FIXTURES) rmSync(dir, { recursive: true, force: true });
  console.info('verify.test timings (ms):', JSON.stringify(timings));
});

describe('teletrans verify (forge fixtures)', () => {
  it('accepts a valid SESAM-Vitale chain with CRLs (exit 0)', async () => {
    const j = await verdict([...STD, ...STD_CRLS, ...SESAM, 'leaf.pem']);
    timings.single_run_ms = j.run.ms;
    expect(j.valid).toBe(true);
    expect(j.errors).toEqual([]);
    expect(j.path).toHaveLength(3);
    expect(j.path[0]!.sha256).toBe(sha256(c.leaf));
    expect(j.path[0]!.anchor).toBe(false);
    expect(j.path[2]!.anchor).toBe(true);
    expect(j.path[2]!.sha256).toBe(sha256(c.root));
  });

  it('reads DER files and a PEM file holding several CRLs', async () => {
    const j = await verdict(['--anchor', 'root.pem', '--intermediate', 'inter.der', '--crl', 'crls.pem', ...SESAM, 'leaf.der']);
    expect(j.valid).toBe(true);
  });

  it('a leaf file holding the whole chain: first = leaf, others = intermediates', async () => {
    writeFileSync(join(dir, 'fullchain.pem'), pemCert(c.leaf) + pemCert(c.inter));
    const j = await verdict(['--anchor', 'root.pem', '--crl', 'crls.pem', ...SESAM, 'fullchain.pem']);
    expect(j.valid).toBe(true);
  });

  it('expired CRLs are still used, with a warning (exit 0)', async () => {
    const j = await verdict([...STD, '--crl', 'root-expired.crl', '--crl', 'inter-expired.crl', ...SESAM, 'leaf.pem']);
    expect(j.valid).toBe(true);
    expect(j.warnings.length).toBeGreaterThan(0);
    expect(j.warnings.some((w) => /crl|expired/i.test(w.code))).toBe(true);
  });

  it('no CRL under the sesam profile is invalid (exit 1)', async () => {
    expect((await verdict([...STD, ...SESAM, 'leaf.pem'])).valid).toBe(false);
  });

  it('wrong mailbox address is invalid (exit 1)', async () => {
    const j = await verdict([...STD, ...STD_CRLS, '--profile', 'sesam-vitale-attachment', '--email', 'amc_pj.test@test.rss.fr', 'leaf.pem']);
    expect(j.valid).toBe(false);
  });

  it('keyUsage not critical is invalid (exit 1)', async () => {
    expect((await verdict([...STD, ...STD_CRLS, ...SESAM, 'leaf-ku-noncritical.pem'])).valid).toBe(false);
  });

  it('an RSA-1024 leaf is invalid (exit 1)', async () => {
    expect((await verdict([...STD, ...STD_CRLS, ...SESAM, 'leaf-rsa1024.pem'])).valid).toBe(false);
  });

  it('a revoked leaf is invalid (exit 1)', async () => {
    const j = await verdict([...STD, '--crl', 'root.crl', '--crl', 'inter-revoking.crl', ...SESAM, 'leaf.pem']);
    expect(j.valid).toBe(false);
  });

  it('a CRL signed by a forged key with the CA name counts as missing (exit 1)', async () => {
    const j = await verdict([...STD, '--crl', 'root.crl', '--crl', 'inter-forged.crl', ...SESAM, 'leaf.pem']);
    expect(j.valid).toBe(false);
  });

  it('CA migration: same names, new keys, both CAs offered, leaf of the new one (exit 0)', async () => {
    const j = await verdict([
      '--anchor', 'mig/root-old.pem', '--anchor', 'mig/root-new.pem', '--intermediate', 'mig/inters.pem',
      '--crl', 'mig/crls.pem', ...SESAM, 'mig/leaf-new.pem',
    ]);
    expect(j.valid).toBe(true);
    expect(j.path.at(-1)!.sha256).toBe(sha256(Buffer.from(readFileSync(join(dir, 'mig/root-new.pem'), 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64')));
  });

  it('CA migration: leaf of the old CA while only the new one is anchor (exit 1)', async () => {
    const j = await verdict([
      '--anchor', 'mig/root-new.pem', '--intermediate', 'mig/inters.pem', '--crl', 'mig/crls.pem', ...SESAM, 'mig/leaf-old.pem',
    ]);
    expect(j.valid).toBe(false);
  });

  it('prints a French report without --json', async () => {
    const ok = await run(['verify', ...STD, ...STD_CRLS, ...SESAM, 'leaf.pem']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Chaîne valide');
    const bad = await run(['verify', ...STD, ...SESAM, 'leaf.pem']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('Chaîne invalide');
    expect(bad.stdout).toMatch(/\[[a-z_]+\]/); // each error shows its code
  });
});

describe('teletrans verify (OpenSSL fixtures)', () => {
  const O = ['--anchor', 'ossl/root.pem', '--intermediate', 'ossl/inter.pem', '--crl', 'ossl/crls.pem', ...SESAM];

  it('accepts the OpenSSL chain with CRLs from `openssl ca -gencrl` (exit 0)', async () => {
    expect((await verdict([...O, 'ossl/leaf.pem'])).valid).toBe(true);
    expect((await verdict([...O, 'ossl/leaf.der'])).valid).toBe(true);
  });

  it('rejects the leaf revoked with `openssl ca -revoke` (exit 1)', async () => {
    expect((await verdict([...O, 'ossl/revoked.pem'])).valid).toBe(false);
  });
});

describe('teletrans verify: usage and input errors (exit 2)', () => {
  it('malformed PEM', async () => {
    const e = await usageFailure([...STD, ...STD_CRLS, ...SESAM, 'bad.pem']);
    expect(e.code).not.toMatch(/^(usage|input_unreadable|internal_error)$/); // a PkiError code
  });

  it('malformed DER', async () => {
    const e = await usageFailure([...STD, ...STD_CRLS, 'garbage.der']);
    expect(e.code).not.toBe('internal_error');
  });

  it('missing file', async () => {
    expect((await usageFailure([...STD, ...STD_CRLS, 'nope.pem'])).code).toBe('input_unreadable');
    expect((await usageFailure(['--anchor', 'nope-root.pem', 'leaf.pem'])).code).toBe('input_unreadable');
  });

  it('unknown option', async () => {
    expect((await usageFailure([...STD, '--frobnicate', 'leaf.pem'])).code).toBe('usage');
    const r = await run(['verify', '--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/--frobnicate/);
  });

  it('bad date, unknown profile, sesam profile without --email, no anchor, no leaf, two leaves', async () => {
    for (const args of [
      [...STD, '--at', 'demain', 'leaf.pem'],
      [...STD, '--at', '2026-02-30', 'leaf.pem'],
      [...STD, '--profile', 'x509-strict', 'leaf.pem'],
      [...STD, '--profile', 'sesam-vitale-attachment', 'leaf.pem'],
      ['--intermediate', 'inter.pem', 'leaf.pem'],
      [...STD],
      [...STD, 'leaf.pem', 'leaf.der'],
    ]) {
      expect((await usageFailure(args)).code, args.join(' ')).toBe('usage');
    }
  });

  it('a CRL given as --intermediate, or a certificate as --crl', async () => {
    expect((await usageFailure(['--anchor', 'root.pem', '--intermediate', 'root.crl', 'leaf.pem'])).code).toBe('usage');
    expect((await usageFailure([...STD, '--crl', 'inter.pem', 'leaf.pem'])).code).toBe('usage');
  });

  it('unknown subcommand and no subcommand', async () => {
    const r = await run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/verify/);
    expect((await run([])).code).toBe(2);
  });

  it('help', async () => {
    const top = await run(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/verify/);
    const sub = await run(['verify', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toMatch(/--batch/);
    expect(sub.stdout).toMatch(/lignes vides/i);
  });
});

describe('teletrans verify --batch', () => {
  const sesam = { profile: 'sesam-vitale-attachment', email: SESAM_EMAIL };
  const std = { anchors: ['root.pem'], intermediates: 'inter.pem' };
  const crls = ['root.crl', 'inter.crl'];
  // [line, expected valid] — null for blank lines (no output).
  const cases: Array<[string, boolean | null]> = [
    // Keys the CLI does not know (a caller's own bookkeeping) are ignored.
    [JSON.stringify({ id: 'ok', leaf: 'leaf.pem', ...std, crls, ...sesam, name: 'ok', expected: 'valid' }), true],
    [JSON.stringify({ id: 'crl-expired', leaf: 'leaf.pem', ...std, crls: ['root-expired.crl', 'inter-expired.crl'], ...sesam }), true],
    [JSON.stringify({ id: 'no-crl', leaf: 'leaf.pem', ...std, ...sesam }), false],
    ['', null],
    [JSON.stringify({ id: 'wrong-email', leaf: 'leaf.pem', ...std, crls, profile: 'sesam-vitale-attachment', email: 'amc_pj.test@test.rss.fr' }), false],
    [JSON.stringify({ id: 'ku', leaf: 'leaf-ku-noncritical.pem', ...std, crls, ...sesam }), false],
    [JSON.stringify({ id: 'rsa1024', leaf: 'leaf-rsa1024.pem', ...std, crls, ...sesam }), false],
    [JSON.stringify({ id: 'revoked', leaf: 'leaf.pem', ...std, crls: ['root.crl', 'inter-revoking.crl'], ...sesam }), false],
    [JSON.stringify({ id: 'forged-crl', leaf: 'leaf.pem', ...std, crls: ['root.crl', 'inter-forged.crl'], ...sesam }), false],
    [JSON.stringify({ id: 'migration', leaf: 'mig/leaf-new.pem', anchors: ['mig/root-old.pem', 'mig/root-new.pem'], intermediates: ['mig/inters.pem'], crls: 'mig/crls.pem', ...sesam }), true],
    [JSON.stringify({ id: 'migration-old', leaf: 'mig/leaf-old.pem', anchors: 'mig/root-new.pem', intermediates: ['mig/inters.pem'], crls: ['mig/crls.pem'], ...sesam }), false],
    ['{"id": "not json",', false],
    [JSON.stringify({ id: 'malformed', leaf: 'bad.pem', ...std, crls, ...sesam }), false],
    ['   ', null],
    [JSON.stringify({ id: 'missing', leaf: 'nope.pem', ...std, crls, ...sesam }), false],
    [JSON.stringify({ id: 'openssl', leaf: 'ossl/leaf.pem', anchors: 'ossl/root.pem', intermediates: 'ossl/inter.pem', crls: 'ossl/crls.pem', ...sesam }), true],
    [JSON.stringify({ id: 'ok-again', leaf: 'leaf.pem', ...std, crls, ...sesam }), true],
  ];

  function checkBatch(r: Run): void {
    expect(r.code, r.stderr).toBe(1);
    const out = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
    const expected = cases.map(([, v], i) => ({ line: i + 1, v })).filter((x) => x.v !== null);
    expect(out).toHaveLength(expected.length);
    out.forEach((o, k) => {
      const keys = Object.keys(o).filter((x) => x !== 'line' && x !== 'id');
      expect(keys).toEqual(['valid', 'warnings', 'errors', 'path']);
      expect(o.line, JSON.stringify(o)).toBe(expected[k]!.line);
      expect(o.valid, JSON.stringify(o)).toBe(expected[k]!.v);
      if (!o.valid) expect(o.errors.length).toBeGreaterThan(0);
      (o.errors as Issue[]).forEach(expectIssue);
    });
    const byId = Object.fromEntries(out.filter((o) => 'id' in o).map((o) => [o.id, o]));
    // For the reader of the test log: which reason each case produced.
    console.info(out.map((o) => `${o.line} ${o.id ?? '-'} valid=${o.valid} errors=[${o.errors.map((e: Issue) => e.code)}] warnings=[${o.warnings.map((e: Issue) => e.code)}]`).join('\n'));
    expect(byId['crl-expired'].warnings.length).toBeGreaterThan(0);
    expect(byId['crl-expired'].warnings.map((w: Issue) => w.code)).toContain('crl_expired');
    const codesOf = (id: string): string[] => byId[id].errors.map((e: Issue) => e.code);
    expect(codesOf('no-crl')).toEqual(['crl_missing']);
    expect(codesOf('wrong-email')).toEqual(['email_mismatch']);
    expect(codesOf('ku')).toEqual(['key_usage_not_critical']);
    expect(codesOf('rsa1024')).toEqual(['weak_key']);
    expect(codesOf('revoked')).toEqual(['cert_revoked']);
    expect(codesOf('forged-crl')).toEqual(['crl_signature_invalid']);
    expect(codesOf('migration-old')).toEqual(['signature_invalid']);
    expect(codesOf('malformed')).toEqual(['pem_malformed']);
    expect(byId.malformed.path).toEqual([]);
    expect(byId.missing.errors[0].code).toBe('input_unreadable');
  }

  it('one process, results in order, bad lines reported inline (file)', async () => {
    writeFileSync(join(dir, 'batch.jsonl'), cases.map(([l]) => l).join('\n') + '\n');
    const r = await run(['verify', '--batch', join(dir, 'batch.jsonl')], { cwd: '/' }); // paths relative to the batch file
    timings.batch_run_ms = r.ms;
    timings.batch_lines = cases.length;
    checkBatch(r);
  });

  it('reads stdin with "-" (paths relative to cwd)', async () => {
    checkBatch(await run(['verify', '--batch', '-'], { input: cases.map(([l]) => l).join('\r\n') }));
  });

  it('exit 0 when every line is valid', async () => {
    const r = await run(['verify', '--batch', '-'], { input: [cases[0]![0], cases[1]![0]].join('\n') });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('exit 2 when the batch file is unreadable', async () => {
    const r = await run(['verify', '--batch', 'nope.jsonl']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect((await run(['verify', '--batch', 'nope.jsonl', '--json'])).stdout).toMatch(/input_unreadable/);
  });

  it('--batch with a leaf or file options is a usage error', async () => {
    expect((await run(['verify', '--batch', 'batch.jsonl', 'leaf.pem'])).code).toBe(2);
  });
});
