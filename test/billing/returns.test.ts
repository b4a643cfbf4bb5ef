/**
 * What returns do to the records (src/lib/billing/returns.ts): an ARL read before the relay said
 * « delivered » waits; after, it acknowledges (or refuses) its lots and their documents, and read
 * again changes nothing; an RSP pays in full, in part, or rejects each document it names, brings
 * its notices, names what is not ours, refuses a payment above what was asked.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BillingNumbering, MemoryCounterStore, SAMPLE_CATALOGUE, createInvoiceRecord, lotAccepted, lotDelivered, prepareInvoices, signInvoice, signPending, submitInvoice, transmitRecords,
  type InvoiceRecord, type LotRecord,
} from '../../src/lib/billing/index.js';
import { applyArl, applyRsp, expectedPaymentCents } from '../../src/lib/billing/index.js';
import { simulatorAdapter } from '../../src/lib/billing/ssv/simulator.js';
import { MemoryCompostageStore } from '../../src/lib/sesam/index.js';
import { buildArl, parseArl } from '../../src/lib/sesam/returns/arl.js';
import { buildRsp, parseRsp, type RspLine } from '../../src/lib/sesam/returns/rsp.js';
import { cpsPki, type CpsPki } from './support/cps-pki.js';
import { invoiceOf, RPPS } from './fixtures.js';

const D = '2025-03-10';
const clock = () => Date.UTC(2025, 2, 10, 17, 0);
let pki: CpsPki;
beforeAll(async () => {
  pki = await cpsPki(RPPS.doctor);
});

/** Two signed invoices transmitted: one lot, queued. */
async function transmitted(): Promise<{ invoices: InvoiceRecord[]; lot: LotRecord }> {
  const drafts = [invoiceOf({ id: 'A', acts: [{ code: 'G', date: D, time: '09:00' }], context: 'amo' }), invoiceOf({ id: 'B', acts: [{ code: 'G', date: D, time: '10:00' }], beneficiary: { rank: 2 }, context: 'amo' })];
  const prepared = await prepareInvoices(drafts, { adapter: simulatorAdapter(), numbering: new BillingNumbering(new MemoryCounterStore()), checks: { clock, catalogue: SAMPLE_CATALOGUE } });
  const batch = await signPending(prepared, pki.signer);
  const records = await Promise.all(drafts.map((d, i) => signInvoice(submitInvoice(createInvoiceRecord(d, clock), prepared[i]!, clock), batch.signed.filter((s) => s.number === prepared[i]!.number), clock)));
  const out = await transmitRecords(records, { adapter: simulatorAdapter(), numbering: new BillingNumbering(new MemoryCounterStore()), way: 'direct', mode: 'test', from: 'dr.fictif@teletrans.test', encrypt: async (p) => p, compostage: new MemoryCompostageStore(5), clock });
  expect(out.lots).toHaveLength(1);
  const byId = new Map(records.map((r) => [r.id, r]));
  for (const r of out.invoices) byId.set(r.id, r);
  return { invoices: [...byId.values()], lot: out.lots[0]! };
}

const arlFor = (lot: LotRecord, accepted: boolean) =>
  parseArl(buildArl({ fileName: lot.fileName, compostage: lot.transmissions.at(-1)!.compostage, lots: [accepted ? { sender: lot.sender, kind: lot.kind, number: lot.number, documents: lot.documents.length, accepted: true } : { sender: lot.sender, kind: lot.kind, number: lot.number, documents: lot.documents.length, accepted: false, reasonCode: 'R12', reason: 'Total du lot faux' }] }));

function delivered(t: { invoices: InvoiceRecord[]; lot: LotRecord }): { invoices: InvoiceRecord[]; lot: LotRecord } {
  const d = lotDelivered(lotAccepted(t.lot, 'relay-1', clock), t.invoices, clock);
  return { invoices: d.invoices, lot: d.lot };
}

