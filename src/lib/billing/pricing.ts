/**
 * Pricing, in integer cents, with its working.
 *
 * Rounding (docs/adr/0007): every amount is an integer number of cents. A product that is not
 * whole (unit value × coefficient, base × rate) is rounded once, to the nearest cent, halves
 * up (all amounts are non-negative, so "up" is "away from zero"); sums are exact. Nothing is
 * rounded twice and no floating-point amount is ever summed.
 *
 * Per act, in this order (each a step of the working, named by its rule):
 *   fee.*        tariff from the row in force on the act's date (letter × coefficient, flat,
 *                per km beyond the abatement), plus any sector-2 overrun → the fee
 *   base.tariff  the reimbursement base is the tariff (overruns are not reimbursed by the AMO)
 *   rate.*       maternity, work accident, long-term illness: 100 %; doctors outside the care
 *                pathway: the catalogue's reduced rate; otherwise the row's usual rate
 *   amo.part     round(base × rate / 100)
 *   pf.*, franchise.*  flat contribution / deductible: the catalogue's amount on the date,
 *                unless exempt (minor, maternity), within the daily cap per practitioner and
 *                never more than the AMO part; deducted from what the AMO pays
 *   amc.part     min(round(base × cover / 100) − AMO part, fee − AMO part), ≥ 0, when the AMC
 *                contract is open on the date; the AMC never covers contributions/deductibles
 *   pay.*        what the patient pays now: everything without third-party payment; the fee
 *                less the AMO part (and less the AMC part) with third-party payment
 *
 * Invariants (tested on random invoices): fee = AMO net + deductions + AMC + patient's own
 * share; fee = pay now + AMO paid to the practitioner + AMC paid to the practitioner; every
 * amount is a non-negative safe integer.
 */
import { ageOn, amcOn, exemptionOn, type ExemptionKind } from './beneficiary.js';
import { findContribution, findRate, findTariff, type Catalogue, type ContributionKind, type TariffRow } from './catalogue.js';
import { BillingError, fail } from './errors.js';
import { coefficientHundredths, type Act, type Invoice } from './invoice.js';

/** a / b rounded to the nearest integer, halves up; a ≥ 0, b > 0, integers. */
export function divRoundHalfUp(a: number, b: number): number {
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a < 0 || b <= 0) {
    fail('amount_invalid', '', 'Montant invalide dans le calcul.');
  }
  const q = Math.floor(a / b);
  const r = a - q * b;
  return 2 * r >= b ? q + 1 : q;
}

export interface Step {
  /** Stable rule id (`fee.letter`, `rate.ald`, `pf.daily_cap`…). */
  readonly rule: string;
  /** What the step did, in French, for the practitioner. */
  readonly label: string;
  /** The amount the step produced, in cents (a rate step gives the percent). */
  readonly cents: number;
  /** The catalogue row the step used. */
  readonly row?: string;
}

export interface Parts {
  readonly feeCents: number;
  readonly baseCents: number;
  /** AMO part before contributions and deductibles are taken off. */
  readonly amoCents: number;
  readonly flatContributionCents: number;
  readonly deductibleCents: number;
  /** What the AMO finally pays: AMO part − contributions − deductibles. */
  readonly amoNetCents: number;
  readonly amcCents: number;
  /** fee − AMO part − AMC part: what no insurer covers. */
  readonly patientShareCents: number;
  /** Patient's share + contributions + deductibles: what the patient bears in the end. */
  readonly patientTotalCents: number;
  /** What the patient pays the practitioner today, given the billing context. */
  readonly payNowCents: number;
  /** Paid to the practitioner by the AMO (third-party payment), else 0. */
  readonly amoToPractitionerCents: number;
  /** Paid to the practitioner by the AMC (third-party payment on AMO and AMC), else 0. */
  readonly amcToPractitionerCents: number;
}

export interface PricedAct extends Parts {
  readonly index: number;
  readonly code: string;
  readonly date: string;
  readonly row: string;
  readonly sample: boolean;
  readonly ratePercent: number;
  readonly working: readonly Step[];
}

export interface PricedInvoice {
  readonly invoiceId: string;
  readonly context: Invoice['context'];
  readonly catalogueVersion: string;
  /** True when any row used is a sample: the UI must say the amounts are not official. */
  readonly sample: boolean;
  readonly acts: readonly PricedAct[];
  readonly totals: Parts;
  readonly working: readonly Step[];
}

