/**
 * The messages already fetched, kept in the browser for offline reading (issue 18 item 5),
 * sealed under the practitioner's at-rest key (docs/adr/0014: the card opens it after the PIN;
 * a copied browser profile holds ciphertext only). Subjects and addresses are health data too:
 * the inbox list is one sealed value per mailbox, each message another, with associated data
 * naming the card key, the mailbox and the message — a value moved elsewhere fails to open.
 */
import { openDB, type IDBPDatabase } from 'idb';
import { seal, unseal, type DataKey, type Sealed } from '../store/at-rest.js';
import type { MssStatus } from './api.js';
import type { InboxLine } from './mailbox.js';

const DB = 'teletrans-mss';
const enc = new TextEncoder();

interface Row {
  id: string;
  sealed: Sealed;
}

/** An inbox line as kept (the search text is made again on opening). */
export type StoredLine = Omit<InboxLine, 'haystack'>;

export interface MssCache {
  /** The mailbox last seen with this card (address, kind): offline, the page knows which copy to open. */
  putStatus(key: DataKey, status: MssStatus): Promise<void>;
  getStatus(key: DataKey): Promise<MssStatus | null>;
  /** The inbox as the list shows it (decoded once, when fetched: opening offline decodes nothing). */
  putInbox(key: DataKey, address: string, lines: readonly StoredLine[]): Promise<void>;
  getInbox(key: DataKey, address: string): Promise<StoredLine[] | null>;
  putMessage(key: DataKey, address: string, uid: number, raw: Uint8Array): Promise<void>;
  getMessage(key: DataKey, address: string, uid: number): Promise<Uint8Array | null>;
  /** Forgets a mailbox's copies (sign-out). */
  clear(key: DataKey, address: string): Promise<void>;
}

export async function openMssCache(name = DB): Promise<MssCache> {
  const db: IDBPDatabase = await openDB(name, 1, {
    upgrade(d) {
      d.createObjectStore('inbox', { keyPath: 'id' });
      d.createObjectStore('messages', { keyPath: 'id' });
    },
  });
  const inboxId = (k: DataKey, a: string): string => `${k.keyId}:${a.toLowerCase()}`;
  const msgId = (k: DataKey, a: string, uid: number): string => `${inboxId(k, a)}:${uid}`;
  return {
    async putStatus(key, status) {
      const id = `${key.keyId}:status`;
      await db.put('inbox', { id, sealed: await seal(key, status, enc.encode(`mss-status:${id}`)) } satisfies Row);
    },
    async getStatus(key) {
      const id = `${key.keyId}:status`;
      const row = (await db.get('inbox', id)) as Row | undefined;
      return row ? unseal<MssStatus>(key, row.sealed, enc.encode(`mss-status:${id}`)) : null;
    },
    async putInbox(key, address, lines) {
      const id = inboxId(key, address);
      await db.put('inbox', { id, sealed: await seal(key, { lines }, enc.encode(`mss-inbox:${id}`)) } satisfies Row);
    },
    async getInbox(key, address) {
      const id = inboxId(key, address);
      const row = (await db.get('inbox', id)) as Row | undefined;
      if (!row) return null;
      return (await unseal<{ lines: StoredLine[] }>(key, row.sealed, enc.encode(`mss-inbox:${id}`))).lines;
    },
    async putMessage(key, address, uid, raw) {
      const id = msgId(key, address, uid);
      await db.put('messages', { id, sealed: await seal(key, { raw }, enc.encode(`mss-message:${id}`)) } satisfies Row);
    },
    async getMessage(key, address, uid) {
      const id = msgId(key, address, uid);
      const row = (await db.get('messages', id)) as Row | undefined;
      if (!row) return null;
      return (await unseal<{ raw: Uint8Array }>(key, row.sealed, enc.encode(`mss-message:${id}`))).raw;
    },
    async clear(key, address) {
      const prefix = inboxId(key, address);
      await db.delete('inbox', prefix);
      const tx = db.transaction('messages', 'readwrite');
      for (const k of await tx.store.getAllKeys(IDBKeyRange.bound(`${prefix}:`, `${prefix}:\uffff`))) await tx.store.delete(k);
      await tx.done;
    },
  };
}
