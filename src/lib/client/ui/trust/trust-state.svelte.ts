/**
 * The trust store as the « Certificats » pages see it: one TrustService per tab (IndexedDB
 * `teletrans-trust`), its views as reactive state, and the single refresh timer.
 *
 * The timer calls `refresh()` at `nextRefreshAt()` and is re-armed after each run, when the
 * tab becomes visible again (a laptop waking up: the schedule catches up by itself), and after
 * every change made through these pages. Several tabs may each arm one: the service serialises
 * refreshes across tabs with Web Locks, and a run that finds nothing due does nothing.
 *
 * Browser only: call `startTrust()` from an `onMount` (or an `$effect`).
 */
import { TRUST_DB_NAME, openTrustService } from '$lib/client/store/trust';
import { installDemoTrust } from '$lib/client/store/demo-trust';
import type { Alert } from '$lib/trust/schedule';
import type {
  AuditIntegrity,
  AuditResetReport,
  ResetAuthorization,
  AuditView,
  CrlView,
  HierarchyView,
  ImportOptions,
  ImportReport,
  RecipientView,
  RefreshReport,
  TrustService
} from '$lib/trust/service';
import { administratorsOf, type SourceRecord } from '$lib/trust/model';
import { AccessError, authorize } from '$lib/access/roles';
import { currentActor } from '$lib/client/access/current';
import { get } from 'svelte/store';

/** A run that leaves nextRefreshAt() in the past is not repeated sooner than this. */
const MIN_INTERVAL_MS = 15_000;
/** Re-armed at least this often (clock changes, long sleeps without a visibility event). */
const MAX_DELAY_MS = 6 * 3_600_000;
/** After an unexpected error of refresh() itself. */
const ERROR_BACKOFF_MS = 5 * 60_000;

export interface FileImport {
  id: number;
  file: string;
  reports: ImportReport[];
}

export type RefreshOrigin = 'manual' | 'scheduled';

class TrustState {
  /** Undefined until the store is open. */
  service = $state.raw<TrustService | undefined>(undefined);
  /** Why the store could not be opened (French). */
  openError = $state<string | undefined>(undefined);
  hierarchies = $state.raw<HierarchyView[]>([]);
  recipients = $state.raw<RecipientView[]>([]);
  crls = $state.raw<CrlView[]>([]);
  alerts = $state.raw<Alert[]>([]);
  sources = $state.raw<SourceRecord[]>([]);
  /** When each alert was last acknowledged (markAlertShown), by id. */
  shown = $state.raw<Record<string, number>>({});
  /** How long an acknowledged alert stays hidden (the service's expiredWarningHours). */
  repeatMs = $state(24 * 3_600_000);
  timeZone = $state('Europe/Paris');
  nextRefreshAt = $state<number | undefined>(undefined);
  /** The instant the views were computed for. */
  now = $state(Date.now());
  refreshing = $state<RefreshOrigin | undefined>(undefined);
  /** URLs being fetched by the current run (the sources known when it started). */
  inFlight = $state.raw<SourceRecord[]>([]);
  lastRefresh = $state.raw<{ origin: RefreshOrigin; report: RefreshReport } | undefined>(undefined);
  refreshError = $state<string | undefined>(undefined);
  /** The journal's integrity (SP1): `tampered` blocks the app (root layout) until an administrator resets it. */
  integrity = $state.raw<AuditIntegrity>({ state: 'intact' });
  /** Why the last change to the store was refused to this card (French); null when none. */
  refusal = $state<string | null>(null);

  private opening: Promise<TrustService | undefined> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastRunAt = 0;
  private running: Promise<unknown> | undefined;
  private channel: BroadcastChannel | undefined;

  /** Opens the store once per tab and arms the timer (idempotent). */
  start(): void {
    void this.open();
  }

