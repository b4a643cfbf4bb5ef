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
import { newJournal } from '$lib/trust/audit';
import type { AuditKeyState, AuditRecord, ChainAnchor, ChainHead, KeyCheck } from '$lib/trust/audit';
import {
  type AuditAppend,
  type AuditContent,
  type AuditReset,
  type Change,
  ConcurrentAppendError,
  type CrlIndexRecord,
  type MetaRecord,
  isPrivateMeta,
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
    return { cas, recipients, crls, sources, settings, meta: meta.filter((m) => !isPrivateMeta(m.key)) };
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

  /** Where the witness (a copy of the key check's MAC) lives: outside IndexedDB. */
  private get witnessKey(): string {
    return `${this.name}:audit-witness`;
  }

  private witnessStorage(): Storage | undefined {
    try {
      return typeof localStorage === 'undefined' ? undefined : localStorage;
    } catch {
      return undefined; // storage disabled for this origin
    }
  }

  private writeWitness(check: KeyCheck | undefined): void {
    try {
      if (check) this.witnessStorage()?.setItem(this.witnessKey, check.mac);
    } catch {
      // quota or disabled storage: the witness is a second line, the seals remain
    }
  }

  /**
   * The audit seal: a non-extractable HMAC key kept as a CryptoKey object (IndexedDB clones
   * CryptoKeys without exposing their bits to scripts), its check, and the witness in
   * localStorage. A journal is created only when the store holds none at all, in one
   * transaction with its key, check and sealed empty head; when two tabs race, the first
   * writer wins and the other reads its journal. The witness is written after the commit: a
   * tab closed in between leaves it absent, and an absent witness is written again from the
   * check (trust on first use) rather than failing: a present one that differs fails, and a
   * present one with no journal at all (the database deleted) is not silently replaced.
   */
  async auditKey(): Promise<AuditKeyState> {
    const read = async (): Promise<AuditKeyState> => {
      const tx = this.db.transaction('meta', 'readonly');
      const [k, c] = await Promise.all([tx.store.get('audit-key'), tx.store.get('audit-key-check')]);
      await tx.done;
      const out: AuditKeyState = {};
      if (k) out.key = k.value as CryptoKey;
      if (c) out.check = c.value as KeyCheck;
      const storage = this.witnessStorage();
      if (storage) {
        let w: string | null = null;
        try {
          w = storage.getItem(this.witnessKey);
        } catch {
          w = null;
        }
        if (w === null && out.check && typeof out.check.mac === 'string') {
          this.writeWitness(out.check);
          w = out.check.mac;
        }
        out.witness = w;
      }
      return out;
    };
    const found = await read();
    // A witness without a journal: the database was deleted behind the application's back
    // (deleteTrustDb removes the witness too). Reported, not recreated.
    if (found.key || found.check || typeof found.witness === 'string' || !globalThis.crypto?.subtle) return found;
    const fresh = await newJournal(Date.now());
    const tx = this.db.transaction(['meta', 'audit'], 'readwrite', { durability: 'strict' });
    const done = tx.done;
    let created = false;
    try {
      const meta = tx.objectStore('meta');
      const [key, check, head, anchor, count] = await Promise.all([
        meta.get('audit-key'),
        meta.get('audit-key-check'),
        meta.get('audit-head'),
        meta.get('audit-anchor'),
        tx.objectStore('audit').count(),
      ]);
      if (key || check || head || anchor || count > 0) {
        // Another tab created it, or there is content without a key: leave it as found.
        tx.abort();
      } else {
        void meta.put({ key: 'audit-key', value: fresh.key } satisfies MetaRecord);
        void meta.put({ key: 'audit-key-check', value: fresh.check } satisfies MetaRecord);
        void meta.put({ key: 'audit-head', value: fresh.head } satisfies MetaRecord);
        created = true;
      }
    } finally {
      await done.catch(() => (created = false));
    }
    if (created) this.writeWitness(fresh.check);
    return read();
  }

  async resetAudit(reset: AuditReset): Promise<void> {
    const tx = this.db.transaction(['meta', 'audit'], 'readwrite', { durability: 'strict' });
    const done = tx.done;
    try {
      const meta = tx.objectStore('meta');
      const current = (await meta.get('audit-key-check'))?.value as KeyCheck | undefined;
      if (current?.journal !== reset.expectJournal) {
        tx.abort();
        await done.catch(() => undefined);
        throw new ConcurrentAppendError();
      }
      const log = tx.objectStore('audit');
      void meta.put({ key: `audit-archive:${reset.archive.at}-${reset.archive.sha256.slice(0, 16)}`, value: reset.archive } satisfies MetaRecord);
      void log.clear();
      for (const k of ['audit-anchor', 'audit-mac-from', 'audit-head'] as const) void meta.delete(k);
      void meta.put({ key: 'audit-key', value: reset.key } satisfies MetaRecord);
      void meta.put({ key: 'audit-key-check', value: reset.check } satisfies MetaRecord);
      for (const r of reset.records) void log.put(r);
      void meta.put({ key: 'audit-head', value: reset.head } satisfies MetaRecord);
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
    this.writeWitness(reset.check);
    this.channel?.postMessage('changed');
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
