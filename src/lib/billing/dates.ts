/**
 * Calendar dates of the billing domain: `YYYY-MM-DD` strings (ISO 8601 calendar dates), never
 * JS `Date` objects. An act happens on a French calendar day, not at an instant; strings compare
 * in calendar order, serialise as themselves and mean the same in every time zone and runtime.
 *
 * "Today" comes from an injected clock (`Clock`) read in a named zone: the core never reads the
 * wall clock, so tests and the insurer's simulator can set the day.
 */
import { DEFAULT_TIME_ZONE, localDate } from '../time/zoned-time.js';
import { fail } from './errors.js';

/** `YYYY-MM-DD`, a real Gregorian date. */
export type IsoDate = string;

/** Milliseconds since the epoch; injected, never `Date.now()` inside the core. */
export type Clock = () => number;

const ISO = /^(\d{4})-(\d{2})-(\d{2})$/;

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function isIsoDate(value: unknown): value is IsoDate {
  if (typeof value !== 'string') return false;
  const m = ISO.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return y >= 1900 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo);
}

export function isoDate(value: unknown, field: string): IsoDate {
  if (!isIsoDate(value)) fail('date_invalid', field, 'Date invalide (attendu AAAA-MM-JJ).');
  return value;
}

export function formatIso(year: number, month: number, day: number): IsoDate {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** The calendar date the clock shows in `timeZone` (Europe/Paris by default). */
export function today(clock: Clock, timeZone: string = DEFAULT_TIME_ZONE): IsoDate {
  const d = localDate(clock(), timeZone);
  return formatIso(d.year, d.month, d.day);
}

/** A period of rights, both ends included; an open end (`to` absent) runs on. */
export interface Period {
  readonly from: IsoDate;
  readonly to?: IsoDate;
}

export function period(value: { from: unknown; to?: unknown }, field: string): Period {
  const from = isoDate(value.from, `${field}.from`);
  if (value.to === undefined) return Object.freeze({ from });
  const to = isoDate(value.to, `${field}.to`);
  if (to < from) fail('period_invalid', field, 'Période invalide : la fin précède le début.');
  return Object.freeze({ from, to });
}

export function inPeriod(date: IsoDate, p: Period): boolean {
  return date >= p.from && (p.to === undefined || date <= p.to);
}

/** `HH:MM`, 00:00–23:59. */
export function isTimeOfDay(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = /^(\d{2}):(\d{2})$/.exec(value);
  return !!m && Number(m[1]) <= 23 && Number(m[2]) <= 59;
}
