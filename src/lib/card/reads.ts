/**
 * What the card services read from the cards, as the bridge sends it and the page receives it
 * (`cps.read`, `vitale.read`): one definition for both sides (the bridge's card services and
 * simulator import it; the page maps it to the billing model with billing/from-cards.ts).
 */

/** A billing situation ("situation d'exercice") as the CPS carries it. */
import type { CardFamily } from '../access/roles.js';

export interface CardSituation {
  number: number;
  /** libéral, salarié, remplaçant… */
  mode: string;
  structure: string;
  /** The billing number (AM number) of the situation: 9 characters. */
  structureId: string;
  conventionSector: string;
  specialty: string;
  /** Tariff zone code (2 digits). */
  tariffZone: string;
}

export interface CardBeneficiary {
  rank: number;
  nir: string;
  birthDate: string;
  birthRank: number;
  lastName: string;
  firstName: string;
  /** Qualité: 00 assuré, 01 ascendant…, 02 conjoint, 06 enfant, 09 autre ayant droit (billing/from-cards.ts). */
  quality: string;
  amo: {
    from: string;
    to: string;
    coverageCode: string;
    /** Exemption of the co-payment, in the simulator's words: `ald`, `maternity`, `work_accident`. */
    exemption?: string;
    /** Third-party payment allowed on the AMO part. */
    thirdParty?: boolean;
  };
  /** The complementary (AMC) contract, when the card carries one. */
  amc?: { organism: string; from: string; to: string; contractType?: string; coverPercent?: number; thirdParty?: boolean };
}

export interface CpsRead {
  /** The CPx application (CPS, CPE…: one card family, one application). */
  cardType: 'CPS';
  /**
   * Which card of the family: `CPS`, a health professional's; `CPE`, a structure's staff card
   * (front-desk assistant: prepares, never signs; access/roles.ts).
   */
  family: CardFamily;
  serial: string;
  /** The holder's national identifier: the RPPS of a health professional, the staff number on a CPE. */
  rpps: string;
  civility: string;
  lastName: string;
  firstName: string;
  profession: { code: string; label: string };
  situations: CardSituation[];
  validFrom: string;
  validTo: string;
  expired: boolean;
  /** Tries left; -1 while the PIN is verified in the card's current power-up (by any session: the bridge holds which). */
  pinTriesLeft: number;
  blocked: boolean;
  fictitious?: boolean;
}

export interface VitaleRead {
  cardType: 'VITALE';
  serial: string;
  holderNir: string;
  scheme: string;
  fund: string;
  centre: string;
  beneficiaries: CardBeneficiary[];
  validTo: string;
  expired: boolean;
  fictitious?: boolean;
}