const euros = (cents: number): string => `${Math.floor(cents / 100)},${String(cents % 100).padStart(2, '0')} €`;

/** The tariff (before overrun) of `act` under `row`, with its steps. */
function tariff(act: Act, row: TariffRow, field: string, steps: Step[]): number {
  switch (row.kind) {
    case 'letter': {
      const h = coefficientHundredths(act.coefficient, `${field}.coefficient`);
      const c = row.coefficient;
      if (c && (h < Math.round(c.min * 100) || h > Math.round(c.max * 100))) {
        throw new BillingError('coefficient_out_of_range', `${field}.coefficient`, `Coefficient ${act.coefficient} hors des bornes de ${row.code} (${c.min} à ${c.max}).`);
      }
      const cents = divRoundHalfUp(row.unitCents * h, 100);
      steps.push({ rule: 'fee.letter', label: `${row.code} ${act.coefficient} × ${euros(row.unitCents)}, arrondi au centime`, cents, row: row.id });
      return cents;
    }
    case 'flat': {
      if (act.coefficient !== 1) {
        throw new BillingError('coefficient_out_of_range', `${field}.coefficient`, `${row.code} est un forfait : coefficient 1 seulement.`);
      }
      steps.push({ rule: 'fee.flat', label: `${row.code} forfait ${euros(row.unitCents)}`, cents: row.unitCents, row: row.id });
      return row.unitCents;
    }
    case 'per_km': {
      if (act.distanceKm === undefined) fail('distance_invalid', `${field}.distanceKm`, `${row.code} : distance aller-retour manquante.`);
      if (act.coefficient !== 1) {
        throw new BillingError('coefficient_out_of_range', `${field}.coefficient`, `${row.code} se facture au kilomètre : coefficient 1 seulement.`);
      }
      const abatement = row.abatementKm ?? 0;
      const km = Math.max(0, act.distanceKm - abatement);
      steps.push({ rule: 'ik.abatement', label: `${act.distanceKm} km aller-retour − ${abatement} km d’abattement = ${km} km`, cents: 0, row: row.id });
      const cents = row.unitCents * km;
      steps.push({ rule: 'fee.per_km', label: `${km} km × ${euros(row.unitCents)}`, cents, row: row.id });
      return cents;
    }
  }
}

interface RateChoice {
  percent: number;
  rule: string;
  label: string;
  row?: string;
}

function rate(invoice: Invoice, act: Act, row: TariffRow, field: string, cat: Catalogue): RateChoice {
  const needs = (kind: ExemptionKind, label: string): void => {
    if (!exemptionOn(invoice.beneficiary, kind, act.date)) {
      throw new BillingError('exemption_not_open', field, `Aucune exonération ${label} ouverte à la date de l’acte (${act.date}).`);
    }
  };
  if (invoice.nature === 'maternity') {
    needs('maternity', 'maternité');
    return { percent: 100, rule: 'rate.maternity', label: 'Assurance maternité : 100 %' };
  }
  if (invoice.nature === 'work_accident') {
    needs('work_accident', 'accident du travail');
    return { percent: 100, rule: 'rate.work_accident', label: 'Accident du travail : 100 %' };
  }
  if (act.ald) {
    needs('ald', 'ALD');
    return { percent: 100, rule: 'rate.ald', label: 'Acte en rapport avec l’affection de longue durée : 100 %' };
  }
  if (invoice.practitioner.profession === 'doctor' && invoice.carePathway === 'outside_pathway') {
    const r = findRate(cat, 'outside_pathway', act.date);
    if (r) return { percent: r.percent, rule: 'rate.outside_pathway', label: `Hors parcours de soins : ${r.percent} %`, row: r.id };
  }
  return { percent: row.amoRatePercent, rule: 'rate.usual', label: `Taux habituel de l’acte : ${row.amoRatePercent} %`, row: row.id };
}

const CONTRIBUTION = {
  flat_contribution: { rule: 'pf', label: 'Participation forfaitaire' },
  deductible: { rule: 'franchise', label: 'Franchise médicale' }
} as const;

