/**
 * The audit trail of the workstation (docs/domain/security.md EL1, SA2, SP1): loads and removals of CAs,
 * certificates and CRLs, trust-chain changes, settings changes, sessions opened, locked and
 * closed, with time, actor, object and outcome.
 *
 * No sensitive data, by construction. A record has only typed fields: an event from a closed
 * list, an opaque actor id (UUID), an object described by fingerprints, serial numbers and the
 * names of CAs (institutional, not personal), an outcome from a closed list, and details from
 * an allow-list where every key has its own validator. There is no free-text field where a
 * NIR, a name, a PIN or invoice content could be written; whatever does not validate is
 * refused with AuditRefused (the caller's bug surfaces, nothing is logged). As a second line,
 * the few strings that are not fixed-format (CA names, URLs, hosts) are refused when they
 * contain something shaped like a NIR.
 *
 * Integrity (SP1): records form a hash chain. Each record carries `prev`, the SHA-256 of the
 * previous record's canonical bytes, and `hash`, the SHA-256 of its own canonical bytes
 * (which include `prev` and its sequence number). Anyone can recompute SHA-256, so the chain
 * is sealed under a non-extractable WebCrypto HMAC key made once, when the journal is created
 * empty (docs/adr/0002-audit-seal.md): every record from the first carries an HMAC of its
 * hash, and so do the chain head (the last record written: truncation), the purge anchor and a
 * key-check value that binds the key to the journal's id. There is no unsealed record, no
 * "sealed from" boundary and no fallback to bare hashes: a journal with records but no key,
 * a record, head or anchor without a valid seal, or a key that does not match its check or
 * its copy kept outside the database (the witness) fails verification. The threat model is
 * someone editing the stored data (devtools, the profile's files) without running code in
 * the origin; code running in the origin could use the key: the chain is evidence, not a vault.
 *
 * Retention (SA2): at least 12 months, then purged. A purge removes the oldest records (a
 * prefix of the chain) and keeps an anchor holding the sequence number and hash of the last
 * removed record, MACed like a record, so the remaining chain still verifies from the anchor;
 * the purge itself is logged.
 */

import { PERMISSIONS, type Permission } from '../access/roles.js';

