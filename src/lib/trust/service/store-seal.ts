/**
 * The trust store's records sealed in the audit chain (issue 24 defect 3, SP1). The journal
 * alone proved nothing about the store beside it: a recipient's DER swapped for a certificate
 * on another key, a CA with no record of its import, or a store whose journal was deleted
 * (« Journal vide ») all passed. Now:
 *
 * - every write of a trust record (CAs, recipients, CRLs and their indexes, settings) goes into
 *   the chain as a `trust.seal` record naming the store, the key and the SHA-256 of the record as
 *   stored (certificates and index buffers by their own SHA-256), or its deletion — written by
 *   the commit itself, so no write path can forget it;
 * - a reset, a purge and the first start of a journal that predates the seals write a baseline:
 *   one seal per record then stored (reason `integrity`, `retention`, `migration`);
 * - at open, at each reload and when the journal is verified, every stored record must match
 *   its latest seal; a certificate must also hash to the fingerprint it is filed under, and a
 *   CA, recipient or CRL sealed outside a baseline must have its successful `*.load` record (a
 *   CA's subject as that record names it). Anything else is `store_unsealed`; trust data beside
 *   an empty journal is `journal_missing`. Both block like an altered journal.
 *
 * What this cannot stop alone: someone holding the journal's key (a same-origin script, a copy
 * of the profile) can reseal a consistent lie. The head anchored at the relay (next step of the
 * same issue) is what catches that; docs/security/threat-model.md says who can do what.
 */
import { type AuditActor, type AuditInput, type AuditRecord, type ObjectKind, canonicalJson } from '../audit.js';
import { sha256HexSync } from '../sha256.js';
import type { CaRecord, Change, CrlRecord, RecipientRecord, SettingRecord } from '../model.js';

export const SEALED_STORES = ['cas', 'recipients', 'crls', 'crlIndex', 'settings'] as const;
export type SealedStore = (typeof SEALED_STORES)[number];

const KIND: Record<SealedStore, ObjectKind> = { cas: 'ca', recipients: 'certificate', crls: 'crl', crlIndex: 'crl', settings: 'settings' };
const encoder = new TextEncoder();

const isSealed = (store: string): store is SealedStore => (SEALED_STORES as readonly string[]).includes(store);

/** Bytes stand as their SHA-256: the canonical form stays small whatever the CRL's size. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return { sha256: sha256HexSync(v) };
  if (v instanceof ArrayBuffer) return { sha256: sha256HexSync(new Uint8Array(v)) };
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** SHA-256 of a record as stored, store-qualified: what its seal carries. */
export function sealHash(store: SealedStore, value: unknown): string {
  return sha256HexSync(encoder.encode(`${store}\n${canonicalJson(plain(value))}`));
}

function keyOf(store: SealedStore, value: unknown): string {
  const v = value as Record<string, unknown>;
  return String(store === 'cas' || store === 'recipients' ? v.fingerprint : store === 'settings' ? v.key : v.id);
}

function sealInput(store: SealedStore, key: string, hash: string | null, actor: AuditActor, reason?: 'migration' | 'integrity' | 'retention'): AuditInput {
  const object = store === 'settings' ? { kind: KIND[store], setting: key as SettingRecord['key'] } : { kind: KIND[store], fingerprint: key };
  return { event: 'trust.seal', outcome: 'success', actor, object, details: { store, ...(hash ? { stored: hash } : {}), ...(reason ? { reason } : {}) } };
}

/** One seal per write of a trust record in `changes` (none for the other stores). */
export function sealInputs(changes: readonly Change[], actor: AuditActor): AuditInput[] {
  const out: AuditInput[] = [];
  for (const c of changes) {
    if (!isSealed(c.store)) continue;
    if ('put' in c) out.push(sealInput(c.store, keyOf(c.store, c.put), sealHash(c.store, c.put), actor));
    else out.push(sealInput(c.store, c.delete, null, actor));
  }
  return out;
}

/** The trust records as stored, and the seals of the CRL indexes read with them (by CRL SHA-256). */
export interface SealedState {
  cas: readonly CaRecord[];
  recipients: readonly RecipientRecord[];
  crls: readonly CrlRecord[];
  settings: readonly SettingRecord[];
  indexSeals: ReadonlyMap<string, string>;
}

/** A seal for every record now stored: the start of a journal's account of the store. */
export function baselineInputs(s: SealedState, actor: AuditActor, reason: 'migration' | 'integrity' | 'retention'): AuditInput[] {
  const out: AuditInput[] = [];
  for (const c of s.cas) out.push(sealInput('cas', c.fingerprint, sealHash('cas', c), actor, reason));
  for (const r of s.recipients) out.push(sealInput('recipients', r.fingerprint, sealHash('recipients', r), actor, reason));
  for (const c of s.crls) {
    out.push(sealInput('crls', c.id, sealHash('crls', c), actor, reason));
    const index = s.indexSeals.get(c.sha256);
    if (index) out.push(sealInput('crlIndex', c.id, index, actor, reason));
  }
  for (const x of s.settings) out.push(sealInput('settings', x.key, sealHash('settings', x), actor, reason));
  return out;
}