/** Contribution or deductible on one act; `used` tracks the daily cap (date → cents). */
function contribution(
  kind: ContributionKind,
  invoice: Invoice,
  act: Act,
  amoCents: number,
  cat: Catalogue,
  used: Map<string, number>,
  steps: Step[]
): number {
  const { rule, label } = CONTRIBUTION[kind];
  const c = findContribution(cat, kind, act.date);
  if (!c) return 0;
  if (ageOn(invoice.beneficiary.birthDate, act.date) < c.exemptUnderAge) {
    steps.push({ rule: `${rule}.exempt_minor`, label: `${label} : bénéficiaire de moins de ${c.exemptUnderAge} ans, non due`, cents: 0, row: c.id });
    return 0;
  }
  if (invoice.nature === 'maternity') {
    steps.push({ rule: `${rule}.exempt_maternity`, label: `${label} : assurance maternité, non due`, cents: 0, row: c.id });
    return 0;
  }
  const key = `${kind}\0${act.date}`;
  const already = used.get(key) ?? 0;
  const room = Math.max(0, c.dailyCapCents - already);
  let cents = Math.min(c.unitCents, room);
  if (cents < c.unitCents) {
    steps.push({ rule: `${rule}.daily_cap`, label: `${label} : plafond journalier de ${euros(c.dailyCapCents)} atteint`, cents, row: c.id });
  }
  if (cents > amoCents) {
    cents = amoCents;
    steps.push({ rule: `${rule}.limited_to_amo`, label: `${label} : limitée à la part AMO`, cents, row: c.id });
  }
  used.set(key, already + cents);
  steps.push({ rule: `${rule}.apply`, label: `${label} déduite du remboursement AMO`, cents, row: c.id });
  return cents;
}

function priceAct(invoice: Invoice, act: Act, index: number, cat: Catalogue, used: Map<string, number>): PricedAct {
  const field = `acts[${index}]`;
  const { practitioner: ps } = invoice;
  const row = findTariff(cat, act.code, act.date, ps.profession, ps.situation.tariffZone, `${field}.code`);
  const steps: Step[] = [];
  if (ps.situation.sector === '3') {
    // Non-contracted practitioners are reimbursed on the "tarif d'autorité", not in the sample.
    fail('sector_unsupported', 'practitioner.situation.sector', 'Praticien non conventionné (secteur 3) : tarif d’autorité non pris en charge.');
  }
  const baseCents = tariff(act, row, field, steps);
  if (act.overrunCents > 0 && ps.situation.sector !== '2') {
    fail('overrun_not_allowed', `${field}.overrunCents`, 'Dépassement d’honoraires interdit en secteur 1.');
  }
  const feeCents = baseCents + act.overrunCents;
  if (act.overrunCents > 0) steps.push({ rule: 'fee.overrun', label: `Dépassement d’honoraires (secteur 2) ${euros(act.overrunCents)}`, cents: act.overrunCents });
  steps.push({ rule: 'fee.total', label: 'Honoraires', cents: feeCents });
  steps.push({ rule: 'base.tariff', label: 'Base de remboursement : le tarif de l’acte', cents: baseCents, row: row.id });

  const r = rate(invoice, act, row, `${field}.ald`, cat);
  steps.push({ rule: r.rule, label: r.label, cents: r.percent, ...(r.row ? { row: r.row } : {}) });
  const amoCents = divRoundHalfUp(baseCents * r.percent, 100);
  steps.push({ rule: 'amo.part', label: `Part AMO : ${euros(baseCents)} × ${r.percent} %, arrondie au centime`, cents: amoCents });

  const flatContributionCents = row.flatContribution ? contribution('flat_contribution', invoice, act, amoCents, cat, used, steps) : 0;
  const deductibleCents = row.deductible ? contribution('deductible', invoice, act, amoCents - flatContributionCents, cat, used, steps) : 0;
  const amoNetCents = amoCents - flatContributionCents - deductibleCents;
  steps.push({ rule: 'amo.net', label: 'Remboursement AMO net', cents: amoNetCents });

  let amcCents = 0;
  const amc = amcOn(invoice.beneficiary, act.date);
  if (amc) {
    const ceiling = divRoundHalfUp(baseCents * amc.coverPercent, 100);
    amcCents = Math.max(0, Math.min(ceiling - amoCents, feeCents - amoCents));
    steps.push({ rule: 'amc.part', label: `Part AMC : garantie ${amc.coverPercent} % de la base, moins la part AMO, dans la limite des honoraires`, cents: amcCents });
  } else {
    steps.push({ rule: 'amc.none', label: 'Pas de droits complémentaires à la date de l’acte', cents: 0 });
  }

  const patientShareCents = feeCents - amoCents - amcCents;
  const patientTotalCents = patientShareCents + flatContributionCents + deductibleCents;
  const amoToPractitionerCents = invoice.context === 'none' ? 0 : amoCents;
  const amcToPractitionerCents = invoice.context === 'amo_amc' ? amcCents : 0;
  const payNowCents = feeCents - amoToPractitionerCents - amcToPractitionerCents;
  const payRule = { none: 'pay.no_third_party', amo: 'pay.third_party_amo', amo_amc: 'pay.third_party_amo_amc' }[invoice.context];
  const payLabel = {
    none: 'Sans tiers payant : le patient règle les honoraires',
    amo: 'Tiers payant AMO : le patient règle les honoraires moins la part AMO',
    amo_amc: 'Tiers payant AMO et AMC : le patient règle ce qui reste hors parts AMO et AMC'
  }[invoice.context];
  steps.push({ rule: payRule, label: payLabel, cents: payNowCents });

  return Object.freeze({
    index,
    code: act.code,
    date: act.date,
    row: row.id,
    sample: row.sample,
    ratePercent: r.percent,
    feeCents,
    baseCents,
    amoCents,
    flatContributionCents,
    deductibleCents,
    amoNetCents,
    amcCents,
    patientShareCents,
    patientTotalCents,
    payNowCents,
    amoToPractitionerCents,
    amcToPractitionerCents,
    working: Object.freeze(steps.map((s) => Object.freeze(s)))
  });
}

