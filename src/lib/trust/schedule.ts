/**
 * When to fetch CRLs and recipient certificates, when to warn the practitioner, and how to
 * classify what the store holds (docs/domain/transmission.md §1, §3, §5, §6).
 *
 * Everything here is a pure function of its inputs: the current instant is passed in, and the
 * only randomness (an installation's CRL slot) comes from an injected source and is persisted
 * by the caller. Nothing is "armed": after a long sleep the caller simply asks again, and the
 * answer is at most one attempt, because an attempt moves `lastAttemptAt` forward.
 *
 * CRL schedule (§6):
 *   - Each installation draws once a slot, a minute of the day uniformly in the window
 *     [02:00, 22:00) local time (configurable, at least 8 h wide, never before 02:00 nor after
 *     22:00): installations spread their downloads over the whole window.
 *   - After a successful download (a new CRL stored), the next attempt is at the slot, 7 local
 *     calendar days later (so the wall-clock time is kept across DST changes; 6 days when the
 *     download was a catch-up made before the slot time, so the period never exceeds a week), or earlier: at
 *     the last slot before the held CRL's nextUpdate when that comes first ("match the
 *     frequency to publication").
 *   - After a failure (technical error, or the same CRL again), the next attempt is at the slot
 *     on the next local day ("retry every day under the same rules").
 *   - An automatic attempt is made only inside the window (a manual one, at once). When the nominal time has passed (the device
 *     was asleep or off), the attempt is made as soon as the device is awake inside the window:
 *     exactly one catch-up attempt, whose outcome sets the next nominal time.
 *   - First set-up (no CRL, no attempt yet): due at once (inside the window).
 *
 * CRL alert (§6 "alert the practitioner … before the CRL expires"): raised when the held CRL
 * expires within `alertLeadMs` (default 48 h, i.e. at most two more daily retries) and the last
 * attempt failed or brought the same CRL; and once it has expired (it is still used, §2).
 */
import {
  DEFAULT_TIME_ZONE,
  type LocalDate,
  addDays,
  atMinute,
  isValidTimeZone,
  localDate,
  minuteOfDay,
} from '../time/zoned-time.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** The earliest and latest minutes of the day at which a CRL may be fetched (§6). */
export const CRL_WINDOW_MIN = 2 * 60;
export const CRL_WINDOW_MAX = 22 * 60;
/** §6: installations spread their first attempt over at least 8 hours. */
export const CRL_SPREAD_MIN_MINUTES = 8 * 60;

export interface CrlScheduleConfig {
  /** IANA zone in which the window is read. */
  timeZone: string;
  /** Window start, minutes after local midnight (≥ 120). */
  windowStart: number;
  /** Window end (exclusive), minutes after local midnight (≤ 1320, ≥ start + 480). */
  windowEnd: number;
  /** This installation's minute of the day, drawn once with drawCrlSlot and persisted. */
  slot: number;
  /** Days between successful downloads (default 7). */
  periodDays: number;
  /** Days between attempts after a failure (default 1). */
  retryDays: number;
  /** Alert when the held CRL expires within this many ms after a failed attempt (default 48 h). */
  alertLeadMs: number;
}

export const DEFAULT_CRL_SCHEDULE: Omit<CrlScheduleConfig, 'slot'> = {
  timeZone: DEFAULT_TIME_ZONE,
  windowStart: CRL_WINDOW_MIN,
  windowEnd: CRL_WINDOW_MAX,
  periodDays: 7,
  retryDays: 1,
  alertLeadMs: 48 * HOUR_MS,
};

/** Why a window or slot is refused; undefined when acceptable. */
export function crlWindowProblem(start: number, end: number): string | undefined {
  if (!Number.isInteger(start) || !Number.isInteger(end)) return 'Les bornes de la plage horaire doivent être des minutes entières.';
  if (start < CRL_WINDOW_MIN) return 'Les LCR ne sont pas téléchargées avant 02:00.';
  if (end > CRL_WINDOW_MAX) return 'Les LCR ne sont pas téléchargées après 22:00.';
  if (end - start < CRL_SPREAD_MIN_MINUTES) return 'La plage de téléchargement des LCR doit couvrir au moins 8 heures.';
  return undefined;
}

