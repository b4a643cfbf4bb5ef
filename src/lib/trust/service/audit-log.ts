/**
 * The audit journal's operations: logging for other modules, verification, display, export,
 * retention purge and the administrator's reset. The integrity latch they rely on is in
 * integrity.ts (every commit consults it).
 */
import { auditResetInput } from '../../card/protocol.js';
import { type Cert, KU, parseCertificate } from '../../pki/cert.js';
import { sha256Hex } from '../../pki/signature.js';
import {
  type AuditActor,
  type AuditInput,
  type AuditRecord,
  AUDIT_EVENT_LABELS,
  AUDIT_OUTCOME_LABELS,
  type ChainAnchor,
  type ChainProblem,
  type ChainVerification,
  emptyHead,
  exportJsonl,
  newJournal,
  planPurge,
  sealRecords,
} from '../audit.js';
import type { AuditContent, Change } from '../model.js';
import { DAY_MS } from '../schedule.js';
import { checkReceipt } from './anchor.js';
import type { TrustContext } from './context.js';

export interface AuditRow extends AuditRecord {
  eventLabel: string;
  outcomeLabel: string;
}

export interface AuditView {
  records: AuditRow[];
  integrity: ChainVerification;
  anchor?: ChainAnchor;
}

/** What a reset authorization names when the journal has no id (its key check is gone). */
export const NO_JOURNAL = 'none';

export type AuditResetRefusal = 'confirmation_required' | 'audit_intact' | 'card_required' | 'card_invalid';

/**
 * The administrator's authorization of a reset (issue 24 defect 3): the CPS's authentication
 * key over `auditResetInput(origin, journal)` (src/lib/card/protocol.ts), made by the bridge
 * right after the PIN was typed (`journal.authorizeReset`), and the certificate that checks it.
 */
export interface ResetAuthorization {
  /** The card's authentication certificate, DER. */
  certificate: Uint8Array;
  /** RSASSA-PKCS1-v1_5 / SHA-256 over the 96-byte input. */
  signature: Uint8Array;
  /** The origin the bridge bound the signature to (the page's). */
  origin: string;
}

/** The card's certificate fingerprint when `a` authorizes resetting `journal`; a refusal otherwise. */
async function checkAuthorization(a: ResetAuthorization | undefined, journal: string): Promise<string> {
  if (!a) throw new AuditResetRefused('card_required', 'La réinitialisation du journal est un acte d’administrateur : elle exige sa carte CPS et son code porteur.');
  const invalid = (): AuditResetRefused => new AuditResetRefused('card_invalid', 'L’autorisation de la carte ne correspond pas à ce journal ou n’est pas celle d’une carte CPS : la réinitialisation est refusée.');
  let cert: Cert;
  try {
    cert = parseCertificate(a.certificate);
  } catch {
    throw invalid();
  }
  // The card's authentication certificate: digitalSignature (CPS-authentication profile, src/lib/pki).
  if (cert.keyUsage === undefined || (cert.keyUsage & KU.digitalSignature) === 0 || cert.basicConstraints?.ca) throw invalid();
  let ok = false;
  try {
    const key = await crypto.subtle.importKey('spki', exactBuffer(cert.spki), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['verify']);
    ok = await crypto.subtle.verify('RSASSA-PKCS1-v1_5', key, exactBuffer(a.signature), exactBuffer(await auditResetInput(a.origin, journal)));
  } catch {
    ok = false;
  }
  if (!ok) throw invalid();
  return sha256Hex(exactBuffer(a.certificate));
}

const exactBuffer = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

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

/** Events from other modules are checked as given (`external`), not withheld. */
export async function log(ctx: TrustContext, input: AuditInput): Promise<void> {
  await ctx.commit([], [{ ...input, actor: input.actor ?? ctx.defaultActor }], undefined, true);
}

export async function verifyAudit(ctx: TrustContext): Promise<ChainVerification> {
  const a = await ctx.store.audit();
  return withStore(ctx, await ctx.latch.check(await ctx.store.auditKey(), a), a);
}

/** A verified journal, then the store against its seals: the first failure is the verdict. */
async function withStore(ctx: TrustContext, v: ChainVerification, a: AuditContent): Promise<ChainVerification> {
  if (!v.ok) return v;
  const latched = (): ChainVerification | undefined => {
    const st = ctx.latch.state;
    return st.state === 'tampered' ? { ok: false, index: -1, problem: st.problem, message: st.message } : undefined;
  };
  // A journal that verifies on its own, beside a store found not to match it: still a failure.
  const st = ctx.latch.state;
  if (st.state === 'tampered' && (st.problem === 'store_unsealed' || st.problem === 'journal_missing' || st.problem === 'anchor_mismatch')) return latched()!;
  try {
    await ctx.checkStore(a);
    await checkReceipt(ctx, a);
    return v;
  } catch (e) {
    const after = latched();
    if (!after) throw e;
    return after;
  }
}

