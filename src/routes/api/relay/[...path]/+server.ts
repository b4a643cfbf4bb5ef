import { json } from '@sveltejs/kit';
import { getRelay } from '$lib/server/relay';
import { openapi } from '$lib/server/relay/openapi';
import type { RequestHandler } from './$types';

const handle: RequestHandler = async ({ request, url, getClientAddress }) => {
  if (request.method === 'GET' && url.pathname === '/api/relay/openapi.json') return json(openapi);
  const relay = await getRelay();
  if (!relay) return json({ error: 'not-configured', detail: 'the relay is not configured (TELETRANS_RELAY_CONFIG)' }, { status: 503 });
  return relay.api.handle(request, getClientAddress());
};

export const GET = handle;
export const POST = handle;
