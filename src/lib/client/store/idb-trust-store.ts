/**
 * The trust store in IndexedDB: the browser implementation of TrustStorePort.
 *
 * A commit is one readwrite transaction over exactly the object stores it touches, holding
 * only puts and deletes (and one read: the audit head, to chain safely when several tabs
 * write). Everything else (parsing, signature checks, index building, hashing) was done by
 * the caller before: a tab closed mid-import aborts the transaction and the previous state
 * stays in force. Transactions use durability "strict": a trust change reported as done is
 * on disk.
 *
 * Other tabs learn about commits through a BroadcastChannel; refreshes across tabs are
 * serialised with Web Locks when the browser has them.
 */
import { type IDBPDatabase, unwrap } from 'idb';
import { generateAuditKey } from '$lib/trust/audit';
import type { AuditRecord, ChainAnchor, ChainHead } from '$lib/trust/audit';
import {
  type AuditAppend,
  type AuditContent,
  type AuditKey,
  type Change,
  ConcurrentAppendError,
  type CrlIndexRecord,
  type MetaRecord,
  type StoreName,
  type TrustSnapshot,
  type TrustStorePort,
} from '$lib/trust/model';
import { type OpenOptions, type TrustDb, TRUST_DB_NAME, openTrustDb } from './trust-db';

export interface IdbTrustStoreOptions extends OpenOptions {
  /**
   * Called inside a commit's transaction once every write has been issued, before it
   * completes. For tests only (e.g. to close the tab while the transaction is open).
   */
  beforeComplete?: (tx: IDBTransaction) => void;
}

function sameHead(a: ChainHead | undefined, b: ChainHead | undefined): boolean {
  return (a?.seq ?? -1) === (b?.seq ?? -1) && a?.hash === b?.hash;
}

export class IdbTrustStore implements TrustStorePort {
  private readonly channel: BroadcastChannel | undefined;
  private readonly listeners = new Set<() => void>();
  private keyPromise: Promise<AuditKey | undefined> | undefined;

  private constructor(
    private readonly db: IDBPDatabase<TrustDb>,
    private readonly name: string,
    private readonly opts: IdbTrustStoreOptions,
  ) {
    this.channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(`${name}:changes`) : undefined;
    if (this.channel) this.channel.onmessage = () => this.listeners.forEach((l) => l());
  }

  static async open(opts: IdbTrustStoreOptions = {}): Promise<IdbTrustStore> {
    const db = await openTrustDb(opts);
    return new IdbTrustStore(db, opts.name ?? TRUST_DB_NAME, opts);
  }

  /** The underlying database (tests and diagnostics). */
  get database(): IDBPDatabase<TrustDb> {
    return this.db;
  }

  async load(): Promise<TrustSnapshot> {
    const tx = this.db.transaction(['cas', 'recipients', 'crls', 'sources', 'settings', 'meta'], 'readonly');
    const [cas, recipients, crls, sources, settings, meta] = await Promise.all([
      tx.objectStore('cas').getAll(),
      tx.objectStore('recipients').getAll(),
      tx.objectStore('crls').getAll(),
      tx.objectStore('sources').getAll(),
      tx.objectStore('settings').getAll(),
      tx.objectStore('meta').getAll(),
    ]);
    await tx.done;
    return { cas, recipients, crls, sources, settings, meta: meta.filter((m) => m.key !== 'audit-key' && m.key !== 'audit-mac-from') };
  }

  crlIndex(id: string): Promise<CrlIndexRecord | undefined> {
    return this.db.get('crlIndex', id);
  }

  async crlDer(id: string): Promise<Uint8Array | undefined> {
    return (await this.db.get('crlDer', id))?.der;
  }

  async audit(): Promise<AuditContent> {
    const tx = this.db.transaction(['audit', 'meta'], 'readonly');
    const [records, anchor, head] = await Promise.all([
      tx.objectStore('audit').getAll(),
      tx.objectStore('meta').get('audit-anchor'),
      tx.objectStore('meta').get('audit-head'),
    ]);
    await tx.done;
    const out: AuditContent = { records };
    if (anchor) out.anchor = anchor.value as ChainAnchor;
    if (head) out.head = head.value as ChainHead;
    return out;
  }

