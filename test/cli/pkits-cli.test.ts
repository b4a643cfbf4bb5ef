/**
 * PKITS through the command line, as administrators call it: one JSON Lines batch file with the
 * 223 end-entity cases (every PKITS CA certificate as `intermediates`, every CRL as `crls`, the
 * trust anchor TrustAnchorRootCertificate.crt, default settings: the pool of
 * test/pki/pkits.test.ts), one `node bin/teletrans.js verify --batch FILE` process for all of
 * them. The command line must reach exactly the library's verdicts and reasons on the same files.
 *
 * Also: an unreadable file in a pool is a warning naming it, not a failed line; an unreadable
 * leaf or trust anchor fails its line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Verifier } from '../../src/lib/pki/index.js';
import { PKITS_AT, PKITS_REASONS, loadPkits, pkitsFiles } from '../pki/pkits-data.js';
import { runCli, type CliRun as Run } from './run-cli.js';

/** One process for the whole batch: generous bound. */
const run = (args: string[]): Promise<Run> => runCli(args, { timeoutMs: 120_000 });



interface Issue { code: string; message: string; cert?: number; subject?: string; file?: string }
interface Line { line: number; id?: string; valid: boolean; warnings: Issue[]; errors: Issue[]; path: Array<{ subject: string; anchor: boolean }> }

function lines(r: Run): Line[] {
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line);
}

