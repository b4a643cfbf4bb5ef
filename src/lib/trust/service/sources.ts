/**
 * Directory sources (where a recipient's certificate or a CA's CRL is fetched from): declared
 * by hand, learnt from certificates' distribution points, and renewal requests on them.
 */
import type { AuditActor } from '../audit.js';
import type { Change, SourceRecord, TrustSnapshot, Usage } from '../model.js';
import type { TrustContext } from './context.js';

export type SourceInput = { url: string; kind: 'crl'; issuerKey?: string } | { url: string; kind: 'certificate'; recipient: string; usage?: Usage };

/** Sources for CRL distribution points not yet known. */
export function crlSourceChanges(snap: TrustSnapshot, urls: string[], issuerKey: string): Change[] {
  const out: Change[] = [];
  for (const url of new Set(urls)) {
    if (snap.sources.some((s) => s.url === url)) continue;
    out.push({ store: 'sources', put: { url, kind: 'crl', issuerKey, consecutiveFailures: 0 } });
  }
  return out;
}

/** Declares a directory location to fetch on schedule (a recipient's certificate, a CRL). */
export async function addSource(ctx: TrustContext, src: SourceInput, actor: AuditActor): Promise<void> {
  if (!/^(ldaps?|https?):\/\//i.test(src.url)) throw new RangeError('Adresse d’annuaire invalide (ldap:// ou http(s):// attendu).');
  if (ctx.snap.sources.some((s) => s.url === src.url)) return;
  const rec: SourceRecord =
    src.kind === 'crl'
      ? { url: src.url, kind: 'crl', consecutiveFailures: 0, ...(src.issuerKey ? { issuerKey: src.issuerKey } : {}) }
      : { url: src.url, kind: 'certificate', recipient: src.recipient.trim().toLowerCase(), usage: src.usage ?? 'attachment', consecutiveFailures: 0 };
  await ctx.commitAndReload([{ store: 'sources', put: rec }], [{ event: 'settings.change', outcome: 'success', actor, object: { kind: 'source', url: rec.url } }]);
}

export async function removeSource(ctx: TrustContext, url: string, actor: AuditActor): Promise<void> {
  if (!ctx.snap.sources.some((s) => s.url === url)) return;
  await ctx.commitAndReload([{ store: 'sources', delete: url }], [{ event: 'settings.change', outcome: 'success', actor, object: { kind: 'source', url } }]);
}

/**
 * Asks for a recipient certificate renewal at the next refresh: on demand, or on a service
 * message 4005, 4015 or 4025 (§5). Scheduling state only, so not an audited commit.
 */
export async function requestRenewal(ctx: TrustContext, recipient: string, reason: 'demand' | 'service-message', usage: Usage): Promise<boolean> {
  ctx.latch.require();
  const who = usage === 'attachment' ? recipient.trim().toLowerCase() : recipient.trim();
  const srcs = ctx.snap.sources.filter((s) => s.kind === 'certificate' && s.recipient === who && (s.usage ?? 'attachment') === usage);
  if (!srcs.length) return false;
  const now = ctx.clock();
  await ctx.store.commit(srcs.map((s) => ({ store: 'sources', put: { ...s, demandAt: now, demandReason: reason } }) satisfies Change));
  await ctx.reload();
  return true;
}