  open(): Promise<TrustService | undefined> {
    this.opening ??= (async () => {
      try {
        const svc = await openTrustService();
        this.service = svc;
        this.openError = undefined;
        // npm start's demonstration data, on an empty store or one that already holds it.
        if (svc.integrity().state === 'intact') await installDemoTrust(svc).catch(() => undefined);
        this.sync();
        this.listen(svc);
        this.arm();
        return svc;
      } catch (e) {
        this.openError = `Le magasin de certificats de ce poste n’a pas pu être ouvert (${e instanceof Error ? e.message : String(e)}).`;
        // Fail closed (issue 24 defect 4): what cannot be verified blocks like what is altered.
        this.integrity = { state: 'tampered', problem: 'unverifiable', message: this.openError, detectedAt: Date.now() };
        this.opening = undefined;
        return undefined;
      }
    })();
    return this.opening;
  }

  /** Recomputes the views from the service (cheap: everything is in memory). */
  sync(): void {
    const svc = this.service;
    if (!svc) return;
    const now = Date.now();
    const settings = svc.settings();
    this.now = now;
    this.timeZone = settings.timeZone;
    this.repeatMs = settings.expiredWarningHours * 3_600_000;
    this.hierarchies = svc.hierarchies(now);
    this.recipients = svc.recipients(now);
    this.crls = svc.crls(now);
    this.alerts = svc.alerts(now);
    this.sources = svc.sources();
    const meta = svc.snapshot().meta.find((m) => m.key === 'alerts-shown');
    this.shown = meta?.key === 'alerts-shown' ? meta.value : {};
    this.nextRefreshAt = svc.nextRefreshAt(now);
    this.integrity = svc.integrity();
  }

  /** Alerts not acknowledged within the repetition period (shown at least once a day). */
  get visibleAlerts(): Alert[] {
    return this.alerts.filter((a) => {
      // The service itself repeats expired data-certificate warnings once the period is over.
      if (a.code === 'data_cert_expired') return true;
      const at = this.shown[a.id];
      return at === undefined || this.now - at >= this.repeatMs;
    });
  }

