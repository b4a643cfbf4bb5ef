/**
 * An in-memory TrustStorePort: the trust service's behaviour tested in Node, and a fallback
 * where IndexedDB is unavailable. Same contract as the IndexedDB adapter: a commit is
 * all-or-nothing and checks the audit head; values are copied in and out (structured clone),
 * as IndexedDB would, so callers cannot mutate stored state by accident.
 */
import type { AuditKeyState, AuditRecord, ChainAnchor, ChainHead, KeyCheck } from './audit.js';
import { newJournal } from './audit.js';
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
  type StoreValues,
  type TrustSnapshot,
  type TrustStorePort,
} from './model.js';

const KEY_PATHS: { [S in StoreName]: keyof StoreValues[S] } = {
  cas: 'fingerprint',
  recipients: 'fingerprint',
  crls: 'id',
  crlDer: 'id',
  crlIndex: 'id',
  sources: 'url',
  settings: 'key',
  meta: 'key',
};

/** structuredClone keeps CryptoKeys by reference in Node; everything else is deep-copied. */
function clone<T>(v: T): T {
  return structuredClone(v);
}

export class MemoryTrustStore implements TrustStorePort {
  private readonly data: { [S in StoreName]: Map<string, StoreValues[S]> } = {
    cas: new Map(),
    recipients: new Map(),
    crls: new Map(),
    crlDer: new Map(),
    crlIndex: new Map(),
    sources: new Map(),
    settings: new Map(),
    meta: new Map(),
  };
  private auditLog = new Map<number, AuditRecord>();
  private readonly listeners = new Set<() => void>();
  private creating: Promise<void> | undefined;
  /** Number of commits applied (tests look at it). */
  commits = 0;

  async load(): Promise<TrustSnapshot> {
    const all = <S extends StoreName>(s: S): StoreValues[S][] => [...this.data[s].values()].map(clone);
    return {
      cas: all('cas'),
      recipients: all('recipients'),
      crls: all('crls'),
      sources: all('sources'),
      settings: all('settings'),
      meta: all('meta').filter((m) => !isPrivateMeta(m.key)),
    };
  }

  async crlIndex(id: string): Promise<CrlIndexRecord | undefined> {
    const r = this.data.crlIndex.get(id);
    return r && clone(r);
  }

  async crlDer(id: string): Promise<Uint8Array | undefined> {
    const r = this.data.crlDer.get(id);
    return r && r.der.slice();
  }

  async audit(): Promise<AuditContent> {
    const out: AuditContent = { records: [...this.auditLog.values()].sort((a, b) => a.seq - b.seq).map(clone) };
    const anchor = this.meta('audit-anchor');
    const head = this.meta('audit-head');
    if (anchor) out.anchor = clone(anchor);
    if (head) out.head = clone(head);
    return out;
  }

  async auditHead(): Promise<ChainHead | undefined> {
    const h = this.meta('audit-head');
    return h && clone(h);
  }

  /** No witness here (no storage outside this object): key and check only. */
  async auditKey(): Promise<AuditKeyState> {
    const empty = () => !this.data.meta.has('audit-key') && !this.data.meta.has('audit-key-check') && !this.data.meta.has('audit-head') && !this.data.meta.has('audit-anchor') && this.auditLog.size === 0;
    if (empty()) {
      this.creating ??= newJournal(Date.now()).then((j) => {
        if (!empty()) return;
        this.data.meta.set('audit-key', { key: 'audit-key', value: j.key });
        this.data.meta.set('audit-key-check', { key: 'audit-key-check', value: j.check });
        this.data.meta.set('audit-head', { key: 'audit-head', value: j.head });
      });
      await this.creating;
      this.creating = undefined;
    }
    const out: AuditKeyState = {};
    const key = this.data.meta.get('audit-key')?.value as CryptoKey | undefined;
    const check = this.data.meta.get('audit-key-check')?.value as KeyCheck | undefined;
    if (key) out.key = key;
    if (check) out.check = clone(check);
    return out;
  }

  async resetAudit(reset: AuditReset): Promise<void> {
    const current = this.data.meta.get('audit-key-check')?.value as KeyCheck | undefined;
    if (current?.journal !== reset.expectJournal) throw new ConcurrentAppendError();
    this.data.meta.set(`audit-archive:${reset.archive.at}-${reset.archive.sha256.slice(0, 16)}`, { key: `audit-archive:${reset.archive.at}-${reset.archive.sha256.slice(0, 16)}`, value: clone(reset.archive) });
    this.auditLog.clear();
    for (const k of ['audit-anchor', 'audit-mac-from']) this.data.meta.delete(k);
    this.data.meta.set('audit-key', { key: 'audit-key', value: reset.key });
    this.data.meta.set('audit-key-check', { key: 'audit-key-check', value: clone(reset.check) });
    for (const r of reset.records) this.auditLog.set(r.seq, clone(r));
    this.data.meta.set('audit-head', { key: 'audit-head', value: clone(reset.head) });
    this.commits++;
    for (const l of this.listeners) l();
  }

  private meta(key: 'audit-head'): ChainHead | undefined;
  private meta(key: 'audit-anchor'): ChainAnchor | undefined;
  private meta(key: 'audit-head' | 'audit-anchor'): ChainHead | ChainAnchor | undefined {
    return this.data.meta.get(key)?.value as ChainHead | ChainAnchor | undefined;
  }

  async commit(changes: Change[], audit?: AuditAppend): Promise<void> {
    if (audit) {
      const head = this.meta('audit-head');
      if ((head?.seq ?? -1) !== (audit.expectHead?.seq ?? -1) || head?.hash !== audit.expectHead?.hash) {
        throw new ConcurrentAppendError();
      }
    }
    // Validate every change before applying any: all or nothing.
    const prepared = changes.map((c) => {
      const map = this.data[c.store] as Map<string, unknown>;
      if ('put' in c) {
        const key = (c.put as unknown as Record<string, unknown>)[KEY_PATHS[c.store] as string];
        if (typeof key !== 'string') throw new TypeError(`${c.store}: missing key`);
        return () => map.set(key, clone(c.put));
      }
      return () => map.delete(c.delete);
    });
    for (const apply of prepared) apply();
    if (audit) {
      for (const seq of audit.purge?.remove ?? []) this.auditLog.delete(seq);
      if (audit.purge) this.data.meta.set('audit-anchor', { key: 'audit-anchor', value: clone(audit.purge.anchor) });
      for (const r of audit.records) this.auditLog.set(r.seq, clone(r));
      if (audit.head) this.data.meta.set('audit-head', { key: 'audit-head', value: clone(audit.head) });
    }
    this.commits++;
    for (const l of this.listeners) l();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /* Test helpers: direct access to the raw audit records, to tamper with them. */

  rawAudit(): Map<number, AuditRecord> {
    return this.auditLog;
  }

  rawMeta(): Map<string, MetaRecord> {
    return this.data.meta;
  }
}
