/**
 * The IndexedDB database of the trust store, `teletrans-trust`, and its schema history.
 *
 * Its own database (not the one of the outbox or the counters) so that its upgrades never
 * block or get blocked by another module's. Each version is one upgrade step in MIGRATIONS;
 * opening at version N runs the steps after the version found, in order, inside the single
 * versionchange transaction: a tab closed during an upgrade leaves the old version intact.
 * Steps only do IndexedDB requests and synchronous work (parsing, index building, the
 * synchronous SHA-256): awaiting anything else would let the upgrade transaction commit
 * before the step is done.
 *
 *   v1  cas (fingerprint), recipients (fingerprint; index mailbox), crls (issuerKey; DER
 *       inline), settings (key), audit (seq).
 *   v2  the persisted revocation index: crls re-keyed by id (issuer name + key id) holding
 *       metadata only, the DER moved to crlDer, the index built into crlIndex.
 *   v3  sources (directory URLs and their schedule state) and meta (audit head and anchor,
 *       the audit MAC key and its check, alert bookkeeping); recipients get `usage` and are indexed by
 *       `recipient` (was `mailbox`); cas indexed by subjectKey and hierarchy; the audit head
 *       recorded from the existing chain. An older journal stays unsealed: it fails
 *       verification until an administrator resets it (docs/adr/0002-audit-seal.md).
 */
import { type DBSchema, type IDBPDatabase, type IDBPTransaction, deleteDB, openDB } from 'idb';
import { parseCrl } from '$lib/pki/crl';
import type { AuditRecord } from '$lib/trust/audit';
import {
  type CaRecord,
  type CrlDerRecord,
  type CrlIndexRecord,
  type CrlRecord,
  type MetaRecord,
  type RecipientRecord,
  type SettingRecord,
  type SourceRecord,
  crlId,
  crlNumberHex,
  crlScope,
} from '$lib/trust/model';
import { buildRevocationIndex } from '$lib/trust/revocation-index';
import { sha256HexSync } from '$lib/trust/sha256';

export const TRUST_DB_NAME = 'teletrans-trust';

/** The latest schema. */
export interface TrustDb extends DBSchema {
  cas: { key: string; value: CaRecord; indexes: { subjectKey: string; hierarchy: string } };
  recipients: { key: string; value: RecipientRecord; indexes: { recipient: string } };
  crls: { key: string; value: CrlRecord; indexes: { issuerKey: string } };
  crlDer: { key: string; value: CrlDerRecord };
  crlIndex: { key: string; value: CrlIndexRecord };
  sources: { key: string; value: SourceRecord };
  settings: { key: string; value: SettingRecord };
  meta: { key: string; value: MetaRecord };
  audit: { key: number; value: AuditRecord };
}

/** Shapes of older versions, for the steps that read them. */
export interface RecipientRecordV1 extends Omit<RecipientRecord, 'recipient' | 'usage'> {
  mailbox: string;
}

export interface CrlRecordV1 {
  issuerKey: string;
  issuer: string;
  issuerFingerprint: string;
  hierarchy: string;
  der: Uint8Array;
  thisUpdate: number;
  nextUpdate: number;
  importedAt: number;
}

/* Steps run on an untyped view: each version has its own shape. */
type AnyDb = IDBPDatabase<unknown>;
type UpgradeTx = IDBPTransaction<unknown, string[], 'versionchange'>;
export type Migration = (db: AnyDb, tx: UpgradeTx) => Promise<void>;

