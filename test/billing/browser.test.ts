/**
 * The billing core is isomorphic: the same module, bundled for Chromium, prices the same
 * invoices to the same cents and working as Node, and refuses with the same codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openModulePage } from '../browser/harness.js';
import { BillingError, checkInvoice, priceInvoice, SAMPLE_CATALOGUE } from '../../src/lib/billing/index.js';
import { buildInvoice, invoiceData, type InvoiceData } from './fixtures.js';
import { randomSpec } from './random.js';

declare const TeletransBilling: typeof import('../../src/lib/billing/index.js');

const SPECS = [
  { acts: [{ code: 'G', date: '2025-03-10' }] },
  { acts: [{ code: 'QZJA002', date: '2025-03-10' }], carePathway: 'outside_pathway' },
  { profession: 'nurse' as const, acts: [{ code: 'AMI', date: '2025-03-10', coefficient: 4.1 }, { code: 'IK', date: '2025-03-10', distanceKm: 25 }] },
  { profession: 'physiotherapist' as const, acts: [{ code: 'AMK', date: '2024-01-10', coefficient: 7.5 }], context: 'amo' },
  ...Array.from({ length: 20 }, (_, i) => randomSpec(1000 + i))
];
const DATA: InvoiceData[] = SPECS.map(invoiceData);

describe('billing in Chromium', () => {
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium();
    page = await openModulePage(browser, 'src/lib/billing/index.ts', 'TeletransBilling');
  });

  afterAll(async () => {
    await page?.close();
    await browser?.close();
  });

  it('prices every vector to the same result as Node', async () => {
    const inBrowser = await page.evaluate((data: InvoiceData[]) => {
      const B = TeletransBilling;
      return data.map((d) =>
        B.priceInvoice(
          B.createInvoice({ ...d.invoice, practitioner: B.createPractitioner(d.practitioner), beneficiary: B.createBeneficiary(d.beneficiary) })
        , B.SAMPLE_CATALOGUE)
      );
    }, DATA);
    const inNode = DATA.map((d) => priceInvoice(buildInvoice(d), SAMPLE_CATALOGUE));
    expect(JSON.parse(JSON.stringify(inBrowser))).toEqual(JSON.parse(JSON.stringify(inNode)));
    expect(inNode[2]?.totals.feeCents).toBe(1292 + 735);
  });

  it('refuses with the same codes and French messages', async () => {
    const bad = invoiceData({ acts: [{ code: 'G', date: '2025-03-11' }, { code: 'XYZ', date: '2025-03-10' }], carePathway: null });
    const clockMs = Date.UTC(2025, 2, 10, 11, 0);
    const inBrowser = await page.evaluate(
      ({ d, ms }) => {
        const B = TeletransBilling;
        const inv = B.createInvoice({ ...d.invoice, practitioner: B.createPractitioner(d.practitioner), beneficiary: B.createBeneficiary(d.beneficiary) });
        let nir = '';
        try {
          B.checkNir('255081416802539');
        } catch (e) {
          nir = e instanceof B.BillingError ? e.code : 'not a BillingError';
        }
        return { issues: B.checkInvoice(inv, { clock: () => ms, catalogue: B.SAMPLE_CATALOGUE }).map((e) => e.toJSON()), nir };
      },
      { d: bad, ms: clockMs }
    );
    const inNode = checkInvoice(buildInvoice(bad), { clock: () => clockMs, catalogue: SAMPLE_CATALOGUE }).map((e: BillingError) => e.toJSON());
    expect(inBrowser.issues).toEqual(inNode);
    expect(inBrowser.issues.map((i) => i.code)).toEqual(['act_in_future', 'code_unknown', 'care_pathway_required']);
    expect(inBrowser.nir).toBe('nir_key');
  });
});
