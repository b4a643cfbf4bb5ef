/**
 * Pricing vectors: each names the rule (a step id of the working) it exercises and the totals
 * it must give, in cents. Amounts come from the SAMPLE catalogue (not official values).
 */
import { describe, expect, it } from 'vitest';
import { createCatalogue, CATALOGUE_DATA, divRoundHalfUp, priceInvoice, SAMPLE_CATALOGUE, type Parts } from '../../src/lib/billing/index.js';
import { codeOf, invoiceOf, type InvoiceSpec } from './fixtures.js';

interface Vector {
  rule: string;
  name: string;
  spec: InvoiceSpec;
  expect: Partial<Parts>;
  /** Row id the first act must use. */
  row?: string;
}

const D = '2025-03-10';
const ald = { exemptions: [{ kind: 'ald', from: '2020-01-01' }] };
const maternity = { exemptions: [{ kind: 'maternity', from: '2025-01-01', to: '2025-09-30' }] };
const workAccident = { exemptions: [{ kind: 'work_accident', from: '2025-03-01' }] };
const amc = (coverPercent: number, extra: object = {}) => ({
  amc: { identifier: '12345678', contractType: '01', from: '2020-01-01', coverPercent, thirdParty: true, ...extra }
});
const nurse = (acts: InvoiceSpec['acts'], more: Partial<InvoiceSpec> = {}): InvoiceSpec => ({ profession: 'nurse', acts, ...more });
const physio = (acts: InvoiceSpec['acts'], more: Partial<InvoiceSpec> = {}): InvoiceSpec => ({ profession: 'physiotherapist', acts, ...more });

