/** The practitioner of a CPS (what `cps.read` returns) in the billing model, by the chosen situation. */
import { describe, expect, it } from 'vitest';
import { BillingError, beneficiaryFromVitale, practitionerFromCps, qualityLabel, vitaleWarnings } from '../../src/lib/billing/index.js';
import type { CardBeneficiary, CpsRead, VitaleRead } from '../../src/lib/card/reads.js';

const cps: CpsRead = {
  cardType: 'CPS',
  family: 'CPS',
  serial: '9990000001',
  rpps: '19999990013',
  civility: 'DR',
  lastName: 'FICTIF-TEST',
  firstName: 'CAMILLE',
  profession: { code: '10', label: 'Médecin (fictif)' },
  situations: [
    { number: 1, mode: 'libéral', structure: 'CABINET', structureId: '999000001', conventionSector: '1', specialty: '01', tariffZone: '10' },
    { number: 2, mode: 'remplaçant', structure: 'REMPLACEMENT', structureId: '999000003', conventionSector: '2', specialty: '05', tariffZone: '20' },
  ],
  validFrom: '2026-01-01',
  validTo: '2029-01-01',
  expired: false,
  pinTriesLeft: -1,
  blocked: false,
  fictitious: true,
};

describe('practitionerFromCps', () => {
  it('takes the chosen situation: its billing number, sector, zone and specialty; keeps the others', () => {
    const p = practitionerFromCps(cps, '999000003');
    expect(p.rpps).toBe('19999990013');
    expect(p.situation).toEqual({ billingNumber: '999000003', sector: '2', tariffZone: '20' });
    expect(p.specialty).toBe('05');
    expect(p.situations.map((s) => s.billingNumber)).toEqual(['999000001', '999000003']);
  });

  it('a billing number not on the card, or card data the model refuses, is a typed error', () => {
    const e = (() => {
      try {
        practitionerFromCps(cps, '999000002');
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(BillingError);
    expect((e as BillingError).code).toBe('situation_not_on_card');
    expect(() => practitionerFromCps({ ...cps, rpps: '19999990012' }, '999000001')).toThrow(BillingError);
  });
});

describe('beneficiaryFromVitale and vitaleWarnings', () => {
  const vitale: VitaleRead = {
    cardType: 'VITALE',
    serial: '9990000101',
    holderNir: '180059999900135',
    scheme: '01',
    fund: '999',
    centre: '9999',
    validTo: '2030-01-01',
    expired: false,
    fictitious: true,
    beneficiaries: [
      { rank: 1, nir: '180059999900135', birthDate: '1980-05-01', birthRank: 1, lastName: 'FICTIF', firstName: 'DOMINIQUE', quality: '00',
        amo: { from: '2026-01-01', to: '2027-01-01', coverageCode: '100', thirdParty: true },
        amc: { organism: '99999999', from: '2026-01-01', to: '2026-06-30', contractType: '01', coverPercent: 100, thirdParty: true } },
      { rank: 3, nir: '180059999900135', birthDate: '2015-02-00', birthRank: 2, lastName: 'FICTIF', firstName: 'ALEX', quality: '06',
        amo: { from: '2026-01-01', to: '2026-03-31', coverageCode: '100', exemption: 'ald' } },
    ],
  };

  it('maps the card to the model: holder’s NIR, birth rank, quality, rights, ALD, the AMC contract', () => {
    const holder = beneficiaryFromVitale(vitale, 1);
    expect(holder).toMatchObject({ holderNir: { number: '1800599999001', key: '35' }, rank: 1, quality: 'holder', scheme: '01', fund: '999', centre: '9999' });
    expect(holder.amoRights).toEqual([{ from: '2026-01-01', to: '2027-01-01', thirdParty: true }]);
    expect(holder.amc).toMatchObject({ identifier: '99999999', contractType: '01', coverPercent: 100, thirdParty: true });
    const child = beneficiaryFromVitale(vitale, 3);
    expect(child).toMatchObject({ rank: 2, quality: 'child' });
    expect(child.birthDate).toMatchObject({ year: 2015, month: 2, day: 0, lunar: true });
    expect(child.exemptions.map((e) => e.kind)).toEqual(['ald']);
    expect(child.amc).toBeUndefined();
    expect(qualityLabel('06')).toBe('enfant');
    expect(qualityLabel('77')).toBe('autre ayant droit');
  });

  it('a rank not on the card, an unknown quality or exemption: typed errors', () => {
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return (e as BillingError).code;
      }
      return 'none';
    };
    expect(code(() => beneficiaryFromVitale(vitale, 2))).toBe('beneficiary_not_on_card');
    expect(code(() => beneficiaryFromVitale({ ...vitale, beneficiaries: [{ ...vitale.beneficiaries[0]!, quality: '77' }] }, 1))).toBe('quality_unknown');
    expect(code(() => beneficiaryFromVitale({ ...vitale, beneficiaries: [{ ...vitale.beneficiaries[1]!, amo: { ...vitale.beneficiaries[1]!.amo, exemption: '4' } }] }, 3))).toBe('exemption_unknown');
  });

  it('says in French what to check before billing on the day of care', () => {
    const [holder, child] = vitale.beneficiaries as [CardBeneficiary, CardBeneficiary];
    expect(vitaleWarnings(vitale, holder, '2026-03-10')).toEqual([]);
    expect(vitaleWarnings(vitale, holder, '2026-07-01')).toEqual(['Couverture complémentaire fermée au 30/06/2026 : pas de tiers payant sur la part complémentaire.']);
    expect(vitaleWarnings(vitale, child, '2026-04-01')).toEqual(['Droits AMO fermés au 31/03/2026 : facturer sans tiers payant ou vérifier la carte.']);
    expect(vitaleWarnings({ ...vitale, validTo: '2026-02-01', expired: true }, holder, '2026-03-10')[0]).toBe(
      'Carte Vitale expirée le 01/02/2026 : vérifiez les droits du patient (attestation de droits ou service en ligne).',
    );
    expect(vitaleWarnings(vitale, holder, '2025-12-31')).toEqual(['Droits AMO ouverts seulement à partir du 01/01/2026 : facturer sans tiers payant ou vérifier la carte.']);
  });
});
