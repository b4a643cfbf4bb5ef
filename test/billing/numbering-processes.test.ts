/**
 * The invoice counter in files (Node): two processes drawing numbers for one billing number at
 * once never get the same number, and there is no gap; a damaged counter file is an error, not
 * a restart at 1.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BillingNumbering } from '../../src/lib/billing/numbering.js';
import { CompostageFileError } from '../../src/lib/server/compostage-file.js';
import { FileCounterStore } from '../../src/lib/server/counter-file.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const WORKER = join(REPO, 'test', 'billing', 'support', 'numbering-worker.ts');

function worker(dir: string, n: number, go: string): { ready: Promise<void>; done: Promise<string[]> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, dir, String(n), go], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => {
    err += d;
    if (err.includes('ready')) onReady();
  });
  const done = new Promise<string[]>((ok, ko) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) ok(JSON.parse(out) as string[]);
      else ko(new Error(`worker exited ${code}: ${err}`));
    });
  });
  done.catch(() => undefined);
  return { ready, done };
}

describe('FileCounterStore under two processes', () => {
  it('2 processes × 200 invoice numbers: 400 distinct numbers, 1 to 400', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'teletrans-numbering-'));
    const go = join(dir, 'go');
    const a = worker(join(dir, 'counters'), 200, go);
    const b = worker(join(dir, 'counters'), 200, go);
    await Promise.all([a.ready, b.ready]);
    writeFileSync(go, '');
    const all = [...(await a.done), ...(await b.done)];
    expect(all).toHaveLength(400);
    expect(new Set(all).size).toBe(400);
    expect(all.every((n) => /^\d{9}$/.test(n))).toBe(true);
    expect([...all].sort()[0]).toBe('000000001');
    expect([...all].sort()[399]).toBe('000000400');
    // The next process continues where they stopped.
    expect(await new BillingNumbering(new FileCounterStore(join(dir, 'counters'))).invoiceNumber('751234567')).toBe('000000401');
  }, 90_000);

  it('a damaged counter file is an error, never a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'teletrans-numbering-'));
    const n = new BillingNumbering(new FileCounterStore(dir));
    expect(await n.lotNumber('751234567')).toBe('000001');
    writeFileSync(join(dir, 'lot-751234567'), 'garbage\n');
    const e = await n.lotNumber('751234567').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CompostageFileError);
    expect((e as CompostageFileError).code).toBe('counter_corrupt');
    expect((e as Error).message).toContain('compteur de lot illisible');
    // Other counters are untouched.
    expect(await n.fileNumber('751234567')).toBe('000001');
  });
});
