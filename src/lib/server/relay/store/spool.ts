/**
 * Message bodies of the SQLite store, one file each, beside the database.
 *
 * Why files: a 100 KiB body inside SQLite is written twice (WAL, then the checkpoint into the
 * database file), and both writes run synchronously on the event loop (better-sqlite3), where
 * they stalled HTTP intake and SMTP delivery alike. A file is written once, by libuv's thread
 * pool. Durability order: the body is written and fsynced, then the directory entry is made
 * durable (one directory fsync per group commit), and only then is the row committed; a row
 * therefore never points to a missing body. A crash between the two leaves an orphan body,
 * removed at the next start (`sweep`).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Identifiers are our UUIDs; anything else would be a bug or an attack on the file name. */
const SAFE_ID = /^[\w-]{1,64}$/;

export class BodySpool {
  private dirty = false;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private path(id: string): string {
    if (!SAFE_ID.test(id)) throw new Error(`spool: invalid id ${JSON.stringify(id)}`);
    return join(this.dir, `${id}.eml`);
  }

  /** Writes and fsyncs a new body; the directory entry becomes durable at the next `syncDir`. */
  async put(id: string, bytes: Uint8Array): Promise<void> {
    const f = await open(this.path(id), 'wx', 0o600);
    try {
      await f.writeFile(bytes);
      await f.sync();
    } finally {
      await f.close();
    }
    this.dirty = true;
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

  /** Makes the entries of bodies written since the last call durable (called before a commit). */
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

  async get(id: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.path(id)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /** Removes a body that is no longer needed; a missing one is not an error. */
  async remove(id: string): Promise<void> {
    await unlink(this.path(id)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
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
