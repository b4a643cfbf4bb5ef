/**
 * TrustService: the facade the pages use for the local trust store (docs/domain/transmission.md §3–6,
 * docs/domain/security.md EL1/SA2/SP1). Pure core: the store, the fetcher, the clock and the random
 * source are injected; it runs unchanged in the browser (IndexedDB store) and in Node
 * (memory store).
 *
 * The work is done by the modules of ./service/, one per seam (imports, removal, views,
 * alerts, sources, settings, refresh, audit log), over one shared TrustContext; this class
 * only holds that context and keeps the public API (and its defaults) in one place.
 */
import { parseCertificate, type Cert } from '../pki/cert.js';
import type { VerifyInput, VerifyResult } from '../pki/types.js';
import { verifyLeaf } from './service/import-recipient.js';

/** How long a signer's check stands for the same store state (TrustService.checkSigner). */
const SIGNER_ANSWER_MS = 60_000;
const LATIN1 = new TextDecoder('latin1');
import type { Crl } from '../pki/crl-model.js';
import type { Parsed } from '../pki/input.js';
import type { AuditActor, AuditInput, ChainVerification } from './audit.js';
import type { SourceRecord, TrustSettings, TrustSnapshot, Usage } from './model.js';
import { type Alert, drawCrlSlot } from './schedule.js';
import * as alertOps from './service/alerts.js';
import * as anchorOps from './service/anchor.js';
import * as auditOps from './service/audit-log.js';
import { TrustContext, type TrustServiceDeps } from './service/context.js';
import * as importOps from './service/imports.js';
import type { AuditIntegrity } from './service/integrity.js';
import type { ImportOptions, ImportReport } from './service/plan.js';
import * as refreshOps from './service/refresh.js';
import * as removalOps from './service/removal.js';
import { writeSettings } from './service/settings.js';
import * as sourceOps from './service/sources.js';
import * as views from './service/views.js';

