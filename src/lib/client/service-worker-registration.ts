import { Workbox } from 'workbox-window';
import { TRUST_SYNC_MIN_INTERVAL_MS, TRUST_SYNC_TAG } from './trust-sync';

/**
 * Registers the service worker built by SvelteKit from src/service-worker.ts.
 *
 * In production SvelteKit emits `/service-worker.js` as a single self-contained script (no
 * import/export), so it is registered as a classic worker, like SvelteKit itself does; module
 * service workers are not available in every browser practitioners use. The caller only
 * invokes this in production builds: during `vite dev` the worker would cache dev modules.
 */
const SERVICE_WORKER = '/service-worker.js';

interface TrustedTypesLike {
  createPolicy(name: string, rules: { createScriptURL(url: string): string }): { createScriptURL(url: string): TrustedScriptURL };
}
let workerUrl: string | TrustedScriptURL | undefined;

/**
 * The worker's URL as Trusted Types want it where they are enforced (the Isolated Web App's CSP
 * requires them, docs/kiosk.md): a policy that vouches for this one URL and nothing else.
 */
function serviceWorkerUrl(): string | TrustedScriptURL {
  const tt = (globalThis as { trustedTypes?: TrustedTypesLike }).trustedTypes;
  workerUrl ??= tt
    ? tt.createPolicy('teletrans-service-worker', {
        createScriptURL: (url) => {
          if (url !== SERVICE_WORKER) throw new TypeError(`not the app's service worker: ${url}`);
          return url;
        },
      }).createScriptURL(SERVICE_WORKER)
    : SERVICE_WORKER;
  return workerUrl;
}

export async function registerServiceWorker(): Promise<Workbox | undefined> {
  if (!('serviceWorker' in navigator)) return undefined;
  const wb = new Workbox(serviceWorkerUrl(), { type: 'classic', scope: '/' });
  const registration = await wb.register();
  if (registration) await registerTrustSync(registration);
  return wb;
}

interface PeriodicSyncManager {
  register(tag: string, options: { minInterval: number }): Promise<void>;
}

/**
 * Asks for the periodic background sync that lets the worker run the trust schedules with
 * no tab open. Browsers grant it to installed PWAs only; elsewhere the open app's timer does
 * the work, so a refusal is not an error.
 */
async function registerTrustSync(registration: ServiceWorkerRegistration): Promise<void> {
  const periodicSync = (registration as ServiceWorkerRegistration & { periodicSync?: PeriodicSyncManager }).periodicSync;
  if (!periodicSync) return;
  try {
    const state = await navigator.permissions.query({ name: 'periodic-background-sync' as PermissionName });
    if (state.state === 'granted') await periodicSync.register(TRUST_SYNC_TAG, { minInterval: TRUST_SYNC_MIN_INTERVAL_MS });
  } catch {
    // Not supported or not allowed: the open app's timer remains.
  }
}
