/**
 * Invoice numbers in Chromium (IndexedDB, strict durability): two tabs of one origin drawing
 * numbers at once never get the same one; a reload continues; a damaged value is an error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { bundleForBrowser, launchChromium, openModulePage } from '../browser/harness';

const ENTRY = 'test/billing/support/numbering-entry.ts';
const GLOBAL = 'TeletransNumbering';
declare const TeletransNumbering: typeof import('./support/numbering-entry');

function draw(page: Page, n: number): Promise<string[]> {
  return page.evaluate(async (count) => {
    // Two connections per tab, bursts of concurrent calls on each.
    const stores = [new TeletransNumbering.IdbCounterStore(), new TeletransNumbering.IdbCounterStore()];
    const out: string[] = [];
    await Promise.all(
      stores.map(async (s) => {
        const numbering = new TeletransNumbering.BillingNumbering(s);
        for (let i = 0; i < count / 2; i += 10) out.push(...(await Promise.all(Array.from({ length: 10 }, () => numbering.invoiceNumber('751234567')))));
        await s.close();
      }),
    );
    return out;
  }, n);
}

describe('IdbCounterStore in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('two tabs drawing at once: every number distinct and contiguous; a reload continues', async () => {
    const page = await openModulePage(browser, ENTRY, GLOBAL);
    try {
      const tab = await page.context().newPage();
      await tab.goto(page.url());
      await tab.addScriptTag({ content: await bundleForBrowser(ENTRY, GLOBAL) });
      const [a, b] = await Promise.all([draw(page, 200), draw(tab, 200)]);
      const all = [...a, ...b].sort();
      expect(new Set(all).size).toBe(400);
      expect(all[0]).toBe('000000001');
      expect(all[399]).toBe('000000400');
      expect(a.sort()[a.length - 1]! > b.sort()[0]!).toBe(true);
      await tab.reload();
      await tab.addScriptTag({ content: await bundleForBrowser(ENTRY, GLOBAL) });
      expect(await tab.evaluate(() => new TeletransNumbering.BillingNumbering(new TeletransNumbering.IdbCounterStore()).invoiceNumber('751234567'))).toBe('000000401');
      // Another billing number has its own sequence; lots have theirs.
      expect(await tab.evaluate(() => new TeletransNumbering.BillingNumbering(new TeletransNumbering.IdbCounterStore()).lotNumber('751234567'))).toBe('000001');
      // Lot and file numbers of one transmission in one transaction, following on.
      expect(await tab.evaluate(() => new TeletransNumbering.BillingNumbering(new TeletransNumbering.IdbCounterStore()).lotAndFileNumbers('751234567', 2, 1))).toEqual({ lots: ['000002', '000003'], files: ['000001'] });
      expect(await tab.evaluate(() => new TeletransNumbering.BillingNumbering(new TeletransNumbering.IdbCounterStore()).lotNumbers('751234567', 1))).toEqual(['000004']);
      await tab.close();
    } finally {
      await page.close();
    }
  });

  it('a damaged stored value is an error, never a reset', async () => {
    const page = await openModulePage(browser, ENTRY, GLOBAL);
    try {
      const r = await page.evaluate(async () => {
        const c = new TeletransNumbering.IdbCounters('numbering-damaged');
        await c.next('invoice:751234567');
        await c.close();
        // Damage it behind the store's back.
        await new Promise<void>((ok, ko) => {
          const req = indexedDB.open('numbering-damaged', 1);
          req.onsuccess = () => {
            const tx = req.result.transaction('counters', 'readwrite');
            tx.objectStore('counters').put('x', 'invoice:751234567');
            tx.oncomplete = () => (req.result.close(), ok());
            tx.onerror = () => ko(tx.error);
          };
          req.onerror = () => ko(req.error);
        });
        const again = new TeletransNumbering.IdbCounters('numbering-damaged');
        try {
          await again.next('invoice:751234567');
          return 'no error';
        } catch (e) {
          return (e as { code?: string }).code;
        }
      });
      expect(r).toBe('counter_corrupt');
    } finally {
      await page.close();
    }
  });
});
