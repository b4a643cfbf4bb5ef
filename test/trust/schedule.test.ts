/**
 * Schedules of the trust store as pure functions of an injected clock and random source:
 * Europe/Paris wall-clock conversions across DST, the weekly CRL slot spread over the
 * [02:00, 22:00) window, daily retries, exactly one catch-up after a long sleep, the CRL alert,
 * recipient certificate renewal, the daily warning for expired data-encryption certificates
 * and the state classifications.
 */
import { describe, expect, it } from 'vitest';
import {
  type CrlFetchState,
  type CrlScheduleConfig,
  DAY_MS,
  DEFAULT_CRL_SCHEDULE,
  type FetchOutcome,
  HOUR_MS,
  MINUTE_MS,
  crlAlert,
  crlFreshness,
  drawCrlSlot,
  expiredWarningDue,
  inCrlWindow,
  nominalCrlAttempt,
  planCrlFetch,
  planRenewal,
  recipientState,
} from '../../src/lib/trust/schedule.js';
import { addDays, atMinute, formatWall, instantOf, localDate, utcOffset, wallTime } from '../../src/lib/time/zoned-time.js';
import { mulberry32 } from '../support/prng.js';

const utc = (iso: string): number => Date.parse(iso);
const paris = (ms: number): string => formatWall(ms, 'Europe/Paris');

const seeded = mulberry32;

const cfg = (slot: number, over: Partial<CrlScheduleConfig> = {}): CrlScheduleConfig => ({ ...DEFAULT_CRL_SCHEDULE, slot, ...over });

describe('Europe/Paris wall clock without a tz library', () => {
  it('reads the wall clock on both sides of the spring change (last Sunday of March)', () => {
    // 2025-03-30: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
    expect(paris(utc('2025-03-30T00:59:00Z'))).toBe('2025-03-30 01:59');
    expect(paris(utc('2025-03-30T01:00:00Z'))).toBe('2025-03-30 03:00');
    expect(utcOffset(utc('2025-03-30T00:59:00Z'))).toBe(HOUR_MS);
    expect(utcOffset(utc('2025-03-30T01:00:00Z'))).toBe(2 * HOUR_MS);
  });

  it('reads the wall clock on both sides of the autumn change (last Sunday of October)', () => {
    // 2025-10-26: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:00–03:00 happens twice.
    expect(paris(utc('2025-10-26T00:30:00Z'))).toBe('2025-10-26 02:30');
    expect(paris(utc('2025-10-26T01:30:00Z'))).toBe('2025-10-26 02:30');
    expect(utcOffset(utc('2025-10-26T00:30:00Z'))).toBe(2 * HOUR_MS);
    expect(utcOffset(utc('2025-10-26T01:30:00Z'))).toBe(HOUR_MS);
  });

  it('maps a wall time to its instant: normal, gap (shifted forward), overlap (earlier)', () => {
    expect(instantOf({ year: 2025, month: 1, day: 15, hour: 10, minute: 0, second: 0 })).toBe(utc('2025-01-15T09:00:00Z'));
    expect(instantOf({ year: 2025, month: 7, day: 15, hour: 10, minute: 0, second: 0 })).toBe(utc('2025-07-15T08:00:00Z'));
    // 02:30 does not exist on 2025-03-30: it is read as 03:30 CEST.
    const gap = instantOf({ year: 2025, month: 3, day: 30, hour: 2, minute: 30, second: 0 });
    expect(gap).toBe(utc('2025-03-30T01:30:00Z'));
    expect(paris(gap)).toBe('2025-03-30 03:30');
    // 02:30 exists twice on 2025-10-26: the first one (CEST).
    expect(instantOf({ year: 2025, month: 10, day: 26, hour: 2, minute: 30, second: 0 })).toBe(utc('2025-10-26T00:30:00Z'));
    // Every minute of a normal day round-trips.
    for (let m = 0; m < 1440; m += 7) {
      const t = atMinute({ year: 2025, month: 6, day: 1 }, m);
      const w = wallTime(t);
      expect(w.hour * 60 + w.minute).toBe(m);
    }
  });

  it('takes the time zone as a parameter', () => {
    expect(formatWall(utc('2025-03-30T12:00:00Z'), 'America/Cayenne')).toBe('2025-03-30 09:00');
    expect(formatWall(utc('2025-03-30T12:00:00Z'), 'Indian/Reunion')).toBe('2025-03-30 16:00');
    expect(instantOf({ year: 2025, month: 3, day: 30, hour: 2, minute: 30, second: 0 }, 'UTC')).toBe(utc('2025-03-30T02:30:00Z'));
    expect(localDate(utc('2025-03-30T23:30:00Z'), 'Europe/Paris')).toEqual({ year: 2025, month: 3, day: 31 });
    expect(addDays({ year: 2024, month: 2, day: 28 }, 1)).toEqual({ year: 2024, month: 2, day: 29 });
    expect(addDays({ year: 2025, month: 12, day: 31 }, 1)).toEqual({ year: 2026, month: 1, day: 1 });
  });
});

