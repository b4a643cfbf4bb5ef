/**
 * The outbox as the sender reads and moves it (./billing-db.ts; the messages are added with the
 * records that queue them, by ./billing.ts). Each change is its own durable transaction, made
 * only from the state the caller saw: two tabs never move one message twice.
 */
import type { IDBPDatabase } from 'idb';
import { billingConnection, type BillingDb, type OutboxEntry, type OutboxState } from './billing-db.js';
import type { Connection } from './connection.js';
import { byCodeUnits } from '../../text/compare.js';

export class IdbOutbox {
  private readonly connection: Connection<BillingDb>;

  constructor(dbName?: string) {
    this.connection = billingConnection(dbName);
  }

  private open(): Promise<IDBPDatabase<BillingDb>> {
    return this.connection.get();
  }

  /** Every message of the outbox (every card's: sending needs no card), oldest first. */
  async listOutbox(): Promise<OutboxEntry[]> {
    const all = await (await this.open()).getAll('outbox');
    return all.sort((a, b) => byCodeUnits(a.createdAt, b.createdAt) || byCodeUnits(a.id, b.id));
  }

  /**
   * Changes one message's state in its own durable transaction, from the state the caller saw
   * (`from`): false, writing nothing, when another tab moved it meanwhile.
   */
  async updateOutbox(id: string, from: OutboxState, patch: Partial<Pick<OutboxEntry, 'state' | 'attempts' | 'nextAttemptAt' | 'relayId' | 'lastError' | 'updatedAt'>>): Promise<boolean> {
    const db = await this.open();
    const tx = db.transaction('outbox', 'readwrite', { durability: 'strict' });
    const row = await tx.store.get(id);
    if (!row || row.state !== from) {
      await tx.done;
      return false;
    }
    await tx.store.put({ ...row, ...patch });
    await tx.done;
    return true;
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
