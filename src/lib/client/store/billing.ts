/**
 * The billing records in the browser (IndexedDB through `idb`, database `teletrans-billing`):
 * invoices with their documents and lots, each with its history (src/lib/billing/lifecycle.ts,
 * docs/adr/0011-billing-records-and-history.md). The browser's store is the source of truth
 * (principle 4), so:
 *
 * - `commit` writes every record one domain operation changed in ONE readwrite transaction with
 *   strict durability, and resolves only once it is durable: building a lot changes the lot and
 *   each invoice it carries, all or nothing;
 * - histories are append-only: a record is written only if its history extends the stored one
 *   event for event. A record computed from a stale copy (another tab, or this one, changed it
 *   meanwhile) is refused with `history_conflict` and nothing of the commit is written: the
 *   caller reads again and redoes its operation. The same rule will guard a sync's replay.
 * - records come back as frozen values, as the operations make them.
 *
 * Not here yet (the kiosk issue decides): encryption at rest of the invoices' content.
 */
import type { DBSchema, IDBPDatabase } from 'idb';
import { Connection } from './connection.js';
import type { BillingEvent, InvoiceRecord, LotRecord } from '../../billing/lifecycle.js';

export const BILLING_DB = 'teletrans-billing';

interface BillingDb extends DBSchema {
  invoices: { key: string; value: InvoiceRecord };
  lots: { key: string; value: LotRecord };
}

export type BillingStoreErrorCode = 'history_conflict' | 'record_invalid';

export class BillingStoreError extends Error {
  constructor(
    readonly code: BillingStoreErrorCode,
    readonly recordId: string,
    message: string,
  ) {
    super(message);
    this.name = 'BillingStoreError';
  }
}

const sameEvent = (a: BillingEvent, b: BillingEvent): boolean => a.seq === b.seq && a.at === b.at && a.type === b.type && JSON.stringify(a.detail ?? null) === JSON.stringify(b.detail ?? null);

/** Refuses a record whose history does not extend the stored one (or start at 1 when new). */
function checkExtends(kind: 'facture' | 'lot', id: string, stored: { history: readonly BillingEvent[] } | undefined, next: { history: readonly BillingEvent[] }): void {
  const h = next.history;
  if (h.length === 0 || h.some((e, i) => e.seq !== i + 1)) throw new BillingStoreError('record_invalid', id, `${kind} ${id} : historique mal formé.`);
  if (!stored) return;
  const old = stored.history;
  if (h.length < old.length || old.some((e, i) => !sameEvent(e, h[i]!))) {
    throw new BillingStoreError('history_conflict', id, `${kind} ${id} modifié ailleurs entre-temps : relire et recommencer l’opération.`);
  }
}

/** Deep-freezes what structured clone gave back (typed arrays cannot be frozen: left as they are). */
function frozen<T>(value: T): T {
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

export class IdbBillingStore {
  private readonly connection: Connection<BillingDb>;

  /** `dbName` is for tests; the app uses the default. */
  constructor(dbName: string = BILLING_DB) {
    this.connection = new Connection<BillingDb>(dbName, 1, (db) => {
      db.createObjectStore('invoices', { keyPath: 'id' });
      db.createObjectStore('lots', { keyPath: 'id' });
    });
  }

  private open(): Promise<IDBPDatabase<BillingDb>> {
    return this.connection.get();
  }

  /**
   * Writes the records one operation changed, all or nothing, durable before it resolves.
   * Throws `history_conflict` (nothing written) when any of them was changed meanwhile.
   */
  async commit(change: { invoices?: readonly InvoiceRecord[]; lots?: readonly LotRecord[] }): Promise<void> {
    const db = await this.open();
    const tx = db.transaction(['invoices', 'lots'], 'readwrite', { durability: 'strict' });
    try {
      const invoices = tx.objectStore('invoices');
      const lots = tx.objectStore('lots');
      for (const r of change.invoices ?? []) {
        checkExtends('facture', r.id, await invoices.get(r.id), r);
        await invoices.put(r);
      }
      for (const l of change.lots ?? []) {
        checkExtends('lot', l.id, await lots.get(l.id), l);
        await lots.put(l);
      }
    } catch (e) {
      tx.abort();
      await tx.done.catch(() => undefined);
      throw e;
    }
    await tx.done;
  }

  async getInvoice(id: string): Promise<InvoiceRecord | undefined> {
    return frozen(await (await this.open()).get('invoices', id));
  }

  async listInvoices(): Promise<InvoiceRecord[]> {
    return frozen(await (await this.open()).getAll('invoices'));
  }

  async getLot(id: string): Promise<LotRecord | undefined> {
    return frozen(await (await this.open()).get('lots', id));
  }

  async listLots(): Promise<LotRecord[]> {
    return frozen(await (await this.open()).getAll('lots'));
  }

  /** Closes the connection (tests, page teardown). */
  close(): Promise<void> {
    return this.connection.close();
  }
}
