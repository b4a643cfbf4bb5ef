/**
 * The demonstration data of `npm start` in the browser's trust store (issue 14 item 1): on a
 * workstation whose store is empty, or that already holds the demo hierarchy, the bundle the
 * server serves at `/api/demo/trust` (src/lib/server/demo-pki.ts: the fictitious SESAM-Vitale-
 * like root and CA, their CRLs, the insurers' test recipients) is imported with provenance
 * `demo`, which the pages show as « démonstration ». Importing again is harmless (what is there
 * stays, fresher CRLs replace older ones), so each start refreshes the demo CRLs. A store an
 * administrator filled with real data is never touched, and a server without the demo (204), or
 * no network, leaves the store as it is.
 */
import type { ImportReport, TrustService } from '../../trust/service.js';
import { serverBase } from '../server-base';

export const DEMO_TRUST_URL = '/api/demo/trust';
const MAX_BUNDLE = 64 * 1024;

export type DemoTrustOutcome =
  | { state: 'installed'; reports: ImportReport[] }
  | { state: 'not-demo' }
  | { state: 'unavailable'; reason: string };

export async function installDemoTrust(svc: TrustService, fetcher: typeof fetch = fetch): Promise<DemoTrustOutcome> {
  const cas = svc.snapshot().cas;
  if (cas.length > 0 && !cas.some((c) => c.source === 'demo')) return { state: 'not-demo' };
  let text: string;
  try {
    const res = await fetcher(`${serverBase()}${DEMO_TRUST_URL}`, { cache: 'no-store', credentials: 'same-origin' });
    if (res.status === 204) return { state: 'not-demo' };
    if (!res.ok) return { state: 'unavailable', reason: `HTTP ${res.status}` };
    text = await res.text();
  } catch (e) {
    return { state: 'unavailable', reason: e instanceof Error ? e.message : String(e) };
  }
  if (text.length > MAX_BUNDLE || !text.includes('-----BEGIN CERTIFICATE-----')) return { state: 'unavailable', reason: 'réponse inattendue' };
  return { state: 'installed', reports: await svc.importFile(text, { source: 'demo', actor: 'system' }) };
}
