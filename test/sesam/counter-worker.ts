/**
 * Child process for counter.test.ts: increments a file counter N times through two store
 * instances running concurrently (so even one process contends on the lock file, not only on
 * its in-process queue), and prints the values as JSON. Waits for GO_FILE to exist before
 * starting, so that every worker hammers the file at the same time.
 *
 *   node --import tsx test/sesam/counter-worker.ts COUNTER_FILE N GO_FILE
 */
import { existsSync } from 'node:fs';
import { FileCompostageStore } from '../../src/lib/server/compostage-file.js';

const [path, countText, goFile] = process.argv.slice(2);
if (!path || !countText || !goFile) {
  process.stderr.write('usage: counter-worker.ts COUNTER_FILE N GO_FILE\n');
  process.exit(2);
}
const count = Number(countText);
process.stderr.write('ready\n');
while (!existsSync(goFile)) await new Promise((r) => setTimeout(r, 5));

const stores = [new FileCompostageStore(path), new FileCompostageStore(path)];
const values = await Promise.all(
  stores.map(async (store, i) => {
    const mine: number[] = [];
    const n = Math.floor(count / 2) + (i === 0 ? count % 2 : 0);
    for (let k = 0; k < n; k++) mine.push(await store.next());
    return mine;
  }),
);
process.stdout.write(JSON.stringify(values));