const VECTORS: Vector[] = [
  // Doctors: fees and revisions.
  { rule: 'fee.flat', name: 'G consultation, 2025 row', spec: { acts: [{ code: 'G', date: D }] }, row: 'ngap.G.2024-12-22', expect: { feeCents: 3000, baseCents: 3000, amoCents: 2100, flatContributionCents: 200, amoNetCents: 1900, amcCents: 0, patientShareCents: 900, patientTotalCents: 1100, payNowCents: 3000 } },
  { rule: 'fee.flat', name: 'revision: G priced with the 2023-11-01 row in mid-2024', spec: { acts: [{ code: 'G', date: '2024-06-01' }] }, row: 'ngap.G.2023-11-01', expect: { feeCents: 2650, amoCents: 1855, flatContributionCents: 200, amoNetCents: 1655 } },
  { rule: 'fee.flat', name: 'revision boundary: the day before the new row', spec: { acts: [{ code: 'G', date: '2024-12-21' }] }, row: 'ngap.G.2023-11-01', expect: { feeCents: 2650 } },
  { rule: 'fee.flat', name: 'revision boundary: the new row on its effective date', spec: { acts: [{ code: 'G', date: '2024-12-22' }] }, row: 'ngap.G.2024-12-22', expect: { feeCents: 3000 } },
  { rule: 'fee.flat', name: 'G in 2020 with the 2017 row and the 1 € contribution', spec: { acts: [{ code: 'G', date: '2020-01-01' }] }, row: 'ngap.G.2017-05-01', expect: { feeCents: 2500, amoCents: 1750, flatContributionCents: 100, amoNetCents: 1650 } },
  { rule: 'pf.apply', name: 'contribution row in force: 1 € the day before 2024-05-15', spec: { acts: [{ code: 'G', date: '2024-05-14' }] }, expect: { feeCents: 2650, amoCents: 1855, flatContributionCents: 100 } },
  { rule: 'pf.apply', name: 'contribution row in force: 2 € from 2024-05-15', spec: { acts: [{ code: 'G', date: '2024-05-15' }] }, expect: { flatContributionCents: 200, amoNetCents: 1655 } },
  { rule: 'fee.flat', name: 'withdrawn code C priced on a date it was in force', spec: { acts: [{ code: 'C', date: '2016-06-01' }] }, row: 'ngap.C.2011-01-01', expect: { feeCents: 2300, amoCents: 1610, flatContributionCents: 100 } },
  { rule: 'fee.flat', name: 'VG home visit', spec: { acts: [{ code: 'VG', date: D }] }, expect: { feeCents: 3000, amoCents: 2100 } },
  { rule: 'fee.flat', name: 'GS consultation', spec: { acts: [{ code: 'GS', date: D }] }, expect: { feeCents: 3000, amoCents: 2100, flatContributionCents: 200 } },
  { rule: 'fee.flat', name: 'V visit, 2017 row', spec: { acts: [{ code: 'V', date: '2019-02-02' }] }, expect: { feeCents: 2500, amoCents: 1750, flatContributionCents: 100 } },
  // Doctors: rates.
  { rule: 'rate.usual', name: 'usual doctor rate 70 %', spec: { acts: [{ code: 'G', date: D }] }, expect: { amoCents: 2100 } },
  { rule: 'rate.outside_pathway', name: 'outside the care pathway: 30 %', spec: { acts: [{ code: 'G', date: D }], carePathway: 'outside_pathway' }, expect: { amoCents: 900, flatContributionCents: 200, amoNetCents: 700, patientShareCents: 2100, patientTotalCents: 2300 } },
  { rule: 'rate.usual', name: 'direct access keeps the usual rate', spec: { acts: [{ code: 'G', date: D }], carePathway: 'direct_access' }, expect: { amoCents: 2100 } },
  { rule: 'rate.ald', name: 'ALD act at 100 %, contribution still due', spec: { acts: [{ code: 'G', date: D, ald: true }], beneficiary: ald }, expect: { amoCents: 3000, flatContributionCents: 200, amoNetCents: 2800, patientShareCents: 0, patientTotalCents: 200 } },
  { rule: 'rate.ald', name: 'ALD wins over outside-pathway', spec: { acts: [{ code: 'G', date: D, ald: true }], beneficiary: ald, carePathway: 'outside_pathway' }, expect: { amoCents: 3000 } },
  { rule: 'rate.maternity', name: 'maternity at 100 %', spec: { acts: [{ code: 'G', date: D }], nature: 'maternity', beneficiary: maternity }, expect: { amoCents: 3000, amoNetCents: 3000, patientTotalCents: 0 } },
  { rule: 'pf.exempt_maternity', name: 'maternity: no flat contribution', spec: { acts: [{ code: 'G', date: D }], nature: 'maternity', beneficiary: maternity }, expect: { flatContributionCents: 0 } },
  { rule: 'rate.work_accident', name: 'work accident at 100 %, contribution due', spec: { acts: [{ code: 'G', date: D }], nature: 'work_accident', beneficiary: workAccident }, expect: { amoCents: 3000, flatContributionCents: 200, amoNetCents: 2800 } },
  // Doctors: rounding and CCAM.
  { rule: 'amo.part', name: 'rounding half up: 3135 × 70 % = 2194.5 → 2195', spec: { acts: [{ code: 'QZJA002', date: D }] }, expect: { feeCents: 3135, amoCents: 2195, amoNetCents: 1995, patientShareCents: 940 } },
  { rule: 'amo.part', name: 'rounding down: 1452 × 70 % = 1016.4 → 1016', spec: { acts: [{ code: 'DEQP003', date: D }] }, expect: { feeCents: 1452, amoCents: 1016, patientShareCents: 436 } },
  { rule: 'fee.flat', name: 'CCAM QZFA004, exact 70 %', spec: { acts: [{ code: 'QZFA004', date: D }] }, row: 'ccam.QZFA004.2020-01-01', expect: { feeCents: 4180, amoCents: 2926 } },
  // Doctors: surcharges.
  { rule: 'fee.flat', name: 'Sunday surcharge F: no contribution on the surcharge', spec: { acts: [{ code: 'G', date: '2025-03-09' }, { code: 'F', date: '2025-03-09' }] }, expect: { feeCents: 4906, amoCents: 3434, flatContributionCents: 200 } },
  { rule: 'fee.flat', name: 'night surcharge MN', spec: { acts: [{ code: 'G', date: D, time: '21:00' }, { code: 'MN', date: D, time: '21:00' }] }, expect: { feeCents: 6500, amoCents: 4550, flatContributionCents: 200 } },
  { rule: 'fee.flat', name: 'deep-night surcharge MM', spec: { acts: [{ code: 'G', date: D, time: '02:00' }, { code: 'MM', date: D, time: '02:00' }] }, expect: { feeCents: 7000, amoCents: 4900 } },
  // Flat contribution: exemptions and cap.
  { rule: 'pf.exempt_minor', name: 'child: no flat contribution', spec: { acts: [{ code: 'G', date: D }], beneficiary: { birthDate: '2015-01-01', quality: 'child' } }, expect: { flatContributionCents: 0, amoNetCents: 2100 } },
  { rule: 'pf.exempt_minor', name: 'the day before the 18th birthday: exempt', spec: { acts: [{ code: 'G', date: '2025-03-09' }], beneficiary: { birthDate: '2007-03-10' } }, expect: { flatContributionCents: 0 } },
  { rule: 'pf.apply', name: 'on the 18th birthday: due', spec: { acts: [{ code: 'G', date: '2025-03-10' }], beneficiary: { birthDate: '2007-03-10' } }, expect: { flatContributionCents: 200 } },
  { rule: 'pf.apply', name: 'lunar birth date 2007-00-00 read as 2007-01-01: 18 on 2025-01-01', spec: { acts: [{ code: 'G', date: '2025-01-01' }], beneficiary: { birthDate: '2007-00-00' } }, expect: { flatContributionCents: 200 } },
  { rule: 'pf.exempt_minor', name: 'lunar birth date 2007-02-30 read as 2007-02-28: 17 on 2025-02-27', spec: { acts: [{ code: 'G', date: '2025-02-27' }], beneficiary: { birthDate: '2007-02-30' } }, expect: { flatContributionCents: 0 } },
  { rule: 'pf.daily_cap', name: 'five doctor acts one day: the fifth contribution is capped (8 €/day)', spec: { acts: [{ code: 'G', date: D, time: '09:00' }, { code: 'DEQP003', date: D }, { code: 'QZJA002', date: D }, { code: 'QZFA004', date: D }, { code: 'G', date: D, time: '18:00' }] }, expect: { feeCents: 14767, amoCents: 10337, flatContributionCents: 800, amoNetCents: 9537 } },
  // Overruns and AMC.
  { rule: 'fee.overrun', name: 'sector 2 overrun: fee above the base', spec: { sector: '2', acts: [{ code: 'G', date: D, overrunCents: 1500 }] }, expect: { feeCents: 4500, baseCents: 3000, amoCents: 2100, patientShareCents: 2400, patientTotalCents: 2600 } },
  { rule: 'amc.part', name: 'AMC 100 % of the base covers the patient share, not the contribution', spec: { acts: [{ code: 'G', date: D }], beneficiary: amc(100) }, expect: { amcCents: 900, patientShareCents: 0, patientTotalCents: 200 } },
  { rule: 'amc.part', name: 'AMC 200 % covers the overrun up to the fee', spec: { sector: '2', acts: [{ code: 'G', date: D, overrunCents: 1500 }], beneficiary: amc(200) }, expect: { amcCents: 2400, patientShareCents: 0 } },
  { rule: 'amc.part', name: 'AMC 150 % covers part of the overrun', spec: { sector: '2', acts: [{ code: 'G', date: D, overrunCents: 2000 }], beneficiary: amc(150) }, expect: { feeCents: 5000, amcCents: 2400, patientShareCents: 500 } },
  { rule: 'amc.part', name: 'AMC cover below the AMO rate pays nothing', spec: { acts: [{ code: 'G', date: D }], beneficiary: amc(50) }, expect: { amcCents: 0, patientShareCents: 900 } },
  { rule: 'amc.none', name: 'AMC rights ended before the act', spec: { acts: [{ code: 'G', date: D }], beneficiary: amc(100, { to: '2024-12-31' }) }, expect: { amcCents: 0, patientShareCents: 900 } },
  { rule: 'amc.part', name: 'AMC on an ALD act at 100 %: nothing left to cover', spec: { acts: [{ code: 'G', date: D, ald: true }], beneficiary: { ...ald, ...amc(100) } }, expect: { amcCents: 0, patientTotalCents: 200 } },
  // What the patient pays now.
  { rule: 'pay.no_third_party', name: 'no third-party payment: the patient pays the fee', spec: { acts: [{ code: 'G', date: D }], beneficiary: amc(100) }, expect: { payNowCents: 3000, amoToPractitionerCents: 0, amcToPractitionerCents: 0 } },
  { rule: 'pay.third_party_amo', name: 'third-party AMO: the patient pays the fee less the AMO part', spec: { acts: [{ code: 'G', date: D }], context: 'amo' }, expect: { payNowCents: 900, amoToPractitionerCents: 2100 } },
  { rule: 'pay.third_party_amo', name: 'third-party AMO with an AMC: the AMC part is still paid by the patient', spec: { acts: [{ code: 'G', date: D }], context: 'amo', beneficiary: amc(100) }, expect: { payNowCents: 900, amcToPractitionerCents: 0 } },
  { rule: 'pay.third_party_amo_amc', name: 'third-party AMO and AMC: nothing to pay now', spec: { acts: [{ code: 'G', date: D }], context: 'amo_amc', beneficiary: amc(100) }, expect: { payNowCents: 0, amoToPractitionerCents: 2100, amcToPractitionerCents: 900 } },
  { rule: 'pay.third_party_amo_amc', name: 'third-party AMO and AMC with an overrun left to the patient', spec: { sector: '2', acts: [{ code: 'G', date: D, overrunCents: 2000 }], context: 'amo_amc', beneficiary: amc(150) }, expect: { payNowCents: 500 } },
  // Nurses.
  { rule: 'fee.letter', name: 'AMI 1', spec: nurse([{ code: 'AMI', date: D }]), row: 'ngap.AMI.2012-01-01', expect: { feeCents: 315, amoCents: 189, deductibleCents: 100, amoNetCents: 89, patientShareCents: 126, patientTotalCents: 226 } },
  { rule: 'fee.letter', name: 'AMI 1.5: 472.5 → 473, then 60 % = 283.8 → 284', spec: nurse([{ code: 'AMI', date: D, coefficient: 1.5 }]), expect: { feeCents: 473, amoCents: 284, deductibleCents: 100, amoNetCents: 184 } },
  { rule: 'fee.letter', name: 'AMI 4.1: 1291.5 → 1292, then 775.2 → 775', spec: nurse([{ code: 'AMI', date: D, coefficient: 4.1 }]), expect: { feeCents: 1292, amoCents: 775 } },
  { rule: 'fee.flat', name: 'BSA package', spec: nurse([{ code: 'BSA', date: D }]), expect: { feeCents: 1300, amoCents: 780, deductibleCents: 100 } },
  { rule: 'fee.flat', name: 'BSB package', spec: nurse([{ code: 'BSB', date: D }]), expect: { feeCents: 1820, amoCents: 1092 } },
  { rule: 'fee.flat', name: 'BSC package', spec: nurse([{ code: 'BSC', date: D }]), expect: { feeCents: 2870, amoCents: 1722 } },
  { rule: 'fee.flat', name: 'IFD travel: no deductible', spec: nurse([{ code: 'IFD', date: D }]), expect: { feeCents: 250, amoCents: 150, deductibleCents: 0 } },
  { rule: 'ik.abatement', name: 'IK 14 km less the 4 km abatement: 10 km', spec: nurse([{ code: 'IK', date: D, distanceKm: 14 }]), expect: { feeCents: 350, amoCents: 210 } },
  { rule: 'ik.abatement', name: 'IK within the abatement: nothing', spec: nurse([{ code: 'IK', date: D, distanceKm: 3 }]), expect: { feeCents: 0, amoCents: 0, patientTotalCents: 0 } },
  { rule: 'fee.per_km', name: 'IK 25 km: 21 km × 0.35 €', spec: nurse([{ code: 'IK', date: D, distanceKm: 25 }]), expect: { feeCents: 735, amoCents: 441 } },
  { rule: 'franchise.daily_cap', name: 'five AMI one day: deductibles capped at 4 €', spec: nurse(['08:00', '10:00', '12:00', '16:00', '19:00'].map((time) => ({ code: 'AMI', date: D, time }))), expect: { feeCents: 1575, amoCents: 945, deductibleCents: 400, amoNetCents: 545 } },
  { rule: 'franchise.apply', name: 'deductible row in force: 0.50 € before 2024-03-31', spec: nurse([{ code: 'AMI', date: '2024-03-30' }]), expect: { deductibleCents: 50 } },
  { rule: 'franchise.exempt_minor', name: 'child: no deductible', spec: nurse([{ code: 'AMI', date: D }], { beneficiary: { birthDate: '2012-06-01', quality: 'child' } }), expect: { deductibleCents: 0, amoNetCents: 189 } },
  { rule: 'franchise.limited_to_amo', name: 'AMI 0.5: deductible limited to the AMO part (95)', spec: nurse([{ code: 'AMI', date: D, coefficient: 0.5 }]), expect: { feeCents: 158, amoCents: 95, deductibleCents: 95, amoNetCents: 0 } },
  { rule: 'fee.flat', name: 'nurse night surcharge (sample code NUIT)', spec: nurse([{ code: 'AMI', date: D, time: '21:00' }, { code: 'NUIT', date: D, time: '21:00' }]), expect: { feeCents: 1230, amoCents: 738, deductibleCents: 100 } },
  { rule: 'fee.flat', name: 'nurse Sunday surcharge (sample code DIM)', spec: nurse([{ code: 'DIM', date: '2025-03-09' }]), expect: { feeCents: 850, amoCents: 510 } },
  { rule: 'rate.ald', name: 'nurse ALD act: 100 %, deductible due', spec: nurse([{ code: 'AMI', date: D, ald: true }], { beneficiary: ald }), expect: { amoCents: 315, deductibleCents: 100, amoNetCents: 215, patientShareCents: 0 } },
  { rule: 'franchise.exempt_maternity', name: 'nurse maternity: 100 %, no deductible', spec: nurse([{ code: 'AMI', date: D }], { nature: 'maternity', beneficiary: maternity }), expect: { amoCents: 315, deductibleCents: 0 } },
  // Physiotherapists.
  { rule: 'fee.letter', name: 'AMK 7.5 with the 2024-07-01 row', spec: physio([{ code: 'AMK', date: D, coefficient: 7.5 }]), row: 'ngap.AMK.2024-07-01', expect: { feeCents: 1650, amoCents: 990, deductibleCents: 100 } },
  { rule: 'fee.letter', name: 'AMK 7.5 with the 2023-07-01 row: 1612.5 → 1613', spec: physio([{ code: 'AMK', date: '2024-01-10', coefficient: 7.5 }]), row: 'ngap.AMK.2023-07-01', expect: { feeCents: 1613, amoCents: 968, deductibleCents: 50 } },
  { rule: 'fee.letter', name: 'AMK 8 with the 2012 row', spec: physio([{ code: 'AMK', date: '2023-06-30', coefficient: 8 }]), row: 'ngap.AMK.2012-01-01', expect: { feeCents: 1632, amoCents: 979, deductibleCents: 50 } },
  { rule: 'fee.flat', name: 'physiotherapist IFD', spec: physio([{ code: 'IFD', date: D }]), expect: { feeCents: 250, amoCents: 150 } },
  { rule: 'pay.third_party_amo', name: 'physiotherapist with third-party AMO', spec: physio([{ code: 'AMK', date: D, coefficient: 7.5 }], { context: 'amo' }), expect: { payNowCents: 660, amoToPractitionerCents: 990 } }
];

