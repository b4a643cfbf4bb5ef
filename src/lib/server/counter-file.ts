/**
 * Named durable counters in Node (the CLI, scripts): one file per counter in a directory, each
 * incremented under the compostage counter's protocol (compostage-file.ts: exclusive lock file,
 * write to a temporary file, fsync, rename, fsync the directory; stale locks broken safely), so
 * several processes share them and a value is never handed out twice.
 */
import { join } from 'node:path';
import { checkCounterKey, checkFloors, checkReservation, type CounterStore } from '../billing/numbering.js';
import { FileCompostageStore, type FileCompostageOptions } from './compostage-file.js';

export class FileCounterStore implements CounterStore {
  private readonly counters = new Map<string, FileCompostageStore>();

  constructor(
    readonly directory: string,
    private readonly options: Omit<FileCompostageOptions, 'label'> = {},
  ) {}

  next(key: string): Promise<number> {
    return this.counter(key).next();
  }

  async reserve(key: string, count: number): Promise<number> {
    checkReservation(count);
    return (await this.counter(key).advance(count)) - count + 1;
  }

  /** One file per counter: each reservation is durable on its own, one after the other. */
  async reserveMany(requests: readonly { key: string; count: number }[]): Promise<number[]> {
    const out: number[] = [];
    for (const r of requests) out.push(await this.reserve(r.key, r.count));
    return out;
  }

  /** One file per counter: each raised on its own, under its lock. */
  async raise(floors: ReadonlyMap<string, number>): Promise<void> {
    checkFloors(floors);
    for (const [key, value] of floors) await this.counter(key).raise(value);
  }

  private counter(key: string): FileCompostageStore {
    checkCounterKey(key);
    let c = this.counters.get(key);
    if (!c) {
      // `invoice:751234567` → `invoice-751234567`: the key's alphabet cannot leave the directory.
      c = new FileCompostageStore(join(this.directory, key.replace(':', '-')), { ...this.options, label: key.split(':')[0]! });
      this.counters.set(key, c);
    }
    return c;
  }
}

/** Default directory: $XDG_STATE_HOME/teletrans/counters (or ~/.local/state/…). */
export function defaultCountersDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME || `${env.HOME ?? '.'}/.local/state`;
  return `${base}/teletrans/counters`;
}