/** See TrustService.resetAudit. */
export async function resetAudit(ctx: TrustContext, opts: { confirm: boolean; actor?: AuditActor; authorization?: ResetAuthorization }): Promise<AuditResetReport> {
  if (opts.confirm !== true) throw new AuditResetRefused('confirmation_required', 'La réinitialisation du journal doit être confirmée explicitement.');
  const actor = opts.actor ?? ctx.defaultActor;
  const latch = ctx.latch;
  const run = async (): Promise<AuditResetReport> => {
    const keys = await ctx.store.auditKey();
    const a = await ctx.store.audit();
    const v = await latch.check(keys, a);
    if (v.ok || latch.state.state !== 'tampered') throw new AuditResetRefused('audit_intact', 'Le journal est intègre : il n’y a rien à réinitialiser.');
    const problem = latch.state.problem;
    // The administrator's card, checked against the journal being replaced; named in the record.
    const card = await checkAuthorization(opts.authorization, keys.check?.journal ?? NO_JOURNAL);
    const now = ctx.clock();
    const archive = exportJsonl(a.records, a.anchor, a.head, now);
    const sha256 = await sha256Hex(new TextEncoder().encode(archive));
    const fresh = await newJournal(now);
    const first = await sealRecords(
      // The new journal starts with a seal of every trust record now stored (store-seal.ts):
      // resetting is the administrator's act of taking the store as it is.
      [{ event: 'audit.reset', outcome: 'success', actor, object: { kind: 'audit', fingerprint: sha256 }, details: { reason: 'integrity', code: problem, count: a.records.length, card } },
        ...ctx.baseline('integrity')],
      fresh.head,
      now,
      fresh.key,
    );
    await ctx.store.resetAudit({
      expectJournal: keys.check?.journal,
      key: fresh.key,
      check: fresh.check,
      records: first.records,
      head: first.head ?? (await emptyHead(fresh.key)),
      archive: { at: now, problem, count: a.records.length, sha256, text: archive },
    });
    latch.key = fresh.key;
    latch.journal = fresh.check.journal;
    latch.state = { state: 'intact' };
    // Told to the relay at the next anchor: this journal replaces that one (service/anchor.ts).
    await ctx.store.commit([{ store: 'meta', put: { key: 'audit-previous-journal', value: keys.check?.journal ?? 'unknown' } }]);
    return { archive, sha256, count: a.records.length, problem };
  };
  // Serialised with this tab's appends and, across tabs, with theirs.
  const report = await ctx.serialised(run);
  await ctx.reload();
  return report;
}

export async function auditView(ctx: TrustContext): Promise<AuditView> {
  const a = await ctx.store.audit();
  const integrity = await withStore(ctx, await ctx.latch.check(await ctx.store.auditKey(), a), a);
  const records = a.records.map((r) => ({ ...r, eventLabel: AUDIT_EVENT_LABELS[r.event] ?? r.event, outcomeLabel: AUDIT_OUTCOME_LABELS[r.outcome] ?? r.outcome })).reverse();
  return a.anchor ? { records, integrity, anchor: a.anchor } : { records, integrity };
}

/** The export itself is logged first, so it is included. */
export async function exportAudit(ctx: TrustContext, actor: AuditActor): Promise<string> {
  await ctx.commit([], [{ event: 'audit.export', outcome: 'success', actor, object: { kind: 'audit' }, details: { format: 'jsonl' } }]);
  const a = await ctx.store.audit();
  return exportJsonl(a.records, a.anchor, a.head, ctx.clock());
}

/** Purges records past the retention period (≥ 12 months). Returns the number removed. */
export async function purgeAudit(ctx: TrustContext, now: number): Promise<number> {
  ctx.latch.require();
  const a = await ctx.store.audit();
  const plan = planPurge(a.records, a.anchor, now, ctx.conf.auditRetentionDays);
  const lastPurge: Change = { store: 'meta', put: { key: 'last-purge', value: now } };
  if (!plan) {
    await ctx.store.commit([lastPurge]);
    await ctx.reload();
    return 0;
  }
  await ctx.commit(
    [lastPurge],
    // The seals purged with the old records are written again: the journal still accounts for the whole store.
    [{ event: 'audit.purge', outcome: 'success', object: { kind: 'audit' }, details: { count: plan.remove.length, through: plan.anchor.seq, anchorHash: plan.anchor.hash, reason: 'retention' } },
      ...ctx.baseline('retention')],
    plan,
  );
  await ctx.reload();
  return plan.remove.length;
}

/** The purge as the refresh runs it: at most once per `auditPurgeIntervalDays`. */
export async function purgeIfDue(ctx: TrustContext, now: number): Promise<number> {
  const last = ctx.snap.meta.find((m) => m.key === 'last-purge')?.value as number | undefined;
  if (last !== undefined && now - last < ctx.conf.auditPurgeIntervalDays * DAY_MS) return 0;
  return purgeAudit(ctx, now);
}