describe('per-installation CRL slot', () => {
  it('is a whole minute in [02:00, 22:00), the bounds included and excluded as they should', () => {
    expect(drawCrlSlot(() => 0)).toBe(120);
    expect(drawCrlSlot(() => 0.9999999)).toBe(22 * 60 - 1);
    expect(() => drawCrlSlot(() => 1)).toThrow(RangeError);
  });

  it('spreads installations over more than 8 hours, evenly', () => {
    const random = seeded(42);
    const slots = Array.from({ length: 20_000 }, () => drawCrlSlot(random));
    expect(Math.min(...slots)).toBeGreaterThanOrEqual(120);
    expect(Math.max(...slots)).toBeLessThan(1320);
    expect(Math.max(...slots) - Math.min(...slots)).toBeGreaterThanOrEqual(8 * 60);
    // Ten 2-hour buckets of the 20-hour window: each close to 10 %.
    const buckets = new Array<number>(10).fill(0);
    for (const s of slots) buckets[Math.floor((s - 120) / 120)]!++;
    for (const b of buckets) expect(b / slots.length).toBeGreaterThan(0.08);
    // Two installations rarely share a slot: ≥ 1000 distinct minutes used.
    expect(new Set(slots).size).toBeGreaterThan(1000);
  });

  it('refuses windows that start before 02:00, end after 22:00 or span less than 8 hours', () => {
    expect(() => drawCrlSlot(Math.random, 60, 1320)).toThrow(/02:00/);
    expect(() => drawCrlSlot(Math.random, 120, 1380)).toThrow(/22:00/);
    expect(() => drawCrlSlot(Math.random, 600, 1000)).toThrow(/8 heures/);
    expect(drawCrlSlot(() => 0.5, 600, 1080)).toBe(840);
  });
});

