/**
 * The beneficiary, as the Vitale card describes them: the holder's NIR, the beneficiary's own
 * data (birth date, rank, quality), the AMO attachment (scheme, fund, centre), AMO rights
 * periods, exemptions and the complementary (AMC) contract.
 *
 * The NIR is personal data (spec README): no error message here ever repeats it.
 */
import { daysInMonth, inPeriod, period, type IsoDate, type Period } from './dates.js';
import { checkName } from './practitioner.js';
import { fail } from './errors.js';

/**
 * NIR key: 97 − (N mod 97), N the 13-character number read as an integer. Corsica's
 * department letters are replaced for the computation only, as the norm says: `2A` → 19,
 * `2B` → 18 (so 2A…/2B… keep the keys they had when Corsica was department 20).
 * 13 digits stay below 2^53: plain number arithmetic is exact.
 */
export function nirKey(nir13: string): number {
  if (!NIR13.test(nir13)) fail('nir_format', 'nir', 'Le NIR doit compter 13 caractères (chiffres, 2A ou 2B pour la Corse).');
  const numeric = nir13.slice(0, 5) + nir13.slice(5, 7).replace('2A', '19').replace('2B', '18') + nir13.slice(7);
  return 97 - (Number(numeric) % 97);
}

// Sex/kind digit, year, month, department (2 digits or 2A/2B), commune and order.
const NIR13 = /^[1-8]\d{4}(?:\d{2}|2A|2B)\d{6}$/;

export interface Nir {
  /** The 13 characters. */
  readonly number: string;
  /** The 2-digit key, as written ("07"). */
  readonly key: string;
}

/** A NIR with its key: 15 characters, spaces allowed between groups. */
export function checkNir(value: unknown, field = 'nir'): Nir {
  if (typeof value !== 'string') fail('nir_format', field, 'NIR manquant.');
  const compact = value.replace(/ /g, '').toUpperCase();
  if (compact.length !== 15 || !NIR13.test(compact.slice(0, 13)) || !/^\d{2}$/.test(compact.slice(13))) {
    fail('nir_format', field, 'Le NIR doit compter 13 caractères suivis d’une clé de 2 chiffres.');
  }
  const number = compact.slice(0, 13);
  const key = compact.slice(13);
  if (nirKey(number) !== Number(key)) fail('nir_key', field, 'La clé du NIR ne correspond pas au numéro.');
  return Object.freeze({ number, key });
}

/**
 * A birth date as Vitale carries it. "Lunar" dates exist: day 00 or month 00 (unknown, as for
 * people born abroad without civil status), or a day beyond the month's length (dates carried
 * over from non-Gregorian calendars). They are valid identifiers, not calendar dates, so they
 * are kept as read and never turned into a JS Date.
 */
export interface BirthDate {
  readonly year: number;
  /** 0–12; 0 = unknown. */
  readonly month: number;
  /** 0–31; 0 = unknown; may exceed the month's length. */
  readonly day: number;
  /** True when the date is not a Gregorian calendar day. */
  readonly lunar: boolean;
}

export function checkBirthDate(value: unknown, field = 'birthDate'): BirthDate {
  const m = typeof value === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(value) : null;
  if (!m) fail('birth_date_format', field, 'Date de naissance invalide (attendu AAAA-MM-JJ, 00 admis).');
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1850 || month > 12 || day > 31) fail('birth_date_format', field, 'Date de naissance invalide.');
  const lunar = month === 0 || day === 0 || day > daysInMonth(year, month);
  return Object.freeze({ year, month, day, lunar });
}

/**
 * Age in whole years on `date`. A lunar date is read as the earliest day it can stand for
 * (month 00 → January, day 00 → the 1st, a day past the month's end → its last day): the
 * beneficiary is then never taken for younger than they may be. Our choice; documented.
 */
export function ageOn(birth: BirthDate, date: IsoDate): number {
  const month = birth.month === 0 ? 1 : birth.month;
  const day = birth.day === 0 ? 1 : Math.min(birth.day, daysInMonth(birth.year, month));
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  let age = y - birth.year;
  if (mo < month || (mo === month && d < day)) age -= 1;
  return age;
}

export const QUALITIES = ['holder', 'spouse', 'child', 'other'] as const;
export type Quality = (typeof QUALITIES)[number];

/** Exemptions of the patient's share (ticket modérateur) this slice knows: all at 100 %. */
export const EXEMPTION_KINDS = ['ald', 'maternity', 'work_accident'] as const;
export type ExemptionKind = (typeof EXEMPTION_KINDS)[number];

export interface Exemption extends Period {
  readonly kind: ExemptionKind;
}

export interface AmoRights extends Period {
  /** Third-party payment on the AMO part is open for this period (as the card says). */
  readonly thirdParty: boolean;
}

export interface AmcContract {
  /** The complementary insurer's identifier (8 to 10 characters). */
  readonly identifier: string;
  /** Contract type, 2 digits; `99` is the OCT "enriched FSE" contract (docs/domain/workflow.md). */
  readonly contractType: string;
  readonly rights: Period;
  /**
   * What the contract covers, in percent of the reimbursement base, AMO part included (the
   * usual "100 % BR" contract covers the patient's share up to the base; 200 covers overruns
   * up to twice the base). The simulated contract of the card (this slice has no real AMC data).
   */
  readonly coverPercent: number;
  /** Third-party payment on the AMC part is open. */
  readonly thirdParty: boolean;
}

