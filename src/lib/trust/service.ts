/**
 * TrustService: the facade the pages use for the local trust store (transmission.md §3–6,
 * security.md EL1/SA2/SP1). Pure core: the store, the fetcher, the clock and the random
 * source are injected; it runs unchanged in the browser (IndexedDB store) and in Node
 * (memory store).
 *
 * Import discipline: everything that can fail or take time (decoding, parsing, signature and
 * path verification, index building, hashing of audit records) happens before the commit;
 * the commit is one transaction holding only puts and deletes, with the audit records of the
 * operation. A tab closed mid-import therefore leaves the previous state in force.
 */
import { Verifier } from '../pki/index.js';
import { type Cert, KU, parseCertificate } from '../pki/cert.js';
import { parseCrl } from '../pki/crl.js';
import { REASON_NAMES, type Crl, type ReasonCode } from '../pki/crl-model.js';
import { toHex } from '../pki/der.js';
import { isPkiError } from '../pki/errors.js';
import { type Parsed, decodeParsed } from '../pki/input.js';
import { nameToString } from '../pki/name.js';
import { keyBits, sha256Hex, verifySignature, KEY_OID } from '../pki/signature.js';
import type { VerifyIssue } from '../pki/types.js';
import {
  type AuditActor,
  type AuditInput,
  type AuditRecord,
  AUDIT_EVENT_LABELS,
  AUDIT_OUTCOME_LABELS,
  type AuditKeyState,
  type ChainAnchor,
  type ChainProblem,
  type ChainVerification,
  type SettingKey,
  emptyHead,
  exportJsonl,
  headSealValid,
  newJournal,
  planPurge,
  sealAnchor,
  sealRecords,
  verifyJournal,
  withholdUnloggable,
} from './audit.js';
import { type Fetcher, FetchError } from './fetcher.js';
import {
  type CaRecord,
  type Change,
  ConcurrentAppendError,
  type CrlRecord,
  DEFAULT_SETTINGS,
  HIERARCHY_PATTERN,
  type HierarchyLabel,
  type MetaRecord,
  type Provenance,
  type RecipientRecord,
  type SettingRecord,
  type SourceRecord,
  type TrustSettings,
  type AuditContent,
  type TrustSnapshot,
  type TrustStorePort,
  type Usage,
  crlId,
  crlNumberHex,
  crlScope,
  hierarchyLabel,
  settingProblem,
  settingsFrom,
} from './model.js';
import { RevocationIndex, buildRevocationIndex } from './revocation-index.js';
import {
  type Alert,
  CRL_FRESHNESS_LABELS,
  type CrlFreshness,
  type CrlScheduleConfig,
  DAY_MS,
  type FetchOutcome,
  HOUR_MS,
  RECIPIENT_STATE_LABELS,
  type RecipientState,
  type RefreshTrigger,
  type RenewalConfig,
  type RenewalPlan,
  crlAlert,
  crlFreshness,
  cryptoRandom,
  drawCrlSlot,
  expiredWarningDue,
  planCrlFetch,
  planRenewal,
  recipientState,
} from './schedule.js';

/* ------------------------------------------------------------------------------------------ */
/* Public types */

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

export interface ImportOptions {
  /** Hierarchy of a root CA (production, test, oct-…); guessed for GIE SESAM-Vitale names. */
  hierarchy?: HierarchyLabel;
  /** Whose certificate (mailbox for attachment certificates); default the subjectAltName. */
  recipient?: string;
  usage?: Usage;
  source?: Provenance;
  /** Where it came from (a directory URL), for CRLs fetched by refresh(). */
  sourceUrl?: string;
  actor?: AuditActor;
}

export interface ImportReport {
  kind: 'ca' | 'certificate' | 'crl' | 'input';
  outcome: 'stored' | 'unchanged' | 'refused';
  /** Subject DN (certificates) or issuer DN (CRLs), for display. */
  label: string;
  fingerprint?: string;
  /** Stable reason code when refused or unchanged. */
  code?: string;
  /** French, for the practitioner. */
  message: string;
  warnings: string[];
}

export type RevocationStatus = 'good' | 'revoked' | 'no-crl';

export interface RevocationAnswer {
  status: RevocationStatus;
  revoked: boolean;
  /** RFC 5280 reason name (keyCompromise…), when the CRL gives one. */
  reason?: string;
  /** French label of the reason. */
  reasonLabel?: string;
  /** Revocation date, ms since epoch. */
  date?: number;
  invalidityDate?: number;
  /** The CRL used is past its nextUpdate (still used, with a warning: §2). */
  stale: boolean;
  crlId?: string;
  nextUpdate?: number;
}

export const REASON_LABELS: Record<string, string> = {
  unspecified: 'motif non précisé',
  keyCompromise: 'compromission de la clé',
  cACompromise: 'compromission de l’autorité',
  affiliationChanged: 'changement d’affiliation',
  superseded: 'remplacé',
  cessationOfOperation: 'cessation d’activité',
  certificateHold: 'suspendu',
  removeFromCRL: 'retiré de la liste',
  privilegeWithdrawn: 'privilège retiré',
  aACompromise: 'compromission de l’autorité d’attributs',
};

export interface CaView {
  fingerprint: string;
  role: 'root' | 'intermediate';
  roleLabel: string;
  hierarchy: HierarchyLabel;
  subject: string;
  /** Name key of the subject: the issuerKey of what this CA issues. */
  subjectKey: string;
  issuer: string;
  serial: string;
  notBefore: number;
  notAfter: number;
  expired: boolean;
  /** The CRL this CA issues, if stored. */
  crlId?: string;
}

export interface HierarchyView {
  hierarchy: HierarchyLabel;
  label: string;
  roots: CaView[];
  intermediates: CaView[];
}

export interface RecipientView {
  fingerprint: string;
  recipient: string;
  usage: Usage;
  subject: string;
  issuer: string;
  serial: string;
  hierarchy: HierarchyLabel;
  notBefore: number;
  notAfter: number;
  state: RecipientState;
  /** valide, expire bientôt, expiré, révoqué, obsolète. */
  stateLabel: string;
  crl: CrlFreshness;
  crlLabel: string;
  revocation: RevocationAnswer;
  /** Can encrypt for it now (attachment: valid or expiring, and a CRL present; data: not revoked). */
  usable: boolean;
  /** French sentences: why not usable, or what to watch. */
  problems: string[];
  renewal: RenewalPlan;
}

export interface CrlView {
  id: string;
  issuer: string;
  /** The issuer's name key: what isRevoked() takes (pki Cert.issuer.key of the certificates it covers). */
  issuerKey: string;
  hierarchy: HierarchyLabel;
  thisUpdate: number;
  nextUpdate: number;
  crlNumber?: string;
  size: number;
  freshness: CrlFreshness;
  freshnessLabel: string;
  sha256: string;
  importedAt: number;
  /** Directory URLs this CRL is fetched from. */
  sources: string[];
  /** Next scheduled fetch (earliest over its sources), ms since epoch. */
  nextFetch?: number;
  lastAttemptAt?: number;
  lastOutcome?: FetchOutcome;
  alert?: Alert;
}

export interface RefreshItem {
  url: string;
  kind: 'crl' | 'certificate';
  outcome: FetchOutcome;
  code?: string;
  message: string;
}

export interface RefreshOptions {
  /** Who asks (default `scheduled`: the automatic schedule, CRLs inside the 02:00–22:00 window only). */
  trigger?: RefreshTrigger;
  /** Every source, not only those due (« Mettre à jour maintenant »); implies `manual`. */
  force?: boolean;
  /** Default: the logged-in user for a manual refresh, "system" for a scheduled one. */
  actor?: AuditActor;
}

export interface RefreshReport {
  at: number;
  trigger: RefreshTrigger;
  items: RefreshItem[];
  purged: number;
}

export interface AuditRow extends AuditRecord {
  eventLabel: string;
  outcomeLabel: string;
}

export interface AuditView {
  records: AuditRow[];
  integrity: ChainVerification;
  anchor?: ChainAnchor;
}

/**
 * The journal's integrity as the service enforces it (SP1): `tampered` blocks every operation
 * that changes trust state or is sensitive, until an administrator resets the journal. Once
 * detected it stays so in this instance, even if the data is put back: only the reset clears it.
 */
export type AuditIntegrity =
  | { state: 'intact' }
  | { state: 'tampered'; problem: ChainProblem; message: string; detectedAt: number; seq?: number };

/** Thrown by the operations refused while the journal is tampered (code `audit_integrity_failed`). */
export class AuditIntegrityError extends Error {
  readonly code = 'audit_integrity_failed';
  constructor(
    readonly problem: ChainProblem,
    message: string,
  ) {
    super(message);
    this.name = 'AuditIntegrityError';
  }
}

export type AuditResetRefusal = 'confirmation_required' | 'audit_intact';

/** The reset was refused: not confirmed, or the journal verifies (a sound journal is never reset). */
export class AuditResetRefused extends Error {
  constructor(
    readonly code: AuditResetRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'AuditResetRefused';
  }
}

export interface AuditResetReport {
  /** The failed journal as it was (JSON lines), also archived in the store. */
  archive: string;
  /** SHA-256 (hex) of `archive`, written in the new journal's first record. */
  sha256: string;
  /** Records archived. */
  count: number;
  problem: ChainProblem;
}

const BLOCKED_MESSAGE =
  'Le journal d’audit de ce poste a été altéré : les fonctions sensibles sont bloquées jusqu’à ce qu’un administrateur réinitialise le journal (page « Journal d’audit »).';

/** GIE SESAM-Vitale mailboxes and their hierarchy (transmission.md §2 table). */
export function expectedHierarchy(mailbox: string): HierarchyLabel | undefined {
  const m = mailbox.toLowerCase();
  if (m.endsWith('@reel.rss.fr')) return 'production';
  if (m.endsWith('@test.rss.fr')) return 'test';
  return undefined;
}

/** A hierarchy for a GIE SESAM-Vitale root from its name; undefined for other CAs. */
export function guessHierarchy(subject: string): HierarchyLabel | undefined {
  if (!/SESAM-VITALE/i.test(subject)) return undefined;
  return /TEST/i.test(subject) ? 'test' : 'production';
}

/* ------------------------------------------------------------------------------------------ */
/* Internals */

/** Work prepared before a commit: the writes, their audit records, and what to report. */
interface Plan {
  report: ImportReport;
  changes: Change[];
  events: AuditInput[];
  /** Index built for a new CRL, cached once the commit succeeded. */
  index?: { sha256: string; buffer: ArrayBuffer };
}

interface LoadedCrl {
  meta: CrlRecord;
  index: RevocationIndex;
}

