/**
 * The state every part of the trust service shares: the injected ports, the loaded snapshot
 * with its certificates and CRL indexes, the integrity latch, and the one way to write
 * (commit with audit). The operation modules receive it; only this file mutates the snapshot.
 *
 * Import discipline: everything that can fail or take time (decoding, parsing, signature and
 * path verification, index building, hashing of audit records) happens before the commit;
 * the commit is one transaction holding only puts and deletes, with the audit records of the
 * operation. A tab closed mid-import therefore leaves the previous state in force.
 */
import { Verifier } from '../../pki/index.js';
import { type Cert, parseCertificate } from '../../pki/cert.js';
import { type AuditActor, type AuditInput, type ChainAnchor, headSealValid, sealAnchor, sealRecords, withholdUnloggable } from '../audit.js';
import type { Fetcher } from '../fetcher.js';
import { type AuditContent, type Change, ConcurrentAppendError, type CrlRecord, DEFAULT_SETTINGS, type TrustSettings, type TrustSnapshot, type TrustStorePort, settingsFrom } from '../model.js';
import { RevocationIndex } from '../revocation-index.js';
import { cryptoRandom } from '../schedule.js';
import { IntegrityLatch } from './integrity.js';
import { type SealAccount, type SealedState, baselineInputs, noteRecords, readAccount, sealHash, sealInputs, sealProblem } from './store-seal.js';
import { type ImportReport, type Plan, exact } from './plan.js';

export interface TrustServiceDeps {
  store: TrustStorePort;
  /** How directory URLs are fetched; refresh() needs one. */
  fetcher?: Fetcher;
  /** Milliseconds since the epoch (default Date.now). */
  clock?: () => number;
  /** Uniform in [0, 1) (default: the platform CSPRNG). Draws the installation's CRL slot. */
  random?: () => number;
  /** Who acts when a call does not say (the session layer sets the logged-in user). */
  actor?: AuditActor;
}

export interface LoadedCrl {
  meta: CrlRecord;
  index: RevocationIndex;
}

/** What the views read: the snapshot as last loaded, and the clock revocation answers use. */
export interface TrustState {
  readonly snap: TrustSnapshot;
  readonly conf: TrustSettings;
  readonly byIssuer: ReadonlyMap<string, LoadedCrl[]>;
  readonly clock: () => number;
}

const MAX_COMMIT_ATTEMPTS = 8;

export class TrustContext implements TrustState {
  readonly store: TrustStorePort;
  readonly fetcher: Fetcher | undefined;
  readonly clock: () => number;
  readonly random: () => number;
  defaultActor: AuditActor;
  readonly verifier = new Verifier();
  readonly latch: IntegrityLatch;

  snap: TrustSnapshot = { cas: [], recipients: [], crls: [], sources: [], settings: [], meta: [] };
  conf: TrustSettings = { ...DEFAULT_SETTINGS };
  readonly certs = new Map<string, Cert>();
  /** Indexes by CRL sha256 (survive reloads while the CRL is unchanged). */
  readonly indexes = new Map<string, RevocationIndex>();
  /** The seal hash of each index as it was read from (or written to) the store, by CRL sha256. */
  readonly indexSeals = new Map<string, string>();
  /** The journal's account of the trust records (store-seal.ts), as last read and since committed. */
  private account: SealAccount | undefined;
  byIssuer = new Map<string, LoadedCrl[]>();
  private reloads = 0;
  private latestReload: Promise<void> = Promise.resolve();
  /** Tail of this instance's audit appends (they run one at a time). */
  private appending: Promise<unknown> = Promise.resolve();

  constructor(deps: TrustServiceDeps) {
    this.store = deps.store;
    this.fetcher = deps.fetcher;
    this.clock = deps.clock ?? Date.now;
    this.random = deps.random ?? cryptoRandom;
    this.defaultActor = deps.actor ?? 'system';
    this.latch = new IntegrityLatch(this.store, this.clock);
  }

  /**
   * Re-reads the store (another tab may have changed it). Reloads may overlap (a commit here,
   * a broadcast from another tab): only the most recently started one is applied, so an older
   * snapshot never replaces a newer one, and an overtaken reload waits for the newer one.
   */
  reload(): Promise<void> {
    const run = this.loadSnapshot(++this.reloads).catch((e: unknown) => {
      // Fail closed (issue 24 defect 4): what cannot be read back cannot be checked either; the
      // sensitive functions block as for an altered journal, until the administrator acts.
      this.latch.tamper({ ok: false, index: -1, problem: 'unverifiable', message: `magasin de certificats illisible (${e instanceof Error ? e.message : String(e)})` });
      throw e;
    });
    this.latestReload = run;
    return run;
  }

  private async loadSnapshot(ticket: number): Promise<void> {
    const snap = await this.store.load();
    const conf = settingsFrom(snap.settings);
    const certs = new Map<string, Cert>();
    for (const c of [...snap.cas, ...snap.recipients]) {
      certs.set(c.fingerprint, this.certs.get(c.fingerprint) ?? parseCertificate(exact(c.der)));
    }
    const byIssuer = new Map<string, LoadedCrl[]>();
    const live = new Set<string>();
    for (const meta of snap.crls) {
      let index = this.indexes.get(meta.sha256);
      if (!index) {
        const rec = await this.store.crlIndex(meta.id);
        if (!rec || rec.sha256 !== meta.sha256) continue; // written by a newer commit: next reload
        index = new RevocationIndex(rec.buffer);
        this.indexes.set(meta.sha256, index);
        this.indexSeals.set(meta.sha256, sealHash('crlIndex', rec));
      }
      live.add(meta.sha256);
      const list = byIssuer.get(meta.issuerKey) ?? [];
      list.push({ meta, index });
      byIssuer.set(meta.issuerKey, list);
    }
    if (ticket !== this.reloads) {
      await this.latestReload;
      return;
    }
    for (const k of [...this.indexes.keys()]) if (!live.has(k)) this.indexes.delete(k);
    for (const k of [...this.indexSeals.keys()]) if (!live.has(k)) this.indexSeals.delete(k);
    this.certs.clear();
    for (const [k, v] of certs) this.certs.set(k, v);
    this.snap = snap;
    this.conf = conf;
    this.byIssuer = byIssuer;
    await this.recheckStore();
  }

