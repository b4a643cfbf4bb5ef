/**
 * The evening's one action to its end (`sendDay`, src/lib/billing/ssv/send.ts): the day billed,
 * each file encrypted (our CMS, opened by OpenSSL) and packaged with its compostage; the lot,
 * file and compostage numbers reserved while the card signs, the spare ones skipped after a
 * card pulled midway; bad sending settings refused before any counter moves.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BillingNumbering, MemoryCounterStore, SAMPLE_CATALOGUE, readBillingFile, sendDay, type InvoiceSigner } from '../../src/lib/billing/index.js';
import { simulatorAdapter } from '../../src/lib/billing/ssv/simulator.js';
import { encryptFor, joinParts } from '../../src/lib/cms/index.js';
import { MemoryCompostageStore, SesamFieldError, parseMessage, type CompostageStore } from '../../src/lib/sesam/index.js';
import { cpsPki, type CpsPki } from './support/cps-pki.js';
import { invoiceOf, RPPS } from './fixtures.js';

const D = '2025-03-10';
const clock = () => Date.UTC(2025, 2, 10, 17, 0);
let pki: CpsPki;
let dir: string;
let recipient: Uint8Array;

beforeAll(async () => {
  pki = await cpsPki(RPPS.doctor);
  dir = mkdtempSync(join(tmpdir(), 'teletrans-send-day-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-outform', 'der', '-out', join(dir, 'c.der'), '-days', '2', '-subj', '/CN=amo_pj.test@test.rss.fr'], { stdio: 'ignore' });
  execFileSync('openssl', ['x509', '-inform', 'der', '-in', join(dir, 'c.der'), '-out', join(dir, 'c.pem')]);
  recipient = new Uint8Array(readFileSync(join(dir, 'c.der')));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const drafts = () => [
  invoiceOf({ id: 'A', acts: [{ code: 'G', date: D, time: '09:00' }] }),
  invoiceOf({ id: 'B', acts: [{ code: 'G', date: D, time: '10:00' }], beneficiary: { fund: '931' } }),
  invoiceOf({ id: 'C', acts: [{ code: 'VG', date: D, time: '11:00' }], beneficiary: { scheme: '02' } }),
];

/** What happened, in order: the counters' reservations and the card's signatures. */
type Event = string;

/** A counter store (memory) that logs each reservation. */
class LoggedCounters extends MemoryCounterStore {
  constructor(private readonly log: Event[]) {
    super();
  }
  override reserveMany(requests: readonly { key: string; count: number }[]): Promise<number[]> {
    this.log.push(`reserve ${requests.map((r) => `${r.key.split(':')[0]}×${r.count}`).join(' ')}`);
    return super.reserveMany(requests);
  }
}

/** A compostage store (memory) that logs each step. */
function loggedCompostage(log: Event[], start = 0): CompostageStore & { value(): number } {
  const inner = new MemoryCompostageStore(start);
  let value = start;
  return {
    next: async () => {
      log.push('compostage next');
      return (value = await inner.next());
    },
    reserve: async (n) => {
      log.push(`compostage reserve×${n}`);
      const first = await inner.reserve(n);
      value = first + n - 1;
      return first;
    },
    value: () => value,
  };
}

function loggedSigner(log: Event[], failAt = Infinity): InvoiceSigner & { calls(): number } {
  let calls = 0;
  return {
    certificate: () => pki.signer.certificate(),
    signDigest: async (d) => {
      calls++;
      log.push('sign');
      if (calls >= failAt) throw Object.assign(new Error('carte absente'), { code: 'card_absent' });
      return pki.signer.signDigest(d);
    },
    calls: () => calls,
  };
}

function options(log: Event[], signer: InvoiceSigner, compostage: CompostageStore) {
  const counters = new LoggedCounters(log);
  return {
    counters,
    o: {
      adapter: simulatorAdapter(),
      numbering: new BillingNumbering(counters),
      checks: { clock, catalogue: SAMPLE_CATALOGUE },
      way: 'direct' as const,
      sender: '751234567',
      fileDate: D,
      signer,
      mode: 'test' as const,
      from: 'dr.fictif@teletrans.test',
      encrypt: async (plain: Uint8Array) => joinParts((await encryptFor(plain, recipient, { insecureSkipVerify: true })).parts),
      compostage,
      packagingClock: () => new Date(clock()),
    },
  };
}

