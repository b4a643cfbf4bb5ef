import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { bundleForBrowser, launchChromium, openModulePage } from './harness';

const ENTRY = 'test/browser/fixtures/sample-entry.ts';
const ABC_SHA256 = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

declare const SampleEntry: typeof import('./fixtures/sample-entry');

describe('browser harness', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('bundles an entry once per process', async () => {
    const first = await bundleForBrowser(ENTRY, 'SampleEntry');
    expect(first).toContain('var SampleEntry');
    expect(await bundleForBrowser(ENTRY, 'SampleEntry')).toBe(first);
  });

  it('runs a bundled module with WebCrypto in Chromium', async () => {
    const page = await openModulePage(browser, ENTRY, 'SampleEntry');
    try {
      expect(await page.evaluate(() => SampleEntry.secure())).toBe(true);
      expect(await page.evaluate(() => SampleEntry.sha256Hex('abc'))).toBe(ABC_SHA256);
    } finally {
      await page.close();
    }
  });

  it('closes the page server with the page', async () => {
    const page = await openModulePage(browser, ENTRY, 'SampleEntry');
    const url = page.url();
    await page.close();
    await expect(fetch(url)).rejects.toThrow();
  });
});
