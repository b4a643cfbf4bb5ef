/**
 * The act catalogue: data, not code. A tariff row says what a code is worth from a date on,
 * for which professions and zones, and where the value comes from. A tariff revision is a new
 * row with a later `effectiveFrom`; nothing else changes. Pricing picks, for each act, the row
 * in force on the act's date (the latest `effectiveFrom` not after it, within `until`).
 *
 * `createCatalogue` validates a table (from our module, a JSON file or a future download) so
 * that pricing can trust its shape; `SAMPLE_CATALOGUE` is the one shipped, every row of which is
 * marked `sample: true`: the values look like the public NGAP/CCAM figures but were not checked
 * against the official tables and must not be used to bill (docs/billing/README.md).
 */
import { isIsoDate, type IsoDate } from './dates.js';
import { BillingError, fail } from './errors.js';
import type { Profession } from './practitioner.js';
import { CATALOGUE_DATA } from './catalogue-data.js';

/**
 * - `letter`: an NGAP key letter priced as unit value × coefficient (AMI 2, AMK 7.5);
 * - `flat`: a fixed amount (G, BSA, IFD, surcharges, CCAM acts), coefficient 1;
 * - `per_km`: travel allowance (IK), unit value per kilometre beyond an abatement.
 */
export type TariffKind = 'letter' | 'flat' | 'per_km';

export interface TariffRow {
  /** Stable id, quoted in the working: `ngap.AMI.2012-01-01`. */
  readonly id: string;
  readonly system: 'ngap' | 'ccam';
  readonly code: string;
  readonly label: string;
  readonly kind: TariffKind;
  readonly professions: readonly Profession[];
  /** Absent: every tariff zone. */
  readonly zones?: readonly string[];
  /** Cents: the key's unit value, the flat amount, or the value of one kilometre. */
  readonly unitCents: number;
  /** Allowed coefficients, both ends included (letter keys). */
  readonly coefficient?: { readonly min: number; readonly max: number };
  /** Kilometres not paid on each trip (per_km). */
  readonly abatementKm?: number;
  /** The usual AMO rate for the act, in percent of the base. */
  readonly amoRatePercent: number;
  /** The flat contribution (participation forfaitaire) applies to this act. */
  readonly flatContribution: boolean;
  /** The paramedical deductible (franchise) applies to this act. */
  readonly deductible: boolean;
  /** The act needs a medical prescription (nurses, physiotherapists). */
  readonly prescription: boolean;
  /** `surcharge` rows (night, Sunday) are billed with an act on the same day. */
  readonly category: 'consultation' | 'visit' | 'act' | 'package' | 'travel' | 'surcharge';
  readonly effectiveFrom: IsoDate;
  /** Last day in force of a withdrawn code. */
  readonly until?: IsoDate;
  readonly source: string;
  readonly sample: boolean;
}

export type ContributionKind = 'flat_contribution' | 'deductible';

/** Participation forfaitaire (doctor acts) and franchise médicale (paramedical acts). */
export interface ContributionRow {
  readonly id: string;
  readonly kind: ContributionKind;
  readonly unitCents: number;
  /** Most a beneficiary owes per day and practitioner, all acts together. */
  readonly dailyCapCents: number;
  /** Beneficiaries younger than this on the act's date owe nothing. */
  readonly exemptUnderAge: number;
  readonly effectiveFrom: IsoDate;
  readonly source: string;
  readonly sample: boolean;
}

/** Rate rules that do not belong to one act, e.g. the rate outside the care pathway. */
export interface RateRow {
  readonly id: string;
  readonly rule: 'outside_pathway';
  readonly percent: number;
  readonly effectiveFrom: IsoDate;
  readonly source: string;
  readonly sample: boolean;
}

export interface Catalogue {
  readonly version: string;
  readonly sample: boolean;
  readonly rows: readonly TariffRow[];
  readonly contributions: readonly ContributionRow[];
  readonly rates: readonly RateRow[];
}

/** Plain data as stored (a JSON file has the same shape). */
export interface CatalogueData {
  version: string;
  rows: readonly Omit<TariffRow, 'id'>[];
  contributions: readonly Omit<ContributionRow, 'id'>[];
  rates: readonly Omit<RateRow, 'id'>[];
}

const PROFESSION_NAMES: readonly string[] = ['doctor', 'nurse', 'physiotherapist'];
const KINDS: readonly string[] = ['letter', 'flat', 'per_km'];
const CATEGORIES: readonly string[] = ['consultation', 'visit', 'act', 'package', 'travel', 'surcharge'];

function bad(where: string, what: string): never {
  fail('catalogue_invalid', where, `Catalogue des actes invalide (${what}).`);
}

const cents = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const percent = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 100;
const provenance = (r: { source?: unknown; sample?: unknown }): boolean =>
  typeof r.source === 'string' && r.source.trim() !== '' && typeof r.sample === 'boolean';