describe('weekly CRL schedule', () => {
  const slot = 10 * 60 + 15; // 10:15

  it('keeps the wall-clock slot across the spring change (7 days = 167 hours)', () => {
    const success = atMinute({ year: 2025, month: 3, day: 27 }, slot);
    const next = nominalCrlAttempt({ lastAttemptAt: success, lastOutcome: 'success', lastSuccessAt: success }, cfg(slot));
    expect(paris(next)).toBe('2025-04-03 10:15');
    expect(next - success).toBe(7 * DAY_MS - HOUR_MS);
  });

  it('keeps the wall-clock slot across the autumn change (7 days = 169 hours)', () => {
    const success = atMinute({ year: 2025, month: 10, day: 23 }, slot);
    const next = nominalCrlAttempt({ lastAttemptAt: success, lastOutcome: 'success', lastSuccessAt: success }, cfg(slot));
    expect(paris(next)).toBe('2025-10-30 10:15');
    expect(next - success).toBe(7 * DAY_MS + HOUR_MS);
  });

  it('retries the next day at the slot after a failure or an unchanged CRL, across DST too', () => {
    const attempt = atMinute({ year: 2025, month: 3, day: 29 }, slot);
    for (const outcome of ['failed', 'unchanged'] as const) {
      const next = nominalCrlAttempt({ lastAttemptAt: attempt, lastOutcome: outcome, lastSuccessAt: attempt - 3 * DAY_MS }, cfg(slot));
      expect(paris(next)).toBe('2025-03-30 10:15');
      expect(next - attempt).toBe(23 * HOUR_MS);
    }
  });

  it('a slot inside the spring gap (02:30) runs at 03:30 that day; in the autumn overlap, at the first 02:30', () => {
    const c = cfg(150);
    const spring = nominalCrlAttempt({ lastAttemptAt: atMinute({ year: 2025, month: 3, day: 29 }, 150), lastOutcome: 'failed' }, c);
    expect(paris(spring)).toBe('2025-03-30 03:30');
    const autumn = nominalCrlAttempt({ lastAttemptAt: atMinute({ year: 2025, month: 10, day: 25 }, 150), lastOutcome: 'failed' }, c);
    expect(autumn).toBe(utc('2025-10-26T00:30:00Z'));
  });

  it('fetches before the held CRL expires when it lives less than a week', () => {
    // CRL published at 00:00 with a 7-day life, fetched at the 14:00 slot: the next download
    // is the last slot before nextUpdate (day 6, 14:00), not day 7 at 14:00 (stale for 14 h).
    const thisUpdate = atMinute({ year: 2025, month: 5, day: 5 }, 0);
    const fetched = atMinute({ year: 2025, month: 5, day: 5 }, 14 * 60);
    const next = nominalCrlAttempt({ lastAttemptAt: fetched, lastOutcome: 'success', lastSuccessAt: fetched, nextUpdate: thisUpdate + 7 * DAY_MS }, cfg(14 * 60));
    expect(paris(next)).toBe('2025-05-11 14:00');
    // A CRL that lives a few hours only: the next day's slot.
    const short = nominalCrlAttempt({ lastAttemptAt: fetched, lastOutcome: 'success', lastSuccessAt: fetched, nextUpdate: fetched + 3 * HOUR_MS }, cfg(14 * 60));
    expect(paris(short)).toBe('2025-05-06 14:00');
  });

  it('first set-up is due at once inside the window, at 02:00 outside it', () => {
    const c = cfg(slot);
    const noon = atMinute({ year: 2025, month: 5, day: 5 }, 12 * 60);
    expect(planCrlFetch({}, noon, c)).toMatchObject({ due: true, at: noon });
    const night = atMinute({ year: 2025, month: 5, day: 5 }, 23 * 60);
    const p = planCrlFetch({}, night, c);
    expect(p.due).toBe(false);
    expect(paris(p.at)).toBe('2025-05-06 02:00');
    expect(inCrlWindow(atMinute({ year: 2025, month: 5, day: 5 }, 119), c)).toBe(false);
    expect(inCrlWindow(atMinute({ year: 2025, month: 5, day: 5 }, 120), c)).toBe(true);
    expect(inCrlWindow(atMinute({ year: 2025, month: 5, day: 5 }, 1319), c)).toBe(true);
    expect(inCrlWindow(atMinute({ year: 2025, month: 5, day: 5 }, 1320), c)).toBe(false);
  });

  it('a manual request is served at once at 23:00 and at 01:30; the automatic schedule waits for 02:00', () => {
    const c = cfg(slot);
    const overdue: CrlFetchState = { lastAttemptAt: atMinute({ year: 2025, month: 5, day: 4 }, slot), lastOutcome: 'failed' };
    for (const [at, opens] of [
      [atMinute({ year: 2025, month: 5, day: 5 }, 23 * 60), '2025-05-06 02:00'],
      [atMinute({ year: 2025, month: 5, day: 6 }, 90), '2025-05-06 02:00'],
    ] as const) {
      for (const state of [{}, overdue]) {
        expect(planCrlFetch(state, at, c, 'manual'), paris(at)).toMatchObject({ due: true, at });
        const auto = planCrlFetch(state, at, c, 'scheduled');
        expect(auto.due, paris(at)).toBe(false);
        expect(paris(auto.at)).toBe(opens);
        expect(planCrlFetch(state, at, c)).toEqual(auto); // the default is the automatic schedule
      }
    }
    // Manual does not mean "every source": one not yet due stays not due (force is the service's).
    const fresh: CrlFetchState = { lastAttemptAt: atMinute({ year: 2025, month: 5, day: 5 }, 12 * 60), lastOutcome: 'success' };
    expect(planCrlFetch(fresh, atMinute({ year: 2025, month: 5, day: 5 }, 23 * 60), c, 'manual').due).toBe(false);
  });
});

