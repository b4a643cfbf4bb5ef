/**
 * The invoice: who bills whom, the acts, the billing context and the state of its content.
 *
 * `createInvoice` checks the shape of every field (a typed error for each); whether the
 * invoice can be signed (rights on each date, codes in force, third-party payment allowed…) is
 * for `checkInvoice` (checks.ts), because it needs the catalogue and the clock.
 *
 * The invoice's own states are those of its content:
 *
 *   draft ──► to_sign ──► signed
 *     ▲          │          │
 *     └──────────┘          ▼
 *   draft, to_sign, signed ──► cancelled   (signed: only while no document is in a lot)
 *
 * What happens to it afterwards is the fate of each of its documents, the FSE and the DRE,
 * which can differ (the AMC may reject what the AMO paid), and of the lots that carry them:
 * lifecycle.ts keeps those, with the history of every change. The state changes here are
 * internal (`transition` is not exported by the module's index): callers use the domain
 * operations (`submitForSigning`, lifecycle.ts), which check what each change requires.
 */
import { isoDate, isTimeOfDay, type IsoDate } from './dates.js';
import { BillingError, fail } from './errors.js';
import type { Beneficiary } from './beneficiary.js';
import { checkName, checkRpps, type Practitioner } from './practitioner.js';

export const INVOICE_STATES = ['draft', 'to_sign', 'signed', 'cancelled'] as const;
export type InvoiceState = (typeof INVOICE_STATES)[number];

const TRANSITIONS: Readonly<Record<InvoiceState, readonly InvoiceState[]>> = Object.freeze({
  draft: ['to_sign', 'cancelled'],
  to_sign: ['draft', 'signed', 'cancelled'],
  signed: ['cancelled'],
  cancelled: []
});

export function allowedTransitions(from: InvoiceState): readonly InvoiceState[] {
  return TRANSITIONS[from];
}

export function canTransition(from: InvoiceState, to: InvoiceState): boolean {
  return TRANSITIONS[from].includes(to);
}

const STATE_LABELS: Readonly<Record<InvoiceState, string>> = Object.freeze({
  draft: 'brouillon',
  to_sign: 'à signer',
  signed: 'signée',
  cancelled: 'annulée'
});

/**
 * The same invoice in state `to`, or `transition_forbidden`. Never mutates `invoice`. Internal
 * to the billing core: only its domain operations call it.
 */
export function transition(invoice: Invoice, to: InvoiceState): Invoice {
  if (!(INVOICE_STATES as readonly string[]).includes(to)) fail('state_unknown', 'state', 'État de facture inconnu.');
  if (!canTransition(invoice.state, to)) {
    throw new BillingError(
      'transition_forbidden',
      'state',
      `Une facture ${STATE_LABELS[invoice.state]} ne peut pas passer à l’état « ${STATE_LABELS[to]} ».`
    );
  }
  return Object.freeze({ ...invoice, state: to });
}

/** none: the patient pays everything; amo: third-party payment on the AMO part; amo_amc: on both. */
export const BILLING_CONTEXTS = ['none', 'amo', 'amo_amc'] as const;
export type BillingContext = (typeof BILLING_CONTEXTS)[number];

/** Nature of the insurance: illness, maternity, work accident (the last two at 100 %). */
export const NATURES = ['illness', 'maternity', 'work_accident'] as const;
export type Nature = (typeof NATURES)[number];

/** Doctors' care pathway (parcours de soins); outside it, the AMO rate drops. */
export const CARE_PATHWAYS = ['referring_doctor', 'referred', 'direct_access', 'emergency', 'outside_pathway'] as const;
export type CarePathway = (typeof CARE_PATHWAYS)[number];

export interface Act {
  readonly code: string;
  readonly date: IsoDate;
  /** HH:MM, when known (surcharges, duplicates on one day). */
  readonly time?: string;
  /** NGAP coefficient, at most two decimals (AMI 1.5); 1 for flat codes. */
  readonly coefficient: number;
  /** IK: round-trip kilometres, whole. */
  readonly distanceKm?: number;
  /** Fee overrun above the base (dépassement), sector 2 only. */
  readonly overrunCents: number;
  /** The act relates to the beneficiary's long-term illness (ALD): 100 %. */
  readonly ald: boolean;
}

export interface Prescriber {
  /** RPPS (11 digits, Luhn) or ADELI/AM number (9 characters). */
  readonly identifier: string;
  readonly lastName: string;
  readonly prescriptionDate: IsoDate;
}

export interface Invoice {
  /** Local identifier (the invoice number comes with numbering, a later slice). */
  readonly id: string;
  readonly practitioner: Practitioner;
  readonly beneficiary: Beneficiary;
  readonly acts: readonly Act[];
  readonly prescriber?: Prescriber;
  readonly carePathway?: CarePathway;
  readonly context: BillingContext;
  readonly nature: Nature;
  /** A DRE is built beside the FSE for the AMC. */
  readonly dre: boolean;
  readonly state: InvoiceState;
}

