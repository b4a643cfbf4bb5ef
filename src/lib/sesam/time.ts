/**
 * Wall-clock time for SESAM-Vitale messages (the zone is read by time/zoned-time.ts, with Intl
 * only). French billing software stamps messages in local French time, so the compostage and
 * the Date header use Europe/Paris by default; the zone is a parameter so that tests and
 * overseas departments (e.g. America/Cayenne, Indian/Reunion) can choose theirs.
 */
import { DEFAULT_TIME_ZONE, wallTime as zonedWallTime, type WallTime as ZonedWallTime } from '../time/zoned-time.js';
import { SesamFieldError } from './errors.js';

export { DEFAULT_TIME_ZONE };

export interface WallTime extends ZonedWallTime {
  /** Offset of the wall time from UTC, in minutes (+60 for CET, +120 for CEST). */
  offsetMinutes: number;
  /** 0 = Sunday. */
  weekday: number;
}

/** The wall time of `date` in `timeZone`, to the second (milliseconds are dropped, not rounded). */
export function wallTime(date: Date, timeZone: string = DEFAULT_TIME_ZONE): WallTime {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new SesamFieldError('invalid_date', 'date', 'date invalide');
  const seconds = Math.floor(ms / 1000) * 1000;
  let w: ZonedWallTime;
  try {
    w = zonedWallTime(seconds, timeZone);
  } catch {
    throw new SesamFieldError('invalid_date', 'timeZone', `fuseau horaire inconnu « ${timeZone} »`);
  }
  const { year, month, day, hour, minute, second } = w;
  if (![year, month, day, hour, minute, second].every(Number.isInteger) || year < 1000 || year > 9999) {
    throw new SesamFieldError('invalid_date', 'date', 'date hors de la plage représentable (années 1000 à 9999)');
  }
  const asUtc = Date.UTC(year, month - 1, day, hour, minute, second);
  return {
    year, month, day, hour, minute, second,
    offsetMinutes: Math.round((asUtc - seconds) / 60_000),
    weekday: new Date(Date.UTC(year, month - 1, day)).getUTCDay(),
  };
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** RFC 5322 §3.3 date-time, e.g. `Thu, 05 Mar 2026 14:03:07 +0100`, in the given zone. */
export function rfc5322Date(date: Date, timeZone: string = DEFAULT_TIME_ZONE): string {
  const w = wallTime(date, timeZone);
  const sign = w.offsetMinutes < 0 ? '-' : '+';
  const off = Math.abs(w.offsetMinutes);
  return `${DAYS[w.weekday]}, ${pad(w.day, 2)} ${MONTHS[w.month - 1]} ${w.year} ${pad(w.hour, 2)}:${pad(w.minute, 2)}:${pad(w.second, 2)} ${sign}${pad(Math.floor(off / 60), 2)}${pad(off % 60, 2)}`;
}

/** `AAAAMMJJHHMMSS` of the wall time. */
export function timestamp14(w: WallTime): string {
  return `${w.year}${pad(w.month, 2)}${pad(w.day, 2)}${pad(w.hour, 2)}${pad(w.minute, 2)}${pad(w.second, 2)}`;
}

/** Checks that `AAAAMMJJHHMMSS` (or a prefix of it of 12 or 14 digits) names a real calendar time. */
export function isValidTimestamp(digits: string): boolean {
  if (!/^\d{12}(\d{2})?$/.test(digits)) return false;
  const n = (from: number, len: number): number => Number(digits.slice(from, from + len));
  const [y, mo, d, h, mi] = [n(0, 4), n(4, 2), n(6, 2), n(8, 2), n(10, 2)];
  const s = digits.length === 14 ? n(12, 2) : 0;
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false;
  const dim = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return d <= dim;
}

const DATE_TIME = /^(?:(Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2})(?::(\d{2}))? ([+-])(\d{2})(\d{2})$/;

/**
 * Reads an RFC 5322 §3.3 date-time as this module writes it (single spaces, numeric zone, no
 * comment): the instant in ms, or null when it does not parse or names no real time (21:65:44,
 * 31 Feb, a weekday that is not that day's). Strict on purpose: the relay forwards only a
 * Date it could read.
 */
export function parseRfc5322Date(value: string): number | null {
  const m = DATE_TIME.exec(value);
  if (!m) return null;
  const [, wd, d, mon, y, h, mi, s, sign, oh, om] = m;
  const month = MONTHS.indexOf(mon as (typeof MONTHS)[number]);
  const [day, year, hour, minute, second, offH, offM] = [d, y, h, mi, s ?? '0', oh, om].map(Number) as [number, number, number, number, number, number, number];
  if (year < 1900 || hour > 23 || minute > 59 || second > 60 || offH > 23 || offM > 59) return null;
  if (day < 1 || day > new Date(Date.UTC(year, month + 1, 0)).getUTCDate()) return null;
  if (wd !== undefined && DAYS[new Date(Date.UTC(year, month, day)).getUTCDay()] !== wd) return null;
  const offset = (sign === '-' ? -1 : 1) * (offH * 60 + offM);
  return Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) - offset * 60_000;
}
