/**
 * The simulator end to end, read back by the insurer's reader (its conformance test): prepare
 * (checks, pricing, numbering, FSE + DRE), sign with a CPS signature certificate of the
 * fictitious PKI, lots and files in every transmission way, then `readBillingFile` verifies
 * every signature and chain and re-prices every invoice. Then what the reader must catch: a
 * changed amount, a changed byte, a certificate from another hierarchy, another practitioner's
 * card, a duplicated document.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cpsPki, type CpsPki } from './support/cps-pki.js';
import { BillingError, BillingNumbering, MemoryCounterStore, type Invoice, SAMPLE_CATALOGUE } from '../../src/lib/billing/index.js';
import { readBillingFile } from '../../src/lib/billing/reader.js';
import { buildTransmission, prepareInvoice, signPending, type PreparedInvoice } from '../../src/lib/billing/ssv/pipeline.js';
import { encodeDocument, encodeFile, encodeLot, decodeFile } from '../../src/lib/billing/ssv/sim-format.js';
import { simulatorAdapter, SIMULATOR_VERSION } from '../../src/lib/billing/ssv/simulator.js';
import type { SignedDocument, TransmissionWay } from '../../src/lib/billing/ssv/types.js';
import { invoiceOf, RPPS, type InvoiceSpec } from './fixtures.js';

/** Noon in Paris on 2025-03-10. */
const clock = () => Date.UTC(2025, 2, 10, 11, 0);
const at = new Date(Date.UTC(2025, 2, 11, 9, 0));
const D = '2025-03-10';
const AMC = { amc: { identifier: '12345678', contractType: '01', from: '2020-01-01', coverPercent: 100, thirdParty: true } };

type Pki = CpsPki;
const pki = cpsPki;

const specs: InvoiceSpec[] = [
  { id: 'A', acts: [{ code: 'G', date: D }] },
  { id: 'B', acts: [{ code: 'G', date: D }], context: 'amo', beneficiary: { fund: '931' } },
  { id: 'C', acts: [{ code: 'G', date: D }], context: 'amo_amc', dre: true, beneficiary: AMC },
  { id: 'D', profession: 'doctor', acts: [{ code: 'G', date: D }], beneficiary: { scheme: '02', fund: '751' } },
];

let doctor: Pki;
let stranger: Pki;

beforeAll(async () => {
  doctor = await pki(RPPS.doctor);
  stranger = await pki(RPPS.nurse);
});

async function day(invoices: Invoice[], way: TransmissionWay, signer = () => doctor.signer) {
  const adapter = simulatorAdapter();
  const numbering = new BillingNumbering(new MemoryCounterStore());
  const prepared: PreparedInvoice[] = [];
  for (const inv of invoices) prepared.push(await prepareInvoice(inv, { adapter, numbering, checks: { clock, catalogue: SAMPLE_CATALOGUE } }));
  const batch = await signPending(prepared, signer());
  expect(batch.unsigned).toEqual([]);
  const t = await buildTransmission(batch.signed, { adapter, numbering, way, sender: '751234567', fileDate: D, octNumber: '123456789' });
  return { prepared, signed: batch.signed, ...t };
}

