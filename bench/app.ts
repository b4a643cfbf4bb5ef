/**
 * `npm run bench -- app` (issue 14, goal): the production build, served as `npm start` serves it
 * (relay on its embedded defaults), measured by Lighthouse 12 in Debian's Chromium with its
 * default settings (mobile emulation, simulated throttling: the stricter case), on the home
 * page and the invoice page. One JSON line per page:
 *
 *   {"bench":"app","page":"home"|"invoice","lighthouse_performance":…,"lighthouse_accessibility":…,
 *    "installable":bool,"first_load_js_gzip_bytes":…}
 *
 * - Lighthouse 12 has no PWA category any more: installability is Chromium's own
 *   `Page.getInstallabilityErrors`, asked in a persistent profile once the service worker
 *   controls the page (no error: installable).
 * - Each page is measured BENCH_APP_RUNS times (5 by default) and the row reports the median
 *   run, chosen as Lighthouse CI chooses it (`computeMedianRun`: the run nearest the median FCP
 *   and time to interactive): on a shared 2-core machine one run's score moves by ±8 points,
 *   and Lighthouse's own guidance is to take the median of five. Every run's score goes to
 *   stderr.
 * - First-load JavaScript: every script the page loaded on a cold load (Lighthouse's network
 *   records), each gzip-compressed at level 9 here, summed: what a browser downloads at most.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createServer } from 'node:net';
import lighthouse from 'lighthouse';
import { computeMedianRun } from 'lighthouse/core/lib/median-run.js';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../test/browser/harness.js';
import { buildPrivateApp, startApp } from '../test/e2e/app-server.js';

const PAGES = [
  { page: 'home', path: '/' },
  { page: 'invoice', path: '/facturer' },
] as const;

const RUNS = Math.max(1, Number(process.env.BENCH_APP_RUNS ?? 5));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

interface NetworkItem {
  url: string;
  resourceType?: string;
}

async function firstLoadJsGzip(items: readonly NetworkItem[], origin: string): Promise<number> {
  let total = 0;
  for (const item of items) {
    if (item.resourceType !== 'Script' || !item.url.startsWith(origin)) continue;
    const body = new Uint8Array(await (await fetch(item.url)).arrayBuffer());
    total += gzipSync(body, { level: 9 }).length;
  }
  return total;
}

async function installable(url: string): Promise<{ installable: boolean; errors: string[] }> {
  const profile = mkdtempSync(join(tmpdir(), 'teletrans-bench-profile-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(url);
    // The service worker installed and in control (a reload puts the page under it).
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    await page.reload();
    const cdp = await context.newCDPSession(page);
    const r = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: { errorId: string }[] };
    const errors = r.installabilityErrors.map((e) => e.errorId);
    return { installable: errors.length === 0, errors };
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

export async function benchApp(emit?: (row: object) => void): Promise<object[]> {
  const demo = mkdtempSync(join(tmpdir(), 'teletrans-bench-app-'));
  process.stderr.write('bench app: production build…\n');
  const build = await buildPrivateApp();
  const app = await startApp(build.server, { TELETRANS_RELAY_DEMO_DIR: join(demo, 'demo') });
  const port = await freePort();
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, `--remote-debugging-port=${port}`], headless: true });
  const rows: object[] = [];
  try {
    for (const p of PAGES) {
      const url = `${app.url}${p.path}`;
      process.stderr.write(`bench app: lighthouse ${url} × ${RUNS}…\n`);
      const runs = [];
      for (let i = 0; i < RUNS; i++) {
        const result = await lighthouse(url, { port, output: 'json', logLevel: 'error', onlyCategories: ['performance', 'accessibility'] });
        if (!result) throw new Error(`lighthouse gave no result for ${url}`);
        runs.push(result.lhr);
      }
      process.stderr.write(`bench app: ${p.page}: performance of each run ${runs.map((r) => Math.round((r.categories.performance?.score ?? 0) * 100)).join(', ')}\n`);
      const lhr = computeMedianRun(runs);
      const items = ((lhr.audits['network-requests']?.details as { items?: NetworkItem[] } | undefined)?.items ?? []) as NetworkItem[];
      // What the performance score is made of, for whoever works on it (stderr).
      const metric = (id: string): string => `${id} ${lhr.audits[id]?.displayValue ?? '?'} (${Math.round((lhr.audits[id]?.score ?? 0) * 100)})`;
      process.stderr.write(`bench app: ${p.page} (median run): ${['first-contentful-paint', 'largest-contentful-paint', 'total-blocking-time', 'cumulative-layout-shift', 'speed-index'].map(metric).join(', ')}\n`);
      const inst = await installable(url);
      if (!inst.installable) process.stderr.write(`bench app: ${p.page} not installable: ${inst.errors.join(', ')}\n`);
      const row = {
        bench: 'app',
        page: p.page,
        lighthouse_performance: Math.round((lhr.categories.performance?.score ?? 0) * 100),
        lighthouse_accessibility: Math.round((lhr.categories.accessibility?.score ?? 0) * 100),
        installable: inst.installable,
        first_load_js_gzip_bytes: await firstLoadJsGzip(items, app.url),
      };
      emit?.(row);
      rows.push(row);
    }
  } finally {
    await browser.close();
    await app.stop();
    build.remove();
    rmSync(demo, { recursive: true, force: true });
  }
  return rows;
}
