/**
 * Read-only answers over the loaded snapshot: revocation, hierarchies, recipients, CRLs.
 * Pure functions of the TrustState (no store access), so the pages' views and the import
 * checks read the same answers.
 */
import { REASON_NAMES, type ReasonCode } from '../../pki/crl-model.js';
import { type CrlRecord, type HierarchyLabel, type RecipientRecord, type SourceRecord, type TrustSettings, type Usage, hierarchyLabel } from '../model.js';
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
  type RenewalConfig,
  type RenewalPlan,
  crlAlert,
  crlFreshness,
  planCrlFetch,
  planRenewal,
  recipientState,
} from '../schedule.js';
import type { TrustState } from './context.js';
import { fmtDate } from './plan.js';

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
  /** Installed as demonstration data (the fictitious hierarchy of `npm start`). */
  demo: boolean;
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
  /** Installed as demonstration data (the fictitious hierarchy of `npm start`). */
  demo: boolean;
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

/**
 * Is `serialHex` (as encoded, any case) revoked by the CRL of the issuer whose name key is
 * `issuerKey`? Answered from the in-memory indexes, synchronously.
 * `opts.ca`: whether the certificate is a CA (CRLs scoped to user or CA certificates).
 */
export function isRevoked(s: TrustState, issuerKey: string, serialHex: string, opts: { ca?: boolean } = {}): RevocationAnswer {
  const now = s.clock();
  const list = (s.byIssuer.get(issuerKey) ?? []).filter((l) => l.meta.scope === 'all' || opts.ca === undefined || (l.meta.scope === 'ca') === opts.ca);
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

export function crlConfig(conf: TrustSettings): CrlScheduleConfig {
  return {
    timeZone: conf.timeZone,
    windowStart: conf.crlWindowStart,
    windowEnd: conf.crlWindowEnd,
    slot: conf.crlSlot ?? conf.crlWindowStart,
    periodDays: conf.crlPeriodDays,
    retryDays: conf.crlRetryDays,
    alertLeadMs: conf.crlAlertLeadHours * HOUR_MS,
  };
}

export function renewalConfig(conf: TrustSettings): RenewalConfig {
  return { leadMs: conf.renewalLeadDays * DAY_MS, retryMs: DAY_MS };
}

/** CAs grouped by hierarchy label (several generations of a hierarchy side by side). */
export function hierarchies(s: TrustState, now: number): HierarchyView[] {
  const out = new Map<string, HierarchyView>();
  for (const c of s.snap.cas) {
    const h = out.get(c.hierarchy) ?? { hierarchy: c.hierarchy, label: hierarchyLabel(c.hierarchy), roots: [], intermediates: [] };
    const crl = s.snap.crls.find((x) => x.issuerFingerprint === c.fingerprint || (x.issuerKey === c.subjectKey && (!x.authorityKeyId || x.authorityKeyId === c.keyId)));
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
      demo: c.source === 'demo',
    };
    (c.role === 'root' ? h.roots : h.intermediates).push(v);
    out.set(c.hierarchy, h);
  }
  return [...out.values()].sort((a, b) => a.hierarchy.localeCompare(b.hierarchy));
}

export function recipientUsable(s: TrustState, r: RecipientRecord, now: number): boolean {
  const st = stateOf(s, r, now);
  return st.state === 'valid' || st.state === 'expiring';
}

function stateOf(s: TrustState, r: RecipientRecord, now: number): { state: RecipientState; revocation: RevocationAnswer } {
  const revocation = isRevoked(s, r.issuerKey, r.serial, { ca: false });
  const caMissing = !s.snap.cas.some((c) => c.fingerprint === r.issuerFingerprint) || !s.snap.cas.some((c) => c.fingerprint === r.rootFingerprint);
  const superseded = s.snap.recipients.some(
    (o) => o.recipient === r.recipient && o.usage === r.usage && o.fingerprint !== r.fingerprint && o.notBefore > r.notBefore && now < o.notAfter,
  );
  return { state: recipientState({ notAfter: r.notAfter, revoked: revocation.revoked, caMissing, superseded }, now, s.conf.renewalLeadDays * DAY_MS), revocation };
}

