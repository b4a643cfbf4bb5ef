/**
 * Fetching certificates and CRLs from the directories (GIE SESAM-Vitale LDAP, OCTs' HTTP).
 *
 * The browser cannot speak LDAP: the relay does it (`GET /api/directory/fetch?url=…`) and
 * returns the items in the wire format of ./directory-wire.ts. The trust service only sees a
 * Fetcher, so tests and other runtimes swap it for their own (a fixture map, the relay's own
 * directory client…).
 */
import {
  DIRECTORY_FETCH_PATH,
  type DirectoryWireErrorCode,
  DirectoryWireError,
  decodeDirectoryError,
  decodeDirectoryResponse,
  directoryFetchUrl,
} from './directory-wire.js';

/** Returns the DER (or PEM) items found at `url`: one CRL, or one or more certificates. */
export type Fetcher = (url: string) => Promise<Uint8Array[]>;

export type FetchErrorCode = 'network' | 'http_status' | 'bad_response' | 'timeout';

/** A fetch failure with a stable code for the audit trail and the schedule. */
export class FetchError extends Error {
  constructor(
    readonly code: FetchErrorCode,
    message: string,
    /** The relay's own reason when it answered with an error body (`not_found`, `rate_limited`…). */
    readonly directoryCode?: DirectoryWireErrorCode,
  ) {
    super(message);
    this.name = 'FetchError';
  }
}

export interface DirectoryFetcherOptions {
  /** The relay endpoint (default "/api/directory/fetch", same origin). */
  endpoint?: string;
  /** The fetch implementation (default globalThis.fetch). */
  fetch?: typeof globalThis.fetch;
  /** Abort after this many milliseconds (default 60 s: a 4 MB CRL on a slow line). */
  timeoutMs?: number;
}

/** A Fetcher over the relay's directory endpoint (one JSON body, see ./directory-wire.ts). */
export function directoryFetcher(options: DirectoryFetcherOptions = {}): Fetcher {
  const endpoint = options.endpoint ?? DIRECTORY_FETCH_PATH;
  const timeoutMs = options.timeoutMs ?? 60_000;
  return async (url: string): Promise<Uint8Array[]> => {
    const doFetch = options.fetch ?? globalThis.fetch;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let response: Response;
    try {
      response = await doFetch(directoryFetchUrl(url, endpoint), { signal: controller.signal, headers: { accept: 'application/json' } });
    } catch (e) {
      clearTimeout(timer);
      if (controller.signal.aborted) throw new FetchError('timeout', `Délai dépassé pour ${url}.`);
      throw new FetchError('network', `Annuaire injoignable (${e instanceof Error ? e.message : String(e)}).`);
    }
    try {
      const type = (response.headers.get('content-type') ?? '').toLowerCase();
      const body: unknown = type.includes('json') ? await response.json() : undefined;
      if (!response.ok) {
        // The relay explains itself in French; a proxy's page does not.
        const error = decodeDirectoryError(body);
        if (error) throw new FetchError('http_status', error.message, error.code);
        throw new FetchError('http_status', `L’annuaire a répondu ${response.status} pour ${url}.`);
      }
      if (body === undefined) {
        await response.body?.cancel();
        throw new FetchError('bad_response', 'Réponse de l’annuaire illisible (JSON attendu).');
      }
      return decodeDirectoryResponse(body).map((item) => item.der);
    } catch (e) {
      if (controller.signal.aborted) throw new FetchError('timeout', `Délai dépassé pour ${url}.`);
      if (e instanceof FetchError) throw e;
      if (e instanceof DirectoryWireError) throw new FetchError('bad_response', e.message);
      throw new FetchError('bad_response', `Réponse de l’annuaire illisible (${e instanceof Error ? e.message : String(e)}).`);
    } finally {
      clearTimeout(timer);
    }
  };
}
