/**
 * One lazily opened IndexedDB connection, as every store of ours keeps it: opened on first use,
 * given up when another tab needs a newer schema (`blocking`) or the browser ends it
 * (`terminated`), and never cached when the open failed, so the next call opens again.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';

export class Connection<S extends DBSchema> {
  private db?: Promise<IDBPDatabase<S>>;

  constructor(
    private readonly name: string,
    private readonly version: number,
    /** `oldVersion`: 0 for a new database. */
    private readonly upgrade: (db: IDBPDatabase<S>, oldVersion: number) => void,
  ) {}

  get(): Promise<IDBPDatabase<S>> {
    const upgrade = this.upgrade;
    this.db ??= openDB<S>(this.name, this.version, {
      upgrade: (db, oldVersion) => upgrade(db, oldVersion),
      // Another tab wants a newer schema: let it, and reopen on the next call.
      blocking: () => {
        void this.db?.then((d) => d.close());
        this.db = undefined;
      },
      terminated: () => {
        this.db = undefined;
      },
    });
    this.db.catch(() => {
      this.db = undefined;
    });
    return this.db;
  }

  /** Closes the connection (tests, page teardown). */
  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    if (db) (await db).close();
  }
}
