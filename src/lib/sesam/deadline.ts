/**
 * Legal deadlines in working days (docs/domain/workflow.md §3, restating Code de la sécurité
 * sociale art. R161-47): an FSE is transmitted within 3 working days of the care when the
 * patient pays, within 8 with third-party payment; with no ARL within 2 working days of the
 * transmission, or a negative one, the practitioner retransmits within 2 working days.
 *
 * Working days: Monday to Friday, less the public holidays (Code du travail art. L3133-1):
 * 1 January, Easter Monday, 1 May, 8 May, Ascension, Whit Monday, 14 July, 15 August,
 * 1 November, 11 November, 25 December; Whit Monday stays a public holiday even where it is
 * worked as the « journée de solidarité ». Where the practice is adds its own:
 * - Alsace-Moselle (Bas-Rhin 67, Haut-Rhin 68, Moselle 57; art. L3134-13): Good Friday and
 *   26 December;
 * - the overseas départements and collectivities, the abolition of slavery (law 83-550 and its
 *   decrees): Martinique 22 May, Guadeloupe and Saint-Martin 27 May, Guyane 10 June, La Réunion
 *   20 December, Mayotte 27 April, Saint-Barthélemy 9 October; Martinique and Guadeloupe
 *   also keep Good Friday.
 *
 * The rules are written here, small and without dependencies, because this module runs in the
 * page at start-up (the home page counts deadlines down); they are checked, region by region
 * and year by year from 2000 to 2100, against the maintained `date-holidays` library in the
 * tests (test/sesam/deadline.test.ts, docs/adr/0022-holidays-checked-against-a-library.md).
 *
 * Pure calendar arithmetic on `AAAA-MM-JJ` dates: no clock. The one function that takes an
 * instant, `retransmissionDeadline`, reads its day in the practice's zone (Europe/Paris by
 * default).
 */
import { SesamFieldError } from './errors.js';
import { DEFAULT_TIME_ZONE, isValidTimeZone, localDate } from '../time/zoned-time.js';

/**
 * Where the practice is, for its public holidays: `general` (metropolitan France), the
 * subdivision codes `date-holidays` uses for France (départements 57, 67, 68; GP, MQ, GF, RE,
 * YT, MF, BL), and `alsace_moselle` for the three départements together.
 */
export const HOLIDAY_REGIONS = ['general', 'alsace_moselle', '57', '67', '68', 'GP', 'MQ', 'GF', 'RE', 'YT', 'MF', 'BL'] as const;
export type HolidayRegion = (typeof HOLIDAY_REGIONS)[number];

/** What each region adds to the general holidays: fixed days (`MM-DD`) and whether Good Friday is one. */
const REGIONAL: Readonly<Record<HolidayRegion, { readonly fixed: readonly string[]; readonly goodFriday: boolean }>> = {
  general: { fixed: [], goodFriday: false },
  alsace_moselle: { fixed: ['12-26'], goodFriday: true },
  '57': { fixed: ['12-26'], goodFriday: true },
  '67': { fixed: ['12-26'], goodFriday: true },
  '68': { fixed: ['12-26'], goodFriday: true },
  GP: { fixed: ['05-27'], goodFriday: true },
  MQ: { fixed: ['05-22'], goodFriday: true },
  GF: { fixed: ['06-10'], goodFriday: false },
  RE: { fixed: ['12-20'], goodFriday: false },
  YT: { fixed: ['04-27'], goodFriday: false },
  MF: { fixed: ['05-27'], goodFriday: false },
  BL: { fixed: ['10-09'], goodFriday: false },
};

function assertRegion(region: unknown): asserts region is HolidayRegion {
  if (typeof region !== 'string' || !Object.hasOwn(REGIONAL, region)) {
    throw new SesamFieldError('invalid_date', 'region', `région inconnue « ${String(region).slice(0, 20)} » (attendu : ${HOLIDAY_REGIONS.join(', ')})`);
  }
}

const DAY = 86_400_000;
const ISO = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Milliseconds of the date at 00:00 UTC; refuses anything that is not a real calendar day. */
function toUtc(date: string, field: string): number {
  const m = typeof date === 'string' ? ISO.exec(date) : null;
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
  if (!m || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== date || Number(m[1]) < 1900 || Number(m[1]) > 2999) {
    throw new SesamFieldError('invalid_date', field, `date invalide « ${String(date).slice(0, 20)} » (attendu : AAAA-MM-JJ)`);
  }
  return t;
}

const fromUtc = (t: number): string => new Date(t).toISOString().slice(0, 10);

/** Easter Sunday of `year` (Gregorian calendar; the anonymous algorithm of Meeus, Jones, Butcher). */
export function easterSunday(year: number): string {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return fromUtc(Date.UTC(year, month - 1, day));
}

const cache = new Map<string, ReadonlySet<string>>();

/** The public holidays of `year`, sorted. */
export function publicHolidays(year: number, region: HolidayRegion = 'general'): string[] {
  return [...holidaySet(year, region)].sort();
}

