/**
 * What the trust store holds, and the port through which the core reads and writes it.
 * The browser adapter (src/lib/client/store/, IndexedDB) and the in-memory store used in
 * Node tests implement the same TrustStorePort; the core never touches IndexedDB.
 */
import type { AuditKeyState, AuditRecord, ChainAnchor, ChainHead, KeyCheck, SettingKey } from './audit.js';
import type { FetchOutcome } from './schedule.js';
import { DEFAULT_TIME_ZONE, isValidTimeZone } from '../time/zoned-time.js';
import { CRL_WINDOW_MAX, CRL_WINDOW_MIN, crlWindowProblem } from './schedule.js';
import { HOLDER_LIST, MIN_RETENTION_DAYS } from './audit.js';
import { sha256HexSync } from './sha256.js';
import type { Crl } from '../pki/crl-model.js';

/**
 * How an object entered the store. `demo`: the fictitious hierarchy `npm start` installs on a
 * new workstation (src/lib/server/demo-pki.ts), shown as demonstration data.
 */
export type Provenance = 'file' | 'directory' | 'update' | 'migration' | 'demo';

/** What a recipient certificate is for (docs/domain/transmission.md §1–2). */
export type Usage = 'attachment' | 'data';

/**
 * A hierarchy label: "production" and "test" for the GIE SESAM-Vitale hierarchies, "oct-…"
 * for an OCT's CA, anything else lowercase for other cases. Several roots may share a label
 * (generations side by side during a CA migration).
 */
export type HierarchyLabel = string;

export const HIERARCHY_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

export const HIERARCHY_LABELS: Record<string, string> = {
  production: 'Production (GIE SESAM-Vitale)',
  test: 'Test (GIE SESAM-Vitale)',
};

export function hierarchyLabel(h: HierarchyLabel): string {
  if (HIERARCHY_LABELS[h]) return HIERARCHY_LABELS[h];
  if (h.startsWith('oct-')) return `OCT ${h.slice(4)}`;
  return h;
}

/** A CA certificate: a trust anchor (root) or an intermediate verified against one. */
export interface CaRecord {
  /** SHA-256 of the DER, lowercase hex: the key. */
  fingerprint: string;
  der: Uint8Array;
  role: 'root' | 'intermediate';
  hierarchy: HierarchyLabel;
  subject: string;
  /** Canonical name key (pki Name.key) of the subject: what CRLs and certificates chain by. */
  subjectKey: string;
  issuer: string;
  issuerKey: string;
  serial: string;
  notBefore: number;
  notAfter: number;
  /** subjectKeyIdentifier, hex, if present (matches a CRL's authorityKeyIdentifier). */
  keyId?: string;
  /** The CA that issued this one (itself for a root). */
  issuerFingerprint: string;
  /** The root this CA chains to (itself for a root). */
  rootFingerprint: string;
  /** CRL distribution points of this certificate (where its issuer's CRL is published). */
  crlUrls: string[];
  addedAt: number;
  source: Provenance;
}

/** A recipient's certificate (attachment encryption) or a data-encryption certificate. */
export interface RecipientRecord {
  fingerprint: string;
  /** Mailbox for attachment certificates (lower case); an identifier for data certificates. */
  recipient: string;
  usage: Usage;
  der: Uint8Array;
  /** Subject DN, for display only (never logged: a subject may name a person). */
  subject: string;
  serial: string;
  issuer: string;
  issuerKey: string;
  issuerFingerprint: string;
  rootFingerprint: string;
  hierarchy: HierarchyLabel;
  notBefore: number;
  notAfter: number;
  crlUrls: string[];
  addedAt: number;
  source: Provenance;
}

/** A verified CRL's metadata. The DER and the index live in their own object stores. */
export interface CrlRecord {
  /** SHA-256 over the issuer name DER and the authority key id: one CRL per issuing key. */
  id: string;
  issuerKey: string;
  issuer: string;
  /** The CA certificate whose key verified the signature. */
  issuerFingerprint: string;
  hierarchy: HierarchyLabel;
  authorityKeyId?: string;
  thisUpdate: number;
  nextUpdate: number;
  /** cRLNumber, lowercase hex. */
  crlNumber?: string;
  size: number;
  /** SHA-256 of the DER. */
  sha256: string;
  /** Which certificates the CRL covers (issuingDistributionPoint). */
  scope: 'all' | 'user' | 'ca';
  importedAt: number;
  source: Provenance;
  sourceUrl?: string;
}