describe('sendDay', () => {
  it('bills, encrypts and packages the day: one message per file, OpenSSL opens it, the insurer’s reader accepts it', async () => {
    const log: Event[] = [];
    const compostage = loggedCompostage(log, 41);
    const { o } = options(log, loggedSigner(log), compostage);
    const day = await sendDay(drafts(), o);
    expect(day.batch.unsigned).toEqual([]);
    const files = day.transmission!.files;
    expect(files.map((f) => [f.kind, f.invoiceCount])).toEqual([['FSE', 3]]);
    expect(day.messages).toHaveLength(1);
    const m = day.messages![0]!;
    // 17:00 UTC on 10 March is 18:00 in Paris; the counter goes on from 41.
    expect(m.compostage).toBe('2025031018000000042');
    expect(m.subject).toBe('SV140700/751234567/2025031018000000042/00003');
    expect(m.description).toBe('FSETEST/B2/K');
    expect(m.filename).toBe(`${files[0]!.name.replace(/\.sim$/, '')}.pkcs7`);
    const parsed = parseMessage(m.message);
    writeFileSync(join(dir, 'day.pkcs7'), parsed.attachment);
    const opened = execFileSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'der', '-in', join(dir, 'day.pkcs7'), '-inkey', join(dir, 'k.pem'), '-recip', join(dir, 'c.pem')]);
    expect(Buffer.from(opened).equals(Buffer.from(files[0]!.bytes))).toBe(true);
    const report = await readBillingFile(new Uint8Array(opened), { anchors: [pki.root], at: new Date(clock()), revocation: 'off', catalogue: SAMPLE_CATALOGUE });
    expect(report.discrepancies).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.documents).toBe(3);
  });

  it('reserves the lot, file and compostage numbers before the card’s first signature, each in one step', async () => {
    const log: Event[] = [];
    const { o } = options(log, loggedSigner(log), loggedCompostage(log));
    await sendDay(drafts(), o);
    expect(log).toEqual(['reserve invoice×3', 'reserve lot×3 file×1', 'compostage reserve×1', 'sign', 'sign', 'sign']);
  });

  it('a card pulled at the 2nd signature: what was signed is sent, the spare lot numbers are skipped, never reused', async () => {
    const log: Event[] = [];
    const compostage = loggedCompostage(log);
    const { o, counters } = options(log, loggedSigner(log, 2), compostage);
    const day = await sendDay(drafts(), o);
    expect(day.batch.signed.map((d) => d.number)).toEqual(['000000001']);
    expect(day.batch.unsigned.map((u) => u.error.field)).toEqual(['signer.card_absent', 'signer.card_absent']);
    expect(day.transmission!.lots.map((l) => l.number)).toEqual(['000001']);
    expect(day.messages!.map((m) => m.subject.split('/').at(-1))).toEqual(['00001']);
    // Three lot numbers were reserved for three invoices; 2 and 3 are gone for good.
    expect(await counters.next('lot:751234567')).toBe(4);
    expect(compostage.value()).toBe(1);
  });

  it('nothing signed: no transmission, no message; the reserved numbers are skipped', async () => {
    const log: Event[] = [];
    const { o, counters } = options(log, loggedSigner(log, 1), loggedCompostage(log));
    const day = await sendDay(drafts(), o);
    expect(day.transmission).toBeUndefined();
    expect(day.messages).toBeUndefined();
    expect(day.batch.unsigned).toHaveLength(3);
    expect(await counters.next('file:751234567')).toBe(2);
  });

  it('bad sending settings are refused before any counter moves', async () => {
    for (const [patch, code] of [
      [{ from: 'pas une adresse' }, 'invalid_address'],
      [{ mode: 'prod' }, 'invalid_mode'],
    ] as const) {
      const log: Event[] = [];
      const { o } = options(log, loggedSigner(log), loggedCompostage(log));
      const e = await sendDay(drafts(), { ...o, ...patch } as typeof o).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(SesamFieldError);
      expect((e as SesamFieldError).code).toBe(code);
      expect(log).toEqual([]);
    }
  });

  it('a lot reservation that fails fails the day after the card, and no message is composed', async () => {
    const log: Event[] = [];
    const compostage = loggedCompostage(log);
    const { o, counters } = options(log, loggedSigner(log), compostage);
    const damaged = Object.assign(new Error('compteur « lot » illisible'), { code: 'counter_corrupt' });
    const reserveMany = counters.reserveMany.bind(counters);
    counters.reserveMany = (r) => (r.some((x) => x.key.startsWith('lot:')) ? Promise.reject(damaged) : reserveMany(r));
    const e = await sendDay(drafts(), o).catch((x: unknown) => x);
    expect(e).toBe(damaged);
    expect(log.filter((x) => x === 'compostage next')).toEqual([]);
  });
});
