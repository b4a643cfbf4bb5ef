/**
 * Paris by its rule (src/lib/time/zoned-time.ts) against the runtime's tz database: the same
 * wall clock at every hour, and around every transition, from 1996 to 2037; and the rule is
 * turned off for good when the database says otherwise.
 */
import { describe, expect, it } from 'vitest';
import { checkZoneRules, instantOf, wallTime, type WallTime } from '../../src/lib/time/zoned-time.js';

const intl = new Intl.DateTimeFormat('en-US', { timeZone: 'Europe/Paris', hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
function byIntl(ms: number): WallTime {
  const parts = intl.formatToParts(new Date(ms));
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour') % 24, minute: get('minute'), second: get('second') };
}
const HOUR = 3_600_000;

describe('Europe/Paris by the EU rule', () => {
  it('reads the wall clock as the tz database does, every hour 1996–2037 and each second around the changes', () => {
    const bad: string[] = [];
    for (let t = Date.UTC(1996, 0, 1); t < Date.UTC(2038, 0, 1); t += HOUR) {
      if (JSON.stringify(wallTime(t + 1234)) !== JSON.stringify(byIntl(t + 1234))) bad.push(new Date(t).toISOString());
    }
    for (let y = 1996; y < 2038; y++) {
      for (const m of [2, 9]) {
        const last = new Date(Date.UTC(y, m + 1, 0, 1));
        const change = last.getTime() - last.getUTCDay() * 24 * HOUR;
        for (const d of [-HOUR, -1000, -1, 0, 1, 999, 1000, HOUR]) {
          if (JSON.stringify(wallTime(change + d)) !== JSON.stringify(byIntl(change + d))) bad.push(new Date(change + d).toISOString());
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('gives the same instants for wall times, gaps and overlaps included', () => {
    expect(new Date(instantOf({ year: 2025, month: 3, day: 30, hour: 2, minute: 30, second: 0 })).toISOString()).toBe('2025-03-30T01:30:00.000Z');
    expect(new Date(instantOf({ year: 2025, month: 10, day: 26, hour: 2, minute: 30, second: 0 })).toISOString()).toBe('2025-10-26T00:30:00.000Z');
    expect(new Date(instantOf({ year: 2026, month: 12, day: 6, hour: 10, minute: 0, second: 0 })).toISOString()).toBe('2026-12-06T09:00:00.000Z');
  });

  it('holds against this runtime; a database that disagrees turns it off for good, and Intl decides', () => {
    expect(checkZoneRules(Date.UTC(2026, 11, 6))).toBe(true);
    // A database where summer time was abolished: the rule gives way.
    const noSummer = (ms: number): WallTime => {
      const d = new Date(ms + HOUR);
      return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() };
    };
    expect(checkZoneRules(Date.UTC(2026, 11, 6), noSummer)).toBe(false);
    expect(checkZoneRules(Date.UTC(2026, 11, 6))).toBe(false);
    // Intl now: still the same answers (this runtime's database has summer time).
    expect(wallTime(Date.UTC(2026, 6, 1, 12))).toEqual(byIntl(Date.UTC(2026, 6, 1, 12)));
  });
});