/**
 * The id of a CRL: SHA-256 over the issuer name DER, a zero byte and the authority key id.
 * One CRL per issuing key: a newer CRL of the same CA replaces the older one. Synchronous,
 * so that schema migrations compute the same ids as the service.
 */
export function crlId(crl: Pick<Crl, 'issuer' | 'authorityKeyId'>): string {
  const name = crl.issuer.der;
  const aki = crl.authorityKeyId ?? new Uint8Array(0);
  const buf = new Uint8Array(name.length + 1 + aki.length);
  buf.set(name, 0);
  buf.set(aki, name.length + 1);
  return sha256HexSync(buf);
}

/** cRLNumber as lowercase hex with an even number of digits. */
export function crlNumberHex(n: bigint | undefined): string | undefined {
  if (n === undefined) return undefined;
  const h = n.toString(16);
  return h.length % 2 ? '0' + h : h;
}

/** Which certificates a CRL covers, from its issuingDistributionPoint. */
export function crlScope(crl: Pick<Crl, 'idp'>): CrlRecord['scope'] {
  return crl.idp?.onlyUserCerts ? 'user' : crl.idp?.onlyCaCerts ? 'ca' : 'all';
}

export interface CrlDerRecord {
  id: string;
  der: Uint8Array;
}

export interface CrlIndexRecord {
  id: string;
  /** SHA-256 of the CRL the index was built from. */
  sha256: string;
  issuerKey: string;
  buffer: ArrayBuffer;
}

/** A directory location fetched on a schedule, and the state of its schedule. */
export interface SourceRecord {
  /** ldap:// or http(s):// URL, passed to the fetcher as is. The key. */
  url: string;
  kind: 'crl' | 'certificate';
  /** CRL sources: the expected issuer (name key), when known. */
  issuerKey?: string;
  /** Certificate sources: whose certificate. */
  recipient?: string;
  usage?: Usage;
  lastAttemptAt?: number;
  lastOutcome?: FetchOutcome;
  lastSuccessAt?: number;
  /** Reason code of the last failure. */
  lastError?: string;
  consecutiveFailures: number;
  /** A renewal asked by the practitioner or a service message, not yet served. */
  demandAt?: number;
  demandReason?: 'demand' | 'service-message';
}

export interface SettingRecord {
  key: SettingKey;
  value: number | string | boolean;
}

/** Small internal values: the audit chain's head and anchor, the MAC key, alert bookkeeping. */
export type MetaRecord =
  | { key: 'audit-head'; value: ChainHead }
  | { key: 'audit-anchor'; value: ChainAnchor }
  | { key: 'audit-key'; value: CryptoKey }
  | { key: 'audit-key-check'; value: KeyCheck }
  /** Written by older versions (first sequence number sealed); ignored, removed by a reset. */
  | { key: 'audit-mac-from'; value: number }
  /** A journal that failed verification, archived by the administrator's reset. */
  | { key: `audit-archive:${string}`; value: AuditArchive }
  | { key: 'last-purge'; value: number }
  /** This workstation's random id at the relay's anchors (issue 24 defect 3). */
  | { key: 'device-id'; value: string }
  /** The relay's last signed receipt for this journal's head (service/anchor.ts). */
  | { key: 'audit-receipt'; value: StoredReceipt }
  /** The journal an administrator's reset replaced (its id, or `unknown` when it was gone): told to the relay. */
  | { key: 'audit-previous-journal'; value: string }
  | { key: 'alerts-shown'; value: Record<string, number> };

export type MetaKey = MetaRecord['key'];

/** Meta records that load() leaves out of the snapshot (the seal, archives). */
/** What the relay signed for an anchored head (src/lib/server/relay/anchor.ts). */
export interface AnchorReceipt {
  v: 1;
  device: string;
  journal: string;
  seq: number;
  head: string;
  at: number;
  practitioner: string;
}

/** A receipt as kept: what the relay signed, its signature, and the key it was checked with (base64). */
export interface StoredReceipt {
  receipt: AnchorReceipt;
  signature: string;
  key: string;
}

