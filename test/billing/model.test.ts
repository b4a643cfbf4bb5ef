/** The model's validating constructors, NIR and RPPS keys, lunar dates, the state machine. */
import { describe, expect, it } from 'vitest';
import {
  BillingError,
  allowedTransitions,
  canTransition,
  checkBirthDate,
  checkNir,
  checkRpps,
  createBeneficiary,
  createInvoice,
  createPractitioner,
  INVOICE_STATES,
  luhnKey,
  luhnValid,
  nirKey,
  type InvoiceState
} from '../../src/lib/billing/index.js';
// Internal: the domain operations (checks.ts, lifecycle.ts) are its only callers in the app.
import { transition } from '../../src/lib/billing/invoice.js';
import { beneficiaryInput, codeOf, invoiceOf, practitionerInput } from './fixtures.js';

describe('RPPS (11 digits, Luhn key)', () => {
  it.each([
    ['luhn: valid', '10000000009', 'no error'],
    ['luhn: valid', '10012345673', 'no error'],
    ['luhn: valid', '10098765430', 'no error'],
    ['luhn: last digit wrong', '10000000008', 'rpps_key'],
    ['luhn: two digits swapped', '10021345673', 'rpps_key'],
    ['format: 10 digits', '1000000000', 'rpps_format'],
    ['format: 12 digits', '100000000090', 'rpps_format'],
    ['format: a letter', '1000000000A', 'rpps_format'],
    ['format: spaces', '100 000 000 09', 'rpps_format']
  ])('%s: %s → %s', (_rule, rpps, code) => {
    expect(codeOf(() => checkRpps(rpps))).toBe(code);
  });

  it('computes the key digit and agrees with the check', () => {
    expect(luhnKey('1000000000')).toBe('9');
    expect(luhnValid('79927398713')).toBe(true); // the classic Luhn example
    expect(luhnValid('79927398710')).toBe(false);
  });
});

describe('NIR (13 characters + key 97 − N mod 97)', () => {
  it.each([
    ['key: textbook example', '2 55 08 14 168 025 38', 'no error'],
    ['key: another', '185057800608491', 'no error'],
    ['key: single-digit key written 0x', '2691299999001 54', 'no error'],
    ['key: wrong key', '255081416802539', 'nir_key'],
    ['key: one digit of the number changed', '255081416802638', 'nir_key'],
    ['corsica: 2A with its key', '180012A00400168', 'no error'],
    ['corsica: 2B with its key', '180012B00400195', 'no error'],
    ['corsica: lower case accepted', '180012a00400168', 'no error'],
    ['corsica: 2A with the 2B key', '180012A00400195', 'nir_key'],
    ['format: 14 characters', '25508141680253', 'nir_format'],
    ['format: letters outside the department', '2550814168A2538', 'nir_format'],
    ['format: 2C is no department', '180012C00400168', 'nir_format'],
    ['format: first digit 0', '055081416802538', 'nir_format']
  ])('%s: %s → %s', (_rule, nir, code) => {
    expect(codeOf(() => checkNir(nir))).toBe(code);
  });

  it('replaces 2A by 19 and 2B by 18 for the computation only', () => {
    const expected = (n: string) => 97 - Number(BigInt(n) % 97n);
    expect(nirKey('180012A004001')).toBe(expected('1800119004001'));
    expect(nirKey('180012B004001')).toBe(expected('1800118004001'));
    expect(checkNir('180012A00400168').number).toBe('180012A004001');
  });

  it('never repeats the NIR in its error messages', () => {
    try {
      checkNir('255081416802539');
    } catch (e) {
      expect((e as Error).message).not.toContain('2550814168025');
    }
  });
});

describe('birth dates, lunar included', () => {
  it.each([
    ['gregorian', '1980-05-15', false],
    ['lunar: day 00', '1980-05-00', true],
    ['lunar: month 00', '1980-00-00', true],
    ['lunar: day 31 in a 30-day month', '1980-04-31', true],
    ['lunar: 30 February', '1980-02-30', true],
    ['gregorian: 29 February of a leap year', '1980-02-29', false]
  ])('%s: %s', (_rule, value, lunar) => {
    const d = checkBirthDate(value);
    expect(d.lunar).toBe(lunar);
    expect(`${d.year}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`).toBe(value);
  });

  it.each(['1980-13-01', '1980-01-32', '19800115', '1849-01-01', ''])('refuses %s (birth_date_format)', (value) => {
    expect(codeOf(() => checkBirthDate(value))).toBe('birth_date_format');
  });
});

describe('practitioner', () => {
  it('keeps the chosen billing situation among those on the card', () => {
    const p = createPractitioner({ ...practitionerInput('nurse'), chosenBillingNumber: '2A1234567' });
    expect(p.profession).toBe('nurse');
    expect(p.situation.billingNumber).toBe('2A1234567');
    expect(p.situations).toHaveLength(2);
    expect(Object.isFrozen(p)).toBe(true);
  });

  it.each<[string, object]>([
    ['situation_not_on_card', { chosenBillingNumber: '759999999' }],
    ['situation_not_on_card', { situations: [] }],
    ['profession_unknown', { professionCode: '40' }],
    ['specialty_format', { specialty: '1' }],
    ['name_invalid', { lastName: '  ' }],
    ['rpps_key', { rpps: '10000000008' }],
    ['billing_number_format', { situations: [{ billingNumber: '75123456', sector: '1', tariffZone: '10' }] }],
    ['sector_invalid', { situations: [{ billingNumber: '751234567', sector: '4', tariffZone: '10' }] }],
    ['tariff_zone_format', { situations: [{ billingNumber: '751234567', sector: '1', tariffZone: 'X' }] }]
  ])('%s', (code, change) => {
    expect(codeOf(() => createPractitioner({ ...practitionerInput(), ...change }))).toBe(code);
  });
});

