/**
 * Numbers that never repeat (issue 13 item 5): invoice numbers per billing number, lot and file
 * numbers per sender number, each drawn from a durable counter BEFORE use, on the compostage
 * pattern (src/lib/sesam/compostage.ts): IndexedDB with strict durability in the browser
 * (src/lib/client/store/counters.ts), a locked, fsynced file in Node
 * (src/lib/server/counter-file.ts). A value handed out is durable and never handed out again,
 * whichever process or tab asks; a number drawn and then not used (a refused invoice, a crash)
 * leaves a gap, never a repeat.
 *
 * Widths are our simulator's (docs/billing/simulator-format.md), not the norm's: invoice
 * numbers 9 digits, lot and file numbers 6 digits. They never wrap: at exhaustion the counter
 * refuses (`counter_invalid`) rather than start again at 1.
 */
import { fail } from './errors.js';

/** Durable named counters. `next` resolves only once the new value is durable. */
export interface CounterStore {
  /** Increments the counter named `key` and resolves to its new value (≥ 1), never reused. */
  next(key: string): Promise<number>;
  /**
   * Advances the counter by `count` in one durable step and resolves to the FIRST of the
   * `count` consecutive values now reserved (never handed out again, used or not).
   */
  reserve(key: string, count: number): Promise<number>;
  /** Several reservations in one durable step where the store can (IndexedDB: one transaction); the firsts, in order. */
  reserveMany(requests: readonly { key: string; count: number }[]): Promise<number[]>;
  /**
   * Moves each counter up to at least its floor, in one durable step; a counter already there
   * or past it is left alone (a counter never moves back). What a restore needs (numbers-in-use.ts).
   */
  raise(floors: ReadonlyMap<string, number>): Promise<void>;
}

/** Every key and floor of a raise, before anything is written. */
export function checkFloors(floors: ReadonlyMap<string, number>): void {
  for (const [key, value] of floors) {
    checkCounterKey(key);
    if (!Number.isSafeInteger(value) || value < 0) fail('counter_invalid', 'floor', 'Valeur de compteur invalide.');
  }
}

export const MAX_RESERVATION = 10_000;

/** Every key and count of a multiple reservation, before anything is drawn. */
export function checkReservations(requests: readonly { key: string; count: number }[]): void {
  for (const r of requests) {
    checkCounterKey(r.key);
    checkReservation(r.count);
  }
}

export function checkReservation(count: number): number {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_RESERVATION) fail('counter_invalid', 'count', `Réservation de 1 à ${MAX_RESERVATION} numéros.`);
  return count;
}

/** For tests and one-shot tools: unique within this object only. */
export class MemoryCounterStore implements CounterStore {
  private readonly values = new Map<string, number>();
  async next(key: string): Promise<number> {
    return this.reserve(key, 1);
  }
  async reserve(key: string, count: number): Promise<number> {
    return (await this.reserveMany([{ key, count }]))[0]!;
  }
  async reserveMany(requests: readonly { key: string; count: number }[]): Promise<number[]> {
    checkReservations(requests);
    return requests.map(({ key, count }) => {
      const first = (this.values.get(key) ?? 0) + 1;
      this.values.set(key, first + count - 1);
      return first;
    });
  }
  async raise(floors: ReadonlyMap<string, number>): Promise<void> {
    checkFloors(floors);
    for (const [key, value] of floors) if ((this.values.get(key) ?? 0) < value) this.values.set(key, value);
  }
}

/** Keys are `kind:scope` with a conservative alphabet: they become file names in Node. */
export const COUNTER_KEY = /^(invoice|lot|file):[0-9A-Z]{1,20}$/;

export function checkCounterKey(key: string): string {
  if (typeof key !== 'string' || !COUNTER_KEY.test(key)) fail('counter_invalid', 'key', 'Nom de compteur invalide.');
  return key;
}

export const INVOICE_NUMBER_DIGITS = 9;
export const LOT_NUMBER_DIGITS = 6;
export const FILE_NUMBER_DIGITS = 6;

const BILLING_NUMBER = /^(\d{2}|2A|2B)\d{7}$/;