export function checkCrlScheduleConfig(c: CrlScheduleConfig): void {
  const p = crlWindowProblem(c.windowStart, c.windowEnd);
  if (p) throw new RangeError(p);
  if (!Number.isInteger(c.slot) || c.slot < c.windowStart || c.slot >= c.windowEnd) {
    throw new RangeError('Le créneau de téléchargement des LCR doit se trouver dans la plage horaire.');
  }
  if (!isValidTimeZone(c.timeZone)) throw new RangeError(`Fuseau horaire inconnu : ${c.timeZone}.`);
  if (!(c.periodDays >= 1 && c.retryDays >= 1 && c.alertLeadMs >= 0)) throw new RangeError('Périodicité invalide.');
}

/**
 * An installation's slot: a whole minute drawn uniformly in [windowStart, windowEnd).
 * `random` returns a number in [0, 1) (Math.random's contract); the result is persisted so
 * that it is drawn once per installation.
 */
export function drawCrlSlot(random: () => number, windowStart = CRL_WINDOW_MIN, windowEnd = CRL_WINDOW_MAX): number {
  const p = crlWindowProblem(windowStart, windowEnd);
  if (p) throw new RangeError(p);
  const r = random();
  if (!(r >= 0 && r < 1)) throw new RangeError('random() must return a number in [0, 1).');
  return windowStart + Math.floor(r * (windowEnd - windowStart));
}

/** Math.random is not for this; a uniform draw from the platform CSPRNG. */
export function cryptoRandom(): number {
  const u = new Uint32Array(1);
  globalThis.crypto.getRandomValues(u);
  return u[0]! / 2 ** 32;
}

export type FetchOutcome = 'success' | 'unchanged' | 'failed';

/** What the CRL schedule needs to know about one CRL source. */
export interface CrlFetchState {
  lastAttemptAt?: number;
  lastOutcome?: FetchOutcome;
  /** Last time a new CRL from this source was stored (a download or a manual import). */
  lastSuccessAt?: number;
  /** nextUpdate of the CRL currently held for this source, if any. */
  nextUpdate?: number;
}

export function inCrlWindow(now: number, c: Pick<CrlScheduleConfig, 'timeZone' | 'windowStart' | 'windowEnd'>): boolean {
  const m = minuteOfDay(now, c.timeZone);
  return m >= c.windowStart && m < c.windowEnd;
}

function slotOn(d: LocalDate, c: CrlScheduleConfig): number {
  return atMinute(d, c.slot, c.timeZone);
}

/**
 * The nominal time of the next attempt (may be in the past: then it is overdue).
 * -Infinity means "as soon as possible" (first set-up).
 */
export function nominalCrlAttempt(s: CrlFetchState, c: CrlScheduleConfig): number {
  const tz = c.timeZone;
  const failed = s.lastOutcome === 'failed' || s.lastOutcome === 'unchanged';
  if (failed && s.lastAttemptAt !== undefined) {
    return slotOn(addDays(localDate(s.lastAttemptAt, tz), c.retryDays), c);
  }
  const base = s.lastSuccessAt ?? (s.lastOutcome === 'success' ? s.lastAttemptAt : undefined);
  if (base === undefined) return -Infinity;
  const baseDate = localDate(base, tz);
  // A week after the download, at the slot, never later: after a catch-up made earlier in
  // the day than the slot (an office machine, off at the slot), the slot of the day before,
  // which it will catch up the next morning again, so that the period stays 7 days.
  const early = c.slot > minuteOfDay(base, tz) ? 1 : 0;
  let next = slotOn(addDays(baseDate, c.periodDays - early), c);
  if (s.nextUpdate !== undefined && next >= s.nextUpdate) {
    // The held CRL expires first: the last slot strictly before its nextUpdate, if later than
    // the download itself; otherwise the next day's slot (a CRL living less than a day).
    let d = localDate(s.nextUpdate, tz);
    let t = slotOn(d, c);
    if (t >= s.nextUpdate) {
      d = addDays(d, -1);
      t = slotOn(d, c);
    }
    next = t > base ? t : slotOn(addDays(baseDate, 1), c);
  }
  return next;
}

