import { Workbox } from 'workbox-window';

/**
 * Registers the service worker built by SvelteKit from src/service-worker.ts.
 *
 * In production SvelteKit emits `/service-worker.js` as a single self-contained script (no
 * import/export), so it is registered as a classic worker, like SvelteKit itself does; module
 * service workers are not available in every browser practitioners use. The caller only
 * invokes this in production builds: during `vite dev` the worker would cache dev modules.
 */
export async function registerServiceWorker(): Promise<Workbox | undefined> {
  if (!('serviceWorker' in navigator)) return undefined;
  const wb = new Workbox('/service-worker.js', { type: 'classic', scope: '/' });
  await wb.register();
  return wb;
}
