/**
 * The trust store for the pages: `const trust = await openTrustService()` gives the
 * TrustService over IndexedDB (database `teletrans-trust`) with the relay's directory
 * endpoint as fetcher. Browser only.
 */
import { type Fetcher, directoryFetcher } from '$lib/trust/fetcher';
import { DIRECTORY_FETCH_PATH } from '$lib/trust/directory-wire';
import { serverBase } from '../server-base';
import type { AuditActor } from '$lib/trust/audit';
import { TrustService } from '$lib/trust/service';
import { IdbTrustStore, type IdbTrustStoreOptions } from './idb-trust-store';

export interface OpenTrustOptions extends IdbTrustStoreOptions {
  /** Default: GET /api/directory/fetch?url=… on the page's origin. */
  fetcher?: Fetcher;
  clock?: () => number;
  random?: () => number;
  actor?: AuditActor;
}

export async function openTrustService(opts: OpenTrustOptions = {}): Promise<TrustService> {
  const store = await IdbTrustStore.open(opts);
  return TrustService.open({
    store,
    fetcher: opts.fetcher ?? directoryFetcher({ endpoint: `${serverBase()}${DIRECTORY_FETCH_PATH}` }),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.random ? { random: opts.random } : {}),
    ...(opts.actor ? { actor: opts.actor } : {}),
  });
}

export { IdbTrustStore } from './idb-trust-store';
export { MIGRATIONS, TRUST_DB_NAME, TRUST_DB_VERSION, deleteTrustDb, openTrustDb } from './trust-db';