describe('pricing vectors (sample catalogue)', () => {
  it('has at least 40 vectors', () => {
    expect(VECTORS.length).toBeGreaterThanOrEqual(40);
  });

  it.each(VECTORS.map((v) => [`${v.rule}: ${v.name}`, v] as const))('%s', (_title, v) => {
    const priced = priceInvoice(invoiceOf(v.spec), SAMPLE_CATALOGUE);
    expect(priced.totals).toMatchObject(v.expect);
    const rules = priced.acts.flatMap((a) => a.working.map((s) => s.rule));
    expect(rules).toContain(v.rule);
    if (v.row) expect(priced.acts[0]?.row).toBe(v.row);
    expect(priced.sample).toBe(true);
  });
});

describe('rounding (divRoundHalfUp)', () => {
  it.each([
    [0, 100, 0],
    [49, 100, 0],
    [50, 100, 1],
    [149, 100, 1],
    [150, 100, 2],
    [219450, 100, 2195],
    [101640, 100, 1016],
    [7, 1, 7]
  ])('%i / %i → %i (halves up)', (a, b, q) => {
    expect(divRoundHalfUp(a, b)).toBe(q);
  });

  it.each([[-1, 100], [1.5, 100], [1, 0], [Number.MAX_SAFE_INTEGER + 1, 3]])('refuses %s / %s', (a, b) => {
    expect(codeOf(() => divRoundHalfUp(a, b))).toBe('amount_invalid');
  });
});

