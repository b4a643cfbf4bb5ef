/**
 * Finding an operator's servers from the mailbox's domain (mssante.md § Connecting; RFC 6186
 * and RFC 2782): SRV records `_submission._tcp.<domain>` and `_imap._tcp.<domain>`; priority
 * 10 serves personal and organisational mailboxes, 20 application mailboxes; within a
 * priority the weights share the load (RFC 2782's weighted draw), the rest of the records
 * are the fallbacks in that order. A target of "." says the service is not offered. A manual
 * setting (host and port) overrides the lookup.
 */
import { Resolver } from 'node:dns/promises';
import type { OperatorEndpoint } from './operator.js';

export type MailboxKind = 'personal' | 'organisational' | 'application';

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

export class AutoconfigError extends Error {
  constructor(readonly code: 'no_record' | 'not_offered' | 'lookup_failed', message: string) {
    super(message);
    this.name = 'AutoconfigError';
  }
}

export const PRIORITY: Record<MailboxKind, number> = { personal: 10, organisational: 10, application: 20 };

/**
 * RFC 2782's order for one priority: repeatedly draw a record with probability proportional to
 * its weight (zero-weight records first in the running sum, so they are chosen rarely but can be).
 */
export function orderByWeight(records: readonly SrvRecord[], random: () => number = Math.random): SrvRecord[] {
  const left = [...records].sort((a, b) => (a.weight === 0 ? -1 : 0) - (b.weight === 0 ? -1 : 0));
  const out: SrvRecord[] = [];
  while (left.length) {
    const total = left.reduce((n, r) => n + r.weight, 0);
    const pick = Math.floor(random() * (total + 1));
    let sum = 0;
    let i = 0;
    for (; i < left.length; i++) {
      sum += left[i]!.weight;
      if (sum >= pick) break;
    }
    out.push(...left.splice(Math.min(i, left.length - 1), 1));
  }
  return out;
}

/** The endpoints to try, in order, for a mailbox kind: its priority first (weighted), others after. */
export function candidates(records: readonly SrvRecord[], kind: MailboxKind, random: () => number = Math.random): OperatorEndpoint[] {
  if (records.length === 1 && records[0]!.name === '.') throw new AutoconfigError('not_offered', 'Le domaine déclare ne pas offrir ce service.');
  const usable = records.filter((r) => r.name !== '.' && r.name !== '');
  const wanted = usable.filter((r) => r.priority === PRIORITY[kind]);
  if (wanted.length === 0) throw new AutoconfigError('no_record', `Aucun point d’accès de priorité ${PRIORITY[kind]} (${kind === 'application' ? 'boîtes applicatives' : 'boîtes personnelles et organisationnelles'}).`);
  return orderByWeight(wanted, random).map((r) => ({ host: r.name.replace(/\.$/, ''), port: r.port }));
}

export interface Discovered {
  submission: OperatorEndpoint[];
  imap: OperatorEndpoint[];
}

export interface AutoconfigOptions {
  /** DNS servers ("127.0.0.1:5353"); default the system's. */
  servers?: string[];
  timeoutMs?: number;
  random?: () => number;
  /** Manual setting: used as is, no lookup. */
  override?: { submission: OperatorEndpoint; imap: OperatorEndpoint };
}

async function lookup(resolver: Resolver, name: string): Promise<SrvRecord[]> {
  try {
    return await resolver.resolveSrv(name);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') throw new AutoconfigError('no_record', `Aucun enregistrement ${name}.`);
    throw new AutoconfigError('lookup_failed', `Recherche DNS de ${name} impossible (${code ?? 'erreur'}).`);
  }
}

/** The operator's submission and IMAP servers for a mailbox, by DNS SRV (or the manual setting). */
export async function discover(address: string, kind: MailboxKind, o: AutoconfigOptions = {}): Promise<Discovered> {
  if (o.override) return { submission: [o.override.submission], imap: [o.override.imap] };
  const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
  if (!/^[a-z0-9.-]+$/.test(domain)) throw new AutoconfigError('no_record', `Domaine invalide « ${domain} ».`);
  const resolver = new Resolver({ timeout: o.timeoutMs ?? 3000, tries: 2 });
  if (o.servers?.length) resolver.setServers(o.servers);
  const [sub, imap] = await Promise.all([lookup(resolver, `_submission._tcp.${domain}`), lookup(resolver, `_imap._tcp.${domain}`)]);
  return { submission: candidates(sub, kind, o.random), imap: candidates(imap, kind, o.random) };
}
