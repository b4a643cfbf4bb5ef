/**
 * Message bodies of the SQLite store, appended to segment files beside the database (ADR 0032).
 *
 * Why not in SQLite: a 100 KiB body there is written twice (WAL, then the checkpoint), both
 * synchronously on the event loop (better-sqlite3), where they stalled intake and delivery.
 * Why not one file per body (what this was): open, write, fsync and close are four trips through
 * libuv's thread pool per body, each waking a pool thread that competes with the event loop on
 * 2 cores, and one journal commit per fsync; that was a quarter of the relay's time at intake.
 *
 * Group commit: bodies handed to `put` while a flush runs wait for the next one; a flush appends
 * all of them to the active segment with one `writev`, then one `fdatasync` (and a directory
 * fsync when it started the segment), and only then do their `put`s resolve. The caller commits
 * the row after that: a row never points to a body that is not on disk.
 *
 * Record (our format, internal): `TTB1` | id length (u16 BE) | body length (u32 BE) | check
 * (u32 BE, FNV-1a of the two lengths and the id) | id (ASCII) | body. Segments are only appended
 * to, one flush at a time, and never again once the store is reopened: what follows the last
 * complete record of a segment (a crash mid-flush) belongs to bodies whose rows were never
 * committed. On open every segment is read header by header into an index (id → place); the
 * read of a segment stops at the first header that does not check or runs past its end.
 *
 * Space: a removed body's bytes stay until every body of its segment is removed; then the
 * segment file goes (the active one too once it is empty and idle). At start-up `sweep` drops
 * what the database no longer claims (orphans of a crash between body and row, finished messages).
 */
import { close as closeCb, closeSync, fdatasync as fdatasyncCb, fstatSync, fsync as fsyncCb, fsyncSync, mkdirSync, open as openCb, openSync, read as readCb, readdirSync, readFileSync, readSync, unlink as unlinkCb, unlinkSync, writeSync, writev as writevCb } from 'node:fs';
import { join } from 'node:path';

/** Identifiers are our UUIDs; anything else would be a bug or an attack on the spool. */
const SAFE_ID = /^[\w-]{1,64}$/;
const SEGMENT_NAME = /^(\d{8})\.seg$/;
const LEGACY_NAME = /^(.+)\.eml$/;
const MAGIC = 0x54544231; // "TTB1"
const HEADER = 14;

/** A new segment is started once the active one holds this much: 64 MiB. */
export const SEGMENT_BYTES = 64 * 1024 * 1024;

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

interface Segment {
  readonly seq: number;
  readonly path: string;
  fd: number;
  /** End of the last complete record: where the next flush writes. */
  size: number;
  /** Bodies of this segment still indexed. */
  live: number;
  /** Reads in flight: the descriptor stays open until they end. */
  reads: number;
  /** A flush to it failed: nothing more is written there. */
  broken: boolean;
}

interface Place { seg: Segment; at: number; length: number }
interface Waiting { id: string; bytes: Uint8Array; resolve: () => void; reject: (e: unknown) => void }

