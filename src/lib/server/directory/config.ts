/**
 * Configuration of the directory fetch: which hosts the relay may reach, and the limits.
 *
 * Environment (read by the endpoint through `$env/dynamic/private`):
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | `TELETRANS_DIRECTORY_ALLOW` | `annuaire.sesam-vitale.fr` | comma-separated allow-list, see below; when set it **replaces** the default (an empty value allows nothing) |
 * | `TELETRANS_DIRECTORY_MAX_BYTES` | 16 MiB | most bytes read from one upstream connection (LDAP: the whole exchange; HTTP: the body) |
 * | `TELETRANS_DIRECTORY_TIMEOUT_MS` | 10000 | deadline of one fetch, DNS + connect + download (redirects included) |
 * | `TELETRANS_DIRECTORY_CONNECT_TIMEOUT_MS` | 5000 | deadline of one TCP (+TLS) connection |
 * | `TELETRANS_DIRECTORY_RATE_BURST` | 30 | token-bucket size per client |
 * | `TELETRANS_DIRECTORY_RATE_PER_MINUTE` | 30 | tokens refilled per minute per client |
 * | `TELETRANS_DIRECTORY_MAX_CONCURRENT` | 4 | upstream fetches in flight at once, all clients together |
 *
 * Allow-list entry: `host[:port][+private]`
 *
 * - `host` is a DNS name (compared case-insensitively, trailing dot ignored), an IPv4
 *   literal or a bracketed IPv6 literal (`[::1]`). Names are matched exactly: no wildcards.
 * - Without `:port`, only the scheme's default port is allowed (ldap 389, ldaps 636,
 *   http 80, https 443); with it, only that port (any of the four schemes).
 * - A DNS name must resolve to public addresses only (DNS-rebinding guard) unless the entry
 *   ends with `+private`, which also allows loopback, private and link-local addresses.
 *   An IP literal entry allows exactly that address, whatever its range.
 *
 * Example: `annuaire.sesam-vitale.fr,crl.example.org:8080,127.0.0.1:3890,ldap.intra:389+private`.
 */
import { isIP } from 'node:net';
import { DirectoryError } from './errors.js';

export type DirectoryScheme = 'ldap' | 'ldaps' | 'http' | 'https';

export const DEFAULT_PORTS: Readonly<Record<DirectoryScheme, number>> = {
  ldap: 389,
  ldaps: 636,
  http: 80,
  https: 443
};

export interface AllowEntry {
  /** Lower-case DNS name without trailing dot, or an IP literal (IPv6 without brackets). */
  host: string;
  /** Undefined: the scheme's default port only. */
  port?: number;
  /** The entry explicitly allows non-public addresses (`+private`, or an IP literal). */
  allowPrivate: boolean;
  /** 0 for a DNS name, 4 or 6 for an IP literal. */
  ipVersion: 0 | 4 | 6;
}

export interface RateLimitConfig {
  burst: number;
  perMinute: number;
}

export interface DirectoryConfig {
  allow: readonly AllowEntry[];
  maxBytes: number;
  timeoutMs: number;
  connectTimeoutMs: number;
  /** HTTP redirects followed, each to an allowed URL; 0 follows none. */
  maxRedirects: number;
  /** LDAP size limit (entries) for subtree searches (a base read asks for 1). */
  maxEntries: number;
  rate: RateLimitConfig;
  maxConcurrent: number;
}

export const DEFAULT_ALLOW = 'annuaire.sesam-vitale.fr';

export const DEFAULT_CONFIG: Omit<DirectoryConfig, 'allow'> = {
  maxBytes: 16 * 1024 * 1024,
  timeoutMs: 10_000,
  connectTimeoutMs: 5_000,
  maxRedirects: 2,
  maxEntries: 16,
  rate: { burst: 30, perMinute: 30 },
  maxConcurrent: 4
};

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Normalises a host as found in a URL or an allow-list: lower-case, no trailing dot, no brackets. */
export function normaliseHost(raw: string): { host: string; ipVersion: 0 | 4 | 6 } | undefined {
  let host = raw.trim().toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) {
    const inner = host.slice(1, -1);
    if (isIP(inner) !== 6 || inner.includes('%')) return undefined; // no zone ids
    // Canonical text form (RFC 5952, as WHATWG URL serialises it), so that equal addresses compare equal.
    return { host: new URL(`http://[${inner}]/`).hostname.slice(1, -1), ipVersion: 6 };
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (isIP(host) === 4) return { host, ipVersion: 4 };
  // A bare IPv6 (without brackets) or anything with a zone id or odd characters is refused.
  if (!DNS_NAME.test(host)) return undefined;
  // Purely numeric labels that are not a dotted quad (e.g. "127.1", "2130706433") are IPv4
  // shorthands for some resolvers: refuse them rather than guess.
  if (/^[0-9.]+$/.test(host) || /^0x/i.test(host)) return undefined;
  return { host, ipVersion: 0 };
}