export const AUDIT_EVENTS = [
  'ca.load',
  'ca.remove',
  'certificate.load',
  'certificate.remove',
  'crl.load',
  'crl.remove',
  'trust-chain.change',
  'directory.fetch',
  'settings.change',
  'session.open',
  'session.lock',
  'session.unlock',
  'session.close',
  'audit.purge',
  'audit.export',
  'audit.reset',
  'billing.purge',
  'billing.restore',
  'trust.seal',
  'access.refused',
  'key.recovery',
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

export const AUDIT_EVENT_LABELS: Record<AuditEvent, string> = {
  'ca.load': 'Autorité de certification chargée',
  'ca.remove': 'Autorité de certification supprimée',
  'certificate.load': 'Certificat chargé',
  'certificate.remove': 'Certificat supprimé',
  'crl.load': 'LCR chargée',
  'crl.remove': 'LCR supprimée',
  'trust-chain.change': 'Chaîne de confiance modifiée',
  'directory.fetch': 'Consultation de l’annuaire',
  'settings.change': 'Paramètre modifié',
  'session.open': 'Session ouverte',
  'session.lock': 'Session verrouillée',
  'session.unlock': 'Session déverrouillée',
  'session.close': 'Session fermée',
  'audit.purge': 'Journal purgé',
  'audit.export': 'Journal exporté',
  'audit.reset': 'Journal réinitialisé (le précédent était altéré)',
  'billing.purge': 'Copies de factures purgées (3 mois)',
  'billing.restore': 'Factures rétablies depuis une sauvegarde',
  'trust.seal': 'Enregistrement du magasin scellé',
  'access.refused': 'Action refusée (rôle de la carte)',
  'key.recovery': 'Factures d’une carte renouvelée rétablies',
};

export const AUDIT_OUTCOMES = ['success', 'failure', 'refused', 'unchanged'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export const AUDIT_OUTCOME_LABELS: Record<AuditOutcome, string> = {
  success: 'réussi',
  failure: 'échec',
  refused: 'refusé',
  unchanged: 'inchangé',
};

export const OBJECT_KINDS = ['ca', 'certificate', 'crl', 'settings', 'session', 'source', 'audit'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

/** Settings whose changes are logged; values are validated by the settings module. */
export const SETTING_KEYS = [
  'timeZone',
  'crlWindowStart',
  'crlWindowEnd',
  'crlSlot',
  'crlPeriodDays',
  'crlRetryDays',
  'crlAlertLeadHours',
  'renewalLeadDays',
  'expiredWarningHours',
  'auditRetentionDays',
  'auditPurgeIntervalDays',
  'kiosk',
  'administrators',
] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

export interface AuditObject {
  kind: ObjectKind;
  /** SHA-256 of the object's DER (certificates, CRLs), lowercase hex. */
  fingerprint?: string;
  /** Serial number (certificates) or CRL number, lowercase hex. */
  serial?: string;
  /** DN of the issuing CA (RFC 4514). CA names are not personal data. */
  issuer?: string;
  /** DN of the object itself: only for CAs. */
  subject?: string;
  /** Settings: which one. */
  setting?: SettingKey;
  /** Sources: the directory URL (public LDAP/HTTP locations of certificates and CRLs). */
  url?: string;
}

export const DETAIL_REASONS = [
  'missing',
  'expiring',
  'revoked',
  'demand',
  'service-message',
  'scheduled',
  'superseded',
  'older',
  'retention',
  'cascade',
  'migration',
  'integrity',
] as const;

/** Allowed detail keys and what their values may be. */
export interface AuditDetails {
  /** Hierarchy label of a CA: production, test, oct-… */
  hierarchy?: string;
  role?: 'root' | 'intermediate' | 'recipient' | 'data';
  /** A machine-readable reason code (e.g. "signature_invalid", "crl_older"). */
  code?: string;
  reason?: (typeof DETAIL_REASONS)[number];
  source?: 'file' | 'directory' | 'update' | 'migration' | 'demo';
  change?: 'anchor-added' | 'anchor-removed' | 'intermediate-added' | 'intermediate-removed';
  thisUpdate?: number;
  nextUpdate?: number;
  notBefore?: number;
  notAfter?: number;
  /** Counts: CRL entries, purged records… */
  count?: number;
  /** billing.purge / billing.restore: how many invoice copies, lots and sent messages went or came back (never which). */
  invoices?: number;
  lots?: number;
  messages?: number;
  /** Fingerprint of the object replaced by this one. */
  previous?: string;
  /** Sequence number of the last purged record. */
  through?: number;
  anchorHash?: string;
  /** New value of a setting (numbers, booleans, IANA zone names and lists of card holder identifiers only). */
  value?: number | boolean | string;
  /** Remote party of a session (SA2): host[:port] of the relay or the bridge. */
  peer?: string;
  /** Opaque session id. */
  session?: string;
  /** Export format (audit.export). */
  format?: 'jsonl';
  /** audit.reset: SHA-256 of the authentication certificate of the CPS that authorized it. */
  card?: string;
  /** trust.seal: which store of the trust database the sealed record lives in. */
  store?: 'cas' | 'recipients' | 'crls' | 'crlIndex' | 'settings';
  /** trust.seal: SHA-256 of the record as stored (store-seal.ts); absent for a deletion. */
  stored?: string;
  /** Sessions and refusals: the role the card made (access/roles.ts). */
  cardRole?: 'practitioner' | 'assistant';
  /** access.refused: what was asked. */
  permission?: Permission;
}

/**
 * Who acted: the system, an opaque user or device id, or a card holder by their national
 * identifier (RPPS, or a CPE's staff number: 9 to 11 digits), which SA2 asks the journal to keep
 * and which is no one's name.
 */
export type AuditActor = 'system' | `user:${string}` | `device:${string}` | `holder:${string}`;

export interface AuditInput {
  event: AuditEvent;
  outcome: AuditOutcome;
  /** Default "system" (scheduled and automatic actions). */
  actor?: AuditActor;
  object?: AuditObject;
  details?: AuditDetails;
  /** Milliseconds since the epoch; default the service's clock. */
  at?: number;
}

export interface AuditRecord {
  /** Record format version. */
  v: 1;
  seq: number;
  at: number;
  actor: AuditActor;
  event: AuditEvent;
  outcome: AuditOutcome;
  object?: AuditObject;
  details?: AuditDetails;
  /** SHA-256 (hex) of the previous record's canonical bytes; 64 zeros for the first. */
  prev: string;
  /** SHA-256 (hex) of this record's canonical bytes (all fields but hash and mac). */
  hash: string;
  /** HMAC-SHA-256 (hex) of `hash` under the journal's key. Absent only in journals of older versions (they fail verification). */
  mac?: string;
}

/** Where the chain starts after a purge (or at the beginning: seq −1, zero hash). */
export interface ChainAnchor {
  /** Sequence number of the last purged record. */
  seq: number;
  /** Its hash: the `prev` of the first remaining record. */
  hash: string;
  /** Its time. */
  at: number;
  /** Records purged so far, in total. */
  purged: number;
  mac?: string;
}

/**
 * The last record written, kept apart so that truncating the tail is detected too. An empty
 * journal has the head seq −1 with the zero hash. `mac` seals it (HMAC of its canonical bytes).
 */
export interface ChainHead {
  seq: number;
  hash: string;
  mac?: string;
}

/**
 * Binds the key to the journal: written with the key when the journal is created. `mac` is
 * HMAC(key, canonical {journal, createdAt, v}); a copy of it (the witness) is kept outside the
 * database, so that a key replaced and a journal resealed inside the database do not verify.
 */
export interface KeyCheck {
  v: 1;
  /** Random id of this journal (UUID). */
  journal: string;
  createdAt: number;
  mac: string;
}

/** What the store holds of the seal: the key, its check, and the witness. */
export interface AuditKeyState {
  key?: CryptoKey;
  check?: KeyCheck;
  /** The copy of check.mac kept outside the database: null when absent, undefined when the platform has no such storage. */
  witness?: string | null;
}

export const ZERO_HASH = '0'.repeat(64);

/** Thrown when an audit input carries something the trail must not hold. */
export class AuditRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AuditRefused';
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Validation */

const HEX64 = /^[0-9a-f]{64}$/;
const SERIAL = /^[0-9a-f]{2,84}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LABEL = /^[a-z][a-z0-9-]{0,31}$/;
const CODE = /^[a-z][a-z0-9_]{0,47}$/;
const HOST = /^[a-z0-9.-]{1,253}(:[0-9]{1,5})?$/;
const SESSION = /^[0-9a-f]{16,64}$/;
const TIME_ZONE = /^[A-Za-z_]+(\/[A-Za-z_+-]+){0,2}$/;
/** National identifiers of card holders (RPPS: 11 digits; others 9 to 11), comma-separated; none: empty. */
export const HOLDER_LIST = /^(?:[0-9]{9,11}(?:,[0-9]{9,11}){0,19})?$/;
const MAX_TIME = 8.64e15;

/**
 * Shapes of a NIR (numéro de sécurité sociale: sex 1/2 (3, 4, 7, 8 for temporary numbers),
 * year, month, department incl. 2A/2B, commune, order, optional key), with or without spaces,
 * dots or dashes. Any 13 digits in a row are refused too: no legitimate free string here has them.
 */
const NIR_SHAPES = [
  /[1-478][ .-]?\d{2}[ .-]?(0[1-9]|1[0-2]|[2-9]\d)[ .-]?(\d{2}|2[abAB])[ .-]?\d{3}[ .-]?\d{3}/,
  /\d{13}/,
];

function refuse(code: string, message: string): never {
  throw new AuditRefused(code, message);
}

/** Free-format strings (CA names, URLs, hosts): bounded, printable, nothing NIR-shaped. */
function checkFreeString(field: string, s: unknown, max: number): string {
  if (typeof s !== 'string' || s.length === 0 || s.length > max) refuse('invalid_field', `audit: ${field} must be a string of 1..${max} characters`);
  // Control characters would let one record masquerade as two in a text export.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) refuse('invalid_field', `audit: ${field} contains control characters`);
  if (NIR_SHAPES.some((re) => re.test(s))) refuse('personal_data', `audit: ${field} looks like it holds a NIR`);
  return s;
}

function checkPattern(field: string, s: unknown, re: RegExp): string {
  if (typeof s !== 'string' || !re.test(s)) refuse('invalid_field', `audit: ${field} has an unexpected format`);
  return s;
}

function checkInt(field: string, n: unknown, min: number, max: number): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) refuse('invalid_field', `audit: ${field} must be an integer in [${min}, ${max}]`);
  return n;
}

function checkEnum<T extends string>(field: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) refuse('invalid_field', `audit: ${field} is not one of ${allowed.join(', ')}`);
  return v as T;
}

