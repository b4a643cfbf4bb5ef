/** Checks before signing: one vector per stable code, and the gate to `to_sign`. */
import { describe, expect, it } from 'vitest';
import { BillingError, checkInvoice, submitForSigning, type Invoice, SAMPLE_CATALOGUE } from '../../src/lib/billing/index.js';
import { invoiceOf, RPPS, type InvoiceSpec } from './fixtures.js';

/** Noon in Paris on 2025-03-10: the injected clock. */
const clock = () => Date.UTC(2025, 2, 10, 11, 0);
const D = '2025-03-10';
const amc = (extra: object = {}) => ({
  amc: { identifier: '12345678', contractType: '01', from: '2020-01-01', coverPercent: 100, thirdParty: true, ...extra }
});
const codes = (inv: Invoice, others: Invoice[] = []) => checkInvoice(inv, { clock, others, catalogue: SAMPLE_CATALOGUE }).map((e) => e.code);

describe('a clean invoice', () => {
  it.each<[string, InvoiceSpec]>([
    ['doctor, no third-party payment', { acts: [{ code: 'G', date: D }] }],
    ['doctor, third-party AMO and AMC', { acts: [{ code: 'G', date: D }], context: 'amo_amc', beneficiary: amc() }],
    ['doctor, FSE and DRE with an ordinary AMC contract', { acts: [{ code: 'G', date: D }], dre: true, beneficiary: amc() }],
    ['nurse with prescriber, travel', { profession: 'nurse', acts: [{ code: 'AMI', date: D, coefficient: 2 }, { code: 'IFD', date: D }, { code: 'IK', date: D, distanceKm: 12 }] }],
    ['contract 99 with third-party on AMO and AMC, no DRE', { acts: [{ code: 'G', date: D }], context: 'amo_amc', beneficiary: amc({ contractType: '99' }) }]
  ])('%s passes and goes to to_sign', (_name, spec) => {
    const inv = invoiceOf(spec);
    expect(codes(inv)).toEqual([]);
    expect(submitForSigning(inv, { clock, catalogue: SAMPLE_CATALOGUE }).state).toBe('to_sign');
  });
});

