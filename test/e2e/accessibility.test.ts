/**
 * Accessibility: axe-core on the app's pages (production build, Chromium, 1280×800), on a
 * fresh workstation (empty trust store, no bridge running). Violations of impact « serious » or
 * « critical » fail the test; the others are printed.
 *
 * TELETRANS_SCREENSHOTS=<dir> saves a full-page screenshot of each page there.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import type { AxeResults, Result } from 'axe-core';
import { launchChromium } from '../browser/harness';
import { buildApp, startApp, type PrivateBuild, type RunningApp } from './app-server';

const SHOTS = process.env.TELETRANS_SCREENSHOTS;
const AXE_PATH = createRequire(import.meta.url).resolve('axe-core');
const POLL = { timeout: 20_000, interval: 100 };

const PAGES = [
  { path: '/', name: 'accueil' },
  { path: '/facturer', name: 'facturer' },
  { path: '/cartes', name: 'cartes' },
  { path: '/certificats', name: 'certificats' },
  { path: '/certificats/verifier', name: 'certificats-verifier' },
  { path: '/certificats/journal', name: 'certificats-journal' },
  { path: '/poste', name: 'poste' }
] as const;

declare global {
  interface Window {
    axe: { run(context: Document, options: object): Promise<AxeResults> };
  }
}

const describeViolation = (v: Result) => `${v.impact ?? '?'} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`;

describe('accessibility (axe-core, production build)', () => {
  let build: PrivateBuild;
  let app: RunningApp;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    [build, browser] = await Promise.all([buildApp(), launchChromium()]);
    app = await startApp(build.server);
    // The app's CSP allows only its own hashed scripts: axe-core, injected by the test, is a
    // script the page never serves. The CSP itself is tested in security-headers.test.ts;
    // this context alone bypasses it so that axe can run in the page.
    context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 }, locale: 'fr-FR' });
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await app?.stop();
    build?.remove();
  });

  for (const { path, name } of PAGES) {
    it(`${path}: no serious or critical violation`, async () => {
      const page = await context.newPage();
      try {
        await page.goto(`${app.url}${path}`);
        // Settled: the trust store is open (and its journal verified), the page's heading shown.
        await expect.poll(() => page.locator('main').getAttribute('data-integrity'), POLL).toBe('intact');
        await page.locator('main h1').first().waitFor();
        await page.waitForLoadState('networkidle');
        await page.addScriptTag({ path: AXE_PATH });
        const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
        // axe did check the page (rules passed), and found nothing that blocks a user.
        expect(results.passes.length).toBeGreaterThan(10);
        if (SHOTS) await page.screenshot({ path: join(SHOTS, `a11y-${name}.png`), fullPage: true });
        const minor = results.violations.filter((v) => v.impact !== 'serious' && v.impact !== 'critical');
        if (minor.length) console.warn(`${path}:\n${minor.map(describeViolation).join('\n')}`);
        const blocking = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        expect(blocking.map(describeViolation)).toEqual([]);
      } finally {
        await page.close();
      }
    });
  }
});
