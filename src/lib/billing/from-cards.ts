/**
 * From what the cards say (src/lib/card/reads.ts) to the billing model: the practitioner of a
 * CPS in the billing situation chosen among those on the card. Checked by the model's own
 * constructor: a card whose data the model refuses gives the model's typed error.
 */
import type { CpsRead } from '../card/reads.js';
import { fail } from './errors.js';
import { createPractitioner, type Practitioner } from './practitioner.js';

/** The practitioner of `cps`, billing in the situation whose billing number is `billingNumber`. */
export function practitionerFromCps(cps: CpsRead, billingNumber: string): Practitioner {
  const chosen = cps.situations.find((s) => s.structureId === billingNumber);
  if (!chosen) fail('situation_not_on_card', 'situation', `La CPS ne porte pas de situation de facturation n° ${billingNumber}.`);
  return createPractitioner({
    rpps: cps.rpps,
    lastName: cps.lastName,
    firstName: cps.firstName,
    professionCode: cps.profession.code,
    specialty: chosen.specialty,
    situations: cps.situations.map((s) => ({ billingNumber: s.structureId, sector: s.conventionSector, tariffZone: s.tariffZone })),
    chosenBillingNumber: billingNumber,
  });
}