export function parsePort(raw: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(raw)) return undefined;
  const port = Number(raw);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** Parses one allow-list entry; throws a plain Error naming the entry when it is malformed. */
export function parseAllowEntry(raw: string): AllowEntry {
  let text = raw.trim();
  let allowPrivate = false;
  if (text.toLowerCase().endsWith('+private')) {
    allowPrivate = true;
    text = text.slice(0, -'+private'.length);
  }
  let hostPart = text;
  let portPart: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new Error(`directory allow-list: malformed entry "${raw}"`);
    hostPart = text.slice(0, close + 1);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new Error(`directory allow-list: malformed entry "${raw}"`);
      portPart = rest.slice(1);
    }
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0) {
      hostPart = text.slice(0, colon);
      portPart = text.slice(colon + 1);
    }
  }
  const host = normaliseHost(hostPart);
  if (!host) throw new Error(`directory allow-list: malformed host in "${raw}"`);
  let port: number | undefined;
  if (portPart !== undefined) {
    port = parsePort(portPart);
    if (port === undefined) throw new Error(`directory allow-list: malformed port in "${raw}"`);
  }
  return {
    host: host.host,
    ...(port === undefined ? {} : { port }),
    allowPrivate: allowPrivate || host.ipVersion !== 0,
    ipVersion: host.ipVersion
  };
}

export function parseAllowList(raw: string): AllowEntry[] {
  return raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map(parseAllowEntry);
}

function positiveInt(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^[0-9]+$/.test(raw.trim()) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) {
    throw new Error(`${name}: expected a positive integer, got "${raw}"`);
  }
  return Number(raw);
}

/** Reads the configuration from environment variables; throws on malformed values. */
export function configFromEnv(env: Record<string, string | undefined>): DirectoryConfig {
  return {
    allow: parseAllowList(env.TELETRANS_DIRECTORY_ALLOW ?? DEFAULT_ALLOW),
    maxBytes: positiveInt(env, 'TELETRANS_DIRECTORY_MAX_BYTES', DEFAULT_CONFIG.maxBytes),
    timeoutMs: positiveInt(env, 'TELETRANS_DIRECTORY_TIMEOUT_MS', DEFAULT_CONFIG.timeoutMs),
    connectTimeoutMs: positiveInt(env, 'TELETRANS_DIRECTORY_CONNECT_TIMEOUT_MS', DEFAULT_CONFIG.connectTimeoutMs),
    maxRedirects: DEFAULT_CONFIG.maxRedirects,
    maxEntries: DEFAULT_CONFIG.maxEntries,
    rate: {
      burst: positiveInt(env, 'TELETRANS_DIRECTORY_RATE_BURST', DEFAULT_CONFIG.rate.burst),
      perMinute: positiveInt(env, 'TELETRANS_DIRECTORY_RATE_PER_MINUTE', DEFAULT_CONFIG.rate.perMinute)
    },
    maxConcurrent: positiveInt(env, 'TELETRANS_DIRECTORY_MAX_CONCURRENT', DEFAULT_CONFIG.maxConcurrent)
  };
}

/** A full configuration from partial overrides (tests, embedding). */
export function makeConfig(overrides: Partial<Omit<DirectoryConfig, 'allow'>> & { allow: readonly AllowEntry[] | string }): DirectoryConfig {
  const allow = typeof overrides.allow === 'string' ? parseAllowList(overrides.allow) : overrides.allow;
  return { ...DEFAULT_CONFIG, ...overrides, allow };
}

/** Finds the allow-list entries matching a URL's host and port. */
export function matchAllowList(
  config: DirectoryConfig,
  scheme: DirectoryScheme,
  host: string,
  port: number
): AllowEntry[] {
  return config.allow.filter(
    (entry) => entry.host === host && (entry.port === undefined ? port === DEFAULT_PORTS[scheme] : port === entry.port)
  );
}

/** Throws `host_not_allowed` unless host:port is in the allow-list; returns whether private addresses are allowed. */
export function checkAllowed(config: DirectoryConfig, scheme: DirectoryScheme, host: string, port: number): { allowPrivate: boolean } {
  const matches = matchAllowList(config, scheme, host, port);
  if (matches.length === 0) {
    const hostKnown = config.allow.some((entry) => entry.host === host);
    throw new DirectoryError(
      'host_not_allowed',
      hostKnown
        ? `Ce port n'est pas autorisé pour le serveur d'annuaire ${host}.`
        : `Le serveur d'annuaire ${host} n'est pas autorisé.`,
      `${host}:${port} not in allow-list`
    );
  }
  return { allowPrivate: matches.some((entry) => entry.allowPrivate) };
}
