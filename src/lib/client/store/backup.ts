/**
 * A backup file of one card's records on this workstation (issue 14 item 7), in our own format
 * `teletrans-backup-1` (docs/billing/backup.md; not an official norm). Everything personal
 * stays as stored: sealed under the card's data key, with the key slot that wraps it (salt and
 * AES-KW) — so the file opens only with the same card, through a bridge paired with the same
 * origin. What it adds to the workstation's own copy: a copy elsewhere.
 */
import { b64u } from '../../card/protocol.js';
import { billingConnection, type OutboxEntry, type StoredFile, type StoredInvoice, type StoredLot, type StoredProfile, type StoredReturn } from './billing-db.js';
import type { KeySlot } from './at-rest.js';

export const BACKUP_FORMAT = 'teletrans-backup-1';

/** Byte arrays as `{"$b64u": …}` (JSON has no bytes). */
const json = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? { $b64u: b64u(v) } : v)));

export interface BackupFile {
  format: typeof BACKUP_FORMAT;
  createdAt: string;
  origin: string;
  keyId: string;
  slot: unknown;
  profile: unknown;
  invoices: unknown[];
  lots: unknown[];
  outbox: unknown[];
  /** The files as first sent (sealed), to send them again identically. */
  files: unknown[];
  /** The returns received (sealed), with what they did (in clear). */
  returns: unknown[];
}

/** The card's rows as they are stored (sealed), with its key slot. */
export async function backupOf(keyId: string, slot: KeySlot, o: { origin: string; now?: () => number; dbName?: string }): Promise<BackupFile> {
  const connection = billingConnection(o.dbName);
  try {
    const db = await connection.get();
    const tx = db.transaction(['invoices', 'lots', 'outbox', 'profiles', 'files', 'returns']);
    const [invoices, lots, outbox, profile, files, returns] = await Promise.all([
      tx.objectStore('invoices').index('keyId').getAll(keyId) as Promise<StoredInvoice[]>,
      tx.objectStore('lots').index('keyId').getAll(keyId) as Promise<StoredLot[]>,
      tx.objectStore('outbox').index('keyId').getAll(keyId) as Promise<OutboxEntry[]>,
      tx.objectStore('profiles').get(keyId) as Promise<StoredProfile | undefined>,
      tx.objectStore('files').index('keyId').getAll(keyId) as Promise<StoredFile[]>,
      tx.objectStore('returns').index('keyId').getAll(keyId) as Promise<StoredReturn[]>,
    ]);
    await tx.done;
    return {
      format: BACKUP_FORMAT,
      createdAt: new Date(o.now?.() ?? Date.now()).toISOString(),
      origin: o.origin,
      keyId,
      slot: json(slot),
      profile: json(profile ?? null),
      invoices: invoices.map(json),
      lots: lots.map(json),
      outbox: outbox.map(json),
      files: files.map(json),
      returns: returns.map(json),
    };
  } finally {
    await connection.close();
  }
}
