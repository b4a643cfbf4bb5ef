/**
 * `GET /api/directory/fetch?url=<encoded directory URL>` — the relay's one door to LDAP and
 * HTTP directories (docs/domain/security.md C1: a narrow, listed flow).
 *
 * 200 `{"items":[{"kind":"certificate"|"crl"|"unknown","der":"<base64>"}, …]}` (never empty)
 * 4xx/5xx `{"error":{"code":"<DirectoryErrorCode>","message":"<French>"}}`
 *
 * The body shapes, and their encoder and decoder, live in the core (src/lib/trust/directory-wire.ts):
 * the browser's fetcher reads exactly what this writes.
 *
 * Same-origin only: a request carrying `Origin` must come from the app's origin, and one
 * carrying `Sec-Fetch-Site` must be `same-origin` (or `none`); no CORS headers are sent.
 * Each client has a token bucket; upstream fetches in flight are bounded.
 */
import {
  type DirectoryErrorResponse,
  type DirectoryFetchResponse,
  type DirectoryItemKind,
  type DirectoryWireErrorCode,
  encodeDirectoryError,
  encodeDirectoryResponse
} from '../../trust/directory-wire.js';
import type { ItemKind } from './classify.js';
import type { DirectoryConfig } from './config.js';
import {
  DIRECTORY_ERROR_MESSAGE,
  DIRECTORY_ERROR_STATUS,
  DirectoryError,
  type DirectoryErrorCode,
  isDirectoryError
} from './errors.js';
import { type AuditSink, type DirectoryAuditEvent, consoleAuditSink, pseudonymise } from './audit.js';
import { fetchDirectory } from './fetch.js';
import { Gate, TokenBuckets } from './limits.js';
import type { Resolver } from './policy.js';
import { describeTarget } from './url.js';

/** The part of SvelteKit's RequestEvent the handler uses. */
export interface DirectoryRequestEvent {
  request: Request;
  url: URL;
  getClientAddress(): string;
}

export interface DirectoryEndpointOptions {
  /** Called on the first request (reads the environment lazily); may throw on bad configuration. */
  config: () => DirectoryConfig;
  resolver?: Resolver;
  audit?: AuditSink;
  now?: () => number;
}

export interface DirectoryEndpoint {
  GET(event: DirectoryRequestEvent): Promise<Response>;
  /** Every other method (OPTIONS, HEAD, POST…): 405. */
  other(event: DirectoryRequestEvent): Response;
}

export type { DirectoryErrorResponse, DirectoryFetchResponse };

// The server's codes and labels are the wire's, exactly: a new one must be added to the core too.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _sameCodes: Same<DirectoryErrorCode, DirectoryWireErrorCode> = true;
const _sameKinds: Same<ItemKind, DirectoryItemKind> = true;
void _sameCodes;
void _sameKinds;

const BASE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff'
};

function json(body: DirectoryFetchResponse | DirectoryErrorResponse, status: number, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...BASE_HEADERS, ...extra } });
}

function errorResponse(error: DirectoryError, extra: Record<string, string> = {}): Response {
  return json(encodeDirectoryError(error.code, error.message), DIRECTORY_ERROR_STATUS[error.code], extra);
}

export function createDirectoryEndpoint(options: DirectoryEndpointOptions): DirectoryEndpoint {
  const audit = options.audit ?? consoleAuditSink;
  const now = options.now ?? Date.now;
  let state: { config: DirectoryConfig; buckets: TokenBuckets; gate: Gate } | undefined;
  let configFailure: string | undefined;

  const load = () => {
    if (state || configFailure) return state;
    try {
      const config = options.config();
      state = {
        config,
        buckets: new TokenBuckets(config.rate, now),
        gate: new Gate(config.maxConcurrent, Math.max(8, config.maxConcurrent * 8))
      };
    } catch (e) {
      configFailure = e instanceof Error ? e.message : String(e);
    }
    return state;
  };

  const clientOf = (event: DirectoryRequestEvent): string => {
    try {
      return event.getClientAddress();
    } catch {
      return 'unknown';
    }
  };

  return {
    other(event) {
      const started = now();
      audit({
        event: 'directory.fetch',
        time: new Date(started).toISOString(),
        client: pseudonymise(clientOf(event)),
        target: '-',
        status: 405,
        code: 'method_not_allowed',
        detail: `method ${event.request.method.slice(0, 16)}`,
        ms: 0
      });
      return errorResponse(new DirectoryError('method_not_allowed'), { allow: 'GET' });
    },

    async GET(event) {
      const started = now();
      const client = clientOf(event);
      const record: DirectoryAuditEvent = {
        event: 'directory.fetch',
        time: new Date(started).toISOString(),
        client: pseudonymise(client),
        target: '-',
        status: 0,
        ms: 0
      };
      const finish = (response: Response, error?: DirectoryError, result?: { items: number; bytes: number }) => {
        record.status = response.status;
        record.ms = now() - started;
        if (error) {
          record.code = error.code;
          if (error.detail) record.detail = error.detail;
        }
        if (result) {
          record.items = result.items;
          record.bytes = result.bytes;
        }
        audit(record);
        return response;
      };
      const refuse = (error: DirectoryError, extra: Record<string, string> = {}) => finish(errorResponse(error, extra), error);

      const loaded = load();
      if (!loaded) return refuse(new DirectoryError('config_invalid', undefined, configFailure));

      const origin = event.request.headers.get('origin');
      if (origin !== null && origin !== event.url.origin) {
        return refuse(new DirectoryError('origin_not_allowed', undefined, `Origin ${origin.slice(0, 100)}`));
      }
      const site = event.request.headers.get('sec-fetch-site');
      if (site !== null && site !== 'same-origin' && site !== 'none') {
        return refuse(new DirectoryError('origin_not_allowed', undefined, `Sec-Fetch-Site ${site.slice(0, 20)}`));
      }

      const wait = loaded.buckets.take(client);
      if (wait > 0) return refuse(new DirectoryError('rate_limited', undefined, 'token bucket empty'), { 'retry-after': String(wait) });

      const urls = event.url.searchParams.getAll('url');
      if (urls.length !== 1 || urls[0] === '') {
        return refuse(
          new DirectoryError(
            'url_invalid',
            urls.length > 1 ? "Une seule adresse d'annuaire par demande." : "Aucune adresse d'annuaire n'a été fournie (paramètre url).",
            `${urls.length} url parameters`
          )
        );
      }

      const release = await loaded.gate.enter(loaded.config.timeoutMs);
      if (!release) {
        return refuse(
          new DirectoryError('rate_limited', "Le relais traite déjà trop de demandes d'annuaire : réessayez dans quelques instants.", 'gate full'),
          { 'retry-after': '5' }
        );
      }
      try {
        const result = await fetchDirectory(urls[0]!, loaded.config, {
          ...(options.resolver ? { resolver: options.resolver } : {}),
          onTarget: (target) => (record.target = describeTarget(target))
        });
        return finish(json(encodeDirectoryResponse(result.items), 200), undefined, { items: result.items.length, bytes: result.bytes });
      } catch (e) {
        const error = isDirectoryError(e)
          ? e
          : new DirectoryError('upstream_error', DIRECTORY_ERROR_MESSAGE.upstream_error, e instanceof Error ? e.message.slice(0, 200) : 'unknown');
        return refuse(error);
      } finally {
        release();
      }
    }
  };
}
