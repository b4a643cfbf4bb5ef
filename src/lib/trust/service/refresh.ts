/**
 * The directory refresh: CRL downloads (weekly slot, daily retries), recipient certificate
 * renewals (15 days before expiry, on revocation, on demand) and the audit purge, each fetched
 * item going through the same planning as a manual import.
 */
import { isPkiError } from '../../pki/errors.js';
import { type Parsed, decodeParsed } from '../../pki/input.js';
import type { AuditActor, AuditInput } from '../audit.js';
import { FetchError } from '../fetcher.js';
import type { Change, SourceRecord } from '../model.js';
import { DAY_MS, type FetchOutcome, type RefreshTrigger, type RenewalPlan, planCrlFetch, planRenewal } from '../schedule.js';
import { purgeIfDue } from './audit-log.js';
import type { TrustContext, TrustState } from './context.js';
import { prepareCrl } from './import-crl.js';
import { prepareRecipient } from './import-recipient.js';
import { type Plan, uris } from './plan.js';
import { crlSourceChanges } from './sources.js';
import { crlConfig, isRevoked, renewalConfig, sourceState } from './views.js';

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

/**
 * When refresh() has something to do next (ms since epoch): the earliest CRL attempt,
 * certificate renewal or audit purge.
 */
export function nextRefreshAt(s: TrustState, now: number): number {
  const cfg = crlConfig(s.conf);
  let next = Infinity;
  for (const src of s.snap.sources) {
    if (src.kind === 'crl') next = Math.min(next, planCrlFetch(sourceState(s, src), now, cfg).at);
    else next = Math.min(next, renewalPlan(s, src, now).at);
  }
  const last = s.snap.meta.find((m) => m.key === 'last-purge')?.value as number | undefined;
  next = Math.min(next, last === undefined ? now : last + s.conf.auditPurgeIntervalDays * DAY_MS);
  return Math.max(next, now);
}

function renewalPlan(s: TrustState, src: SourceRecord, now: number): RenewalPlan {
  const current = s.snap.recipients
    .filter((r) => r.recipient === src.recipient && r.usage === (src.usage ?? 'attachment'))
    .sort((a, b) => b.notBefore - a.notBefore)[0];
  return planRenewal(
    {
      ...(current ? { cert: { notAfter: current.notAfter, revoked: isRevoked(s, current.issuerKey, current.serial, { ca: false }).revoked } } : {}),
      ...(src.lastAttemptAt !== undefined ? { lastAttemptAt: src.lastAttemptAt } : {}),
      ...(src.lastOutcome !== undefined ? { lastOutcome: src.lastOutcome } : {}),
      ...(src.demandAt !== undefined ? { demandAt: src.demandAt } : {}),
    },
    now,
    renewalConfig(s.conf),
  );
}

/** The run in progress per service instance, shared by concurrent calls of the same kind. */
const runs = new WeakMap<TrustContext, { kind: string; run: Promise<RefreshReport> }>();

/**
 * Runs what is due now. Concurrent calls of the same kind share one run, a different kind
 * runs after it; across tabs, the store's lock serialises them.
 */
export function refresh(ctx: TrustContext, opts: RefreshOptions): Promise<RefreshReport> {
  // Audit integrity (SP1): nothing is fetched while the journal is tampered.
  if (ctx.latch.state.state === 'tampered') return Promise.reject(ctx.latch.blocked());
  const trigger: RefreshTrigger = opts.force === true ? 'manual' : (opts.trigger ?? 'scheduled');
  const kind = `${trigger}${opts.force === true ? ':all' : ''}:${opts.actor ?? ''}`;
  const current = runs.get(ctx);
  if (current?.kind === kind) return current.run;
  // A manual request arriving during a scheduled run must not get that run's (night-deferred) result.
  const previous = current?.run.catch(() => undefined);
  const run = (async (): Promise<RefreshReport> => {
    await previous;
    const work = (): Promise<RefreshReport> => refreshNow(ctx, trigger, opts);
    return ctx.store.lock ? await ctx.store.lock('teletrans-trust-refresh', work) : await work();
  })();
  const entry = { kind, run };
  runs.set(ctx, entry);
  // Registered before the caller's: the slot is free again when the caller resumes.
  const clear = (): void => {
    if (runs.get(ctx) === entry) runs.delete(ctx);
  };
  run.then(clear, clear);
  return run;
}

async function refreshNow(ctx: TrustContext, trigger: RefreshTrigger, opts: RefreshOptions): Promise<RefreshReport> {
  await ctx.reload();
  const now = ctx.clock();
  const items: RefreshItem[] = [];
  const force = opts.force === true;
  // The practitioner acts as the logged-in user; the schedule as the system.
  const actor = opts.actor ?? (trigger === 'manual' ? ctx.defaultActor : 'system');
  if (ctx.fetcher) {
    const cfg = crlConfig(ctx.conf);
    for (const s of ctx.snap.sources.filter((x) => x.kind === 'crl')) {
      if (force || planCrlFetch(sourceState(ctx, s), now, cfg, trigger).due) items.push(await fetchCrl(ctx, s, now, actor, trigger));
    }
    for (const s of ctx.snap.sources.filter((x) => x.kind === 'certificate')) {
      const plan = renewalPlan(ctx, s, now);
      if (force || plan.due) items.push(...(await fetchCertificate(ctx, s, now, actor, plan.reason, trigger)));
    }
  }
  const purged = await purgeIfDue(ctx, now);
  return { at: now, trigger, items, purged };
}

