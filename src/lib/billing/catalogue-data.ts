/**
 * The shipped act catalogue, as plain data (the same shape as a JSON file: CatalogueData).
 *
 * EVERY VALUE HERE IS A SAMPLE (`sample: true`). The amounts recall the public NGAP/CCAM
 * figures of their dates but were not checked against the official tables (NGAP as published
 * by the Assurance Maladie, CCAM on ameli.fr); some codes (the nurses' surcharges NUIT, NUITP,
 * DIM) are ours. They exist to exercise the pricing rules and the UI; billing real patients
 * needs the official tables, loaded as rows of this shape with `sample: false` and their source.
 *
 * A revision is a new row with a later `effectiveFrom` (see G: three rows); a withdrawn code
 * gets an `until` (see C).
 */
import type { CatalogueData } from './catalogue.js';

const NGAP = 'ÉCHANTILLON non officiel, d’après la NGAP publique (non vérifié)';
const CCAM = 'ÉCHANTILLON non officiel, d’après la CCAM publique (non vérifié)';
const RULE = 'ÉCHANTILLON non officiel, d’après les règles publiques de l’Assurance Maladie (non vérifié)';

export const CATALOGUE_DATA: CatalogueData = Object.freeze({
  version: 'sample-2026-12',
  rows: [
    // Doctors: consultations and visits (flat keys, coefficient 1), with revisions of G.
    { system: 'ngap', code: 'C', label: 'Consultation (ancienne lettre-clé)', kind: 'flat', professions: ['doctor'], unitCents: 2300, amoRatePercent: 70, flatContribution: true, deductible: false, prescription: false, category: 'consultation', effectiveFrom: '2011-01-01', until: '2017-04-30', source: NGAP, sample: true },
    { system: 'ngap', code: 'G', label: 'Consultation de médecine générale', kind: 'flat', professions: ['doctor'], unitCents: 2500, amoRatePercent: 70, flatContribution: true, deductible: false, prescription: false, category: 'consultation', effectiveFrom: '2017-05-01', source: NGAP, sample: true },
    { system: 'ngap', code: 'G', label: 'Consultation de médecine générale', kind: 'flat', professions: ['doctor'], unitCents: 2650, amoRatePercent: 70, flatContribution: true, deductible: false, prescription: false, category: 'consultation', effectiveFrom: '2023-11-01', source: NGAP, sample: true },
    { system: 'ngap', code: 'G', label: 'Consultation de médecine générale', kind: 'flat', professions: ['doctor'], unitCents: 3000, amoRatePercent: 70, flatContribution: true, deductible: false, prescription: false, category: 'consultation', effectiveFrom: '2024-12-22', source: NGAP, sample: true },
    { system: 'ngap', code: 'GS', label: 'Consultation du spécialiste en médecine générale', kind: 'flat', professions: ['doctor'], unitCents: 3000, amoRatePercent: 70, flatContribution: true, deductible: false, prescription: false, category: 'consultation', effectiveFrom: '2024-12-22', source: NGAP, sample: true },
    { system: 'ngap', code: 'V', label: 'Visite à domicile', kind: 'flat', professions: ['doctor'], unitCents: 2500, amoRatePercent: 70, flatContribution: true, deductible: false, prescription: false, category: 'visit', effectiveFrom: '2017-05-01', source: NGAP, sample: true },
    { system: 'ngap', code: 'VG', label: 'Visite de médecine générale', kind: 'flat', professions: ['doctor'], unitCents: 3000, amoRatePercent: 70, flatContribution: true, deductible: false, prescription: false, category: 'visit', effectiveFrom: '2024-12-22', source: NGAP, sample: true },
    // Doctors: surcharges.
    { system: 'ngap', code: 'F', label: 'Majoration dimanche et jour férié', kind: 'flat', professions: ['doctor'], unitCents: 1906, amoRatePercent: 70, flatContribution: false, deductible: false, prescription: false, category: 'surcharge', effectiveFrom: '2017-05-01', source: NGAP, sample: true },
    { system: 'ngap', code: 'MN', label: 'Majoration de nuit (20 h–0 h, 6 h–8 h)', kind: 'flat', professions: ['doctor'], unitCents: 3500, amoRatePercent: 70, flatContribution: false, deductible: false, prescription: false, category: 'surcharge', effectiveFrom: '2017-05-01', source: NGAP, sample: true },
    { system: 'ngap', code: 'MM', label: 'Majoration de milieu de nuit (0 h–6 h)', kind: 'flat', professions: ['doctor'], unitCents: 4000, amoRatePercent: 70, flatContribution: false, deductible: false, prescription: false, category: 'surcharge', effectiveFrom: '2017-05-01', source: NGAP, sample: true },
    // Doctors: a CCAM subset.
    { system: 'ccam', code: 'DEQP003', label: 'Électrocardiographie sur au moins 12 dérivations', kind: 'flat', professions: ['doctor'], unitCents: 1452, amoRatePercent: 70, flatContribution: true, deductible: false, prescription: false, category: 'act', effectiveFrom: '2020-01-01', source: CCAM, sample: true },
    { system: 'ccam', code: 'QZJA002', label: 'Parage et/ou suture de plaie superficielle de la peau de moins de 3 cm', kind: 'flat', professions: ['doctor'], unitCents: 3135, amoRatePercent: 70, flatContribution: true, deductible: false, prescription: false, category: 'act', effectiveFrom: '2020-01-01', source: CCAM, sample: true },
    { system: 'ccam', code: 'QZFA004', label: 'Exérèse de lésion superficielle de la peau', kind: 'flat', professions: ['doctor'], unitCents: 4180, amoRatePercent: 70, flatContribution: true, deductible: false, prescription: false, category: 'act', effectiveFrom: '2020-01-01', source: CCAM, sample: true },
    // Nurses.
    { system: 'ngap', code: 'AMI', label: 'Acte médico-infirmier', kind: 'letter', professions: ['nurse'], unitCents: 315, coefficient: { min: 0.5, max: 15 }, amoRatePercent: 60, flatContribution: false, deductible: true, prescription: true, category: 'act', effectiveFrom: '2012-01-01', source: NGAP, sample: true },
    { system: 'ngap', code: 'BSA', label: 'Bilan de soins infirmiers, dépendance légère', kind: 'flat', professions: ['nurse'], unitCents: 1300, amoRatePercent: 60, flatContribution: false, deductible: true, prescription: true, category: 'package', effectiveFrom: '2020-01-01', source: NGAP, sample: true },
    { system: 'ngap', code: 'BSB', label: 'Bilan de soins infirmiers, dépendance intermédiaire', kind: 'flat', professions: ['nurse'], unitCents: 1820, amoRatePercent: 60, flatContribution: false, deductible: true, prescription: true, category: 'package', effectiveFrom: '2020-01-01', source: NGAP, sample: true },
    { system: 'ngap', code: 'BSC', label: 'Bilan de soins infirmiers, dépendance lourde', kind: 'flat', professions: ['nurse'], unitCents: 2870, amoRatePercent: 60, flatContribution: false, deductible: true, prescription: true, category: 'package', effectiveFrom: '2020-01-01', source: NGAP, sample: true },
    { system: 'ngap', code: 'IFD', label: 'Indemnité forfaitaire de déplacement', kind: 'flat', professions: ['nurse', 'physiotherapist'], unitCents: 250, amoRatePercent: 60, flatContribution: false, deductible: false, prescription: false, category: 'travel', effectiveFrom: '2012-01-01', source: NGAP, sample: true },
    { system: 'ngap', code: 'IK', label: 'Indemnité kilométrique (plaine), par km aller-retour au-delà de l’abattement', kind: 'per_km', professions: ['nurse', 'physiotherapist'], unitCents: 35, abatementKm: 4, amoRatePercent: 60, flatContribution: false, deductible: false, prescription: false, category: 'travel', effectiveFrom: '2012-01-01', source: NGAP, sample: true },
    { system: 'ngap', code: 'NUIT', label: 'Majoration de nuit (20 h–23 h, 5 h–8 h) — code de l’échantillon', kind: 'flat', professions: ['nurse'], unitCents: 915, amoRatePercent: 60, flatContribution: false, deductible: false, prescription: false, category: 'surcharge', effectiveFrom: '2012-01-01', source: NGAP, sample: true },
    { system: 'ngap', code: 'NUITP', label: 'Majoration de nuit profonde (23 h–5 h) — code de l’échantillon', kind: 'flat', professions: ['nurse'], unitCents: 1830, amoRatePercent: 60, flatContribution: false, deductible: false, prescription: false, category: 'surcharge', effectiveFrom: '2012-01-01', source: NGAP, sample: true },
    { system: 'ngap', code: 'DIM', label: 'Majoration dimanche et jour férié — code de l’échantillon', kind: 'flat', professions: ['nurse'], unitCents: 850, amoRatePercent: 60, flatContribution: false, deductible: false, prescription: false, category: 'surcharge', effectiveFrom: '2012-01-01', source: NGAP, sample: true },
    // Physiotherapists, with a revision of AMK.
    { system: 'ngap', code: 'AMK', label: 'Acte de masso-kinésithérapie', kind: 'letter', professions: ['physiotherapist'], unitCents: 204, coefficient: { min: 1, max: 30 }, amoRatePercent: 60, flatContribution: false, deductible: true, prescription: true, category: 'act', effectiveFrom: '2012-01-01', source: NGAP, sample: true },
    { system: 'ngap', code: 'AMK', label: 'Acte de masso-kinésithérapie', kind: 'letter', professions: ['physiotherapist'], unitCents: 215, coefficient: { min: 1, max: 30 }, amoRatePercent: 60, flatContribution: false, deductible: true, prescription: true, category: 'act', effectiveFrom: '2023-07-01', source: NGAP, sample: true },
    { system: 'ngap', code: 'AMK', label: 'Acte de masso-kinésithérapie', kind: 'letter', professions: ['physiotherapist'], unitCents: 220, coefficient: { min: 1, max: 30 }, amoRatePercent: 60, flatContribution: false, deductible: true, prescription: true, category: 'act', effectiveFrom: '2024-07-01', source: NGAP, sample: true }
  ],
  contributions: [
    { kind: 'flat_contribution', unitCents: 100, dailyCapCents: 400, exemptUnderAge: 18, effectiveFrom: '2005-01-01', source: RULE, sample: true },
    { kind: 'flat_contribution', unitCents: 200, dailyCapCents: 800, exemptUnderAge: 18, effectiveFrom: '2024-05-15', source: RULE, sample: true },
    { kind: 'deductible', unitCents: 50, dailyCapCents: 200, exemptUnderAge: 18, effectiveFrom: '2008-01-01', source: RULE, sample: true },
    { kind: 'deductible', unitCents: 100, dailyCapCents: 400, exemptUnderAge: 18, effectiveFrom: '2024-03-31', source: RULE, sample: true }
  ],
  rates: [{ rule: 'outside_pathway', percent: 30, effectiveFrom: '2009-01-01', source: RULE, sample: true }]
} satisfies CatalogueData);
