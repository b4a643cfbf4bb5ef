/**
 * GET /api/directory/fetch?url=<encoded ldap/ldaps/http/https URL>
 * The relay's narrow door to certificate directories; see src/lib/server/directory/.
 */
import { env } from '$env/dynamic/private';
import { configFromEnv, createDirectoryEndpoint } from '$lib/server/directory';
import type { RequestHandler } from './$types';

const endpoint = createDirectoryEndpoint({ config: () => configFromEnv(env) });

export const GET: RequestHandler = (event) => endpoint.GET(event);

// SvelteKit would answer HEAD with GET: refuse it explicitly, and everything else too.
export const HEAD: RequestHandler = (event) => endpoint.other(event);
export const fallback: RequestHandler = (event) => endpoint.other(event);
