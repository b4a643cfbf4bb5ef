/**
 * What one fetch carries down to the protocol clients: configuration, resolver, the overall
 * deadline (as an AbortSignal) and the byte counter shared by every connection of the fetch.
 */
import type { DirectoryConfig } from './config.js';
import { DirectoryError } from './errors.js';
import type { Resolver } from './policy.js';

export interface FetchContext {
  config: DirectoryConfig;
  resolver: Resolver;
  /** Aborted when the overall deadline (config.timeoutMs) passes. */
  signal: AbortSignal;
  /** Bytes received from upstream so far, all connections of this fetch together. */
  bytes: number;
}

export function timeoutError(detail: string): DirectoryError {
  return new DirectoryError('timeout', undefined, detail);
}

export function tooLargeError(limit: number, detail: string): DirectoryError {
  const mib = (limit / (1024 * 1024)).toFixed(limit % (1024 * 1024) === 0 ? 0 : 1);
  return new DirectoryError('too_large', `La réponse de l'annuaire dépasse la taille autorisée (${mib} Mio).`, detail);
}

/** Races a promise that cannot be cancelled (e.g. a DNS lookup) against the deadline. */
export function withDeadline<T>(promise: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(timeoutError(`deadline passed before ${what}`));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(timeoutError(`deadline passed during ${what}`));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      }
    );
  });
}

/** Maps a socket-level error to a DirectoryError. */
export function networkError(e: unknown, host: string): DirectoryError {
  const code = (e as { code?: unknown }).code;
  const name = typeof code === 'string' ? code : '';
  if (name === 'ECONNREFUSED') {
    return new DirectoryError('upstream_error', `Le serveur d'annuaire ${host} refuse la connexion.`, `connect: ${name}`);
  }
  if (name === 'ETIMEDOUT') return timeoutError(`socket: ${name}`);
  if (name.startsWith('ERR_TLS') || name.startsWith('CERT_') || name.includes('SELF_SIGNED') || name.startsWith('UNABLE_TO')) {
    return new DirectoryError(
      'upstream_error',
      `La connexion sécurisée au serveur d'annuaire ${host} a échoué (certificat TLS).`,
      `TLS: ${name}`
    );
  }
  const message = e instanceof Error ? e.message : String(e);
  return new DirectoryError('upstream_error', undefined, `network: ${name || message.slice(0, 200)}`);
}
