/** The practitioner of a CPS (what `cps.read` returns) in the billing model, by the chosen situation. */
import { describe, expect, it } from 'vitest';
import { BillingError, practitionerFromCps } from '../../src/lib/billing/index.js';
import type { CpsRead } from '../../src/lib/card/reads.js';

const cps: CpsRead = {
  cardType: 'CPS',
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
