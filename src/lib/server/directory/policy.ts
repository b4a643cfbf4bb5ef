/**
 * Network policy: allow-list check, DNS resolution and the DNS-rebinding guard.
 *
 * The allow-list is by host name. A name is resolved once per connection, every address it
 * resolves to must be public (unless its allow-list entry says `+private`), and the
 * connection then goes to that checked address — the client never resolves the name again,
 * so a second, different DNS answer cannot slip a private address in. IP literals are only
 * reachable when listed as such.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { type DirectoryConfig, checkAllowed } from './config.js';
import { DirectoryError } from './errors.js';
import type { TargetBase } from './url.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a DNS name to every address (tests may inject their own). */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (host) => {
  const answers = await lookup(host, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** Special-purpose ranges (RFC 6890 and successors) that a public directory never lives in. */
const NON_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4]
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  // Unspecified, loopback and the deprecated IPv4-compatible block; IPv4-mapped addresses
  // (::ffff:a.b.c.d) are checked by BlockList against the IPv4 rules above.
  ['::', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8]
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv6');
}

/** True for a globally routable unicast address. */
export function isPublicAddress(address: string): boolean {
  const version = isIP(address);
  if (version === 4) return !NON_PUBLIC.check(address, 'ipv4');
  if (version !== 6 || address.includes('%')) return false;
  return !NON_PUBLIC.check(address, 'ipv6');
}

/**
 * Checks a target against the allow-list and resolves it to the one address to connect to.
 * Throws `host_not_allowed` (not listed, or resolves to a non-public address without
 * `+private`) or `upstream_error` (DNS failure).
 */
export async function resolveTarget(
  target: TargetBase,
  config: DirectoryConfig,
  resolver: Resolver
): Promise<ResolvedAddress> {
  const { allowPrivate } = checkAllowed(config, target.scheme, target.host, target.port);
  if (target.ipVersion !== 0) return { address: target.host, family: target.ipVersion };

  let answers: ResolvedAddress[];
  try {
    answers = await resolver(target.host);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw new DirectoryError(
      'upstream_error',
      `Le serveur d'annuaire ${target.host} est introuvable (DNS).`,
      `DNS lookup failed: ${typeof code === 'string' ? code : String(e)}`
    );
  }
  if (answers.length === 0) {
    throw new DirectoryError('upstream_error', `Le serveur d'annuaire ${target.host} est introuvable (DNS).`, 'DNS: no address');
  }
  if (!allowPrivate) {
    const blocked = answers.find((a) => !isPublicAddress(a.address));
    if (blocked) {
      throw new DirectoryError(
        'host_not_allowed',
        `Le serveur d'annuaire ${target.host} pointe vers une adresse privée ou locale, non autorisée.`,
        `${target.host} resolves to non-public ${blocked.address}`
      );
    }
  }
  return answers[0]!;
}
