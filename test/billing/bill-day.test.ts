/**
 * The evening's one action (`billDay`, src/lib/billing/ssv/pipeline.ts): the day's drafts
 * checked together before any number is drawn, one reservation of invoice numbers, one card
 * signature per document, lots and files of what was signed; a card pulled midway leaves the
 * rest unsigned and still transmits what was signed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { BillingError, BillingNumbering, MemoryCounterStore, SAMPLE_CATALOGUE, billDay, simulatorAdapter, type InvoiceSigner } from '../../src/lib/billing/index.js';
import { cpsPki } from './support/cps-pki.js';
import { invoiceOf, RPPS } from './fixtures.js';

const D = '2025-03-10';
const clock = () => Date.UTC(2025, 2, 10, 17, 0);
let signer: InvoiceSigner;

beforeAll(async () => {
  signer = (await cpsPki(RPPS.doctor)).signer;
});

const drafts = () => [
  invoiceOf({ id: 'A', acts: [{ code: 'G', date: D, time: '09:00' }] }),
  invoiceOf({ id: 'B', acts: [{ code: 'G', date: D, time: '10:00' }], beneficiary: { fund: '931' } }),
  invoiceOf({ id: 'C', acts: [{ code: 'VG', date: D, time: '11:00' }], beneficiary: { scheme: '02' } }),
];

function setup() {
  const store = new MemoryCounterStore();
  return { store, base: { adapter: simulatorAdapter(), numbering: new BillingNumbering(store), checks: { clock, catalogue: SAMPLE_CATALOGUE }, way: 'direct' as const, sender: '751234567', fileDate: D } };
}

describe('billDay', () => {
  it('checks, numbers, signs, and groups the day in one action', async () => {
    const { base } = setup();
    const day = await billDay(drafts(), { ...base, signer });
    expect(day.prepared.map((p) => [p.invoice.id, p.number])).toEqual([
      ['A', '000000001'],
      ['B', '000000002'],
      ['C', '000000003'],
    ]);
    expect(day.batch.unsigned).toEqual([]);
    expect(day.transmission!.lots.map((l) => [l.number, l.destination.organism, l.documents.length])).toEqual([
      ['000001', '01751', 1],
      ['000002', '01931', 1],
      ['000003', '02000', 1],
    ]);
    expect(day.transmission!.files.map((f) => [f.kind, f.number, f.invoiceCount])).toEqual([['FSE', '000001', 3]]);
  });

  it('a refused draft stops everything before a number is drawn; so does a missing OCT number', async () => {
    const { base, store } = setup();
    const bad = [...drafts(), invoiceOf({ id: 'D', acts: [{ code: 'G', date: '2025-03-11' }] })]; // tomorrow
    const e = await billDay(bad, { ...base, signer }).catch((x: unknown) => x as BillingError);
    expect(e).toBeInstanceOf(BillingError);
    expect((e as BillingError).code).toBe('checks_failed');
    expect((e as BillingError).issues.map((i) => [i.code, i.field])).toEqual([['act_in_future', 'D.acts[0].date']]);
    const oct = await billDay(drafts(), { ...base, way: 'oct_single', signer }).catch((x: unknown) => x as BillingError);
    expect((oct as BillingError).code).toBe('format_invalid');
    expect(await store.next('invoice:751234567')).toBe(1); // nothing was drawn before
  });

  it('a card pulled at the 2nd signature: the first invoice is signed and transmitted, the others wait with the reason', async () => {
    const { base } = setup();
    let calls = 0;
    const pulled: InvoiceSigner = {
      certificate: () => signer.certificate(),
      signDigest: async (d) => {
        if (++calls >= 2) throw Object.assign(new Error('carte absente'), { code: 'card_absent' });
        return signer.signDigest(d);
      },
    };
    const day = await billDay(drafts(), { ...base, signer: pulled });
    expect(day.batch.signed.map((d) => d.number)).toEqual(['000000001']);
    expect(day.batch.unsigned.map((u) => [u.document.number, u.error.field])).toEqual([
      ['000000002', 'signer.card_absent'],
      ['000000003', 'signer.card_absent'],
    ]);
    expect(day.transmission!.files.map((f) => f.invoiceCount)).toEqual([1]);
    expect(calls).toBe(2);
  });
});
