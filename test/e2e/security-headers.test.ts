/**
 * End-to-end: the security headers of the production build served by `node build`, in Chromium.
 *
 * The Content-Security-Policy (svelte.config.js `kit.csp`) and the other headers
 * (src/hooks.server.ts) are checked by what the browser does with them: another origin cannot
 * frame the app, an injected inline script does not run, the card bridge's loopback WebSocket
 * stays reachable while other hosts are refused, the main routes load with no violation, the
 * referrer is not sent, a cross-origin opener loses its handle, geolocation is off; and the
 * HTML of each page the service worker serves offline carries that page's policy.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { WebSocketServer } from 'ws';
import { launchChromium } from '../browser/harness';
import { buildApp, startApp, type PrivateBuild, type RunningApp } from './app-server';

const ROUTES = ['/', '/cartes', '/certificats', '/certificats/verifier', '/certificats/journal'];
const HEADINGS: Record<string, string> = {
  '/': 'Bienvenue dans Teletrans',
  '/cartes': 'Cartes',
  '/certificats': 'Certificats',
  '/certificats/verifier': 'Vérifier une chaîne de certification',
  '/certificats/journal': 'Journal d’audit'
};
const POLL = { timeout: 20_000, interval: 100 };

/** The headers every response of the app carries, pages and API alike. */
const COMMON_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY'
};

/** `script-src 'self' 'sha256-…'` → Map { 'script-src' => ["'self'", "'sha256-…'"] }. */
function parseCsp(header: string | null): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const part of (header ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) directives.set(name.toLowerCase(), values);
  }
  return directives;
}

/** Violations seen by the document, recorded from before its first script runs. */
interface Violation {
  directive: string;
  blocked: string;
}

const recordViolations = () => {
  const w = window as unknown as { cspViolations: Violation[] };
  w.cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    w.cspViolations.push({ directive: e.effectiveDirective, blocked: e.blockedURI });
  });
};

const violations = (page: Page): Promise<Violation[]> =>
  page.evaluate(() => (window as unknown as { cspViolations: Violation[] }).cspViolations);

/** Another origin (another port of 127.0.0.1): frames the app, links to it, records what it is sent. */
interface OtherOrigin {
  url: string;
  requests: { path: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

async function startOtherOrigin(appUrl: string): Promise<OtherOrigin> {
  const requests: OtherOrigin['requests'] = [];
  const pages: Record<string, string> = {
    '/frame-app': `<!doctype html><title>framer</title><iframe id="f" src="${appUrl}/certificats" width="800" height="600"></iframe>`,
    '/frame-self': '<!doctype html><title>framer</title><iframe id="f" src="/framed" width="800" height="600"></iframe>',
    '/framed': '<!doctype html><title>framed</title><h1>Cadre</h1>',
    '/blank': '<!doctype html><title>blank</title><p>vide</p>'
  };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ path, headers: req.headers });
    res.writeHead(pages[path] ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    res.end(pages[path] ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve()))
  };
}