export type { TrustServiceDeps } from './service/context.js';
export type { AnchorBody, AnchorOutcome, AnchorPort } from './service/anchor.js';
export { type ImportOptions, type ImportReport, expectedHierarchy, guessHierarchy } from './service/plan.js';
export { type CaView, type CrlView, type HierarchyView, type RecipientView, type RevocationAnswer, type RevocationStatus, REASON_LABELS } from './service/views.js';
export type { RefreshItem, RefreshOptions, RefreshReport } from './service/refresh.js';
export { type AuditIntegrity, AuditIntegrityError } from './service/integrity.js';
export { type AuditResetRefusal, type AuditResetReport, type AuditRow, type AuditView, type ResetAuthorization, AuditResetRefused } from './service/audit-log.js';

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export class TrustService {
  private readonly ctx: TrustContext;
  private unsubscribe: (() => void) | undefined;

  private constructor(deps: TrustServiceDeps) {
    this.ctx = new TrustContext(deps);
  }

  /**
   * Opens the service: loads the metadata and every CRL index (one record each), gets the
   * audit MAC key, and draws this installation's CRL slot on first use.
   */
  static async open(deps: TrustServiceDeps): Promise<TrustService> {
    const s = new TrustService(deps);
    const ctx = s.ctx;
    const k = await ctx.store.auditKey();
    ctx.latch.key = k.key;
    ctx.latch.journal = k.check?.journal;
    // The whole journal is verified once at open, before the rest of the store is read: its
    // verdict must not depend on records that may not even load. Commits then check the head.
    const content = await ctx.store.audit();
    await ctx.latch.check(k, content);
    // A store that cannot be read back latches the block (context.reload) and the service opens
    // blocked (issue 24 defect 4): the pages say so instead of running on nothing.
    await ctx.reload().catch(() => undefined);
    // Then the store against the journal's seals, and the chain against the relay's last
    // receipt (issue 24 defect 3); a difference latches too.
    await ctx.checkStore(content).catch(() => undefined);
    await anchorOps.checkReceipt(ctx, content).catch(() => undefined);
    if (ctx.conf.crlSlot === undefined && ctx.latch.state.state === 'intact') {
      const slot = drawCrlSlot(ctx.random, ctx.conf.crlWindowStart, ctx.conf.crlWindowEnd);
      await writeSettings(ctx, { crlSlot: slot }, 'system');
    }
    s.unsubscribe = ctx.store.subscribe?.(() => void ctx.reload().catch(() => undefined));
    return s;
  }

  close(): void {
    this.unsubscribe?.();
    this.ctx.store.close?.();
  }

  /** Sets who acts by default (the session layer calls it at log-in and log-out). */
  setActor(actor: AuditActor): void {
    this.ctx.defaultActor = actor;
  }

  /**
   * Re-reads the store (another tab may have changed it). Overlapping reloads: only the most
   * recently started one is applied.
   */
  reload(): Promise<void> {
    return this.ctx.reload();
  }

  /* Imports: see service/imports.ts. */

  /**
   * Imports what a file or pasted text holds (PEM with any number of blocks, or DER): CA
   * certificates first, then CRLs, then recipient certificates, each committed with its
   * audit records. One report per item; decoding errors give one refused report.
   */
  importFile(data: Uint8Array | string, opts: ImportOptions = {}): Promise<ImportReport[]> {
    return importOps.importFile(this.ctx, data, opts);
  }

  importParsed(items: Parsed[], opts: ImportOptions = {}): Promise<ImportReport[]> {
    return importOps.importParsed(this.ctx, items, opts);
  }

  /** Imports one CA certificate (a root with its hierarchy label, or an intermediate). */
  importCa(certOrDer: Cert | Uint8Array, opts: ImportOptions = {}): Promise<ImportReport> {
    return importOps.importCa(this.ctx, certOrDer, opts);
  }

  /** Imports a CRL: verified with its issuer CA from the store, then stored with its index. */
  importCrl(crlOrDer: Crl | Uint8Array, opts: ImportOptions = {}): Promise<ImportReport> {
    return importOps.importCrl(this.ctx, crlOrDer, opts);
  }

  /**
   * Imports certificates of one recipient: each is verified with the stored CAs and CRLs (no
   * CRL → refused); the most recent valid one is kept, older ones are removed (§5).
   */
  importRecipient(certs: Array<Cert | Uint8Array>, opts: ImportOptions & { recipient: string }): Promise<ImportReport> {
    return importOps.importRecipient(this.ctx, certs, opts);
  }

  /* Removals: see service/removal.ts. */

  /** Removes a CA, its hierarchy's intermediates (for a root) and the CRLs they issued. */
  removeCa(fingerprint: string, actor: AuditActor = this.ctx.defaultActor): Promise<boolean> {
    return removalOps.removeCa(this.ctx, fingerprint, actor);
  }

  removeCrl(id: string, actor: AuditActor = this.ctx.defaultActor): Promise<boolean> {
    return removalOps.removeCrl(this.ctx, id, actor);
  }

  removeRecipient(fingerprint: string, actor: AuditActor = this.ctx.defaultActor): Promise<boolean> {
    return removalOps.removeRecipient(this.ctx, fingerprint, actor);
  }

  /* Views: see service/views.ts and service/alerts.ts. */

  /**
   * Is `serialHex` (as encoded, any case) revoked by the CRL of the issuer whose name key is
   * `issuerKey`? Answered from the in-memory indexes (loaded once at open), synchronously.
   * `opts.ca`: whether the certificate is a CA (CRLs scoped to user or CA certificates).
   */
  isRevoked(issuerKey: string, serialHex: string, opts: { ca?: boolean } = {}): views.RevocationAnswer {
    return views.isRevoked(this.ctx, issuerKey, serialHex, opts);
  }

  settings(): TrustSettings {
    return { ...this.ctx.conf };
  }

  /** CAs grouped by hierarchy label (several generations of a hierarchy side by side). */
  hierarchies(now: number = this.ctx.clock()): views.HierarchyView[] {
    return views.hierarchies(this.ctx, now);
  }

  /** Recipient certificates with their state (valide, expire bientôt, expiré, révoqué, obsolète). */
  recipients(now: number = this.ctx.clock()): views.RecipientView[] {
    return views.recipients(this.ctx, now);
  }

  /** The certificate to encrypt for `recipient`: the most recent usable one, if any. */
  certificateFor(recipient: string, usage: Usage = 'attachment', now: number = this.ctx.clock()): (views.RecipientView & { der: Uint8Array }) | undefined {
    // Encrypting for a recipient is a sensitive function: refused while the journal is tampered.
    this.ctx.latch.require();
    return views.certificateFor(this.ctx, recipient, usage, now);
  }

  /**
   * What encrypting for `recipient` now needs (issue 14 item 5): its most recent usable
   * attachment certificate, and a verifier that checks it again at this instant against this
   * store — path to a stored root, the sesam-vitale-attachment profile and mailbox, the
   * hierarchy the mailbox belongs to, the CRL of its CA present and not revoking it (no CRL:
   * refused). The CMS module's `checkRecipient` takes both (its `verifier`). Undefined when no
   * usable certificate is installed; refused while the journal is tampered.
   */
  encryptionCheck(recipient: string, now: number = this.ctx.clock()): { der: Uint8Array; verifier: { verify(input: VerifyInput): Promise<VerifyResult> } } | undefined {
    this.ctx.latch.require();
    const view = views.certificateFor(this.ctx, recipient, 'attachment', now);
    if (!view) return undefined;
    const ctx = this.ctx;
    const der = view.der;
    return {
      der,
      verifier: {
        async verify(input: VerifyInput): Promise<VerifyResult> {
          // Only the certificate chosen here, for the mailbox asked.
          if (!sameBytes(input.leaf, der) || (input.email ?? '').toLowerCase() !== recipient.trim().toLowerCase()) {
            return { valid: false, errors: [{ code: 'recipient_mismatch', message: 'Certificat ou adresse différents de ceux du magasin.' }], warnings: [], path: [] };
          }
          const v = await verifyLeaf(ctx, parseCertificate(der.slice()), recipient, 'attachment', now);
          if (!v.ok) return { valid: false, errors: [{ code: v.code, message: v.message }], warnings: [], path: [] };
          return { valid: true, errors: [], warnings: v.warnings.map((message) => ({ code: 'crl_expired', message })), path: v.path };
        },
      },
    };
  }

  /**
   * Is `der` a valid signer for mail from `email` (issue 15 item 2)? Checked as a recipient
   * certificate would be before it is stored (§3): path to a stored root through stored CAs only
   * (a new CA must be installed first, §4), the sesam-vitale-attachment profile with `email` in
   * its subjectAltName, the mailbox's hierarchy, its CA's CRL present and not revoking it.
   * Refused while the journal is tampered; any error is a refusal (fail closed).
   */
  async checkSigner(der: Uint8Array, email: string, now: number = this.ctx.clock()): Promise<{ valid: boolean; errors: { code: string; message: string }[] }> {
    this.ctx.latch.require();
    // A front end signs its month of messages with one certificate: its answer is kept for a
    // minute, and for the store's state only (a CA, a CRL or a recipient imported meanwhile
    // makes a new snapshot, and every answer is asked again).
    let answers = this.signerAnswers.get(this.ctx.snap);
    if (!answers) this.signerAnswers.set(this.ctx.snap, (answers = new Map()));
    const key = `${email.trim().toLowerCase()}\0${LATIN1.decode(der)}`;
    const kept = answers.get(key);
    if (kept && now >= kept.from && now < kept.from + SIGNER_ANSWER_MS) return structuredClone(kept.answer);
    let answer: { valid: boolean; errors: { code: string; message: string }[] };
    try {
      const v = await verifyLeaf(this.ctx, parseCertificate(der.slice()), email, 'attachment', now);
      answer = v.ok ? { valid: true, errors: [] } : { valid: false, errors: [{ code: v.code, message: v.message }] };
    } catch (e) {
      answer = { valid: false, errors: [{ code: (e as { code?: string }).code ?? 'signer_unreadable', message: e instanceof Error ? e.message : String(e) }] };
    }
    if (answers.size >= 256) answers.clear();
    answers.set(key, { from: now, answer: structuredClone(answer) });
    return answer;
  }

  private readonly signerAnswers = new WeakMap<object, Map<string, { from: number; answer: { valid: boolean; errors: { code: string; message: string }[] } }>>();

  /** CRLs with thisUpdate, nextUpdate, freshness and the next scheduled fetch. */
  crls(now: number = this.ctx.clock()): views.CrlView[] {
    return views.crls(this.ctx, now);
  }

  /**
   * Alerts for the practitioner now: CRLs missing, expiring without renewal, or expired;
   * recipient certificates revoked, expired or orphaned; expired data-encryption
   * certificates (at most once per `expiredWarningHours`, see markAlertShown).
   */
  alerts(now: number = this.ctx.clock()): Alert[] {
    return alertOps.alerts(this.ctx, now);
  }

  /** Remembers that an alert was shown (drives the "once a day" repetition). */
  markAlertShown(id: string, now: number = this.ctx.clock()): Promise<void> {
    return alertOps.markAlertShown(this.ctx, id, now);
  }

  /* Sources and refresh: see service/sources.ts and service/refresh.ts. */

  /** Declares a directory location to fetch on schedule (a recipient's certificate, a CRL). */
  addSource(src: sourceOps.SourceInput, actor: AuditActor = this.ctx.defaultActor): Promise<void> {
    return sourceOps.addSource(this.ctx, src, actor);
  }

  removeSource(url: string, actor: AuditActor = this.ctx.defaultActor): Promise<void> {
    return sourceOps.removeSource(this.ctx, url, actor);
  }

  sources(): SourceRecord[] {
    return this.ctx.snap.sources.map((s) => ({ ...s }));
  }

  /**
   * Asks for a recipient certificate renewal at the next refresh: on demand, or on a service
   * message 4005, 4015 or 4025 (§5).
   */
  requestRenewal(recipient: string, reason: 'demand' | 'service-message' = 'demand', usage: Usage = 'attachment'): Promise<boolean> {
    return sourceOps.requestRenewal(this.ctx, recipient, reason, usage);
  }

  /**
   * When refresh() has something to do next (ms since epoch): the earliest CRL attempt,
   * certificate renewal or audit purge. A page arms one timer for it (and calls refresh() on
   * start-up and when the device wakes: the schedule catches up by itself).
   */
  nextRefreshAt(now: number = this.ctx.clock()): number {
    return refreshOps.nextRefreshAt(this.ctx, now);
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
  refresh(opts: refreshOps.RefreshOptions = {}): Promise<refreshOps.RefreshReport> {
    return refreshOps.refresh(this.ctx, opts);
  }

  /* Settings: see service/settings.ts. */

  /** Changes settings (validated; each change logged). Redraws the CRL slot if the window moved past it. */
  async updateSettings(patch: Partial<TrustSettings>, actor: AuditActor = this.ctx.defaultActor): Promise<void> {
    await writeSettings(this.ctx, patch, actor);
  }

  /* Audit: see service/audit-log.ts and service/integrity.ts. */

  /**
   * Logs an event for other modules (sessions: open, lock, unlock, close; see AuditInput).
   * Throws AuditRefused when the input carries anything not allowed.
   */
  log(input: AuditInput): Promise<void> {
    return auditOps.log(this.ctx, input);
  }

  /** Verifies the whole journal now (key, check, witness, every seal); a failure blocks the service. */
  verifyAudit(): Promise<ChainVerification> {
    return auditOps.verifyAudit(this.ctx);
  }

  /**
   * Anchors the journal's head at the relay through `port` (issue 24 defect 3): only its id,
   * sequence number and hash leave the workstation. A refusal blocks (`anchor_mismatch`).
   */
  anchor(port: anchorOps.AnchorPort): Promise<anchorOps.AnchorOutcome> {
    return anchorOps.anchorJournal(this.ctx, port);
  }

  /** The id of the journal in use (its key check's UUID; `none` without one): what a reset authorization names. */
  journalId(): string {
    return this.ctx.latch.journal ?? auditOps.NO_JOURNAL;
  }

  /** The integrity state the service enforces. */
  integrity(): AuditIntegrity {
    return { ...this.ctx.latch.state };
  }

  /**
   * The administrator's action on a journal that failed verification (or an unsealed journal
   * of an older version): archives it as it is (in the store, and returned for download),
   * and starts a new sealed journal with a new key whose first record says so, with the
   * archive's SHA-256. Refused on a journal that verifies. An administrator's act (issue 24
   * defect 3): explicit (`confirm`) and authorized by a CPS with its PIN (`authorization`, from
   * the bridge's `journal.authorizeReset`); the record names the card's certificate.
   */
  resetAudit(opts: { confirm: boolean; actor?: AuditActor; authorization?: auditOps.ResetAuthorization }): Promise<auditOps.AuditResetReport> {
    return auditOps.resetAudit(this.ctx, opts);
  }

  /** The audit trail for display, newest first, with its integrity status. */
  auditView(): Promise<auditOps.AuditView> {
    return auditOps.auditView(this.ctx);
  }

  /** The audit trail as JSON lines (the export itself is logged first, so it is included). */
  exportAudit(actor: AuditActor = this.ctx.defaultActor): Promise<string> {
    return auditOps.exportAudit(this.ctx, actor);
  }

  /** Purges records past the retention period (≥ 12 months). Returns the number removed. */
  purgeAudit(now: number = this.ctx.clock()): Promise<number> {
    return auditOps.purgeAudit(this.ctx, now);
  }

  /** For tests and diagnostics: the raw snapshot. */
  snapshot(): TrustSnapshot {
    return structuredClone(this.ctx.snap);
  }
}