describe('the working', () => {
  it('names the row, the rule and the cents of every step, and the totals', () => {
    const priced = priceInvoice(invoiceOf({ profession: 'nurse', acts: [{ code: 'AMI', date: D, coefficient: 2 }, { code: 'IK', date: D, distanceKm: 10 }] }), SAMPLE_CATALOGUE);
    const ami = priced.acts[0]!;
    expect(ami.working.map((s) => s.rule)).toEqual(['fee.letter', 'fee.total', 'base.tariff', 'rate.usual', 'amo.part', 'franchise.apply', 'amo.net', 'amc.none', 'pay.no_third_party']);
    expect(ami.working[0]).toMatchObject({ rule: 'fee.letter', cents: 630, row: 'ngap.AMI.2012-01-01' });
    expect(ami.working[0]?.label).toContain('AMI 2');
    for (const step of priced.acts.flatMap((a) => a.working)) expect(Number.isSafeInteger(step.cents)).toBe(true);
    const total = priced.working.find((s) => s.rule === 'total.feeCents');
    expect(total?.cents).toBe(630 + 210);
  });
});

describe('pricing refusals', () => {
  it.each<[string, string, InvoiceSpec]>([
    ['code_unknown', 'a code no row has', { acts: [{ code: 'ZZZ', date: D }] }],
    ['code_not_in_force', 'C after its withdrawal', { acts: [{ code: 'C', date: D }] }],
    ['code_not_in_force', 'GS before its first row', { acts: [{ code: 'GS', date: '2024-12-21' }] }],
    ['code_not_for_profession', 'AMI billed by a doctor', { acts: [{ code: 'AMI', date: D }] }],
    ['coefficient_out_of_range', 'AMI 20 (max 15)', { profession: 'nurse', acts: [{ code: 'AMI', date: D, coefficient: 20 }] }],
    ['coefficient_out_of_range', 'G is flat: coefficient 2 refused', { acts: [{ code: 'G', date: D, coefficient: 2 }] }],
    ['distance_invalid', 'IK without a distance', { profession: 'nurse', acts: [{ code: 'IK', date: D }] }],
    ['overrun_not_allowed', 'overrun in sector 1', { acts: [{ code: 'G', date: D, overrunCents: 500 }] }],
    ['sector_unsupported', 'sector 3', { sector: '3', acts: [{ code: 'G', date: D }] }],
    ['exemption_not_open', 'ALD act without an ALD exemption', { acts: [{ code: 'G', date: D, ald: true }] }],
    ['exemption_not_open', 'maternity outside its period', { acts: [{ code: 'G', date: '2025-10-01' }], nature: 'maternity', beneficiary: maternity }]
  ])('%s: %s', (code, _name, spec) => {
    expect(codeOf(() => priceInvoice(invoiceOf(spec), SAMPLE_CATALOGUE))).toBe(code);
  });
});