describe('security headers (production build)', () => {
  let build: PrivateBuild;
  let app: RunningApp;
  let browser: Browser;
  let other: OtherOrigin;

  beforeAll(async () => {
    [build, browser] = await Promise.all([buildApp(), launchChromium()]);
    app = await startApp(build.server);
    other = await startOtherOrigin(app.url);
  });

  afterAll(async () => {
    await browser?.close();
    await other?.close();
    await app?.stop();
    build?.remove();
  });

  async function newContext(): Promise<BrowserContext> {
    const context = await browser.newContext({ locale: 'fr-FR' });
    await context.addInitScript(recordViolations);
    return context;
  }

  const heading = (page: Page) => page.getByRole('heading', { level: 1 }).textContent();

  it('sends the policy and the headers on every page and API response', async () => {
    for (const route of [...ROUTES, '/page-inconnue']) {
      const response = await fetch(`${app.url}${route}`);
      const html = await response.text();
      expect(response.headers.get('content-type'), route).toMatch(/^text\/html/);
      for (const [name, value] of Object.entries(COMMON_HEADERS)) expect(response.headers.get(name), `${route} ${name}`).toBe(value);
      const permissions = response.headers.get('permissions-policy') ?? '';
      for (const feature of ['camera', 'microphone', 'geolocation', 'payment', 'usb', 'hid', 'serial', 'bluetooth']) {
        expect(permissions, route).toMatch(new RegExp(`(^|, )${feature}=\\(\\)(,|$)`));
      }

      const csp = parseCsp(response.headers.get('content-security-policy'));
      expect(csp.get('default-src'), route).toEqual(["'self'"]);
      expect(csp.get('frame-ancestors'), route).toEqual(["'none'"]);
      expect(csp.get('object-src'), route).toEqual(["'none'"]);
      expect(csp.get('base-uri'), route).toEqual(["'none'"]);
      expect(csp.get('form-action'), route).toEqual(["'self'"]);
      expect(csp.get('connect-src'), route).toEqual(["'self'", 'ws://127.0.0.1:*', 'ws://localhost:*']);
      // Scripts: the app's own files and the hashes of SvelteKit's inline start-up script, nothing else.
      const scriptSrc = csp.get('script-src') ?? [];
      expect(scriptSrc[0], route).toBe("'self'");
      expect(scriptSrc.slice(1).every((s) => /^'sha256-[A-Za-z0-9+/]+=*'$/.test(s)), route).toBe(true);
      expect(scriptSrc).not.toContain("'unsafe-inline'");
      expect(scriptSrc).not.toContain("'unsafe-eval'");
      const inline = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
      expect(inline.length, route).toBeGreaterThan(0);
      for (const body of inline) expect(scriptSrc).toContain(`'sha256-${createHash('sha256').update(body).digest('base64')}'`);
      // Styles: the app's files and the hashes of the stylesheets inlined in the page
      // (kit.inlineStyleThreshold), never 'unsafe-inline' for elements.
      const styleSrc = csp.get('style-src') ?? [];
      expect(styleSrc[0], route).toBe("'self'");
      expect(styleSrc).not.toContain("'unsafe-inline'");
      const styles = [...html.matchAll(/<style[^>]*>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
      expect(styles.length, route).toBeGreaterThan(0);
      for (const body of styles) expect(styleSrc, route).toContain(`'sha256-${createHash('sha256').update(body).digest('base64')}'`);
    }

    // The API: JSON, same headers, and a policy that lets nothing run or frame it.
    const api = [
      await fetch(`${app.url}/api/relay/openapi.json`),
      await fetch(`${app.url}/api/relay/messages`),
      await fetch(`${app.url}/api/directory/fetch`)
    ];
    expect(api.map((r) => r.status)).toEqual([200, 503, expect.any(Number)]);
    for (const response of api) {
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      for (const [name, value] of Object.entries(COMMON_HEADERS)) expect(response.headers.get(name), `${response.url} ${name}`).toBe(value);
      expect(response.headers.get('permissions-policy')).toMatch(/(^|, )camera=\(\)/);
      const csp = parseCsp(response.headers.get('content-security-policy'));
      expect(csp.get('default-src')).toEqual(["'none'"]);
      expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
      await response.body?.cancel();
    }
  });

  it('cannot be framed by another origin', async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      const refusals: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error' && /frame-ancestors/.test(message.text())) refusals.push(message.text());
      });

      // The control: the other origin frames a page of its own, which shows.
      await page.goto(`${other.url}/frame-self`);
      const own = page.frameLocator('#f');
      await expect.poll(() => own.getByRole('heading', { level: 1 }).textContent(), POLL).toBe('Cadre');

      await page.goto(`${other.url}/frame-app`);
      await expect.poll(() => refusals.length, POLL).toBe(1);
      expect(refusals[0]).toContain("frame-ancestors 'none'");
      // The frame holds Chromium's error page, not the app: nothing of it can be overlaid.
      const frame = page.frames().find((f) => f !== page.mainFrame());
      expect(frame).toBeDefined();
      expect(frame!.url()).not.toContain(app.url);
      expect(await page.frameLocator('#f').getByRole('heading', { level: 1 }).count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('does not run an injected inline script, event handler or string of code', async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${app.url}/certificats`);
      await expect.poll(() => heading(page), POLL).toBe('Certificats');
      expect(await violations(page)).toEqual([]);

      const outcome = await page.evaluate(async () => {
        const w = window as unknown as { injected?: string };
        const script = document.createElement('script');
        script.textContent = "window.injected = 'script'";
        document.body.append(script);
        const img = document.createElement('img');
        img.setAttribute('onerror', "window.injected = 'handler'");
        img.src = '/inexistant.png';
        document.body.append(img);
        // Code from a string (the evaluation below is the DevTools protocol's, exempt from the
        // policy; the timer's string is compiled later, by the page, under it).
        window.setTimeout("window.injected = 'eval'", 0);
        await new Promise((resolve) => setTimeout(resolve, 500));
        return w.injected ?? null;
      });
      expect(outcome).toBeNull();
      const seen = await violations(page);
      expect(seen.map((v) => v.directive).sort()).toEqual(['script-src', 'script-src-attr', 'script-src-elem']);
      expect(seen.every((v) => v.blocked === 'inline' || v.blocked === 'eval')).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('reaches the card bridge on any loopback port and refuses other hosts', async () => {
    const bridge = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => bridge.once('listening', resolve));
    const origins: (string | undefined)[] = [];
    bridge.on('connection', (socket, request) => {
      origins.push(request.headers.origin);
      socket.close();
    });
    const bridgeUrl = `ws://127.0.0.1:${(bridge.address() as AddressInfo).port}/`;
    const context = await newContext();
    try {
      await context.addInitScript((url) => localStorage.setItem('teletrans.bridge-url', url), bridgeUrl);
      const page = await context.newPage();
      await page.goto(`${app.url}/cartes`);
      await expect.poll(() => heading(page), POLL).toBe('Cartes');
      await page.getByRole('button', { name: 'Appairer ce navigateur avec le pont' }).click();
      await expect.poll(() => origins.length, POLL).toBeGreaterThan(0);
      expect(origins[0]).toBe(app.url);
      expect(await violations(page)).toEqual([]);

      // Anything but the app's origin and the loopback bridge is refused by the browser.
      const refused = await page.evaluate(async (otherUrl) => {
        const ws = new WebSocket('ws://192.0.2.1:7523/');
        const wsClosed = await new Promise<boolean>((resolve) => {
          ws.onerror = () => resolve(true);
          ws.onopen = () => resolve(false);
        });
        const fetched = await fetch(`${otherUrl}/blank`, { mode: 'no-cors' }).then(() => 'fetched', (e: Error) => e.name);
        return { wsClosed, fetched };
      }, other.url);
      expect(refused).toEqual({ wsClosed: true, fetched: 'TypeError' });
      expect(await violations(page)).toEqual([
        { directive: 'connect-src', blocked: 'ws://192.0.2.1:7523/' },
        { directive: 'connect-src', blocked: `${other.url}/blank` }
      ]);
      expect(other.requests.filter((r) => r.path === '/blank')).toEqual([]);
    } finally {
      await context.close();
      await new Promise((resolve) => bridge.close(resolve));
    }
  });

  it('loads the main routes with no policy violation and no console error', async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (message) => {
        // No bridge listens in this test: the « Cartes » page's connection attempt fails, as it should.
        if (message.type() === 'error' && !/WebSocket connection to 'ws:\/\/127\.0\.0\.1:7523\/' failed/.test(message.text())) errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(error.message));

      for (const route of ROUTES) {
        await page.goto(`${app.url}${route}`);
        await expect.poll(() => heading(page), POLL).toBe(HEADINGS[route]);
        expect(await violations(page), route).toEqual([]);
      }
      // The same routes through the client-side router, from a fresh load of the home page.
      await page.goto(`${app.url}/`);
      await page.getByRole('navigation', { name: 'Navigation principale' }).getByRole('link', { name: 'Cartes' }).click();
      await expect.poll(() => heading(page), POLL).toBe('Cartes');
      await page.getByRole('navigation', { name: 'Navigation principale' }).getByRole('link', { name: 'Certificats' }).click();
      await expect.poll(() => heading(page), POLL).toBe('Certificats');
      await page.getByRole('link', { name: 'la vérification de chaîne' }).click();
      await expect.poll(() => heading(page), POLL).toBe(HEADINGS['/certificats/verifier']);
      expect(await violations(page)).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('sends no referrer, detaches a cross-origin opener and keeps geolocation off', async () => {
    const context = await newContext();
    try {
      await context.grantPermissions(['geolocation']);
      await context.setGeolocation({ latitude: 48.85, longitude: 2.35 });
      const page = await context.newPage();
      const position = () =>
        page.evaluate(
          () =>
            new Promise<string>((resolve) =>
              navigator.geolocation.getCurrentPosition(
                () => resolve('position'),
                (e) => resolve(`error ${e.code}`)
              )
            )
        );

      // Controls on the other origin, which sends none of these headers.
      await page.goto(`${other.url}/blank`);
      expect(await position()).toBe('position');
      const [ownPopup] = await Promise.all([page.waitForEvent('popup'), page.evaluate(() => void window.open('/framed'))]);
      expect(await ownPopup.evaluate(() => window.opener !== null)).toBe(true);
      await ownPopup.close();

      // The app denies geolocation to itself (Permissions-Policy), whatever the browser grants.
      await page.goto(`${app.url}/`);
      await expect.poll(() => heading(page), POLL).toBe('Bienvenue dans Teletrans');
      expect(await position()).toBe('error 1');

      // A link out of the app carries no Referer (Referrer-Policy: no-referrer).
      await page.evaluate((url) => {
        const a = document.createElement('a');
        a.href = url;
        a.textContent = 'dehors';
        document.body.append(a);
        a.click();
      }, `${other.url}/blank?from-app`);
      await page.waitForURL(`${other.url}/blank?from-app`);
      const fromApp = other.requests.find((r) => r.path === '/blank' && r.headers.referer !== undefined);
      expect(fromApp).toBeUndefined();
      expect(other.requests.filter((r) => r.path === '/blank').length).toBeGreaterThanOrEqual(2);

      // Another origin that opens the app loses its handle on it (COOP same-origin).
      const [popup] = await Promise.all([page.waitForEvent('popup'), page.evaluate((url) => void ((window as unknown as { opened: Window | null }).opened = window.open(url)), app.url)]);
      await popup.waitForURL(`${app.url}/`);
      await expect.poll(() => popup.evaluate(() => window.opener === null), POLL).toBe(true);
      await expect.poll(() => page.evaluate(() => (window as unknown as { opened: Window }).opened.closed), POLL).toBe(true);
      await popup.close();
    } finally {
      await context.close();
    }
  });

  it('keeps the policy offline: the service worker serves the shell with its headers', async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      const online = await page.goto(`${app.url}/certificats/journal`);
      await expect.poll(() => heading(page), POLL).toBe(HEADINGS['/certificats/journal']);
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 30_000 });
      const onlineCsp = online?.headers()['content-security-policy'];
      expect(onlineCsp).toContain("frame-ancestors 'none'");

      // Each page's own policy (its script-src holds the hash of that page's start-up script).
      const routes = ['/certificats/journal', '/cartes', '/'];
      const onlinePolicies = new Map<string, string | null>();
      for (const route of routes) onlinePolicies.set(route, (await fetch(`${app.url}${route}`)).headers.get('content-security-policy'));
      expect(onlinePolicies.get('/certificats/journal')).toBe(onlineCsp);

      await context.setOffline(true);
      for (const route of routes) {
        const offline = await page.goto(`${app.url}${route}`);
        expect(offline?.fromServiceWorker(), route).toBe(true);
        await expect.poll(() => heading(page), POLL).toBe(HEADINGS[route]);
        expect(offline?.headers()['content-security-policy'], route).toBe(onlinePolicies.get(route));
        expect(offline?.headers()['content-security-policy'], route).toContain("frame-ancestors 'none'");
        expect(offline?.headers()['cross-origin-opener-policy'], route).toBe('same-origin');
        expect(await violations(page), route).toEqual([]);
      }
      // The offline shell enforces it: an injected inline script does not run.
      const injected = await page.evaluate(async () => {
        const script = document.createElement('script');
        script.textContent = "window.injected = 'offline'";
        document.body.append(script);
        await new Promise((resolve) => setTimeout(resolve, 200));
        return (window as unknown as { injected?: string }).injected ?? null;
      });
      expect(injected).toBeNull();
      expect((await violations(page)).map((v) => v.directive)).toEqual(['script-src-elem']);
    } finally {
      await context.close();
    }
  });
});