function checkUrl(field: string, s: unknown): string {
  const v = checkFreeString(field, s, 1024);
  if (!/^(ldaps?|https?):\/\//i.test(v)) refuse('invalid_field', `audit: ${field} must be an ldap or http URL`);
  return v;
}

type DetailValidator = (v: unknown) => unknown;
const time = (f: string): DetailValidator => (v) => checkInt(f, v, 0, MAX_TIME);

const DETAIL_RULES: { [K in keyof Required<AuditDetails>]: DetailValidator } = {
  hierarchy: (v) => checkPattern('details.hierarchy', v, LABEL),
  role: (v) => checkEnum('details.role', v, ['root', 'intermediate', 'recipient', 'data'] as const),
  code: (v) => checkPattern('details.code', v, CODE),
  reason: (v) => checkEnum('details.reason', v, DETAIL_REASONS),
  source: (v) => checkEnum('details.source', v, ['file', 'directory', 'update', 'migration', 'demo'] as const),
  change: (v) => checkEnum('details.change', v, ['anchor-added', 'anchor-removed', 'intermediate-added', 'intermediate-removed'] as const),
  thisUpdate: time('details.thisUpdate'),
  nextUpdate: time('details.nextUpdate'),
  notBefore: time('details.notBefore'),
  notAfter: time('details.notAfter'),
  count: (v) => checkInt('details.count', v, 0, 2 ** 32),
  invoices: (v) => checkInt('details.invoices', v, 0, 2 ** 32),
  lots: (v) => checkInt('details.lots', v, 0, 2 ** 32),
  messages: (v) => checkInt('details.messages', v, 0, 2 ** 32),
  previous: (v) => checkPattern('details.previous', v, HEX64),
  through: (v) => checkInt('details.through', v, 0, Number.MAX_SAFE_INTEGER),
  anchorHash: (v) => checkPattern('details.anchorHash', v, HEX64),
  value: (v) => {
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number') return checkInt('details.value', v, -MAX_TIME, MAX_TIME);
    // A time zone, or the device's administrators: card holders' identifiers (never a name).
    if (typeof v === 'string' && HOLDER_LIST.test(v)) return v;
    return checkPattern('details.value', v, TIME_ZONE);
  },
  peer: (v) => checkFreeString('details.peer', checkPattern('details.peer', v, HOST), 260),
  session: (v) => checkPattern('details.session', v, SESSION),
  format: (v) => checkEnum('details.format', v, ['jsonl'] as const),
  card: (v) => checkPattern('details.card', v, HEX64),
  store: (v) => checkEnum('details.store', v, ['cas', 'recipients', 'crls', 'crlIndex', 'settings'] as const),
  stored: (v) => checkPattern('details.stored', v, HEX64),
  cardRole: (v) => checkEnum('details.cardRole', v, ['practitioner', 'assistant'] as const),
  permission: (v) => checkEnum('details.permission', v, PERMISSIONS),
};

export function checkActor(a: unknown): AuditActor {
  if (a === 'system') return a;
  if (typeof a === 'string') {
    const m = /^(user|device):(.*)$/.exec(a);
    if (m && UUID.test(m[2]!)) return a as AuditActor;
    if (/^holder:[0-9]{9,11}$/.test(a)) return a as AuditActor;
  }
  return refuse('invalid_actor', 'audit: the actor must be "system", "user:<uuid>", "device:<uuid>" or "holder:<national id>"');
}

function checkObject(o: unknown): AuditObject {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) refuse('invalid_field', 'audit: object must be an object');
  const src = o as Record<string, unknown>;
  const out: AuditObject = { kind: checkEnum('object.kind', src.kind, OBJECT_KINDS) };
  for (const [k, v] of Object.entries(src)) {
    if (v === undefined || k === 'kind') continue;
    switch (k) {
      case 'fingerprint':
        out.fingerprint = checkPattern('object.fingerprint', v, HEX64);
        break;
      case 'serial':
        out.serial = checkPattern('object.serial', v, SERIAL);
        break;
      case 'issuer':
        out.issuer = checkFreeString('object.issuer', v, 512);
        break;
      case 'subject':
        // A leaf's subject may name a person (a practitioner, an OCT employee): CAs only.
        if (out.kind !== 'ca') refuse('personal_data', 'audit: object.subject is only allowed for CAs');
        out.subject = checkFreeString('object.subject', v, 512);
        break;
      case 'setting':
        out.setting = checkEnum('object.setting', v, SETTING_KEYS);
        break;
      case 'url':
        out.url = checkUrl('object.url', v);
        break;
      default:
        refuse('field_not_allowed', `audit: object.${k} is not an allowed field`);
    }
  }
  return out;
}