/**
 * A device that wakes at the given instants (its timers fire every `step` while awake) and
 * runs the schedule: the attempts it makes and their outcomes.
 */
function simulate(opts: {
  config: CrlScheduleConfig;
  start: CrlFetchState;
  awake: (t: number) => boolean;
  from: number;
  to: number;
  step?: number;
  outcome: (t: number) => FetchOutcome;
}): number[] {
  const attempts: number[] = [];
  let state = { ...opts.start };
  for (let t = opts.from; t < opts.to; t += opts.step ?? 5 * MINUTE_MS) {
    if (!opts.awake(t)) continue;
    if (!planCrlFetch(state, t, opts.config).due) continue;
    attempts.push(t);
    const outcome = opts.outcome(t);
    state = { ...state, lastAttemptAt: t, lastOutcome: outcome, ...(outcome === 'success' ? { lastSuccessAt: t } : {}) };
  }
  return attempts;
}

describe('long sleeps and retries', () => {
  const slot = 9 * 60 + 40;
  const c = cfg(slot);
  const day0 = atMinute({ year: 2025, month: 3, day: 3 }, slot);

  it('a laptop waking after 3 weeks makes exactly one catch-up attempt, then resumes weekly', () => {
    const wake = day0 + 21 * DAY_MS + 3 * HOUR_MS + 15 * MINUTE_MS; // 3 weeks later, 12:55
    const attempts = simulate({
      config: c,
      start: { lastAttemptAt: day0, lastOutcome: 'success', lastSuccessAt: day0 },
      awake: (t) => t >= wake,
      from: day0,
      to: wake + 10 * DAY_MS,
      outcome: () => 'success',
    });
    expect(attempts.length).toBe(2);
    expect(attempts[0]).toBe(wake);
    // The next one is a week after the catch-up, at the slot (and across the DST change of 2025-03-30).
    expect(paris(attempts[1]!)).toBe('2025-03-31 09:40');
  });

  it('waking outside the window waits for 02:00, still one attempt', () => {
    const wake = atMinute({ year: 2025, month: 3, day: 24 }, 23 * 60 + 30);
    const attempts = simulate({
      config: c,
      start: { lastAttemptAt: day0, lastOutcome: 'success', lastSuccessAt: day0 },
      awake: (t) => t >= wake,
      from: day0,
      to: wake + 12 * HOUR_MS,
      outcome: () => 'success',
    });
    expect(attempts.map(paris)).toEqual(['2025-03-25 02:00']);
  });

  it('after a failing catch-up: one attempt a day at the slot, never a burst', () => {
    const wake = day0 + 21 * DAY_MS + 2 * HOUR_MS;
    const attempts = simulate({
      config: c,
      start: { lastAttemptAt: day0, lastOutcome: 'success', lastSuccessAt: day0 },
      awake: (t) => t >= wake,
      from: day0,
      to: wake + 4 * DAY_MS,
      step: MINUTE_MS,
      outcome: () => 'failed',
    });
    expect(attempts.length).toBe(5);
    expect(attempts.slice(1).map(paris)).toEqual(['2025-03-25 09:40', '2025-03-26 09:40', '2025-03-27 09:40', '2025-03-28 09:40']);
    for (let i = 1; i < attempts.length; i++) expect(attempts[i]! - attempts[i - 1]!).toBeGreaterThanOrEqual(20 * HOUR_MS);
  });

  it('an office machine (on 08:00–18:00, slot at 20:30) still fetches once a week, the morning after', () => {
    const c2 = cfg(20 * 60 + 30);
    const start = atMinute({ year: 2025, month: 10, day: 6 }, 20 * 60 + 30);
    const office = (t: number): boolean => {
      const w = wallTime(t);
      return w.hour >= 8 && w.hour < 18;
    };
    const attempts = simulate({
      config: c2,
      start: { lastAttemptAt: start, lastOutcome: 'success', lastSuccessAt: start },
      awake: office,
      from: start,
      to: start + 35 * DAY_MS,
      outcome: () => 'success',
    });
    // Each at 08:00 (the first awake instant after the missed slot), then every 7 days, not
    // drifting to 8, including across the 2025-10-26 change.
    expect(attempts.map(paris)).toEqual(['2025-10-14 08:00', '2025-10-21 08:00', '2025-10-28 08:00', '2025-11-04 08:00']);
  });

  it('runs across the spring-forward night with a 02:30 slot: exactly one attempt, at 03:30', () => {
    const c3 = cfg(150);
    const last = atMinute({ year: 2025, month: 3, day: 29 }, 150);
    const attempts = simulate({
      config: c3,
      start: { lastAttemptAt: last, lastOutcome: 'unchanged', lastSuccessAt: last - DAY_MS },
      awake: () => true,
      from: last + MINUTE_MS,
      to: last + 30 * HOUR_MS,
      step: MINUTE_MS,
      outcome: () => 'success',
    });
    expect(attempts.map(paris)).toEqual(['2025-03-30 03:30']);
  });

  it('runs across the fall-back night with a 02:30 slot: one attempt, not two', () => {
    const c3 = cfg(150);
    const last = atMinute({ year: 2025, month: 10, day: 25 }, 150);
    const attempts = simulate({
      config: c3,
      start: { lastAttemptAt: last, lastOutcome: 'failed', lastSuccessAt: last - 3 * DAY_MS },
      awake: () => true,
      from: last + MINUTE_MS,
      to: last + 30 * HOUR_MS,
      step: MINUTE_MS,
      outcome: () => 'success',
    });
    expect(attempts).toEqual([utc('2025-10-26T00:30:00Z')]);
  });
});

