/**
 * The compostage counter in the browser (IndexedDB through `idb`). One readwrite transaction
 * reads, increments and writes the counter: IndexedDB runs readwrite transactions on the same
 * object store one after another, across every tab and worker of the origin, so two tabs can
 * never obtain the same value. The value is returned only once the transaction has completed
 * (with strict durability where the browser supports it), so a value handed out survives a
 * crash or a reload and is never handed out again.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { CompostageStore } from '../../sesam/compostage.js';

interface CompostageSchema extends DBSchema {
  counters: { key: string; value: number };
}

export const COMPOSTAGE_DB = 'teletrans-compostage';
const STORE = 'counters';
const KEY = 'compostage';

export class IdbCompostageStore implements CompostageStore {
  private db?: Promise<IDBPDatabase<CompostageSchema>>;

  /** `dbName` is for tests; the app uses the default. */
  constructor(private readonly dbName: string = COMPOSTAGE_DB) {}

  private open(): Promise<IDBPDatabase<CompostageSchema>> {
    this.db ??= openDB<CompostageSchema>(this.dbName, 1, {
      upgrade(db) {
        db.createObjectStore(STORE);
      },
      // Another tab wants a newer schema: let it, and reopen on the next call.
      blocking: () => {
        void this.db?.then((d) => d.close());
        this.db = undefined;
      },
      terminated: () => {
        this.db = undefined;
      },
    });
    // A failed open is not cached: the next call retries.
    this.db.catch(() => {
      this.db = undefined;
    });
    return this.db;
  }

  async next(): Promise<number> {
    const db = await this.open();
    const tx = db.transaction(STORE, 'readwrite', { durability: 'strict' });
    const store = tx.objectStore(STORE);
    const current = (await store.get(KEY)) ?? 0;
    if (!Number.isSafeInteger(current) || current < 0) {
      tx.abort();
      // Never reset a damaged counter silently: that could reuse a compostage.
      throw new Error(`compteur de compostage illisible dans IndexedDB (${String(current)})`);
    }
    const value = current + 1;
    await store.put(value, KEY);
    await tx.done;
    return value;
  }

  /** Closes the connection (tests, page teardown). */
  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    if (db) (await db).close();
  }
}
