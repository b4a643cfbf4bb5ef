/**
 * LDAP read of certificates and CRLs (ldapts): anonymous simple bind, one search for the
 * binary attributes only, unbind and close right after (docs/domain/transmission.md §6).
 *
 * The TCP (or TLS) connection is opened by us, to the address checked by the policy, and
 * counts every byte it receives: past `maxBytes` it is destroyed, so a huge attribute is
 * never buffered whole. The overall deadline destroys it as well.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import {
  Client,
  InvalidDNSyntaxError,
  NoSuchObjectError,
  SizeLimitExceededError,
  TimeLimitExceededError,
  type Entry
} from 'ldapts';
import { classifyDer, type DirectoryItem, type ItemKind } from './classify.js';
import { type FetchContext, networkError, timeoutError, tooLargeError, withDeadline } from './context.js';
import { DirectoryError, isDirectoryError } from './errors.js';
import { resolveTarget } from './policy.js';
import type { LdapAttribute, LdapTarget } from './url.js';

const KIND_OF_ATTRIBUTE: Readonly<Record<string, ItemKind>> = {
  'cacertificate;binary': 'certificate',
  'usercertificate;binary': 'certificate',
  'certificaterevocationlist;binary': 'crl'
};

/** Values of the requested binary attributes, in request order then entry order. */
function collectItems(entries: Entry[], attributes: readonly LdapAttribute[]): DirectoryItem[] {
  const items: DirectoryItem[] = [];
  for (const attribute of attributes) {
    const wanted = attribute.toLowerCase();
    const declared = KIND_OF_ATTRIBUTE[wanted] ?? 'unknown';
    for (const entry of entries) {
      for (const [key, raw] of Object.entries(entry)) {
        // Servers may answer with or without the ";binary" option.
        const name = key.toLowerCase();
        if (name !== wanted && `${name};binary` !== wanted) continue;
        const values = Array.isArray(raw) ? raw : [raw];
        for (const value of values) {
          if (!Buffer.isBuffer(value) || value.length === 0) continue;
          const der = new Uint8Array(value.buffer, value.byteOffset, value.length).slice();
          const cheap = classifyDer(der);
          items.push({ kind: cheap === declared ? cheap : 'unknown', der });
        }
      }
    }
  }
  return items;
}

export async function fetchLdap(target: LdapTarget, ctx: FetchContext): Promise<DirectoryItem[]> {
  const { config, signal } = ctx;
  const address = await withDeadline(resolveTarget(target, config, ctx.resolver), signal, 'DNS lookup');

  const sockets: Socket[] = [];
  let failure: DirectoryError | undefined;
  const fail = (error: DirectoryError) => {
    failure ??= error;
    for (const socket of sockets) socket.destroy(new Error(error.code));
  };
  const onAbort = () => fail(timeoutError('LDAP deadline'));
  signal.addEventListener('abort', onAbort, { once: true });

  const guard = <S extends Socket>(socket: S, readyEvent: 'connect' | 'secureConnect'): S => {
    sockets.push(socket);
    const connectTimer = setTimeout(
      () => fail(timeoutError(`LDAP connect to ${target.host}:${target.port}`)),
      config.connectTimeoutMs
    );
    socket.once(readyEvent, () => clearTimeout(connectTimer));
    socket.once('close', () => clearTimeout(connectTimer));
    socket.on('data', (chunk: Buffer) => {
      ctx.bytes += chunk.length;
      if (ctx.bytes > config.maxBytes) fail(tooLargeError(config.maxBytes, `LDAP response over ${config.maxBytes} bytes`));
    });
    if (failure) socket.destroy(new Error(failure.code));
    return socket;
  };

  // ldapts calls these with the port and host of its URL; we connect to the checked address.
  const createConnection = (() =>
    guard(netConnect({ host: address.address, port: target.port, family: address.family }), 'connect')) as unknown as typeof netConnect;
  const createSecureConnection = (() => {
    const options: ConnectionOptions = {
      host: address.address,
      port: target.port,
      minVersion: 'TLSv1.2',
      ...(target.ipVersion === 0 ? { servername: target.host } : {})
    };
    return guard<TLSSocket>(tlsConnect(options), 'secureConnect');
  }) as unknown as typeof tlsConnect;

  const urlHost = target.ipVersion === 6 ? `[${target.host}]` : target.host;
  const client = new Client({
    url: `${target.scheme}://${urlHost}:${target.port}`,
    // Backstops; our own timers fire first.
    timeout: config.timeoutMs + 1_000,
    connectTimeout: config.connectTimeoutMs + 1_000,
    createConnection,
    createSecureConnection
  });

  try {
    await client.bind('', '');
    const single = target.scope === 'base';
    const result = await client.search(target.baseDn, {
      scope: target.scope,
      filter: target.filter,
      attributes: [...target.attributes],
      explicitBufferAttributes: [...target.attributes],
      sizeLimit: single ? 1 : config.maxEntries,
      timeLimit: Math.max(1, Math.ceil(config.timeoutMs / 1000)),
      derefAliases: 'never'
    });
    if (failure) throw failure;
    if (result.searchEntries.length === 0) {
      throw new DirectoryError(
        'not_found',
        target.mailbox
          ? `Aucun certificat trouvé dans l'annuaire pour ${target.mailbox}.`
          : "L'entrée demandée est introuvable dans l'annuaire.",
        'no entry matched'
      );
    }
    const items = collectItems(result.searchEntries, target.attributes);
    if (items.length === 0) {
      throw new DirectoryError(
        'not_found',
        "L'entrée existe dans l'annuaire mais ne contient pas l'attribut demandé.",
        `entry without ${target.attributes.join(',')}`
      );
    }
    return items;
  } catch (e) {
    if (failure) throw failure;
    throw mapLdapError(e, target);
  } finally {
    signal.removeEventListener('abort', onAbort);
    try {
      await client.unbind();
    } catch {
      // The connection is going away anyway.
    }
    for (const socket of sockets) socket.destroy();
  }
}

function mapLdapError(e: unknown, target: LdapTarget): DirectoryError {
  if (isDirectoryError(e)) return e;
  if (e instanceof NoSuchObjectError) {
    return new DirectoryError('not_found', "L'entrée demandée est introuvable dans l'annuaire.", 'LDAP noSuchObject');
  }
  if (e instanceof SizeLimitExceededError) {
    return new DirectoryError(
      'too_large',
      "L'annuaire renvoie trop d'entrées pour cette adresse.",
      'LDAP sizeLimitExceeded'
    );
  }
  if (e instanceof TimeLimitExceededError) return timeoutError('LDAP timeLimitExceeded');
  if (e instanceof InvalidDNSyntaxError) {
    return new DirectoryError('url_invalid', "Le nom (DN) de l'entrée d'annuaire est refusé par le serveur.", 'LDAP invalidDNSyntax');
  }
  const message = e instanceof Error ? e.message : String(e);
  if (/timeout/i.test(message)) return timeoutError(`ldapts: ${message.slice(0, 120)}`);
  if ((e as { code?: unknown }).code !== undefined && typeof (e as { code?: unknown }).code === 'string') {
    return networkError(e, target.host);
  }
  const resultCode = (e as { code?: unknown }).code;
  return new DirectoryError(
    'upstream_error',
    undefined,
    `LDAP: ${typeof resultCode === 'number' ? `resultCode ${resultCode} ` : ''}${message.split('\n')[0]!.slice(0, 160)}`
  );
}
