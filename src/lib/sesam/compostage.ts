/**
 * The compostage `AAAAMMJJHHMMSSxxxxx` of the SMTP subject (docs/domain/transmission.md §7): the local
 * French time of packaging to the second, then a 5-digit counter.
 *
 * Uniqueness rule (a retransmission must never reuse a compostage):
 * - a single counter per workstation/installation, persisted by a CompostageStore, strictly
 *   increasing, never reset (not per day, not per second), incremented atomically across
 *   processes and tabs before a message is composed;
 * - `xxxxx` = counter mod 100000, so it wraps from 99999 to 00000 and keeps going.
 * Two compostages are then equal only if their 14-digit times are equal AND the counters
 * differ by a multiple of 100 000. With a clock that does not go back, that needs 100 000
 * messages within one second. When local time does go back (the October DST change repeats
 * 02:00–03:00, an NTP step, a user fixing the clock), it needs exactly k × 100 000 messages
 * between the two equal seconds; a workstation sends a few files a day, so this is not a
 * practical concern, and the store, not the clock, carries the guarantee.
 *
 * The time zone is Europe/Paris (French software stamps local time), injectable along with
 * the clock.
 */
import { SesamFieldError } from './errors.js';
import type { WallTime as ZonedWallTime } from '../time/zoned-time.js';
import { DEFAULT_TIME_ZONE, isValidTimestamp, timestamp14, wallTime } from './time.js';

export const COUNTER_MODULUS = 100_000;

/** Hands out compostage counters. Implementations must be atomic and durable before resolving. */
export interface CompostageStore {
  /** Increments the persisted counter and resolves to the new value (≥ 1), never reused. */
  next(): Promise<number>;
  /**
   * Advances the counter by `count` in one durable step and resolves to the FIRST value of the
   * block (the block is `first … first + count − 1`, none of it ever handed out again).
   * Optional: a store without it is asked value by value.
   */
  reserve?(count: number): Promise<number>;
}

/** The most values one reservation may take (a day's files are a handful). */
export const MAX_RESERVATION = 1000;

/**
 * A store that hands out a block reserved NOW, in order, then falls back to `store.next()`.
 * The reservation starts at once, so its durable write runs beside whatever the caller does
 * meanwhile (the card signing the day's invoices, billing/ssv/send.ts). Values of the block
 * left unused are skipped, never reused: a gap in the counter, harmless to uniqueness. A failed
 * reservation fails every `next()` that waits on it (the counter is damaged or locked: no
 * message may be composed), it never falls back silently.
 */
export function reservedCompostages(store: CompostageStore, count: number): CompostageStore {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_RESERVATION) {
    throw new SesamFieldError('invalid_counter', 'count', `réservation de compostages invalide : ${count} (1 à ${MAX_RESERVATION})`);
  }
  const first: Promise<number | undefined> = store.reserve ? store.reserve(count) : Promise.resolve(undefined);
  first.catch(() => undefined);
  let taken = 0;
  return {
    async next() {
      const i = taken++;
      const start = await first;
      if (start === undefined || i >= count) return store.next();
      if (!Number.isSafeInteger(start) || start < 1) throw new SesamFieldError('invalid_counter', 'counter', `compteur de compostage invalide : ${start}`);
      return start + i;
    },
  };
}

/** For tests and one-shot tools: unique within the process only. */
export class MemoryCompostageStore implements CompostageStore {
  private value: number;
  constructor(start = 0) {
    this.value = start;
  }
  async next(): Promise<number> {
    this.value += 1;
    return this.value;
  }
  async reserve(count: number): Promise<number> {
    const first = this.value + 1;
    this.value += count;
    return first;
  }
}

export function counterDigits(counter: number): string {
  if (!Number.isSafeInteger(counter) || counter < 0) {
    throw new SesamFieldError('invalid_counter', 'counter', `compteur de compostage invalide : ${counter}`);
  }
  return String(counter % COUNTER_MODULUS).padStart(5, '0');
}

/** `AAAAMMJJHHMMSSxxxxx` for `date` in `timeZone` with the store's counter value. */
export function formatCompostage(date: Date, counter: number, timeZone: string = DEFAULT_TIME_ZONE): string {
  return timestamp14(wallTime(date, timeZone)) + counterDigits(counter);
}

/** The wall time the compostage states (French local time), with its digits and counter. */
export interface ParsedCompostage extends ZonedWallTime {
  /** `AAAAMMJJHHMMSS`. */
  timestamp: string;
  counter: number;
}

/** Parses and checks a compostage (19 digits, a real calendar time). Throws SesamFieldError. */
export function parseCompostage(value: string): ParsedCompostage {
  if (!/^\d{19}$/.test(value) || !isValidTimestamp(value.slice(0, 14))) {
    throw new SesamFieldError('invalid_compostage', 'compostage', `compostage invalide « ${value} » (attendu : AAAAMMJJHHMMSS suivi de 5 chiffres)`);
  }
  const n = (from: number, len: number): number => Number(value.slice(from, from + len));
  return {
    timestamp: value.slice(0, 14),
    year: n(0, 4),
    month: n(4, 2),
    day: n(6, 2),
    hour: n(8, 2),
    minute: n(10, 2),
    second: n(12, 2),
    counter: n(14, 5),
  };
}

/** Draws the next counter from `store` and stamps `clock()`: one call per message sent. */
export async function nextCompostage(
  store: CompostageStore,
  clock: () => Date = () => new Date(),
  timeZone: string = DEFAULT_TIME_ZONE,
): Promise<{ compostage: string; counter: number; date: Date }> {
  // Counter first, then the clock: the time printed is never earlier than the reservation.
  const counter = await store.next();
  const date = clock();
  return { compostage: formatCompostage(date, counter, timeZone), counter, date };
}
