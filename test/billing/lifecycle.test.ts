/**
 * The life of invoices, documents and lots (src/lib/billing/lifecycle.ts): only domain
 * operations change state, each checks what it needs and appends to the history; the FSE and
 * the DRE of one invoice have their own fates; a lot is an entity whose retransmission takes a
 * new compostage; an ARL is not the end. Built on the real pipeline (checks, numbering,
 * simulator, signatures with a CPS signature certificate of the fictitious PKI).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BillingNumbering,
  MemoryCounterStore,
  SAMPLE_CATALOGUE,
  buildTransmission,
  cancelInvoice,
  createInvoiceRecord,
  createLotRecord,
  expectedPaymentCents,
  dissolveLot,
  editDraft,
  invoiceDeadline,
  invoiceStatus,
  lotDeadlines,
  lotAccepted,
  lotDelivered,
  prepareInvoice,
  queueLot,
  recordArl,
  recordRsp,
  reopenInvoice,
  signInvoice,
  signPending,
  submitInvoice,
  simulatorAdapter,
  type InvoiceRecord,
  type InvoiceSigner,
  type Lot,
  type LotRecord,
  type SignedDocument,
} from '../../src/lib/billing/index.js';
import { cpsPki } from './support/cps-pki.js';
import { invoiceOf, NIR, RPPS } from './fixtures.js';

const D = '2025-03-10';
let now = Date.UTC(2025, 2, 10, 11, 0);
const clock = () => now;
const AMC = { amc: { identifier: '12345678', contractType: '01', from: '2020-01-01', coverPercent: 100, thirdParty: true } };
const SUBJECT = (compostage: string) => `SV140700/751234567/${compostage}/00001`;

let signer: InvoiceSigner;

beforeAll(async () => {
  signer = (await cpsPki(RPPS.doctor)).signer;
});

const numbering = new BillingNumbering(new MemoryCounterStore());
const adapter = simulatorAdapter();

/** An invoice with an FSE and a DRE, submitted and signed through the domain operations. */
async function signedRecord(id: string): Promise<{ record: InvoiceRecord; signed: SignedDocument[] }> {
  let record = createInvoiceRecord(invoiceOf({ id, acts: [{ code: 'G', date: D }], context: 'amo_amc', dre: true, beneficiary: AMC }), clock);
  const prepared = await prepareInvoice(record.invoice, { adapter, numbering, checks: { clock, catalogue: SAMPLE_CATALOGUE } });
  record = submitInvoice(record, prepared, clock);
  const batch = await signPending([prepared], signer);
  expect(batch.unsigned).toEqual([]);
  record = await signInvoice(record, batch.signed, clock);
  return { record, signed: batch.signed };
}

async function lotsOf(signed: SignedDocument[]): Promise<Lot[]> {
  const t = await buildTransmission(signed, { adapter, numbering, way: 'direct', sender: '751234567', fileDate: D });
  return [...t.lots];
}

