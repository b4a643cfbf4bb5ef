/**
 * Wall-clock time in a named time zone without a time-zone library.
 *
 * The schedules of the trust store are stated in French local time ("no earlier than 02:00",
 * docs/domain/transmission.md §6), whatever the clock of the device says: a laptop set to UTC must still
 * fetch CRLs between 02:00 and 22:00 Paris time; SESAM-Vitale stamps (sesam/time.ts) are local
 * French time too. The zone is a parameter (default
 * Europe/Paris) so that overseas practitioners (America/Cayenne, Indian/Reunion…) can set theirs.
 *
 * How: `Intl.DateTimeFormat` with `timeZone` gives the wall clock of an instant (ICU carries
 * the tz database in browsers and in Node ≥ 13). The reverse, wall clock → instant, tries the
 * UTC offsets in force 12 h before and 12 h after and keeps those that round-trip:
 *   - two candidates (autumn overlap, 02:00–03:00 happens twice): the earlier one;
 *   - none (spring gap, 02:00–03:00 does not exist): the time is shifted forward by the gap
 *     (02:30 → 03:30), as RFC 5545 and Temporal's "compatible" disambiguation do.
 * Pure functions; only `Intl` is used, which exists in both runtimes.
 *
 * Europe/Paris, the zone of nearly every practice, is also computed by its rule (the EU's
 * summer time since 1996: from the last Sunday of March to the last Sunday of October, at
 * 01:00 UTC): the first `Intl` call of a page initialises ICU, about 50 ms of main thread at
 * start-up that a practitioner feels on a slow tablet. `checkZoneRules()`, run once the page
 * is idle, compares the rule with the runtime's tz database around now and, should they ever
 * differ (a change of the EU's rule), turns the rule off for good: `Intl` decides.
 */

export const DEFAULT_TIME_ZONE = 'Europe/Paris';

