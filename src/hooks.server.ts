/**
 * Server hooks.
 *
 * - init: the relay (when configured) starts with the server, not at its first request, so
 *   that messages queued before a restart are delivered and returns picked up even if no
 *   practitioner calls the API meanwhile.
 * - handle: the security headers of every response the server renders, pages and API alike.
 *   The pages' Content-Security-Policy comes from `kit.csp` (svelte.config.js); a response
 *   without one (API, JSON, errors) gets a policy that lets nothing run, load or frame it.
 *   A header the route set itself is kept.
 *
 * Static files (/_app/immutable/*, the service worker, the manifest, icons) are served by
 * adapter-node before SvelteKit and do not pass through here.
 */
import type { Handle, ServerInit } from '@sveltejs/kit';
import { getRelay } from '$lib/server/relay/index.js';

export const init: ServerInit = async () => {
  await getRelay();
};

/**
 * Powerful features the app does not use, denied to it and to anything it could embed. The card
 * transports a page may use itself (issue 17) need `usb` or `hid` for `self`: denied too unless
 * the deployment says its browsers may reach the readers (TELETRANS_PAGE_DEVICES=usb,hid — for
 * workstations whose managed Chrome grants the site its readers; the Isolated Web App carries
 * its own policy, scripts/iwa/). Frames never get them.
 */
const DENIED_FEATURES = [
  'accelerometer', 'autoplay', 'bluetooth', 'browsing-topics', 'camera', 'clipboard-read', 'display-capture',
  'encrypted-media', 'fullscreen', 'geolocation', 'gyroscope', 'hid', 'identity-credentials-get', 'idle-detection',
  'local-fonts', 'magnetometer', 'microphone', 'midi', 'otp-credentials', 'payment', 'picture-in-picture',
  'publickey-credentials-create', 'publickey-credentials-get', 'screen-wake-lock', 'serial', 'usb', 'web-share',
  'window-management', 'xr-spatial-tracking'
];
const PAGE_DEVICES = new Set(['usb', 'hid']);

/** The Permissions-Policy header: every feature denied, but the page devices the deployment allows. */
function permissionsPolicy(allowed: string | undefined): string {
  const granted = new Set((allowed ?? '').split(',').map((f) => f.trim()).filter((f) => PAGE_DEVICES.has(f)));
  return DENIED_FEATURES.map((feature) => `${feature}=${granted.has(feature) ? '(self)' : '()'}`).join(', ');
}

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  // A window of another origin that opens the app (or that the app opens) gets no handle on it.
  'cross-origin-opener-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  // frame-ancestors 'none' for browsers without CSP level 2.
  'x-frame-options': 'DENY',
  'permissions-policy': permissionsPolicy(process.env.TELETRANS_PAGE_DEVICES)
};

/**
 * Isolated Web Apps allowed to call the API from their own origin (docs/kiosk.md § IWA):
 * TELETRANS_IWA_ORIGINS=isolated-app://<Web Bundle ID>,… — that scheme only. The relay's login
 * must allow the same origin (its `origins`). Bearer tokens, no cookies: no credentials mode.
 */
const IWA_ORIGINS = new Set(
  (process.env.TELETRANS_IWA_ORIGINS ?? '').split(',').map((o) => o.trim().replace(/\/$/, '')).filter((o) => /^isolated-app:\/\/[a-z2-7]{56}$/.test(o)),
);
const CORS_PREFLIGHT: Readonly<Record<string, string>> = {
  'access-control-allow-methods': 'GET, POST',
  'access-control-allow-headers': 'authorization, content-type, idempotency-key',
  'access-control-max-age': '600',
};
const CORS_EXPOSED = 'location, idempotent-replayed, retry-after';

/** For responses that are not pages: nothing in them may run, load anything or be framed. */
const NON_PAGE_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export const handle: Handle = async ({ event, resolve }) => {
  const origin = event.request.headers.get('origin');
  const cors = origin !== null && IWA_ORIGINS.has(origin) && event.url.pathname.startsWith('/api/') ? origin : null;
  if (cors && event.request.method === 'OPTIONS') {
    return new Response(null, { status: 204, headers: { ...SECURITY_HEADERS, 'content-security-policy': NON_PAGE_CSP, 'access-control-allow-origin': cors, vary: 'origin', ...CORS_PREFLIGHT } });
  }
  const response = await resolve(event);
  const missing: [string, string][] = Object.entries(SECURITY_HEADERS).filter(([name]) => !response.headers.has(name));
  if (cors) missing.push(['access-control-allow-origin', cors], ['vary', 'origin'], ['access-control-expose-headers', CORS_EXPOSED]);
  if (!response.headers.has('content-security-policy')) missing.push(['content-security-policy', NON_PAGE_CSP]);
  if (missing.length === 0) return response;
  try {
    for (const [name, value] of missing) response.headers.set(name, value);
    return response;
  } catch {
    // Immutable headers (a Response passed through from fetch): the same response, new headers.
    const headers = new Headers(response.headers);
    for (const [name, value] of missing) headers.set(name, value);
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
};