async function fetchItems(ctx: TrustContext, url: string): Promise<{ items: Parsed[] } | { code: string; message: string }> {
  let raw: Uint8Array[];
  try {
    raw = await ctx.fetcher!(url);
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

function sourceUpdate(s: SourceRecord, now: number, outcome: FetchOutcome, code?: string): Change {
  const next: SourceRecord = { ...s, lastAttemptAt: now, lastOutcome: outcome, consecutiveFailures: outcome === 'success' ? 0 : s.consecutiveFailures + 1 };
  if (outcome === 'success') next.lastSuccessAt = now;
  if (code) next.lastError = code;
  else delete next.lastError;
  return { store: 'sources', put: next };
}

function fetchEvent(s: SourceRecord, outcome: FetchOutcome, actor: AuditActor, code?: string, reason?: 'missing' | 'expiring' | 'revoked' | 'demand' | 'service-message' | 'scheduled'): AuditInput {
  return {
    event: 'directory.fetch',
    outcome: outcome === 'success' ? 'success' : outcome === 'unchanged' ? 'unchanged' : 'failure',
    actor,
    object: { kind: 'source', url: s.url },
    details: { ...(code ? { code } : {}), ...(reason ? { reason } : {}) },
  };
}

async function fetchCrl(ctx: TrustContext, s: SourceRecord, now: number, actor: AuditActor, trigger: RefreshTrigger): Promise<RefreshItem> {
  const got = await fetchItems(ctx, s.url);
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
      plan = await prepareCrl(ctx, crl, { source: 'directory', sourceUrl: s.url, actor });
      const r = plan.report;
      outcome = r.outcome === 'stored' ? 'success' : r.outcome === 'unchanged' || r.code === 'crl_older' ? 'unchanged' : 'failed';
      if (r.code) code = r.code;
      message = r.message;
    }
  }
  // A source declared without its issuer learns it from the first CRL stored from it.
  const known: SourceRecord = !s.issuerKey && issuerKey && outcome === 'success' ? { ...s, issuerKey } : s;
  const extra = [sourceUpdate(known, now, outcome, code)];
  const events = [fetchEvent(s, outcome, actor, code, trigger === 'manual' ? 'demand' : 'scheduled')];
  if (plan) await ctx.apply(plan, extra, events);
  else {
    await ctx.commitAndReload(extra, events);
  }
  const item: RefreshItem = { url: s.url, kind: 'crl', outcome, message };
  if (code) item.code = code;
  return item;
}

async function fetchCertificate(
  ctx: TrustContext,
  s: SourceRecord,
  now: number,
  actor: AuditActor,
  reason: 'missing' | 'expiring' | 'revoked' | 'demand' | undefined,
  trigger: RefreshTrigger,
): Promise<RefreshItem[]> {
  const items: RefreshItem[] = [];
  const got = await fetchItems(ctx, s.url);
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
    plan = await prepareRecipient(ctx, certs, opts);
    if (plan.report.code === 'crl_missing') {
      // First set-up: the CRL location is only known from the certificate itself. Fetch the
      // CRLs it points to, then try again once.
      const urls = [...new Set(certs.flatMap(uris))].filter((u) => !ctx.snap.sources.some((x) => x.url === u));
      if (urls.length) {
        await ctx.store.commit(certs.flatMap((c) => crlSourceChanges(ctx.snap, uris(c), c.issuer.key)));
        await ctx.reload();
        for (const u of urls) {
          const src = ctx.snap.sources.find((x) => x.url === u);
          // Part of setting this recipient up, so not deferred to the window even when scheduled.
          if (src) items.push(await fetchCrl(ctx, src, now, actor, trigger));
        }
        plan = await prepareRecipient(ctx, certs, opts);
      }
    }
    const r = plan.report;
    outcome = r.outcome === 'stored' ? 'success' : r.outcome === 'unchanged' ? 'unchanged' : 'failed';
    if (r.code) code = r.code;
    message = r.message;
  }
  const fresh = ctx.snap.sources.find((x) => x.url === s.url) ?? s;
  const update = sourceUpdate(fresh, now, outcome, code);
  if ('put' in update && update.store === 'sources' && outcome !== 'failed') {
    delete update.put.demandAt;
    delete update.put.demandReason;
  }
  const events = [fetchEvent(s, outcome, actor, code, why)];
  if (plan) await ctx.apply(plan, [update], events);
  else {
    await ctx.commitAndReload([update], events);
  }
  const item: RefreshItem = { url: s.url, kind: 'certificate', outcome, message };
  if (code) item.code = code;
  items.push(item);
  return items;
}
