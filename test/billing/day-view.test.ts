/**
 * The home page's day (src/lib/client/day/day-view.ts) from the records' clear parts: the
 * unsent invoices by deadline with the working days left (a weekend does not count, a passed
 * deadline is negative), cancelled and sent ones left out; the outbox counted and its
 * problems listed; a delivered lot's ARL due date and last day to retransmit.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BillingNumbering, MemoryCounterStore, SAMPLE_CATALOGUE, cancelInvoice, createInvoiceRecord, createLotRecord, lotAccepted, lotBounced, lotDelivered, prepareInvoices, recordArl, queueLot, signInvoice, signPending, submitInvoice, summarizeInvoice, buildTransmission,
  type InvoiceRecord,
} from '../../src/lib/billing/index.js';
import { simulatorAdapter } from '../../src/lib/billing/ssv/simulator.js';
import { dayView } from '../../src/lib/client/day/day-view.js';
import type { OutboxEntry } from '../../src/lib/client/store/billing-db.js';
import { cpsPki, type CpsPki } from './support/cps-pki.js';
import { invoiceOf, RPPS } from './fixtures.js';

let pki: CpsPki;
beforeAll(async () => {
  pki = await cpsPki(RPPS.doctor);
});

// Wednesday 12 March 2025, 10:00 in Paris.
const clock = () => Date.UTC(2025, 2, 12, 9, 0);
const entry = (id: string, state: OutboxEntry['state'], updatedAt = '2025-03-12T08:00:00.000Z'): OutboxEntry => ({
  id, keyId: 'k', lotIds: [], subject: `SV140700/751234567/2025031209000000${id}/00001`, compostage: `2025031209000000${id}`, to: 'amo_pj.test@test.rss.fr', messageId: `<${id}@t>`,
  message: new Uint8Array(1), createdAt: updatedAt, updatedAt, state, attempts: 1, nextAttemptAt: 0, ...(state === 'bounced' ? { lastError: 'non remis : 550 boîte inconnue' } : {}),
});

describe('dayView', () => {
  it('says what is left to sign and to send, by when, and what the outbox needs', async () => {
    const drafts = [
      invoiceOf({ id: 'A', acts: [{ code: 'G', date: '2025-03-10', time: '09:00' }] }),
      invoiceOf({ id: 'B', acts: [{ code: 'G', date: '2025-03-10', time: '10:00' }], context: 'amo', beneficiary: { rank: 2 } }),
      invoiceOf({ id: 'C', acts: [{ code: 'G', date: '2025-03-05', time: '11:00' }], beneficiary: { rank: 3 } }),
      invoiceOf({ id: 'D', acts: [{ code: 'G', date: '2025-03-11', time: '12:00' }], beneficiary: { rank: 4 } }),
      invoiceOf({ id: 'E', acts: [{ code: 'G', date: '2025-03-10', time: '13:00' }], beneficiary: { rank: 5 } }),
    ];
    const numbering = new BillingNumbering(new MemoryCounterStore());
    const prepared = await prepareInvoices(drafts, { adapter: simulatorAdapter(), numbering, checks: { clock, catalogue: SAMPLE_CATALOGUE } });
    let records: InvoiceRecord[] = drafts.map((d, i) => submitInvoice(createInvoiceRecord(d, clock), prepared[i]!, clock));
    const batch = await signPending(prepared.slice(1), pki.signer);
    records = await Promise.all(records.map((r) => (r.id === 'A' ? r : signInvoice(r, batch.signed.filter((s) => s.number === r.submission!.number), clock))));
    records = records.map((r) => (r.id === 'D' ? cancelInvoice(r, 'entered_twice', clock) : r));
    // E went out on Monday 10 March: lot built, queued, accepted, delivered that day.
    const monday = () => Date.UTC(2025, 2, 10, 17, 0);
    const e = records.find((r) => r.id === 'E')!;
    const t = await buildTransmission(e.documents.map((d) => d.signed), { adapter: simulatorAdapter(), numbering, way: 'direct', sender: '751234567', fileDate: '2025-03-10' });
    const built = createLotRecord(t.lots[0]!, '751234567', t.files[0]!.name, records, monday);
    const queued = lotAccepted(queueLot(built.lot, { compostage: '2025031018000000001', subject: 'SV140700/751234567/2025031018000000001/00001' }, monday), 'relay-1', monday);
    const delivered = lotDelivered(queued, built.invoices, monday);
    records = delivered.invoices;

    const view = dayView({
      invoices: records.map((r) => ({ id: r.id, summary: summarizeInvoice(r) })),
      lots: [delivered.lot],
      outbox: [entry('1', 'waiting'), entry('2', 'accepted'), entry('3', 'delivered'), entry('4', 'delivered', '2025-03-11T08:00:00.000Z'), entry('5', 'bounced')],
      today: '2025-03-12',
    });
    expect(view.unsent.map((u) => [u.id, u.status, u.deadline, u.workingDaysLeft])).toEqual([
      ['C', 'signed', '2025-03-10', -2],
      ['A', 'to_sign', '2025-03-13', 1],
      ['B', 'signed', '2025-03-20', 6],
    ]);
    expect(view.toSign).toBe(1);
    expect(view.today).toBe(5);
    expect(view.outbox).toEqual({ waiting: 1, accepted: 1, deliveredToday: 1 });
    expect(view.problems.map((p) => p.id)).toEqual(['5']);
    expect(view.awaitingArl).toEqual([{ lotId: delivered.lot.id, kind: 'FSE', number: delivered.lot.number, arlDue: '2025-03-12', retransmitBy: '2025-03-14', late: false }]);
    expect(view.toResend).toEqual([]);
    // C is past its deadline; A is due tomorrow (B has six working days).
    expect(view.alerts).toEqual([
      { level: 'late', text: '1 facture hors du délai de transmission' },
      { level: 'soon', text: '1 facture à transmettre au plus tard le jour ouvré suivant' },
    ]);
    // Two days later the ARL is late: the lot is to retransmit, by that day; after it, late.
    const friday = dayView({ invoices: [], lots: [delivered.lot], outbox: [], today: '2025-03-14' });
    expect(friday.awaitingArl[0]!.late).toBe(true);
    expect(friday.toResend).toEqual([{ lotId: delivered.lot.id, kind: 'FSE', number: delivered.lot.number, reason: 'arl_missing', retransmitBy: '2025-03-14', late: false }]);
    expect(friday.alerts).toEqual([{ level: 'soon', text: '1 lot à retransmettre au plus tard le jour ouvré suivant' }]);
    const monday17 = dayView({ invoices: [], lots: [delivered.lot], outbox: [], today: '2025-03-17' });
    expect(monday17.toResend[0]!.late).toBe(true);
    expect(monday17.alerts).toEqual([{ level: 'late', text: '1 lot hors du délai de retransmission' }]);
    // A negative ARL on Wednesday: to retransmit by Friday, with its reason; not delivered: to send again.
    const refused = recordArl(delivered.lot, { positive: false, reason: 'R12 Total du lot faux' }, records, clock).lot;
    expect(dayView({ invoices: [], lots: [refused], outbox: [], today: '2025-03-12' }).toResend).toEqual([{ lotId: refused.id, kind: 'FSE', number: refused.number, reason: 'arl_negative', detail: 'R12 Total du lot faux', retransmitBy: '2025-03-14', late: false }]);
    const bounced = lotBounced(queued, '5.1.1', monday);
    expect(dayView({ invoices: [], lots: [bounced], outbox: [], today: '2025-03-12' }).toResend).toEqual([{ lotId: bounced.id, kind: 'FSE', number: bounced.number, reason: 'bounced', detail: '5.1.1', late: false }]);
  });
});