export interface ActInput {
  code: string;
  date: string;
  time?: string;
  coefficient?: number;
  distanceKm?: number;
  overrunCents?: number;
  ald?: boolean;
}

export interface InvoiceInput {
  id: string;
  practitioner: Practitioner;
  beneficiary: Beneficiary;
  acts: readonly ActInput[];
  prescriber?: { identifier: string; lastName: string; prescriptionDate: string };
  carePathway?: string;
  context: string;
  nature?: string;
  dre?: boolean;
  state?: string;
}

/** Coefficient in hundredths, or `coefficient_invalid` (more than two decimals, ≤ 0, huge). */
export function coefficientHundredths(coefficient: number, field: string): number {
  const h = Math.round(coefficient * 100);
  if (!Number.isFinite(coefficient) || coefficient <= 0 || h > 100_000 || Math.abs(coefficient * 100 - h) > 1e-6) {
    fail('coefficient_invalid', field, 'Coefficient invalide (nombre positif, deux décimales au plus).');
  }
  return h;
}

function act(a: ActInput, i: number): Act {
  const f = `acts[${i}]`;
  if (typeof a.code !== 'string' || !/^[A-Z0-9_]{1,8}$/.test(a.code)) fail('act_code_format', `${f}.code`, 'Code d’acte invalide.');
  const date = isoDate(a.date, `${f}.date`);
  if (a.time !== undefined && !isTimeOfDay(a.time)) fail('time_invalid', `${f}.time`, 'Heure invalide (attendu HH:MM).');
  const coefficient = a.coefficient ?? 1;
  coefficientHundredths(coefficient, `${f}.coefficient`);
  if (a.distanceKm !== undefined && (!Number.isInteger(a.distanceKm) || a.distanceKm < 0 || a.distanceKm > 2000)) {
    fail('distance_invalid', `${f}.distanceKm`, 'Distance invalide (kilomètres entiers, aller-retour).');
  }
  const overrunCents = a.overrunCents ?? 0;
  if (!Number.isSafeInteger(overrunCents) || overrunCents < 0) {
    fail('amount_invalid', `${f}.overrunCents`, 'Dépassement invalide (centimes entiers, positifs).');
  }
  return Object.freeze({
    code: a.code,
    date,
    ...(a.time !== undefined ? { time: a.time } : {}),
    coefficient,
    ...(a.distanceKm !== undefined ? { distanceKm: a.distanceKm } : {}),
    overrunCents,
    ald: a.ald === true
  });
}

function prescriber(p: NonNullable<InvoiceInput['prescriber']>): Prescriber {
  const id = p.identifier;
  if (typeof id === 'string' && /^\d{11}$/.test(id)) checkRpps(id, 'prescriber.identifier');
  else if (typeof id !== 'string' || !/^(\d{2}|2A|2B)\d{7}$/.test(id)) {
    fail('prescriber_invalid', 'prescriber.identifier', 'Identifiant du prescripteur invalide (RPPS ou numéro AM).');
  }
  return Object.freeze({
    identifier: id,
    lastName: checkName(p.lastName, 'prescriber.lastName'),
    prescriptionDate: isoDate(p.prescriptionDate, 'prescriber.prescriptionDate')
  });
}

function oneOf<T extends string>(list: readonly T[], value: unknown, code: 'billing_context_unknown' | 'nature_unknown' | 'care_pathway_unknown' | 'state_unknown', field: string, message: string): T {
  if (!(list as readonly unknown[]).includes(value)) fail(code, field, message);
  return value as T;
}

export function createInvoice(input: InvoiceInput): Invoice {
  if (typeof input.id !== 'string' || input.id === '' || input.id.length > 64) fail('invoice_id_invalid', 'id', 'Identifiant de facture invalide.');
  if (!Array.isArray(input.acts)) fail('no_acts', 'acts', 'La facture ne contient aucun acte.');
  const acts = Object.freeze(input.acts.map(act));
  const context = oneOf(BILLING_CONTEXTS, input.context, 'billing_context_unknown', 'context', 'Contexte de facturation inconnu (sans tiers payant, tiers payant AMO, AMO et AMC).');
  const nature = oneOf(NATURES, input.nature ?? 'illness', 'nature_unknown', 'nature', 'Nature d’assurance inconnue (maladie, maternité, accident du travail).');
  const state = oneOf(INVOICE_STATES, input.state ?? 'draft', 'state_unknown', 'state', 'État de facture inconnu.');
  const carePathway =
    input.carePathway === undefined
      ? undefined
      : oneOf(CARE_PATHWAYS, input.carePathway, 'care_pathway_unknown', 'carePathway', 'Situation de parcours de soins inconnue.');
  return Object.freeze({
    id: input.id,
    practitioner: input.practitioner,
    beneficiary: input.beneficiary,
    acts,
    ...(input.prescriber ? { prescriber: prescriber(input.prescriber) } : {}),
    ...(carePathway ? { carePathway } : {}),
    context,
    nature,
    dre: input.dre === true,
    state
  });
}
