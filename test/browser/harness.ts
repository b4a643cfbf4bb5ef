/**
 * Chromium harness for tests and benchmarks: runs isomorphic core modules in a real browser.
 *
 *   const browser = await launchChromium();
 *   const page = await openModulePage(browser, 'src/lib/pki/index.ts', 'TeletransPki');
 *   const ok = await page.evaluate(() => typeof TeletransPki.verify === 'function');
 *   await page.close(); // also stops the page's HTTP server
 *   await browser.close();
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Debian's Chromium; Playwright cannot download its own browsers here. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync'
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/** Resolves SvelteKit's `$lib` alias the way the app does. */
const libAlias: Plugin = {
  name: 'sveltekit-lib-alias',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\$lib(\/|$)/ }, async (args) => {
      const target = resolve(REPO_ROOT, 'src', 'lib', args.path.slice('$lib/'.length));
      return pluginBuild.resolve(`./${target.slice(REPO_ROOT.length + 1)}`, {
        kind: args.kind,
        resolveDir: REPO_ROOT
      });
    });
  }
};

const bundles = new Map<string, Promise<string>>();

/**
 * Bundles a TypeScript entry (path relative to the repository root, or absolute) into an IIFE
 * that assigns the module's exports to `globalThis[globalName]`. Cached per entry and global
 * name for the life of the process.
 */
export function bundleForBrowser(entry: string, globalName: string): Promise<string> {
  const entryPath = isAbsolute(entry) ? entry : resolve(REPO_ROOT, entry);
  const key = `${entryPath}\0${globalName}`;
  let bundle = bundles.get(key);
  if (!bundle) {
    bundle = build({
      entryPoints: [entryPath],
      absWorkingDir: REPO_ROOT,
      bundle: true,
      format: 'iife',
      globalName,
      platform: 'browser',
      target: 'es2022',
      minify: false,
      sourcemap: false,
      write: false,
      logLevel: 'silent',
      plugins: [libAlias]
    }).then((result) => {
      const output = result.outputFiles[0];
      if (!output) throw new Error(`esbuild produced no output for ${entry}`);
      return output.text;
    });
    // A failed build is not cached: the next call retries (e.g. after the file was fixed).
    bundle.catch(() => bundles.delete(key));
    bundles.set(key, bundle);
  }
  return bundle;
}

const BLANK_PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>harness</title></head><body></body></html>';

/** Serves the blank page on 127.0.0.1 (a secure context, so crypto.subtle is available). */
async function startBlankServer(): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url === '/favicon.ico') {
      response.writeHead(204).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    response.end(BLANK_PAGE);
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolveListen());
  });
  return server;
}

function stopServer(server: Server): Promise<void> {
  return new Promise((resolveClose) => {
    server.closeAllConnections();
    server.close(() => resolveClose());
  });
}

/**
 * Opens a blank page served from 127.0.0.1 in a fresh browser context and injects the bundle
 * of `entry`, whose exports are then available as `globalThis[globalName]` in the page.
 * Closing the page (or the browser) closes its context and stops its HTTP server.
 */
export async function openModulePage(browser: Browser, entry: string, globalName: string): Promise<Page> {
  const [code, server] = await Promise.all([bundleForBrowser(entry, globalName), startBlankServer()]);
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= stopServer(server));
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const onDisconnected = () => void stop();
    browser.once('disconnected', onDisconnected);
    page.once('close', () => {
      browser.off('disconnected', onDisconnected);
      void stop();
      void context.close().catch(() => undefined);
    });
    const { port } = server.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.addScriptTag({ content: code });
    return page;
  } catch (error) {
    await stop();
    throw error;
  }
}