function format(value: number, digits: number, what: string): string {
  if (!Number.isSafeInteger(value) || value < 1) fail('counter_invalid', what, `Compteur de ${what} invalide.`);
  if (value >= 10 ** digits) {
    fail('counter_invalid', what, `Compteur de ${what} épuisé (${digits} chiffres) : aucun numéro ne peut être réutilisé ; contactez l’administrateur.`);
  }
  return String(value).padStart(digits, '0');
}

export class BillingNumbering {
  constructor(private readonly store: CounterStore) {}

  /** The next invoice number of this billing number (the situation invoiced under). */
  async invoiceNumber(billingNumber: string): Promise<string> {
    if (typeof billingNumber !== 'string' || !BILLING_NUMBER.test(billingNumber)) {
      fail('billing_number_format', 'billingNumber', 'Numéro de facturation invalide (9 caractères, département en tête).');
    }
    return format(await this.store.next(`invoice:${billingNumber}`), INVOICE_NUMBER_DIGITS, 'factures');
  }

  /**
   * `count` invoice numbers of this billing number in one durable step (the evening's batch):
   * consecutive, each never handed out again. Exhaustion is checked on the last one.
   */
  async invoiceNumbers(billingNumber: string, count: number): Promise<string[]> {
    if (typeof billingNumber !== 'string' || !BILLING_NUMBER.test(billingNumber)) {
      fail('billing_number_format', 'billingNumber', 'Numéro de facturation invalide (9 caractères, département en tête).');
    }
    return this.block(`invoice:${billingNumber}`, count, INVOICE_NUMBER_DIGITS, 'factures');
  }

  /** `count` lot numbers of this sender in one durable step. */
  lotNumbers(sender: string, count: number): Promise<string[]> {
    return this.block(`lot:${checkSender(sender)}`, count, LOT_NUMBER_DIGITS, 'lots');
  }

  /** `count` file numbers of this sender in one durable step. */
  fileNumbers(sender: string, count: number): Promise<string[]> {
    return this.block(`file:${checkSender(sender)}`, count, FILE_NUMBER_DIGITS, 'fichiers');
  }

  /** The lot and file numbers of one transmission, in one durable step. */
  async lotAndFileNumbers(sender: string, lots: number, files: number): Promise<{ lots: string[]; files: string[] }> {
    const s = checkSender(sender);
    checkReservation(lots);
    checkReservation(files);
    const [lot, file] = await this.store.reserveMany([
      { key: `lot:${s}`, count: lots },
      { key: `file:${s}`, count: files },
    ]);
    const block = (first: number, n: number, digits: number, what: string): string[] => {
      format(first + n - 1, digits, what);
      return Array.from({ length: n }, (_, i) => format(first + i, digits, what));
    };
    return { lots: block(lot!, lots, LOT_NUMBER_DIGITS, 'lots'), files: block(file!, files, FILE_NUMBER_DIGITS, 'fichiers') };
  }

  private async block(key: string, count: number, digits: number, what: string): Promise<string[]> {
    checkReservation(count);
    const first = await this.store.reserve(key, count);
    format(first + count - 1, digits, what);
    return Array.from({ length: count }, (_, i) => format(first + i, digits, what));
  }

  /** Raises the counters past the numbers some records used (a restore: numbers-in-use.ts). */
  keepPast(floors: ReadonlyMap<string, number>): Promise<void> {
    return this.store.raise(floors);
  }

  async lotNumber(sender: string): Promise<string> {
    return format(await this.store.next(`lot:${checkSender(sender)}`), LOT_NUMBER_DIGITS, 'lots');
  }

  async fileNumber(sender: string): Promise<string> {
    return format(await this.store.next(`file:${checkSender(sender)}`), FILE_NUMBER_DIGITS, 'fichiers');
  }
}

/** Sender number ("numéro émetteur"): 9 characters like a billing number. */
export function checkSender(sender: string): string {
  if (typeof sender !== 'string' || !BILLING_NUMBER.test(sender)) fail('counter_invalid', 'sender', 'Numéro d’émetteur invalide (9 caractères, département en tête).');
  return sender;
}