/** FNV-1a, 32 bits: enough to tell a header from the torn bytes of an interrupted flush. */
function fnv1a(parts: Uint8Array[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) for (const b of p) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

function header(id: string, length: number): Buffer {
  const idBytes = Buffer.from(id, 'latin1');
  const h = Buffer.allocUnsafe(HEADER + idBytes.byteLength);
  h.writeUInt32BE(MAGIC, 0);
  h.writeUInt16BE(idBytes.byteLength, 4);
  h.writeUInt32BE(length, 6);
  h.writeUInt32BE(fnv1a([h.subarray(4, 10), idBytes]), 10);
  idBytes.copy(h, HEADER);
  return h;
}

function checkId(id: string): void {
  if (!SAFE_ID.test(id)) throw new Error(`spool: invalid id ${JSON.stringify(id)}`);
}

const segmentName = (seq: number): string => `${String(seq).padStart(8, '0')}.seg`;

export class BodySpool {
  /**
   * The most recent bodies written, by id, up to `cacheBytes` (oldest dropped first): delivery
   * usually follows intake within seconds, and reading the body back cost it a third of its
   * CPU per message. References, not copies: a body is never modified once handed over.
   */
  private readonly cache = new Map<string, Uint8Array>();
  private cached = 0;
  private readonly buffers = new ReadBuffers();
  private readonly index = new Map<string, Place>();
  private readonly segments = new Map<number, Segment>();
  private active: Segment | null = null;
  private nextSeq = 1;
  private queue: Waiting[] = [];
  private flushing: Promise<void> | null = null;
  /** Written by `putSync` and not yet made durable by `syncDir`. */
  private dirty = false;
  /** Flushes done: with concurrent `put`s, fewer than bodies (what group commit is for). */
  flushes = 0;

  constructor(readonly dir: string, private readonly cacheBytes = 0, private readonly segmentBytes = SEGMENT_BYTES) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(dir).sort()) {
      const m = SEGMENT_NAME.exec(name);
      if (m) this.scan(Number(m[1]), join(dir, name));
    }
  }

  /** Reads a segment's headers into the index (synchronous: once, at start-up). */
  private scan(seq: number, path: string): void {
    const fd = openSync(path, 'r');
    const seg: Segment = { seq, path, fd, size: 0, live: 0, reads: 0, broken: true };
    this.segments.set(seq, seg);
    this.nextSeq = Math.max(this.nextSeq, seq + 1);
    const end = fstatSync(fd).size;
    const h = Buffer.alloc(HEADER + 64);
    for (let at = 0; at + HEADER <= end;) {
      if (readSync(fd, h, 0, HEADER, at) !== HEADER || h.readUInt32BE(0) !== MAGIC) break;
      const idLength = h.readUInt16BE(4);
      const length = h.readUInt32BE(6);
      if (idLength < 1 || idLength > 64 || at + HEADER + idLength + length > end) break;
      if (readSync(fd, h, HEADER, idLength, at + HEADER) !== idLength) break;
      if (fnv1a([h.subarray(4, 10), h.subarray(HEADER, HEADER + idLength)]) !== h.readUInt32BE(10)) break;
      const id = h.toString('latin1', HEADER, HEADER + idLength);
      if (SAFE_ID.test(id)) this.place(id, { seg, at: at + HEADER + idLength, length });
      at += HEADER + idLength + length;
      seg.size = at;
    }
  }

  private place(id: string, p: Place): void {
    const old = this.index.get(id);
    if (old) old.seg.live--;
    this.index.set(id, p);
    p.seg.live++;
  }

  /** Resolves once the body is on disk (data and the segment's directory entry). */
  put(id: string, bytes: Uint8Array): Promise<void> {
    checkId(id);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ id, bytes, resolve, reject });
      this.kick();
    }).then(() => this.remember(id, bytes));
  }

  private kick(): void {
    if (this.flushing || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.flushing = this.flush(batch).finally(() => {
      this.flushing = null;
      if (this.active) this.collect(this.active);
      this.kick();
    });
  }

  private async flush(batch: Waiting[]): Promise<void> {
    const iov: Uint8Array[] = [];
    const lengths: number[] = [];
    let total = 0;
    for (const w of batch) {
      const h = header(w.id, w.bytes.byteLength);
      iov.push(h, w.bytes);
      lengths.push(h.byteLength);
      total += h.byteLength + w.bytes.byteLength;
    }
    try {
      let seg = this.active;
      let created = false;
      if (!seg || seg.broken || (seg.size > 0 && seg.size + total > this.segmentBytes)) {
        if (seg) this.retire(seg);
        seg = await this.create();
        created = true;
      }
      try {
        await writevAll(seg.fd, iov, seg.size);
        await new Promise<void>((res, rej) => fdatasyncCb(seg.fd, (e) => (e ? rej(e) : res())));
        if (created) await this.syncDirAsync();
      } catch (e) {
        seg.broken = true; // what it holds past `size` is unknown: the next flush starts another
        throw e;
      }
      let at = seg.size;
      for (const [i, w] of batch.entries()) {
        this.place(w.id, { seg, at: at + lengths[i]!, length: w.bytes.byteLength });
        at += lengths[i]! + w.bytes.byteLength;
      }
      seg.size = at;
      this.flushes++;
      for (const w of batch) w.resolve();
    } catch (e) {
      for (const w of batch) w.reject(e);
    }
  }

  private create(): Promise<Segment> {
    const seq = this.nextSeq++;
    const path = join(this.dir, segmentName(seq));
    return new Promise((resolve, reject) => {
      openCb(path, 'wx+', 0o600, (e, fd) => {
        if (e) return reject(e);
        const seg: Segment = { seq, path, fd, size: 0, live: 0, reads: 0, broken: false };
        this.segments.set(seq, seg);
        this.active = seg;
        resolve(seg);
      });
    });
  }

  /** The active segment is no longer written to: it goes once its last body does. */
  private retire(seg: Segment): void {
    if (this.active === seg) this.active = null;
    this.collect(seg);
  }

  /** Removes a segment no body is left in, once no read or flush uses it. */
  private collect(seg: Segment): void {
    if (seg.live > 0 || seg.reads > 0 || !this.segments.has(seg.seq)) return;
    if (seg === this.active) {
      if (this.flushing || this.queue.length) return;
      this.active = null;
    }
    this.segments.delete(seg.seq);
    // A failure leaves a segment of dead records: `sweep` removes it at the next start.
    closeCb(seg.fd, () => unlinkCb(seg.path, () => undefined));
  }

  private syncDirAsync(): Promise<void> {
    return new Promise((resolve, reject) => {
      openCb(this.dir, 'r', (e, fd) => {
        if (e) return reject(e);
        fsyncCb(fd, (e2) => closeCb(fd, (e3) => (e2 ?? e3 ? reject(e2 ?? e3) : resolve())));
      });
    });
  }

  /** Synchronous `put` for the one-time moves at start-up; durable after `syncDir`. */
  putSync(id: string, bytes: Uint8Array): void {
    checkId(id);
    let seg = this.active;
    if (!seg || seg.broken) {
      if (seg) this.retire(seg);
      const seq = this.nextSeq++;
      const path = join(this.dir, segmentName(seq));
      seg = { seq, path, fd: openSync(path, 'wx+', 0o600), size: 0, live: 0, reads: 0, broken: false };
      this.segments.set(seq, seg);
      this.active = seg;
    }
    const h = header(id, bytes.byteLength);
    for (const part of [h, bytes]) {
      for (let o = 0; o < part.byteLength;) o += writeSync(seg.fd, part, o, part.byteLength - o, seg.size + o);
      seg.size += part.byteLength;
    }
    this.place(id, { seg, at: seg.size - bytes.byteLength, length: bytes.byteLength });
    this.dirty = true;
  }

  /** Makes what `putSync` wrote durable: the segment's data, then the directory. */
  syncDir(): void {
    if (!this.dirty) return;
    this.dirty = false;
    if (this.active) fsyncSync(this.active.fd);
    const fd = openSync(this.dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
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
    checkId(id);
    const hit = this.cache.get(id);
    if (hit) return fn(hit);
    const p = this.index.get(id);
    if (!p) return fn(null);
    const buffer = this.buffers.take(p.length);
    p.seg.reads++;
    try {
      await readAll(p.seg.fd, buffer, p.length, p.at);
    } catch (e) {
      this.buffers.give(buffer);
      throw e;
    } finally {
      p.seg.reads--;
      this.collect(p.seg);
    }
    try {
      return await fn(buffer.subarray(0, p.length));
    } finally {
      this.buffers.give(buffer);
    }
  }

  /** Forgets a body that is no longer needed; a missing one is not an error. */
  async remove(id: string): Promise<void> {
    checkId(id);
    this.forget(id);
    const p = this.index.get(id);
    if (!p) return;
    this.index.delete(id);
    p.seg.live--;
    this.collect(p.seg);
  }

  /**
   * At start-up: moves bodies left as one file each by earlier versions into a segment when
   * `keep` claims them, drops every body `keep` does not claim (orphans, finished messages),
   * and removes segments left empty and any other file. Returns how many bodies went.
   */
  sweep(keep: (id: string) => boolean): number {
    let removed = 0;
    const legacy: string[] = [];
    const others: string[] = [];
    for (const name of readdirSync(this.dir)) {
      if (SEGMENT_NAME.test(name)) continue;
      const id = LEGACY_NAME.exec(name)?.[1];
      if (id !== undefined && SAFE_ID.test(id)) legacy.push(id);
      else others.push(name);
    }
    for (const id of legacy) {
      if (keep(id) && !this.index.has(id)) this.putSync(id, readFileSync(join(this.dir, `${id}.eml`)));
      else removed++;
    }
    this.syncDir(); // the moved bodies are durable before their files go
    for (const id of legacy) unlinkSync(join(this.dir, `${id}.eml`));
    for (const name of others) unlinkSync(join(this.dir, name));
    for (const id of [...this.index.keys()]) {
      if (keep(id)) continue;
      const p = this.index.get(id)!;
      this.index.delete(id);
      p.seg.live--;
      removed++;
    }
    for (const seg of [...this.segments.values()]) {
      if (seg.live > 0) continue;
      this.segments.delete(seg.seq);
      if (this.active === seg) this.active = null;
      closeSync(seg.fd);
      unlinkSync(seg.path);
    }
    return removed;
  }

  /** Waits for the flushes under way, then closes every segment. */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    for (const seg of this.segments.values()) closeSync(seg.fd);
    this.segments.clear();
    this.index.clear();
    this.active = null;
  }
}

/** `writev` until every byte is written at `position` (a short write continues where it stopped). */
function writevAll(fd: number, iov: Uint8Array[], position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (parts: Uint8Array[], at: number): void => {
      if (parts.length === 0) return resolve();
      writevCb(fd, parts, at, (e, n) => {
        if (e) return reject(e);
        let left = n;
        let i = 0;
        while (i < parts.length && left >= parts[i]!.byteLength) left -= parts[i++]!.byteLength;
        const rest = parts.slice(i);
        if (left > 0) rest[0] = rest[0]!.subarray(left);
        step(rest, at + n);
      });
    };
    step(iov, position);
  });
}

/** Reads `length` bytes at `position` into `buffer`; a segment shorter than its index says is an error. */
function readAll(fd: number, buffer: Buffer, length: number, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (at: number): void => {
      if (at === length) return resolve();
      readCb(fd, buffer, at, length - at, position + at, (e, n) => {
        if (e) return reject(e);
        if (n === 0) return reject(new Error('spool: segment shorter than its index'));
        step(at + n);
      });
    };
    step(0);
  });
}
