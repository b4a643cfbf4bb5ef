/**
 * Checks before signing. `checkInvoice` lists every problem as a BillingError (stable code,
 * French message, field path); `submitForSigning` refuses with `checks_failed` (carrying them
 * all) or moves the invoice to `to_sign`. Nothing is signed that did not pass here.
 *
 * "Today" is the injected clock read in the practitioner's zone: the core never reads the
 * wall clock (a laptop's wrong clock is the caller's to fix, and tests set the day).
 */
import { amcOn, amoRightsOn, checkNir, exemptionOn } from './beneficiary.js';
import { findTariff, type Catalogue, type TariffRow } from './catalogue.js';
import { today, type Clock } from './dates.js';
import { BillingError } from './errors.js';
import { transition, type Act, type Invoice } from './invoice.js';
import { priceInvoice } from './pricing.js';

export interface CheckContext {
  readonly clock: Clock;
  /** IANA zone of the practice; Europe/Paris by default. */
  readonly timeZone?: string;
  /** The tariff tables to check against; the sample one only when chosen (demo mode). */
  readonly catalogue: Catalogue;
  /** The practitioner's other invoices, to find duplicates. */
  readonly others?: readonly Invoice[];
}

const actKey = (a: Act): string => `${a.code}|${a.date}|${a.time ?? ''}|${a.coefficient}|${a.distanceKm ?? ''}`;

function sameBeneficiary(a: Invoice, b: Invoice): boolean {
  const x = a.beneficiary;
  const y = b.beneficiary;
  return (
    x.holderNir.number === y.holderNir.number &&
    x.rank === y.rank &&
    x.birthDate.year === y.birthDate.year &&
    x.birthDate.month === y.birthDate.month &&
    x.birthDate.day === y.birthDate.day
  );
}

function is100Percent(invoice: Invoice, act: Act): boolean {
  if (invoice.nature === 'maternity') return !!exemptionOn(invoice.beneficiary, 'maternity', act.date);
  if (invoice.nature === 'work_accident') return !!exemptionOn(invoice.beneficiary, 'work_accident', act.date);
  return act.ald && !!exemptionOn(invoice.beneficiary, 'ald', act.date);
}