/** Every field of `Parts`, in one fixed order (the totals, and the simulator's groups 150 and 190). */
export const PART_KEYS = [
  'feeCents',
  'baseCents',
  'amoCents',
  'flatContributionCents',
  'deductibleCents',
  'amoNetCents',
  'amcCents',
  'patientShareCents',
  'patientTotalCents',
  'payNowCents',
  'amoToPractitionerCents',
  'amcToPractitionerCents'
] as const satisfies readonly (keyof Parts)[];

const TOTAL_LABELS: Readonly<Record<(typeof PART_KEYS)[number], string>> = {
  feeCents: 'Total des honoraires',
  baseCents: 'Total de la base de remboursement',
  amoCents: 'Total de la part AMO',
  flatContributionCents: 'Total des participations forfaitaires',
  deductibleCents: 'Total des franchises',
  amoNetCents: 'Total du remboursement AMO net',
  amcCents: 'Total de la part AMC',
  patientShareCents: 'Total à la charge du patient (hors participations et franchises)',
  patientTotalCents: 'Total à la charge du patient',
  payNowCents: 'À régler maintenant par le patient',
  amoToPractitionerCents: 'Versé au praticien par l’AMO',
  amcToPractitionerCents: 'Versé au praticien par l’AMC'
};

/**
 * Prices every act of `invoice` with the rows in force on its date. Throws the first
 * BillingError met (unknown code, coefficient out of range…); `checkInvoice` lists them all.
 * Contributions' daily caps are counted within this invoice (same practitioner, same day).
 */
/** Prices with the catalogue given: the sample one is chosen explicitly, never by default. */
export function priceInvoice(invoice: Invoice, catalogue: Catalogue): PricedInvoice {
  const used = new Map<string, number>();
  const acts = invoice.acts.map((a, i) => priceAct(invoice, a, i, catalogue, used));
  const totals = Object.fromEntries(PART_KEYS.map((k) => [k, acts.reduce((sum, a) => sum + a[k], 0)])) as unknown as Parts;
  const working = PART_KEYS.map((k) => Object.freeze({ rule: `total.${k}`, label: TOTAL_LABELS[k], cents: totals[k] }));
  return Object.freeze({
    invoiceId: invoice.id,
    context: invoice.context,
    catalogueVersion: catalogue.version,
    sample: acts.some((a) => a.sample),
    acts: Object.freeze(acts),
    totals: Object.freeze(totals),
    working: Object.freeze(working)
  });
}
