/**
 * Virtual cards in a process of their own, for pcsc.test.ts: they answer vpcd while the test's
 * process (and the bridge in it) is blocked. Lines on stdin: `insert KIND PORT`, `remove`,
 * `swap KIND PORT DELAY_MS` (remove, then insert KIND after the delay), KIND `cps` or `vitale`.
 * On stdout: `ready` once the cards are made, then `inserted KIND` and `removed`. Every ATR
 * request from pcscd (power-up, and each presence poll) appends `atr` to the file given as
 * argument, and a swap appends `swap`: the blocked test can follow pcscd with plain file reads.
 */
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { makeCps, makeTestPki, makeVitale } from '../../bridge/cards/profiles.js';
import { VpcdInsertion } from '../../bridge/cards/vpcd.js';
import type { VirtualCard } from '../../bridge/cards/card.js';

const atrLog = process.argv[2]!;
const pki = await makeTestPki();
const watched = (card: VirtualCard): VirtualCard =>
  new Proxy(card, {
    get(target, key) {
      if (key === 'atr') appendFileSync(atrLog, 'atr\n');
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
const cards: Record<string, VirtualCard> = {
  cps: watched((await makeCps(pki, { serial: '9990000077' })).card),
  vitale: watched((await makeVitale(pki, { serial: '9990000177' })).card),
};
let slot: VpcdInsertion | null = null;
const insert = (kind: string, port: number): void => {
  slot = new VpcdInsertion(cards[kind]!, port);
  void slot.insert().then(() => process.stdout.write(`inserted ${kind}\n`));
};
const remove = (): void => {
  slot?.remove();
  slot = null;
  process.stdout.write('removed\n');
};
process.stdout.write('ready\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const [verb, kind, port, delay] = line.trim().split(/\s+/);
  if (verb === 'insert') insert(kind!, Number(port));
  else if (verb === 'remove') remove();
  else if (verb === 'swap') {
    appendFileSync(atrLog, 'swap\n');
    remove();
    setTimeout(() => insert(kind!, Number(port)), Number(delay));
  }
});
process.stdin.on('end', () => {
  slot?.remove();
  process.exit(0);
});