  private listen(svc: TrustService): void {
    if (typeof document !== 'undefined') {
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState !== 'visible') return;
        void svc
          .reload()
          .then(() => this.sync())
          .finally(() => this.arm());
      });
    }
    // Another tab changed the store (the IDB adapter broadcasts its commits on this channel).
    if (typeof BroadcastChannel === 'function') {
      this.channel = new BroadcastChannel(`${TRUST_DB_NAME}:changes`);
      this.channel.onmessage = () => {
        void svc
          .reload()
          .then(() => this.sync())
          .finally(() => this.arm());
      };
    }
  }

  /** (Re-)arms the single timer for nextRefreshAt(). */
  arm(): void {
    const svc = this.service;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (!svc) return;
    const now = Date.now();
    const at = svc.nextRefreshAt(now);
    this.nextRefreshAt = at;
    const earliest = this.lastRunAt ? this.lastRunAt + MIN_INTERVAL_MS : now;
    const delay = Math.min(Math.max(at - now, earliest - now, 0), MAX_DELAY_MS);
    this.timer = setTimeout(() => void this.scheduled(), delay);
  }

  private async scheduled(): Promise<void> {
    this.timer = undefined;
    const svc = this.service;
    if (!svc) return;
    if (this.running) {
      await this.running.catch(() => undefined);
      this.arm();
      return;
    }
    // Not due (the timer was capped, or the clock moved): just re-arm.
    if (svc.nextRefreshAt() > Date.now()) {
      this.arm();
      return;
    }
    await this.run('scheduled', () => svc.refresh({ trigger: 'scheduled' }));
  }

  /** « Mettre à jour maintenant »: every source, regardless of its schedule. */
  async refreshNow(): Promise<void> {
    const svc = this.service;
    if (!svc) return;
    // A scheduled run in progress would be shared by refresh(): wait for it, then force.
    if (this.running) await this.running.catch(() => undefined);
    await this.run('manual', () => svc.refresh({ force: true }));
  }

  /** Runs what is due now (e.g. a source just added): the practitioner asked, so whatever the hour. */
  async refreshDue(): Promise<void> {
    const svc = this.service;
    if (!svc) return;
    if (this.running) await this.running.catch(() => undefined);
    await this.run('manual', () => svc.refresh({ trigger: 'manual' }));
  }

  private async run(origin: RefreshOrigin, fn: () => Promise<RefreshReport>): Promise<void> {
    const svc = this.service;
    if (!svc) return;
    this.refreshing = origin;
    this.refreshError = undefined;
    this.inFlight = origin === 'manual' ? svc.sources() : [];
    this.lastRunAt = Date.now();
    const p = fn();
    this.running = p;
    try {
      const report = await p;
      // A scheduled run that did nothing does not replace the result of the last update.
      if (origin === 'manual' || report.items.length > 0) this.lastRefresh = { origin, report };
    } catch (e) {
      this.refreshError = `La mise à jour a échoué : ${e instanceof Error ? e.message : String(e)}`;
      if (origin === 'scheduled') this.lastRunAt = Date.now() + ERROR_BACKOFF_MS - MIN_INTERVAL_MS;
    } finally {
      this.running = undefined;
      this.refreshing = undefined;
      this.inFlight = [];
      this.sync();
      this.arm();
    }
  }

  /**
   * A change to what this device trusts needs an administrator of the device once it names any
   * (access/roles.ts `trust.manage`; a personal workstation, naming none, is its user's). A
   * refusal is journaled and thrown as the `AccessError` it is.
   */
  private async mayManage(svc: TrustService): Promise<void> {
    if (administratorsOf(svc.settings()).length === 0) return;
    const actor = get(currentActor);
    try {
      authorize(actor, 'trust.manage');
    } catch (e) {
      if (e instanceof AccessError) {
        await svc
          .log({ event: 'access.refused', outcome: 'refused', actor: actor ? `holder:${actor.holder}` : 'system', object: { kind: 'settings' }, details: { permission: 'trust.manage', code: e.code, ...(actor ? { cardRole: actor.role } : {}) } })
          .catch(() => undefined);
      }
      throw e;
    }
  }

  /** Imports one file's content; the views and the timer follow. */
  async importFile(data: Uint8Array, opts: ImportOptions): Promise<ImportReport[]> {
    const svc = await this.open();
    if (!svc) throw new Error(this.openError ?? 'magasin indisponible');
    await this.mayManage(svc);
    try {
      return await svc.importFile(data, opts);
    } finally {
      this.sync();
      this.arm();
    }
  }

  /** Runs a change (removal, acknowledgement…) then refreshes the views and the timer. */
  async change<T>(fn: (svc: TrustService) => Promise<T>): Promise<T | undefined> {
    const svc = this.service;
    if (!svc) return undefined;
    try {
      return await fn(svc);
    } finally {
      this.sync();
      this.arm();
    }
  }

  /** A change to what the device trusts (removals, directory sources): an administrator's, once named; a refusal is said in `refusal`. */
  async manage<T>(fn: (svc: TrustService) => Promise<T>): Promise<T | undefined> {
    const svc = this.service;
    if (!svc) return undefined;
    this.refusal = null;
    try {
      await this.mayManage(svc);
    } catch (e) {
      if (e instanceof AccessError) {
        this.refusal = e.message;
        return undefined;
      }
      throw e;
    }
    return this.change(fn);
  }

  async dismiss(id: string): Promise<void> {
    await this.change((svc) => svc.markAlertShown(id));
  }

  async auditView(): Promise<AuditView | undefined> {
    const svc = await this.open();
    if (!svc) return undefined;
    try {
      return await svc.auditView();
    } finally {
      this.integrity = svc.integrity();
    }
  }

  /** The id of the journal in use (what an administrator's reset authorization names). */
  async journalId(): Promise<string | undefined> {
    return (await this.open())?.journalId();
  }

  /** The administrator's reset of a tampered journal (confirmed by the page, authorized by a CPS with its PIN). */
  async resetAudit(authorization: ResetAuthorization): Promise<AuditResetReport | undefined> {
    const svc = await this.open();
    if (!svc) return undefined;
    try {
      return await svc.resetAudit({ confirm: true, authorization });
    } finally {
      this.sync();
      this.arm();
    }
  }
}

/** The one state of this tab. */
export const trust = new TrustState();
