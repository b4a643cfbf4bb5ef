/**
 * Ready for the Isolated Web App's CSP (issue 17, docs/kiosk.md § IWA): Chrome enforces Trusted
 * Types in IWAs (`require-trusted-types-for 'script'`). The production app is served here with
 * that directive added to each page's CSP; every page loads, hydrates and registers its service
 * worker with no Trusted Types violation and no error (Svelte's and SvelteKit's own policies,
 * ours for the worker's URL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchChromium } from '../browser/harness';
import { IWA_PAGES } from '../../scripts/iwa';
import { buildApp, startApp, type PrivateBuild, type RunningApp } from './app-server';

const POLL = { timeout: 20_000, interval: 100 };

describe('Trusted Types enforced (as in the Isolated Web App)', () => {
  let build: PrivateBuild;
  let app: RunningApp;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    [build, browser] = await Promise.all([buildApp(), launchChromium()]);
    app = await startApp(build.server);
    context = await browser.newContext();
    await context.route('**/*', async (route) => {
      const response = await route.fetch();
      const headers = response.headers();
      if ((headers['content-type'] ?? '').startsWith('text/html') && headers['content-security-policy']) {
        headers['content-security-policy'] += "; require-trusted-types-for 'script'";
      }
      await route.fulfill({ response, headers });
    });
    await context.addInitScript(() => {
      const w = window as unknown as { ttViolations: string[] };
      w.ttViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => w.ttViolations.push(`${e.effectiveDirective} ${e.sample}`));
    });
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await app?.stop();
    build?.remove();
  });

  it('every page of the IWA loads and hydrates with no violation; the service worker registers', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      // No bridge listens here: the card pages' connection attempt fails, as it should.
      if (m.type() === 'error' && !/WebSocket connection to 'ws:\/\/127\.0\.0\.1:7523\/' failed/.test(m.text())) errors.push(m.text());
    });
    for (const path of IWA_PAGES) {
      const response = await page.goto(`${app.url}${path}`);
      expect(response!.headers()['content-security-policy']).toContain("require-trusted-types-for 'script'");
      // Hydrated: the trust store opened and its journal was verified (code that builds DOM ran).
      await expect.poll(() => page.locator('main').getAttribute('data-integrity'), POLL).toBe('intact');
      expect(await page.evaluate(() => (window as unknown as { ttViolations: string[] }).ttViolations), path).toEqual([]);
    }
    await expect.poll(() => page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.active?.scriptURL ?? null), POLL).toMatch(/\/service-worker\.js$/);
    expect(errors).toEqual([]);
  }, 120_000);
});