describe('alert before the CRL expires', () => {
  const nextUpdate = utc('2025-06-10T00:00:00Z');
  const lead = { alertLeadMs: 48 * HOUR_MS };

  it('alerts when the CRL expires within 48 h and the last attempt failed or brought the same CRL', () => {
    expect(crlAlert({ nextUpdate, lastOutcome: 'failed' }, nextUpdate - 47 * HOUR_MS, lead)).toBe('crl_expiring');
    expect(crlAlert({ nextUpdate, lastOutcome: 'unchanged' }, nextUpdate - HOUR_MS, lead)).toBe('crl_expiring');
    expect(crlAlert({ nextUpdate, lastOutcome: 'failed' }, nextUpdate - 49 * HOUR_MS, lead)).toBeUndefined();
    expect(crlAlert({ nextUpdate, lastOutcome: 'success' }, nextUpdate - HOUR_MS, lead)).toBeUndefined();
    expect(crlAlert({ nextUpdate }, nextUpdate - HOUR_MS, lead)).toBeUndefined();
  });

  it('says so once the CRL has expired (it is still used)', () => {
    expect(crlAlert({ nextUpdate, lastOutcome: 'success' }, nextUpdate, lead)).toBe('crl_expired');
    expect(crlAlert({}, nextUpdate, lead)).toBeUndefined();
  });
});