describe('catalogue as data', () => {
  it('prices with a revision added as a new row, nothing else', () => {
    const revised = createCatalogue({
      ...CATALOGUE_DATA,
      version: 'sample-revision',
      rows: [...CATALOGUE_DATA.rows, { ...CATALOGUE_DATA.rows.find((r) => r.code === 'AMI')!, unitCents: 330, effectiveFrom: '2026-01-01' }]
    });
    const before = invoiceOf({ profession: 'nurse', acts: [{ code: 'AMI', date: '2025-12-31' }] });
    const after = invoiceOf({ profession: 'nurse', acts: [{ code: 'AMI', date: '2026-01-01' }] });
    expect(priceInvoice(before, revised).totals.feeCents).toBe(315);
    expect(priceInvoice(after, revised).acts[0]).toMatchObject({ feeCents: 330, row: 'ngap.AMI.2026-01-01' });
    expect(priceInvoice(after, SAMPLE_CATALOGUE).totals.feeCents).toBe(315);
  });

  it('prefers a zone row over the general row of the same date', () => {
    const zoned = createCatalogue({
      ...CATALOGUE_DATA,
      rows: [...CATALOGUE_DATA.rows, { ...CATALOGUE_DATA.rows.find((r) => r.code === 'IFD')!, zones: ['10'], unitCents: 275 }]
    });
    expect(priceInvoice(invoiceOf({ profession: 'nurse', acts: [{ code: 'IFD', date: D }] }), zoned).acts[0]).toMatchObject({ feeCents: 275, row: 'ngap.IFD@10.2012-01-01' });
  });

  it('marks every shipped row as a sample with its source', () => {
    const all = [...SAMPLE_CATALOGUE.rows, ...SAMPLE_CATALOGUE.contributions, ...SAMPLE_CATALOGUE.rates];
    expect(all.length).toBeGreaterThan(20);
    for (const r of all) {
      expect(r.sample).toBe(true);
      expect(r.source).toMatch(/ÉCHANTILLON/);
    }
    expect(SAMPLE_CATALOGUE.sample).toBe(true);
    expect(Object.isFrozen(SAMPLE_CATALOGUE.rows)).toBe(true);
    expect(Object.isFrozen(SAMPLE_CATALOGUE.rows[0])).toBe(true);
  });

  const base = CATALOGUE_DATA.rows[1]!;
  it.each<[string, object]>([
    ['a row without source', { source: '' }],
    ['a row without the sample flag', { sample: undefined }],
    ['a negative amount', { unitCents: -1 }],
    ['an amount in euros with decimals', { unitCents: 25.5 }],
    ['a rate above 100 %', { amoRatePercent: 101 }],
    ['an impossible effective date', { effectiveFrom: '2025-02-30' }],
    ['an end before the start', { until: '2010-01-01' }],
    ['an unknown profession', { professions: ['dentist'] }],
    ['a letter key without coefficient bounds', { kind: 'letter' }]
  ])('refuses %s (catalogue_invalid)', (_name, change) => {
    expect(codeOf(() => createCatalogue({ ...CATALOGUE_DATA, rows: [{ ...base, ...change } as typeof base] }))).toBe('catalogue_invalid');
  });

  it('refuses two rows for the same code, zone and date (catalogue_invalid)', () => {
    expect(codeOf(() => createCatalogue({ ...CATALOGUE_DATA, rows: [base, { ...base, unitCents: 1 }] }))).toBe('catalogue_invalid');
  });
});
