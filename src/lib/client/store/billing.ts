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
 * Encrypted at rest (docs/adr/0014-invoices-at-rest.md): an invoice's content (the patient, the
 * acts, the documents) is sealed under the data key of the card that made it (./at-rest.ts),
 * with its id, key id, history and summary as associated data; only the history (events carry
 * no personal data) and the summary (src/lib/billing/summary.ts) stay in clear, for the lists
 * a locked session still shows. Lots hold no personal data and stay in clear, with a tag under
 * the same key. Each record names its card's key: a card reads and changes only its own.
 */
import type { IDBPDatabase } from 'idb';
import type { Connection } from './connection.js';
import { AtRestError, seal, unseal, type DataKey } from './at-rest.js';
import { BILLING_DB, billingConnection, type BillingDb, type InvoiceListing, type OutboxEntry, type ReturnStatus, type ReturnSummary, type StoredFile, type StoredInvoice, type StoredLot, type StoredReturn } from './billing-db.js';
import type { SentFile } from '../../billing/transmit.js';
import type { OctConfig } from '../../sesam/routing.js';
import type { BillingEvent, InvoiceRecord, LotRecord } from '../../billing/lifecycle.js';
import { summarizeInvoice } from '../../billing/summary.js';
import { sha256Sync } from '../../trust/sha256.js';
import type { TransmissionSetting } from '../billing/transmission-setting.js';

export { BILLING_DB, type InvoiceListing, type OutboxEntry, type ReturnStatus, type ReturnSummary, type StoredInvoice, type StoredLot, type StoredReturn } from './billing-db.js';

/** A billing file as first sent (its invoices inside: sealed), to send it again identically. */
export interface KeptFile {
  /** `<billing number>:<file name>` (fileId). */
  readonly id: string;
  readonly lotIds: readonly string[];
  /** The file as first sent, and the OCT it went through (none: direct). */
  readonly content: SentFile & { readonly oct?: OctConfig };
}

export const fileId = (sender: string, fileName: string): string => `${sender}:${fileName}`;

/** A return as the workstation keeps it: its bytes sealed, what it did in clear. */
export interface KeptReturn {
  readonly id: string;
  readonly receivedAt: string;
  readonly storedAt: string;
  readonly status: ReturnStatus;
  readonly summary: ReturnSummary;
  /** The message as the relay gave it. */
  readonly raw: Uint8Array;
}

/** What a restore did, by kind of record: counts and ids only (never a name or an amount). */
export interface RestoreReport {
  /** Records this workstation did not have, written. */
  readonly added: { readonly invoices: number; readonly lots: number; readonly files: number; readonly returns: number; readonly messages: number };
  /** Invoices and lots the backup holds further along than this workstation: brought up to date. */
  readonly updated: number;
  /** Records this workstation holds as they are in the backup, or further along: left as they are. */
  readonly kept: number;
  /** Invoices and lots whose history here and in the backup differ: this workstation's copy is kept. */
  readonly diverged: readonly string[];
  /** Preferences came back from the file (all of them, or what this workstation lacked). */
  readonly profile: boolean;
}

/** The rows of a backup file (backup-read.ts), as stored. */
export interface BackupRows {
  readonly profile: { readonly keyId: string; readonly sealed: StoredProfileSealed } | null;
  readonly invoices: readonly StoredInvoice[];
  readonly lots: readonly StoredLot[];
  readonly outbox: readonly OutboxEntry[];
  readonly files: readonly StoredFile[];
  readonly returns: readonly StoredReturn[];
}
type StoredProfileSealed = import('./at-rest.js').Sealed;

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
/** `a` is `b` or the start of it, event for event. */
const isPrefix = (a: readonly BillingEvent[], b: readonly BillingEvent[]): boolean => a.length <= b.length && a.every((e, i) => sameEvent(e, b[i]!));

export type BillingStoreErrorCode =
  | 'history_conflict'
  | 'record_invalid'
  /** The record belongs to another card's key. */
  | 'record_foreign'
  /** Its sealed content or its tag does not open: altered, or not what it says it is. */
  | 'record_unreadable';

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

function checkOwner(kind: 'facture' | 'lot' | 'retour' | 'fichier' | 'message' | 'préférences', id: string, stored: { keyId: string } | undefined, key: DataKey): void {
  if (stored && stored.keyId !== key.keyId) throw new BillingStoreError('record_foreign', id, `${kind} ${id} : enregistré avec une autre carte.`);
}

