/**
 * Durable named counters in the browser (IndexedDB through `idb`). One readwrite transaction
 * reads, increments and writes a counter: IndexedDB runs readwrite transactions on the same
 * object store one after another, across every tab and worker of the origin, so two tabs can
 * never obtain the same value. The value is returned only once the transaction has completed
 * with strict durability where the browser supports it, so a value handed out survives a crash
 * or a reload and is never handed out again. A damaged value is an error, never a reset.
 *
 * `IdbCounters` is the mechanism (the compostage counter uses it too); `IdbCounterStore` is the
 * billing numbering's store, with its key rules.
 */
import type { DBSchema } from 'idb';
import { Connection } from './connection.js';
import { checkCounterKey, checkFloors, checkReservations, type CounterStore } from '../../billing/numbering.js';

interface CounterSchema extends DBSchema {
  counters: { key: string; value: number };
}

const STORE = 'counters';

export class CounterDamagedError extends Error {
  readonly code = 'counter_corrupt';
  constructor(key: string, value: unknown) {
    super(`compteur « ${key} » illisible dans IndexedDB (${String(value)}) : il n’est jamais remis à zéro`);
    this.name = 'CounterDamagedError';
  }
}

export class IdbCounters {
  private readonly connection: Connection<CounterSchema>;

  constructor(dbName: string) {
    this.connection = new Connection<CounterSchema>(dbName, 1, (db) => void db.createObjectStore(STORE));
  }

  /** Advances `key` by `count` (default 1) in one durable transaction; resolves to the new value, the last of the block. */
  async next(key: string, count = 1): Promise<number> {
    return (await this.advance([{ key, count }]))[0]!;
  }

  /**
   * Advances several counters in ONE durable transaction (all or none); resolves to each new
   * value, the last of its block, in the order asked.
   */
  async advance(requests: readonly { key: string; count: number }[]): Promise<number[]> {
    // A counter only ever moves forward: a zero, negative or fractional step is refused here,
    // whoever asks (the numbering checks its own requests; the compostage store relies on this).
    for (const { count } of requests) if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`avance de compteur invalide : ${count}`);
    const db = await this.connection.get();
    const tx = db.transaction(STORE, 'readwrite', { durability: 'strict' });
    const store = tx.objectStore(STORE);
    const values: number[] = [];
    for (const { key, count } of requests) {
      const current = (await store.get(key)) ?? 0;
      if (!Number.isSafeInteger(current) || current < 0) {
        tx.abort();
        tx.done.catch(() => undefined);
        throw new CounterDamagedError(key, current);
      }
      const value = current + count;
      await store.put(value, key);
      values.push(value);
    }
    await tx.done;
    return values;
  }

  /** Moves each counter up to its floor in ONE durable transaction; never down. */
  async raise(floors: ReadonlyMap<string, number>): Promise<void> {
    if (floors.size === 0) return;
    const db = await this.connection.get();
    const tx = db.transaction(STORE, 'readwrite', { durability: 'strict' });
    const store = tx.objectStore(STORE);
    for (const [key, value] of floors) {
      const current = (await store.get(key)) ?? 0;
      if (!Number.isSafeInteger(current) || current < 0) {
        tx.abort();
        tx.done.catch(() => undefined);
        throw new CounterDamagedError(key, current);
      }
      if (current < value) await store.put(value, key);
    }
    await tx.done;
  }

  /** Closes the connection (tests, page teardown). */
  close(): Promise<void> {
    return this.connection.close();
  }
}

export const COUNTERS_DB = 'teletrans-counters';

/** Invoice, lot and file counters (numbering.ts). `dbName` is for tests. */
export class IdbCounterStore implements CounterStore {
  private readonly counters: IdbCounters;
  constructor(dbName: string = COUNTERS_DB) {
    this.counters = new IdbCounters(dbName);
  }
  next(key: string): Promise<number> {
    checkCounterKey(key);
    return this.counters.next(key);
  }
  async reserve(key: string, count: number): Promise<number> {
    return (await this.reserveMany([{ key, count }]))[0]!;
  }
  async reserveMany(requests: readonly { key: string; count: number }[]): Promise<number[]> {
    checkReservations(requests);
    const last = await this.counters.advance(requests);
    return last.map((v, i) => v - requests[i]!.count + 1);
  }
  raise(floors: ReadonlyMap<string, number>): Promise<void> {
    checkFloors(floors);
    return this.counters.raise(floors);
  }
  close(): Promise<void> {
    return this.counters.close();
  }
}