/** The first instant ≥ now inside the window. */
function nextWindowInstant(now: number, c: CrlScheduleConfig): number {
  if (inCrlWindow(now, c)) return now;
  const today = localDate(now, c.timeZone);
  const open = atMinute(today, c.windowStart, c.timeZone);
  return open > now ? open : atMinute(addDays(today, 1), c.windowStart, c.timeZone);
}

export interface CrlPlan {
  /** An attempt should be made now. */
  due: boolean;
  /** When to attempt (now when due; otherwise the next time it will be due). */
  at: number;
  /** The nominal time (slot), which `at` may follow when overdue outside the window. */
  nominal: number;
  overdue: boolean;
}

/**
 * Who starts a refresh. `scheduled`: the automatic schedule (the page's timer, the service
 * worker's periodic sync), bound to the [02:00, 22:00) window, which exists to spread the
 * downloads of every installation (§6). `manual`: the practitioner asked (« Mettre à jour
 * maintenant », a recipient just added, a renewal requested): served at once, whatever the hour
 * (docs/adr/0001-manual-refresh-ignores-night-window.md).
 */
export type RefreshTrigger = 'manual' | 'scheduled';

/** Whether an attempt is due at `now`, and when the next one is. */
export function planCrlFetch(s: CrlFetchState, now: number, c: CrlScheduleConfig, trigger: RefreshTrigger = 'scheduled'): CrlPlan {
  const nominal = nominalCrlAttempt(s, c);
  if (nominal > now) return { due: false, at: nominal, nominal, overdue: false };
  const at = trigger === 'manual' ? now : nextWindowInstant(now, c);
  return { due: at === now, at, nominal, overdue: true };
}

/** A French-language alert for the practitioner. */
export interface Alert {
  /** Stable id (kind plus object), so a page can remember which alerts it has shown. */
  id: string;
  level: 'error' | 'warning' | 'info';
  code:
    | 'crl_missing'
    | 'crl_expiring'
    | 'crl_expired'
    | 'data_cert_expired'
    | 'recipient_missing'
    | 'recipient_revoked'
    | 'recipient_expired'
    | 'recipient_obsolete'
    | 'audit_integrity';
  message: string;
}

export type CrlAlertCode = 'crl_expiring' | 'crl_expired';

/** The CRL alert rule (see the module comment); undefined when nothing is to be said. */
export function crlAlert(s: CrlFetchState, now: number, c: Pick<CrlScheduleConfig, 'alertLeadMs'>): CrlAlertCode | undefined {
  if (s.nextUpdate === undefined) return undefined;
  if (now >= s.nextUpdate) return 'crl_expired';
  const failing = s.lastOutcome === 'failed' || s.lastOutcome === 'unchanged';
  if (failing && s.nextUpdate - now < c.alertLeadMs) return 'crl_expiring';
  return undefined;
}

/* ------------------------------------------------------------------------------------------ */
/* Recipient certificates (§5) */

export interface RenewalConfig {
  /** Renew this long before notAfter (default 15 days). */
  leadMs: number;
  /** Minimum time between two attempts for one recipient (default 1 day). */
  retryMs: number;
}

export const DEFAULT_RENEWAL: RenewalConfig = { leadMs: 15 * DAY_MS, retryMs: DAY_MS };

export type RenewalReason = 'missing' | 'expiring' | 'revoked' | 'demand';

export interface RenewalInput {
  /** The certificate in use, if any. */
  cert?: { notAfter: number; revoked: boolean };
  lastAttemptAt?: number;
  lastOutcome?: FetchOutcome;
  /** A renewal requested by the practitioner or a service message (4005, 4015, 4025). */
  demandAt?: number;
}