function checkDetails(d: unknown): AuditDetails {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) refuse('invalid_field', 'audit: details must be an object');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d as Record<string, unknown>)) {
    if (v === undefined) continue;
    if (!Object.hasOwn(DETAIL_RULES, k)) refuse('field_not_allowed', `audit: details.${k} is not an allowed field`);
    out[k] = DETAIL_RULES[k as keyof AuditDetails](v);
  }
  return out as AuditDetails;
}

/** Whether a CA name, URL or host may be written to the trail (see checkFreeString). */
export function isLoggableText(s: string, max = 512): boolean {
  try {
    checkFreeString('text', s, max);
    return true;
  } catch {
    return false;
  }
}

/**
 * For the trust service's own events: drops the free-text object fields (CA names, URLs) that
 * the trail would refuse, e.g. a CA name carrying a 14-digit SIRET, so that importing such a
 * CA is logged by fingerprint and serial instead of failing. Calls from other modules go
 * through checkAuditInput unchanged and are refused.
 */
export function withholdUnloggable(input: AuditInput): AuditInput {
  const o = input.object;
  if (!o) return input;
  const object: AuditObject = { ...o };
  if (object.issuer !== undefined && !isLoggableText(object.issuer)) delete object.issuer;
  if (object.subject !== undefined && !isLoggableText(object.subject)) delete object.subject;
  if (object.url !== undefined && !isLoggableText(object.url, 1024)) delete object.url;
  return { ...input, object };
}

