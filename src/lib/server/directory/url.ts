/**
 * Parsing of directory URLs into a narrow, typed request. Pure: no I/O, no allow-list
 * (see policy.ts). Everything not understood is refused.
 *
 * Accepted forms:
 *
 * 1. RFC 4516: `ldap[s]://host[:port]/<dn>[?<attrs>[?<scope>[?<filter>]]]` — attrs among
 *    cACertificate, userCertificate, certificateRevocationList (`;binary` added when absent);
 *    scope base | one | sub (default base); filter (default `(objectClass=*)`), RFC 4515,
 *    at most 512 characters; extensions are refused (none supported; `bindname` would carry
 *    credentials).
 * 2. Suffix form of the SESAM-Vitale documents: `ldap://host/<dn>/<keyword>` where keyword
 *    is `certificateRevocationList`, `certificate` / `userCertificate` or `cACertificate`
 *    (case-insensitive, optional `;binary`). Base-scope read of that attribute.
 * 3. Mailbox form (docs/domain/transmission.md §5): the DN ends — after its root-most RDN — with an
 *    extra `cn=<mailbox>` (or `mail=<mailbox>`) RDN whose value is an e-mail address, e.g.
 *    `.../cn=AC-FACTURATION,ou=…,o=sesam-vitale,c=fr,cn=amo_pj.reel@reel.rss.fr/certificate`.
 *    No real DN ends with such an RDN (the root-most RDN of this directory is `c=fr`), so it
 *    is read as "the recipient with this mailbox under this CA entry": a subtree search of the
 *    DN before it for `(|(mail=<addr>)(cn=<addr>))`, attribute userCertificate;binary.
 *    Every matching entry's certificates are returned; the browser keeps the most recent valid.
 * 4. `http(s)://host[:port]/path[?query]` (WHATWG URL): GET of the body; fragment dropped.
 *
 * Refused: other schemes (`scheme_not_allowed`), user-info / credentials, empty host,
 * whitespace or control characters, more than 2048 characters (`url_invalid`).
 */
import { FilterParser } from 'ldapts';
import { DEFAULT_PORTS, type DirectoryScheme, normaliseHost, parsePort } from './config.js';
import { DirectoryError } from './errors.js';

export const LDAP_ATTRIBUTES = {
  cacertificate: 'cACertificate;binary',
  usercertificate: 'userCertificate;binary',
  certificaterevocationlist: 'certificateRevocationList;binary'
} as const;

export type LdapAttribute = (typeof LDAP_ATTRIBUTES)[keyof typeof LDAP_ATTRIBUTES];

export const ALL_LDAP_ATTRIBUTES: readonly LdapAttribute[] = Object.values(LDAP_ATTRIBUTES);

export interface TargetBase {
  scheme: DirectoryScheme;
  /** Normalised host (lower-case, no brackets). */
  host: string;
  port: number;
  ipVersion: 0 | 4 | 6;
}

export interface LdapTarget extends TargetBase {
  protocol: 'ldap';
  scheme: 'ldap' | 'ldaps';
  form: 'rfc4516' | 'suffix' | 'mailbox';
  baseDn: string;
  scope: 'base' | 'one' | 'sub';
  filter: string;
  attributes: LdapAttribute[];
  /** The recipient's mailbox in the mailbox form. */
  mailbox?: string;
}

export interface HttpTarget extends TargetBase {
  protocol: 'http';
  scheme: 'http' | 'https';
  url: URL;
}

export type DirectoryTarget = LdapTarget | HttpTarget;

export const MAX_URL_LENGTH = 2048;
const MAX_FILTER_LENGTH = 512;
const MAX_DN_LENGTH = 1024;
const DEFAULT_FILTER = '(objectClass=*)';

function invalid(message: string, detail: string): DirectoryError {
  return new DirectoryError('url_invalid', message, detail);
}

const SUFFIX_KEYWORDS: Readonly<Record<string, LdapAttribute>> = {
  certificaterevocationlist: 'certificateRevocationList;binary',
  certificate: 'userCertificate;binary',
  usercertificate: 'userCertificate;binary',
  cacertificate: 'cACertificate;binary'
};

