/**
 * Deadlines in working days (src/lib/sesam/deadline.ts, docs/domain/workflow.md §3): Easter
 * and the holidays that follow it, Alsace-Moselle's two more days, the 3 / 8 working days of
 * R161-47 across weekends, bridges and the new year, the ARL's 2 days and the retransmission's 2.
 */
import Holidays from 'date-holidays';
import { describe, expect, it } from 'vitest';
import { HOLIDAY_REGIONS, addWorkingDays, arlDueDate, easterSunday, isWorkingDay, publicHolidays, retransmissionDeadline, retransmitBy, transmissionDeadline, workingDaysBetween, type HolidayRegion } from '../../src/lib/sesam/deadline.js';
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

  // The rules written in deadline.ts against a maintained library's (date-holidays, its
  // « public » days for France and each subdivision), every year of 2000–2100.
  it.each(HOLIDAY_REGIONS.map((r) => [r]))('%s: the same public holidays as date-holidays, 2000–2100', (region) => {
    const subdivisions = region === 'general' ? [undefined] : region === 'alsace_moselle' ? ['57', '67', '68'] : [region];
    for (const sub of subdivisions) {
      const library = sub === undefined ? new Holidays('FR') : new Holidays('FR', sub);
      for (let year = 2000; year <= 2100; year++) {
        const theirs = [...new Set(library.getHolidays(year).filter((h) => h.type === 'public').map((h) => h.date.slice(0, 10)))].sort();
        expect(publicHolidays(year, region), `${region} (${sub ?? 'FR'}) ${year}`).toEqual(theirs);
      }
    }
  });

  it('overseas: each its day of the abolition of slavery, and Good Friday in Martinique and Guadeloupe', () => {
    expect(isWorkingDay('2025-12-19', 'RE')).toBe(true);
    expect(isWorkingDay('2026-12-21', 'RE')).toBe(true);
    expect(isWorkingDay('2024-12-20', 'RE')).toBe(false); // a Friday, the 20th
    expect(isWorkingDay('2024-12-20')).toBe(true);
    expect(isWorkingDay('2025-05-22', 'MQ')).toBe(false);
    expect(isWorkingDay('2025-05-27', 'GP')).toBe(false);
    expect(isWorkingDay('2025-06-10', 'GF')).toBe(false);
    expect(isWorkingDay('2025-04-18', 'MQ')).toBe(false);
    expect(isWorkingDay('2025-04-18', 'GF')).toBe(true);
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
    expect(retransmitBy({ sentDate: '2025-05-07' })).toBe('2025-05-14');
    expect(retransmitBy({ negativeArlDate: '2025-05-09' })).toBe('2025-05-13');
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
    expect(() => isWorkingDay('2025-03-10', 'toString' as never)).toThrow(SesamFieldError);
    for (const bad of ['2025-02-29', '2025-13-01', '25-03-10', '2025-03-10T00:00', '', '1899-12-31']) {
      expect(() => transmissionDeadline(bad, false)).toThrow(SesamFieldError);
    }
    expect(() => addWorkingDays('2025-03-10', -1)).toThrow(SesamFieldError);
    expect(() => addWorkingDays('2025-03-10', 1.5)).toThrow(SesamFieldError);
    expect(() => isWorkingDay('2025-03-10', 'corse' as never)).toThrow(SesamFieldError);
  });
});

describe('retransmissionDeadline(from, { region, zone })', () => {
  // `from`: when the negative ARL came, or when the missing one became overdue; the answer: the
  // last day on which retransmitting is on time, in the practice's zone.
  const at = (iso: string): Date => new Date(iso);
  it.each<[string, string, HolidayRegion | undefined, string]>([
    ['a Monday', '2025-03-10T09:00:00+01:00', undefined, '2025-03-12'],
    ['a Thursday: over the weekend', '2025-03-13T16:00:00+01:00', undefined, '2025-03-17'],
    ['a Saturday: Monday and Tuesday', '2025-03-15T10:00:00+01:00', undefined, '2025-03-18'],
    ['Maundy Thursday: Good Friday worked, Easter Monday not', '2025-04-17T10:00:00+02:00', undefined, '2025-04-22'],
    ['Maundy Thursday in Alsace-Moselle: Good Friday too', '2025-04-17T10:00:00+02:00', 'alsace_moselle', '2025-04-23'],
    ['Maundy Thursday in Moselle (57)', '2025-04-17T10:00:00+02:00', '57', '2025-04-23'],
    ['the eve of Ascension', '2025-05-28T10:00:00+02:00', undefined, '2025-06-02'],
    ['the Friday before Whit Monday', '2025-06-06T10:00:00+02:00', undefined, '2025-06-11'],
    ['the eve of 14 July', '2026-07-13T10:00:00+02:00', undefined, '2026-07-16'],
    ['the eve of Christmas', '2025-12-24T10:00:00+01:00', undefined, '2025-12-29'],
    ['the eve of Christmas in Alsace-Moselle: 26 December too', '2025-12-24T10:00:00+01:00', 'alsace_moselle', '2025-12-30'],
    ['New Year\'s Eve', '2025-12-31T10:00:00+01:00', undefined, '2026-01-05'],
    ['in La Réunion before 20 December', '2024-12-19T10:00:00+01:00', 'RE', '2024-12-24'],
  ])('%s', (_what, iso, region, expected) => {
    expect(retransmissionDeadline(at(iso), region ? { region } : undefined)).toBe(expected);
  });

  it('the day is read in the practice’s zone: 23:30 UTC is already Friday in Paris and in La Réunion, still Thursday in UTC and Martinique', () => {
    const late = at('2025-03-13T23:30:00Z'); // Friday 00:30 in Paris, Friday 03:30 in La Réunion
    expect(retransmissionDeadline(late)).toBe('2025-03-18'); // from Friday: Monday, Tuesday
    expect(retransmissionDeadline(late, { zone: 'UTC' })).toBe('2025-03-17'); // from Thursday
    expect(retransmissionDeadline(late, { zone: 'Indian/Reunion', region: 'RE' })).toBe('2025-03-18');
    expect(retransmissionDeadline(at('2025-03-14T02:00:00Z'), { zone: 'America/Martinique', region: 'MQ' })).toBe('2025-03-17'); // still Thursday there
  });

  it('across the summer-time change', () => {
    expect(retransmissionDeadline(at('2025-03-28T23:30:00Z'))).toBe('2025-04-01'); // Saturday 00:30 in Paris
    expect(retransmissionDeadline(at('2025-10-24T22:30:00Z'))).toBe('2025-10-28'); // Saturday 00:30 in Paris (CEST)
  });

  it('refuses an invalid instant, zone or region with a typed error', () => {
    for (const bad of [new Date(Number.NaN), '2025-03-10' as never, null as never, 1741600000000 as never]) {
      expect(() => retransmissionDeadline(bad)).toThrow(SesamFieldError);
    }
    expect(() => retransmissionDeadline(at('2025-03-10T10:00:00Z'), { zone: 'Europe/Atlantis' })).toThrow(SesamFieldError);
    expect(() => retransmissionDeadline(at('2025-03-10T10:00:00Z'), { region: 'corse' })).toThrow(SesamFieldError);
    expect(() => retransmissionDeadline(at('2025-03-10T10:00:00Z'), { region: '__proto__' })).toThrow(SesamFieldError);
  });
});
