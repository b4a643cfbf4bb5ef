/**
 * GET /api/directory/fetch?url=<encoded ldap/ldaps/http/https URL>
 * The relay's narrow door to certificate directories; see src/lib/server/directory/.
 * Its audit events go to stdout and to a durable audit table kept ≥ 12 months (SA2): the relay
 * store's, or without a relay an embedded SQLite file of its own (directory/trail-store.ts).
 */
import { building } from '$app/environment';
import { env } from '$env/dynamic/private';
import { configFromEnv, createDirectoryEndpoint } from '$lib/server/directory';
import { durableAuditSink, loadPseudonymKey } from '$lib/server/directory/audit';
import { directoryTrailStore } from '$lib/server/directory/trail-store';
import { getRelay } from '$lib/server/relay';
import type { RequestHandler } from './$types';

const relayStore = directoryTrailStore(async () => (await getRelay())?.store ?? null);
// The store's pseudonym key before the first event, so every durable row uses it. Not while
// `vite build` analyses this module: no store is opened at build time.
const keyReady = building ? Promise.resolve() : loadPseudonymKey(relayStore);
const endpoint = createDirectoryEndpoint({ config: () => configFromEnv(env), audit: durableAuditSink(relayStore) });

export const GET: RequestHandler = async (event) => {
  await keyReady;
  return endpoint.GET(event);
};

// SvelteKit would answer HEAD with GET: refuse it explicitly, and everything else too.
export const HEAD: RequestHandler = async (event) => {
  await keyReady;
  return endpoint.other(event);
};
export const fallback: RequestHandler = async (event) => {
  await keyReady;
  return endpoint.other(event);
};