function attributeFromName(raw: string): LdapAttribute | undefined {
  const name = raw.trim().toLowerCase().replace(/;binary$/, '');
  return Object.prototype.hasOwnProperty.call(LDAP_ATTRIBUTES, name)
    ? LDAP_ATTRIBUTES[name as keyof typeof LDAP_ATTRIBUTES]
    : undefined;
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(`L'adresse de l'annuaire est mal encodée (${what}).`, `bad percent-encoding in ${what}`);
  }
}

/** Splits on an unescaped separator (RFC 4514 backslash escapes). */
function splitUnescaped(text: string, separator: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') {
      current += c + (text[i + 1] ?? '');
      i++;
    } else if (c === separator) {
      out.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  out.push(current);
  return out;
}

interface Rdn {
  text: string;
  avas: { type: string; value: string }[];
}

const ATTR_TYPE = /^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)$/;

/** Parses and re-serialises a DN (RFC 4514, tolerating spaces around separators). */
export function parseDn(dn: string): Rdn[] {
  if (dn.length === 0 || dn.length > MAX_DN_LENGTH) {
    throw invalid("Le nom (DN) de l'entrée d'annuaire est vide ou trop long.", 'empty or oversized DN');
  }
  if (dn.endsWith('\\') && !dn.endsWith('\\\\')) throw invalid("Le nom (DN) de l'entrée d'annuaire est invalide.", 'DN ends with escape');
  return splitUnescaped(dn, ',').map((rdnText) => {
    const avas = splitUnescaped(rdnText, '+').map((avaText) => {
      const eq = avaText.indexOf('=');
      const type = eq < 0 ? '' : avaText.slice(0, eq).trim();
      const value = eq < 0 ? '' : avaText.slice(eq + 1).trim();
      if (!ATTR_TYPE.test(type) || value === '') {
        throw invalid("Le nom (DN) de l'entrée d'annuaire est invalide.", `malformed RDN "${rdnText}"`);
      }
      return { type, value };
    });
    return { text: avas.map((ava) => `${ava.type}=${ava.value}`).join('+'), avas };
  });
}

function unescapeDnValue(value: string): string {
  return value.replace(/\\([0-9a-fA-F]{2}|.)/g, (_, e: string) => (e.length === 2 ? String.fromCharCode(parseInt(e, 16)) : e));
}

const MAILBOX = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;

