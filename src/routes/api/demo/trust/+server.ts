/**
 * `GET /api/demo/trust`: the demonstration trust bundle (PEM) the browser's trust store starts
 * with under `npm start`'s embedded defaults — the fictitious SESAM-Vitale-like root and CA,
 * their fresh CRLs, the insurers' test recipients' certificates (src/lib/server/demo-pki.ts).
 * Public data only (certificates and CRLs, no key). 204 (nothing) when the server does not run
 * the demo: every page asks, and an absent demo is not an error (no console noise either).
 */
import { getRelay } from '$lib/server/relay';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async () => {
  const relay = await getRelay();
  if (!relay?.demo) return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });
  return new Response(relay.demo.trustBundle(), {
    headers: { 'content-type': 'application/x-pem-file', 'cache-control': 'no-store' },
  });
};