function tariffRow(r: Omit<TariffRow, 'id'>, i: number): TariffRow {
  const where = `rows[${i}]`;
  if (r.system !== 'ngap' && r.system !== 'ccam') bad(where, 'système');
  if (typeof r.code !== 'string' || !/^[A-Z0-9_]{1,8}$/.test(r.code)) bad(where, 'code');
  if (typeof r.label !== 'string' || r.label === '') bad(where, 'libellé');
  if (!KINDS.includes(r.kind)) bad(where, 'nature de tarif');
  if (!CATEGORIES.includes(r.category)) bad(where, 'catégorie');
  if (!Array.isArray(r.professions) || r.professions.length === 0 || !r.professions.every((p) => PROFESSION_NAMES.includes(p))) {
    bad(where, 'professions');
  }
  if (r.zones !== undefined && (!Array.isArray(r.zones) || !r.zones.every((z) => /^\d{2}$/.test(z)))) bad(where, 'zones');
  if (!cents(r.unitCents)) bad(where, 'valeur en centimes');
  if (r.kind === 'letter') {
    const c = r.coefficient;
    if (!c || !(c.min > 0) || !(c.max >= c.min)) bad(where, 'coefficients');
  } else if (r.coefficient !== undefined) bad(where, 'coefficient hors lettre-clé');
  if (r.kind === 'per_km' ? !Number.isInteger(r.abatementKm) || (r.abatementKm as number) < 0 : r.abatementKm !== undefined) {
    bad(where, 'abattement kilométrique');
  }
  if (!percent(r.amoRatePercent)) bad(where, 'taux AMO');
  for (const flag of ['flatContribution', 'deductible', 'prescription'] as const) {
    if (typeof r[flag] !== 'boolean') bad(where, flag);
  }
  if (!isIsoDate(r.effectiveFrom)) bad(where, 'date d’effet');
  if (r.until !== undefined && (!isIsoDate(r.until) || r.until < r.effectiveFrom)) bad(where, 'date de fin');
  if (!provenance(r)) bad(where, 'source');
  const zones = r.zones ? `@${r.zones.join('+')}` : '';
  return Object.freeze({
    ...r,
    professions: Object.freeze([...r.professions]),
    ...(r.zones ? { zones: Object.freeze([...r.zones]) } : {}),
    ...(r.coefficient ? { coefficient: Object.freeze({ ...r.coefficient }) } : {}),
    id: `${r.system}.${r.code}${zones}.${r.effectiveFrom}`
  });
}

export function createCatalogue(data: CatalogueData): Catalogue {
  if (typeof data?.version !== 'string' || !Array.isArray(data.rows) || !Array.isArray(data.contributions) || !Array.isArray(data.rates)) {
    bad('', 'structure');
  }
  const rows = data.rows.map(tariffRow);
  const seen = new Set<string>();
  for (const [i, r] of rows.entries()) {
    // Two rows for the same code, zones and date would make the price depend on their order.
    if (seen.has(r.id)) bad(`rows[${i}]`, `ligne en double ${r.id}`);
    seen.add(r.id);
  }
  const contributions = data.contributions.map((c, i) => {
    const where = `contributions[${i}]`;
    if (c.kind !== 'flat_contribution' && c.kind !== 'deductible') bad(where, 'nature');
    if (!cents(c.unitCents) || !cents(c.dailyCapCents) || !Number.isInteger(c.exemptUnderAge)) bad(where, 'montants');
    if (!isIsoDate(c.effectiveFrom) || !provenance(c)) bad(where, 'date ou source');
    return Object.freeze({ ...c, id: `${c.kind}.${c.effectiveFrom}` });
  });
  const rates = data.rates.map((r, i) => {
    if (r.rule !== 'outside_pathway' || !percent(r.percent) || !isIsoDate(r.effectiveFrom) || !provenance(r)) bad(`rates[${i}]`, 'taux');
    return Object.freeze({ ...r, id: `rate.${r.rule}.${r.effectiveFrom}` });
  });
  const all = [...rows, ...contributions, ...rates];
  return Object.freeze({
    version: data.version,
    sample: all.some((r) => r.sample),
    rows: Object.freeze(rows),
    contributions: Object.freeze(contributions),
    rates: Object.freeze(rates)
  });
}

/** The latest of `rows` in force on `date` (effectiveFrom ≤ date ≤ until). */
function inForce<T extends { effectiveFrom: IsoDate; until?: IsoDate }>(rows: readonly T[], date: IsoDate): T[] {
  return rows.filter((r) => r.effectiveFrom <= date && (r.until === undefined || date <= r.until));
}

/**
 * The tariff row for `code` on `date`. A zone-specific row wins over a general one of the same
 * date. Typed errors: `code_unknown`, `code_not_for_profession`, `code_not_in_force`.
 */
export function findTariff(cat: Catalogue, code: string, date: IsoDate, profession: Profession, zone: string, field = 'code'): TariffRow {
  const ofCode = cat.rows.filter((r) => r.code === code);
  if (ofCode.length === 0) throw new BillingError('code_unknown', field, `Code d’acte inconnu : ${code}.`);
  const ofProfession = ofCode.filter((r) => r.professions.includes(profession) && (!r.zones || r.zones.includes(zone)));
  if (ofProfession.length === 0) {
    throw new BillingError('code_not_for_profession', field, `Le code ${code} ne se facture pas par cette profession ou dans cette zone.`);
  }
  const candidates = inForce(ofProfession, date).sort(
    (a, b) => (a.effectiveFrom < b.effectiveFrom ? 1 : a.effectiveFrom > b.effectiveFrom ? -1 : (b.zones ? 1 : 0) - (a.zones ? 1 : 0))
  );
  const row = candidates[0];
  if (!row) throw new BillingError('code_not_in_force', field, `Le code ${code} n’est pas en vigueur à la date de l’acte (${date}).`);
  return row;
}

export function findContribution(cat: Catalogue, kind: ContributionKind, date: IsoDate): ContributionRow | undefined {
  return inForce(cat.contributions.filter((c) => c.kind === kind), date).sort((a, b) => (a.effectiveFrom < b.effectiveFrom ? 1 : -1))[0];
}

export function findRate(cat: Catalogue, rule: RateRow['rule'], date: IsoDate): RateRow | undefined {
  return inForce(cat.rates.filter((r) => r.rule === rule), date).sort((a, b) => (a.effectiveFrom < b.effectiveFrom ? 1 : -1))[0];
}

/** The shipped catalogue: every value is a sample (see catalogue-data.ts). */
export const SAMPLE_CATALOGUE: Catalogue = createCatalogue(CATALOGUE_DATA);