describe('applyArl', () => {
  it('waits while the lot is not delivered; then acknowledges the lot and its documents; read again, nothing changes', async () => {
    const t = await transmitted();
    const early = applyArl(arlFor(t.lot, true), [t.lot], t.invoices, clock);
    expect(early.waiting).toEqual([`lot FSE ${t.lot.number} (queued)`]);
    expect(early.lots).toEqual([]);

    const d = delivered(t);
    const e = applyArl(arlFor(d.lot, true), [d.lot], d.invoices, clock);
    expect(e.waiting).toEqual([]);
    expect(e.lots.map((l) => [l.id, l.state, l.arl?.positive])).toEqual([[d.lot.id, 'acknowledged', true]]);
    expect(e.invoices).toHaveLength(2);
    for (const r of e.invoices) expect(r.documents.every((doc) => doc.state === 'acknowledged')).toBe(true);
    const again = applyArl(arlFor(d.lot, true), e.lots, e.invoices, clock);
    expect([again.lots, again.invoices, again.waiting, again.unknown]).toEqual([[], [], [], []]);
  });

  it('a negative ARL refuses the lot with its reason; a lot of another file is unknown', async () => {
    const d = delivered(await transmitted());
    const e = applyArl(arlFor(d.lot, false), [d.lot], d.invoices, clock);
    expect(e.lots[0]).toMatchObject({ state: 'refused', arl: { positive: false, reason: 'R12 Total du lot faux' } });
    const other = parseArl(buildArl({ fileName: 'FSE-751234567-999999.sim', compostage: '2025031018000000099', lots: [{ sender: '751234567', kind: 'FSE', number: '999999', documents: 1, accepted: true }] }));
    expect(applyArl(other, [d.lot], d.invoices, clock).unknown).toEqual(['lot FSE 999999 de 751234567']);
  });
});

describe('applyRsp', () => {
  it('pays in full, in part, rejects; notices shown; unknown documents named; a payment above what was asked refused', async () => {
    const d = delivered(await transmitted());
    const [a, b] = d.invoices.map((r) => r.documents[0]!);
    // What the AMO owes the practitioner under third-party payment (its gross part).
    const owed = expectedPaymentCents(d.invoices[0]!, 'FSE');
    expect(owed).toBeGreaterThan(a!.signed.askedCents);
    const lines: RspLine[] = [
      { type: 'payment', sender: '751234567', kind: 'FSE', number: a!.number, full: true, amountCents: owed, date: '2025-03-20' },
      { type: 'payment', sender: '751234567', kind: 'FSE', number: b!.number, full: false, amountCents: 100, date: '2025-03-20' },
      { type: 'notice', sender: '751234567', kind: 'FSE', number: b!.number, code: 'S12', label: 'Participation forfaitaire retenue' },
      { type: 'rejection', sender: '751234567', kind: 'FSE', number: '000000999', code: 'R1', label: 'Inconnue' },
    ];
    const rsp = parseRsp(buildRsp({ organism: '01931', transfer: { date: '2025-03-20', totalCents: owed + 100 }, lines }));
    const e = applyRsp(rsp, d.invoices, clock);
    const state = (n: string) => e.invoices.flatMap((r) => r.documents).find((x) => x.number === n);
    expect(state(a!.number)).toMatchObject({ state: 'paid', payment: { amountCents: owed, date: '2025-03-20' } });
    expect(state(b!.number)).toMatchObject({ state: 'partially_paid', payment: { amountCents: 100 } });
    expect(e.notices).toEqual([{ kind: 'FSE', number: b!.number, code: 'S12', label: 'Participation forfaitaire retenue' }]);
    expect(e.unknown).toEqual(['FSE 000000999 de 751234567']);
    // Read again: already applied, nothing changes.
    const again = applyRsp(rsp, d.invoices.map((r) => e.invoices.find((x) => x.id === r.id) ?? r), clock);
    expect(again.invoices).toEqual([]);

    const rejectAll = parseRsp(buildRsp({ organism: '01931', transfer: { date: '2025-03-20', totalCents: 0 }, lines: [{ type: 'rejection', sender: '751234567', kind: 'FSE', number: a!.number, code: 'R102', label: 'Droits fermés' }] }));
    expect(applyRsp(rejectAll, d.invoices, clock).invoices[0]!.documents[0]).toMatchObject({ state: 'rejected', rejection: { code: 'R102', label: 'Droits fermés' } });
    const tooMuch = parseRsp(buildRsp({ organism: '01931', transfer: { date: '2025-03-20', totalCents: owed + 1 }, lines: [{ type: 'payment', sender: '751234567', kind: 'FSE', number: a!.number, full: false, amountCents: owed + 1, date: '2025-03-20' }] }));
    const anomaly = applyRsp(tooMuch, d.invoices, clock);
    expect(anomaly.invoices).toEqual([]);
    expect(anomaly.anomalies).toHaveLength(1);
  });

  it('a document not yet sent waits', async () => {
    const t = await transmitted();
    const doc = t.invoices[0]!.documents[0]!;
    const rsp = parseRsp(buildRsp({ organism: '01931', transfer: { date: '2025-03-20', totalCents: 0 }, lines: [{ type: 'rejection', sender: '751234567', kind: 'FSE', number: doc.number, code: 'R1', label: 'Rejet' }] }));
    expect(applyRsp(rsp, t.invoices, clock).waiting).toEqual([`FSE ${doc.number} (in_lot)`]);
  });
});
