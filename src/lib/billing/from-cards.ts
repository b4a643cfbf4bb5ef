/**
 * From what the cards say (src/lib/card/reads.ts) to the billing model: the practitioner of a
 * CPS in the billing situation chosen among those on the card; a beneficiary of a Vitale card,
 * with what its rights mean on the day of care. Checked by the model's own constructors: card
 * data the model refuses gives the model's typed error.
 *
 * The codes read here are our simulated cards' (docs/billing/simulated-cards.md), which follow
 * the Vitale's documented meanings where we know them; a homologated card reader maps the real
 * card's structures to the same shapes.
 */
import type { CardBeneficiary, CpsRead, VitaleRead } from '../card/reads.js';
import { createBeneficiary, EXEMPTION_KINDS, type Beneficiary, type BeneficiaryInput, type ExemptionKind, type Quality } from './beneficiary.js';
import type { IsoDate } from './dates.js';
import { fail } from './errors.js';
import { createPractitioner, type Practitioner, type PractitionerInput } from './practitioner.js';

/** What the model needs of a CPS (the card's state — expiry, PIN — is the session's business). */
export type CpsIdentity = Pick<CpsRead, 'rpps' | 'lastName' | 'firstName' | 'profession' | 'situations'>;

/** The billing model's input (also the invoice JSON's `practitioner`) for `cps` in the situation `billingNumber`. */
export function practitionerInputFromCps(cps: CpsIdentity, billingNumber: string): PractitionerInput {
  const chosen = cps.situations.find((s) => s.structureId === billingNumber);
  if (!chosen) fail('situation_not_on_card', 'situation', `La CPS ne porte pas de situation de facturation n° ${billingNumber}.`);
  return {
    rpps: cps.rpps,
    lastName: cps.lastName,
    firstName: cps.firstName,
    professionCode: cps.profession.code,
    specialty: chosen.specialty,
    situations: cps.situations.map((s) => ({ billingNumber: s.structureId, sector: s.conventionSector, tariffZone: s.tariffZone })),
    chosenBillingNumber: billingNumber,
  };
}

/** The practitioner of `cps`, billing in the situation whose billing number is `billingNumber`. */
export function practitionerFromCps(cps: CpsIdentity, billingNumber: string): Practitioner {
  return createPractitioner(practitionerInputFromCps(cps, billingNumber));
}

/** Vitale « qualité » codes: the holder, a spouse or partner, a child, another dependant. */
const QUALITY_OF: Readonly<Record<string, Quality>> = {
  '00': 'holder',
  '01': 'other',
  '02': 'spouse',
  '03': 'spouse',
  '04': 'spouse',
  '05': 'spouse',
  '06': 'child',
  '08': 'spouse',
  '09': 'other',
};

export const QUALITY_LABELS: Readonly<Record<Quality, string>> = { holder: 'assuré', spouse: 'conjoint', child: 'enfant', other: 'autre ayant droit' };

/** The card's « qualité » code in words (an unknown code: « autre ayant droit »). */
export function qualityLabel(code: string): string {
  return QUALITY_LABELS[QUALITY_OF[code] ?? 'other'];
}

/** The billing model's input for one beneficiary of the card (`rank`: the card's own rank). */
export function beneficiaryInputFromVitale(v: VitaleRead, rank: number): BeneficiaryInput {
  const b = v.beneficiaries.find((x) => x.rank === rank);
  if (!b) fail('beneficiary_not_on_card', 'rank', `La carte Vitale ne porte pas de bénéficiaire de rang ${rank}.`);
  const quality = QUALITY_OF[b.quality];
  if (!quality) fail('quality_unknown', 'quality', `Qualité du bénéficiaire inconnue (code ${b.quality}).`);
  const exemption = b.amo.exemption;
  if (exemption !== undefined && !(EXEMPTION_KINDS as readonly string[]).includes(exemption)) {
    fail('exemption_unknown', 'exemptions', `Exonération inconnue (${exemption}).`);
  }
  const amc = b.amc && b.amc.contractType !== undefined && b.amc.coverPercent !== undefined ? b.amc : undefined;
  return {
    holderNir: v.holderNir,
    lastName: b.lastName,
    firstName: b.firstName,
    birthDate: b.birthDate,
    rank: b.birthRank,
    quality,
    scheme: v.scheme,
    fund: v.fund,
    centre: v.centre,
    amoRights: [{ from: b.amo.from, to: b.amo.to, thirdParty: b.amo.thirdParty === true }],
    ...(exemption ? { exemptions: [{ kind: exemption as ExemptionKind, from: b.amo.from, to: b.amo.to }] } : {}),
    ...(amc ? { amc: { identifier: amc.organism, contractType: amc.contractType!, from: amc.from, to: amc.to, coverPercent: amc.coverPercent!, thirdParty: amc.thirdParty === true } } : {}),
  };
}

/** The billing model's beneficiary for one beneficiary of the card. */
export function beneficiaryFromVitale(v: VitaleRead, rank: number): Beneficiary {
  return createBeneficiary(beneficiaryInputFromVitale(v, rank));
}

const frDate = (iso: string): string => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;

/**
 * What the practitioner must know before billing this beneficiary on `day`, in French, each
 * with what to do: the card expired, the AMO rights closed or not yet open, the complementary
 * cover closed or incomplete on the card. Empty when all is in order.
 */
export function vitaleWarnings(v: VitaleRead, b: CardBeneficiary, day: IsoDate): string[] {
  const out: string[] = [];
  if (v.expired || v.validTo < day) out.push(`Carte Vitale expirée le ${frDate(v.validTo)} : vérifiez les droits du patient (attestation de droits ou service en ligne).`);
  if (b.amo.to < day) out.push(`Droits AMO fermés au ${frDate(b.amo.to)} : facturer sans tiers payant ou vérifier la carte.`);
  else if (b.amo.from > day) out.push(`Droits AMO ouverts seulement à partir du ${frDate(b.amo.from)} : facturer sans tiers payant ou vérifier la carte.`);
  if (b.amc) {
    if (b.amc.to < day) out.push(`Couverture complémentaire fermée au ${frDate(b.amc.to)} : pas de tiers payant sur la part complémentaire.`);
    else if (b.amc.contractType === undefined || b.amc.coverPercent === undefined) out.push('Couverture complémentaire incomplète sur la carte : la part complémentaire ne peut pas être calculée.');
  }
  return out;
}