/** What the journal says of the store: the latest seal of each record, and what was loaded. */
export interface SealAccount {
  seals: Map<string, { hash: string | null; baseline: boolean }>;
  /** `ca:<fp>` → the subject its load record names (undefined when withheld); `certificate:<fp>`, `crl:<sha256>`. */
  loads: Map<string, string | undefined>;
  /** The journal holds at least one seal. */
  sealed: boolean;
}

export function readAccount(records: readonly AuditRecord[]): SealAccount {
  const acc: SealAccount = { seals: new Map(), loads: new Map(), sealed: false };
  for (const r of records) {
    if (r.outcome !== 'success') continue;
    const fp = r.object?.fingerprint;
    if (r.event === 'trust.seal') {
      const store = r.details?.store;
      const key = fp ?? r.object?.setting;
      if (!store || key === undefined) continue;
      acc.sealed = true;
      acc.seals.set(`${store}:${key}`, { hash: r.details?.stored ?? null, baseline: r.details?.reason !== undefined });
    } else if (fp && r.event === 'ca.load') acc.loads.set(`ca:${fp}`, r.object?.subject);
    else if (fp && r.event === 'certificate.load') acc.loads.set(`certificate:${fp}`, undefined);
    else if (fp && r.event === 'crl.load') acc.loads.set(`crl:${fp}`, undefined);
  }
  return acc;
}

/** Adds records this instance just committed to an account read earlier. */
export function noteRecords(acc: SealAccount, records: readonly AuditRecord[]): void {
  const fresh = readAccount(records);
  for (const [k, v] of fresh.seals) acc.seals.set(k, v);
  for (const [k, v] of fresh.loads) acc.loads.set(k, v);
  acc.sealed ||= fresh.sealed;
}

export type SealProblem = { problem: 'store_unsealed' | 'journal_missing'; message: string };

const MISMATCH = 'Le magasin de certificats ne correspond plus au journal d’audit';

/**
 * The first way the stored records disagree with the journal's account, or null. `journalEmpty`:
 * the journal holds no record at all (a fresh one); with trust data beside it, it was deleted.
 */
export function sealProblem(s: SealedState, acc: SealAccount, journalEmpty: boolean): SealProblem | null {
  const hasData = s.cas.length + s.recipients.length + s.crls.length > 0;
  if (journalEmpty && !acc.sealed && hasData) {
    return { problem: 'journal_missing', message: 'Le journal d’audit est vide alors que le magasin contient des autorités, des certificats ou des LCR : il a été supprimé.' };
  }
  const bad = (what: string): SealProblem => ({ problem: 'store_unsealed', message: `${MISMATCH} : ${what}.` });
  const check = (store: SealedStore, key: string, value: unknown): { baseline: boolean } | null => {
    const seal = acc.seals.get(`${store}:${key}`);
    if (!seal || seal.hash !== sealHash(store, value)) return null;
    return seal;
  };
  for (const c of s.cas) {
    const label = `l’autorité « ${c.subject} »`;
    if (sha256HexSync(c.der) !== c.fingerprint) return bad(`${label} n’a pas l’empreinte sous laquelle elle est rangée`);
    const seal = check('cas', c.fingerprint, c);
    if (!seal) return bad(`${label} a été ajoutée ou modifiée hors de l’application`);
    if (!seal.baseline) {
      if (!acc.loads.has(`ca:${c.fingerprint}`)) return bad(`${label} n’a pas d’enregistrement de chargement`);
      const named = acc.loads.get(`ca:${c.fingerprint}`);
      if (named !== undefined && named !== c.subject) return bad(`${label} porte un autre nom dans le journal`);
    }
  }
  for (const r of s.recipients) {
    const label = `un certificat de destinataire (${r.recipient})`;
    if (sha256HexSync(r.der) !== r.fingerprint) return bad(`${label} n’a pas l’empreinte sous laquelle il est rangé`);
    const seal = check('recipients', r.fingerprint, r);
    if (!seal) return bad(`${label} a été ajouté ou modifié hors de l’application`);
    if (!seal.baseline && !acc.loads.has(`certificate:${r.fingerprint}`)) return bad(`${label} n’a pas d’enregistrement de chargement`);
  }
  for (const c of s.crls) {
    const label = `la LCR de « ${c.issuer} »`;
    const seal = check('crls', c.id, c);
    if (!seal) return bad(`${label} a été ajoutée ou modifiée hors de l’application`);
    if (!seal.baseline && !acc.loads.has(`crl:${c.sha256}`)) return bad(`${label} n’a pas d’enregistrement de chargement`);
    const index = s.indexSeals.get(c.sha256);
    const indexSeal = acc.seals.get(`crlIndex:${c.id}`);
    if (index !== undefined && indexSeal?.hash !== index) return bad(`l’index de ${label} a été modifié hors de l’application`);
  }
  for (const x of s.settings) {
    if (!check('settings', x.key, x)) return bad(`le paramètre ${x.key} a été modifié hors de l’application`);
  }
  return null;
}