/**
 * Validates an input and returns a clean copy holding only allowed fields. Throws
 * AuditRefused otherwise. Exposed so that callers can test their events without writing them.
 */
export function checkAuditInput(input: AuditInput, now: number): Omit<AuditRecord, 'seq' | 'prev' | 'hash' | 'mac' | 'v'> {
  if (typeof input !== 'object' || input === null) refuse('invalid_field', 'audit: input must be an object');
  const allowed = new Set(['event', 'outcome', 'actor', 'object', 'details', 'at']);
  for (const k of Object.keys(input)) if (!allowed.has(k)) refuse('field_not_allowed', `audit: ${k} is not an allowed field`);
  const out: Omit<AuditRecord, 'seq' | 'prev' | 'hash' | 'mac' | 'v'> = {
    at: checkInt('at', input.at ?? now, 0, MAX_TIME),
    actor: checkActor(input.actor ?? 'system'),
    event: checkEnum('event', input.event, AUDIT_EVENTS),
    outcome: checkEnum('outcome', input.outcome, AUDIT_OUTCOMES),
  };
  if (input.object !== undefined) out.object = checkObject(input.object);
  if (input.details !== undefined) {
    const d = checkDetails(input.details);
    if (Object.keys(d).length) out.details = d;
  }
  return out;
}

/* ------------------------------------------------------------------------------------------ */
/* Canonical bytes, hashing, MAC */

/**
 * Deterministic JSON: keys sorted at every level, no whitespace, integers only (validation
 * guarantees it), undefined members dropped. The same bytes in every runtime.
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v === 'boolean') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError('canonicalJson: non-finite number');
    return JSON.stringify(v);
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k])).join(',') + '}';
  }
  throw new TypeError(`canonicalJson: unsupported ${typeof v}`);
}

const encoder = new TextEncoder();

function hex(b: ArrayBuffer): string {
  const u = new Uint8Array(b);
  let s = '';
  for (let i = 0; i < u.length; i++) s += u[i]!.toString(16).padStart(2, '0');
  return s;
}

async function sha256(text: string): Promise<string> {
  return hex(await globalThis.crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

/** The bytes a record's hash covers: everything but `hash` and `mac`. */
export function recordCanonical(r: Omit<AuditRecord, 'hash' | 'mac'> & { hash?: string; mac?: string }): string {
  const { hash: _hash, mac: _mac, ...body } = r;
  return canonicalJson(body);
}

export function recordHash(r: Omit<AuditRecord, 'hash' | 'mac'> & { hash?: string; mac?: string }): Promise<string> {
  return sha256(recordCanonical(r));
}

function anchorCanonical(a: ChainAnchor): string {
  const { mac: _mac, ...body } = a;
  return canonicalJson({ anchor: body });
}

function headCanonical(h: ChainHead): string {
  return canonicalJson({ head: { seq: h.seq, hash: h.hash } });
}

function checkCanonical(c: Omit<KeyCheck, 'mac'>): string {
  return canonicalJson({ keyCheck: { v: c.v, journal: c.journal, createdAt: c.createdAt } });
}

/** A fresh non-extractable HMAC-SHA-256 key (the store persists it as a CryptoKey). */
export function generateAuditKey(): Promise<CryptoKey> {
  return globalThis.crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']) as Promise<CryptoKey>;
}

async function macOf(key: CryptoKey, text: string): Promise<string> {
  return hex(await globalThis.crypto.subtle.sign('HMAC', key, encoder.encode(text)));
}

