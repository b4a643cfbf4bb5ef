/**
 * The pairing key in the browser: a non-extractable HMAC CryptoKey in IndexedDB (structured
 * clone keeps it non-extractable: page scripts can use it, never read it).
 */
import { openDB, type IDBPDatabase } from 'idb';
import type { PairingKeyStore, StoredPairing } from './client.js';

const DB = 'teletrans-card-bridge';
const STORE = 'pairing';

export class IdbKeyStore implements PairingKeyStore {
  private db: Promise<IDBPDatabase> | null = null;

  private open(): Promise<IDBPDatabase> {
    this.db ??= openDB(DB, 1, {
      upgrade(db) {
        db.createObjectStore(STORE);
      },
    });
    return this.db;
  }

  async get(): Promise<StoredPairing | null> {
    return ((await (await this.open()).get(STORE, 'current')) as StoredPairing | undefined) ?? null;
  }

  async set(p: StoredPairing): Promise<void> {
    await (await this.open()).put(STORE, p, 'current');
  }

  async clear(): Promise<void> {
    await (await this.open()).delete(STORE, 'current');
  }
}