/** A calendar date and a time of day, as read on a wall clock. `month` is 1–12. */
export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** A calendar date (no time). */
export interface LocalDate {
  year: number;
  month: number;
  day: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // Throws RangeError on an unknown zone: a bad setting must fail loudly, not fall back to UTC.
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is a zone this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  if (timeZone === PARIS && parisRule) return true;
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

const PARIS = 'Europe/Paris';
/** The EU rule holds for Paris since 1996; off once `checkZoneRules` finds the runtime disagrees. */
let parisRule = true;
const RULE_FROM = Date.UTC(1996, 0, 1);

/** 01:00 UTC on the last Sunday of `month` (0-based) of `year`. */
function lastSundayAt1Utc(year: number, month: number): number {
  const last = new Date(Date.UTC(year, month + 1, 0, 1));
  return last.getTime() - last.getUTCDay() * 24 * HOUR;
}

/** Paris's offset from UTC at `ms` by the EU rule (+1 h, +2 h in summer time). */
function parisOffsetByRule(ms: number): number {
  const year = new Date(ms).getUTCFullYear();
  const summer = ms >= lastSundayAt1Utc(year, 2) && ms < lastSundayAt1Utc(year, 9);
  return (summer ? 2 : 1) * HOUR;
}

function wallOfUtc(ms: number): WallTime {
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

/**
 * Compares the Paris rule with the runtime's tz database at every transition from a year ago
 * to two years ahead of `now`, an hour either side: any difference turns the rule off.
 * Answers whether the rule still holds. Costs the first `Intl` call: run it when idle.
 */
export function checkZoneRules(now: number = Date.now(), reference: (ms: number) => WallTime = (ms) => wallTimeIntl(ms, PARIS)): boolean {
  if (!parisRule) return false;
  const year = new Date(now).getUTCFullYear();
  const instants: number[] = [now];
  for (let y = year - 1; y <= year + 2; y++) {
    for (const t of [lastSundayAt1Utc(y, 2), lastSundayAt1Utc(y, 9)]) instants.push(t - HOUR, t - 1000, t, t + HOUR);
  }
  for (const t of instants) {
    const whole = Math.floor(t / 1000) * 1000;
    if (wallAsUtc(reference(whole)) - whole !== parisOffsetByRule(whole)) {
      parisRule = false;
      return false;
    }
  }
  return true;
}

/** The wall clock in `timeZone` at instant `ms` (milliseconds since the epoch). */
export function wallTime(ms: number, timeZone: string = DEFAULT_TIME_ZONE): WallTime {
  if (timeZone === PARIS && parisRule && ms >= RULE_FROM) return wallOfUtc(ms + parisOffsetByRule(ms));
  return wallTimeIntl(ms, timeZone);
}

function wallTimeIntl(ms: number, timeZone: string): WallTime {
  const parts = formatter(timeZone).formatToParts(new Date(ms));
  const get = (type: Intl.DateTimeFormatPartTypes): number => {
    const p = parts.find((x) => x.type === type);
    return p ? Number(p.value) : 0;
  };
  return {
    year: get('year'),
    month: get('month'),
    day: get('day'),
    // Some ICU versions print midnight as 24 even with h23.
    hour: get('hour') % 24,
    minute: get('minute'),
    second: get('second'),
  };
}

/** A wall time read as if it were UTC, in milliseconds (a "local epoch"). */
function wallAsUtc(w: WallTime): number {
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
}

/** Offset of `timeZone` from UTC at instant `ms`, in milliseconds (Paris: +1 h or +2 h). */
export function utcOffset(ms: number, timeZone: string = DEFAULT_TIME_ZONE): number {
  const whole = Math.floor(ms / 1000) * 1000;
  return wallAsUtc(wallTime(whole, timeZone)) - whole;
}

/**
 * The instant at which the wall clock of `timeZone` shows `w`. Gaps are shifted forward by
 * their length, overlaps resolve to the earlier instant (see the module comment).
 */
export function instantOf(w: WallTime, timeZone: string = DEFAULT_TIME_ZONE): number {
  const local = wallAsUtc(w);
  const before = utcOffset(local - 12 * HOUR, timeZone);
  const after = utcOffset(local + 12 * HOUR, timeZone);
  const candidates: number[] = [];
  for (const off of before === after ? [before] : [before, after]) {
    const t = local - off;
    if (utcOffset(t, timeZone) === off) candidates.push(t);
  }
  if (candidates.length > 0) return Math.min(...candidates);
  // Spring gap: read the wall time with the offset in force before the change.
  return local - before;
}

/** The calendar date in `timeZone` at instant `ms`. */
export function localDate(ms: number, timeZone: string = DEFAULT_TIME_ZONE): LocalDate {
  const w = wallTime(ms, timeZone);
  return { year: w.year, month: w.month, day: w.day };
}

/** `d` plus `days` calendar days (negative allowed). */
export function addDays(d: LocalDate, days: number): LocalDate {
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day + days));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

/** Minutes since local midnight (as the wall clock shows it) at instant `ms`. */
export function minuteOfDay(ms: number, timeZone: string = DEFAULT_TIME_ZONE): number {
  const w = wallTime(ms, timeZone);
  return w.hour * 60 + w.minute;
}

/** The instant at which the wall clock of `timeZone` shows `minute` (0–1439) on date `d`. */
export function atMinute(d: LocalDate, minute: number, timeZone: string = DEFAULT_TIME_ZONE): number {
  return instantOf(
    { year: d.year, month: d.month, day: d.day, hour: Math.floor(minute / 60), minute: minute % 60, second: 0 },
    timeZone,
  );
}

/** "2025-03-30 03:30" in `timeZone`, for logs and tests. */
export function formatWall(ms: number, timeZone: string = DEFAULT_TIME_ZONE): string {
  const w = wallTime(ms, timeZone);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${w.year}-${p(w.month)}-${p(w.day)} ${p(w.hour)}:${p(w.minute)}`;
}

// Where no page is starting (Node: the relay, the CLI; a service worker), the check costs
// nothing a user feels: it runs at once. Pages run it when idle (src/routes/+layout.svelte).
if (typeof document === 'undefined') checkZoneRules();
