/**
 * Several tabs on one origin, for tests and benchmarks of browser storage.
 *
 * test/browser/harness.ts gives each page its own server (a random port, so its own origin)
 * and its own browser context, so IndexedDB is never shared between two of its pages. Here one
 * server and one context serve every tab: a tab closed and a new one opened see the same
 * IndexedDB, as a practitioner's reopened tab would. The bundle comes from the harness
 * (bundleForBrowser), unchanged.
 *
 *   const session = await openSameOriginSession(browser, 'test/store/entry.ts', 'TrustPage');
 *   const a = await session.open();   // a tab with window.TrustPage
 *   await a.close();
 *   const b = await session.open();   // same origin, same IndexedDB
 *   await session.close();
 *
 * `persistent: true` uses a real profile directory (IndexedDB on disk, as in the product)
 * instead of the in-memory storage of an incognito-like context.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, bundleForBrowser } from '../browser/harness.js';

export interface SameOriginOptions {
  /** Extra files served from the origin: path ("/crl.der") → bytes. */
  files?: Record<string, Uint8Array>;
  /**
   * Serve with COOP/COEP so that pages are cross-origin isolated: performance.now() then has
   * a 5 µs resolution instead of 100 µs (benchmarks).
   */
  isolated?: boolean;
  /** A Chromium profile on disk (launches its own browser; `browser` is then ignored). */
  persistent?: boolean;
}

export interface SameOriginSession {
  origin: string;
  context: BrowserContext;
  /** Opens a tab on the origin with the entry's exports at globalThis[globalName]. */
  open(): Promise<Page>;
  /** Reloads a tab and injects the bundle again (what a page reload does to the app). */
  reload(page: Page): Promise<void>;
  close(): Promise<void>;
}

const BLANK = '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>same origin</title></head><body></body></html>';

async function serve(opts: SameOriginOptions): Promise<Server> {
  const files = new Map(Object.entries(opts.files ?? {}));
  const isolation: Record<string, string> = opts.isolated
    ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cross-origin-resource-policy': 'same-origin' }
    : {};
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const file = files.get(path);
    if (file) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store', ...isolation });
      res.end(Buffer.from(file.buffer, file.byteOffset, file.byteLength));
      return;
    }
    if (path !== '/') {
      res.writeHead(404, isolation).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...isolation });
    res.end(BLANK);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

export async function openSameOriginSession(browser: Browser | undefined, entry: string, globalName: string, opts: SameOriginOptions = {}): Promise<SameOriginSession> {
  const [code, server] = await Promise.all([bundleForBrowser(entry, globalName), serve(opts)]);
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let profile: string | undefined;
  let context: BrowserContext;
  if (opts.persistent) {
    profile = await mkdtemp(join(tmpdir(), 'teletrans-profile-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  } else {
    if (!browser) throw new Error('openSameOriginSession: a browser is needed unless persistent');
    context = await browser.newContext();
  }
  const inject = async (page: Page): Promise<void> => {
    await page.addScriptTag({ content: code });
  };
  return {
    origin,
    context,
    async open() {
      const page = await context.newPage();
      await page.goto(origin + '/');
      await inject(page);
      return page;
    },
    async reload(page) {
      await page.reload();
      await inject(page);
    },
    async close() {
      await context.close().catch(() => undefined);
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      if (profile) await rm(profile, { recursive: true, force: true });
    },
  };
}