export interface RenewalPlan {
  due: boolean;
  at: number;
  reason?: RenewalReason;
}

/**
 * When to fetch a recipient's certificate: at set-up (missing), about 15 days before expiry,
 * on revocation, and on demand. A demand newer than the last attempt is served at once;
 * otherwise attempts are at least `retryMs` apart, so that a directory without a newer
 * certificate yet is asked once a day, not at every page load.
 */
export function planRenewal(r: RenewalInput, now: number, c: RenewalConfig = DEFAULT_RENEWAL): RenewalPlan {
  if (r.demandAt !== undefined && (r.lastAttemptAt === undefined || r.demandAt > r.lastAttemptAt)) {
    return { due: true, at: now, reason: 'demand' };
  }
  const earliest = r.lastAttemptAt === undefined ? -Infinity : r.lastAttemptAt + c.retryMs;
  let reason: RenewalReason | undefined;
  let wanted: number;
  if (!r.cert) {
    reason = 'missing';
    wanted = -Infinity;
  } else if (r.cert.revoked) {
    reason = 'revoked';
    wanted = -Infinity;
  } else {
    wanted = r.cert.notAfter - c.leadMs;
    if (now >= wanted) reason = 'expiring';
  }
  const at = Math.max(wanted, earliest);
  if (reason === undefined) return { due: false, at };
  return at <= now ? { due: true, at: now, reason } : { due: false, at, reason };
}

/* ------------------------------------------------------------------------------------------ */
/* Warnings and states */

/**
 * docs/domain/transmission.md §1: an expired data-encryption certificate does not block, but warns at
 * least once per `periodMs` (default one day, configurable).
 */
export function expiredWarningDue(notAfter: number, lastWarnedAt: number | undefined, now: number, periodMs: number = DAY_MS): boolean {
  if (now < notAfter) return false;
  return lastWarnedAt === undefined || lastWarnedAt < notAfter || now - lastWarnedAt >= periodMs;
}

/** What a CRL is worth for revocation checking (§2–3). */
export type CrlFreshness = 'missing' | 'fresh' | 'stale' | 'not-yet-valid';

export const CRL_FRESHNESS_LABELS: Record<CrlFreshness, string> = {
  missing: 'absente',
  fresh: 'à jour',
  stale: 'périmée',
  'not-yet-valid': 'pas encore en vigueur',
};

/**
 * No CRL → certificates of that CA are invalid; a stale CRL (nextUpdate passed) is still used,
 * with a warning; a CRL whose thisUpdate is in the future (a clock problem) is used like a
 * stale one: better than none, and flagged.
 */
export function crlFreshness(crl: { thisUpdate: number; nextUpdate?: number } | undefined, now: number): CrlFreshness {
  if (!crl) return 'missing';
  if (crl.thisUpdate > now) return 'not-yet-valid';
  if (crl.nextUpdate !== undefined && now >= crl.nextUpdate) return 'stale';
  return 'fresh';
}

export type RecipientState = 'valid' | 'expiring' | 'expired' | 'revoked' | 'obsolete';

export const RECIPIENT_STATE_LABELS: Record<RecipientState, string> = {
  valid: 'valide',
  expiring: 'expire bientôt',
  expired: 'expiré',
  revoked: 'révoqué',
  obsolete: 'obsolète',
};

export interface RecipientStateInput {
  notAfter: number;
  revoked: boolean;
  /** The issuing CA, or the root it chains to, is no longer in the store. */
  caMissing: boolean;
  /** A more recent valid certificate of the same recipient exists. */
  superseded: boolean;
}

/** Order matters: revoked beats expired beats obsolete (the strongest reason is shown). */
export function recipientState(r: RecipientStateInput, now: number, leadMs: number = DEFAULT_RENEWAL.leadMs): RecipientState {
  if (r.revoked) return 'revoked';
  if (now >= r.notAfter) return 'expired';
  if (r.caMissing || r.superseded) return 'obsolete';
  if (r.notAfter - now <= leadMs) return 'expiring';
  return 'valid';
}
