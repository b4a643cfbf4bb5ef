/**
 * The 3 months of copies (src/lib/billing/retention.ts): an invoice goes only once its fate is
 * settled (a positive ARL, or cancelled) and 3 calendar months after its last event; one still
 * waiting for its ARL stays whatever its age; a lot goes with the last of its invoices.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BillingNumbering, MemoryCounterStore, SAMPLE_CATALOGUE, addMonths, buildTransmission, cancelInvoice, createInvoiceRecord, createLotRecord, lotAccepted, lotDelivered, prepareInvoices, purgeable,
  queueLot, recordArl, signInvoice, signPending, submitInvoice, type InvoiceRecord,
} from '../../src/lib/billing/index.js';
import { simulatorAdapter } from '../../src/lib/billing/ssv/simulator.js';
import { cpsPki, type CpsPki } from './support/cps-pki.js';
import { invoiceOf, RPPS } from './fixtures.js';

let pki: CpsPki;
beforeAll(async () => {
  pki = await cpsPki(RPPS.doctor);
});

describe('addMonths', () => {
  it('calendar months, the 31st of a shorter month on its last day', () => {
    expect(addMonths('2025-03-10', 3)).toBe('2025-06-10');
    expect(addMonths('2025-11-30', 3)).toBe('2026-02-28');
    expect(addMonths('2024-11-30', 3)).toBe('2025-02-28');
    expect(addMonths('2023-11-29', 3)).toBe('2024-02-29');
    expect(addMonths('2025-10-31', 3)).toBe('2026-01-31');
  });
});

describe('purgeable', () => {
  it('settled and 3 months old: goes; waiting for its ARL or never sent: stays; the lot goes with its invoices', async () => {
    const clock = () => Date.UTC(2025, 2, 10, 17, 0);
    const drafts = [
      invoiceOf({ id: 'A', acts: [{ code: 'G', date: '2025-03-10', time: '09:00' }] }),
      invoiceOf({ id: 'B', acts: [{ code: 'G', date: '2025-03-10', time: '10:00' }], beneficiary: { rank: 2 } }),
      invoiceOf({ id: 'C', acts: [{ code: 'G', date: '2025-03-10', time: '11:00' }], beneficiary: { rank: 3 } }),
      invoiceOf({ id: 'D', acts: [{ code: 'G', date: '2025-03-10', time: '12:00' }], beneficiary: { rank: 4 } }),
    ];
    const numbering = new BillingNumbering(new MemoryCounterStore());
    const prepared = await prepareInvoices(drafts, { adapter: simulatorAdapter(), numbering, checks: { clock, catalogue: SAMPLE_CATALOGUE } });
    let records: InvoiceRecord[] = drafts.map((d, i) => submitInvoice(createInvoiceRecord(d, clock), prepared[i]!, clock));
    const batch = await signPending(prepared, pki.signer);
    records = await Promise.all(records.map((r) => signInvoice(r, batch.signed.filter((s) => s.number === r.submission!.number), clock)));
    records = records.map((r) => (r.id === 'D' ? cancelInvoice(r, 'entered_twice', clock) : r));
    // A and B in one lot, sent and acknowledged; C in another, sent, no ARL yet.
    const lotOf = async (ids: string[], compostage: string) => {
      const docs = records.filter((r) => ids.includes(r.id)).flatMap((r) => r.documents.map((d) => d.signed));
      const t = await buildTransmission(docs, { adapter: simulatorAdapter(), numbering, way: 'direct', sender: '751234567', fileDate: '2025-03-10' });
      const built = createLotRecord(t.lots[0]!, '751234567', t.files[0]!.name, records, clock);
      const queued = lotAccepted(queueLot(built.lot, { compostage, subject: `SV140700/751234567/${compostage}/0000${ids.length}` }, clock), 'relay', clock);
      const delivered = lotDelivered(queued, built.invoices, clock);
      records = delivered.invoices;
      return delivered.lot;
    };
    let ab = await lotOf(['A', 'B'], '2025031018000000001');
    const c = await lotOf(['C'], '2025031018000000002');
    const acked = recordArl(ab, { positive: true }, records, () => Date.UTC(2025, 2, 12, 9, 0));
    ab = acked.lot;
    records = acked.invoices;

    // Two months later: nothing goes.
    expect(purgeable(records, [ab, c], '2025-05-12')).toEqual({ invoices: [], lots: [] });
    // Three months after the ARL (12 March → 12 June): A, B (acknowledged), D (cancelled) and
    // their lot go; C, still waiting for its ARL, stays, and so does its lot.
    const june = purgeable(records, [ab, c], '2025-06-12');
    expect([...june.invoices].sort()).toEqual(['A', 'B', 'D']);
    expect(june.lots).toEqual([ab.id]);
    expect(purgeable(records, [ab, c], '2025-06-11').invoices).toEqual(['D']);
    // A year on, C still stays: never acknowledged.
    expect(purgeable(records, [ab, c], '2026-03-10').invoices).not.toContain('C');
  });
});
