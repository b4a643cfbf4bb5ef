/**
 * The workstation's key slots in IndexedDB (database `teletrans-keys`): per card, the salt and
 * the data key wrapped under the card's KEK (./at-rest.ts). A slot is added once and never
 * overwritten: `add` fails on an existing key id, so two tabs creating it at once keep one.
 */
import type { DBSchema } from 'idb';
import { Connection } from './connection.js';
import type { KeySlot, KeySlotStore } from './at-rest.js';

export const KEYS_DB = 'teletrans-keys';

interface KeysDb extends DBSchema {
  slots: { key: string; value: KeySlot };
}

export class IdbKeySlotStore implements KeySlotStore {
  private readonly connection: Connection<KeysDb>;

  constructor(dbName: string = KEYS_DB) {
    this.connection = new Connection<KeysDb>(dbName, 1, (db) => void db.createObjectStore('slots', { keyPath: 'keyId' }));
  }

  async get(keyId: string): Promise<KeySlot | undefined> {
    return (await this.connection.get()).get('slots', keyId);
  }

  async add(slot: KeySlot): Promise<boolean> {
    const db = await this.connection.get();
    const tx = db.transaction('slots', 'readwrite', { durability: 'strict' });
    try {
      await tx.store.add(slot);
      await tx.done;
      return true;
    } catch (e) {
      await tx.done.catch(() => undefined);
      if (e instanceof DOMException && e.name === 'ConstraintError') return false;
      throw e;
    }
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