async function macValid(key: CryptoKey, text: string, mac: unknown): Promise<boolean> {
  if (typeof mac !== 'string' || !HEX64.test(mac)) return false;
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = parseInt(mac.slice(2 * i, 2 * i + 2), 16);
  try {
    return await globalThis.crypto.subtle.verify('HMAC', key, bytes, encoder.encode(text));
  } catch {
    return false; // not an HMAC key (a replaced value of another type)
  }
}

/** The head of an empty journal, sealed. */
export async function emptyHead(key: CryptoKey): Promise<ChainHead> {
  return sealHead({ seq: -1, hash: ZERO_HASH }, key);
}

export async function sealHead(h: ChainHead, key: CryptoKey): Promise<ChainHead> {
  const out: ChainHead = { seq: h.seq, hash: h.hash };
  out.mac = await macOf(key, headCanonical(out));
  return out;
}

export function headSealValid(h: ChainHead | undefined, key: CryptoKey): Promise<boolean> {
  if (!h || typeof h !== 'object') return Promise.resolve(false);
  return macValid(key, headCanonical(h), h.mac);
}

/** Everything a new journal starts with: its key, the key's check, and the sealed empty head. */
export async function newJournal(now: number): Promise<{ key: CryptoKey; check: KeyCheck; head: ChainHead }> {
  const key = await generateAuditKey();
  const body = { v: 1 as const, journal: globalThis.crypto.randomUUID(), createdAt: now };
  const check: KeyCheck = { ...body, mac: await macOf(key, checkCanonical(body)) };
  return { key, check, head: await emptyHead(key) };
}

/** Whether two keys are the same (one signs, the other verifies a random challenge). */
export async function sameKey(a: CryptoKey, b: CryptoKey): Promise<boolean> {
  if (a === b) return true;
  const challenge = hex(globalThis.crypto.getRandomValues(new Uint8Array(16)).buffer as ArrayBuffer);
  try {
    return await macValid(b, challenge, await macOf(a, challenge));
  } catch {
    return false;
  }
}

/**
 * Turns validated inputs into chained records following `head` (undefined: the chain is
 * empty and starts at the beginning). With `key`, each record and the new head are sealed.
 * Async (WebCrypto); pure otherwise.
 */
export async function sealRecords(
  inputs: AuditInput[],
  head: ChainHead | undefined,
  now: number,
  key?: CryptoKey,
): Promise<{ records: AuditRecord[]; head: ChainHead | undefined }> {
  let seq = head ? head.seq + 1 : 0;
  let prev = head ? head.hash : ZERO_HASH;
  const records: AuditRecord[] = [];
  for (const input of inputs) {
    const body = { v: 1 as const, seq, prev, ...checkAuditInput(input, now) };
    const hash = await recordHash(body);
    const rec: AuditRecord = { ...body, hash };
    if (key) rec.mac = await macOf(key, hash);
    records.push(rec);
    prev = hash;
    seq++;
  }
  const last = records[records.length - 1];
  const next = last ? { seq: last.seq, hash: last.hash } : head;
  return { records, head: next && key ? await sealHead(next, key) : next };
}

export async function sealAnchor(a: Omit<ChainAnchor, 'mac'>, key?: CryptoKey): Promise<ChainAnchor> {
  const out: ChainAnchor = { seq: a.seq, hash: a.hash, at: a.at, purged: a.purged };
  if (key) out.mac = await macOf(key, anchorCanonical(out));
  return out;
}

/* ------------------------------------------------------------------------------------------ */
/* Verification */

export type ChainProblem =
  | 'altered'
  | 'missing'
  | 'reordered'
  | 'forged'
  | 'anchor'
  | 'truncated'
  | 'malformed'
  /** A record without a seal (written by an older version, or its seal removed). */
  | 'unsealed'
  /** The head is missing or its seal does not verify. */
  | 'head'
  /** The journal has content but no key. */
  | 'key_missing'
  /** The key does not match its check value (replaced), or the check is missing. */
  | 'key_check'
  /** The key and its check were replaced together (the witness or the key in use tells). */
  | 'key_replaced'
  /**
   * The store or its journal could not be opened or checked at all (a damaged record, a
   * database of another version): nothing can be verified, so everything sensitive is blocked.
   */
  | 'unverifiable'
  /** A trust record does not match its seal in the journal, or has none (store-seal.ts). */
  | 'store_unsealed'
  /** Trust data beside an empty journal: the journal was deleted. */
  | 'journal_missing'
  /** The journal does not continue what the relay anchored (or its last receipt): rewritten, truncated, replaced or restored. */
  | 'anchor_mismatch';