const codeOf = async (f: () => unknown): Promise<string> => {
  try {
    await f();
    return 'no error';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
};

describe('invoice records', () => {
  it('draft → to_sign → signed keeps what was submitted, and the history says each step', async () => {
    const { record } = await signedRecord('L-1');
    expect(record.invoice.state).toBe('signed');
    expect(record.documents.map((d) => [d.kind, d.state])).toEqual([
      ['FSE', 'signed'],
      ['DRE', 'signed'],
    ]);
    expect(record.submission?.catalogueVersion).toBe(SAMPLE_CATALOGUE.version);
    expect(record.submission?.priced.totals.feeCents).toBe(3000);
    expect(record.history.map((e) => [e.seq, e.type])).toEqual([
      [1, 'created'],
      [2, 'submitted'],
      [3, 'signed'],
    ]);
    expect(Object.isFrozen(record) && Object.isFrozen(record.history) && Object.isFrozen(record.documents[0])).toBe(true);
    const text = JSON.stringify(record.history);
    expect(text).not.toContain(NIR.slice(0, 13));
    expect(text).not.toContain('DURAND');
    expect(invoiceStatus(record)).toBe('signed');
  });

  it('signing needs every submitted document, unchanged, with a signature that verifies', async () => {
    let record = createInvoiceRecord(invoiceOf({ id: 'L-2', acts: [{ code: 'G', date: D }], context: 'amo_amc', dre: true, beneficiary: AMC }), clock);
    expect(await codeOf(() => signInvoice(record, [], clock))).toBe('transition_forbidden'); // a draft
    const prepared = await prepareInvoice(record.invoice, { adapter, numbering, checks: { clock, catalogue: SAMPLE_CATALOGUE } });
    record = submitInvoice(record, prepared, clock);
    const { signed } = await signPending([prepared], signer);
    const [fse, dre] = signed as [SignedDocument, SignedDocument];
    expect(await codeOf(() => signInvoice(record, [fse], clock))).toBe('signature_failed'); // the DRE is missing
    const garbled = { ...dre, signature: dre.signature.map((b, i) => (i === 10 ? b ^ 1 : b)) };
    expect(await codeOf(() => signInvoice(record, [fse, garbled], clock))).toBe('signature_failed');
    const otherBytes = { ...dre, bytes: fse.bytes, signature: fse.signature };
    expect(await codeOf(() => signInvoice(record, [fse, otherBytes], clock))).toBe('signature_failed');
    // Refusals change nothing: the record still waits for its signature.
    expect(record.invoice.state).toBe('to_sign');
    expect((await signInvoice(record, [dre, fse], clock)).invoice.state).toBe('signed');
  });

  it('a draft is edited, a submitted invoice reopened (its number abandoned), a signed one cancelled only outside a lot', async () => {
    let record = createInvoiceRecord(invoiceOf({ id: 'L-3', acts: [{ code: 'G', date: D }] }), clock);
    record = editDraft(record, invoiceOf({ id: 'L-3', acts: [{ code: 'G', date: D }, { code: 'G', date: '2025-03-09' }] }), clock);
    expect(record.invoice.acts).toHaveLength(2);
    const prepared = await prepareInvoice(record.invoice, { adapter, numbering, checks: { clock, catalogue: SAMPLE_CATALOGUE } });
    record = submitInvoice(record, prepared, clock);
    expect(await codeOf(() => editDraft(record, invoiceOf({ id: 'L-3', acts: [{ code: 'G', date: D }] }), clock))).toBe('transition_forbidden');
    record = reopenInvoice(record, clock);
    expect(record.invoice.state).toBe('draft');
    expect(record.submission).toBeUndefined();
    expect(record.history.at(-1)).toMatchObject({ type: 'reopened', detail: { abandonedNumber: prepared.number } });
    expect(cancelInvoice(record, 'entered_twice', clock).invoice.state).toBe('cancelled');

    const { record: signed, signed: docs } = await signedRecord('L-4');
    const [lot] = await lotsOf(docs);
    const { invoices } = createLotRecord(lot!, '751234567', 'FSE-751234567-000001.sim', [signed], clock);
    expect(await codeOf(() => cancelInvoice(invoices[0]!, 'entered_twice', clock))).toBe('transition_forbidden');
    expect(cancelInvoice(signed, 'entered_twice', clock).invoice.state).toBe('cancelled');
  });
});

describe('lots and the fates of documents', () => {
  it('FSE paid, DRE rejected: two fates for one invoice; the lot goes built → queued → accepted → delivered → acknowledged', async () => {
    const { record, signed } = await signedRecord('L-5');
    const [fseLot, dreLot] = await lotsOf(signed);
    expect([fseLot!.kind, dreLot!.kind]).toEqual(['FSE', 'DRE']);
    const first = createLotRecord(fseLot!, '751234567', 'FSE-1.sim', [record], clock);
    const second = createLotRecord(dreLot!, '751234567', 'DRE-1.sim', first.invoices, clock);
    const [a, b] = [first.lot, second.lot];
    let invoices = second.invoices;
    expect(invoices[0]!.documents.map((d) => [d.state, d.lotId])).toEqual([
      ['in_lot', a.id],
      ['in_lot', b.id],
    ]);
    expect(invoiceStatus(invoices[0]!)).toBe('in_lot');
    for (const [lot, compostage] of [
      [a, '2025031012000000001'],
      [b, '2025031012000000002'],
    ] as const) {
      let l = queueLot(lot, { compostage, subject: SUBJECT(compostage) }, clock);
      l = lotAccepted(l, `msg-${compostage}`, clock);
      ({ lot: l, invoices } = lotDelivered(l, invoices, clock));
      ({ lot: l, invoices } = recordArl(l, { positive: true }, invoices, clock));
      expect(l.state).toBe('acknowledged');
      expect(l.transmissions).toEqual([expect.objectContaining({ compostage, messageId: `msg-${compostage}` })]);
      expect(l.history.map((e) => e.type)).toEqual(['lot_built', 'lot_queued', 'lot_accepted', 'lot_delivered', 'arl_positive']);
    }
    expect(invoiceStatus(invoices[0]!)).toBe('acknowledged');
    const fse = invoices[0]!.documents[0]!;
    let r = recordRsp(invoices[0]!, fse, { status: 'paid', amountCents: expectedPaymentCents(invoices[0]!, 'FSE'), date: '2025-03-14' }, clock);
    const dre = r.documents[1]!;
    expect(await codeOf(() => recordRsp(r, dre, { status: 'paid', amountCents: expectedPaymentCents(invoices[0]!, 'DRE') + 1, date: '2025-03-14' }, clock))).toBe('amount_invalid');
    r = recordRsp(r, dre, { status: 'rejected', code: 'R123', label: 'Droits AMC non ouverts' }, clock);
    expect(r.documents.map((d) => d.state)).toEqual(['paid', 'rejected']);
    expect(r.documents[0]!.payment).toEqual({ amountCents: expectedPaymentCents(invoices[0]!, 'FSE'), date: '2025-03-14' });
    expect(invoiceStatus(r)).toBe('rejected');
    expect(r.history.map((e) => e.type).slice(-2)).toEqual(['rsp_paid', 'rsp_rejected']);
    // An RSP never applies twice, and a paid document is not rejected afterwards.
    expect(await codeOf(() => recordRsp(r, r.documents[0]!, { status: 'rejected', code: 'R1', label: 'x' }, clock))).toBe('transition_forbidden');
  });

  it('a negative ARL leaves the documents sent; the retransmission needs a new compostage', async () => {
    const { record, signed } = await signedRecord('L-6');
    const [fseLot] = await lotsOf(signed.filter((d) => d.kind === 'FSE'));
    let invoices = [record];
    let lot: LotRecord;
    ({ lot, invoices } = createLotRecord(fseLot!, '751234567', 'FSE-2.sim', invoices, clock));
    lot = queueLot(lot, { compostage: '2025031012000000003', subject: SUBJECT('2025031012000000003') }, clock);
    lot = lotAccepted(lot, 'm1', clock);
    ({ lot, invoices } = lotDelivered(lot, invoices, clock));
    ({ lot, invoices } = recordArl(lot, { positive: false, reason: 'structure du lot' }, invoices, clock));
    expect(lot.state).toBe('refused');
    expect(invoices[0]!.documents[0]!.state).toBe('sent');
    expect(await codeOf(() => queueLot(lot, { compostage: '2025031012000000003', subject: SUBJECT('2025031012000000003') }, clock))).toBe('transition_forbidden');
    expect(await codeOf(() => queueLot(lot, { compostage: '2025031012000000004', subject: SUBJECT('2025031012000000003') }, clock))).toBe('format_invalid');
    now += 60_000;
    lot = queueLot(lot, { compostage: '2025031012010000004', subject: SUBJECT('2025031012010000004') }, clock);
    expect(lot.history.at(-1)).toMatchObject({ type: 'lot_queued', detail: { retransmission: true } });
    expect(lot.transmissions.map((t) => t.compostage)).toEqual(['2025031012000000003', '2025031012010000004']);
    lot = lotAccepted(lot, 'm2', clock);
    ({ lot, invoices } = lotDelivered(lot, invoices, clock));
    ({ lot, invoices } = recordArl(lot, { positive: true }, invoices, clock));
    expect(invoices[0]!.documents[0]!.state).toBe('acknowledged');
    expect(lot.arl).toMatchObject({ positive: true });
  });

  it('a lot that never left is dissolved and its documents go into another; one already queued is not', async () => {
    const { record, signed } = await signedRecord('L-7');
    const [first] = await lotsOf(signed.filter((d) => d.kind === 'FSE'));
    let invoices = [record];
    let lot: LotRecord;
    ({ lot, invoices } = createLotRecord(first!, '751234567', 'FSE-3.sim', invoices, clock));
    expect(await codeOf(() => createLotRecord(first!, '751234567', 'FSE-3.sim', invoices, clock))).toBe('transition_forbidden'); // already in a lot
    const before = invoices;
    ({ lot, invoices } = dissolveLot(lot, invoices, clock));
    expect(lot.state).toBe('dissolved');
    expect(invoices[0]!.documents[0]).toMatchObject({ state: 'signed' });
    expect(invoices[0]!.documents[0]!.lotId).toBeUndefined();
    expect(before[0]!.documents[0]!.state).toBe('in_lot'); // inputs untouched
    const [second] = await lotsOf(signed.filter((d) => d.kind === 'FSE'));
    const again = createLotRecord(second!, '751234567', 'FSE-4.sim', invoices, clock);
    expect(again.invoices[0]!.documents[0]!.lotId).toBe(again.lot.id);
    const queued = queueLot(again.lot, { compostage: '2025031012000000005', subject: SUBJECT('2025031012000000005') }, clock);
    expect(await codeOf(() => dissolveLot(queued, again.invoices, clock))).toBe('transition_forbidden');
  });

  it('deadlines: the invoice’s (3 or 8 working days) until delivered; the lot’s ARL and retransmission days', async () => {
    now = Date.UTC(2025, 2, 10, 11, 0); // Monday 10 March 2025, noon in Paris
    const draft = createInvoiceRecord(invoiceOf({ id: 'L-8', acts: [{ code: 'G', date: '2025-03-07' }, { code: 'G', date: D }] }), clock);
    expect(invoiceDeadline(draft)).toBe('2025-03-13'); // the patient pays: 3 working days after the last act
    const { record, signed } = await signedRecord('L-9'); // third-party payment (AMO and AMC)
    expect(invoiceDeadline(record)).toBe('2025-03-20'); // 8 working days
    expect(invoiceDeadline(cancelInvoice(record, 'entered_twice', clock))).toBeUndefined();
    const [fseLot] = await lotsOf(signed.filter((d) => d.kind === 'FSE'));
    let invoices = [record];
    let lot: LotRecord;
    ({ lot, invoices } = createLotRecord(fseLot!, '751234567', 'FSE-5.sim', invoices, clock));
    expect(lotDeadlines(lot)).toEqual({});
    lot = lotAccepted(queueLot(lot, { compostage: '2025031012000000009', subject: SUBJECT('2025031012000000009') }, clock), 'm9', clock);
    ({ lot, invoices } = lotDelivered(lot, invoices, clock));
    expect(lotDeadlines(lot)).toEqual({ arlDue: '2025-03-12', retransmitBy: '2025-03-14' });
    // The DRE has not left: the invoice still has its own deadline; the FSE alone would not.
    expect(invoiceDeadline(invoices[0]!)).toBe('2025-03-20');
    now = Date.UTC(2025, 2, 14, 9, 0); // Friday: a negative ARL
    const refused = recordArl(lot, { positive: false, reason: 'lot illisible' }, invoices, clock).lot;
    expect(lotDeadlines(refused)).toEqual({ retransmitBy: '2025-03-18' });
    expect(lotDeadlines(recordArl(lot, { positive: true }, invoices, clock).lot)).toEqual({});
  });
});