function holidaySet(year: number, region: HolidayRegion): ReadonlySet<string> {
  if (!Number.isInteger(year) || year < 1900 || year > 2999) throw new SesamFieldError('invalid_date', 'year', `année invalide « ${year} »`);
  assertRegion(region);
  const key = `${year}|${region}`;
  let set = cache.get(key);
  if (!set) {
    const easter = toUtc(easterSunday(year), 'easter');
    const y = String(year);
    const days = [`${y}-01-01`, fromUtc(easter + DAY), `${y}-05-01`, `${y}-05-08`, fromUtc(easter + 39 * DAY), fromUtc(easter + 50 * DAY), `${y}-07-14`, `${y}-08-15`, `${y}-11-01`, `${y}-11-11`, `${y}-12-25`];
    const extra = REGIONAL[region];
    if (extra.goodFriday) days.push(fromUtc(easter - 2 * DAY));
    for (const md of extra.fixed) days.push(`${y}-${md}`);
    set = new Set(days);
    cache.set(key, set);
  }
  return set;
}

export function isWorkingDay(date: string, region: HolidayRegion = 'general'): boolean {
  const t = toUtc(date, 'date');
  const weekday = new Date(t).getUTCDay();
  return weekday !== 0 && weekday !== 6 && !holidaySet(new Date(t).getUTCFullYear(), region).has(date);
}

/** The `n`-th working day after `date` (`date` itself never counts). */
export function addWorkingDays(date: string, n: number, region: HolidayRegion = 'general'): string {
  if (!Number.isInteger(n) || n < 0 || n > 366) throw new SesamFieldError('invalid_date', 'n', `nombre de jours ouvrés invalide « ${n} »`);
  let t = toUtc(date, 'date');
  for (let left = n; left > 0; ) {
    t += DAY;
    if (isWorkingDay(fromUtc(t), region)) left--;
  }
  return fromUtc(t);
}

/** Working days after `from` up to and including `to` (negative when `to` is before `from`). */
export function workingDaysBetween(from: string, to: string, region: HolidayRegion = 'general'): number {
  const a = toUtc(from, 'from');
  const b = toUtc(to, 'to');
  if (Math.abs(b - a) > 3 * 366 * DAY) throw new SesamFieldError('invalid_date', 'to', 'écart de dates trop grand (3 ans au plus)');
  const [lo, hi, sign] = a <= b ? [a, b, 1] : [b, a, -1];
  let n = 0;
  for (let t = lo + DAY; t <= hi; t += DAY) if (isWorkingDay(fromUtc(t), region)) n++;
  return n === 0 ? 0 : sign * n;
}

/** The last day to transmit the FSE of a care given on `careDate`: 3 working days after, 8 with third-party payment. */
export function transmissionDeadline(careDate: string, thirdPartyPayment: boolean, region: HolidayRegion = 'general'): string {
  return addWorkingDays(careDate, thirdPartyPayment ? 8 : 3, region);
}

/** After a transmission on `sentDate`: the day by which its ARL is due (2 working days). */
export function arlDueDate(sentDate: string, region: HolidayRegion = 'general'): string {
  return addWorkingDays(sentDate, 2, region);
}

/**
 * The last day to retransmit a lot: 2 working days after its negative ARL (`negativeArlDate`),
 * or, with no ARL, 2 working days after the day it was due.
 */
export function retransmitBy(from: { negativeArlDate: string } | { sentDate: string }, region: HolidayRegion = 'general'): string {
  const start = 'negativeArlDate' in from ? from.negativeArlDate : arlDueDate(from.sentDate, region);
  return addWorkingDays(start, 2, region);
}

export interface RetransmissionOptions {
  /** Where the practice is, for its holidays (`HOLIDAY_REGIONS`); metropolitan France by default. */
  readonly region?: string;
  /** The practice's IANA time zone; Europe/Paris by default. */
  readonly zone?: string;
}

/**
 * The last calendar day (`AAAA-MM-JJ` in `zone`) on which a retransmission is on time: the
 * second working day after the day on which `from` falls — `from` being when the negative ARL
 * arrived, or when the missing ARL became overdue. An invalid instant, zone or region is a
 * typed error (`invalid_date`), never a guess.
 */
export function retransmissionDeadline(from: Date, options: RetransmissionOptions = {}): string {
  const ms = from instanceof Date ? from.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) throw new SesamFieldError('invalid_date', 'from', 'instant invalide (attendu : une date)');
  const zone = options.zone ?? DEFAULT_TIME_ZONE;
  if (typeof zone !== 'string' || !isValidTimeZone(zone)) throw new SesamFieldError('invalid_date', 'zone', `fuseau horaire inconnu « ${String(zone).slice(0, 40)} »`);
  const region = options.region ?? 'general';
  assertRegion(region);
  const d = localDate(ms, zone);
  const day = `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
  return addWorkingDays(day, 2, region);
}
