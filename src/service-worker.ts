/// <reference types="@sveltejs/kit" />
/// <reference no-default-lib="true"/>
/// <reference lib="esnext" />
/// <reference lib="webworker" />

/**
 * Offline shell of the PWA.
 *
 * - install: precache the Vite build (hashed, immutable), the static files and the app shell;
 * - fetch: cache-first for precached assets, network-first for navigations with the cached
 *   shell as the offline fallback; everything else goes to the network;
 * - activate: drop the caches of previous versions and take control of open pages.
 *
 * Pages are client-rendered (`ssr = false` in src/routes/+layout.ts), so the HTML returned
 * for any route is the same shell and the client router renders the route from the URL.
 */
import { build, files, version } from '$service-worker';
import { openTrustService } from '$lib/client/store/trust';
import { TRUST_SYNC_TAG } from '$lib/client/trust-sync';

const sw = self as unknown as ServiceWorkerGlobalScope;

const CACHE_PREFIX = 'teletrans-';
const CACHE = `${CACHE_PREFIX}${version}`;
const SHELL = '/';
const ASSETS = new Set([...build, ...files]);

sw.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll([...ASSETS, SHELL]);
      await sw.skipWaiting();
    })()
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key.startsWith(CACHE_PREFIX) && key !== CACHE) await caches.delete(key);
      }
      await sw.clients.claim();
    })()
  );
});

sw.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin) return;

  if (ASSETS.has(url.pathname)) {
    event.respondWith(cacheFirst(request));
  } else if (request.mode === 'navigate') {
    event.respondWith(networkFirstNavigation(request));
  }
  // Anything else (API calls, version.json...) goes straight to the network.
});

async function cacheFirst(request: Request): Promise<Response> {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

/** Every page is the same client-rendered shell, so the one precached with this version serves any route offline. */
async function networkFirstNavigation(request: Request): Promise<Response> {
  try {
    return await fetch(request);
  } catch (error) {
    const shell = await caches.match(SHELL, { cacheName: CACHE });
    if (shell) return shell;
    throw error;
  }
}

/**
 * The CRL and certificate schedules (docs/domain/transmission.md §5–6) also run when no tab is open:
 * the browser wakes the worker with a periodic background sync, and the worker runs
 * whatever the schedule says is due. Open tabs hear of it through the store's
 * BroadcastChannel, and through a message for those that want to know it ran.
 */
sw.addEventListener('periodicsync', (event) => {
  const sync = event as ExtendableEvent & { tag?: string };
  if (sync.tag !== TRUST_SYNC_TAG) return;
  sync.waitUntil(refreshTrustStore());
});

async function refreshTrustStore(): Promise<void> {
  const trust = await openTrustService();
  const report = await trust.refresh();
  for (const client of await sw.clients.matchAll({ includeUncontrolled: true })) {
    client.postMessage({ type: 'teletrans-trust-refreshed', items: report.items.length });
  }
}
