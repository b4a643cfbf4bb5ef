/**
 * The JSON form of invoices (src/lib/billing/invoice-json.ts, docs/billing/invoice-json.md):
 * the three shapes of a file, strictness with paths, the model's codes located, and the
 * documented examples read as they are.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BillingError, invoicesFromJsonText } from '../../src/lib/billing/index.js';

const EXAMPLES = resolve(import.meta.dirname, '..', '..', 'docs', 'billing', 'examples');
const consultation = JSON.parse(readFileSync(join(EXAMPLES, 'consultation.json'), 'utf8')) as Record<string, unknown>;

function refusal(text: string): BillingError {
  try {
    invoicesFromJsonText(text);
  } catch (e) {
    if (e instanceof BillingError) return e;
    throw e;
  }
  throw new Error('accepted');
}

describe('invoicesFromJsonText', () => {
  it('reads one object, a list, and {"invoices": [...]} alike', () => {
    const second = { ...consultation, id: 'B' };
    const one = invoicesFromJsonText(JSON.stringify(consultation));
    const list = invoicesFromJsonText(JSON.stringify([consultation, second]));
    const wrapped = invoicesFromJsonText(JSON.stringify({ invoices: [consultation, second] }));
    expect(one.map((p) => [p.invoice.id, p.path, p.securing])).toEqual([['CONSULT-2025-03-10-01', 'facture', 'vitale']]);
    expect(list.map((p) => p.path)).toEqual(['[0]', '[1]']);
    expect(wrapped.map((p) => p.path)).toEqual(['invoices[0]', 'invoices[1]']);
    expect(wrapped[1]!.invoice.state).toBe('draft');
    expect(wrapped[1]!.invoice.acts[0]).toMatchObject({ code: 'G', date: '2025-03-10' });
  });

  it('reads the documented nurse round (lunar birth date, AMC, DRE, prescriber)', () => {
    const [a, b] = invoicesFromJsonText(readFileSync(join(EXAMPLES, 'nurse-round.json'), 'utf8'));
    expect(a!.invoice.beneficiary.birthDate).toMatchObject({ year: 1940, month: 2, day: 0, lunar: true });
    expect(a!.invoice.dre).toBe(true);
    expect(a!.invoice.beneficiary.amc?.identifier).toBe('12345678');
    expect(b!.invoice.prescriber?.identifier).toBe('10000000009');
  });

  it('refuses with a code and a path, never the value', () => {
    const cases: [unknown, string, string][] = [
      [{ ...consultation, extra: 1 }, 'json_invalid', 'extra'],
      [[consultation, { ...consultation, acts: [{ code: 'G', date: '2025-03-10', ald: 'yes' }] }], 'json_invalid', '[1].acts[0].ald'],
      [[consultation, consultation], 'json_invalid', '[1].id'],
      [[], 'json_invalid', '(racine)'],
      [{ ...consultation, format: 'other-2' }, 'json_invalid', 'format'],
      [{ ...consultation, securing: 'paper' }, 'json_invalid', 'securing'],
      [{ invoices: [{ ...consultation, beneficiary: { ...(consultation.beneficiary as object), holderNir: '255081416802539' } }] }, 'nir_key', 'invoices[0].beneficiary.holderNir'],
      [{ ...consultation, practitioner: { ...(consultation.practitioner as object), rpps: '10000000008' } }, 'rpps_key', 'practitioner.rpps'],
    ];
    for (const [value, code, field] of cases) {
      const e = refusal(JSON.stringify(value));
      expect([e.code, e.field], field).toEqual([code, field]);
      expect(e.message).not.toContain('2550814168025');
    }
    // JSON reads 1e400 as Infinity: not a coefficient.
    const huge = refusal(JSON.stringify({ ...consultation, acts: [{ code: 'G', date: '2025-03-10', coefficient: 0 }] }).replace('"coefficient":0', '"coefficient":1e400'));
    expect([huge.code, huge.field]).toEqual(['json_invalid', 'acts[0].coefficient']);
    expect(refusal('{"id": ').code).toBe('json_invalid');
    expect(refusal('null').code).toBe('json_invalid');
  });
});
