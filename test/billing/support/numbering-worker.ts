/**
 * Child process for numbering-processes.test.ts: draws N invoice numbers for one billing number
 * from a shared counter directory, through two FileCounterStore instances at once (so the
 * process contends on the lock file, not only on its in-process queue), after GO_FILE exists:
 * one instance draws numbers one by one, the other reserves blocks of 4 (the evening's batch).
 *
 *   node --import tsx test/billing/support/numbering-worker.ts DIR N GO_FILE
 */
import { existsSync } from 'node:fs';
import { BillingNumbering } from '../../../src/lib/billing/numbering.js';
import { FileCounterStore } from '../../../src/lib/server/counter-file.js';

const [dir, countText, goFile] = process.argv.slice(2);
if (!dir || !countText || !goFile) {
  process.stderr.write('usage: numbering-worker.ts DIR N GO_FILE\n');
  process.exit(2);
}
const count = Number(countText);
process.stderr.write('ready\n');
while (!existsSync(goFile)) await new Promise((r) => setTimeout(r, 5));
const numberings = [new BillingNumbering(new FileCounterStore(dir)), new BillingNumbering(new FileCounterStore(dir))];
const values = await Promise.all(
  numberings.map(async (n, i) => {
    const mine: string[] = [];
    if (i === 0) for (let k = 0; k < count / 2; k++) mine.push(await n.invoiceNumber('751234567'));
    else for (let k = 0; k < count / 8; k++) mine.push(...(await n.invoiceNumbers('751234567', 4)));
    return mine;
  }),
);
process.stdout.write(JSON.stringify(values.flat()));
