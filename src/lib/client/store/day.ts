/**
 * What the home page reads of the billing database (./billing-db.ts) without a card and without
 * the billing core: the invoices' clear summaries, the lots and the outbox, in one read
 * transaction so the three agree.
 */
import { billingConnection, type InvoiceListing, type OutboxEntry } from './billing-db.js';
import type { LotRecord } from '../../billing/lifecycle.js';

export interface DayRecords {
  readonly invoices: readonly InvoiceListing[];
  readonly lots: readonly LotRecord[];
  readonly outbox: readonly OutboxEntry[];
}

export class IdbDayStore {
  private readonly connection;

  constructor(dbName?: string) {
    this.connection = billingConnection(dbName);
  }

  async read(): Promise<DayRecords> {
    const db = await this.connection.get();
    const tx = db.transaction(['invoices', 'lots', 'outbox']);
    const [invoices, lots, outbox] = await Promise.all([tx.objectStore('invoices').getAll(), tx.objectStore('lots').getAll(), tx.objectStore('outbox').getAll()]);
    await tx.done;
    return { invoices: invoices.map((r) => ({ id: r.id, summary: r.summary })), lots: lots.map((r) => r.lot), outbox };
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
