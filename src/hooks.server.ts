/**
 * Server start: the relay (when configured) starts with the server, not at its first request,
 * so that messages queued before a restart are delivered and returns picked up even if no
 * practitioner calls the API meanwhile.
 */
import type { ServerInit } from '@sveltejs/kit';
import { getRelay } from '$lib/server/relay/index.js';

export const init: ServerInit = async () => {
  await getRelay();
};
