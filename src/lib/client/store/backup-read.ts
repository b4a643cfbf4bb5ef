/**
 * Reading a backup file back (`teletrans-backup-1`, docs/billing/backup.md): the first step of a
 * restore (issue 14 item 7). Pure: it checks the file's shape and that it belongs to this card
 * and this origin, and gives back the rows as the workstation stores them (byte arrays revived).
 * It opens nothing: whether each sealed value opens under the card's key is the restore's next
 * step, with the card. Every refusal is a `BackupReadError` with a reason code, in French.
 */
import { unb64u } from '../../card/protocol.js';
import { BACKUP_FORMAT } from './backup.js';
import type { OutboxEntry, StoredFile, StoredInvoice, StoredLot, StoredProfile, StoredReturn } from './billing-db.js';

export type BackupReadErrorCode = 'not_json' | 'wrong_format' | 'other_card' | 'other_origin' | 'malformed' | 'too_large';

export class BackupReadError extends Error {
  constructor(
    readonly code: BackupReadErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BackupReadError';
  }
}

/** A backup of a year of invoices is a few MB; far more is not one of ours. */
export const BACKUP_MAX_CHARS = 64 * 1024 * 1024;
/** One outbox message at most (the relay's own bound is lower). */
const MAX_BYTES = 32 * 1024 * 1024;

export interface BackupContents {
  readonly createdAt: string;
  readonly keyId: string;
  /** The key slot that wraps the data key the rows are sealed under (salt, wrapped key). */
  readonly slot: { readonly keyId: string; readonly v: 1; readonly salt: Uint8Array; readonly wrapped: Uint8Array; readonly created: string };
  readonly profile: StoredProfile | null;
  readonly invoices: readonly StoredInvoice[];
  readonly lots: readonly StoredLot[];
  readonly outbox: readonly OutboxEntry[];
  /** Absent from files made before the billing database's version 5: empty. */
  readonly files: readonly StoredFile[];
  readonly returns: readonly StoredReturn[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{"$b64u": …}` back to bytes, everywhere in a value. */
function revive(value: unknown, depth = 0): unknown {
  if (depth > 32) throw new BackupReadError('malformed', 'sauvegarde illisible : structure trop profonde.');
  if (Array.isArray(value)) return value.map((v) => revive(v, depth + 1));
  if (!isObject(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === '$b64u') {
    try {
      return unb64u(value.$b64u as string, MAX_BYTES);
    } catch {
      throw new BackupReadError('malformed', 'sauvegarde illisible : octets mal encodés.');
    }
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = revive(value[k], depth + 1);
  return out;
}

function rows<T>(value: unknown, what: string, keyId: string, check: (r: Record<string, unknown>) => boolean): T[] {
  if (!Array.isArray(value)) throw new BackupReadError('malformed', `sauvegarde illisible : ${what} manquants.`);
  const ids = new Set<string>();
  return value.map((r) => {
    if (!isObject(r) || typeof r.id !== 'string' || r.id === '' || !check(r)) throw new BackupReadError('malformed', `sauvegarde illisible : ${what} mal formés.`);
    if (r.keyId !== keyId) throw new BackupReadError('other_card', `la sauvegarde mêle les ${what} d’une autre carte.`);
    if (ids.has(r.id)) throw new BackupReadError('malformed', `sauvegarde illisible : ${what} en double.`);
    ids.add(r.id);
    return r as T;
  });
}

const sealed = (v: unknown): boolean => isObject(v) && v.iv instanceof Uint8Array && v.ct instanceof Uint8Array;

/**
 * The file's text, for the card whose key id is `keyId` on the workstation at `origin`: its
 * data key is bound to that origin (the card derives it for this salt and origin), so a file
 * made elsewhere would never open here — said now rather than after asking the card.
 */
export function readBackup(text: string, expected: { keyId: string; origin: string }): BackupContents {
  if (typeof text !== 'string' || text.length > BACKUP_MAX_CHARS) throw new BackupReadError('too_large', 'fichier trop volumineux pour être une sauvegarde Teletrans.');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new BackupReadError('not_json', 'ce fichier n’est pas une sauvegarde Teletrans (JSON attendu).');
  }
  if (!isObject(raw) || raw.format !== BACKUP_FORMAT) throw new BackupReadError('wrong_format', `ce fichier n’est pas une sauvegarde Teletrans (${BACKUP_FORMAT}).`);
  if (typeof raw.keyId !== 'string' || typeof raw.origin !== 'string' || typeof raw.createdAt !== 'string' || Number.isNaN(Date.parse(raw.createdAt))) {
    throw new BackupReadError('malformed', 'sauvegarde illisible : en-tête incomplet.');
  }
  if (raw.keyId !== expected.keyId) throw new BackupReadError('other_card', 'cette sauvegarde est celle d’une autre carte CPS : insérez la carte qui l’a faite.');
  if (raw.origin !== expected.origin) throw new BackupReadError('other_origin', `cette sauvegarde a été faite sur ${raw.origin} : elle ne s’ouvre qu’à cette adresse.`);
  const file = revive(raw) as Record<string, unknown>;
  const slot = file.slot;
  if (!isObject(slot) || slot.keyId !== expected.keyId || slot.v !== 1 || !(slot.salt instanceof Uint8Array) || !(slot.wrapped instanceof Uint8Array) || typeof slot.created !== 'string') {
    throw new BackupReadError('malformed', 'sauvegarde illisible : clé de la carte absente ou mal formée.');
  }
  const profile = file.profile;
  if (profile !== null && (!isObject(profile) || profile.keyId !== expected.keyId || !sealed(profile.sealed))) throw new BackupReadError('malformed', 'sauvegarde illisible : préférences mal formées.');
  return Object.freeze({
    createdAt: raw.createdAt,
    keyId: expected.keyId,
    slot: slot as unknown as BackupContents['slot'],
    profile: (profile ?? null) as StoredProfile | null,
    invoices: rows<StoredInvoice>(file.invoices, 'factures', expected.keyId, (r) => Array.isArray(r.history) && isObject(r.summary) && sealed(r.sealed)),
    lots: rows<StoredLot>(file.lots, 'lots', expected.keyId, (r) => isObject(r.lot) && (r.lot as { id?: unknown }).id === r.id && sealed(r.tag)),
    outbox: rows<OutboxEntry>(file.outbox, 'messages', expected.keyId, (r) => r.message instanceof Uint8Array && typeof r.subject === 'string' && typeof r.state === 'string'),
    files: rows<StoredFile>(file.files ?? [], 'fichiers', expected.keyId, (r) => Array.isArray(r.lotIds) && r.lotIds.every((l) => typeof l === 'string') && sealed(r.sealed)),
    returns: rows<StoredReturn>(file.returns ?? [], 'retours', expected.keyId, (r) => typeof r.status === 'string' && isObject(r.summary) && typeof r.receivedAt === 'string' && sealed(r.sealed)),
  });
}
