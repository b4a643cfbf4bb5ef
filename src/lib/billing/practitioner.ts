/**
 * The practitioner, as the CPS describes them, and the billing situation chosen for the day.
 *
 * A CPS may carry several billing situations (a practitioner working in two practices, or as a
 * replacement): the invoice names exactly one, and it must be one of the card's.
 */
import { fail } from './errors.js';

/** Professions the first slice bills, by their RPPS profession code. */
export const PROFESSIONS = Object.freeze({
  '10': 'doctor',
  '60': 'nurse',
  '70': 'physiotherapist'
} as const);

export type ProfessionCode = keyof typeof PROFESSIONS;
export type Profession = (typeof PROFESSIONS)[ProfessionCode];

/** 1: sector 1 (fees at the tariff), 2: sector 2 (fee overruns allowed), 3: not under the convention. */
export type ConventionSector = '1' | '2' | '3';

export interface BillingSituation {
  /** Numéro de facturation (AM number): 9 characters, department first (2A/2B for Corsica). */
  readonly billingNumber: string;
  readonly sector: ConventionSector;
  /** The card's tariff zone code (2 digits); catalogue rows may be restricted to zones. */
  readonly tariffZone: string;
}

export interface Practitioner {
  readonly rpps: string;
  readonly lastName: string;
  readonly firstName: string;
  readonly professionCode: ProfessionCode;
  readonly profession: Profession;
  /** Specialty code (2 digits), e.g. general medicine. */
  readonly specialty: string;
  /** Every situation on the card, as read. */
  readonly situations: readonly BillingSituation[];
  /** The one this invoice is billed under. */
  readonly situation: BillingSituation;
}

export interface PractitionerInput {
  rpps: string;
  lastName: string;
  firstName: string;
  professionCode: string;
  specialty: string;
  situations: readonly { billingNumber: string; sector: string; tariffZone: string }[];
  /** The billing number of the chosen situation. */
  chosenBillingNumber: string;
}

/** Luhn (ISO/IEC 7812-1) over every digit, the last being the key: what RPPS uses. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** The Luhn key digit to append to `body`. */
export function luhnKey(body: string): string {
  for (let k = 0; k <= 9; k++) if (luhnValid(body + k)) return String(k);
  fail('rpps_format', 'rpps', 'Numéro RPPS invalide.');
}

export function checkRpps(value: unknown, field = 'rpps'): string {
  if (typeof value !== 'string' || !/^\d{11}$/.test(value)) {
    fail('rpps_format', field, 'Le numéro RPPS doit compter 11 chiffres.');
  }
  if (!luhnValid(value)) fail('rpps_key', field, 'La clé du numéro RPPS est fausse.');
  return value;
}

export function checkName(value: unknown, field: string): string {
  // Card names are upper-case Latin with spaces, hyphens and apostrophes; we accept what a
  // French civil status may hold, but never an empty or control-laden string.
  if (typeof value !== 'string' || value.trim() === '' || value.length > 60 || /[\p{Cc}]/u.test(value)) {
    fail('name_invalid', field, 'Nom ou prénom invalide.');
  }
  return value.trim();
}

function situation(value: { billingNumber: unknown; sector: unknown; tariffZone: unknown }, field: string): BillingSituation {
  const { billingNumber, sector, tariffZone } = value;
  if (typeof billingNumber !== 'string' || !/^(\d{2}|2A|2B)\d{7}$/.test(billingNumber)) {
    fail('billing_number_format', `${field}.billingNumber`, 'Numéro de facturation invalide (9 caractères).');
  }
  if (sector !== '1' && sector !== '2' && sector !== '3') {
    fail('sector_invalid', `${field}.sector`, 'Secteur conventionnel invalide (1, 2 ou 3).');
  }
  if (typeof tariffZone !== 'string' || !/^\d{2}$/.test(tariffZone)) {
    fail('tariff_zone_format', `${field}.tariffZone`, 'Zone tarifaire invalide (2 chiffres).');
  }
  return Object.freeze({ billingNumber, sector, tariffZone });
}

export function createPractitioner(input: PractitionerInput): Practitioner {
  const rpps = checkRpps(input.rpps);
  const lastName = checkName(input.lastName, 'lastName');
  const firstName = checkName(input.firstName, 'firstName');
  const code = input.professionCode;
  if (!Object.hasOwn(PROFESSIONS, code)) {
    fail('profession_unknown', 'professionCode', 'Profession non prise en charge (médecin, infirmier, masseur-kinésithérapeute).');
  }
  const professionCode = code as ProfessionCode;
  if (typeof input.specialty !== 'string' || !/^\d{2}$/.test(input.specialty)) {
    fail('specialty_format', 'specialty', 'Code de spécialité invalide (2 chiffres).');
  }
  if (!Array.isArray(input.situations) || input.situations.length === 0) {
    fail('situation_not_on_card', 'situations', 'La carte ne porte aucune situation de facturation.');
  }
  const situations = Object.freeze(input.situations.map((s, i) => situation(s, `situations[${i}]`)));
  const chosen = situations.find((s) => s.billingNumber === input.chosenBillingNumber);
  if (!chosen) {
    fail('situation_not_on_card', 'chosenBillingNumber', 'La situation de facturation choisie ne figure pas sur la carte CPS.');
  }
  return Object.freeze({
    rpps,
    lastName,
    firstName,
    professionCode,
    profession: PROFESSIONS[professionCode],
    specialty: input.specialty,
    situations,
    situation: chosen
  });
}