describe('each check has its code', () => {
  const tampered = (inv: Invoice): Invoice => ({ ...inv, beneficiary: { ...inv.beneficiary, holderNir: { number: '2550814168025', key: '39' } } });
  const base = invoiceOf({ acts: [{ code: 'G', date: D }] });

  it.each<[string, string, () => Invoice]>([
    ['nir_key', 'NIR key altered after reading (storage, another tab)', () => tampered(base)],
    ['rights_closed', 'AMO rights ended before the act', () => invoiceOf({ acts: [{ code: 'G', date: D }], beneficiary: { amoRights: [{ from: '2015-01-01', to: '2025-03-09' }] } })],
    ['rights_closed', 'AMO rights not yet open', () => invoiceOf({ acts: [{ code: 'G', date: D }], beneficiary: { amoRights: [{ from: '2025-03-11' }] } })],
    ['amc_rights_closed', 'third-party AMC with AMC rights ended', () => invoiceOf({ acts: [{ code: 'G', date: D }], context: 'amo_amc', beneficiary: amc({ to: '2025-01-31' }) })],
    ['act_in_future', 'act dated tomorrow', () => invoiceOf({ acts: [{ code: 'G', date: '2025-03-11' }] })],
    ['code_unknown', 'no such code', () => invoiceOf({ acts: [{ code: 'XYZ', date: D }] })],
    ['code_not_in_force', 'code withdrawn (C)', () => invoiceOf({ acts: [{ code: 'C', date: D }] })],
    ['code_not_for_profession', 'a nurse billing G', () => invoiceOf({ profession: 'nurse', acts: [{ code: 'G', date: D }] })],
    ['coefficient_out_of_range', 'AMI 16 (max 15)', () => invoiceOf({ profession: 'nurse', acts: [{ code: 'AMI', date: D, coefficient: 16 }] })],
    ['coefficient_out_of_range', 'AMK 0.5 (min 1)', () => invoiceOf({ profession: 'physiotherapist', acts: [{ code: 'AMK', date: D, coefficient: 0.5 }] })],
    ['coefficient_out_of_range', 'flat G with coefficient 2', () => invoiceOf({ acts: [{ code: 'G', date: D, coefficient: 2 }] })],
    ['fse_dre_incompatible', 'contract type 99 with a DRE (docs/domain/workflow.md)', () => invoiceOf({ acts: [{ code: 'G', date: D }], dre: true, beneficiary: amc({ contractType: '99' }) })],
    ['dre_without_amc', 'DRE with no AMC on the card', () => invoiceOf({ acts: [{ code: 'G', date: D }], dre: true })],
    ['third_party_not_allowed', 'third-party AMO not opened by the rights', () => invoiceOf({ acts: [{ code: 'G', date: D }], context: 'amo', beneficiary: { amoRights: [{ from: '2015-01-01', thirdParty: false }] } })],
    ['third_party_not_allowed', 'third-party AMC not opened by the contract', () => invoiceOf({ acts: [{ code: 'G', date: D }], context: 'amo_amc', beneficiary: amc({ thirdParty: false }) })],
    ['duplicate_act', 'the same act twice', () => invoiceOf({ acts: [{ code: 'G', date: D }, { code: 'G', date: D }] })],
    ['prescriber_required', 'nurse act without prescriber', () => invoiceOf({ profession: 'nurse', acts: [{ code: 'AMI', date: D }], prescriber: null })],
    ['prescriber_required', 'physiotherapist act without prescriber', () => invoiceOf({ profession: 'physiotherapist', acts: [{ code: 'AMK', date: D, coefficient: 7.5 }], prescriber: null })],
    ['prescription_after_act', 'prescription dated after the care', () => invoiceOf({ profession: 'nurse', acts: [{ code: 'AMI', date: D }], prescriber: { identifier: RPPS.doctor, lastName: 'BERNARD', prescriptionDate: '2025-03-11' } })],
    ['care_pathway_required', 'doctor without care pathway', () => invoiceOf({ acts: [{ code: 'G', date: D }], carePathway: null })],
    ['exemption_not_open', 'ALD act without ALD', () => invoiceOf({ acts: [{ code: 'G', date: D, ald: true }] })],
    ['exemption_not_open', 'work accident without its exemption', () => invoiceOf({ acts: [{ code: 'G', date: D }], nature: 'work_accident' })],
    ['overrun_not_allowed', 'overrun in sector 1', () => invoiceOf({ acts: [{ code: 'G', date: D, overrunCents: 100 }] })],
    ['sector_unsupported', 'sector 3', () => invoiceOf({ sector: '3', acts: [{ code: 'G', date: D }] })],
    ['no_acts', 'no act', () => invoiceOf({ acts: [] })],
    ['distance_invalid', 'IK without distance (found by pricing)', () => invoiceOf({ profession: 'nurse', acts: [{ code: 'IK', date: D }] })]
  ])('%s: %s', (code, _name, make) => {
    const found = checkInvoice(make(), { clock, catalogue: SAMPLE_CATALOGUE });
    expect(found.map((e) => e.code)).toContain(code);
    for (const e of found) {
      expect(e).toBeInstanceOf(BillingError);
      expect(e.message.length).toBeGreaterThan(10);
    }
  });

  it('third-party AMO is allowed on an ALD act at 100 % even when the rights do not open it', () => {
    const inv = invoiceOf({
      acts: [{ code: 'G', date: D, ald: true }],
      context: 'amo',
      beneficiary: { amoRights: [{ from: '2015-01-01', thirdParty: false }], exemptions: [{ kind: 'ald', from: '2020-01-01' }] }
    });
    expect(codes(inv)).toEqual([]);
  });

  it('reports a problem shared by several acts once', () => {
    const inv = invoiceOf({ profession: 'nurse', acts: [{ code: 'AMI', date: D, time: '08:00' }, { code: 'AMI', date: D, time: '18:00' }], prescriber: null });
    expect(codes(inv)).toEqual(['prescriber_required']);
  });

  it('the same time on different days, or different times on one day, is no duplicate', () => {
    expect(codes(invoiceOf({ acts: [{ code: 'G', date: D, time: '09:00' }, { code: 'G', date: D, time: '18:00' }] }))).toEqual([]);
    expect(codes(invoiceOf({ acts: [{ code: 'G', date: '2025-03-07' }, { code: 'G', date: D }] }))).toEqual([]);
  });
});

