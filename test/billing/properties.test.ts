/**
 * Properties over random invoices from a seeded PRNG (failures name their seed): the parts add
 * up to the fee, what is paid adds up to the fee, no negative amount, integers only, totals are
 * the sums of the acts, and pricing is deterministic.
 */
import { describe, expect, it } from 'vitest';
import { priceInvoice, type Parts, type PricedAct, SAMPLE_CATALOGUE } from '../../src/lib/billing/index.js';
import { invoiceOf } from './fixtures.js';
import { randomSpec } from './random.js';

const KEYS: (keyof Parts)[] = [
  'feeCents', 'baseCents', 'amoCents', 'flatContributionCents', 'deductibleCents', 'amoNetCents', 'amcCents',
  'patientShareCents', 'patientTotalCents', 'payNowCents', 'amoToPractitionerCents', 'amcToPractitionerCents'
];

function invariants(p: Parts | PricedAct, where: string): void {
  for (const k of KEYS) {
    expect(Number.isSafeInteger(p[k]), `${where} ${k} integer`).toBe(true);
    expect(p[k], `${where} ${k} ≥ 0`).toBeGreaterThanOrEqual(0);
  }
  expect(p.amoNetCents + p.flatContributionCents + p.deductibleCents + p.amcCents + p.patientShareCents, `${where} parts = fee`).toBe(p.feeCents);
  expect(p.patientTotalCents, `${where} patient total`).toBe(p.patientShareCents + p.flatContributionCents + p.deductibleCents);
  expect(p.payNowCents + p.amoToPractitionerCents + p.amcToPractitionerCents, `${where} paid = fee`).toBe(p.feeCents);
  expect(p.amoCents, `${where} AMO ≤ base`).toBeLessThanOrEqual(p.baseCents);
  expect(p.baseCents, `${where} base ≤ fee`).toBeLessThanOrEqual(p.feeCents);
}

describe('pricing properties over 500 seeded random invoices', () => {
  it('holds the invariants for every act and every total', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const priced = priceInvoice(invoiceOf(randomSpec(seed)), SAMPLE_CATALOGUE);
      for (const a of priced.acts) {
        invariants(a, `seed ${seed} act ${a.index}`);
        const steps = a.working;
        expect(steps.find((s) => s.rule === 'fee.total')?.cents, `seed ${seed} working shows the fee`).toBe(a.feeCents);
        expect(steps.at(-1)?.cents, `seed ${seed} working ends with what is paid now`).toBe(a.payNowCents);
      }
      invariants(priced.totals, `seed ${seed} totals`);
      for (const k of KEYS) expect(priced.totals[k], `seed ${seed} total ${k}`).toBe(priced.acts.reduce((s, a) => s + a[k], 0));
    }
  });

  it('keeps contributions and deductibles within their daily caps per day', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const priced = priceInvoice(invoiceOf(randomSpec(seed)), SAMPLE_CATALOGUE);
      const byDay = new Map<string, { pf: number; fr: number }>();
      for (const a of priced.acts) {
        const d = byDay.get(a.date) ?? { pf: 0, fr: 0 };
        d.pf += a.flatContributionCents;
        d.fr += a.deductibleCents;
        byDay.set(a.date, d);
      }
      for (const d of byDay.values()) {
        expect(d.pf, `seed ${seed}`).toBeLessThanOrEqual(800);
        expect(d.fr, `seed ${seed}`).toBeLessThanOrEqual(400);
      }
    }
  });

  it('is deterministic: the same invoice prices the same', () => {
    for (let seed = 1; seed <= 50; seed++) {
      expect(priceInvoice(invoiceOf(randomSpec(seed)), SAMPLE_CATALOGUE)).toEqual(priceInvoice(invoiceOf(randomSpec(seed)), SAMPLE_CATALOGUE));
    }
  });
});