export interface Beneficiary {
  readonly holderNir: Nir;
  readonly lastName: string;
  readonly firstName: string;
  readonly birthDate: BirthDate;
  /** Rank of birth (1–9): tells twins apart. */
  readonly rank: number;
  readonly quality: Quality;
  /** Régime (2 digits), caisse (3 digits), centre (4 digits). */
  readonly scheme: string;
  readonly fund: string;
  readonly centre: string;
  readonly amoRights: readonly AmoRights[];
  readonly exemptions: readonly Exemption[];
  readonly amc?: AmcContract;
}

export interface BeneficiaryInput {
  holderNir: string;
  lastName: string;
  firstName: string;
  birthDate: string;
  rank: number;
  quality: string;
  scheme: string;
  fund: string;
  centre: string;
  amoRights: readonly { from: string; to?: string; thirdParty?: boolean }[];
  exemptions?: readonly { kind: string; from: string; to?: string }[];
  amc?: { identifier: string; contractType: string; from: string; to?: string; coverPercent: number; thirdParty?: boolean };
}

function digits(value: unknown, n: number, code: 'scheme_format' | 'fund_format' | 'centre_format', field: string, label: string): string {
  if (typeof value !== 'string' || !new RegExp(`^\\d{${n}}$`).test(value)) fail(code, field, `${label} invalide (${n} chiffres).`);
  return value;
}

/**
 * Who a beneficiary is, as one string: the holder's NIR, the birth date and the rank (which
 * tells twins apart). For finding a patient among earlier invoices; it holds a NIR: memory only.
 */
export function beneficiaryKey(b: Pick<Beneficiary, 'holderNir' | 'birthDate' | 'rank'>): string {
  return `${b.holderNir.number}${b.holderNir.key}|${b.birthDate.year}-${b.birthDate.month}-${b.birthDate.day}|${b.rank}`;
}

export function createBeneficiary(input: BeneficiaryInput): Beneficiary {
  const holderNir = checkNir(input.holderNir, 'holderNir');
  const lastName = checkName(input.lastName, 'lastName');
  const firstName = checkName(input.firstName, 'firstName');
  const birthDate = checkBirthDate(input.birthDate);
  if (!Number.isInteger(input.rank) || input.rank < 1 || input.rank > 9) {
    fail('rank_invalid', 'rank', 'Rang de naissance invalide (1 à 9).');
  }
  if (!(QUALITIES as readonly string[]).includes(input.quality)) {
    fail('quality_unknown', 'quality', 'Qualité du bénéficiaire inconnue (assuré, conjoint, enfant, autre).');
  }
  const scheme = digits(input.scheme, 2, 'scheme_format', 'scheme', 'Code régime');
  const fund = digits(input.fund, 3, 'fund_format', 'fund', 'Code caisse');
  const centre = digits(input.centre, 4, 'centre_format', 'centre', 'Code centre');
  if (!Array.isArray(input.amoRights)) fail('period_invalid', 'amoRights', 'Périodes de droits AMO manquantes.');
  const amoRights = Object.freeze(
    input.amoRights.map((r, i) => Object.freeze({ ...period(r, `amoRights[${i}]`), thirdParty: r.thirdParty === true }))
  );
  const exemptions = Object.freeze(
    (input.exemptions ?? []).map((e, i) => {
      if (!(EXEMPTION_KINDS as readonly string[]).includes(e.kind)) {
        fail('exemption_unknown', `exemptions[${i}].kind`, 'Exonération inconnue (ALD, maternité, accident du travail).');
      }
      return Object.freeze({ ...period(e, `exemptions[${i}]`), kind: e.kind as ExemptionKind });
    })
  );
  let amc: AmcContract | undefined;
  if (input.amc) {
    const a = input.amc;
    if (typeof a.identifier !== 'string' || !/^[0-9A-Z]{8,10}$/.test(a.identifier)) {
      fail('amc_identifier_format', 'amc.identifier', 'Identifiant de l’organisme complémentaire invalide.');
    }
    if (typeof a.contractType !== 'string' || !/^\d{2}$/.test(a.contractType)) {
      fail('amc_contract_format', 'amc.contractType', 'Type de contrat complémentaire invalide (2 chiffres).');
    }
    if (!Number.isInteger(a.coverPercent) || a.coverPercent < 0 || a.coverPercent > 1000) {
      fail('amc_cover_invalid', 'amc.coverPercent', 'Taux de garantie complémentaire invalide (0 à 1000 % de la base).');
    }
    amc = Object.freeze({
      identifier: a.identifier,
      contractType: a.contractType,
      rights: period(a, 'amc'),
      coverPercent: a.coverPercent,
      thirdParty: a.thirdParty === true
    });
  }
  return Object.freeze({
    holderNir,
    lastName,
    firstName,
    birthDate,
    rank: input.rank,
    quality: input.quality as Quality,
    scheme,
    fund,
    centre,
    amoRights,
    exemptions,
    ...(amc ? { amc } : {})
  });
}

export function amoRightsOn(b: Beneficiary, date: IsoDate): AmoRights | undefined {
  return b.amoRights.find((r) => inPeriod(date, r));
}

export function exemptionOn(b: Beneficiary, kind: ExemptionKind, date: IsoDate): Exemption | undefined {
  return b.exemptions.find((e) => e.kind === kind && inPeriod(date, e));
}

export function amcOn(b: Beneficiary, date: IsoDate): AmcContract | undefined {
  return b.amc && inPeriod(date, b.amc.rights) ? b.amc : undefined;
}