export function checkInvoice(invoice: Invoice, ctx: CheckContext): BillingError[] {
  const cat = ctx.catalogue;
  const issues: BillingError[] = [];
  const said = new Set<string>();
  const add = (code: BillingError['code'], field: string, message: string): void => {
    // One problem is reported once, however many acts share it (e.g. a missing prescriber).
    const key = `${code}\0${field}\0${message}`;
    if (said.has(key)) return;
    said.add(key);
    issues.push(new BillingError(code, field, message));
  };
  const { beneficiary: b, practitioner: ps } = invoice;

  // The NIR may come from storage or another tab: its key is checked again before signing.
  try {
    checkNir(b.holderNir.number + b.holderNir.key, 'beneficiary.holderNir');
  } catch (e) {
    if (e instanceof BillingError) issues.push(e);
    else throw e;
  }

  if (invoice.acts.length === 0) add('no_acts', 'acts', 'La facture ne contient aucun acte.');
  const day = today(ctx.clock, ctx.timeZone);
  const seen = new Map<string, number>();
  const rows: (TariffRow | undefined)[] = [];

  invoice.acts.forEach((act, i) => {
    const f = `acts[${i}]`;
    if (act.date > day) add('act_in_future', `${f}.date`, `L’acte est daté du ${act.date}, après aujourd’hui (${day}).`);
    const rights = amoRightsOn(b, act.date);
    if (!rights) add('rights_closed', `${f}.date`, `Aucun droit AMO ouvert à la date de l’acte (${act.date}).`);

    let row: TariffRow | undefined;
    try {
      row = findTariff(cat, act.code, act.date, ps.profession, ps.situation.tariffZone, `${f}.code`);
    } catch (e) {
      if (e instanceof BillingError) issues.push(e);
      else throw e;
    }
    rows.push(row);
    if (row?.kind === 'letter' && row.coefficient) {
      const { min, max } = row.coefficient;
      if (act.coefficient < min || act.coefficient > max) {
        add('coefficient_out_of_range', `${f}.coefficient`, `Coefficient ${act.coefficient} hors des bornes de ${row.code} (${min} à ${max}).`);
      }
    } else if (row && act.coefficient !== 1) {
      add('coefficient_out_of_range', `${f}.coefficient`, `${row.code} se facture avec le coefficient 1.`);
    }
    if (row?.prescription && !invoice.prescriber) {
      add('prescriber_required', 'prescriber', `L’acte ${row.code} exige une prescription : indiquez le prescripteur.`);
    }
    if (invoice.prescriber && act.date < invoice.prescriber.prescriptionDate) {
      // Care follows its prescription: a prescription dated after the act is a typing error.
      add('prescription_after_act', 'prescriber.prescriptionDate', `La prescription (${invoice.prescriber.prescriptionDate}) est datée après un acte (${act.date}) : corrigez l’une des deux dates.`);
    }
    if (act.ald && !exemptionOn(b, 'ald', act.date)) {
      add('exemption_not_open', `${f}.ald`, `Aucune exonération ALD ouverte à la date de l’acte (${act.date}).`);
    }
    if (invoice.nature !== 'illness' && !exemptionOn(b, invoice.nature, act.date)) {
      add('exemption_not_open', 'nature', `Aucune exonération ${invoice.nature === 'maternity' ? 'maternité' : 'accident du travail'} ouverte le ${act.date}.`);
    }
    if (act.overrunCents > 0 && ps.situation.sector !== '2') {
      add('overrun_not_allowed', `${f}.overrunCents`, 'Dépassement d’honoraires interdit hors secteur 2.');
    }

    // Third-party payment only where the card's rights open it (or the act is at 100 %).
    if (invoice.context !== 'none' && rights && !rights.thirdParty && !is100Percent(invoice, act)) {
      add('third_party_not_allowed', 'context', `Le tiers payant AMO n’est pas ouvert par les droits du bénéficiaire le ${act.date}.`);
    }
    if (invoice.context === 'amo_amc') {
      const amc = amcOn(b, act.date);
      if (!amc) add('amc_rights_closed', `${f}.date`, `Aucun droit complémentaire ouvert à la date de l’acte (${act.date}).`);
      else if (!amc.thirdParty) add('third_party_not_allowed', 'context', 'Le contrat complémentaire n’ouvre pas le tiers payant AMC.');
    }

    const k = actKey(act);
    const first = seen.get(k);
    if (first !== undefined) add('duplicate_act', f, `L’acte ${act.code} du ${act.date} est saisi deux fois (actes ${first + 1} et ${i + 1}).`);
    else seen.set(k, i);
  });

  if (ps.situation.sector === '3') add('sector_unsupported', 'practitioner.situation.sector', 'Praticien non conventionné (secteur 3) : non pris en charge.');
  if (ps.profession === 'doctor' && invoice.carePathway === undefined) {
    add('care_pathway_required', 'carePathway', 'Indiquez la situation du patient dans le parcours de soins.');
  }

  if (invoice.dre) {
    if (!b.amc) add('dre_without_amc', 'dre', 'Une DRE demande un contrat complémentaire sur la carte.');
    else if (b.amc.contractType === '99') {
      // docs/domain/workflow.md: contract type 99 (OCT enriched FSE) forbids an FSE and a DRE together.
      add('fse_dre_incompatible', 'dre', 'Contrat de type 99 : la FSE et la DRE ne peuvent pas être émises ensemble.');
    }
  }

  for (const other of ctx.others ?? []) {
    if (other.id === invoice.id || other.state === 'cancelled') continue;
    if (other.practitioner.rpps !== ps.rpps || other.practitioner.situation.billingNumber !== ps.situation.billingNumber) continue;
    if (!sameBeneficiary(invoice, other)) continue;
    const keys = new Set(other.acts.map(actKey));
    if (invoice.acts.length > 0 && invoice.acts.every((a) => keys.has(actKey(a)))) {
      add('duplicate_invoice', 'acts', `Ces actes figurent déjà sur la facture ${other.id}.`);
    }
  }

  // Anything else that keeps the invoice from being priced (e.g. a missing distance for IK).
  if (issues.length === 0) {
    try {
      priceInvoice(invoice, cat);
    } catch (e) {
      if (e instanceof BillingError) issues.push(e);
      else throw e;
    }
  }
  return issues;
}

/** draft → to_sign after every check passed; otherwise `checks_failed` with the issues. */
export function submitForSigning(invoice: Invoice, ctx: CheckContext): Invoice {
  const issues = checkInvoice(invoice, ctx);
  if (issues.length > 0) {
    const n = issues.length;
    throw new BillingError('checks_failed', '', `La facture ne peut pas être signée : ${n} problème${n > 1 ? 's' : ''} à corriger.`, issues);
  }
  return transition(invoice, 'to_sign');
}
