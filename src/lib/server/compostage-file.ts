/**
 * The compostage counter in a file, for Node (the CLI, the relay, the bridge). Several
 * processes may share the file: each increment runs under an exclusive lock file created with
 * O_CREAT|O_EXCL (`open(…, 'wx')`), which the kernel makes atomic on local file systems. The
 * new value is written to a temporary file, fsynced, renamed over the counter file and the
 * directory fsynced, so a crash leaves either the old or the new value, never a torn one; and
 * the value is returned only after that, so a value handed out is never handed out again.
 *
 * A lock left behind by a crashed process is broken when its owner is known dead (same host,
 * no such PID) or when it is older than `staleMs`. Breaking renames the lock to a unique name
 * first (atomic: only one breaker wins), then checks that what it moved is the lock it judged
 * stale, and puts it back otherwise.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { CompostageStore } from '../sesam/compostage.js';

export interface FileCompostageOptions {
  /** A lock older than this is stale whoever holds it. Default 60 s (an increment takes ms). */
  staleMs?: number;
  /** Give up acquiring the lock after this long. Default 30 s. */
  timeoutMs?: number;
  /** What the counter counts, for messages (French). Default « compostage ». */
  label?: string;
}

export class CompostageFileError extends Error {
  readonly code: 'counter_corrupt' | 'lock_timeout';
  constructor(code: 'counter_corrupt' | 'lock_timeout', message: string) {
    super(message);
    this.name = 'CompostageFileError';
    this.code = code;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM';
  }
}

export class FileCompostageStore implements CompostageStore {
  readonly path: string;
  readonly lockPath: string;
  private readonly staleMs: number;
  private readonly timeoutMs: number;
  private readonly label: string;
  /** Serialises this process's own calls, so they queue here instead of spinning on the lock. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(path: string, options: FileCompostageOptions = {}) {
    this.path = path;
    this.lockPath = `${path}.lock`;
    this.staleMs = options.staleMs ?? 60_000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.label = options.label ?? 'compostage';
  }

  next(): Promise<number> {
    return this.advance(1);
  }

  /** `count` values under one lock and one fsync; resolves to the first of the block. */
  async reserve(count: number): Promise<number> {
    return (await this.advance(count)) - count + 1;
  }

  /** Advances by `count` under one lock and one fsync; resolves to the new value (the last of the block). */
  advance(count: number): Promise<number> {
    if (!Number.isSafeInteger(count) || count < 1) return Promise.reject(new RangeError('advance: a positive whole count'));
    const run = this.queue.then(() => this.increment(count));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Moves the counter up to at least `floor` under the lock (never down); resolves to its value. */
  raise(floor: number): Promise<number> {
    if (!Number.isSafeInteger(floor) || floor < 0) return Promise.reject(new RangeError('raise: a whole floor ≥ 0'));
    const run = this.queue.then(() => this.update((v) => Math.max(v, floor)));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private increment(count: number): Promise<number> {
    return this.update((v) => v + count);
  }

  private async update(next: (value: number) => number): Promise<number> {
    await mkdir(dirname(this.path), { recursive: true });
    const token = await this.acquire();
    try {
      const current = await this.read();
      const value = next(current);
      if (value !== current) await this.write(value);
      return value;
    } finally {
      await this.release(token);
    }
  }

  private async read(): Promise<number> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if (errno(e) === 'ENOENT') return 0;
      throw e;
    }
    const m = /^(\d{1,15})\n?$/.exec(text);
    if (!m) {
      // Never restart from 0 over a damaged file: that would reuse compostages.
      throw new CompostageFileError('counter_corrupt', `fichier de compteur de ${this.label} illisible : ${this.path}`);
    }
    return Number(m[1]);
  }

  private async write(value: number): Promise<void> {
    const tmp = `${this.path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(`${value}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    // Make the rename itself durable. Some platforms cannot fsync a directory: best effort there.
    try {
      const dir = await open(dirname(this.path), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch {
      /* not supported (e.g. Windows): the rename is still atomic */
    }
  }

  /** Creates the lock file; resolves to its content (our token). */
  private async acquire(): Promise<string> {
    const token = `${process.pid} ${hostname()} ${randomBytes(8).toString('hex')} ${Date.now()}`;
    const deadline = Date.now() + this.timeoutMs;
    let delay = 1;
    for (;;) {
      try {
        const fh = await open(this.lockPath, 'wx', 0o600);
        try {
          await fh.writeFile(token);
        } finally {
          await fh.close();
        }
        return token;
      } catch (e) {
        if (errno(e) !== 'EEXIST') throw e;
      }
      await this.breakIfStale();
      if (Date.now() > deadline) {
        throw new CompostageFileError('lock_timeout', `verrou du compteur de ${this.label} occupé depuis plus de ${this.timeoutMs} ms : ${this.lockPath}`);
      }
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 25);
    }
  }

  private async breakIfStale(): Promise<void> {
    let content: string;
    let mtime: number;
    try {
      content = await readFile(this.lockPath, 'utf8');
      mtime = (await stat(this.lockPath)).mtimeMs;
    } catch (e) {
      if (errno(e) === 'ENOENT') return; // released meanwhile
      throw e;
    }
    // An empty lock is one being written right now: judge it by age only.
    const [pid, host] = content.split(' ');
    const deadOwner = content !== '' && host === hostname() && !pidAlive(Number(pid));
    if (!deadOwner && Date.now() - mtime < this.staleMs) return;
    const moved = `${this.lockPath}.stale-${process.pid}-${randomBytes(6).toString('hex')}`;
    try {
      await rename(this.lockPath, moved);
    } catch (e) {
      if (errno(e) === 'ENOENT') return; // another process broke or released it
      throw e;
    }
    const movedContent = await readFile(moved, 'utf8').catch(() => '');
    if (movedContent !== content) {
      // We moved a fresh lock taken after our check: put it back unless someone took the lock.
      await link(moved, this.lockPath).catch(() => undefined);
    }
    await unlink(moved).catch(() => undefined);
  }

  private async release(token: string): Promise<void> {
    // Only remove the lock if it is still ours (it may have been judged stale and taken).
    const content = await readFile(this.lockPath, 'utf8').catch(() => undefined);
    if (content === token) await unlink(this.lockPath).catch(() => undefined);
  }
}

/** Default counter file: $XDG_STATE_HOME/teletrans/compostage (or ~/.local/state/…). */
export function defaultCounterPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME || `${env.HOME ?? '.'}/.local/state`;
  return `${base}/teletrans/compostage`;
}
