/**
 * HTTP(S) download of a certificate or CRL: GET only, no cookies, no credentials, no
 * compression, a fresh connection closed after the download, the body size limited while
 * streaming, redirects followed only to allowed URLs (at most config.maxRedirects, never
 * from https down to http, never to another scheme).
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { type DirectoryItem, itemsFromBody } from './classify.js';
import { type FetchContext, networkError, timeoutError, tooLargeError, withDeadline } from './context.js';
import { DirectoryError, isDirectoryError } from './errors.js';
import { type ResolvedAddress, resolveTarget } from './policy.js';
import { type HttpTarget, describeTarget, parseDirectoryUrl } from './url.js';

const USER_AGENT = 'Teletrans-relay (directory fetch)';
const ACCEPT = 'application/pkix-crl, application/pkix-cert, application/x-x509-ca-cert, application/octet-stream;q=0.8, */*;q=0.5';

/** A lookup that answers only the address the policy checked. */
function pinnedLookup(address: ResolvedAddress): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: address.address, family: address.family }]);
    else callback(null, address.address, address.family);
  }) as unknown as LookupFunction;
}

interface Answer {
  status: number;
  location?: string;
  body?: Uint8Array;
}

function get(target: HttpTarget, address: ResolvedAddress, ctx: FetchContext): Promise<Answer> {
  const { config, signal } = ctx;
  return new Promise<Answer>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (!settled) {
        settled = true;
        fn();
      }
    };
    const options: RequestOptions & { servername?: string; minVersion?: 'TLSv1.2' } = {
      method: 'GET',
      host: target.ipVersion === 0 ? target.host : address.address,
      port: target.port,
      path: `${target.url.pathname}${target.url.search}`,
      headers: {
        Host: target.url.host,
        Accept: ACCEPT,
        'Accept-Encoding': 'identity',
        Connection: 'close',
        'User-Agent': USER_AGENT
      },
      agent: false,
      lookup: pinnedLookup(address),
      maxHeaderSize: 16 * 1024,
      signal
    };
    if (target.scheme === 'https') {
      options.minVersion = 'TLSv1.2';
      if (target.ipVersion === 0) options.servername = target.host;
    }
    const req = (target.scheme === 'https' ? httpsRequest : httpRequest)(options);
    let failure: DirectoryError | undefined;
    const fail = (error: DirectoryError) => {
      failure ??= error;
      req.destroy(new Error(error.code));
      settle(() => reject(failure));
    };

    req.on('socket', (socket) => {
      const timer = setTimeout(
        () => fail(timeoutError(`HTTP connect to ${target.host}:${target.port}`)),
        config.connectTimeoutMs
      );
      socket.once('connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
    req.on('error', (e) => {
      if (failure) return settle(() => reject(failure));
      if (signal.aborted) return settle(() => reject(timeoutError('HTTP deadline')));
      settle(() => reject(networkError(e, target.host)));
    });
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && status !== 304) {
        const location = res.headers.location;
        res.destroy();
        settle(() => resolve({ status, ...(location ? { location } : {}) }));
        return;
      }
      if (status !== 200) {
        res.destroy();
        settle(() => resolve({ status }));
        return;
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && ctx.bytes + declared > config.maxBytes) {
        fail(tooLargeError(config.maxBytes, `Content-Length ${declared} over ${config.maxBytes}`));
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        ctx.bytes += chunk.length;
        if (ctx.bytes > config.maxBytes) {
          fail(tooLargeError(config.maxBytes, `HTTP body over ${config.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        if (failure) return;
        const body = Buffer.concat(chunks);
        settle(() => resolve({ status, body: new Uint8Array(body.buffer, body.byteOffset, body.length) }));
      });
      res.on('error', (e) => {
        if (failure) return settle(() => reject(failure));
        if (signal.aborted) return settle(() => reject(timeoutError('HTTP deadline')));
        settle(() => reject(networkError(e, target.host)));
      });
      res.on('close', () => {
        if (res.complete || failure) return;
        settle(() => reject(signal.aborted ? timeoutError('HTTP deadline') : networkError(new Error('response cut short'), target.host)));
      });
    });
    req.end();
  });
}

export async function fetchHttp(first: HttpTarget, ctx: FetchContext): Promise<DirectoryItem[]> {
  let target = first;
  for (let redirects = 0; ; redirects++) {
    let address: ResolvedAddress;
    try {
      address = await withDeadline(resolveTarget(target, ctx.config, ctx.resolver), ctx.signal, 'DNS lookup');
    } catch (e) {
      if (redirects > 0 && isDirectoryError(e) && e.code === 'host_not_allowed') {
        throw new DirectoryError(
          'host_not_allowed',
          `L'annuaire redirige vers un serveur non autorisé (${target.host}).`,
          `redirect to ${describeTarget(target)}: ${e.detail ?? ''}`
        );
      }
      throw e;
    }
    const answer = await get(target, address, ctx);
    if (answer.status === 200) {
      const body = answer.body ?? new Uint8Array();
      if (body.length === 0) throw new DirectoryError('upstream_error', "L'annuaire a renvoyé une réponse vide.", 'empty body');
      const items = itemsFromBody(body);
      if (items.length === 0) {
        throw new DirectoryError('upstream_error', "La réponse de l'annuaire ne contient ni certificat ni LCR.", 'PEM without usable blocks');
      }
      return items;
    }
    if (answer.status === 404 || answer.status === 410) {
      throw new DirectoryError('not_found', "Le document demandé est introuvable sur le serveur.", `HTTP ${answer.status}`);
    }
    if (answer.status >= 300 && answer.status < 400) {
      if (!answer.location) throw new DirectoryError('upstream_error', undefined, `HTTP ${answer.status} without Location`);
      if (redirects >= ctx.config.maxRedirects) {
        throw new DirectoryError('upstream_error', "L'annuaire redirige trop de fois.", `more than ${ctx.config.maxRedirects} redirects`);
      }
      target = nextTarget(target, answer.location);
      continue;
    }
    throw new DirectoryError('upstream_error', `L'annuaire a répondu par une erreur (HTTP ${answer.status}).`, `HTTP ${answer.status}`);
  }
}

function nextTarget(from: HttpTarget, location: string): HttpTarget {
  let absolute: string;
  try {
    absolute = new URL(location, from.url).href;
  } catch {
    throw new DirectoryError('upstream_error', "L'annuaire redirige vers une adresse invalide.", 'bad Location');
  }
  let next;
  try {
    next = parseDirectoryUrl(absolute);
  } catch (e) {
    if (isDirectoryError(e)) {
      throw new DirectoryError(e.code === 'url_invalid' ? 'upstream_error' : e.code, "L'annuaire redirige vers une adresse refusée.", `redirect: ${e.detail ?? e.code}`);
    }
    throw e;
  }
  if (next.protocol !== 'http') {
    throw new DirectoryError('scheme_not_allowed', "L'annuaire redirige vers un autre protocole, ce qui est refusé.", `redirect to ${next.scheme}`);
  }
  if (from.scheme === 'https' && next.scheme === 'http') {
    throw new DirectoryError('scheme_not_allowed', "L'annuaire redirige d'une adresse chiffrée (https) vers une adresse non chiffrée : refusé.", 'https to http redirect');
  }
  return next;
}