export type ChainVerification =
  | { ok: true; count: number; firstSeq?: number; lastSeq?: number; mac: 'verified' | 'unchecked'; message: string }
  | { ok: false; index: number; seq?: number; problem: ChainProblem; message: string };

function broken(index: number, problem: ChainProblem, message: string, seq?: number): ChainVerification {
  return seq === undefined ? { ok: false, index, problem, message } : { ok: false, index, seq, problem, message };
}

/**
 * Checks the chain `records` (in stored order) and returns the first broken index and why.
 * `anchor`: the purge anchor, if any; `head`: the last record written, if known (detects a
 * truncated tail); `key`: the MAC key. With a key, every record, the anchor and the head must
 * carry a valid seal, and the head must be given: nothing falls back to bare hashes. Without
 * one (an export read elsewhere), only the hashes are checked and the result says so.
 */
export async function verifyChain(
  records: readonly AuditRecord[],
  opts: { anchor?: ChainAnchor; head?: ChainHead; key?: CryptoKey } = {},
): Promise<ChainVerification> {
  const { anchor, head, key } = opts;
  if (anchor && key && !(await macValid(key, anchorCanonical(anchor), anchor.mac))) {
    return broken(0, 'anchor', 'Le point de départ du journal (après purge) a été modifié.');
  }
  let expectedSeq = anchor ? anchor.seq + 1 : 0;
  let expectedPrev = anchor ? anchor.hash : ZERO_HASH;
  const seen = new Set<number>();
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (typeof r !== 'object' || r === null || !Number.isInteger(r.seq) || typeof r.hash !== 'string' || typeof r.prev !== 'string') {
      return broken(i, 'malformed', `L’enregistrement n° ${i + 1} du journal est illisible.`);
    }
    if (r.seq !== expectedSeq) {
      const later = records.slice(i + 1).some((x) => x?.seq === expectedSeq);
      if (later || r.seq < expectedSeq || seen.has(r.seq)) {
        return broken(i, 'reordered', `Le journal a été réordonné : l’enregistrement n° ${expectedSeq} n’est pas à sa place.`, r.seq);
      }
      return broken(
        i,
        'missing',
        r.seq === expectedSeq + 1
          ? `L’enregistrement n° ${expectedSeq} du journal a été supprimé.`
          : `Les enregistrements n° ${expectedSeq} à ${r.seq - 1} du journal ont été supprimés.`,
        r.seq,
      );
    }
    seen.add(r.seq);
    let actual: string;
    try {
      actual = await recordHash(r);
    } catch {
      return broken(i, 'malformed', `L’enregistrement n° ${r.seq} du journal est illisible.`, r.seq);
    }
    if (actual !== r.hash) return broken(i, 'altered', `L’enregistrement n° ${r.seq} du journal a été modifié.`, r.seq);
    if (r.prev !== expectedPrev) {
      return broken(i, 'missing', `Le chaînage est rompu avant l’enregistrement n° ${r.seq} : un enregistrement a été supprimé ou remplacé.`, r.seq);
    }
    if (key && r.mac === undefined) {
      return broken(i, 'unsealed', `L’enregistrement n° ${r.seq} du journal n’est pas scellé (version antérieure du logiciel, ou sceau retiré).`, r.seq);
    }
    if (key && !(await macValid(key, r.hash, r.mac))) {
      return broken(i, 'forged', `L’enregistrement n° ${r.seq} du journal n’a pas été écrit par ce poste (sceau invalide).`, r.seq);
    }
    expectedSeq++;
    expectedPrev = r.hash;
  }
  // Records first (their problems have a precise index), then the sealed head.
  if (key && !head) return broken(records.length, 'head', 'La fin du journal (dernier enregistrement connu) a été supprimée.');
  if (key && head && !(await headSealValid(head, key))) {
    return broken(records.length, 'head', 'La fin du journal (dernier enregistrement connu) a été modifiée.');
  }
  if (head) {
    const last = records[records.length - 1];
    const lastSeq = last ? last.seq : anchor ? anchor.seq : -1;
    const lastHash = last ? last.hash : anchor ? anchor.hash : ZERO_HASH;
    if (head.seq !== lastSeq || head.hash !== lastHash) {
      return broken(
        records.length,
        'truncated',
        head.seq > lastSeq
          ? `Les derniers enregistrements du journal (jusqu’au n° ${head.seq}) ont été supprimés.`
          : 'La fin du journal ne correspond pas au dernier enregistrement connu.',
      );
    }
  }
  const first = records[0];
  const last = records[records.length - 1];
  const ok: ChainVerification = {
    ok: true,
    count: records.length,
    mac: key ? 'verified' : 'unchecked',
    message: records.length ? `Journal intègre (${records.length} enregistrements).` : 'Journal vide.',
  };
  if (first && last) {
    ok.firstSeq = first.seq;
    ok.lastSeq = last.seq;
  }
  return ok;
}