  async auditHead(): Promise<ChainHead | undefined> {
    return (await this.db.get('meta', 'audit-head'))?.value as ChainHead | undefined;
  }

  /**
   * The audit MAC key: a non-extractable HMAC key kept as a CryptoKey object in the store
   * (IndexedDB clones CryptoKeys without exposing their bits), with the first sequence number
   * it seals (records of an older schema predate it). Made on first use, in one transaction
   * with that number; when two tabs race, the first writer wins and the other reads its key.
   */
  auditKey(): Promise<AuditKey | undefined> {
    this.keyPromise ??= (async () => {
      const read = async (): Promise<AuditKey | undefined> => {
        const tx = this.db.transaction('meta', 'readonly');
        const [k, from] = await Promise.all([tx.store.get('audit-key'), tx.store.get('audit-mac-from')]);
        await tx.done;
        return k ? { key: k.value as CryptoKey, macFrom: (from?.value as number | undefined) ?? 0 } : undefined;
      };
      const found = await read();
      if (found || !globalThis.crypto?.subtle) return found;
      const key = await generateAuditKey();
      const tx = this.db.transaction('meta', 'readwrite', { durability: 'strict' });
      const done = tx.done;
      try {
        if (await tx.store.get('audit-key')) {
          tx.abort();
        } else {
          const head = (await tx.store.get('audit-head'))?.value as ChainHead | undefined;
          void tx.store.put({ key: 'audit-key', value: key } satisfies MetaRecord);
          void tx.store.put({ key: 'audit-mac-from', value: (head?.seq ?? -1) + 1 } satisfies MetaRecord);
        }
      } finally {
        await done.catch(() => undefined);
      }
      return read();
    })();
    return this.keyPromise;
  }

  async commit(changes: Change[], audit?: AuditAppend): Promise<void> {
    const names = new Set<StoreName | 'audit'>(changes.map((c) => c.store));
    if (audit) {
      names.add('audit');
      names.add('meta');
    }
    if (names.size === 0) return;
    const tx = this.db.transaction([...names], 'readwrite', { durability: 'strict' });
    // Failures surface through tx.done; individual request promises are not awaited.
    const done = tx.done;
    try {
      if (audit) {
        const head = (await tx.objectStore('meta').get('audit-head'))?.value as ChainHead | undefined;
        if (!sameHead(head, audit.expectHead)) {
          tx.abort();
          await done.catch(() => undefined);
          throw new ConcurrentAppendError();
        }
      }
      for (const c of changes) {
        // The union of stores is not narrowed by TypeScript here; the Change type pairs them.
        const store = tx.objectStore(c.store) as unknown as { put(v: unknown): Promise<unknown>; delete(k: string): Promise<unknown> };
        void ('put' in c ? store.put(c.put) : store.delete(c.delete)).catch(() => undefined);
      }
      if (audit) {
        const log = tx.objectStore('audit');
        const meta = tx.objectStore('meta');
        for (const seq of audit.purge?.remove ?? []) void log.delete(seq).catch(() => undefined);
        if (audit.purge) void meta.put({ key: 'audit-anchor', value: audit.purge.anchor } satisfies MetaRecord).catch(() => undefined);
        for (const r of audit.records) void log.put(r as AuditRecord).catch(() => undefined);
        if (audit.head) void meta.put({ key: 'audit-head', value: audit.head } satisfies MetaRecord).catch(() => undefined);
      }
      this.opts.beforeComplete?.(unwrap(tx));
    } catch (e) {
      if (!(e instanceof ConcurrentAppendError)) {
        try {
          tx.abort();
        } catch {
          // already finished
        }
        await done.catch(() => undefined);
      }
      throw e;
    }
    await done;
    this.channel?.postMessage('changed');
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async lock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (!locks) return fn();
    return locks.request(`${this.name}:${name}`, fn) as Promise<T>;
  }

  close(): void {
    this.channel?.close();
    this.db.close();
  }
}