function recipientView(s: TrustState, r: RecipientRecord, now: number): RecipientView {
  const { state, revocation } = stateOf(s, r, now);
  const issuerCrl = (s.byIssuer.get(r.issuerKey) ?? [])[0]?.meta;
  const crl = crlFreshness(issuerCrl, now);
  const problems: string[] = [];
  const tz = s.conf.timeZone;
  if (state === 'revoked') problems.push(`Révoqué le ${fmtDate(revocation.date!, tz)} (${revocation.reasonLabel ?? 'motif non précisé'}).`);
  if (state === 'expired') problems.push(`Expiré le ${fmtDate(r.notAfter, tz)}.`);
  if (state === 'obsolete') problems.push('Son autorité de certification n’est plus dans le magasin, ou un certificat plus récent le remplace.');
  if (state === 'expiring') problems.push(`Expire le ${fmtDate(r.notAfter, tz)} : renouvellement prévu.`);
  if (crl === 'missing') problems.push('Aucune LCR de son autorité n’est installée : le certificat ne peut pas être utilisé.');
  if (crl === 'stale') problems.push('La LCR de son autorité est périmée : elle est utilisée quand même.');
  // §1–2: attachment certificates must be valid with a CRL present; an expired data
  // certificate only warns, a revoked one blocks.
  const usable =
    r.usage === 'attachment' ? (state === 'valid' || state === 'expiring') && crl !== 'missing' : state !== 'revoked' && state !== 'obsolete' && crl !== 'missing';
  const src = s.snap.sources.find((x) => x.kind === 'certificate' && x.recipient === r.recipient && (x.usage ?? 'attachment') === r.usage);
  const renewal = planRenewal(
    {
      cert: { notAfter: r.notAfter, revoked: revocation.revoked },
      ...(src?.lastAttemptAt !== undefined ? { lastAttemptAt: src.lastAttemptAt } : {}),
      ...(src?.demandAt !== undefined ? { demandAt: src.demandAt } : {}),
    },
    now,
    renewalConfig(s.conf),
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
    demo: r.source === 'demo',
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
export function recipients(s: TrustState, now: number): RecipientView[] {
  return s.snap.recipients.map((r) => recipientView(s, r, now)).sort((a, b) => a.recipient.localeCompare(b.recipient) || b.notBefore - a.notBefore);
}

/** The certificate to encrypt for `recipient`: the most recent usable one, if any. */
export function certificateFor(s: TrustState, recipient: string, usage: Usage, now: number): (RecipientView & { der: Uint8Array }) | undefined {
  const who = usage === 'attachment' ? recipient.trim().toLowerCase() : recipient.trim();
  const best = s.snap.recipients
    .filter((r) => r.recipient === who && r.usage === usage)
    .map((r) => ({ r, v: recipientView(s, r, now) }))
    .filter((x) => x.v.usable)
    .sort((a, b) => b.r.notBefore - a.r.notBefore || b.r.notAfter - a.r.notAfter)[0];
  return best && { ...best.v, der: best.r.der.slice() };
}

/** A source's schedule inputs; a CRL already held (imported by hand) counts as the last success. */
export function sourceState(s: TrustState, src: SourceRecord): { lastAttemptAt?: number; lastOutcome?: FetchOutcome; lastSuccessAt?: number; nextUpdate?: number } {
  const crl = src.issuerKey ? (s.byIssuer.get(src.issuerKey) ?? [])[0]?.meta : undefined;
  return {
    ...(src.lastAttemptAt !== undefined ? { lastAttemptAt: src.lastAttemptAt } : {}),
    ...(src.lastOutcome !== undefined ? { lastOutcome: src.lastOutcome } : {}),
    ...(src.lastSuccessAt !== undefined ? { lastSuccessAt: src.lastSuccessAt } : crl ? { lastSuccessAt: crl.importedAt } : {}),
    ...(crl ? { nextUpdate: crl.nextUpdate } : {}),
  };
}

/** CRLs with thisUpdate, nextUpdate, freshness and the next scheduled fetch. */
export function crls(s: TrustState, now: number): CrlView[] {
  const cfg = crlConfig(s.conf);
  return s.snap.crls.map((c) => {
    const sources = s.snap.sources.filter((x) => x.kind === 'crl' && x.issuerKey === c.issuerKey);
    const plans = sources.map((x) => ({ s: x, plan: planCrlFetch(sourceState(s, x), now, cfg) }));
    const freshness = crlFreshness(c, now);
    const last = sources.filter((x) => x.lastAttemptAt !== undefined).sort((a, b) => b.lastAttemptAt! - a.lastAttemptAt!)[0];
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
      sources: sources.map((x) => x.url),
      ...(c.crlNumber ? { crlNumber: c.crlNumber } : {}),
    };
    if (plans.length) v.nextFetch = Math.min(...plans.map((p) => p.plan.at));
    if (last) {
      v.lastAttemptAt = last.lastAttemptAt!;
      if (last.lastOutcome) v.lastOutcome = last.lastOutcome;
    }
    const a = crlAlertFor(s.conf, c, last, now);
    if (a) v.alert = a;
    return v;
  });
}

/** The alert a CRL raises (expiring without renewal, or expired), shared by crls() and alerts(). */
export function crlAlertFor(conf: TrustSettings, c: CrlRecord, last: SourceRecord | undefined, now: number): Alert | undefined {
  const code = crlAlert({ nextUpdate: c.nextUpdate, ...(last?.lastOutcome ? { lastOutcome: last.lastOutcome } : {}) }, now, crlConfig(conf));
  const tz = conf.timeZone;
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