describe('simulator files read back by the insurer’s reader', () => {
  it.each<TransmissionWay>(['direct', 'oct_split', 'oct_single'])('%s: every file verifies and adds up', async (way) => {
    const { files, signed, prepared } = await day(specs.map(invoiceOf), way);
    expect(signed).toHaveLength(5); // four FSE and one DRE
    expect(new Set(prepared.map((p) => p.number)).size).toBe(4);
    let documents = 0;
    for (const f of files) {
      expect(f.version).toBe(SIMULATOR_VERSION);
      const report = await readBillingFile(f.bytes, { anchors: [doctor.root], at, revocation: 'off', catalogue: SAMPLE_CATALOGUE });
      expect(report.discrepancies).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.kind).toBe(f.kind);
      expect(report.documents).toBe(f.invoiceCount);
      for (const lot of report.lots) for (const d of lot.documents) expect(d.recomputed).toEqual(d.declared);
      documents += report.documents;
    }
    expect(documents).toBe(5);
    if (way === 'oct_single') expect(files.map((f) => f.kind)).toEqual(['FACTURE']);
    else expect(files.map((f) => f.kind).sort()).toEqual(['DRE', 'FSE']);
  });

  it('names a changed amount, act by act and in the total', async () => {
    const inv = invoiceOf(specs[0]!);
    const { prepared } = await day([inv], 'direct');
    const p = prepared[0]!;
    // The practitioner's software declares one cent more on the AMO part: re-formatted and
    // re-signed, so the signature is good and only the amounts are wrong.
    const act = { ...p.priced.acts[0]!, amoCents: p.priced.acts[0]!.amoCents + 1 };
    const priced = { ...p.priced, acts: [act], totals: { ...p.priced.totals, amoCents: p.priced.totals.amoCents + 1 } };
    const fse = p.documents[0]!;
    const bytes = encodeDocument('FSE', { invoice: p.invoice, priced, number: p.number, createdOn: D }, fse.destination, SIMULATOR_VERSION);
    const doc: SignedDocument = await simulatorAdapter().sign({ ...fse, bytes }, doctor.signer);
    const lot = encodeLot({ kind: 'FSE', number: '000001', destination: fse.destination, senderType: 'PS', sender: '751234567', version: SIMULATOR_VERSION }, [doc]);
    const file = encodeFile({ kind: 'FSE', number: '000001', name: 'FSE-751234567-000001.sim', fileDate: D, senderType: 'PS', sender: '751234567', version: SIMULATOR_VERSION, criterion: 'ORG' }, [lot]);
    const report = await readBillingFile(file, { anchors: [doctor.root], at, revocation: 'off', catalogue: SAMPLE_CATALOGUE });
    expect(report.ok).toBe(false);
    const found = report.discrepancies.map((d) => [d.code, d.where.split(' · ').slice(-1)[0], d.declared, d.recomputed]);
    expect(found).toEqual([
      ['amount_differs', 'amoCents', act.amoCents, act.amoCents - 1],
      ['total_differs', 'amoCents', act.amoCents, act.amoCents - 1],
    ]);
  });

  it('refuses a document whose signed bytes changed, a foreign hierarchy and another practitioner’s card', async () => {
    const { files } = await day([invoiceOf(specs[0]!)], 'direct');
    const f = files[0]!;
    // Another hierarchy: the chain does not reach the anchor.
    const foreign = await readBillingFile(f.bytes, { anchors: [stranger.root], at, revocation: 'off', catalogue: SAMPLE_CATALOGUE });
    expect(foreign.discrepancies.map((d) => d.code)).toEqual(['certificate_invalid']);
    // Another practitioner's card signs the doctor's invoice.
    const other = await day([invoiceOf(specs[0]!)], 'direct', () => stranger.signer);
    const r = await readBillingFile(other.files[0]!.bytes, { anchors: [stranger.root], at, revocation: 'off', catalogue: SAMPLE_CATALOGUE });
    expect(r.discrepancies.map((d) => d.code)).toEqual(['signer_not_practitioner']);
    // One byte of the invoice changed after signing (a digit of an amount, so it still parses).
    const decoded = decodeFile(f.bytes);
    const original = decoded.lots[0]!.documents[0]!.bytes;
    const text = new TextDecoder().decode(f.bytes);
    const docText = new TextDecoder().decode(original);
    // The act's code G becomes V (same length: the lot's length prefix still holds).
    const act = '\r\n141|1=1|2=G|';
    const idx = docText.indexOf(act);
    expect(idx).toBeGreaterThan(0);
    const tampered = text.replace(docText, docText.slice(0, idx) + act.replace('G', 'V') + docText.slice(idx + act.length));
    expect(tampered).not.toBe(text);
    const t = await readBillingFile(new TextEncoder().encode(tampered), { anchors: [doctor.root], at, revocation: 'off', catalogue: SAMPLE_CATALOGUE }).catch((e: unknown) => e);
    if (t instanceof BillingError) throw new Error(`expected a readable file: ${t.code} ${t.field}`);
    const codes = (t as Awaited<ReturnType<typeof readBillingFile>>).discrepancies.map((d) => d.code);
    expect(codes).toContain('signature_invalid');
  });

  it('finds a document present twice', async () => {
    const { signed } = await day([invoiceOf(specs[0]!)], 'direct');
    const d = signed[0]!;
    const lot = encodeLot({ kind: 'FSE', number: '000001', destination: d.destination, senderType: 'PS', sender: '751234567', version: SIMULATOR_VERSION }, [d, d]);
    const file = encodeFile({ kind: 'FSE', number: '000001', name: 'FSE-751234567-000001.sim', fileDate: D, senderType: 'PS', sender: '751234567', version: SIMULATOR_VERSION, criterion: 'ORG' }, [lot]);
    const report = await readBillingFile(file, { anchors: [doctor.root], at, revocation: 'off', catalogue: SAMPLE_CATALOGUE });
    expect(report.discrepancies.map((x) => x.code)).toEqual(['duplicate_document']);
  });

  it('an unreadable file is a typed error, not a report', async () => {
    const e = await readBillingFile(new TextEncoder().encode('not a file'), { anchors: [doctor.root], at, catalogue: SAMPLE_CATALOGUE }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BillingError);
    expect((e as BillingError).code).toBe('format_invalid');
  });
});
