/**
 * The compostage counter in a file (Node): never the same value twice, across processes
 * hammering the same file, across restarts, after a crash that left a lock behind; never a
 * silent reset.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, utimesSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileCompostageStore, CompostageFileError, defaultCounterPath } from '../../src/lib/server/compostage-file.js';
import { formatCompostage } from '../../src/lib/sesam/index.js';
import { REPO } from './helpers';

const WORKER = join(REPO, 'test', 'sesam', 'counter-worker.ts');

function worker(path: string, n: number, go = `${path}.go`): { ready: Promise<void>; done: Promise<number[][]> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, path, String(n), go], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onReady: () => void = () => undefined;
  let onFail: (e: Error) => void = () => undefined;
  const ready = new Promise<void>((r, f) => {
    onReady = r;
    onFail = f;
  });
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => {
    err += d;
    if (err.includes('ready')) onReady();
  });
  const done = new Promise<number[][]>((resolveDone, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const failure = new Error(`worker exited ${code}: ${err}`);
      onFail(failure); // no-op once ready
      if (code !== 0) reject(failure);
      else resolveDone(JSON.parse(out) as number[][]);
    });
  });
  done.catch(() => undefined); // awaited by the test; a failure before that must not go unhandled
  return { ready, done };
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'teletrans-counter-'));

describe('FileCompostageStore', () => {
  it('2 processes × 500 increments on one file: 1000 distinct values, each sequence increasing', async () => {
    // The two processes must really interleave, else the run proves nothing about the lock; on a
    // loaded machine one may finish before the other starts: then the run is made again (each
    // run's values are checked all the same), three times at most.
    let path = '';
    let go = '';
    let interleaved = false;
    for (let attempt = 0; attempt < 3 && !interleaved; attempt++) {
      const dir = tmp();
      path = join(dir, 'state', 'compostage'); // the store creates the directory
      go = join(dir, 'go');
      const a = worker(path, 500, go);
      const b = worker(path, 500, go);
      await Promise.all([a.ready, b.ready]);
      writeFileSync(go, '');
      const [ra, rb] = await Promise.all([a.done, b.done]);
      const sequences = [...ra, ...rb];
      const all = sequences.flat();
      expect(all).toHaveLength(1000);
      expect(new Set(all).size).toBe(1000);
      expect(Math.min(...all)).toBe(1);
      expect(Math.max(...all)).toBe(1000);
      for (const s of sequences) for (let i = 1; i < s.length; i++) expect(s[i]!).toBeGreaterThan(s[i - 1]!);
      // Stamped in the same second, the compostages are still all different.
      const at = new Date('2026-03-05T13:03:07Z');
      expect(new Set(all.map((n) => formatCompostage(at, n))).size).toBe(1000);
      expect(readFileSync(path, 'utf8')).toBe('1000\n');
      // No lock or temporary file left behind.
      expect(readdirSync(join(path, '..')).sort()).toEqual(['compostage']);
      interleaved = Math.max(...ra.flat()) > Math.min(...rb.flat()) && Math.max(...rb.flat()) > Math.min(...ra.flat());
    }
    expect(interleaved).toBe(true);

    // A restart (a new process) continues after the last value.
    const c = worker(path, 10, go);
    await c.ready;
    expect((await c.done).flat().sort((x, y) => x - y)).toEqual([1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010]);
  });

  it('continues across store instances (restarts) and concurrent calls in one process', async () => {
    const path = join(tmp(), 'compostage');
    const s1 = new FileCompostageStore(path);
    expect(await Promise.all([s1.next(), s1.next(), s1.next()])).toEqual([1, 2, 3]);
    const s2 = new FileCompostageStore(path);
    const s3 = new FileCompostageStore(path);
    const values = await Promise.all([...Array.from({ length: 20 }, () => s2.next()), ...Array.from({ length: 20 }, () => s3.next())]);
    expect(new Set(values).size).toBe(40);
    expect(Math.min(...values)).toBe(4);
    expect(Math.max(...values)).toBe(43);
  });

  it('reserves a block under one lock: the first value back, the whole block never handed out again', async () => {
    const path = join(tmp(), 'compostage');
    const s = new FileCompostageStore(path);
    expect(await s.next()).toBe(1);
    const [first, single] = await Promise.all([s.reserve(10), new FileCompostageStore(path).next()]);
    expect([first, single].sort((x, y) => x - y)).toEqual(first === 2 ? [2, 12] : [2, 3]);
    expect(await s.next()).toBe(13);
    await expect(s.reserve(0)).rejects.toThrow(RangeError);
    expect(await s.next()).toBe(14);
  });

  it('breaks a lock left by a dead process', async () => {
    const path = join(tmp(), 'compostage');
    writeFileSync(path, '41\n');
    // PID 2^22 + 12345 is above Linux's default pid_max: no such process.
    writeFileSync(`${path}.lock`, `${4_206_649} ${hostname()} deadbeef ${Date.now()}`);
    const t0 = Date.now();
    expect(await new FileCompostageStore(path).next()).toBe(42);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('breaks an old lock from another host, waits for a fresh one', async () => {
    const path = join(tmp(), 'compostage');
    writeFileSync(`${path}.lock`, `1 other-host cafe ${Date.now()}`);
    const old = new Date(Date.now() - 120_000);
    utimesSync(`${path}.lock`, old, old);
    expect(await new FileCompostageStore(path).next()).toBe(1);

    // A live lock (this very process holds it) is respected until the timeout.
    writeFileSync(`${path}.lock`, `${process.pid} ${hostname()} live ${Date.now()}`);
    await expect(new FileCompostageStore(path, { timeoutMs: 300 }).next()).rejects.toSatisfy(
      (e) => e instanceof CompostageFileError && e.code === 'lock_timeout',
    );
    expect(readFileSync(path, 'utf8')).toBe('1\n');
  });

  it('refuses a damaged counter file instead of starting again from 0', async () => {
    const path = join(tmp(), 'compostage');
    for (const bad of ['', 'abc\n', '12\n13\n', '-4\n']) {
      writeFileSync(path, bad);
      await expect(new FileCompostageStore(path).next()).rejects.toSatisfy(
        (e) => e instanceof CompostageFileError && e.code === 'counter_corrupt',
      );
      expect(readFileSync(path, 'utf8')).toBe(bad);
      expect(existsSync(`${path}.lock`)).toBe(false);
    }
  });

  it('defaults to the XDG state directory', () => {
    expect(defaultCounterPath({ XDG_STATE_HOME: '/s' })).toBe('/s/teletrans/compostage');
    expect(defaultCounterPath({ HOME: '/home/ps' })).toBe('/home/ps/.local/state/teletrans/compostage');
  });
});