export function isPrivateMeta(key: string): boolean {
  return key === 'audit-key' || key === 'audit-key-check' || key === 'audit-mac-from' || key.startsWith('audit-archive:');
}

export interface AuditArchive {
  at: number;
  /** The verification problem that made the administrator reset the journal. */
  problem: string;
  /** Records archived. */
  count: number;
  /** SHA-256 (hex) of `text`, also written in the new journal's first record. */
  sha256: string;
  /** The old journal as exported (JSON lines). */
  text: string;
}

/** What a reset writes: a new journal replaces the failed one, which is archived. */
export interface AuditReset {
  /** The journal id being replaced (undefined: none had a check); the reset fails if another tab reset first. */
  expectJournal: string | undefined;
  key: CryptoKey;
  check: KeyCheck;
  records: AuditRecord[];
  head: ChainHead;
  archive: AuditArchive;
}

/* ------------------------------------------------------------------------------------------ */
/* Settings */

export interface TrustSettings {
  timeZone: string;
  crlWindowStart: number;
  crlWindowEnd: number;
  /** Drawn once per installation; undefined until the service first opens. */
  crlSlot?: number;
  crlPeriodDays: number;
  crlRetryDays: number;
  crlAlertLeadHours: number;
  renewalLeadDays: number;
  expiredWarningHours: number;
  auditRetentionDays: number;
  auditPurgeIntervalDays: number;
  /** Kiosk mode (issue 16): the card is the session, the screen cleared when it leaves. */
  kiosk: boolean;
  /**
   * The card holders who administer this device (national identifiers, comma-separated, in
   * order); empty: a personal workstation, administered by its practitioner (access/roles.ts).
   */
  administrators: string;
}

export const DEFAULT_SETTINGS: TrustSettings = {
  timeZone: DEFAULT_TIME_ZONE,
  crlWindowStart: CRL_WINDOW_MIN,
  crlWindowEnd: CRL_WINDOW_MAX,
  crlPeriodDays: 7,
  crlRetryDays: 1,
  crlAlertLeadHours: 48,
  renewalLeadDays: 15,
  expiredWarningHours: 24,
  // 13 months: "at least 12 months" with a margin for months of 31 days and late purges.
  auditRetentionDays: 396,
  auditPurgeIntervalDays: 7,
  kiosk: false,
  administrators: '',
};

/** The administrators setting as a list. */
export const administratorsOf = (s: Pick<TrustSettings, 'administrators'>): string[] => (s.administrators ? s.administrators.split(',') : []);