/** RFC 4515 escaping of an assertion value. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\0]/g, (c) => '\\' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

function parseLdap(raw: string, scheme: 'ldap' | 'ldaps'): LdapTarget {
  const afterScheme = raw.slice(scheme.length + 1);
  if (!afterScheme.startsWith('//')) throw invalid("L'adresse de l'annuaire doit commencer par ldap:// ou ldaps://.", 'missing //');
  const rest = afterScheme.slice(2);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const tail = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
  const { host, ipVersion, port } = parseAuthority(authority, scheme);

  if (tail.includes('#')) throw invalid("L'adresse de l'annuaire ne doit pas contenir de fragment (#).", 'fragment in LDAP URL');
  if (!tail.startsWith('/') || tail.length < 2) {
    throw invalid("L'adresse de l'annuaire ne désigne aucune entrée (DN manquant).", 'no DN');
  }
  const path = tail.slice(1);

  let form: LdapTarget['form'];
  let dnPart: string;
  let attributes: LdapAttribute[] | undefined;
  let scope: LdapTarget['scope'] | undefined;
  let filter: string | undefined;

  if (path.includes('?')) {
    form = 'rfc4516';
    const parts = path.split('?');
    if (parts.length > 5) throw invalid("L'adresse de l'annuaire a trop de parties (?).", 'too many ? parts');
    const [dnRaw, attrsRaw = '', scopeRaw = '', filterRaw = '', extRaw = ''] = parts as [string, ...string[]];
    dnPart = decode(dnRaw, 'DN');
    if (extRaw !== '') {
      throw invalid("Les extensions d'URL LDAP ne sont pas acceptées.", 'LDAP URL extensions present');
    }
    const attrs = decode(attrsRaw, 'attributs');
    if (attrs.trim() !== '') {
      attributes = [];
      for (const name of attrs.split(',')) {
        const attribute = attributeFromName(name);
        if (!attribute) {
          throw invalid(
            `Attribut d'annuaire non autorisé : ${name.trim().slice(0, 64)} (seuls cACertificate, userCertificate et certificateRevocationList le sont).`,
            `attribute not allowed: ${name.trim().slice(0, 64)}`
          );
        }
        if (!attributes.includes(attribute)) attributes.push(attribute);
      }
    }
    const scopeText = decode(scopeRaw, 'portée').trim().toLowerCase();
    if (scopeText !== '') {
      if (scopeText !== 'base' && scopeText !== 'one' && scopeText !== 'sub') {
        throw invalid("La portée de recherche LDAP est invalide (base, one ou sub).", `bad scope ${scopeText.slice(0, 16)}`);
      }
      scope = scopeText;
    }
    const filterText = decode(filterRaw, 'filtre').trim();
    if (filterText !== '') filter = checkFilter(filterText);
  } else {
    const slash = path.lastIndexOf('/');
    if (slash >= 0) {
      form = 'suffix';
      const keyword = decode(path.slice(slash + 1), 'attribut').trim().toLowerCase().replace(/;binary$/, '');
      const attribute = SUFFIX_KEYWORDS[keyword];
      if (!attribute) {
        throw invalid(
          "Suffixe d'adresse d'annuaire inconnu (attendu : /certificate, /cACertificate ou /certificateRevocationList).",
          `unknown suffix keyword ${keyword.slice(0, 64)}`
        );
      }
      attributes = [attribute];
      dnPart = decode(path.slice(0, slash), 'DN');
    } else {
      form = 'rfc4516';
      dnPart = decode(path, 'DN');
    }
  }

  const rdns = parseDn(dnPart);
  const last = rdns[rdns.length - 1]!;
  const lastAva = last.avas.length === 1 ? last.avas[0]! : undefined;
  const lastValue = lastAva ? unescapeDnValue(lastAva.value) : '';
  const isMailbox = rdns.length >= 2 && lastAva !== undefined && /^(cn|mail)$/i.test(lastAva.type) && lastValue.includes('@');

  if (isMailbox) {
    if (!MAILBOX.test(lastValue)) throw invalid("L'adresse de messagerie du destinataire est invalide.", 'malformed mailbox');
    if (scope !== undefined || filter !== undefined) {
      throw invalid(
        "Une adresse par boîte aux lettres ne peut pas avoir de portée ni de filtre.",
        'mailbox form with explicit scope or filter'
      );
    }
    const value = escapeFilterValue(lastValue);
    return {
      protocol: 'ldap',
      scheme,
      host,
      port,
      ipVersion,
      form: 'mailbox',
      baseDn: rdns.slice(0, -1).map((rdn) => rdn.text).join(','),
      scope: 'sub',
      filter: `(|(mail=${value})(cn=${value}))`,
      attributes: attributes ?? ['userCertificate;binary'],
      mailbox: lastValue
    };
  }

  return {
    protocol: 'ldap',
    scheme,
    host,
    port,
    ipVersion,
    form,
    baseDn: rdns.map((rdn) => rdn.text).join(','),
    scope: scope ?? 'base',
    filter: filter ?? DEFAULT_FILTER,
    attributes: attributes ?? [...ALL_LDAP_ATTRIBUTES]
  };
}

function checkFilter(filter: string): string {
  if (filter.length > MAX_FILTER_LENGTH) throw invalid('Le filtre LDAP est trop long.', 'filter too long');
  const wrapped = filter.startsWith('(') ? filter : `(${filter})`;
  try {
    FilterParser.parseString(wrapped);
  } catch {
    throw invalid('Le filtre LDAP est invalide.', 'filter does not parse');
  }
  return wrapped;
}

function parseAuthority(authority: string, scheme: DirectoryScheme): { host: string; ipVersion: 0 | 4 | 6; port: number } {
  if (authority.includes('@')) {
    throw invalid("L'adresse de l'annuaire ne doit pas contenir d'identifiants.", 'credentials in URL');
  }
  let hostPart = authority;
  let portPart: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) throw invalid("L'adresse du serveur d'annuaire est invalide.", 'unclosed IPv6 literal');
    hostPart = authority.slice(0, close + 1);
    const after = authority.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw invalid("L'adresse du serveur d'annuaire est invalide.", 'junk after IPv6 literal');
      portPart = after.slice(1);
    }
  } else {
    const colon = authority.indexOf(':');
    if (colon >= 0) {
      hostPart = authority.slice(0, colon);
      portPart = authority.slice(colon + 1);
    }
  }
  if (hostPart === '') throw invalid("L'adresse de l'annuaire ne nomme aucun serveur.", 'empty host');
  const host = normaliseHost(decode(hostPart, 'serveur'));
  if (!host) throw invalid("Le nom du serveur d'annuaire est invalide.", 'malformed host');
  let port = DEFAULT_PORTS[scheme];
  if (portPart !== undefined && portPart !== '') {
    const parsed = parsePort(portPart);
    if (parsed === undefined) throw invalid("Le port du serveur d'annuaire est invalide.", 'malformed port');
    port = parsed;
  }
  return { host: host.host, ipVersion: host.ipVersion, port };
}

function parseHttp(raw: string, scheme: 'http' | 'https'): HttpTarget {
  // The authority is checked with the same rules as for LDAP before WHATWG normalisation, so
  // that "http://user@host", "http://127.1" or "http://0x7f.0.0.1" are refused, not rewritten.
  const match = /^[a-z]+:\/\/([^/?#\\]*)/i.exec(raw);
  if (!match) throw invalid("L'adresse doit commencer par http:// ou https://.", 'missing //');
  const authority = parseAuthority(match[1]!, scheme);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid("L'adresse de l'annuaire est invalide.", 'WHATWG URL parse failed');
  }
  if (url.username !== '' || url.password !== '') {
    throw invalid("L'adresse de l'annuaire ne doit pas contenir d'identifiants.", 'credentials in URL');
  }
  const host = normaliseHost(url.hostname);
  if (!host || host.host !== authority.host) {
    throw invalid("Le nom du serveur d'annuaire est invalide.", 'host changed by normalisation');
  }
  url.hash = '';
  return { protocol: 'http', scheme, host: host.host, ipVersion: host.ipVersion, port: authority.port, url };
}

/** Parses a directory URL; throws DirectoryError (`url_invalid`, `scheme_not_allowed`). */
export function parseDirectoryUrl(raw: string): DirectoryTarget {
  if (raw.length === 0) throw invalid("Aucune adresse d'annuaire n'a été fournie.", 'empty URL');
  if (raw.length > MAX_URL_LENGTH) throw invalid("L'adresse de l'annuaire est trop longue.", 'URL too long');
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) {
    throw invalid("L'adresse de l'annuaire contient des espaces ou des caractères de contrôle (encodez-les).", 'whitespace or control characters');
  }
  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(raw);
  if (!schemeMatch) throw invalid("L'adresse de l'annuaire n'a pas de protocole (ldap://, https://…).", 'no scheme');
  const scheme = schemeMatch[1]!.toLowerCase();
  const normalised = scheme + raw.slice(scheme.length);
  switch (scheme) {
    case 'ldap':
    case 'ldaps':
      return parseLdap(normalised, scheme);
    case 'http':
    case 'https':
      return parseHttp(normalised, scheme);
    default:
      throw new DirectoryError(
        'scheme_not_allowed',
        `Le protocole « ${scheme.slice(0, 16)} » n'est pas autorisé (seuls ldap, ldaps, http et https le sont).`,
        `scheme ${scheme.slice(0, 16)}`
      );
  }
}

/** A log-safe rendering of a target: LDAP in full (directory entries are public), HTTP without the query. */
export function describeTarget(target: DirectoryTarget): string {
  const hostPort = `${target.ipVersion === 6 ? `[${target.host}]` : target.host}:${target.port}`;
  if (target.protocol === 'http') return `${target.scheme}://${hostPort}${target.url.pathname}${target.url.search ? '?…' : ''}`;
  return `${target.scheme}://${hostPort}/${target.baseDn}?${target.attributes.join(',')}?${target.scope}?${target.filter}`;
}
