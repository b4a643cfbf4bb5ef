/**
 * Message bodies of the SQLite store, one file each, beside the database.
 *
 * Why files: a 100 KiB body inside SQLite is written twice (WAL, then the checkpoint into the
 * database file), and both writes run synchronously on the event loop (better-sqlite3), where
 * they stalled HTTP intake and SMTP delivery alike. A file is written once, by libuv's thread
 * pool. Durability order: the body is written and fsynced, then the directory entry is made
 * durable (`durableEntries`: one directory fsync, off the event loop, for all the bodies written
 * meanwhile), and only then is the row committed; a row
 * therefore never points to a missing body. A crash between the two leaves an orphan body,
 * removed at the next start (`sweep`).
 */
import { close as closeCb, closeSync, fstat as fstatCb, fsync as fsyncCb, fsyncSync, mkdirSync, open as openCb, openSync, read as readCb, readdirSync, unlink as unlinkCb, unlinkSync, write as writeCb, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

/** Identifiers are our UUIDs; anything else would be a bug or an attack on the file name. */
const SAFE_ID = /^[\w-]{1,64}$/;

/**
 * Read buffers reused across deliveries: bodies up to SLOT bytes (most messages) are read into
 * one of these; larger ones get a buffer of their own. At most KEEP are kept (16 MiB): as many
 * as the messages delivery claims ahead with its default four connections.
 */
const SLOT = 256 * 1024;
const KEEP = 64;

class ReadBuffers {
  private readonly free: Buffer[] = [];

  take(size: number): Buffer {
    return size > SLOT ? Buffer.allocUnsafeSlow(size) : (this.free.pop() ?? Buffer.allocUnsafeSlow(SLOT));
  }

  give(b: Buffer): void {
    if (b.byteLength === SLOT && this.free.length < KEEP) this.free.push(b);
  }
}

export class BodySpool {
  private dirty = false;
  /**
   * The most recent bodies written, by id, up to `cacheBytes` (oldest dropped first): delivery
   * usually follows intake within seconds, and reading the file back cost it a third of its
   * CPU per message. References, not copies: a body is never modified once handed over.
   */
  private readonly cache = new Map<string, Uint8Array>();
  private cached = 0;
  /** Bodies written so far, and how many of their directory entries are known durable. */
  private written = 0;
  private entriesDurable = 0;
  private dirSync: Promise<void> | null = null;
  private readonly buffers = new ReadBuffers();

  constructor(readonly dir: string, private readonly cacheBytes = 0) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private path(id: string): string {
    if (!SAFE_ID.test(id)) throw new Error(`spool: invalid id ${JSON.stringify(id)}`);
    return join(this.dir, `${id}.eml`);
  }

  /** Writes and fsyncs a new body; the directory entry becomes durable through `durableEntries`. */
  async put(id: string, bytes: Uint8Array): Promise<void> {
    await this.writeNew(this.path(id), bytes);
    this.dirty = true;
    this.written++;
    this.remember(id, bytes);
  }

  private remember(id: string, bytes: Uint8Array): void {
    if (this.cacheBytes === 0 || bytes.byteLength > this.cacheBytes / 4) return;
    this.forget(id);
    this.cache.set(id, bytes);
    this.cached += bytes.byteLength;
    for (const [old, b] of this.cache) {
      if (this.cached <= this.cacheBytes) break;
      this.cache.delete(old);
      this.cached -= b.byteLength;
    }
  }

  private forget(id: string): void {
    const b = this.cache.get(id);
    if (b) {
      this.cache.delete(id);
      this.cached -= b.byteLength;
    }
  }

  /**
   * Resolves once the directory entries of every body `put` so far are durable. Concurrent
   * callers share one directory fsync (on libuv's pool); a body written while it runs gets the
   * next one.
   */
  async durableEntries(): Promise<void> {
    const want = this.written;
    while (this.entriesDurable < want) {
      if (!this.dirSync) {
        const upTo = this.written;
        this.dirSync = (async () => {
          const d = await open(this.dir, 'r');
          try {
            await d.sync();
          } finally {
            await d.close();
          }
          this.entriesDurable = Math.max(this.entriesDurable, upTo);
        })().finally(() => {
          this.dirSync = null;
        });
      }
      await this.dirSync;
    }
  }

  /** Synchronous `put`, for the one-time move of bodies out of an older database. */
  putSync(id: string, bytes: Uint8Array): void {
    const fd = openSync(this.path(id), 'w', 0o600);
    try {
      for (let o = 0; o < bytes.length; ) o += writeSync(fd, bytes, o);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.dirty = true;
  }

  /** Synchronous directory fsync, for the one-time move at start-up (`durableEntries` otherwise). */
  syncDir(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const fd = openSync(this.dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** A body the caller may keep: the cached one (never modified) or a copy of the one read. */
  get(id: string): Promise<Uint8Array | null> {
    return this.borrow(id, async (raw) => (raw && !this.cache.has(id) ? new Uint8Array(raw) : raw));
  }

  /**
   * Lends a body to `fn` for as long as its promise runs: from the cache, or read into a reused
   * buffer that goes back to the pool when `fn` settles, so `fn` must not keep it. Why: a fresh
   * 100 KiB buffer per delivered message made V8 run a full mark-compact every few hundred
   * messages to free them, which cost the relay a third of its CPU per message (measured here:
   * 1.2 against 0.8 ms).
   */
  async borrow<T>(id: string, fn: (raw: Uint8Array | null) => Promise<T>): Promise<T> {
    const hit = this.cache.get(id);
    if (hit) return fn(hit);
    const read = await this.readInto(this.path(id));
    if (!read) return fn(null);
    try {
      return await fn(read.buffer.subarray(0, read.length));
    } finally {
      this.buffers.give(read.buffer);
    }
  }

  /**
   * Creates `path` (never over an existing file), writes `bytes` and fsyncs, by callback I/O: the
   * promise API's FileHandle cost 0.4 ms of the event loop per body (more than the write).
   */
  private writeNew(path: string, bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      openCb(path, 'wx', 0o600, (e, fd) => {
        if (e) return reject(e);
        const done = (e2: NodeJS.ErrnoException | null): void => closeCb(fd, (e3) => (e2 ?? e3 ? reject(e2 ?? e3) : resolve()));
        const step = (at: number): void => {
          if (at === bytes.byteLength) return fsyncCb(fd, done);
          writeCb(fd, bytes, at, bytes.byteLength - at, null, (e4, n) => (e4 ? done(e4) : step(at + n)));
        };
        step(0);
      });
    });
  }

  /** Reads a whole file into a pooled buffer (callback I/O: the cheapest); null if it does not exist. */
  private readInto(path: string): Promise<{ buffer: Buffer; length: number } | null> {
    return new Promise((resolve, reject) => {
      const done = (fd: number, e: NodeJS.ErrnoException | null, r: { buffer: Buffer; length: number } | null): void => {
        if (e && r) this.buffers.give(r.buffer);
        closeCb(fd, () => (e ? reject(e) : resolve(r)));
      };
      openCb(path, 'r', (e, fd) => {
        if (e) return e.code === 'ENOENT' ? resolve(null) : reject(e);
        fstatCb(fd, (e2, st) => {
          if (e2) return done(fd, e2, null);
          let r: { buffer: Buffer; length: number };
          try {
            r = { buffer: this.buffers.take(st.size), length: st.size };
          } catch (e4) {
            return done(fd, e4 as NodeJS.ErrnoException, null); // no memory for it: an error, not a crash
          }
          const step = (at: number): void => {
            if (at === r.length) return done(fd, null, r);
            readCb(fd, r.buffer, at, r.length - at, at, (e3, n) => {
              if (e3) return done(fd, e3, r);
              if (n === 0) return done(fd, new Error(`spool: ${path} shorter than its size`), r);
              step(at + n);
            });
          };
          step(0);
        });
      });
    });
  }

  /**
   * Removes a body that is no longer needed; a missing one is not an error. On the thread pool:
   * an unlink waits for the file system's journal, which an fsync in progress holds (measured
   * here: 0.3 ms on average when done synchronously, blocking the event loop meanwhile).
   */
  remove(id: string): Promise<void> {
    this.forget(id);
    return new Promise((resolve, reject) => {
      unlinkCb(this.path(id), (e) => (!e || e.code === 'ENOENT' ? resolve() : reject(e)));
    });
  }

  /** Removes, at start-up, the bodies that `keep` does not claim (orphans, finished messages). */
  sweep(keep: (id: string) => boolean): number {
    let removed = 0;
    for (const name of readdirSync(this.dir)) {
      const id = name.endsWith('.eml') ? name.slice(0, -4) : null;
      if (id !== null && SAFE_ID.test(id) && keep(id)) continue;
      unlinkSync(join(this.dir, name));
      removed++;
    }
    return removed;
  }
}
