/**
 * The compostage counter in Chromium (IndexedDB): two pages of the same origin (two tabs)
 * increment concurrently and never obtain the same value; a reload (restart) continues.
 * The message layer itself runs in the page too, to prove it is isomorphic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { bundleForBrowser, launchChromium, openModulePage } from '../browser/harness';

const STORE_ENTRY = 'src/lib/client/store/compostage.ts';
const STORE_GLOBAL = 'TeletransCompostage';
const SESAM_ENTRY = 'src/lib/sesam/index.ts';
const SESAM_GLOBAL = 'TeletransSesam';

declare const TeletransCompostage: typeof import('../../src/lib/client/store/compostage');
declare const TeletransSesam: typeof import('../../src/lib/sesam/index');

/** Another tab of the same origin, in the same browser context, with the bundle loaded. */
async function sameOriginTab(page: Page): Promise<Page> {
  const tab = await page.context().newPage();
  await tab.goto(page.url());
  await tab.addScriptTag({ content: await bundleForBrowser(STORE_ENTRY, STORE_GLOBAL) });
  return tab;
}

function hammer(page: Page, n: number): Promise<number[]> {
  return page.evaluate(async (count) => {
    // Two store instances (two connections) per tab, each with bursts of concurrent calls.
    const stores = [new TeletransCompostage.IdbCompostageStore(), new TeletransCompostage.IdbCompostageStore()];
    const out: number[] = [];
    const per = count / stores.length;
    await Promise.all(
      stores.map(async (s) => {
        for (let i = 0; i < per; i += 10) out.push(...(await Promise.all(Array.from({ length: 10 }, () => s.next()))));
        await s.close();
      }),
    );
    return out;
  }, n);
}

describe('IdbCompostageStore in Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('two tabs incrementing concurrently never get the same value; a reload continues', async () => {
    const page = await openModulePage(browser, STORE_ENTRY, STORE_GLOBAL);
    try {
      const tab = await sameOriginTab(page);
      expect(new URL(tab.url()).origin).toBe(new URL(page.url()).origin);
      const [a, b] = await Promise.all([hammer(page, 300), hammer(tab, 300)]);
      const all = [...a, ...b];
      expect(all).toHaveLength(600);
      expect(new Set(all).size).toBe(600);
      expect(Math.min(...all)).toBe(1);
      expect(Math.max(...all)).toBe(600);
      // Really concurrent: each tab got values from across the range.
      expect(Math.max(...a)).toBeGreaterThan(Math.min(...b));
      expect(Math.max(...b)).toBeGreaterThan(Math.min(...a));

      // Restart: reload the tab (new JavaScript world, same database).
      await tab.reload();
      await tab.addScriptTag({ content: await bundleForBrowser(STORE_ENTRY, STORE_GLOBAL) });
      expect(await tab.evaluate(() => new TeletransCompostage.IdbCompostageStore().next())).toBe(601);
      // A block in one transaction, while the other tab increments: never shared, never reused.
      const [block, singles] = await Promise.all([
        tab.evaluate(() => new TeletransCompostage.IdbCompostageStore().reserve(50)),
        page.evaluate(async () => {
          const s = new TeletransCompostage.IdbCompostageStore();
          const out: number[] = [];
          for (let i = 0; i < 5; i++) out.push(await s.next());
          return out;
        }),
      ]);
      const reserved = Array.from({ length: 50 }, (_, i) => block + i);
      expect(new Set([...reserved, ...singles]).size).toBe(55);
      expect(Math.min(block, ...singles)).toBe(602);
      expect(Math.max(block + 49, ...singles)).toBe(656);
      expect(await tab.evaluate(() => new TeletransCompostage.IdbCompostageStore().next())).toBe(657);
      // A counter never moves back: no empty or negative block.
      expect(await tab.evaluate(() => new TeletransCompostage.IdbCompostageStore().reserve(0).then(String, (e: Error) => e.name))).toBe('RangeError');
      await tab.close();
    } finally {
      await page.close();
    }
  });

  it('runs the message layer in the page (isomorphic), with the IndexedDB counter', async () => {
    const page = await openModulePage(browser, SESAM_ENTRY, SESAM_GLOBAL);
    try {
      await page.addScriptTag({ content: await bundleForBrowser(STORE_ENTRY, STORE_GLOBAL) });
      const r = await page.evaluate(async () => {
        const packaged = await TeletransSesam.packageLot({
          kind: 'DRE', mode: 'demo', compressed: true, structure: 'multipart',
          from: 'ps@medecin.example.fr', exercice: '123456789', invoices: 3, version: '140700',
          file: { name: 'LOTDRE', data: new TextEncoder().encode('lot DRE '.repeat(100)) },
          encrypt: async (p) => p,
          compostage: new TeletransCompostage.IdbCompostageStore('sesam-in-page'),
          clock: () => new Date('2026-07-14T10:00:00Z'),
        });
        const parsed = TeletransSesam.parseMessage(packaged.message);
        const gunzipped = new Uint8Array(await new Response(new Blob([parsed.attachment as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
        return {
          subject: packaged.subject,
          description: parsed.description.raw,
          to: parsed.to,
          date: parsed.date,
          text: new TextDecoder().decode(gunzipped).slice(0, 16),
        };
      });
      expect(r).toEqual({
        subject: 'DR140700/123456789/2026071412000000001/00003',
        description: 'DREDEMO/DR/ZK',
        to: 'amc_pj.test@test.rss.fr',
        date: 'Tue, 14 Jul 2026 12:00:00 +0200',
        text: 'lot DRE lot DRE ',
      });
    } finally {
      await page.close();
    }
  });
});
