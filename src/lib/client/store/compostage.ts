/**
 * The compostage counter in the browser: one durable IndexedDB counter (counters.ts explains
 * why two tabs never get the same value and why a value handed out is never handed out again).
 */
import type { CompostageStore } from '../../sesam/compostage.js';
import { IdbCounters } from './counters.js';

export const COMPOSTAGE_DB = 'teletrans-compostage';
const KEY = 'compostage';

export class IdbCompostageStore implements CompostageStore {
  private readonly counters: IdbCounters;

  /** `dbName` is for tests; the app uses the default. */
  constructor(dbName: string = COMPOSTAGE_DB) {
    this.counters = new IdbCounters(dbName);
  }

  next(): Promise<number> {
    return this.counters.next(KEY);
  }

  /** `count` values in one durable transaction; resolves to the first. */
  async reserve(count: number): Promise<number> {
    return (await this.counters.next(KEY, count)) - count + 1;
  }

  /** Closes the connection (tests, page teardown). */
  close(): Promise<void> {
    return this.counters.close();
  }
}
