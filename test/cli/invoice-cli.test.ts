/**
 * `teletrans invoice price|build|read` as administrators call it: `node bin/teletrans.js` in a
 * child process, on the documented examples (docs/billing/examples/), with a CPS signature
 * certificate of the fictitious PKI written as PEM files, durable counters in a directory, and
 * OpenSSL as the independent verifier of the signatures in the files written.
 *
 * What must hold: the priced amounts and their working; strict JSON (a typo is refused with
 * its path, a bad NIR key with its code and without the NIR); a refused invoice writes nothing
 * and draws no number; two builds never reuse a number; the insurer's reader accepts what build
 * wrote and names the discrepancy when an amount is changed; exit codes 0 / 1 / 2.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFile } from '../../src/lib/billing/ssv/sim-format.js';
import { genKey, issueCert, issueCpsCertificate } from '../../src/lib/pki/demo/index.js';
import { REPO, runCli as run, type CliRun } from './run-cli.js';

const EXAMPLES = join(REPO, 'docs', 'billing', 'examples');
const CONSULTATION = join(EXAMPLES, 'consultation.json');
const NURSE_ROUND = join(EXAMPLES, 'nurse-round.json');
const NURSE_RPPS = '10012345673';
const DAY = '2025-03-10';
const NIR = '255081416802538';


const pem = (label: string, der: Uint8Array): string => `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;

let dir: string;
let keyPem: string;
let certPem: string;
let rootPem: string;
let otherRootPem: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teletrans-invoice-cli-'));
  const caKey = await genKey();
  const root = await issueCert({ subject: 'CN=AC RACINE FICTIVE TEST,O=TELETRANS,C=FR', key: caKey, ca: true, notBefore: new Date('2024-01-01'), notAfter: new Date('2030-01-01') });
  const key = await genKey();
  const cert = await issueCpsCertificate({ rpps: NURSE_RPPS, name: 'FICTIF-TEST JEAN', usage: 'sign', key, caDer: root, caKey, notBefore: new Date('2024-06-01'), notAfter: new Date('2027-06-01') });
  const otherKey = await genKey();
  const otherRoot = await issueCert({ subject: 'CN=AUTRE RACINE,O=TELETRANS,C=FR', key: otherKey, ca: true, notBefore: new Date('2024-01-01'), notAfter: new Date('2030-01-01') });
  const pkcs8 = new Uint8Array(await globalThis.crypto.subtle.exportKey('pkcs8', key.privateKey));
  keyPem = join(dir, 'cps-sign.key');
  certPem = join(dir, 'cps-sign.pem');
  rootPem = join(dir, 'root.pem');
  otherRootPem = join(dir, 'other-root.pem');
  writeFileSync(keyPem, pem('PRIVATE KEY', pkcs8), { mode: 0o600 });
  writeFileSync(certPem, pem('CERTIFICATE', cert));
  writeFileSync(rootPem, pem('CERTIFICATE', root));
  writeFileSync(otherRootPem, pem('CERTIFICATE', otherRoot));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function build(out: string, counters: string, extra: string[] = [], files = [NURSE_ROUND]): Promise<CliRun> {
  return run(['invoice', 'build', '--test-key', keyPem, '--test-cert', certPem, '--out', out, '--counters', counters, '--today', DAY, '--json', ...extra, ...files]);
}

describe('teletrans invoice price', () => {
  it('prices the documented consultation with its working (sample tariffs, said so)', async () => {
    const r = await run(['invoice', 'price', '--json', '--today', DAY, CONSULTATION]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(true);
    const priced = out.invoices[0].priced;
    // G on 2025-03-10: the row of 2024-12-22, 30 €; 70 %; 2 € flat contribution; no third party.
    expect(priced.totals).toMatchObject({ feeCents: 3000, amoCents: 2100, flatContributionCents: 200, amoNetCents: 1900, payNowCents: 3000 });
    expect(priced.sample).toBe(true);
    expect(priced.acts[0].row).toBe('ngap.G.2024-12-22');
    expect(priced.acts[0].working.map((s: { rule: string }) => s.rule)).toEqual(expect.arrayContaining(['fee.flat', 'rate.usual', 'amo.part', 'pay.no_third_party']));
  });

  it('prints the working in French without --json', async () => {
    const r = await run(['invoice', 'price', '--today', DAY, CONSULTATION]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Facture CONSULT-2025-03-10-01');
    expect(r.stdout).toContain('ÉCHANTILLON');
    expect(r.stdout).toContain('honoraires 30,00 €');
    expect(r.stdout).not.toContain(NIR);
    expect(r.stdout).not.toContain('LUCIE');
  });

  it('a failed check is exit 1 with its code (act after --today)', async () => {
    const r = await run(['invoice', 'price', '--json', '--today', '2025-03-09', CONSULTATION]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(false);
    expect(out.invoices[0].problems.map((p: { code: string }) => p.code)).toContain('act_in_future');
  });

  it('strict JSON: an unknown key, a wrong type, a bad NIR key are exit 2 with the path, never the value', async () => {
    const good = JSON.parse(readFileSync(CONSULTATION, 'utf8')) as unknown;
    type Doc = { acts: Record<string, unknown>[]; beneficiary: Record<string, unknown>; context?: unknown };
    const cases: [string, (j: Doc) => void, string, string][] = [
      ['typo', (j) => (j.acts[0]!.coeficient = 2), 'json_invalid', 'acts[0].coeficient'],
      ['type', (j) => (j.beneficiary.rank = '1'), 'json_invalid', 'beneficiary.rank'],
      ['missing', (j) => delete j.context, 'json_invalid', 'context'],
      ['nir key', (j) => (j.beneficiary.holderNir = NIR.slice(0, 13) + '39'), 'nir_key', 'beneficiary.holderNir'],
    ];
    for (const [name, mutate, code, path] of cases) {
      const j = structuredClone(good) as Doc;
      mutate(j);
      const f = join(dir, `bad-${name.replace(' ', '-')}.json`);
      writeFileSync(f, JSON.stringify(j));
      const r = await run(['invoice', 'price', '--today', DAY, f]);
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toContain(path);
      expect(r.stderr, name).toContain(`[${code}]`);
      expect(r.stderr, name).not.toContain(NIR.slice(0, 13));
      expect(r.stdout, name).toBe('');
    }
  });

  it('usage errors are exit 2: no file, an option of another subcommand, an unknown subcommand', async () => {
    expect((await run(['invoice', 'price'])).code).toBe(2);
    const stray = await run(['invoice', 'price', '--anchor', rootPem, CONSULTATION]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('--anchor');
    expect((await run(['invoice', 'pay', CONSULTATION])).code).toBe(2);
    const help = await run(['invoice', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('teletrans invoice build');
  });
});

describe('teletrans invoice build and read', () => {
  it('builds signed lots and files that the insurer’s reader accepts and OpenSSL verifies', async () => {
    const out = join(dir, 'out-1');
    const counters = join(dir, 'counters-1');
    const r = await build(out, counters);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('clé d’ESSAI');
    const summary = JSON.parse(r.stdout);
    expect(summary.engine.homologated).toBe(false);
    expect(summary.invoices).toEqual([
      { id: 'IDE-2025-03-10-01', number: '000000001', documents: ['FSE', 'DRE'] },
      { id: 'IDE-2025-03-10-02', number: '000000002', documents: ['FSE'] },
    ]);
    // Direct mode: one FSE file (two funds, two lots) and one DRE file (one AMC).
    expect(summary.files.map((f: { kind: string; invoiceCount: number; version: string }) => [f.kind, f.invoiceCount, f.version])).toEqual([
      ['FSE', 2, '140700'],
      ['DRE', 1, '140700'],
    ]);
    expect(summary.files[0].lots.map((l: { organism: string }) => l.organism)).toEqual(['01751', '01931']);
    expect(readdirSync(out).sort()).toEqual(summary.files.map((f: { name: string }) => f.name).sort());

    for (const f of summary.files) {
      const read = await run(['invoice', 'read', '--json', '--anchor', rootPem, '--at', '2025-03-11T09:00:00Z', f.path]);
      expect(read.code, read.stdout + read.stderr).toBe(0);
      const report = JSON.parse(read.stdout);
      expect(report.ok).toBe(true);
      expect(report.documents).toBe(f.invoiceCount);
    }

    // OpenSSL, independently: the first FSE's signature over its bytes, with the certificate's key.
    const file = decodeFile(new Uint8Array(readFileSync(summary.files[0].path)));
    const doc = file.lots[0]!.documents[0]!;
    writeFileSync(join(dir, 'doc.bin'), doc.bytes);
    writeFileSync(join(dir, 'sig.bin'), doc.signature);
    execFileSync('openssl', ['x509', '-in', certPem, '-pubkey', '-noout', '-out', join(dir, 'pub.pem')]);
    const verified = execFileSync('openssl', ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig.bin'), join(dir, 'doc.bin')], { encoding: 'utf8' });
    expect(verified.trim()).toBe('Verified OK');

    // A second build draws new numbers from the same counters: never a repeat.
    const again = await build(out, counters);
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout);
    expect(second.invoices.map((i: { number: string }) => i.number)).toEqual(['000000003', '000000004']);
    expect(second.files.map((f: { number: string }) => f.number)).toEqual(['000003', '000004']);

    // Counters lost (another directory): the same names come again, and nothing is replaced.
    const before = readFileSync(summary.files[0].path);
    const clash = await build(out, join(dir, 'counters-lost'));
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain('existe déjà');
    expect(readFileSync(summary.files[0].path).equals(before)).toBe(true);
    expect(readdirSync(out).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('the reader: another trust anchor is exit 1 (certificate_invalid); a changed amount is exit 1 (signature_invalid, amount_differs)', async () => {
    const out = join(dir, 'out-2');
    const r = await build(out, join(dir, 'counters-2'));
    expect(r.code, r.stderr).toBe(0);
    const fse = JSON.parse(r.stdout).files[0].path as string;

    const stranger = await run(['invoice', 'read', '--json', '--anchor', otherRootPem, '--at', '2025-03-11T09:00:00Z', fse]);
    expect(stranger.code).toBe(1);
    expect(JSON.parse(stranger.stdout).discrepancies.map((d: { code: string }) => d.code)).toContain('certificate_invalid');

    // Change the first act's declared AMO part (group 150 field 4) of the first document: the
    // lot's totals (from group 190) still add up, so the file reads, and the reader says why.
    const text = readFileSync(fse, 'latin1');
    const line = /\r\n150\|1=1\|2=(\d+)\|3=(\d+)\|4=(\d+)\|/.exec(text)!;
    const forged = text.replace(line[0], line[0].replace(`|4=${line[3]}|`, `|4=${Number(line[3]) + 1}|`));
    const forgedPath = join(dir, 'forged.sim');
    writeFileSync(forgedPath, forged, 'latin1');
    const read = await run(['invoice', 'read', '--json', '--anchor', rootPem, '--at', '2025-03-11T09:00:00Z', forgedPath]);
    expect(read.code).toBe(1);
    const codes = JSON.parse(read.stdout).discrepancies.map((d: { code: string }) => d.code);
    expect(codes).toContain('signature_invalid');
    expect(codes).toContain('amount_differs');

    const unreadable = join(dir, 'cut.sim');
    writeFileSync(unreadable, readFileSync(fse).subarray(0, 200));
    const cut = await run(['invoice', 'read', '--anchor', rootPem, unreadable]);
    expect(cut.code).toBe(2);
    expect(cut.stderr).toContain('Fichier illisible');
  });

  it('a refused invoice writes nothing and draws no number; the OCT single file carries both kinds', async () => {
    const bad = JSON.parse(readFileSync(NURSE_ROUND, 'utf8'));
    delete bad[1].prescriber; // a nurse's act needs its prescription
    const badPath = join(dir, 'bad-round.json');
    writeFileSync(badPath, JSON.stringify(bad));
    const out = join(dir, 'out-3');
    const counters = join(dir, 'counters-3');
    const refused = await build(out, counters, [], [badPath]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('prescriber_required');
    expect(refused.stderr).toContain('aucun numéro tiré');
    expect(existsSync(out)).toBe(false);
    expect(existsSync(counters)).toBe(false);

    const oct = await build(out, counters, ['--way', 'oct_single', '--oct-number', '123456789', '--message-zone', 'ESSAI']);
    expect(oct.code, oct.stderr).toBe(0);
    const files = JSON.parse(oct.stdout).files;
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ kind: 'FACTURE', way: 'oct_single', invoiceCount: 3 });
    expect(files[0].lots.map((l: { kind: string }) => l.kind)).toEqual(['FSE', 'FSE', 'DRE']);
    expect(JSON.parse(oct.stdout).invoices[0].number).toBe('000000001');
    const read = await run(['invoice', 'read', '--json', '--anchor', rootPem, '--at', '2025-03-11T09:00:00Z', files[0].path]);
    expect(read.code, read.stdout).toBe(0);
    expect(JSON.parse(read.stdout)).toMatchObject({ kind: 'FACTURE', documents: 3, ok: true });

    expect((await build(out, counters, ['--way', 'oct_single'])).code).toBe(2); // no --oct-number
    const noKey = await run(['invoice', 'build', '--out', out, NURSE_ROUND]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('--test-key');
  });
});
