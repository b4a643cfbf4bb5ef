/**
 * Removals of CAs, CRLs and recipient certificates, with the audit records they leave (also
 * used by imports when a newer certificate supersedes an older one).
 */
import type { AuditActor, AuditInput } from '../audit.js';
import type { Change, CrlRecord, RecipientRecord } from '../model.js';
import type { TrustContext } from './context.js';

export function removalEvent(r: RecipientRecord, actor: AuditActor, reason?: 'superseded' | 'cascade'): AuditInput {
  return {
    event: 'certificate.remove',
    outcome: 'success',
    actor,
    object: { kind: 'certificate', fingerprint: r.fingerprint, serial: r.serial, issuer: r.issuer },
    details: { role: r.usage === 'data' ? 'data' : 'recipient', ...(reason ? { reason } : {}) },
  };
}

function crlDeletes(id: string): Change[] {
  return [
    { store: 'crls', delete: id },
    { store: 'crlDer', delete: id },
    { store: 'crlIndex', delete: id },
  ];
}

function crlRemovalEvent(c: CrlRecord, actor: AuditActor, reason?: 'cascade'): AuditInput {
  return {
    event: 'crl.remove',
    outcome: 'success',
    actor,
    object: { kind: 'crl', fingerprint: c.sha256, issuer: c.issuer, ...(c.crlNumber ? { serial: c.crlNumber } : {}) },
    details: { hierarchy: c.hierarchy, ...(reason ? { reason } : {}) },
  };
}

/**
 * Removes a CA. A root takes its hierarchy's intermediates with it; CRLs issued by removed
 * CAs go too. Recipient certificates stay, shown "obsolète" (their CA is gone).
 */
export async function removeCa(ctx: TrustContext, fingerprint: string, actor: AuditActor): Promise<boolean> {
  const snap = ctx.snap;
  const ca = snap.cas.find((c) => c.fingerprint === fingerprint);
  if (!ca) return false;
  const gone = new Set<string>([fingerprint]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const c of snap.cas) {
      if (!gone.has(c.fingerprint) && (gone.has(c.issuerFingerprint) || gone.has(c.rootFingerprint))) {
        gone.add(c.fingerprint);
        grew = true;
      }
    }
  }
  const removedCas = snap.cas.filter((c) => gone.has(c.fingerprint));
  const removedCrls = snap.crls.filter((c) => gone.has(c.issuerFingerprint));
  const remainingKeys = new Set(snap.cas.filter((c) => !gone.has(c.fingerprint)).map((c) => c.subjectKey));
  const removedSources = snap.sources.filter((s) => s.kind === 'crl' && s.issuerKey !== undefined && !remainingKeys.has(s.issuerKey));
  const changes: Change[] = [
    ...removedCas.map((c) => ({ store: 'cas', delete: c.fingerprint }) satisfies Change),
    ...removedCrls.flatMap((c) => crlDeletes(c.id)),
    ...removedSources.map((s) => ({ store: 'sources', delete: s.url }) satisfies Change),
  ];
  const events: AuditInput[] = [];
  for (const c of removedCas) {
    const object = { kind: 'ca' as const, fingerprint: c.fingerprint, serial: c.serial, subject: c.subject, issuer: c.issuer };
    events.push({ event: 'ca.remove', outcome: 'success', actor, object, details: { role: c.role, hierarchy: c.hierarchy, ...(c.fingerprint !== fingerprint ? { reason: 'cascade' as const } : {}) } });
    events.push({ event: 'trust-chain.change', outcome: 'success', actor, object, details: { change: c.role === 'root' ? 'anchor-removed' : 'intermediate-removed', hierarchy: c.hierarchy } });
  }
  for (const c of removedCrls) events.push(crlRemovalEvent(c, actor, 'cascade'));
  await ctx.commitAndReload(changes, events);
  return true;
}

export async function removeCrl(ctx: TrustContext, id: string, actor: AuditActor): Promise<boolean> {
  const c = ctx.snap.crls.find((x) => x.id === id);
  if (!c) return false;
  await ctx.commitAndReload(crlDeletes(id), [crlRemovalEvent(c, actor)]);
  return true;
}

export async function removeRecipient(ctx: TrustContext, fingerprint: string, actor: AuditActor): Promise<boolean> {
  const r = ctx.snap.recipients.find((x) => x.fingerprint === fingerprint);
  if (!r) return false;
  await ctx.commitAndReload([{ store: 'recipients', delete: fingerprint }], [removalEvent(r, actor)]);
  return true;
}
