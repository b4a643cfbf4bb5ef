/**
 * Builders for billing tests: plain inputs (JSON-like, so they can also cross into a Chromium
 * page) and the model objects made from them. Identifiers are fictitious; their keys are right.
 */
import {
  createBeneficiary,
  createInvoice,
  createPractitioner,
  type ActInput,
  type BeneficiaryInput,
  type InvoiceInput,
  type PractitionerInput
} from '../../src/lib/billing/index.js';

/** Luhn-valid fictitious RPPS numbers. */
export const RPPS = { doctor: '10000000009', nurse: '10012345673', physiotherapist: '10098765430' } as const;
/** 2 55 08 14 168 025, key 38: a textbook NIR example. */
export const NIR = '255081416802538';

export type ProfessionName = keyof typeof RPPS;
const CODES: Record<ProfessionName, string> = { doctor: '10', nurse: '60', physiotherapist: '70' };
const SPECIALTIES: Record<ProfessionName, string> = { doctor: '01', nurse: '24', physiotherapist: '26' };

export function practitionerInput(profession: ProfessionName = 'doctor', sector: string = '1'): PractitionerInput {
  return {
    rpps: RPPS[profession],
    lastName: 'MARTIN',
    firstName: 'CLAIRE',
    professionCode: CODES[profession],
    specialty: SPECIALTIES[profession],
    situations: [
      { billingNumber: '751234567', sector, tariffZone: '10' },
      { billingNumber: '2A1234567', sector: '1', tariffZone: '10' }
    ],
    chosenBillingNumber: '751234567'
  };
}

export function beneficiaryInput(overrides: Partial<BeneficiaryInput> = {}): BeneficiaryInput {
  return {
    holderNir: NIR,
    lastName: 'DURAND',
    firstName: 'LUCIE',
    birthDate: '1980-05-15',
    rank: 1,
    quality: 'holder',
    scheme: '01',
    fund: '751',
    centre: '0001',
    amoRights: [{ from: '2015-01-01', thirdParty: true }],
    exemptions: [],
    ...overrides
  };
}

export interface InvoiceSpec {
  profession?: ProfessionName;
  sector?: string;
  beneficiary?: Partial<BeneficiaryInput>;
  acts: ActInput[];
  context?: string;
  nature?: string;
  carePathway?: string | null;
  prescriber?: InvoiceInput['prescriber'] | null;
  dre?: boolean;
  id?: string;
}

/** The whole invoice as plain data; `buildInvoice` makes the model from it. */
export interface InvoiceData {
  practitioner: PractitionerInput;
  beneficiary: BeneficiaryInput;
  invoice: Omit<InvoiceInput, 'practitioner' | 'beneficiary'>;
}

export function invoiceData(spec: InvoiceSpec): InvoiceData {
  const profession = spec.profession ?? 'doctor';
  const invoice: InvoiceData['invoice'] = {
    id: spec.id ?? 'F-1',
    acts: spec.acts,
    context: spec.context ?? 'none',
    nature: spec.nature ?? 'illness',
    dre: spec.dre ?? false
  };
  const pathway = spec.carePathway === undefined ? (profession === 'doctor' ? 'referring_doctor' : undefined) : spec.carePathway;
  if (pathway) invoice.carePathway = pathway;
  const prescriber =
    spec.prescriber === undefined
      ? profession === 'doctor'
        ? undefined
        : { identifier: RPPS.doctor, lastName: 'BERNARD', prescriptionDate: '2024-01-02' }
      : spec.prescriber;
  if (prescriber) invoice.prescriber = prescriber;
  return { practitioner: practitionerInput(profession, spec.sector), beneficiary: beneficiaryInput(spec.beneficiary), invoice };
}

export function buildInvoice(data: InvoiceData) {
  return createInvoice({
    ...data.invoice,
    practitioner: createPractitioner(data.practitioner),
    beneficiary: createBeneficiary(data.beneficiary)
  });
}

export const invoiceOf = (spec: InvoiceSpec) => buildInvoice(invoiceData(spec));

/** The BillingError code `fn` throws, or 'no error'. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return (e as { code?: string }).code ?? `not a BillingError: ${String(e)}`;
  }
}

export { mulberry32 as prng } from '../support/prng.js';