  /** The trust records as loaded, for their seals. */
  private sealState(): SealedState {
    return { cas: this.snap.cas, recipients: this.snap.recipients, crls: this.snap.crls, settings: this.snap.settings, indexSeals: this.indexSeals };
  }

  /**
   * Compares the stored trust records with the journal's account of them (store-seal.ts) and
   * latches the block on any difference. A journal from before the seals (records, none of
   * them a seal) gets its baseline first. Called at open and whenever the journal is verified.
   */
  async checkStore(content?: AuditContent): Promise<void> {
    if (this.latch.state.state !== 'intact') return;
    const a = content ?? (await this.store.audit());
    const account = readAccount(a.records);
    const empty = a.records.length === 0 && !a.anchor;
    this.account = account;
    if (!account.sealed && !empty) {
      await this.commit([], baselineInputs(this.sealState(), 'system', 'migration'));
      return;
    }
    const p = sealProblem(this.sealState(), account, empty);
    if (p) throw this.latch.tamper({ ok: false, index: -1, problem: p.problem, message: p.message });
  }

  /**
   * After a reload: the records read must match the account already known (this instance's
   * commits included); on a difference the journal is read again (another tab committed), and
   * a difference that remains blocks.
   */
  private async recheckStore(): Promise<void> {
    if (!this.account || this.latch.state.state !== 'intact') return;
    if (!sealProblem(this.sealState(), this.account, false)) return;
    await this.checkStore();
  }

  /** A seal for every trust record now stored (a reset's or a purge's baseline). */
  baseline(reason: 'integrity' | 'retention'): AuditInput[] {
    return baselineInputs(this.sealState(), 'system', reason);
  }

  /**
   * Runs `work` after this tab's pending appends and, across tabs, under the store's lock when
   * it has one; the head check in the commit remains the guarantee.
   */
  serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.appending.then(() => (this.store.lock ? this.store.lock('audit-append', work) : work()));
    this.appending = run.catch(() => undefined);
    return run;
  }

  /**
   * Seals the audit records on the current head and commits them with `changes`, retrying
   * when another tab appended in between (the store refuses a moved head).
   */
  async commit(changes: Change[], inputs: AuditInput[], purge?: { remove: number[]; anchor: Omit<ChainAnchor, 'mac'> }, external = false): Promise<void> {
    this.latch.require();
    const key = this.latch.key;
    if (!key) throw this.latch.tamper({ ok: false, index: 0, problem: 'key_missing', message: 'La clé de scellement du journal est absente.' });
    const now = this.clock();
    // The service's own events describe objects it parsed: names the trail would refuse are
    // withheld rather than failing the import. Events from other modules are checked as given.
    const given = external ? inputs : inputs.map(withholdUnloggable);
    // Every write of a trust record is sealed in the same commit (store-seal.ts).
    const events = [...given, ...sealInputs(changes, given[0]?.actor ?? this.defaultActor)];
    const anchor = purge ? { remove: purge.remove, anchor: await sealAnchor(purge.anchor, key) } : undefined;
    const attempt = async (): Promise<void> => {
      for (let n = 1; ; n++) {
        const head = await this.store.auditHead();
        // Never chain onto a head this key did not seal (edited, deleted, or resealed with another key).
        if (!(await headSealValid(head, key))) {
          throw this.latch.tamper({ ok: false, index: 0, problem: 'head', message: head ? 'La fin du journal (dernier enregistrement connu) a été modifiée.' : 'La fin du journal (dernier enregistrement connu) a été supprimée.' });
        }
        const sealed = await sealRecords(events, head, now, key);
        try {
          await this.store.commit(changes, anchor ? { expectHead: head, records: sealed.records, head: sealed.head, purge: anchor } : { expectHead: head, records: sealed.records, head: sealed.head });
          if (this.account) noteRecords(this.account, sealed.records);
          for (const c of changes) if (c.store === 'crlIndex' && 'put' in c) this.indexSeals.set(c.put.sha256, sealHash('crlIndex', c.put));
          return;
        } catch (e) {
          if (!(e instanceof ConcurrentAppendError) || n >= MAX_COMMIT_ATTEMPTS) throw e;
          // Another writer without the lock (an older tab): back off a little, then rechain.
          await new Promise((r) => setTimeout(r, Math.floor(this.random() * 20 * n)));
        }
      }
    };
    return this.serialised(attempt);
  }

  /** Commits with audit, then re-reads the store: what most operations end with. */
  async commitAndReload(changes: Change[], inputs: AuditInput[]): Promise<void> {
    await this.commit(changes, inputs);
    await this.reload();
  }

  /** Commits a prepared plan (with writes and records of the caller's own), caches its index. */
  async apply(plan: Plan, extra: Change[] = [], extraEvents: AuditInput[] = []): Promise<ImportReport> {
    const changes = [...plan.changes, ...extra];
    const events = [...plan.events, ...extraEvents];
    if (changes.length || events.length) await this.commit(changes, events);
    if (plan.index) this.indexes.set(plan.index.sha256, new RevocationIndex(plan.index.buffer));
    await this.reload();
    return plan.report;
  }
}