describe('beneficiary', () => {
  it('builds from Vitale data', () => {
    const b = createBeneficiary(
      beneficiaryInput({
        exemptions: [{ kind: 'ald', from: '2020-01-01' }],
        amc: { identifier: '12345678', contractType: '99', from: '2024-01-01', to: '2025-12-31', coverPercent: 100, thirdParty: true }
      })
    );
    expect(b.holderNir).toEqual({ number: '2550814168025', key: '38' });
    expect(b.amc).toMatchObject({ contractType: '99', rights: { from: '2024-01-01', to: '2025-12-31' } });
    expect(b.exemptions[0]?.kind).toBe('ald');
  });

  it.each<[string, object]>([
    ['nir_key', { holderNir: '255081416802539' }],
    ['rank_invalid', { rank: 0 }],
    ['rank_invalid', { rank: 1.5 }],
    ['quality_unknown', { quality: 'cousin' }],
    ['scheme_format', { scheme: '1' }],
    ['fund_format', { fund: '75' }],
    ['centre_format', { centre: 'ABCD' }],
    ['period_invalid', { amoRights: [{ from: '2025-01-01', to: '2024-01-01' }] }],
    ['date_invalid', { amoRights: [{ from: '2025-02-30' }] }],
    ['exemption_unknown', { exemptions: [{ kind: 'cmu', from: '2020-01-01' }] }],
    ['amc_identifier_format', { amc: { identifier: 'x', contractType: '01', from: '2020-01-01', coverPercent: 100 } }],
    ['amc_contract_format', { amc: { identifier: '12345678', contractType: '9', from: '2020-01-01', coverPercent: 100 } }],
    ['amc_cover_invalid', { amc: { identifier: '12345678', contractType: '01', from: '2020-01-01', coverPercent: 99.5 } }],
    ['birth_date_format', { birthDate: '1980-15-01' }]
  ])('%s', (code, change) => {
    expect(codeOf(() => createBeneficiary(beneficiaryInput(change)))).toBe(code);
  });
});

describe('invoice', () => {
  const ok = () => ({
    id: 'F-1',
    practitioner: createPractitioner(practitionerInput()),
    beneficiary: createBeneficiary(beneficiaryInput()),
    acts: [{ code: 'G', date: '2025-03-10' }],
    context: 'none',
    carePathway: 'referring_doctor'
  });

  it('defaults: draft, illness, coefficient 1, no DRE', () => {
    const inv = createInvoice(ok());
    expect(inv).toMatchObject({ state: 'draft', nature: 'illness', dre: false, acts: [{ coefficient: 1, overrunCents: 0, ald: false }] });
  });

  it.each<[string, object]>([
    ['billing_context_unknown', { context: 'tiers' }],
    ['nature_unknown', { nature: 'disease' }],
    ['care_pathway_unknown', { carePathway: 'somewhere' }],
    ['state_unknown', { state: 'paid' }],
    ['invoice_id_invalid', { id: '' }],
    ['act_code_format', { acts: [{ code: 'g', date: '2025-03-10' }] }],
    ['date_invalid', { acts: [{ code: 'G', date: '10/03/2025' }] }],
    ['time_invalid', { acts: [{ code: 'G', date: '2025-03-10', time: '24:00' }] }],
    ['coefficient_invalid', { acts: [{ code: 'AMI', date: '2025-03-10', coefficient: 1.234 }] }],
    ['coefficient_invalid', { acts: [{ code: 'AMI', date: '2025-03-10', coefficient: 0 }] }],
    ['distance_invalid', { acts: [{ code: 'IK', date: '2025-03-10', distanceKm: 2.5 }] }],
    ['amount_invalid', { acts: [{ code: 'G', date: '2025-03-10', overrunCents: 12.5 }] }],
    ['prescriber_invalid', { prescriber: { identifier: '12', lastName: 'X', prescriptionDate: '2025-01-01' } }],
    ['rpps_key', { prescriber: { identifier: '10000000008', lastName: 'X', prescriptionDate: '2025-01-01' } }]
  ])('%s', (code, change) => {
    expect(codeOf(() => createInvoice({ ...ok(), ...change }))).toBe(code);
  });
});

describe('state machine', () => {
  const ALLOWED: Record<InvoiceState, InvoiceState[]> = {
    draft: ['to_sign', 'cancelled'],
    to_sign: ['draft', 'signed', 'cancelled'],
    signed: ['cancelled'],
    cancelled: []
  };
  const pairs = INVOICE_STATES.flatMap((from) => INVOICE_STATES.map((to) => [from, to, ALLOWED[from].includes(to)] as const));

  it.each(pairs)('%s → %s allowed: %s', (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
    const inv = invoiceOf({ acts: [{ code: 'G', date: '2025-03-10' }] });
    const at = { ...inv, state: from };
    if (allowed) {
      const next = transition(at, to);
      expect(next.state).toBe(to);
      expect(at.state).toBe(from); // pure: the input is untouched
    } else {
      expect(codeOf(() => transition(at, to))).toBe('transition_forbidden');
    }
  });

  it('walks the happy path and explains a refusal in French', () => {
    let inv = invoiceOf({ acts: [{ code: 'G', date: '2025-03-10' }] });
    for (const s of ['to_sign', 'signed', 'cancelled'] as const) inv = transition(inv, s);
    expect(allowedTransitions(inv.state)).toEqual([]);
    try {
      transition(inv, 'draft');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(BillingError);
      expect((e as BillingError).message).toBe('Une facture annulée ne peut pas passer à l’état « brouillon ».');
    }
  });
});