/**
 * The whole check of a stored journal: the key is there, matches its check and its witness
 * (and `held`, the key this tab opened with, when given), then verifyChain with that key.
 * Never "unchecked": a journal without its key is a failure.
 */
export async function verifyJournal(
  content: { records: readonly AuditRecord[]; anchor?: ChainAnchor; head?: ChainHead },
  keys: AuditKeyState,
  held?: CryptoKey,
): Promise<ChainVerification> {
  const { key, check, witness } = keys;
  if (!key) {
    return broken(0, 'key_missing', 'La clé de scellement du journal est absente : le journal a été écrit par une version antérieure du logiciel, ou la clé a été supprimée.');
  }
  if (!check || typeof check !== 'object' || !(await macValid(key, checkCanonical(check), check.mac))) {
    return broken(0, 'key_check', check ? 'La clé de scellement du journal a été remplacée.' : 'La clé de scellement du journal n’a pas de valeur de contrôle (version antérieure du logiciel, ou valeur supprimée).');
  }
  if ((typeof witness === 'string' && witness !== check.mac) || (held && !(await sameKey(held, key)))) {
    return broken(0, 'key_replaced', 'La clé de scellement du journal et sa valeur de contrôle ont été remplacées.');
  }
  return verifyChain(content.records, { ...(content.anchor ? { anchor: content.anchor } : {}), ...(content.head ? { head: content.head } : {}), key });
}

/* ------------------------------------------------------------------------------------------ */
/* Retention */

export const MIN_RETENTION_DAYS = 366;

export interface PurgePlan {
  /** Sequence numbers to delete (a prefix of the chain). */
  remove: number[];
  /** The new anchor (last removed record). */
  anchor: Omit<ChainAnchor, 'mac'>;
}

/**
 * The records to purge at `now`: the longest prefix of records older than the retention
 * period. Never less than MIN_RETENTION_DAYS (SA2: at least 12 months). Undefined when none.
 */
export function planPurge(records: readonly AuditRecord[], anchor: ChainAnchor | undefined, now: number, retentionDays: number): PurgePlan | undefined {
  const days = Math.max(retentionDays, MIN_RETENTION_DAYS);
  const cutoff = now - days * 86_400_000;
  let k = 0;
  while (k < records.length && records[k]!.at < cutoff) k++;
  if (k === 0) return undefined;
  const last = records[k - 1]!;
  return {
    remove: records.slice(0, k).map((r) => r.seq),
    anchor: { seq: last.seq, hash: last.hash, at: last.at, purged: (anchor?.purged ?? 0) + k },
  };
}

/* ------------------------------------------------------------------------------------------ */
/* Export */

export const AUDIT_EXPORT_FORMAT = 'teletrans-audit';

/**
 * JSON lines: a header line {"format":"teletrans-audit","version":1,"exportedAt":…,
 * "anchor":…|null,"head":…|null}, then one record per line in canonical JSON (with its hash
 * and MAC), oldest first. The export can be verified without the store (verifyChain on the
 * parsed records from the header's anchor), except for the MACs, which need the key.
 */
export function exportJsonl(records: readonly AuditRecord[], anchor: ChainAnchor | undefined, head: ChainHead | undefined, exportedAt: number): string {
  const header = { format: AUDIT_EXPORT_FORMAT, version: 1, exportedAt, anchor: anchor ?? null, head: head ?? null };
  return [canonicalJson(header), ...records.map((r) => canonicalJson(r))].join('\n') + '\n';
}

export function parseJsonl(text: string): { exportedAt: number; anchor?: ChainAnchor; head?: ChainHead; records: AuditRecord[] } {
  const lines = text.split('\n').filter((l) => l.length > 0);
  const header = JSON.parse(lines[0] ?? 'null') as { format?: string; exportedAt: number; anchor: ChainAnchor | null; head: ChainHead | null } | null;
  if (!header || header.format !== AUDIT_EXPORT_FORMAT) throw new Error('not a Teletrans audit export');
  const out: { exportedAt: number; anchor?: ChainAnchor; head?: ChainHead; records: AuditRecord[] } = {
    exportedAt: header.exportedAt,
    records: lines.slice(1).map((l) => JSON.parse(l) as AuditRecord),
  };
  if (header.anchor) out.anchor = header.anchor;
  if (header.head) out.head = header.head;
  return out;
}