describe('recipient certificate renewal', () => {
  const now = utc('2025-06-01T10:00:00Z');

  it('is due about 15 days before expiry, not before', () => {
    expect(planRenewal({ cert: { notAfter: now + 20 * DAY_MS, revoked: false } }, now)).toEqual({ due: false, at: now + 5 * DAY_MS });
    expect(planRenewal({ cert: { notAfter: now + 14 * DAY_MS, revoked: false } }, now)).toEqual({ due: true, at: now, reason: 'expiring' });
  });

  it('is due at once when missing or revoked, and on demand', () => {
    expect(planRenewal({}, now)).toEqual({ due: true, at: now, reason: 'missing' });
    expect(planRenewal({ cert: { notAfter: now + 300 * DAY_MS, revoked: true } }, now)).toEqual({ due: true, at: now, reason: 'revoked' });
    expect(planRenewal({ cert: { notAfter: now + 300 * DAY_MS, revoked: false }, lastAttemptAt: now - HOUR_MS, demandAt: now - MINUTE_MS }, now)).toEqual({ due: true, at: now, reason: 'demand' });
    // A demand already served by a later attempt is not repeated.
    expect(planRenewal({ cert: { notAfter: now + 300 * DAY_MS, revoked: false }, lastAttemptAt: now - MINUTE_MS, demandAt: now - HOUR_MS }, now).due).toBe(false);
  });

  it('asks the directory at most once a day while no newer certificate is published', () => {
    const cert = { notAfter: now + 10 * DAY_MS, revoked: false };
    expect(planRenewal({ cert, lastAttemptAt: now - 2 * HOUR_MS, lastOutcome: 'unchanged' }, now)).toEqual({ due: false, at: now + 22 * HOUR_MS, reason: 'expiring' });
    expect(planRenewal({ cert, lastAttemptAt: now - DAY_MS, lastOutcome: 'unchanged' }, now).due).toBe(true);
  });
});

describe('expired data-encryption certificate warning', () => {
  const notAfter = utc('2025-06-01T00:00:00Z');

  it('warns at least once a day, configurable', () => {
    expect(expiredWarningDue(notAfter, undefined, notAfter - 1)).toBe(false);
    expect(expiredWarningDue(notAfter, undefined, notAfter)).toBe(true);
    expect(expiredWarningDue(notAfter, notAfter + HOUR_MS, notAfter + 3 * HOUR_MS)).toBe(false);
    expect(expiredWarningDue(notAfter, notAfter + HOUR_MS, notAfter + 25 * HOUR_MS)).toBe(true);
    expect(expiredWarningDue(notAfter, notAfter + HOUR_MS, notAfter + 13 * HOUR_MS, 12 * HOUR_MS)).toBe(true);
    // A warning shown before it expired (another alert) does not count.
    expect(expiredWarningDue(notAfter, notAfter - HOUR_MS, notAfter + HOUR_MS)).toBe(true);
  });
});

describe('state classification', () => {
  const now = utc('2025-06-01T10:00:00Z');

  it('no CRL → missing (invalid), stale CRL → stale (used with a warning)', () => {
    expect(crlFreshness(undefined, now)).toBe('missing');
    expect(crlFreshness({ thisUpdate: now - DAY_MS, nextUpdate: now + DAY_MS }, now)).toBe('fresh');
    expect(crlFreshness({ thisUpdate: now - 8 * DAY_MS, nextUpdate: now - DAY_MS }, now)).toBe('stale');
    expect(crlFreshness({ thisUpdate: now + DAY_MS, nextUpdate: now + 8 * DAY_MS }, now)).toBe('not-yet-valid');
  });

  it('valide, expire bientôt, expiré, révoqué, obsolète', () => {
    const base = { revoked: false, caMissing: false, superseded: false };
    expect(recipientState({ ...base, notAfter: now + 100 * DAY_MS }, now)).toBe('valid');
    expect(recipientState({ ...base, notAfter: now + 10 * DAY_MS }, now)).toBe('expiring');
    expect(recipientState({ ...base, notAfter: now }, now)).toBe('expired');
    expect(recipientState({ ...base, notAfter: now - DAY_MS, revoked: true }, now)).toBe('revoked');
    expect(recipientState({ ...base, notAfter: now + 100 * DAY_MS, caMissing: true }, now)).toBe('obsolete');
    expect(recipientState({ ...base, notAfter: now + 100 * DAY_MS, superseded: true }, now)).toBe('obsolete');
  });
});
