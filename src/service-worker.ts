/// <reference types="@sveltejs/kit" />
/// <reference no-default-lib="true"/>
/// <reference lib="esnext" />
/// <reference lib="webworker" />

/**
 * Offline shell of the PWA.
 *
 * - install: precache the Vite build (hashed, immutable), the static files and the HTML of
 *   every page;
 * - fetch: cache-first for precached assets, network-first for navigations with the page's
 *   cached HTML as the offline fallback; everything else goes to the network;
 * - activate: drop the caches of previous versions and take control of open pages.
 *
 * Pages are rendered on the server, then hydrated (docs/adr/0020): each page's HTML names its
 * own route and modules, so each is cached under its own path, with its response headers (its
 * Content-Security-Policy holds the hash of its own start-up script).
 */
import { build, files, version } from '$service-worker';
import { PAGES } from '$lib/client/pages';
import { openTrustService } from '$lib/client/store/trust';
import { TRUST_SYNC_TAG } from '$lib/client/trust-sync';

const sw = self as unknown as ServiceWorkerGlobalScope;

const CACHE_PREFIX = 'teletrans-';
const CACHE = `${CACHE_PREFIX}${version}`;
const ASSETS = new Set([...build, ...files]);

sw.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll([...ASSETS, ...PAGES]);
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

/**
 * The network's answer when there is one; offline, the page's HTML precached with this version
 * (a page's HTML holds no data: what the practitioner sees comes from IndexedDB once hydrated).
 */
async function networkFirstNavigation(request: Request): Promise<Response> {
  try {
    return await fetch(request);
  } catch (error) {
    const path = new URL(request.url).pathname.replace(/(.)\/$/, '$1');
    const page = await caches.match(path, { cacheName: CACHE, ignoreSearch: true });
    if (page) return page;
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