/** Deep-freezes what structured clone gave back (typed arrays cannot be frozen: left as they are). */
function frozen<T>(value: T): T {
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

const enc = new TextEncoder();

/** Associated data of a card's sealed preferences. */
const profileAad = (keyId: string): Uint8Array => enc.encode(`teletrans-profile-v1\0${keyId}`);

/** Associated data: what the sealed value is, and the clear part it goes with. */
async function aad(kind: 'invoice' | 'lot' | 'file' | 'return', keyId: string, id: string, clear: unknown): Promise<Uint8Array> {
  const head = enc.encode(`teletrans-${kind}-v1\0${keyId}\0${id}\0`);
  // Synchronous: a few hundred bytes, hashed at every commit and every read; a WebCrypto round
  // trip per record cost more than the hash (issue 16's store overhead). Same SHA-256.
  const digest = sha256Sync(enc.encode(JSON.stringify(clear)));
  const out = new Uint8Array(head.length + 32);
  out.set(head);
  out.set(digest, head.length);
  return out;
}

type InvoiceContent = Omit<InvoiceRecord, 'id' | 'history'>;

async function sealInvoice(r: InvoiceRecord, key: DataKey): Promise<StoredInvoice> {
  const summary = summarizeInvoice(r);
  const { id, history, ...content } = r;
  const sealed = await seal(key, content satisfies InvoiceContent, await aad('invoice', key.keyId, id, { history, summary }));
  return { id, keyId: key.keyId, history, summary, sealed };
}

async function openInvoice(row: StoredInvoice, key: DataKey): Promise<InvoiceRecord> {
  checkOwner('facture', row.id, row, key);
  let content: InvoiceContent;
  try {
    content = await unseal<InvoiceContent>(key, row.sealed, await aad('invoice', key.keyId, row.id, { history: row.history, summary: row.summary }));
  } catch (e) {
    if (e instanceof AtRestError) throw new BillingStoreError('record_unreadable', row.id, `facture ${row.id} : contenu chiffré illisible ou modifié (${e.message})`);
    throw e;
  }
  return frozen({ id: row.id, ...content, history: row.history });
}

async function tagLot(l: LotRecord, key: DataKey): Promise<StoredLot> {
  return { id: l.id, keyId: key.keyId, lot: l, tag: await seal(key, null, await aad('lot', key.keyId, l.id, l)) };
}

async function openLot(row: StoredLot, key: DataKey): Promise<LotRecord> {
  checkOwner('lot', row.id, row, key);
  try {
    await unseal(key, row.tag, await aad('lot', key.keyId, row.id, row.lot));
  } catch {
    throw new BillingStoreError('record_unreadable', row.id, `lot ${row.id} : enregistrement modifié.`);
  }
  return frozen(row.lot);
}

async function sealFile(f: KeptFile, key: DataKey): Promise<StoredFile> {
  return { id: f.id, keyId: key.keyId, lotIds: f.lotIds, sealed: await seal(key, f.content, await aad('file', key.keyId, f.id, f.lotIds)) };
}

async function openFile(row: StoredFile, key: DataKey): Promise<KeptFile> {
  checkOwner('fichier', row.id, row, key);
  try {
    return frozen({ id: row.id, lotIds: row.lotIds, content: await unseal<KeptFile['content']>(key, row.sealed, await aad('file', key.keyId, row.id, row.lotIds)) });
  } catch {
    throw new BillingStoreError('record_unreadable', row.id, `fichier ${row.id} : contenu chiffré illisible ou modifié.`);
  }
}

async function sealReturn(r: KeptReturn, key: DataKey): Promise<StoredReturn> {
  const { raw, ...clear } = r;
  return { ...clear, keyId: key.keyId, sealed: await seal(key, { raw }, await aad('return', key.keyId, r.id, clear)) };
}

async function openReturn(row: StoredReturn, key: DataKey): Promise<KeptReturn> {
  checkOwner('retour', row.id, row, key);
  const { keyId: _k, sealed, ...clear } = row;
  try {
    const { raw } = await unseal<{ raw: Uint8Array }>(key, sealed, await aad('return', key.keyId, row.id, clear));
    return frozen({ ...clear, raw });
  } catch {
    throw new BillingStoreError('record_unreadable', row.id, `retour ${row.id} : contenu chiffré illisible ou modifié.`);
  }
}

/** What the page remembers for a card between sessions (never a patient's data). */
export interface PractitionerProfile {
  /** The mailbox the relay sends this practitioner's messages from (known after a first login). */
  readonly mailbox?: string;
  /** The billing situation last chosen. */
  readonly billingNumber?: string;
  /** Direct to the insurers (absent) or through an OCT (../billing/transmission-setting.ts). */
  readonly transmission?: TransmissionSetting;
}

export class IdbBillingStore {
  private readonly connection: Connection<BillingDb>;

  /** `dbName` is for tests; the app uses the default. */
  constructor(dbName: string = BILLING_DB) {
    this.connection = billingConnection(dbName);
  }

  private open(): Promise<IDBPDatabase<BillingDb>> {
    return this.connection.get();
  }

  /**
   * Writes the records one operation changed, all or nothing, durable before it resolves, sealed
   * under `key`. Throws `history_conflict` (nothing written) when any of them was changed
   * meanwhile, `record_foreign` when one belongs to another card.
   */
  async commit(change: { invoices?: readonly InvoiceRecord[]; lots?: readonly LotRecord[]; outbox?: readonly OutboxEntry[]; files?: readonly KeptFile[]; returns?: readonly KeptReturn[] }, key: DataKey): Promise<void> {
    // Sealed before the transaction opens: WebCrypto's promises would let it commit midway.
    const invoiceRows = await Promise.all((change.invoices ?? []).map((r) => sealInvoice(r, key)));
    const lotRows = await Promise.all((change.lots ?? []).map((l) => tagLot(l, key)));
    const fileRows = await Promise.all((change.files ?? []).map((f) => sealFile(f, key)));
    const returnRows = await Promise.all((change.returns ?? []).map((r) => sealReturn(r, key)));
    const db = await this.open();
    const tx = db.transaction(['invoices', 'lots', 'outbox', 'files', 'returns'], 'readwrite', { durability: 'strict' });
    try {
      // A file is kept once, as first sent: never replaced.
      for (const f of fileRows) await tx.objectStore('files').add(f);
      // A return is written again when what it did changes (waiting → applied).
      for (const r of returnRows) {
        const stored = await tx.objectStore('returns').get(r.id);
        checkOwner('retour', r.id, stored, key);
        await tx.objectStore('returns').put(r);
      }
      const invoices = tx.objectStore('invoices');
      const lots = tx.objectStore('lots');
      // New messages only: an id already there is a bug, never an overwrite.
      for (const m of change.outbox ?? []) {
        if (m.keyId !== key.keyId) throw new BillingStoreError('record_foreign', m.id, `message ${m.id} : d’une autre carte.`);
        await tx.objectStore('outbox').add(m);
      }
      for (const row of invoiceRows) {
        const stored = await invoices.get(row.id);
        checkOwner('facture', row.id, stored, key);
        checkExtends('facture', row.id, stored, row);
        await invoices.put(row);
      }
      for (const row of lotRows) {
        const stored = await lots.get(row.id);
        checkOwner('lot', row.id, stored, key);
        checkExtends('lot', row.id, stored?.lot, row.lot);
        await lots.put(row);
      }
    } catch (e) {
      tx.abort();
      await tx.done.catch(() => undefined);
      throw e;
    }
    await tx.done;
  }

  async getInvoice(id: string, key: DataKey): Promise<InvoiceRecord | undefined> {
    const row = await (await this.open()).get('invoices', id);
    return row && openInvoice(row, key);
  }

  /** This card's invoices, opened. One that does not open fails the call (never skipped silently). */
  async listInvoices(key: DataKey): Promise<InvoiceRecord[]> {
    const rows = await (await this.open()).getAllFromIndex('invoices', 'keyId', key.keyId);
    return Promise.all(rows.map((r) => openInvoice(r, key)));
  }

  /** The clear part of a card's invoices, for the lists a locked session shows (unverified until opened). */
  async listSummaries(keyId: string): Promise<InvoiceListing[]> {
    const rows = await (await this.open()).getAllFromIndex('invoices', 'keyId', keyId);
    return rows.map((r) => frozen({ id: r.id, summary: r.summary }));
  }

  async getLot(id: string, key: DataKey): Promise<LotRecord | undefined> {
    const row = await (await this.open()).get('lots', id);
    return row && openLot(row, key);
  }

  async listLots(key: DataKey): Promise<LotRecord[]> {
    const rows = await (await this.open()).getAllFromIndex('lots', 'keyId', key.keyId);
    return Promise.all(rows.map((r) => openLot(r, key)));
  }

  /** This card's messages as sent (which lots each carried): what returns are matched against. */
  async listSent(keyId: string): Promise<{ messageId: string; compostage: string; lotIds: readonly string[]; to: string }[]> {
    const rows = await (await this.open()).getAllFromIndex('outbox', 'keyId', keyId);
    return rows.map((m) => ({ messageId: m.messageId, compostage: m.compostage, lotIds: m.lotIds, to: m.to }));
  }

  /** The file a lot was first sent in, opened (undefined when none was kept: sent before version 5). */
  async getFile(id: string, key: DataKey): Promise<KeptFile | undefined> {
    const row = await (await this.open()).get('files', id);
    return row && openFile(row, key);
  }

  async getReturn(id: string, key: DataKey): Promise<KeptReturn | undefined> {
    const row = await (await this.open()).get('returns', id);
    return row && openReturn(row, key);
  }

  /** The clear part of this card's returns (what the lists show, also while locked). */
  async listReturnSummaries(keyId: string): Promise<Omit<StoredReturn, 'sealed'>[]> {
    const rows = await (await this.open()).getAllFromIndex('returns', 'keyId', keyId);
    return rows.map(({ sealed: _s, ...clear }) => frozen(clear));
  }

  /**
   * Deletes this card's invoices and lots that retention lets go (src/lib/billing/retention.ts),
   * with the outbox messages that carried only those lots, in one durable transaction. A record
   * of another card is refused (`record_foreign`) and nothing is deleted. Returns the counts.
   */
  async purge(p: { invoices: readonly string[]; lots: readonly string[] }, key: DataKey): Promise<{ invoices: number; lots: number; messages: number }> {
    const db = await this.open();
    const tx = db.transaction(['invoices', 'lots', 'outbox', 'files'], 'readwrite', { durability: 'strict' });
    try {
      let invoices = 0;
      let lots = 0;
      let messages = 0;
      for (const id of p.invoices) {
        const row = await tx.objectStore('invoices').get(id);
        if (!row) continue;
        checkOwner('facture', id, row, key);
        await tx.objectStore('invoices').delete(id);
        invoices++;
      }
      const gone = new Set<string>();
      for (const id of p.lots) {
        const row = await tx.objectStore('lots').get(id);
        if (!row) continue;
        checkOwner('lot', id, row, key);
        await tx.objectStore('lots').delete(id);
        gone.add(id);
        lots++;
      }
      for (const m of await tx.objectStore('outbox').index('keyId').getAll(key.keyId)) {
        if (m.lotIds.length > 0 && m.lotIds.every((l) => gone.has(l)) && (m.state === 'delivered' || m.state === 'refused')) {
          await tx.objectStore('outbox').delete(m.id);
          messages++;
        }
      }
      // A kept file goes with the last of its lots (its invoices inside are past retention too).
      for (const f of await tx.objectStore('files').index('keyId').getAll(key.keyId)) {
        if (f.lotIds.length > 0 && f.lotIds.every((l) => gone.has(l))) await tx.objectStore('files').delete(f.id);
      }
      await tx.done;
      return { invoices, lots, messages };
    } catch (e) {
      tx.abort();
      await tx.done.catch(() => undefined);
      throw e;
    }
  }

  /** This card's preferences (sealed: a mailbox may name the practitioner), or undefined. */
  async getProfile(key: DataKey): Promise<PractitionerProfile | undefined> {
    const row = await (await this.open()).get('profiles', key.keyId);
    if (!row) return undefined;
    try {
      return frozen(await unseal<PractitionerProfile>(key, row.sealed, profileAad(key.keyId)));
    } catch {
      throw new BillingStoreError('record_unreadable', key.keyId, 'préférences de la carte illisibles ou modifiées.');
    }
  }

  async putProfile(key: DataKey, profile: PractitionerProfile): Promise<void> {
    const sealed = await seal(key, profile, profileAad(key.keyId));
    const db = await this.open();
    const tx = db.transaction('profiles', 'readwrite', { durability: 'strict' });
    await tx.store.put({ keyId: key.keyId, sealed });
    await tx.done;
  }

  /**
   * Every record of the card `from` moved under the card `to` (a renewed card given back its
   * holder's records, ADR 0028): each opened with the old key, sealed again with the new, in one
   * transaction, the old profile dropped (the new card keeps its own). Returns how many invoices.
   */
  async rekey(from: DataKey, to: DataKey): Promise<number> {
    const db = await this.open();
    const [invoices, lots, files, returns, outbox] = await Promise.all([
      db.getAllFromIndex('invoices', 'keyId', from.keyId),
      db.getAllFromIndex('lots', 'keyId', from.keyId),
      db.getAllFromIndex('files', 'keyId', from.keyId),
      db.getAllFromIndex('returns', 'keyId', from.keyId),
      db.getAllFromIndex('outbox', 'keyId', from.keyId),
    ]);
    const invoiceRows = await Promise.all(invoices.map(async (r) => sealInvoice(await openInvoice(r, from), to)));
    const lotRows = await Promise.all(lots.map(async (l) => tagLot(await openLot(l, from), to)));
    const fileRows = await Promise.all(files.map(async (f) => sealFile(await openFile(f, from), to)));
    const returnRows = await Promise.all(returns.map(async (r) => sealReturn(await openReturn(r, from), to)));
    const tx = db.transaction(['invoices', 'lots', 'outbox', 'files', 'returns', 'profiles'], 'readwrite', { durability: 'strict' });
    try {
      for (const r of invoiceRows) await tx.objectStore('invoices').put(r);
      for (const r of lotRows) await tx.objectStore('lots').put(r);
      for (const r of fileRows) await tx.objectStore('files').put(r);
      for (const r of returnRows) await tx.objectStore('returns').put(r);
      for (const m of outbox) await tx.objectStore('outbox').put({ ...m, keyId: to.keyId });
      await tx.objectStore('profiles').delete(from.keyId);
    } catch (e) {
      tx.abort();
      await tx.done.catch(() => undefined);
      throw e;
    }
    await tx.done;
    return invoiceRows.length;
  }

  /**
   * Brings back a backup's rows (backup-read.ts) sealed under `from` (the file's key, opened by
   * the card) into this workstation under `to` (its own key for the same card). Every row is
   * opened first — one that does not open (altered, another key) refuses the whole restore,
   * nothing written. Then, in one transaction, nothing newer is ever overwritten: a record
   * absent here is added; an invoice or lot whose history here is the start of the backup's is
   * brought up to date; one as far along here, or further, is kept; one whose histories differ
   * is kept as it is here and named in `diverged`. Files, returns and outbox messages are added
   * when absent. `beforeWrite` gets every record opened, before anything is written (the
   * numbering raised past their numbers first: a crash between leaves a gap, never a repeat).
   */
  async restore(rows: BackupRows, from: DataKey, to: DataKey, o: { beforeWrite?: (opened: { invoices: readonly InvoiceRecord[]; lots: readonly LotRecord[] }) => Promise<void> } = {}): Promise<RestoreReport> {
    const invoices = await Promise.all(rows.invoices.map((r) => openInvoice(r, from)));
    const lots = await Promise.all(rows.lots.map((r) => openLot(r, from)));
    const files = await Promise.all(rows.files.map((r) => openFile(r, from)));
    const returns = await Promise.all(rows.returns.map((r) => openReturn(r, from)));
    for (const m of rows.outbox) checkOwner('message', m.id, m, from);
    let profile: PractitionerProfile | undefined;
    if (rows.profile) {
      checkOwner('préférences', rows.profile.keyId, rows.profile, from);
      try {
        profile = await unseal<PractitionerProfile>(from, rows.profile.sealed, profileAad(from.keyId));
      } catch {
        throw new BillingStoreError('record_unreadable', from.keyId, 'préférences de la sauvegarde illisibles ou modifiées.');
      }
    }
    // Sealed under this workstation's key before the transaction: it cannot wait for WebCrypto.
    const [invoiceRows, lotRows, fileRows, returnRows] = await Promise.all([
      Promise.all(invoices.map((r) => sealInvoice(r, to))),
      Promise.all(lots.map((l) => tagLot(l, to))),
      Promise.all(files.map((f) => sealFile(f, to))),
      Promise.all(returns.map((r) => sealReturn(r, to))),
    ]);
    // The preferences: this workstation's win; what it lacks (the last situation, the way of
    // transmitting) comes from the file. Written only if the row read here is still the one.
    const hereProfileRow = await (await this.open()).get('profiles', to.keyId);
    let hereProfile: PractitionerProfile | undefined;
    if (hereProfileRow) {
      try {
        hereProfile = await unseal<PractitionerProfile>(to, hereProfileRow.sealed, profileAad(to.keyId));
      } catch {
        throw new BillingStoreError('record_unreadable', to.keyId, 'préférences de la carte illisibles ou modifiées.');
      }
    }
    const mergedProfile = profile ? { ...profile, ...hereProfile } : undefined;
    const profileChanged = mergedProfile !== undefined && Object.keys(mergedProfile).length > Object.keys(hereProfile ?? {}).length;
    const profileSealed = profileChanged ? await seal(to, mergedProfile, profileAad(to.keyId)) : undefined;
    await o.beforeWrite?.({ invoices, lots });
    const added = { invoices: 0, lots: 0, files: 0, returns: 0, messages: 0 };
    let updated = 0;
    let kept = 0;
    const diverged: string[] = [];
    let profileBack = false;
    const db = await this.open();
    const tx = db.transaction(['invoices', 'lots', 'outbox', 'files', 'returns', 'profiles'], 'readwrite', { durability: 'strict' });
    try {
      // The history a row here has: an invoice's beside it, a lot's inside it.
      const historyOf = (store: 'invoices' | 'lots', row: unknown): readonly BillingEvent[] =>
        store === 'lots' ? (row as StoredLot).lot.history : (row as StoredInvoice).history;
      const merge = async (store: 'invoices' | 'lots', row: StoredInvoice | StoredLot): Promise<void> => {
        const here = (await tx.objectStore(store).get(row.id)) as StoredInvoice | StoredLot | undefined;
        if (here && here.keyId !== to.keyId) throw new BillingStoreError('record_foreign', row.id, `${row.id} : enregistré ici avec une autre carte.`);
        const theirs = historyOf(store, row);
        if (!here) {
          await tx.objectStore(store).put(row as never);
          added[store]++;
        } else if (isPrefix(theirs, historyOf(store, here))) kept++;
        else if (isPrefix(historyOf(store, here), theirs)) {
          await tx.objectStore(store).put(row as never);
          updated++;
        } else diverged.push(row.id);
      };
      for (const r of invoiceRows) await merge('invoices', r);
      for (const r of lotRows) await merge('lots', r);
      const addAbsent = async (store: 'files' | 'returns' | 'outbox', row: { id: string; keyId: string }, kind: 'files' | 'returns' | 'messages'): Promise<void> => {
        const here = (await tx.objectStore(store).get(row.id)) as { keyId: string } | undefined;
        if (here && here.keyId !== to.keyId) throw new BillingStoreError('record_foreign', row.id, `${row.id} : enregistré ici avec une autre carte.`);
        if (here) kept++;
        else {
          await tx.objectStore(store).put(row as never);
          added[kind]++;
        }
      };
      for (const r of fileRows) await addAbsent('files', r, 'files');
      for (const r of returnRows) await addAbsent('returns', r, 'returns');
      for (const m of rows.outbox) await addAbsent('outbox', { ...m, keyId: to.keyId }, 'messages');
      const nowRow = await tx.objectStore('profiles').get(to.keyId);
      const unchanged = nowRow === undefined ? hereProfileRow === undefined : hereProfileRow !== undefined && sameBytes(nowRow.sealed.iv, hereProfileRow.sealed.iv);
      if (profileSealed && unchanged) {
        await tx.objectStore('profiles').put({ keyId: to.keyId, sealed: profileSealed });
        profileBack = true;
      }
    } catch (e) {
      tx.abort();
      await tx.done.catch(() => undefined);
      throw e;
    }
    await tx.done;
    return { added, updated, kept, diverged, profile: profileBack };
  }

  /** Closes the connection (tests, page teardown). */
  close(): Promise<void> {
    return this.connection.close();
  }
}
