/**
 * Deadlines in working days (src/lib/sesam/deadline.ts, docs/domain/workflow.md §3): Easter
 * and the holidays that follow it, Alsace-Moselle's two more days, the 3 / 8 working days of
 * R161-47 across weekends, bridges and the new year, the ARL's 2 days and the retransmission's 2.
 */
import { describe, expect, it } from 'vitest';
import { addWorkingDays, arlDueDate, easterSunday, isWorkingDay, publicHolidays, retransmissionDeadline, transmissionDeadline, workingDaysBetween } from '../../src/lib/sesam/deadline.js';
import { SesamFieldError } from '../../src/lib/sesam/errors.js';
import { mulberry32 } from '../support/prng.js';

describe('holidays', () => {
  it.each([
    [1818, '1818-03-22'], // the earliest possible
    [1943, '1943-04-25'], // the latest possible
    [2000, '2000-04-23'],
    [2019, '2019-04-21'],
    [2024, '2024-03-31'],
    [2025, '2025-04-20'],
    [2026, '2026-04-05'],
    [2027, '2027-03-28'],
    [2038, '2038-04-25'],
  ])('Easter %i is %s', (year, date) => expect(easterSunday(year)).toBe(date));

  it('2025 in general and in Alsace-Moselle', () => {
    const general = ['2025-01-01', '2025-04-21', '2025-05-01', '2025-05-08', '2025-05-29', '2025-06-09', '2025-07-14', '2025-08-15', '2025-11-01', '2025-11-11', '2025-12-25'];
    expect(publicHolidays(2025)).toEqual(general);
    expect(publicHolidays(2025, 'alsace_moselle')).toEqual([...general, '2025-04-18', '2025-12-26'].sort());
    expect(isWorkingDay('2025-04-18')).toBe(true);
    expect(isWorkingDay('2025-04-18', 'alsace_moselle')).toBe(false);
    expect(isWorkingDay('2025-05-03')).toBe(false); // a Saturday
    expect(isWorkingDay('2025-05-02')).toBe(true); // the Friday of a bridge is worked
  });
});

describe('R161-47 deadlines', () => {
  it.each<[string, boolean, 'general' | 'alsace_moselle', string, string]>([
    ['2025-03-10', false, 'general', '2025-03-13', 'a Monday: Thursday'],
    ['2025-03-14', false, 'general', '2025-03-19', 'a Friday: over the weekend'],
    ['2025-03-15', false, 'general', '2025-03-19', 'a Saturday: the same as Friday'],
    ['2025-05-01', false, 'general', '2025-05-06', 'on 1 May itself'],
    ['2025-05-02', true, 'general', '2025-05-15', '8 days with third-party payment, 8 May skipped'],
    ['2025-04-17', false, 'general', '2025-04-23', 'Easter Monday skipped'],
    ['2025-04-17', false, 'alsace_moselle', '2025-04-24', 'Good Friday too in Alsace-Moselle'],
    ['2025-12-24', false, 'general', '2025-12-30', 'Christmas'],
    ['2025-12-24', false, 'alsace_moselle', '2025-12-31', 'and 26 December in Alsace-Moselle'],
    ['2025-12-29', true, 'general', '2026-01-09', 'across the new year'],
  ])('care on %s, third-party payment %s (%s): %s — %s', (care, tp, region, deadline) => {
    expect(transmissionDeadline(care, tp, region)).toBe(deadline);
  });

  it('the ARL is due 2 working days after the transmission; retransmission within 2 more', () => {
    expect(arlDueDate('2025-05-07')).toBe('2025-05-12'); // Thursday 8 May, then the weekend
    expect(retransmissionDeadline({ sentDate: '2025-05-07' })).toBe('2025-05-14');
    expect(retransmissionDeadline({ negativeArlDate: '2025-05-09' })).toBe('2025-05-13');
  });

  it('properties: the deadline is a working day, exactly n working days after, on 500 seeded dates', () => {
    const rnd = mulberry32(13);
    for (let i = 0; i < 500; i++) {
      const start = new Date(Date.UTC(2024, 0, 1) + Math.floor(rnd() * 1100) * 86_400_000).toISOString().slice(0, 10);
      const n = Math.floor(rnd() * 12);
      const region = rnd() < 0.5 ? 'general' : 'alsace_moselle';
      const end = addWorkingDays(start, n, region);
      expect(workingDaysBetween(start, end, region)).toBe(n);
      expect(workingDaysBetween(end, start, region)).toBe(n === 0 ? 0 : -n);
      if (n > 0) expect(isWorkingDay(end, region)).toBe(true);
      else expect(end).toBe(start);
    }
  });

  it('refuses what is not a calendar day, with a typed error', () => {
    for (const bad of ['2025-02-29', '2025-13-01', '25-03-10', '2025-03-10T00:00', '', '1899-12-31']) {
      expect(() => transmissionDeadline(bad, false)).toThrow(SesamFieldError);
    }
    expect(() => addWorkingDays('2025-03-10', -1)).toThrow(SesamFieldError);
    expect(() => addWorkingDays('2025-03-10', 1.5)).toThrow(SesamFieldError);
    expect(() => isWorkingDay('2025-03-10', 'corse' as never)).toThrow(SesamFieldError);
  });
});