/** A copy that owns exactly its bytes (IndexedDB would otherwise store the whole buffer). */
function exact(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice();
}

function cmpHexInt(a: string, b: string): number {
  const x = BigInt('0x' + a);
  const y = BigInt('0x' + b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function uris(c: Cert): string[] {
  const out: string[] = [];
  for (const dp of c.crlDistributionPoints ?? []) {
    if (dp.name?.kind !== 'full') continue;
    for (const g of dp.name.names) if (g.kind === 'uri' && /^(ldaps?|https?):\/\//i.test(g.value)) out.push(g.value);
  }
  return out;
}

function issueText(issues: VerifyIssue[]): string {
  return issues.map((i) => i.message).join(' ');
}

function refused(kind: ImportReport['kind'], label: string, code: string, message: string, fingerprint?: string): ImportReport {
  const r: ImportReport = { kind, outcome: 'refused', label, code, message, warnings: [] };
  if (fingerprint) r.fingerprint = fingerprint;
  return r;
}

function fmtDate(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('fr-FR', { timeZone, dateStyle: 'short', timeStyle: 'short' }).format(new Date(ms));
}

const MAX_COMMIT_ATTEMPTS = 8;

/* ------------------------------------------------------------------------------------------ */

export class TrustService {
  private readonly store: TrustStorePort;
  private readonly fetcher: Fetcher | undefined;
  private readonly clock: () => number;
  private readonly random: () => number;
  private defaultActor: AuditActor;
  private readonly verifier = new Verifier();

  private snap: TrustSnapshot = { cas: [], recipients: [], crls: [], sources: [], settings: [], meta: [] };
  private conf: TrustSettings = { ...DEFAULT_SETTINGS };
  private readonly certs = new Map<string, Cert>();
  /** Indexes by CRL sha256 (survive reloads while the CRL is unchanged). */
  private readonly indexes = new Map<string, RevocationIndex>();
  private byIssuer = new Map<string, LoadedCrl[]>();
  /** The seal this instance opened with (a replaced key in the store is detected against it). */
  private key: CryptoKey | undefined;
  private journal: string | undefined;
  private integrityState: AuditIntegrity = { state: 'intact' };
  private unsubscribe: (() => void) | undefined;
  private refreshing: { kind: string; run: Promise<RefreshReport> } | undefined;
  private reloads = 0;
  private latestReload: Promise<void> = Promise.resolve();
  /** Tail of this instance's audit appends (they run one at a time). */
  private appending: Promise<unknown> = Promise.resolve();

  private constructor(deps: TrustServiceDeps) {
    this.store = deps.store;
    this.fetcher = deps.fetcher;
    this.clock = deps.clock ?? Date.now;
    this.random = deps.random ?? cryptoRandom;
    this.defaultActor = deps.actor ?? 'system';
  }

  /**
   * Opens the service: loads the metadata and every CRL index (one record each), gets the
   * audit MAC key, and draws this installation's CRL slot on first use.
   */
  static async open(deps: TrustServiceDeps): Promise<TrustService> {
    const s = new TrustService(deps);
    const k = await s.store.auditKey();
    s.key = k.key;
    s.journal = k.check?.journal;
    await s.reload();
    // The whole journal is verified once at open; commits then check the sealed head.
    await s.checkJournal(k);
    if (s.conf.crlSlot === undefined && s.integrityState.state === 'intact') {
      const slot = drawCrlSlot(s.random, s.conf.crlWindowStart, s.conf.crlWindowEnd);
      await s.writeSettings({ crlSlot: slot }, 'system');
    }
    s.unsubscribe = s.store.subscribe?.(() => void s.reload().catch(() => undefined));
    return s;
  }

  close(): void {
    this.unsubscribe?.();
    this.store.close?.();
  }

  /** Sets who acts by default (the session layer calls it at log-in and log-out). */
  setActor(actor: AuditActor): void {
    this.defaultActor = actor;
  }

  /**
   * Re-reads the store (another tab may have changed it). Reloads may overlap (a commit here,
   * a broadcast from another tab): only the most recently started one is applied, so an older
   * snapshot never replaces a newer one, and an overtaken reload waits for the newer one.
   */
  reload(): Promise<void> {
    const run = this.loadSnapshot(++this.reloads);
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
    this.certs.clear();
    for (const [k, v] of certs) this.certs.set(k, v);
    this.snap = snap;
    this.conf = conf;
    this.byIssuer = byIssuer;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Commit with audit */

  /**
   * Seals the audit records on the current head and commits them with `changes`, retrying
   * when another tab appended in between (the store refuses a moved head).
   */
  private async commit(changes: Change[], inputs: AuditInput[], purge?: { remove: number[]; anchor: Omit<ChainAnchor, 'mac'> }, external = false): Promise<void> {
    this.requireIntact();
    const key = this.key;
    if (!key) throw this.tamper({ ok: false, index: 0, problem: 'key_missing', message: 'La clé de scellement du journal est absente.' });
    const now = this.clock();
    // The service's own events describe objects it parsed: names the trail would refuse are
    // withheld rather than failing the import. Events from other modules are checked as given.
    const events = external ? inputs : inputs.map(withholdUnloggable);
    const anchor = purge ? { remove: purge.remove, anchor: await sealAnchor(purge.anchor, key) } : undefined;
    const attempt = async (): Promise<void> => {
      for (let n = 1; ; n++) {
        const head = await this.store.auditHead();
        // Never chain onto a head this key did not seal (edited, deleted, or resealed with another key).
        if (!(await headSealValid(head, key))) {
          throw this.tamper({ ok: false, index: 0, problem: 'head', message: head ? 'La fin du journal (dernier enregistrement connu) a été modifiée.' : 'La fin du journal (dernier enregistrement connu) a été supprimée.' });
        }
        const sealed = await sealRecords(events, head, now, key);
        try {
          await this.store.commit(changes, anchor ? { expectHead: head, records: sealed.records, head: sealed.head, purge: anchor } : { expectHead: head, records: sealed.records, head: sealed.head });
          return;
        } catch (e) {
          if (!(e instanceof ConcurrentAppendError) || n >= MAX_COMMIT_ATTEMPTS) throw e;
          // Another writer without the lock (an older tab): back off a little, then rechain.
          await new Promise((r) => setTimeout(r, Math.floor(this.random() * 20 * n)));
        }
      }
    };
    // Appends are serialised: in this tab by a promise chain, across tabs by the store's lock
    // when it has one; the head check in the commit remains the guarantee.
    const run = this.appending.then(() => (this.store.lock ? this.store.lock('audit-append', attempt) : attempt()));
    this.appending = run.catch(() => undefined);
    return run;
  }

  private async apply(plan: Plan, extra: Change[] = [], extraEvents: AuditInput[] = []): Promise<ImportReport> {
    const changes = [...plan.changes, ...extra];
    const events = [...plan.events, ...extraEvents];
    if (changes.length || events.length) await this.commit(changes, events);
    if (plan.index) this.indexes.set(plan.index.sha256, new RevocationIndex(plan.index.buffer));
    await this.reload();
    return plan.report;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Imports */

  /**
   * Imports what a file or pasted text holds (PEM with any number of blocks, or DER): CA
   * certificates first, then CRLs, then recipient certificates, each committed with its
   * audit records. One report per item; decoding errors give one refused report.
   */
  async importFile(data: Uint8Array | string, opts: ImportOptions = {}): Promise<ImportReport[]> {
    this.requireIntact();
    let items: Parsed[];
    try {
      items = decodeParsed(data);
    } catch (e) {
      const code = isPkiError(e) ? e.code : 'input_unrecognised';
      const message = e instanceof Error ? e.message : String(e);
      await this.commit([], [{ event: 'certificate.load', outcome: 'refused', actor: opts.actor ?? this.defaultActor, details: { code, source: opts.source ?? 'file' } }]);
      return [refused('input', '', code, message)];
    }
    return this.importParsed(items, opts);
  }

  async importParsed(items: Parsed[], opts: ImportOptions = {}): Promise<ImportReport[]> {
    this.requireIntact();
    const cas = items.flatMap((p) => (p.kind === 'certificate' && p.cert.basicConstraints?.ca ? [p.cert] : []));
    const crls = items.flatMap((p) => (p.kind === 'crl' ? [p.crl] : []));
    const leaves = items.flatMap((p) => (p.kind === 'certificate' && !p.cert.basicConstraints?.ca ? [p.cert] : []));
    const reports: ImportReport[] = [];
    // Roots first, then each CA after the one that issued it when the bundle holds it (a
    // bundle may list them in any order); each is imported once.
    const depth = new Map<Cert, number>();
    const depthOf = (c: Cert, seen: Set<Cert>): number => {
      let d = depth.get(c);
      if (d === undefined) {
        const parent = c.selfIssued ? undefined : cas.find((p) => p !== c && !seen.has(p) && p.subject.key === c.issuer.key);
        d = parent ? 1 + depthOf(parent, new Set([...seen, c])) : c.selfIssued ? 0 : 1;
        depth.set(c, d);
      }
      return d;
    };
    for (const c of [...cas].sort((a, b) => depthOf(a, new Set()) - depthOf(b, new Set()))) reports.push(await this.importCa(c, opts));
    for (const crl of crls) reports.push(await this.importCrl(crl, opts));
    // Leaves grouped by recipient: several certificates of one recipient are one update.
    const groups = new Map<string, Cert[]>();
    for (const c of leaves) {
      const named = (opts.recipient ?? c.subjectAltNames?.find((g) => g.kind === 'rfc822')?.value ?? '').trim();
      // Mailboxes compare case-insensitively; data-certificate identifiers are kept as given.
      const who = (opts.usage ?? 'attachment') === 'attachment' ? named.toLowerCase() : named;
      const g = groups.get(who) ?? [];
      g.push(c);
      groups.set(who, g);
    }
    for (const [who, certs] of groups) {
      if (!who) {
        for (const c of certs) {
          reports.push(refused('certificate', nameToString(c.subject), 'recipient_unknown', 'Indiquez le destinataire de ce certificat : il ne porte pas d’adresse de messagerie.'));
        }
        continue;
      }
      reports.push(await this.importRecipient(certs, { ...opts, recipient: who }));
    }
    return reports;
  }

  /** Imports one CA certificate (a root with its hierarchy label, or an intermediate). */
  async importCa(certOrDer: Cert | Uint8Array, opts: ImportOptions = {}): Promise<ImportReport> {
    const plan = await this.prepareCa(certOrDer, opts);
    return this.apply(plan);
  }

  private async prepareCa(certOrDer: Cert | Uint8Array, opts: ImportOptions): Promise<Plan> {
    const now = this.clock();
    const actor = opts.actor ?? this.defaultActor;
    const source = opts.source ?? 'file';
    let cert: Cert;
    try {
      cert = certOrDer instanceof Uint8Array ? parseCertificate(certOrDer.slice()) : certOrDer;
    } catch (e) {
      return this.refusal('ca', '', isPkiError(e) ? e.code : 'cert_malformed', e instanceof Error ? e.message : String(e), 'ca.load', actor, source);
    }
    const der = exact(cert.der);
    const fingerprint = await sha256Hex(der);
    const label = nameToString(cert.subject);
    const object = { kind: 'ca' as const, fingerprint, serial: cert.serial, subject: label, issuer: nameToString(cert.issuer) };
    const refuse = (code: string, message: string): Plan => ({
      report: refused('ca', label, code, message, fingerprint),
      changes: [],
      events: [{ event: 'ca.load', outcome: 'refused', actor, object, details: { code, source } }],
    });
    if (this.snap.cas.some((c) => c.fingerprint === fingerprint)) {
      return { report: { kind: 'ca', outcome: 'unchanged', label, fingerprint, code: 'already_stored', message: 'Cette autorité est déjà enregistrée.', warnings: [] }, changes: [], events: [] };
    }
    if (!cert.basicConstraints?.ca) return refuse('not_ca', `« ${label} » n’est pas un certificat d’autorité.`);
    if (cert.keyUsage !== undefined && !(cert.keyUsage & KU.keyCertSign)) return refuse('key_usage_no_cert_sign', `« ${label} » ne peut pas signer de certificats (keyUsage).`);
    if (now < cert.notBefore || now >= cert.notAfter) return refuse('cert_expired', `« ${label} » n’est pas en cours de validité.`);
    const pk = { spki: cert.spki, algorithm: cert.spkiAlgorithm, key: cert.publicKey };
    if ((cert.spkiAlgorithm.oid === KEY_OID.rsa || cert.spkiAlgorithm.oid === KEY_OID.rsaPss) && keyBits(pk) < 2048) {
      return refuse('weak_key', `La clé de « ${label} » fait moins de 2048 bits.`);
    }

    const base = {
      fingerprint,
      der,
      subject: label,
      subjectKey: cert.subject.key,
      issuer: nameToString(cert.issuer),
      issuerKey: cert.issuer.key,
      serial: cert.serial,
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      crlUrls: uris(cert),
      addedAt: now,
      source,
      ...(cert.subjectKeyId ? { keyId: toHex(cert.subjectKeyId) } : {}),
    };

    let selfSigned = false;
    if (cert.selfIssued) {
      try {
        selfSigned = await verifySignature(cert.signatureAlgorithm, pk, cert.signature, cert.tbs);
      } catch {
        selfSigned = false;
      }
    }
    if (selfSigned) {
      const hierarchy = opts.hierarchy ?? guessHierarchy(label);
      if (!hierarchy || !HIERARCHY_PATTERN.test(hierarchy)) {
        return refuse('hierarchy_required', `Indiquez à quelle hiérarchie appartient l’autorité racine « ${label} » (production, test, OCT…).`);
      }
      const rec: CaRecord = { ...base, role: 'root', hierarchy, issuerFingerprint: fingerprint, rootFingerprint: fingerprint };
      return {
        report: { kind: 'ca', outcome: 'stored', label, fingerprint, message: `Autorité racine « ${label} » ajoutée (${hierarchyLabel(hierarchy)}).`, warnings: [] },
        changes: [{ store: 'cas', put: rec }],
        events: [
          { event: 'ca.load', outcome: 'success', actor, object, details: { role: 'root', hierarchy, notAfter: cert.notAfter, source } },
          { event: 'trust-chain.change', outcome: 'success', actor, object, details: { change: 'anchor-added', hierarchy } },
        ],
      };
    }

    // An intermediate: it must chain to a root of the store (a new CA is installed before
    // anything it issued is accepted, and itself only under a known root).
    const roots = this.snap.cas.filter((c) => c.role === 'root');
    const others = this.snap.cas.filter((c) => c.role === 'intermediate');
    const r = await this.verifier.verify({
      leaf: der,
      anchors: roots.map((c) => c.der),
      intermediates: others.map((c) => c.der),
      revocation: 'off',
      at: new Date(now),
    });
    if (!r.valid) {
      const code = r.errors[0]?.code ?? 'invalid';
      return refuse(code, `L’autorité « ${label} » n’a pas pu être validée : ${issueText(r.errors)}`);
    }
    const rootFp = r.path[r.path.length - 1]!.sha256;
    const issuerFp = r.path[1]!.sha256;
    const root = roots.find((c) => c.fingerprint === rootFp)!;
    if (opts.hierarchy && opts.hierarchy !== root.hierarchy) {
      return refuse('hierarchy_mismatch', `« ${label} » dépend de la hiérarchie ${hierarchyLabel(root.hierarchy)}, pas ${hierarchyLabel(opts.hierarchy)}.`);
    }
    const rev = this.isRevoked(cert.issuer.key, cert.serial, { ca: true });
    if (rev.revoked) return refuse('cert_revoked', `L’autorité « ${label} » est révoquée (${rev.reasonLabel ?? 'motif non précisé'}).`);
    const warnings: string[] = [];
    if (rev.stale) warnings.push(`La LCR de « ${base.issuer} » est périmée : elle a tout de même été consultée.`);
    const rec: CaRecord = { ...base, role: 'intermediate', hierarchy: root.hierarchy, issuerFingerprint: issuerFp, rootFingerprint: rootFp };
    return {
      report: { kind: 'ca', outcome: 'stored', label, fingerprint, message: `Autorité intermédiaire « ${label} » ajoutée (${hierarchyLabel(root.hierarchy)}).`, warnings },
      changes: [{ store: 'cas', put: rec }, ...this.crlSourceChanges(base.crlUrls, cert.issuer.key)],
      events: [
        { event: 'ca.load', outcome: 'success', actor, object, details: { role: 'intermediate', hierarchy: root.hierarchy, notAfter: cert.notAfter, source } },
        { event: 'trust-chain.change', outcome: 'success', actor, object, details: { change: 'intermediate-added', hierarchy: root.hierarchy } },
      ],
    };
  }

  /** Sources for CRL distribution points not yet known. */
  private crlSourceChanges(urls: string[], issuerKey: string): Change[] {
    const out: Change[] = [];
    for (const url of new Set(urls)) {
      if (this.snap.sources.some((s) => s.url === url)) continue;
      out.push({ store: 'sources', put: { url, kind: 'crl', issuerKey, consecutiveFailures: 0 } });
    }
    return out;
  }

  private refusal(kind: ImportReport['kind'], label: string, code: string, message: string, event: AuditInput['event'], actor: AuditActor, source: Provenance): Plan {
    return { report: refused(kind, label, code, message), changes: [], events: [{ event, outcome: 'refused', actor, details: { code, source } }] };
  }

  /** Imports a CRL: verified with its issuer CA from the store, then stored with its index. */
  async importCrl(crlOrDer: Crl | Uint8Array, opts: ImportOptions = {}): Promise<ImportReport> {
    const plan = await this.prepareCrl(crlOrDer, opts);
    return this.apply(plan);
  }

  private async prepareCrl(crlOrDer: Crl | Uint8Array, opts: ImportOptions): Promise<Plan> {
    const now = this.clock();
    const actor = opts.actor ?? this.defaultActor;
    const source = opts.source ?? 'file';
    let crl: Crl;
    try {
      crl = crlOrDer instanceof Uint8Array ? parseCrl(crlOrDer) : crlOrDer;
    } catch (e) {
      return this.refusal('crl', '', isPkiError(e) ? e.code : 'crl_malformed', e instanceof Error ? e.message : String(e), 'crl.load', actor, source);
    }
    const der = exact(crl.der);
    const label = nameToString(crl.issuer);
    const sha256 = await sha256Hex(der);
    const crlNumber = crlNumberHex(crl.crlNumber);
    const object = { kind: 'crl' as const, fingerprint: sha256, issuer: label, ...(crlNumber ? { serial: crlNumber } : {}) };
    const refuse = (code: string, message: string): Plan => ({
      report: refused('crl', label, code, message, sha256),
      changes: [],
      events: [{ event: 'crl.load', outcome: 'refused', actor, object, details: { code, source } }],
    });

    // What the index cannot represent is refused rather than half-understood.
    if (crl.deltaBase !== undefined) return refuse('crl_delta_unsupported', 'Les LCR delta ne sont pas prises en charge : chargez la LCR complète.');
    if (crl.idp?.indirectCrl) return refuse('crl_indirect_unsupported', 'Les LCR indirectes ne sont pas prises en charge.');
    if (crl.idp?.onlySomeReasons !== undefined || crl.idp?.onlyAttributeCerts) return refuse('crl_partial_unsupported', 'Cette LCR ne couvre qu’une partie des motifs ou des certificats : elle n’est pas prise en charge.');
    if (crl.unknownCriticalExtensions.length) return refuse('crl_unknown_critical_extension', 'La LCR porte une extension critique inconnue.');
    for (const v of crl.entries.values()) {
      for (const e of Array.isArray(v) ? v : [v]) {
        if (e.unknownCriticalExtensions?.length) return refuse('crl_unknown_critical_extension', 'Une entrée de la LCR porte une extension critique inconnue.');
      }
    }
    if (crl.nextUpdate === undefined) return refuse('crl_no_next_update', 'La LCR n’indique pas sa prochaine mise à jour (nextUpdate).');

    // Only CRLs of CAs the store accepts, verified with that CA's key.
    const aki = crl.authorityKeyId ? toHex(crl.authorityKeyId) : undefined;
    const candidates = this.snap.cas
      .filter((c) => c.subjectKey === crl.issuer.key)
      .sort((a, b) => Number(b.keyId !== undefined && b.keyId === aki) - Number(a.keyId !== undefined && a.keyId === aki));
    if (candidates.length === 0) return refuse('crl_issuer_unknown', `L’autorité « ${label} » n’est pas dans le magasin : chargez d’abord son certificat.`);
    let signer: CaRecord | undefined;
    for (const c of candidates) {
      const cert = this.certs.get(c.fingerprint)!;
      if (cert.keyUsage !== undefined && !(cert.keyUsage & KU.cRLSign)) continue;
      try {
        if (await verifySignature(crl.signatureAlgorithm, { spki: cert.spki, algorithm: cert.spkiAlgorithm, key: cert.publicKey }, crl.signature, crl.tbs)) {
          signer = c;
          break;
        }
      } catch {
        // unsupported algorithm: try the next candidate, then refuse
      }
    }
    if (!signer) return refuse('crl_signature_invalid', `La signature de la LCR de « ${label} » n’est pas celle de l’autorité enregistrée.`);

    const id = crlId(crl);
    const existing = this.snap.crls.find((c) => c.id === id);
    if (existing) {
      if (existing.sha256 === sha256) {
        return { report: { kind: 'crl', outcome: 'unchanged', label, fingerprint: sha256, code: 'crl_unchanged', message: 'Cette LCR est déjà celle en vigueur.', warnings: [] }, changes: [], events: [] };
      }
      const order =
        existing.crlNumber !== undefined && crlNumber !== undefined ? cmpHexInt(crlNumber, existing.crlNumber) : Math.sign(crl.thisUpdate - existing.thisUpdate);
      if (order < 0) return refuse('crl_older', 'Cette LCR est plus ancienne que celle en vigueur : elle est ignorée.');
      if (order === 0) return refuse('crl_number_reused', 'Cette LCR porte le même numéro que celle en vigueur mais un contenu différent.');
    }

    const buffer = buildRevocationIndex(crl);
    const scope = crlScope(crl);
    const meta: CrlRecord = {
      id,
      issuerKey: crl.issuer.key,
      issuer: label,
      issuerFingerprint: signer.fingerprint,
      hierarchy: signer.hierarchy,
      thisUpdate: crl.thisUpdate,
      nextUpdate: crl.nextUpdate,
      size: crl.size,
      sha256,
      scope,
      importedAt: now,
      source,
      ...(aki ? { authorityKeyId: aki } : {}),
      ...(crlNumber ? { crlNumber } : {}),
      ...(opts.sourceUrl ? { sourceUrl: opts.sourceUrl } : {}),
    };
    // The schedule of the sources of this issuer restarts from this CRL (a manual import
    // counts as a successful download).
    const sourceChanges: Change[] = this.snap.sources
      .filter((s) => s.kind === 'crl' && s.issuerKey === crl.issuer.key && s.url !== opts.sourceUrl)
      .map((s) => ({ store: 'sources', put: { ...s, lastSuccessAt: now, lastOutcome: 'success', consecutiveFailures: 0 } satisfies SourceRecord }));
    const warnings: string[] = [];
    if (now >= crl.nextUpdate) warnings.push(`Cette LCR est périmée depuis le ${fmtDate(crl.nextUpdate, this.conf.timeZone)} : elle sera utilisée, avec un avertissement.`);
    return {
      report: {
        kind: 'crl',
        outcome: 'stored',
        label,
        fingerprint: sha256,
        message: `LCR de « ${label} » enregistrée (${crl.size} certificats révoqués, valable jusqu’au ${fmtDate(crl.nextUpdate, this.conf.timeZone)}).`,
        warnings,
      },
      changes: [
        { store: 'crls', put: meta },
        { store: 'crlDer', put: { id, der } },
        { store: 'crlIndex', put: { id, sha256, issuerKey: crl.issuer.key, buffer } },
        ...sourceChanges,
      ],
      events: [
        {
          event: 'crl.load',
          outcome: 'success',
          actor,
          object,
          details: { thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, count: crl.size, hierarchy: signer.hierarchy, source, ...(existing ? { previous: existing.sha256 } : {}) },
        },
      ],
      index: { sha256, buffer },
    };
  }

  /**
   * Imports certificates of one recipient: each is verified (pki Verifier, profile
   * sesam-vitale-attachment for attachment certificates, with the stored CAs; revocation from
   * the stored CRL indexes: no CRL → refused); the most recent valid one among these and the
   * stored ones is kept, older ones of the same recipient are removed (§5).
   */
  async importRecipient(certs: Array<Cert | Uint8Array>, opts: ImportOptions & { recipient: string }): Promise<ImportReport> {
    const plan = await this.prepareRecipient(certs, opts);
    return this.apply(plan);
  }

  /** Path verification of a leaf against the store; revocation from the indexes. */
  private async verifyLeaf(cert: Cert, recipient: string, usage: Usage, now: number): Promise<{ ok: true; root: CaRecord; issuer: CaRecord; warnings: string[] } | { ok: false; code: string; message: string }> {
    const roots = this.snap.cas.filter((c) => c.role === 'root');
    const inters = this.snap.cas.filter((c) => c.role === 'intermediate');
    const r = await this.verifier.verify({
      leaf: exact(cert.der),
      anchors: roots.map((c) => c.der),
      intermediates: inters.map((c) => c.der),
      revocation: 'off',
      at: new Date(now),
      ...(usage === 'attachment' ? { profile: 'sesam-vitale-attachment' as const, email: recipient } : { profile: 'rfc5280' as const }),
    });
    if (!r.valid) return { ok: false, code: r.errors[0]?.code ?? 'invalid', message: issueText(r.errors) };
    const root = roots.find((c) => c.fingerprint === r.path[r.path.length - 1]!.sha256)!;
    const issuer = this.snap.cas.find((c) => c.fingerprint === r.path[1]!.sha256)!;
    const expected = usage === 'attachment' ? expectedHierarchy(recipient) : undefined;
    if (expected && root.hierarchy !== expected) {
      return { ok: false, code: 'hierarchy_mismatch', message: `L’adresse ${recipient} relève de la hiérarchie ${hierarchyLabel(expected)}, mais ce certificat a été émis sous ${hierarchyLabel(root.hierarchy)}.` };
    }
    const warnings: string[] = [];
    // The leaf: its CA's CRL is mandatory (§3 "no CRL → invalid").
    const rev = this.isRevoked(cert.issuer.key, cert.serial, { ca: false });
    if (rev.status === 'no-crl') return { ok: false, code: 'crl_missing', message: `Aucune LCR de « ${issuer.subject} » n’est installée : le certificat ne peut pas être accepté.` };
    if (rev.revoked) return { ok: false, code: 'cert_revoked', message: `Ce certificat est révoqué (${rev.reasonLabel ?? 'motif non précisé'}).` };
    if (rev.stale) warnings.push(`La LCR de « ${issuer.subject} » est périmée : elle a tout de même été consultée.`);
    // The CAs of the path: checked against their issuer's CRL when one is stored.
    for (const p of r.path.slice(1, -1)) {
      const ca = this.snap.cas.find((c) => c.fingerprint === p.sha256);
      if (!ca) continue;
      const caRev = this.isRevoked(ca.issuerKey, ca.serial, { ca: true });
      if (caRev.revoked) return { ok: false, code: 'ca_revoked', message: `L’autorité « ${ca.subject} » est révoquée.` };
    }
    return { ok: true, root, issuer, warnings };
  }

  private async prepareRecipient(input: Array<Cert | Uint8Array>, opts: ImportOptions & { recipient: string }): Promise<Plan> {
    const now = this.clock();
    const actor = opts.actor ?? this.defaultActor;
    const source = opts.source ?? 'file';
    const usage = opts.usage ?? 'attachment';
    const recipient = usage === 'attachment' ? opts.recipient.trim().toLowerCase() : opts.recipient.trim();
    const events: AuditInput[] = [];
    const candidates: Array<{ cert: Cert; fingerprint: string; root: CaRecord; issuer: CaRecord; warnings: string[] }> = [];
    const failures: Array<{ code: string; message: string; label: string }> = [];
    for (const item of input) {
      let cert: Cert;
      try {
        cert = item instanceof Uint8Array ? parseCertificate(item.slice()) : item;
      } catch (e) {
        failures.push({ code: 'cert_malformed', message: e instanceof Error ? e.message : String(e), label: '' });
        events.push({ event: 'certificate.load', outcome: 'refused', actor, details: { code: 'cert_malformed', source } });
        continue;
      }
      const fingerprint = await sha256Hex(exact(cert.der));
      const v = await this.verifyLeaf(cert, recipient, usage, now);
      if (!v.ok) {
        failures.push({ code: v.code, message: v.message, label: nameToString(cert.subject) });
        events.push({
          event: 'certificate.load',
          outcome: 'refused',
          actor,
          object: { kind: 'certificate', fingerprint, serial: cert.serial, issuer: nameToString(cert.issuer) },
          details: { code: v.code, role: usage === 'data' ? 'data' : 'recipient', source },
        });
        continue;
      }
      candidates.push({ cert, fingerprint, root: v.root, issuer: v.issuer, warnings: v.warnings });
    }
    const firstLabel = candidates[0] ? nameToString(candidates[0].cert.subject) : (failures[0]?.label ?? recipient);
    if (candidates.length === 0) {
      const f = failures[0] ?? { code: 'no_certificate', message: 'Aucun certificat fourni.', label: recipient };
      return { report: refused('certificate', firstLabel, f.code, `Certificat de ${recipient} refusé : ${failures.map((x) => x.message).join(' ')}`.trim()), changes: [], events };
    }
    // The most recent: latest notBefore, then latest notAfter.
    candidates.sort((a, b) => b.cert.notBefore - a.cert.notBefore || b.cert.notAfter - a.cert.notAfter);
    const best = candidates[0]!;
    const stored = this.snap.recipients.filter((r) => r.recipient === recipient && r.usage === usage);
    const storedBest = stored
      .filter((r) => this.recipientUsable(r, now))
      .sort((a, b) => b.notBefore - a.notBefore || b.notAfter - a.notAfter)[0];
    const label = nameToString(best.cert.subject);
    if (storedBest && (storedBest.fingerprint === best.fingerprint || storedBest.notBefore > best.cert.notBefore || (storedBest.notBefore === best.cert.notBefore && storedBest.notAfter >= best.cert.notAfter))) {
      // Nothing newer: the stored one stays. Older stored ones are still cleaned up.
      const older = stored.filter((r) => r.fingerprint !== storedBest.fingerprint);
      return {
        report: { kind: 'certificate', outcome: 'unchanged', label, fingerprint: storedBest.fingerprint, code: 'not_newer', message: `Le certificat enregistré pour ${recipient} est déjà le plus récent.`, warnings: best.warnings },
        changes: older.map((r) => ({ store: 'recipients', delete: r.fingerprint }) satisfies Change),
        events: [...events, ...older.map((r) => this.removalEvent(r, actor, 'superseded'))],
      };
    }
    const rec: RecipientRecord = {
      fingerprint: best.fingerprint,
      recipient,
      usage,
      der: exact(best.cert.der),
      subject: label,
      serial: best.cert.serial,
      issuer: nameToString(best.cert.issuer),
      issuerKey: best.cert.issuer.key,
      issuerFingerprint: best.issuer.fingerprint,
      rootFingerprint: best.root.fingerprint,
      hierarchy: best.root.hierarchy,
      notBefore: best.cert.notBefore,
      notAfter: best.cert.notAfter,
      crlUrls: uris(best.cert),
      addedAt: now,
      source,
    };
    const removed = stored.filter((r) => r.fingerprint !== rec.fingerprint);
    return {
      report: { kind: 'certificate', outcome: 'stored', label, fingerprint: rec.fingerprint, message: `Certificat de ${recipient} enregistré (valable jusqu’au ${fmtDate(rec.notAfter, this.conf.timeZone)}).`, warnings: best.warnings },
      changes: [
        { store: 'recipients', put: rec },
        ...removed.map((r) => ({ store: 'recipients', delete: r.fingerprint }) satisfies Change),
        ...this.crlSourceChanges(rec.crlUrls, rec.issuerKey),
      ],
      events: [
        ...events,
        {
          event: 'certificate.load',
          outcome: 'success',
          actor,
          object: { kind: 'certificate', fingerprint: rec.fingerprint, serial: rec.serial, issuer: rec.issuer },
          details: { role: usage === 'data' ? 'data' : 'recipient', hierarchy: rec.hierarchy, notAfter: rec.notAfter, source, ...(removed[0] ? { previous: removed[0].fingerprint } : {}) },
        },
        ...removed.map((r) => this.removalEvent(r, actor, 'superseded')),
      ],
    };
  }

  private removalEvent(r: RecipientRecord, actor: AuditActor, reason?: 'superseded' | 'cascade'): AuditInput {
    return {
      event: 'certificate.remove',
      outcome: 'success',
      actor,
      object: { kind: 'certificate', fingerprint: r.fingerprint, serial: r.serial, issuer: r.issuer },
      details: { role: r.usage === 'data' ? 'data' : 'recipient', ...(reason ? { reason } : {}) },
    };
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Removals */

  /**
   * Removes a CA. A root takes its hierarchy's intermediates with it; CRLs issued by removed
   * CAs go too. Recipient certificates stay, shown "obsolète" (their CA is gone).
   */
  async removeCa(fingerprint: string, actor: AuditActor = this.defaultActor): Promise<boolean> {
    const ca = this.snap.cas.find((c) => c.fingerprint === fingerprint);
    if (!ca) return false;
    const gone = new Set<string>([fingerprint]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const c of this.snap.cas) {
        if (!gone.has(c.fingerprint) && (gone.has(c.issuerFingerprint) || gone.has(c.rootFingerprint))) {
          gone.add(c.fingerprint);
          grew = true;
        }
      }
    }
    const removedCas = this.snap.cas.filter((c) => gone.has(c.fingerprint));
    const removedCrls = this.snap.crls.filter((c) => gone.has(c.issuerFingerprint));
    const remainingKeys = new Set(this.snap.cas.filter((c) => !gone.has(c.fingerprint)).map((c) => c.subjectKey));
    const removedSources = this.snap.sources.filter((s) => s.kind === 'crl' && s.issuerKey !== undefined && !remainingKeys.has(s.issuerKey));
    const changes: Change[] = [
      ...removedCas.map((c) => ({ store: 'cas', delete: c.fingerprint }) satisfies Change),
      ...removedCrls.flatMap((c) => this.crlDeletes(c.id)),
      ...removedSources.map((s) => ({ store: 'sources', delete: s.url }) satisfies Change),
    ];
    const events: AuditInput[] = [];
    for (const c of removedCas) {
      const object = { kind: 'ca' as const, fingerprint: c.fingerprint, serial: c.serial, subject: c.subject, issuer: c.issuer };
      events.push({ event: 'ca.remove', outcome: 'success', actor, object, details: { role: c.role, hierarchy: c.hierarchy, ...(c.fingerprint !== fingerprint ? { reason: 'cascade' as const } : {}) } });
      events.push({ event: 'trust-chain.change', outcome: 'success', actor, object, details: { change: c.role === 'root' ? 'anchor-removed' : 'intermediate-removed', hierarchy: c.hierarchy } });
    }
    for (const c of removedCrls) events.push(this.crlRemovalEvent(c, actor, 'cascade'));
    await this.commit(changes, events);
    await this.reload();
    return true;
  }

  private crlDeletes(id: string): Change[] {
    return [
      { store: 'crls', delete: id },
      { store: 'crlDer', delete: id },
      { store: 'crlIndex', delete: id },
    ];
  }

  private crlRemovalEvent(c: CrlRecord, actor: AuditActor, reason?: 'cascade'): AuditInput {
    return {
      event: 'crl.remove',
      outcome: 'success',
      actor,
      object: { kind: 'crl', fingerprint: c.sha256, issuer: c.issuer, ...(c.crlNumber ? { serial: c.crlNumber } : {}) },
      details: { hierarchy: c.hierarchy, ...(reason ? { reason } : {}) },
    };
  }

  async removeCrl(id: string, actor: AuditActor = this.defaultActor): Promise<boolean> {
    const c = this.snap.crls.find((x) => x.id === id);
    if (!c) return false;
    await this.commit(this.crlDeletes(id), [this.crlRemovalEvent(c, actor)]);
    await this.reload();
    return true;
  }

  async removeRecipient(fingerprint: string, actor: AuditActor = this.defaultActor): Promise<boolean> {
    const r = this.snap.recipients.find((x) => x.fingerprint === fingerprint);
    if (!r) return false;
    await this.commit([{ store: 'recipients', delete: fingerprint }], [this.removalEvent(r, actor)]);
    await this.reload();
    return true;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Revocation */

  /**
   * Is `serialHex` (as encoded, any case) revoked by the CRL of the issuer whose name key is
   * `issuerKey`? Answered from the in-memory indexes (loaded once at open), synchronously.
   * `opts.ca`: whether the certificate is a CA (CRLs scoped to user or CA certificates).
   */
  isRevoked(issuerKey: string, serialHex: string, opts: { ca?: boolean } = {}): RevocationAnswer {
    const now = this.clock();
    const list = (this.byIssuer.get(issuerKey) ?? []).filter(
      (l) => l.meta.scope === 'all' || opts.ca === undefined || (l.meta.scope === 'ca') === opts.ca,
    );
    if (list.length === 0) return { status: 'no-crl', revoked: false, stale: false };
    let fallback: RevocationAnswer | undefined;
    for (const { meta, index } of list) {
      const stale = now >= meta.nextUpdate;
      const hit = index.lookup(serialHex);
      // removeFromCRL belongs to delta CRLs (refused at import); if met, it is not a revocation.
      if (hit && hit.reason !== 8) {
        const reason = hit.reason !== undefined ? REASON_NAMES[hit.reason as ReasonCode] : undefined;
        const a: RevocationAnswer = { status: 'revoked', revoked: true, date: hit.revocationDate, stale, crlId: meta.id, nextUpdate: meta.nextUpdate };
        if (reason) {
          a.reason = reason;
          a.reasonLabel = REASON_LABELS[reason] ?? reason;
        }
        if (hit.invalidityDate !== undefined) a.invalidityDate = hit.invalidityDate;
        return a;
      }
      // Prefer reporting a fresh CRL when several cover the issuer.
      if (!fallback || (fallback.stale && !stale)) fallback = { status: 'good', revoked: false, stale, crlId: meta.id, nextUpdate: meta.nextUpdate };
    }
    return fallback!;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Views */

  settings(): TrustSettings {
    return { ...this.conf };
  }

  private crlConfig(): CrlScheduleConfig {
    const s = this.conf;
    return {
      timeZone: s.timeZone,
      windowStart: s.crlWindowStart,
      windowEnd: s.crlWindowEnd,
      slot: s.crlSlot ?? s.crlWindowStart,
      periodDays: s.crlPeriodDays,
      retryDays: s.crlRetryDays,
      alertLeadMs: s.crlAlertLeadHours * HOUR_MS,
    };
  }

  private renewalConfig(): RenewalConfig {
    return { leadMs: this.conf.renewalLeadDays * DAY_MS, retryMs: DAY_MS };
  }

  /** CAs grouped by hierarchy label (several generations of a hierarchy side by side). */
  hierarchies(now: number = this.clock()): HierarchyView[] {
    const out = new Map<string, HierarchyView>();
    for (const c of this.snap.cas) {
      const h = out.get(c.hierarchy) ?? { hierarchy: c.hierarchy, label: hierarchyLabel(c.hierarchy), roots: [], intermediates: [] };
      const crl = this.snap.crls.find((x) => x.issuerFingerprint === c.fingerprint || (x.issuerKey === c.subjectKey && (!x.authorityKeyId || x.authorityKeyId === c.keyId)));
      const v: CaView = {
        fingerprint: c.fingerprint,
        role: c.role,
        roleLabel: c.role === 'root' ? 'Autorité racine' : 'Autorité intermédiaire',
        hierarchy: c.hierarchy,
        subject: c.subject,
        subjectKey: c.subjectKey,
        issuer: c.issuer,
        serial: c.serial,
        notBefore: c.notBefore,
        notAfter: c.notAfter,
        expired: now >= c.notAfter,
        ...(crl ? { crlId: crl.id } : {}),
      };
      (c.role === 'root' ? h.roots : h.intermediates).push(v);
      out.set(c.hierarchy, h);
    }
    return [...out.values()].sort((a, b) => a.hierarchy.localeCompare(b.hierarchy));
  }

  private recipientUsable(r: RecipientRecord, now: number): boolean {
    const st = this.stateOf(r, now);
    return st.state === 'valid' || st.state === 'expiring';
  }

  private stateOf(r: RecipientRecord, now: number): { state: RecipientState; revocation: RevocationAnswer } {
    const revocation = this.isRevoked(r.issuerKey, r.serial, { ca: false });
    const caMissing = !this.snap.cas.some((c) => c.fingerprint === r.issuerFingerprint) || !this.snap.cas.some((c) => c.fingerprint === r.rootFingerprint);
    const superseded = this.snap.recipients.some(
      (o) => o.recipient === r.recipient && o.usage === r.usage && o.fingerprint !== r.fingerprint && o.notBefore > r.notBefore && now < o.notAfter,
    );
    return { state: recipientState({ notAfter: r.notAfter, revoked: revocation.revoked, caMissing, superseded }, now, this.conf.renewalLeadDays * DAY_MS), revocation };
  }

  private recipientView(r: RecipientRecord, now: number): RecipientView {
    const { state, revocation } = this.stateOf(r, now);
    const issuerCrl = (this.byIssuer.get(r.issuerKey) ?? [])[0]?.meta;
    const crl = crlFreshness(issuerCrl, now);
    const problems: string[] = [];
    const tz = this.conf.timeZone;
    if (state === 'revoked') problems.push(`Révoqué le ${fmtDate(revocation.date!, tz)} (${revocation.reasonLabel ?? 'motif non précisé'}).`);
    if (state === 'expired') problems.push(`Expiré le ${fmtDate(r.notAfter, tz)}.`);
    if (state === 'obsolete') problems.push('Son autorité de certification n’est plus dans le magasin, ou un certificat plus récent le remplace.');
    if (state === 'expiring') problems.push(`Expire le ${fmtDate(r.notAfter, tz)} : renouvellement prévu.`);
    if (crl === 'missing') problems.push('Aucune LCR de son autorité n’est installée : le certificat ne peut pas être utilisé.');
    if (crl === 'stale') problems.push('La LCR de son autorité est périmée : elle est utilisée quand même.');
    // §1–2: attachment certificates must be valid with a CRL present; an expired data
    // certificate only warns, a revoked one blocks.
    const usable =
      r.usage === 'attachment'
        ? (state === 'valid' || state === 'expiring') && crl !== 'missing'
        : state !== 'revoked' && state !== 'obsolete' && crl !== 'missing';
    const src = this.snap.sources.find((s) => s.kind === 'certificate' && s.recipient === r.recipient && (s.usage ?? 'attachment') === r.usage);
    const renewal = planRenewal(
      {
        cert: { notAfter: r.notAfter, revoked: revocation.revoked },
        ...(src?.lastAttemptAt !== undefined ? { lastAttemptAt: src.lastAttemptAt } : {}),
        ...(src?.demandAt !== undefined ? { demandAt: src.demandAt } : {}),
      },
      now,
      this.renewalConfig(),
    );
    return {
      fingerprint: r.fingerprint,
      recipient: r.recipient,
      usage: r.usage,
      subject: r.subject,
      issuer: r.issuer,
      serial: r.serial,
      hierarchy: r.hierarchy,
      notBefore: r.notBefore,
      notAfter: r.notAfter,
      state,
      stateLabel: RECIPIENT_STATE_LABELS[state],
      crl,
      crlLabel: CRL_FRESHNESS_LABELS[crl],
      revocation,
      usable,
      problems,
      renewal,
    };
  }

  /** Recipient certificates with their state (valide, expire bientôt, expiré, révoqué, obsolète). */
  recipients(now: number = this.clock()): RecipientView[] {
    return this.snap.recipients.map((r) => this.recipientView(r, now)).sort((a, b) => a.recipient.localeCompare(b.recipient) || b.notBefore - a.notBefore);
  }

  /** The certificate to encrypt for `recipient`: the most recent usable one, if any. */
  certificateFor(recipient: string, usage: Usage = 'attachment', now: number = this.clock()): (RecipientView & { der: Uint8Array }) | undefined {
    // Encrypting for a recipient is a sensitive function: refused while the journal is tampered.
    this.requireIntact();
    const who = usage === 'attachment' ? recipient.trim().toLowerCase() : recipient.trim();
    const best = this.snap.recipients
      .filter((r) => r.recipient === who && r.usage === usage)
      .map((r) => ({ r, v: this.recipientView(r, now) }))
      .filter((x) => x.v.usable)
      .sort((a, b) => b.r.notBefore - a.r.notBefore || b.r.notAfter - a.r.notAfter)[0];
    return best && { ...best.v, der: best.r.der.slice() };
  }

  private sourceState(s: SourceRecord): { lastAttemptAt?: number; lastOutcome?: FetchOutcome; lastSuccessAt?: number; nextUpdate?: number } {
    const crl = s.issuerKey ? (this.byIssuer.get(s.issuerKey) ?? [])[0]?.meta : undefined;
    return {
      ...(s.lastAttemptAt !== undefined ? { lastAttemptAt: s.lastAttemptAt } : {}),
      ...(s.lastOutcome !== undefined ? { lastOutcome: s.lastOutcome } : {}),
      // A CRL already held (imported by hand) counts as the last success.
      ...(s.lastSuccessAt !== undefined ? { lastSuccessAt: s.lastSuccessAt } : crl ? { lastSuccessAt: crl.importedAt } : {}),
      ...(crl ? { nextUpdate: crl.nextUpdate } : {}),
    };
  }

  /** CRLs with thisUpdate, nextUpdate, freshness and the next scheduled fetch. */
  crls(now: number = this.clock()): CrlView[] {
    const cfg = this.crlConfig();
    return this.snap.crls.map((c) => {
      const sources = this.snap.sources.filter((s) => s.kind === 'crl' && s.issuerKey === c.issuerKey);
      const plans = sources.map((s) => ({ s, plan: planCrlFetch(this.sourceState(s), now, cfg) }));
      const freshness = crlFreshness(c, now);
      const last = sources.filter((s) => s.lastAttemptAt !== undefined).sort((a, b) => b.lastAttemptAt! - a.lastAttemptAt!)[0];
      const v: CrlView = {
        id: c.id,
        issuer: c.issuer,
        issuerKey: c.issuerKey,
        hierarchy: c.hierarchy,
        thisUpdate: c.thisUpdate,
        nextUpdate: c.nextUpdate,
        size: c.size,
        freshness,
        freshnessLabel: CRL_FRESHNESS_LABELS[freshness],
        sha256: c.sha256,
        importedAt: c.importedAt,
        sources: sources.map((s) => s.url),
        ...(c.crlNumber ? { crlNumber: c.crlNumber } : {}),
      };
      if (plans.length) v.nextFetch = Math.min(...plans.map((p) => p.plan.at));
      if (last) {
        v.lastAttemptAt = last.lastAttemptAt!;
        if (last.lastOutcome) v.lastOutcome = last.lastOutcome;
      }
      const a = this.crlAlertFor(c, last, now);
      if (a) v.alert = a;
      return v;
    });
  }

  private crlAlertFor(c: CrlRecord, last: SourceRecord | undefined, now: number): Alert | undefined {
    const code = crlAlert({ nextUpdate: c.nextUpdate, ...(last?.lastOutcome ? { lastOutcome: last.lastOutcome } : {}) }, now, this.crlConfig());
    const tz = this.conf.timeZone;
    if (code === 'crl_expired') {
      return {
        id: `crl_expired:${c.id}`,
        level: 'warning',
        code,
        message: `La liste de révocation de « ${c.issuer} » est périmée depuis le ${fmtDate(c.nextUpdate, tz)}. Elle reste utilisée, mais contactez le fournisseur de votre logiciel si elle n’est pas renouvelée.`,
      };
    }
    if (code === 'crl_expiring') {
      return {
        id: `crl_expiring:${c.id}`,
        level: 'warning',
        code,
        message: `La liste de révocation de « ${c.issuer} » expire le ${fmtDate(c.nextUpdate, tz)} et n’a pas pu être renouvelée. Contactez le fournisseur de votre logiciel.`,
      };
    }
    return undefined;
  }

  /**
   * Alerts for the practitioner now: CRLs missing, expiring without renewal, or expired;
   * recipient certificates revoked, expired or orphaned; expired data-encryption
   * certificates (at most once per `expiredWarningHours`, see markAlertShown).
   */
  alerts(now: number = this.clock()): Alert[] {
    const out: Alert[] = [];
    const tz = this.conf.timeZone;
    const shown = (this.snap.meta.find((m) => m.key === 'alerts-shown')?.value as Record<string, number> | undefined) ?? {};
    // CAs that issue end-entity certificates in use need a CRL.
    const issuers = new Map<string, string>();
    for (const r of this.snap.recipients) issuers.set(r.issuerKey, r.issuer);
    for (const [key, dn] of issuers) {
      if (!this.byIssuer.has(key)) out.push({ id: `crl_missing:${dn}`, level: 'error', code: 'crl_missing', message: `Aucune liste de révocation de « ${dn} » n’est installée : les certificats de cette autorité sont refusés.` });
    }
    for (const c of this.snap.crls) {
      const last = this.snap.sources.filter((s) => s.kind === 'crl' && s.issuerKey === c.issuerKey && s.lastAttemptAt !== undefined).sort((a, b) => b.lastAttemptAt! - a.lastAttemptAt!)[0];
      const a = this.crlAlertFor(c, last, now);
      if (a) out.push(a);
    }
    for (const v of this.recipients(now)) {
      if (v.usage === 'data') {
        if (v.state === 'expired' && expiredWarningDue(v.notAfter, shown[`data_cert_expired:${v.fingerprint}`], now, this.conf.expiredWarningHours * HOUR_MS)) {
          out.push({ id: `data_cert_expired:${v.fingerprint}`, level: 'warning', code: 'data_cert_expired', message: `Le certificat de chiffrement des données « ${v.recipient} » a expiré le ${fmtDate(v.notAfter, tz)}. La facturation continue ; faites-le renouveler.` });
        }
        if (v.state === 'revoked') out.push({ id: `recipient_revoked:${v.fingerprint}`, level: 'error', code: 'recipient_revoked', message: `Le certificat de chiffrement des données « ${v.recipient} » est révoqué : les factures ne peuvent plus être construites.` });
        continue;
      }
      if (v.state === 'revoked') out.push({ id: `recipient_revoked:${v.fingerprint}`, level: 'error', code: 'recipient_revoked', message: `Le certificat de ${v.recipient} est révoqué : les envois vers cette adresse sont suspendus jusqu’à sa mise à jour.` });
      if (v.state === 'expired') out.push({ id: `recipient_expired:${v.fingerprint}`, level: 'error', code: 'recipient_expired', message: `Le certificat de ${v.recipient} a expiré : les envois vers cette adresse sont suspendus jusqu’à sa mise à jour.` });
      if (v.state === 'obsolete') out.push({ id: `recipient_obsolete:${v.fingerprint}`, level: 'warning', code: 'recipient_obsolete', message: `Le certificat de ${v.recipient} n’est plus rattaché à une autorité du magasin.` });
    }
    for (const s of this.snap.sources) {
      if (s.kind === 'certificate' && s.recipient && !this.snap.recipients.some((r) => r.recipient === s.recipient && r.usage === (s.usage ?? 'attachment'))) {
        out.push({ id: `recipient_missing:${s.recipient}`, level: 'error', code: 'recipient_missing', message: `Aucun certificat n’est enregistré pour ${s.recipient}.` });
      }
    }
    return out;
  }

  /** Remembers that an alert was shown (drives the "once a day" repetition). */
  async markAlertShown(id: string, now: number = this.clock()): Promise<void> {
    const shown = { ...((this.snap.meta.find((m) => m.key === 'alerts-shown')?.value as Record<string, number> | undefined) ?? {}), [id]: now };
    await this.store.commit([{ store: 'meta', put: { key: 'alerts-shown', value: shown } satisfies MetaRecord }]);
    await this.reload();
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Sources and refresh */

  /** Declares a directory location to fetch on schedule (a recipient's certificate, a CRL). */
  async addSource(
    src: { url: string; kind: 'crl'; issuerKey?: string } | { url: string; kind: 'certificate'; recipient: string; usage?: Usage },
    actor: AuditActor = this.defaultActor,
  ): Promise<void> {
    if (!/^(ldaps?|https?):\/\//i.test(src.url)) throw new RangeError('Adresse d’annuaire invalide (ldap:// ou http(s):// attendu).');
    if (this.snap.sources.some((s) => s.url === src.url)) return;
    const rec: SourceRecord =
      src.kind === 'crl'
        ? { url: src.url, kind: 'crl', consecutiveFailures: 0, ...(src.issuerKey ? { issuerKey: src.issuerKey } : {}) }
        : { url: src.url, kind: 'certificate', recipient: src.recipient.trim().toLowerCase(), usage: src.usage ?? 'attachment', consecutiveFailures: 0 };
    await this.commit([{ store: 'sources', put: rec }], [{ event: 'settings.change', outcome: 'success', actor, object: { kind: 'source', url: rec.url } }]);
    await this.reload();
  }

  async removeSource(url: string, actor: AuditActor = this.defaultActor): Promise<void> {
    if (!this.snap.sources.some((s) => s.url === url)) return;
    await this.commit([{ store: 'sources', delete: url }], [{ event: 'settings.change', outcome: 'success', actor, object: { kind: 'source', url } }]);
    await this.reload();
  }

  sources(): SourceRecord[] {
    return this.snap.sources.map((s) => ({ ...s }));
  }

  /**
   * Asks for a recipient certificate renewal at the next refresh: on demand, or on a service
   * message 4005, 4015 or 4025 (§5).
   */
  async requestRenewal(recipient: string, reason: 'demand' | 'service-message' = 'demand', usage: Usage = 'attachment'): Promise<boolean> {
    this.requireIntact();
    const who = usage === 'attachment' ? recipient.trim().toLowerCase() : recipient.trim();
    const srcs = this.snap.sources.filter((s) => s.kind === 'certificate' && s.recipient === who && (s.usage ?? 'attachment') === usage);
    if (!srcs.length) return false;
    const now = this.clock();
    await this.store.commit(srcs.map((s) => ({ store: 'sources', put: { ...s, demandAt: now, demandReason: reason } }) satisfies Change));
    await this.reload();
    return true;
  }

  /**
   * When refresh() has something to do next (ms since epoch): the earliest CRL attempt,
   * certificate renewal or audit purge. A page arms one timer for it (and calls refresh() on
   * start-up and when the device wakes: the schedule catches up by itself).
   */
  nextRefreshAt(now: number = this.clock()): number {
    const cfg = this.crlConfig();
    let next = Infinity;
    for (const s of this.snap.sources) {
      if (s.kind === 'crl') next = Math.min(next, planCrlFetch(this.sourceState(s), now, cfg).at);
      else next = Math.min(next, this.renewalPlan(s, now).at);
    }
    const last = this.snap.meta.find((m) => m.key === 'last-purge')?.value as number | undefined;
    next = Math.min(next, last === undefined ? now : last + this.conf.auditPurgeIntervalDays * DAY_MS);
    return Math.max(next, now);
  }

  private renewalPlan(s: SourceRecord, now: number): RenewalPlan {
    const current = this.snap.recipients
      .filter((r) => r.recipient === s.recipient && r.usage === (s.usage ?? 'attachment'))
      .sort((a, b) => b.notBefore - a.notBefore)[0];
    return planRenewal(
      {
        ...(current ? { cert: { notAfter: current.notAfter, revoked: this.isRevoked(current.issuerKey, current.serial, { ca: false }).revoked } } : {}),
        ...(s.lastAttemptAt !== undefined ? { lastAttemptAt: s.lastAttemptAt } : {}),
        ...(s.lastOutcome !== undefined ? { lastOutcome: s.lastOutcome } : {}),
        ...(s.demandAt !== undefined ? { demandAt: s.demandAt } : {}),
      },
      now,
      this.renewalConfig(),
    );
  }

  /**
   * Runs what is due now: CRL downloads (weekly slot, daily retries), recipient certificate
   * renewals (15 days before expiry, on revocation, on demand), the audit purge.
   *
   * `trigger` says who asks (default `scheduled`, the automatic schedule: CRLs only inside the
   * 02:00–22:00 window); `manual` is the practitioner, served at once whatever the hour. `force`
   * fetches every source regardless of its schedule (« Mettre à jour maintenant ») and is always
   * manual. Concurrent calls of the same kind share one run, a different kind runs after it;
   * across tabs, the store's lock serialises them.
   */
  refresh(opts: RefreshOptions = {}): Promise<RefreshReport> {
    // Audit integrity (SP1): nothing is fetched while the journal is tampered.
    if (this.integrityState.state === 'tampered') return Promise.reject(this.blocked());
    const trigger: RefreshTrigger = opts.force === true ? 'manual' : (opts.trigger ?? 'scheduled');
    const kind = `${trigger}${opts.force === true ? ':all' : ''}:${opts.actor ?? ''}`;
    const current = this.refreshing;
    if (current?.kind === kind) return current.run;
    // A manual request arriving during a scheduled run must not get that run's (night-deferred) result.
    const previous = current?.run.catch(() => undefined);
    const run = (async (): Promise<RefreshReport> => {
      await previous;
      const work = (): Promise<RefreshReport> => this.refreshNow(trigger, opts);
      return this.store.lock ? await this.store.lock('teletrans-trust-refresh', work) : await work();
    })();
    const entry = { kind, run };
    this.refreshing = entry;
    // Registered before the caller's: the slot is free again when the caller resumes.
    const clear = (): void => {
      if (this.refreshing === entry) this.refreshing = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  private async refreshNow(trigger: RefreshTrigger, opts: RefreshOptions): Promise<RefreshReport> {
    await this.reload();
    const now = this.clock();
    const items: RefreshItem[] = [];
    const force = opts.force === true;
    // The practitioner acts as the logged-in user; the schedule as the system.
    const actor = opts.actor ?? (trigger === 'manual' ? this.defaultActor : 'system');
    if (this.fetcher) {
      const cfg = this.crlConfig();
      for (const s of this.snap.sources.filter((x) => x.kind === 'crl')) {
        if (force || planCrlFetch(this.sourceState(s), now, cfg, trigger).due) items.push(await this.fetchCrl(s, now, actor, trigger));
      }
      for (const s of this.snap.sources.filter((x) => x.kind === 'certificate')) {
        const plan = this.renewalPlan(s, now);
        if (force || plan.due) items.push(...(await this.fetchCertificate(s, now, actor, plan.reason, trigger)));
      }
    }
    const purged = await this.purgeIfDue(now);
    return { at: now, trigger, items, purged };
  }

  private async fetchItems(url: string): Promise<{ items: Parsed[] } | { code: string; message: string }> {
    let raw: Uint8Array[];
    try {
      raw = await this.fetcher!(url);
    } catch (e) {
      return { code: e instanceof FetchError ? e.code : 'network', message: e instanceof Error ? e.message : String(e) };
    }
    const items: Parsed[] = [];
    for (const r of raw) {
      try {
        items.push(...decodeParsed(r));
      } catch (e) {
        return { code: isPkiError(e) ? e.code : 'bad_response', message: e instanceof Error ? e.message : String(e) };
      }
    }
    return { items };
  }

  private sourceUpdate(s: SourceRecord, now: number, outcome: FetchOutcome, code?: string): Change {
    const next: SourceRecord = { ...s, lastAttemptAt: now, lastOutcome: outcome, consecutiveFailures: outcome === 'success' ? 0 : s.consecutiveFailures + 1 };
    if (outcome === 'success') next.lastSuccessAt = now;
    if (code) next.lastError = code;
    else delete next.lastError;
    return { store: 'sources', put: next };
  }

  private fetchEvent(s: SourceRecord, outcome: FetchOutcome, actor: AuditActor, code?: string, reason?: 'missing' | 'expiring' | 'revoked' | 'demand' | 'service-message' | 'scheduled'): AuditInput {
    return {
      event: 'directory.fetch',
      outcome: outcome === 'success' ? 'success' : outcome === 'unchanged' ? 'unchanged' : 'failure',
      actor,
      object: { kind: 'source', url: s.url },
      details: { ...(code ? { code } : {}), ...(reason ? { reason } : {}) },
    };
  }

  private async fetchCrl(s: SourceRecord, now: number, actor: AuditActor, trigger: RefreshTrigger): Promise<RefreshItem> {
    const got = await this.fetchItems(s.url);
    let plan: Plan | undefined;
    let outcome: FetchOutcome;
    let code: string | undefined;
    let message: string;
    let issuerKey: string | undefined;
    if ('code' in got) {
      outcome = 'failed';
      code = got.code;
      message = got.message;
    } else {
      const crls = got.items.flatMap((p) => (p.kind === 'crl' ? [p.crl] : []));
      const crl = crls.find((c) => !s.issuerKey || c.issuer.key === s.issuerKey);
      issuerKey = crl?.issuer.key;
      if (!crl) {
        outcome = 'failed';
        code = 'crl_not_found';
        message = 'L’annuaire n’a pas renvoyé la LCR attendue.';
      } else {
        plan = await this.prepareCrl(crl, { source: 'directory', sourceUrl: s.url, actor });
        const r = plan.report;
        outcome = r.outcome === 'stored' ? 'success' : r.outcome === 'unchanged' || r.code === 'crl_older' ? 'unchanged' : 'failed';
        if (r.code) code = r.code;
        message = r.message;
      }
    }
    // A source declared without its issuer learns it from the first CRL stored from it.
    const known: SourceRecord = !s.issuerKey && issuerKey && outcome === 'success' ? { ...s, issuerKey } : s;
    const extra = [this.sourceUpdate(known, now, outcome, code)];
    const events = [this.fetchEvent(s, outcome, actor, code, trigger === 'manual' ? 'demand' : 'scheduled')];
    if (plan) await this.apply(plan, extra, events);
    else {
      await this.commit(extra, events);
      await this.reload();
    }
    const item: RefreshItem = { url: s.url, kind: 'crl', outcome, message };
    if (code) item.code = code;
    return item;
  }

  private async fetchCertificate(
    s: SourceRecord,
    now: number,
    actor: AuditActor,
    reason: 'missing' | 'expiring' | 'revoked' | 'demand' | undefined,
    trigger: RefreshTrigger,
  ): Promise<RefreshItem[]> {
    const items: RefreshItem[] = [];
    const got = await this.fetchItems(s.url);
    const why = s.demandAt !== undefined && (s.lastAttemptAt === undefined || s.demandAt > s.lastAttemptAt) && s.demandReason === 'service-message' ? 'service-message' : reason;
    let outcome: FetchOutcome;
    let code: string | undefined;
    let message: string;
    let plan: Plan | undefined;
    if ('code' in got) {
      outcome = 'failed';
      code = got.code;
      message = got.message;
    } else {
      const certs = got.items.flatMap((p) => (p.kind === 'certificate' && !p.cert.basicConstraints?.ca ? [p.cert] : []));
      const opts = { recipient: s.recipient!, usage: s.usage ?? 'attachment', source: 'directory' as const, actor };
      plan = await this.prepareRecipient(certs, opts);
      if (plan.report.code === 'crl_missing') {
        // First set-up: the CRL location is only known from the certificate itself. Fetch the
        // CRLs it points to, then try again once.
        const urls = [...new Set(certs.flatMap(uris))].filter((u) => !this.snap.sources.some((x) => x.url === u));
        if (urls.length) {
          await this.store.commit(certs.flatMap((c) => this.crlSourceChanges(uris(c), c.issuer.key)));
          await this.reload();
          for (const u of urls) {
            const src = this.snap.sources.find((x) => x.url === u);
            // Part of setting this recipient up, so not deferred to the window even when scheduled.
            if (src) items.push(await this.fetchCrl(src, now, actor, trigger));
          }
          plan = await this.prepareRecipient(certs, opts);
        }
      }
      const r = plan.report;
      outcome = r.outcome === 'stored' ? 'success' : r.outcome === 'unchanged' ? 'unchanged' : 'failed';
      if (r.code) code = r.code;
      message = r.message;
    }
    const fresh = this.snap.sources.find((x) => x.url === s.url) ?? s;
    const update = this.sourceUpdate(fresh, now, outcome, code);
    if ('put' in update && update.store === 'sources' && outcome !== 'failed') {
      delete update.put.demandAt;
      delete update.put.demandReason;
    }
    const events = [this.fetchEvent(s, outcome, actor, code, why)];
    if (plan) await this.apply(plan, [update], events);
    else {
      await this.commit([update], events);
      await this.reload();
    }
    const item: RefreshItem = { url: s.url, kind: 'certificate', outcome, message };
    if (code) item.code = code;
    items.push(item);
    return items;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Settings */

  /** Changes settings (validated; each change logged). Redraws the CRL slot if the window moved past it. */
  async updateSettings(patch: Partial<TrustSettings>, actor: AuditActor = this.defaultActor): Promise<void> {
    await this.writeSettings(patch, actor);
  }

  private async writeSettings(patch: Partial<TrustSettings>, actor: AuditActor): Promise<void> {
    const next: TrustSettings = { ...this.conf };
    const changed: SettingKey[] = [];
    // Window bounds first, so that a slot given in the same patch is checked against them.
    const keys = (Object.keys(patch) as SettingKey[]).sort((a, b) => Number(a === 'crlSlot') - Number(b === 'crlSlot'));
    for (const k of keys) {
      const v = patch[k];
      if (v === undefined || v === next[k]) continue;
      const problem = settingProblem(k, v, next);
      if (problem) throw new RangeError(problem);
      (next as unknown as Record<string, unknown>)[k] = v;
      changed.push(k);
    }
    if (next.crlSlot !== undefined && (next.crlSlot < next.crlWindowStart || next.crlSlot >= next.crlWindowEnd)) {
      next.crlSlot = drawCrlSlot(this.random, next.crlWindowStart, next.crlWindowEnd);
      if (!changed.includes('crlSlot')) changed.push('crlSlot');
    }
    if (!changed.length) return;
    const changes: Change[] = changed.map((k) => ({ store: 'settings', put: { key: k, value: next[k] as number | string } satisfies SettingRecord }));
    const events: AuditInput[] = changed.map((k) => ({ event: 'settings.change', outcome: 'success', actor, object: { kind: 'settings', setting: k }, details: { value: next[k] as number | string } }));
    await this.commit(changes, events);
    await this.reload();
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Audit */

  /**
   * Logs an event for other modules (sessions: open, lock, unlock, close; see AuditInput).
   * Throws AuditRefused when the input carries anything not allowed.
   */
  async log(input: AuditInput): Promise<void> {
    await this.commit([], [{ ...input, actor: input.actor ?? this.defaultActor }], undefined, true);
  }

  /** Verifies the whole journal now (key, check, witness, every seal); a failure blocks the service. */
  async verifyAudit(): Promise<ChainVerification> {
    return this.checkJournal(await this.store.auditKey());
  }

  /** The integrity state the service enforces. */
  integrity(): AuditIntegrity {
    return { ...this.integrityState };
  }

  /** The typed refusal of an operation while the journal is tampered. */
  private requireIntact(): void {
    if (this.integrityState.state === 'tampered') throw this.blocked();
  }

  private blocked(): AuditIntegrityError {
    const st = this.integrityState;
    return st.state === 'tampered' ? new AuditIntegrityError(st.problem, `${BLOCKED_MESSAGE} (${st.message})`) : new AuditIntegrityError('malformed', BLOCKED_MESSAGE);
  }

  /** Latches the tampered state (the first problem found stays) and returns the error to throw. */
  private tamper(v: ChainVerification & { ok: false }): AuditIntegrityError {
    if (this.integrityState.state !== 'tampered') {
      this.integrityState = { state: 'tampered', problem: v.problem, message: v.message, detectedAt: this.clock(), ...(v.seq !== undefined ? { seq: v.seq } : {}) };
    }
    return this.blocked();
  }

  /** Full verification of the stored journal against the key this instance holds; latches a failure. */
  private async checkJournal(keys: AuditKeyState, a?: AuditContent): Promise<ChainVerification> {
    const content = a ?? (await this.store.audit());
    // Another tab's reset: a new journal (another id) that verifies on its own is adopted.
    if (this.integrityState.state === 'tampered' && keys.key && keys.check && keys.check.journal !== this.journal && content.records[0]?.event === 'audit.reset') {
      const v = await verifyJournal(content, keys);
      if (v.ok) {
        this.key = keys.key;
        this.journal = keys.check.journal;
        this.integrityState = { state: 'intact' };
        return v;
      }
    }
    const v = await verifyJournal(content, keys, this.key);
    if (!v.ok) this.tamper(v);
    return v;
  }

  /**
   * The administrator's action on a journal that failed verification (or an unsealed journal
   * of an older version): archives it as it is (in the store, and returned for download),
   * and starts a new sealed journal with a new key whose first record says so, with the
   * archive's SHA-256. Refused on a journal that verifies. There is no administrator role yet
   * (a later issue): the action is explicit (`confirm`) and audited under `actor`.
   */
  async resetAudit(opts: { confirm: boolean; actor?: AuditActor }): Promise<AuditResetReport> {
    if (opts.confirm !== true) throw new AuditResetRefused('confirmation_required', 'La réinitialisation du journal doit être confirmée explicitement.');
    const actor = opts.actor ?? this.defaultActor;
    const run = async (): Promise<AuditResetReport> => {
      const keys = await this.store.auditKey();
      const a = await this.store.audit();
      const v = await this.checkJournal(keys, a);
      if (v.ok || this.integrityState.state !== 'tampered') throw new AuditResetRefused('audit_intact', 'Le journal est intègre : il n’y a rien à réinitialiser.');
      const problem = this.integrityState.problem;
      const now = this.clock();
      const archive = exportJsonl(a.records, a.anchor, a.head, now);
      const sha256 = await sha256Hex(new TextEncoder().encode(archive));
      const fresh = await newJournal(now);
      const first = await sealRecords(
        [{ event: 'audit.reset', outcome: 'success', actor, object: { kind: 'audit', fingerprint: sha256 }, details: { reason: 'integrity', code: problem, count: a.records.length } }],
        fresh.head,
        now,
        fresh.key,
      );
      await this.store.resetAudit({
        expectJournal: keys.check?.journal,
        key: fresh.key,
        check: fresh.check,
        records: first.records,
        head: first.head ?? (await emptyHead(fresh.key)),
        archive: { at: now, problem, count: a.records.length, sha256, text: archive },
      });
      this.key = fresh.key;
      this.journal = fresh.check.journal;
      this.integrityState = { state: 'intact' };
      return { archive, sha256, count: a.records.length, problem };
    };
    // Serialised with this tab's appends and, across tabs, with theirs.
    const p = this.appending.then(() => (this.store.lock ? this.store.lock('audit-append', run) : run()));
    this.appending = p.catch(() => undefined);
    const report = await p;
    await this.reload();
    return report;
  }

  /** The audit trail for display, newest first, with its integrity status. */
  async auditView(): Promise<AuditView> {
    const a = await this.store.audit();
    const integrity = await this.checkJournal(await this.store.auditKey(), a);
    const records = a.records
      .map((r) => ({ ...r, eventLabel: AUDIT_EVENT_LABELS[r.event] ?? r.event, outcomeLabel: AUDIT_OUTCOME_LABELS[r.outcome] ?? r.outcome }))
      .reverse();
    return a.anchor ? { records, integrity, anchor: a.anchor } : { records, integrity };
  }

  /** The audit trail as JSON lines (the export itself is logged first, so it is included). */
  async exportAudit(actor: AuditActor = this.defaultActor): Promise<string> {
    await this.commit([], [{ event: 'audit.export', outcome: 'success', actor, object: { kind: 'audit' }, details: { format: 'jsonl' } }]);
    const a = await this.store.audit();
    return exportJsonl(a.records, a.anchor, a.head, this.clock());
  }

  /** Purges records past the retention period (≥ 12 months). Returns the number removed. */
  async purgeAudit(now: number = this.clock()): Promise<number> {
    this.requireIntact();
    const a = await this.store.audit();
    const plan = planPurge(a.records, a.anchor, now, this.conf.auditRetentionDays);
    const lastPurge: Change = { store: 'meta', put: { key: 'last-purge', value: now } };
    if (!plan) {
      await this.store.commit([lastPurge]);
      await this.reload();
      return 0;
    }
    await this.commit(
      [lastPurge],
      [{ event: 'audit.purge', outcome: 'success', object: { kind: 'audit' }, details: { count: plan.remove.length, through: plan.anchor.seq, anchorHash: plan.anchor.hash, reason: 'retention' } }],
      plan,
    );
    await this.reload();
    return plan.remove.length;
  }

  private async purgeIfDue(now: number): Promise<number> {
    const last = this.snap.meta.find((m) => m.key === 'last-purge')?.value as number | undefined;
    if (last !== undefined && now - last < this.conf.auditPurgeIntervalDays * DAY_MS) return 0;
    return this.purgeAudit(now);
  }

  /** For tests and diagnostics: the raw snapshot. */
  snapshot(): TrustSnapshot {
    return structuredClone(this.snap);
  }
}