describe('duplicate invoices', () => {
  const spec: InvoiceSpec = { acts: [{ code: 'G', date: D }] };
  it('finds the same acts for the same beneficiary on another invoice', () => {
    const first = invoiceOf({ ...spec, id: 'F-1' });
    const second = invoiceOf({ ...spec, id: 'F-2' });
    expect(codes(second, [first])).toEqual(['duplicate_invoice']);
  });
  it('ignores cancelled invoices, the invoice itself and other beneficiaries', () => {
    const first = invoiceOf({ ...spec, id: 'F-1' });
    const second = invoiceOf({ ...spec, id: 'F-2' });
    expect(codes(second, [{ ...first, state: 'cancelled' }, second])).toEqual([]);
    const twin = invoiceOf({ ...spec, id: 'F-3', beneficiary: { rank: 2 } });
    expect(codes(twin, [first])).toEqual([]);
  });
});

describe('today from the injected clock, in the practice zone', () => {
  // 23:30 UTC on 9 March is 00:30 on 10 March in Paris.
  const lateUtc = () => Date.UTC(2025, 2, 9, 23, 30);
  const inv = invoiceOf({ acts: [{ code: 'G', date: D }] });
  it('an act of 10 March is not in the future at 00:30 Paris time', () => {
    expect(checkInvoice(inv, { clock: lateUtc, catalogue: SAMPLE_CATALOGUE }).map((e) => e.code)).toEqual([]);
  });
  it('but it is for a clock read in UTC', () => {
    expect(checkInvoice(inv, { clock: lateUtc, timeZone: 'UTC', catalogue: SAMPLE_CATALOGUE }).map((e) => e.code)).toEqual(['act_in_future']);
  });
});

describe('submitForSigning', () => {
  it('refuses with checks_failed listing every problem, and leaves the invoice a draft', () => {
    const inv = invoiceOf({ acts: [{ code: 'G', date: '2025-03-11' }, { code: 'XYZ', date: D }], carePathway: null });
    try {
      submitForSigning(inv, { clock, catalogue: SAMPLE_CATALOGUE });
      expect.unreachable();
    } catch (e) {
      const err = e as BillingError;
      expect(err.code).toBe('checks_failed');
      expect(err.issues.map((i) => i.code)).toEqual(['act_in_future', 'code_unknown', 'care_pathway_required']);
      expect(err.message).toBe('La facture ne peut pas être signée : 3 problèmes à corriger.');
      expect(JSON.parse(JSON.stringify(err))).toMatchObject({ code: 'checks_failed', issues: [{ code: 'act_in_future', field: 'acts[0].date' }, {}, {}] });
    }
    expect(inv.state).toBe('draft');
  });

  it('refuses an invoice that is not a draft (transition_forbidden)', () => {
    const inv = { ...invoiceOf({ acts: [{ code: 'G', date: D }] }), state: 'signed' as const };
    expect(() => submitForSigning(inv, { clock, catalogue: SAMPLE_CATALOGUE })).toThrow(expect.objectContaining({ code: 'transition_forbidden' }));
  });
});