const files = pkitsFiles();
const dir = mkdtempSync(join(tmpdir(), 'teletrans-pkits-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function job(leaf: string, extra: { intermediates?: string[]; crls?: string[]; anchors?: string[] } = {}): Record<string, unknown> {
  return {
    leaf,
    anchors: extra.anchors ?? [files.anchor],
    intermediates: [...files.pool, ...(extra.intermediates ?? [])],
    crls: [...files.crls, ...(extra.crls ?? [])],
    at: PKITS_AT,
  };
}

describe('PKITS through `teletrans verify --batch`', () => {
  it('passes all 223 cases in one process, with the library’s verdicts and reasons', async () => {
    expect(files.cases).toHaveLength(223);
    const batch = join(dir, 'pkits.jsonl');
    writeFileSync(batch, files.cases.map((c) => JSON.stringify({ id: c.name, ...job(c.leaf), expected: c.expected })).join('\n') + '\n');
    const r = await run(['verify', '--batch', batch]);
    expect(r.code, r.stderr).toBe(1); // some cases are invalid
    expect(r.stderr).toBe('');
    const out = lines(r);
    expect(out.map((o) => o.id)).toEqual(files.cases.map((c) => c.name));
    expect(out.map((o) => o.line)).toEqual(files.cases.map((_, i) => i + 1));

    const falseAccepts: string[] = [];
    const falseRejects: string[] = [];
    out.forEach((o, i) => {
      const c = files.cases[i]!;
      if (c.expected === 'invalid' && o.valid) falseAccepts.push(c.name);
      if (c.expected === 'valid' && !o.valid) falseRejects.push(`${c.name} (${o.errors.map((e) => `${e.code}: ${e.message}`).join(' ; ')})`);
    });
    const passed = out.length - falseAccepts.length - falseRejects.length;
    console.log(`PKITS cli: ${passed}/${out.length} passed, ${falseAccepts.length} false accepts, ${falseRejects.length} false rejects`);
    expect(falseAccepts).toEqual([]);
    expect(falseRejects).toEqual([]);
    expect(passed).toBe(223);

    // Every file of the pool was read: nothing ignored, and every rejection says why.
    for (const o of out) {
      expect(o.warnings.filter((w) => w.code === 'input_ignored'), o.id).toEqual([]);
      if (!o.valid) expect(o.errors.every((e) => e.code.length > 0 && e.message.length > 0), o.id).toBe(true);
    }
    const byId = new Map(out.map((o) => [o.id!, o]));
    for (const [name, code] of PKITS_REASONS) expect(byId.get(name)!.errors.map((e) => e.code), name).toContain(code);
    // The CA certificate whose signature BIT STRING has an unused bit is read and blamed.
    const badCa = byId.get('InvalidCASignatureTest2EE.crt')!;
    expect(badCa.errors).toMatchObject([{ code: 'signature_invalid', cert: 1, subject: 'CN=Bad Signed CA,O=Test Certificates 2011,C=US' }]);
    expect(badCa.path[1]?.subject).toBe('CN=Bad Signed CA,O=Test Certificates 2011,C=US');

    // One parsing path: the library on the same files gives the same verdict, reasons and path length.
    const data = loadPkits();
    const v = new Verifier();
    const differences: string[] = [];
    for (const [i, c] of data.cases.entries()) {
      const lib = await v.verify({ leaf: c.leaf, anchors: [data.anchor], intermediates: data.pool, crls: data.crls, at: new Date(PKITS_AT) });
      const cli = out[i]!;
      const sum = (x: { valid: boolean; errors: Issue[]; warnings: Issue[]; path: unknown[] }): string =>
        JSON.stringify([x.valid, x.errors.map((e) => [e.code, e.cert]), x.warnings.map((e) => e.code), x.path.length]);
      if (sum(lib) !== sum(cli)) differences.push(`${c.name}: library ${sum(lib)} / cli ${sum(cli)}`);
    }
    expect(differences).toEqual([]);
  }, 120_000);
});

describe('`teletrans verify`: unreadable files', () => {
  const garbage = join(dir, 'garbage.der');
  const missing = join(dir, 'missing.crt');
  writeFileSync(garbage, new Uint8Array([0x30, 0x03, 0x02, 0x01]));
  const validCase = files.cases.find((c) => c.name === 'ValidCertificatePathTest1EE.crt')!;

  it('a pool file that cannot be read is a warning naming it; the line is still evaluated', async () => {
    const batch = join(dir, 'unreadable.jsonl');
    writeFileSync(
      batch,
      [
        { id: 'pool', ...job(validCase.leaf, { intermediates: [garbage, missing], crls: [garbage] }) },
        { id: 'pool-invalid', ...job(files.cases.find((c) => c.name === 'InvalidRevokedEETest3EE.crt')!.leaf, { intermediates: [missing] }) },
        { id: 'leaf', ...job(garbage) },
        { id: 'leaf-missing', ...job(missing) },
        { id: 'anchor', ...job(validCase.leaf, { anchors: [missing] }) },
        { id: 'after', ...job(validCase.leaf) },
      ]
        .map((o) => JSON.stringify(o))
        .join('\n') + '\n',
    );
    const r = await run(['verify', '--batch', batch]);
    expect(r.code, r.stderr).toBe(1);
    const byId = new Map(lines(r).map((o) => [o.id!, o]));
    expect([...byId.keys()]).toEqual(['pool', 'pool-invalid', 'leaf', 'leaf-missing', 'anchor', 'after']);

    const pool = byId.get('pool')!;
    expect(pool.valid, JSON.stringify(pool)).toBe(true);
    expect(pool.errors).toEqual([]);
    expect(pool.path.map((p) => p.anchor)).toEqual([false, false, true]);
    expect(pool.warnings.map((w) => [w.code, w.file])).toEqual([
      ['input_ignored', garbage],
      ['input_ignored', missing],
      ['input_ignored', garbage],
    ]);
    expect(pool.warnings[0]!.message).toContain('--intermediate');
    expect(pool.warnings[0]!.message).toContain(garbage);
    expect(pool.warnings[1]!.message).toContain('fichier introuvable');
    expect(pool.warnings[2]!.message).toContain('--crl');

    const poolInvalid = byId.get('pool-invalid')!;
    expect(poolInvalid.valid).toBe(false);
    expect(poolInvalid.errors.map((e) => e.code)).toEqual(['cert_revoked']);
    expect(poolInvalid.warnings.map((w) => [w.code, w.file])).toEqual([['input_ignored', missing]]);

    // An unreadable leaf or trust anchor fails its line (exit-2 semantics: no path, one error).
    for (const [id, code] of [['leaf', 'input_unrecognised'], ['leaf-missing', 'input_unreadable'], ['anchor', 'input_unreadable']] as const) {
      const o = byId.get(id)!;
      expect(o, id).toMatchObject({ valid: false, warnings: [], path: [] });
      expect(o.errors.map((e) => e.code), id).toEqual([code]);
    }
    expect(byId.get('after')!.valid).toBe(true);
  }, 60_000);

  it('single run: an unreadable --intermediate or --crl is a warning, the verdict sets the exit code', async () => {
    const at = ['--at', PKITS_AT, '--anchor', files.anchor];
    const good = files.pool.filter((p) => p.endsWith('/GoodCACert.crt'));
    const crls = files.crls.filter((p) => p.endsWith('/GoodCACRL.crl') || p.endsWith('/TrustAnchorRootCRL.crl'));
    expect(good).toHaveLength(1);
    expect(crls).toHaveLength(2);
    const args = [...at, '--intermediate', garbage, '--intermediate', good[0]!, ...crls.flatMap((f) => ['--crl', f]), '--crl', missing];
    const ok = await run(['verify', '--json', ...args, validCase.leaf]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const j = JSON.parse(ok.stdout) as Line;
    expect(Object.keys(j)).toEqual(['valid', 'warnings', 'errors', 'path']);
    expect(j.valid).toBe(true);
    expect(j.warnings.map((w) => [w.code, w.file])).toEqual([['input_ignored', garbage], ['input_ignored', missing]]);
    // The French report lists them too.
    const text = await run(['verify', ...args, validCase.leaf]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('[input_ignored]');
    expect(text.stdout).toContain(garbage);
    // Without the good intermediate, the garbage one does not stand in for it.
    const bad = await run(['verify', '--json', ...at, '--intermediate', garbage, ...crls.flatMap((f) => ['--crl', f]), validCase.leaf]);
    expect(bad.code).toBe(1);
    expect((JSON.parse(bad.stdout) as Line).errors.map((e) => e.code)).toEqual(['issuer_not_found']);
  }, 60_000);
});