export const MIGRATIONS: readonly Migration[] = [
  // v1
  async (db) => {
    db.createObjectStore('cas', { keyPath: 'fingerprint' });
    db.createObjectStore('recipients', { keyPath: 'fingerprint' }).createIndex('mailbox', 'mailbox');
    db.createObjectStore('crls', { keyPath: 'issuerKey' });
    db.createObjectStore('settings', { keyPath: 'key' });
    db.createObjectStore('audit', { keyPath: 'seq' });
  },
  // v2: persisted revocation index
  async (db, tx) => {
    const old = (await tx.objectStore('crls').getAll()) as CrlRecordV1[];
    db.deleteObjectStore('crls');
    const crls = db.createObjectStore('crls', { keyPath: 'id' });
    crls.createIndex('issuerKey', 'issuerKey');
    const ders = db.createObjectStore('crlDer', { keyPath: 'id' });
    const indexes = db.createObjectStore('crlIndex', { keyPath: 'id' });
    for (const v1 of old) {
      let crl;
      try {
        crl = parseCrl(v1.der);
      } catch {
        continue; // unreadable: dropped (it was verified when stored; nothing else can be done)
      }
      const id = crlId(crl);
      const sha256 = sha256HexSync(v1.der);
      const number = crlNumberHex(crl.crlNumber);
      const meta: CrlRecord = {
        id,
        issuerKey: v1.issuerKey,
        issuer: v1.issuer,
        issuerFingerprint: v1.issuerFingerprint,
        hierarchy: v1.hierarchy,
        thisUpdate: crl.thisUpdate,
        nextUpdate: crl.nextUpdate ?? v1.nextUpdate,
        size: crl.size,
        sha256,
        scope: crlScope(crl),
        importedAt: v1.importedAt,
        source: 'migration',
        ...(crl.authorityKeyId ? { authorityKeyId: hex(crl.authorityKeyId) } : {}),
        ...(number ? { crlNumber: number } : {}),
      };
      void crls.put(meta);
      void ders.put({ id, der: v1.der } satisfies CrlDerRecord);
      void indexes.put({ id, sha256, issuerKey: v1.issuerKey, buffer: buildRevocationIndex(crl) } satisfies CrlIndexRecord);
    }
  },
  // v3: sources, meta, recipient usage, CA indexes, audit head
  async (db, tx) => {
    db.createObjectStore('sources', { keyPath: 'url' });
    const meta = db.createObjectStore('meta', { keyPath: 'key' });
    const cas = tx.objectStore('cas');
    cas.createIndex('subjectKey', 'subjectKey');
    cas.createIndex('hierarchy', 'hierarchy');
    const recipients = tx.objectStore('recipients');
    recipients.deleteIndex('mailbox');
    recipients.createIndex('recipient', 'recipient');
    for (const r of (await recipients.getAll()) as RecipientRecordV1[]) {
      const { mailbox, ...rest } = r;
      void recipients.put({ ...rest, recipient: mailbox, usage: 'attachment' } satisfies RecipientRecord);
    }
    const last = await tx.objectStore('audit').openCursor(null, 'prev');
    if (last) {
      const r = last.value as AuditRecord;
      void meta.put({ key: 'audit-head', value: { seq: r.seq, hash: r.hash } } satisfies MetaRecord);
    }
  },
];

export const TRUST_DB_VERSION = MIGRATIONS.length;

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export interface OpenOptions {
  name?: string;
  /** Stop at this version (tests of the migrations); default the latest. */
  version?: number;
  /** Another tab wants to upgrade: this connection is closed (default) so it is not blocked. */
  onVersionChange?: () => void;
}

/** Opens (creating or upgrading) the trust database. */
export function openTrustDb(opts: OpenOptions = {}): Promise<IDBPDatabase<TrustDb>> {
  const version = opts.version ?? TRUST_DB_VERSION;
  if (!Number.isInteger(version) || version < 1 || version > TRUST_DB_VERSION) throw new RangeError(`no schema version ${version}`);
  let db: IDBPDatabase<TrustDb> | undefined;
  const opening = openDB<TrustDb>(opts.name ?? TRUST_DB_NAME, version, {
    async upgrade(raw, oldVersion, newVersion, tx) {
      const target = newVersion ?? version;
      for (let v = oldVersion + 1; v <= target; v++) {
        await MIGRATIONS[v - 1]!(raw as unknown as AnyDb, tx as unknown as UpgradeTx);
      }
    },
    blocking() {
      // A newer version is being opened elsewhere: step aside rather than block it.
      db?.close();
      opts.onVersionChange?.();
    },
  });
  return opening.then((d) => (db = d));
}

/**
 * Deletes the database (tests, "reset" in the settings page) and the audit witness kept
 * beside it (idb-trust-store.ts): a database deleted any other way is reported as tampered.
 */
export async function deleteTrustDb(name: string = TRUST_DB_NAME): Promise<void> {
  await deleteDB(name);
  try {
    if (typeof localStorage !== 'undefined') localStorage.removeItem(`${name}:audit-witness`);
  } catch {
    // storage disabled: there was no witness either
  }
}
