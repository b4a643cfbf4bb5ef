/**
 * Fetching certificates and CRLs from the directories (GIE SESAM-Vitale LDAP, OCTs' HTTP).
 *
 * The browser cannot speak LDAP: the relay does it (`GET /api/directory/fetch?url=…`) and
 * returns the raw bytes. The trust service only sees a Fetcher, so tests and other runtimes
 * swap it for their own (a fixture map, the relay's own directory client…).
 */

/** Returns the DER (or PEM) items found at `url`: one CRL, or one or more certificates. */
export type Fetcher = (url: string) => Promise<Uint8Array[]>;

/** A fetch failure with a stable code for the audit trail and the schedule. */
export class FetchError extends Error {
  constructor(
    readonly code: 'network' | 'http_status' | 'bad_response' | 'timeout',
    message: string,
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

function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64.replace(/\s+/g, ''));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * A Fetcher over the relay's directory endpoint. The response is either the raw bytes
 * (`application/octet-stream`) or a JSON list of base64 items (`["MII…", …]`, or
 * `{"items": [...]}`), the latter for LDAP entries holding several certificates.
 */
export function directoryFetcher(options: DirectoryFetcherOptions = {}): Fetcher {
  const endpoint = options.endpoint ?? '/api/directory/fetch';
  const timeoutMs = options.timeoutMs ?? 60_000;
  return async (url: string): Promise<Uint8Array[]> => {
    const doFetch = options.fetch ?? globalThis.fetch;
    const target = `${endpoint}${endpoint.includes('?') ? '&' : '?'}url=${encodeURIComponent(url)}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let response: Response;
    try {
      response = await doFetch(target, { signal: controller.signal, headers: { accept: 'application/octet-stream, application/json' } });
    } catch (e) {
      clearTimeout(timer);
      if (controller.signal.aborted) throw new FetchError('timeout', `Délai dépassé pour ${url}.`);
      throw new FetchError('network', `Annuaire injoignable (${e instanceof Error ? e.message : String(e)}).`);
    }
    try {
      if (!response.ok) throw new FetchError('http_status', `L’annuaire a répondu ${response.status} pour ${url}.`);
      const type = (response.headers.get('content-type') ?? '').toLowerCase();
      if (type.includes('json')) {
        const body = (await response.json()) as unknown;
        const items = Array.isArray(body) ? body : (body as { items?: unknown })?.items;
        if (!Array.isArray(items) || !items.every((x) => typeof x === 'string')) {
          throw new FetchError('bad_response', 'Réponse de l’annuaire illisible (liste base64 attendue).');
        }
        return items.map(base64ToBytes);
      }
      const bytes = new Uint8Array(await response.arrayBuffer());
      return bytes.length ? [bytes] : [];
    } catch (e) {
      if (controller.signal.aborted) throw new FetchError('timeout', `Délai dépassé pour ${url}.`);
      if (e instanceof FetchError) throw e;
      throw new FetchError('bad_response', `Réponse de l’annuaire illisible (${e instanceof Error ? e.message : String(e)}).`);
    } finally {
      clearTimeout(timer);
    }
  };
}
