/**
 * Name constraints (RFC 5280 §4.2.1.10, §6.1.3 (b)–(c), §6.1.4 (g)).
 * Rather than computing the intersection of permitted subtrees, each constraining CA's sets
 * are kept; a name must satisfy every one of them for its own name form. That is exactly the
 * intersection semantics, without the set algebra.
 */
import type { Cert, GeneralSubtree } from './cert.js';
import { type GeneralName, type Name, emailAddresses, nameWithin } from './name.js';

export interface ConstraintSet {
  permitted: GeneralSubtree[];
  excluded: GeneralSubtree[];
}

type Form = 'rfc822' | 'dns' | 'uri' | 'directory' | 'ip';

function lower(s: string): string {
  return s.toLowerCase();
}

/** DNS: "example.com" covers itself and every subdomain; a leading dot covers subdomains only. */
function dnsMatch(name: string, base: string): boolean {
  const n = lower(name).replace(/\.$/, '');
  let b = lower(base).replace(/\.$/, '');
  if (b === '') return true;
  if (b.startsWith('.')) return n.endsWith(b);
  if (n === b) return true;
  b = '.' + b;
  return n.endsWith(b);
}

/** rfc822: a full mailbox, a host (exact), or ".domain" (any host below it). */
function rfc822Match(addr: string, base: string): boolean {
  const at = addr.lastIndexOf('@');
  if (at < 0) return false;
  const domain = lower(addr.slice(at + 1));
  const b = lower(base);
  if (b.includes('@')) {
    const bAt = b.lastIndexOf('@');
    return addr.slice(0, at) === base.slice(0, bAt) && domain === b.slice(bAt + 1);
  }
  if (b.startsWith('.')) return domain.endsWith(b);
  return domain === b;
}

function uriHost(uri: string): string | null {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(uri);
  if (!m) return null;
  let auth = m[1]!;
  const at = auth.lastIndexOf('@');
  if (at >= 0) auth = auth.slice(at + 1);
  if (auth.startsWith('[')) return null;
  const colon = auth.indexOf(':');
  if (colon >= 0) auth = auth.slice(0, colon);
  return auth === '' ? null : auth;
}

/** URI: the constraint is a host (exact) or ".domain" (hosts below it). */
function uriMatch(uri: string, base: string): boolean {
  const host = uriHost(uri);
  if (host === null) return false;
  const b = lower(base);
  if (b.startsWith('.')) return lower(host).endsWith(b);
  return lower(host) === b;
}

function ipMatch(ip: Uint8Array, base: Uint8Array): boolean {
  if (base.length !== ip.length * 2) return false;
  for (let i = 0; i < ip.length; i++) {
    if ((ip[i]! & base[ip.length + i]!) !== (base[i]! & base[ip.length + i]!)) return false;
  }
  return true;
}

function matches(name: GeneralName, base: GeneralName): boolean {
  if (name.kind !== base.kind) return false;
  switch (name.kind) {
    case 'dns':
      return dnsMatch(name.value, (base as typeof name).value);
    case 'rfc822':
      return rfc822Match(name.value, (base as typeof name).value);
    case 'uri':
      return uriMatch(name.value, (base as typeof name).value);
    case 'directory':
      return nameWithin(name.name, (base as typeof name).name);
    case 'ip':
      return ipMatch(name.bytes, (base as typeof name).bytes);
    default:
      return false;
  }
}

const FORMS: ReadonlySet<string> = new Set<Form>(['rfc822', 'dns', 'uri', 'directory', 'ip']);

/** Names of a certificate subject to constraints: its DN (if not empty), SANs, and subject emailAddress. */
export function constrainedNames(c: Cert): GeneralName[] {
  const out: GeneralName[] = [];
  if (c.subject.rdns.length > 0) out.push({ kind: 'directory', name: c.subject });
  for (const e of emailAddresses(c.subject)) out.push({ kind: 'rfc822', value: e });
  for (const g of c.subjectAltNames ?? []) out.push(g);
  return out;
}

/** Returns a description of the first name that violates a set, or null when all pass. */
export function checkNameConstraints(c: Cert, sets: ConstraintSet[]): string | null {
  if (sets.length === 0) return null;
  for (const name of constrainedNames(c)) {
    if (!FORMS.has(name.kind)) continue;
    for (const set of sets) {
      const permitted = set.permitted.filter((s) => s.base.kind === name.kind);
      if (permitted.length > 0 && !permitted.some((s) => matches(name, s.base))) return describe(name) + ' hors des noms autorisés';
      if (set.excluded.some((s) => s.base.kind === name.kind && matches(name, s.base))) return describe(name) + ' dans les noms exclus';
    }
  }
  return null;
}

function describe(g: GeneralName): string {
  switch (g.kind) {
    case 'directory':
      return 'le nom distinctif';
    case 'rfc822':
      return `l’adresse ${g.value}`;
    case 'dns':
      return `le nom DNS ${g.value}`;
    case 'uri':
      return `l’URI ${g.value}`;
    case 'ip':
      return 'l’adresse IP';
    default:
      return 'un nom';
  }
}

export function isEmptyName(n: Name): boolean {
  return n.rdns.length === 0;
}
