/** Finding acts as they are typed, and the invoice evaluated as it is typed. */
import { describe, expect, it } from 'vitest';
import { SAMPLE_CATALOGUE, actsInForce, createBeneficiary, createPractitioner, evaluateInvoice, searchActs, type InvoiceInput } from '../../src/lib/billing/index.js';
import { invoiceData, RPPS, type InvoiceSpec } from './fixtures.js';

const D = '2025-03-10';

describe('searchActs', () => {
  it('by code first, then by the beginnings of label words, accents and case ignored; only the profession’s acts in force', () => {
    expect(searchActs(SAMPLE_CATALOGUE, 'G', 'doctor', D).map((r) => r.code)[0]).toBe('G');
    expect(searchActs(SAMPLE_CATALOGUE, 'con gén', 'doctor', D).map((r) => r.code)).toContain('G');
    expect(searchActs(SAMPLE_CATALOGUE, 'CONSULTATION GENERALE', 'doctor', D).map((r) => r.code)).toContain('G');
    expect(searchActs(SAMPLE_CATALOGUE, 'visite', 'doctor', D).map((r) => r.code)).toEqual(expect.arrayContaining(['V', 'VG']));
    // A nurse's act is not a doctor's.
    expect(searchActs(SAMPLE_CATALOGUE, 'AMI', 'doctor', D)).toEqual([]);
    expect(searchActs(SAMPLE_CATALOGUE, 'ami', 'nurse', D).map((r) => r.code)[0]).toBe('AMI');
    expect(searchActs(SAMPLE_CATALOGUE, '   ', 'doctor', D)).toEqual([]);
    expect(searchActs(SAMPLE_CATALOGUE, 'zzz', 'doctor', D)).toEqual([]);
  });

  it('one row per code: the one in force on the day of care', () => {
    const g = (day: string) => actsInForce(SAMPLE_CATALOGUE, 'doctor', day).filter((r) => r.code === 'G');
    expect(g('2024-01-10').map((r) => r.unitCents)).toEqual([2650]);
    expect(g('2025-01-10').map((r) => r.unitCents)).toEqual([3000]);
  });
});

/** What the page hands evaluateInvoice: the models from the cards, the rest as typed. */
function typed(spec: InvoiceSpec): InvoiceInput {
  const d = invoiceData(spec);
  return { ...d.invoice, practitioner: createPractitioner(d.practitioner), beneficiary: createBeneficiary(d.beneficiary) };
}

describe('evaluateInvoice', () => {
  const clock = () => Date.UTC(2025, 2, 10, 17, 0);
  it('priced with its working when all is right', () => {
    const data = typed({ id: 'E1', acts: [{ code: 'G', date: D, time: '09:00' }] });
    const e = evaluateInvoice(data, { clock, catalogue: SAMPLE_CATALOGUE });
    expect(e.problems).toEqual([]);
    expect(e.priced?.totals.feeCents).toBe(3000);
    expect(e.priced?.acts[0]?.working.length).toBeGreaterThan(0);
  });

  it('never throws on what is typed: construction errors, checks and pricing refusals are problems', () => {
    const bad = typed({ id: 'E2', acts: [{ code: 'G', date: '2025-13-40' }] });
    const e1 = evaluateInvoice(bad, { clock, catalogue: SAMPLE_CATALOGUE });
    expect(e1.invoice).toBeUndefined();
    expect(e1.problems.map((p) => p.code)).toEqual(['date_invalid']);
    const future = evaluateInvoice(typed({ id: 'E3', acts: [{ code: 'G', date: '2025-03-11' }] }), { clock, catalogue: SAMPLE_CATALOGUE });
    expect(future.problems.map((p) => p.code)).toContain('act_in_future');
    const unknown = evaluateInvoice(typed({ id: 'E4', acts: [{ code: 'ZZZ', date: D }] }), { clock, catalogue: SAMPLE_CATALOGUE });
    expect(unknown.priced).toBeUndefined();
    expect(unknown.problems.filter((p) => p.code === 'code_unknown')).toHaveLength(1);
    expect(RPPS.doctor).toHaveLength(11);
  });
});