function intIn(v: unknown, min: number, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/** Why a value is refused for a setting (French), or undefined when acceptable. */
export function settingProblem(key: SettingKey, value: unknown, s: TrustSettings): string | undefined {
  switch (key) {
    case 'timeZone':
      return typeof value === 'string' && isValidTimeZone(value) ? undefined : 'Fuseau horaire inconnu.';
    case 'crlWindowStart':
      return intIn(value, 0, 1440) ? crlWindowProblem(value as number, s.crlWindowEnd) : 'Minute invalide.';
    case 'crlWindowEnd':
      return intIn(value, 0, 1440) ? crlWindowProblem(s.crlWindowStart, value as number) : 'Minute invalide.';
    case 'crlSlot':
      return intIn(value, s.crlWindowStart, s.crlWindowEnd - 1) ? undefined : 'Le créneau doit être dans la plage horaire.';
    case 'crlPeriodDays':
      return intIn(value, 1, 7) ? undefined : 'La LCR est chargée au moins une fois par semaine (1 à 7 jours).';
    case 'crlRetryDays':
      return intIn(value, 1, 1) ? undefined : 'Les nouvelles tentatives ont lieu chaque jour.';
    case 'crlAlertLeadHours':
      return intIn(value, 24, 24 * 7) ? undefined : 'Le préavis d’alerte va de 24 heures à 7 jours.';
    case 'renewalLeadDays':
      return intIn(value, 1, 60) ? undefined : 'Le renouvellement anticipé va de 1 à 60 jours.';
    case 'expiredWarningHours':
      return intIn(value, 1, 24) ? undefined : 'L’avertissement est répété au moins une fois par jour (1 à 24 heures).';
    case 'auditRetentionDays':
      return intIn(value, MIN_RETENTION_DAYS, 3650) ? undefined : 'Le journal est conservé au moins 12 mois.';
    case 'auditPurgeIntervalDays':
      return intIn(value, 1, 90) ? undefined : 'La purge a lieu tous les 1 à 90 jours.';
    case 'kiosk':
      return typeof value === 'boolean' ? undefined : 'Le mode kiosque est activé ou non.';
    case 'administrators':
      return typeof value === 'string' && HOLDER_LIST.test(value) && new Set(value.split(',')).size === value.split(',').length
        ? undefined
        : 'Les administrateurs sont désignés par l’identifiant de leur carte (9 à 11 chiffres), chacun une fois.';
  }
}

export function settingsFrom(records: readonly SettingRecord[]): TrustSettings {
  const s: TrustSettings = { ...DEFAULT_SETTINGS };
  for (const r of records) {
    // A stored value that no longer validates (older version, manual edit) is ignored.
    if (settingProblem(r.key, r.value, s) === undefined) (s as unknown as Record<string, unknown>)[r.key] = r.value;
  }
  return s;
}

/* ------------------------------------------------------------------------------------------ */
/* The store port */

export interface StoreValues {
  cas: CaRecord;
  recipients: RecipientRecord;
  crls: CrlRecord;
  crlDer: CrlDerRecord;
  crlIndex: CrlIndexRecord;
  sources: SourceRecord;
  settings: SettingRecord;
  meta: MetaRecord;
}

export type StoreName = keyof StoreValues;

/** One write. A commit applies a list of them and the audit records atomically. */
export type Change = { [S in StoreName]: { store: S; put: StoreValues[S] } | { store: S; delete: string } }[StoreName];

export interface AuditAppend {
  /** The head the records were chained to; the commit fails if another writer moved it. */
  expectHead: ChainHead | undefined;
  records: AuditRecord[];
  /** The head after these records. */
  head: ChainHead | undefined;
  /** Records to delete and the new anchor, for a purge. */
  purge?: { remove: number[]; anchor: ChainAnchor };
}

/** Another tab appended to the audit chain between reading its head and committing. */
export class ConcurrentAppendError extends Error {
  constructor() {
    super('the audit chain head moved during the commit');
    this.name = 'ConcurrentAppendError';
  }
}

export interface TrustSnapshot {
  cas: CaRecord[];
  recipients: RecipientRecord[];
  crls: CrlRecord[];
  sources: SourceRecord[];
  settings: SettingRecord[];
  /** Meta records, except the seal and the archives (isPrivateMeta). */
  meta: MetaRecord[];
}

export interface AuditContent {
  records: AuditRecord[];
  anchor?: ChainAnchor;
  head?: ChainHead;
}


export interface TrustStorePort {
  /** Everything small: metadata of CAs, certificates, CRLs, sources, settings. */
  load(): Promise<TrustSnapshot>;
  crlIndex(id: string): Promise<CrlIndexRecord | undefined>;
  crlDer(id: string): Promise<Uint8Array | undefined>;
  audit(): Promise<AuditContent>;
  auditHead(): Promise<ChainHead | undefined>;
  /**
   * The audit seal: key, key check, witness. When the store holds no journal at all (no key,
   * no check, no record, no head, no anchor) it creates one first, atomically: a new
   * non-extractable key, its check and the sealed empty head (audit.newJournal). A journal
   * with content but no key is returned as it is: the service reports it as tampered.
   */
  auditKey(): Promise<AuditKeyState>;
  /**
   * The administrator's reset: in one transaction, archives the failed journal, deletes its
   * records, head, anchor and key, and writes the new key, check, head and first records.
   * Throws ConcurrentAppendError (nothing written) when the journal is not `expectJournal`.
   */
  resetAudit(reset: AuditReset): Promise<void>;
  /**
   * Applies `changes` and `audit` in one transaction: all or nothing. Throws
   * ConcurrentAppendError (nothing written) when the audit head is not `audit.expectHead`.
   */
  commit(changes: Change[], audit?: AuditAppend): Promise<void>;
  /** Called after another tab (or instance) committed. Returns an unsubscribe function. */
  subscribe?(listener: () => void): () => void;
  /** Mutual exclusion across tabs (Web Locks in browsers). */
  lock?<T>(name: string, fn: () => Promise<T>): Promise<T>;
  close?(): void;
}
