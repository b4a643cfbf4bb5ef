/**
 * One directory fetch: parse the URL, apply the policy, download under the deadline and the
 * size limit. Throws DirectoryError; never returns an empty list.
 */
import type { DirectoryItem } from './classify.js';
import type { DirectoryConfig } from './config.js';
import { type FetchContext } from './context.js';
import { DirectoryError, isDirectoryError } from './errors.js';
import { fetchHttp } from './http.js';
import { fetchLdap } from './ldap.js';
import { type Resolver, systemResolver } from './policy.js';
import { type DirectoryTarget, parseDirectoryUrl } from './url.js';

export interface FetchOptions {
  resolver?: Resolver;
  /** Called with the parsed target before any network access (for logging). */
  onTarget?: (target: DirectoryTarget) => void;
}

export interface FetchResult {
  target: DirectoryTarget;
  items: DirectoryItem[];
  /** Bytes received from upstream. */
  bytes: number;
}

export async function fetchDirectory(rawUrl: string, config: DirectoryConfig, options: FetchOptions = {}): Promise<FetchResult> {
  const target = parseDirectoryUrl(rawUrl);
  options.onTarget?.(target);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), config.timeoutMs);
  const ctx: FetchContext = { config, resolver: options.resolver ?? systemResolver, signal: controller.signal, bytes: 0 };
  try {
    const items = target.protocol === 'ldap' ? await fetchLdap(target, ctx) : await fetchHttp(target, ctx);
    return { target, items, bytes: ctx.bytes };
  } catch (e) {
    if (isDirectoryError(e)) throw e;
    const message = e instanceof Error ? e.message : String(e);
    throw new DirectoryError('upstream_error', undefined, `unexpected: ${message.slice(0, 200)}`);
  } finally {
    clearTimeout(timer);
  }
}
