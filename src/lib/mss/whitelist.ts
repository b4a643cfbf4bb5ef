/**
 * The MSSanté trust space (mssante.md § Trust space): the agency's signed daily whitelist of
 * domains, read only once its signature and signer are verified (xmldsig.ts), kept as the last
 * valid copy when a newer one fails, and used before sending: the sender's and every
 * recipient's domain must be in it.
 *
 * The file format is OURS (docs/mss-whitelist.md), not the agency's publication format: the
 * same information (domain, description, operator certificate DN, update date) under our
 * namespace. Swapping in the official reader touches readWhitelistDocument only.
 */
import { MssError } from './errors.js';
import { verifySignedXml, type SignerTrust } from './xmldsig.js';

export const WHITELIST_NS = 'urn:teletrans:mssante:liste-blanche:1';
/** A list is published daily; past this age it is still used, with a warning. */
export const WHITELIST_STALE_MS = 48 * 3600_000;
const MAX_DOMAINS = 100_000;

export interface WhitelistEntry {
  domain: string;
  description: string;
  operatorCertificateDn: string;
  updated: string;
}

export interface Whitelist {
  /** When the agency generated it (ISO 8601, UTC). */
  generatedAt: string;
  /** Lower-case domain → entry. */
  domains: ReadonlyMap<string, WhitelistEntry>;
  /** Subject of the verified signer. */
  signer: string;
}

const DOMAIN_RE = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

export function normaliseDomain(d: string): string | null {
  const x = d.trim().toLowerCase();
  return DOMAIN_RE.test(x) ? x : null;
}

function text(parent: Element, local: string, required: boolean): string {
  const found = Array.from(parent.childNodes).filter((n) => n.nodeType === 1 && (n as Element).namespaceURI === WHITELIST_NS && (n as Element).localName === local);
  if (found.length > 1 || (required && found.length === 0)) {
    throw new MssError('whitelist_malformed', `Liste blanche : élément ${local} ${found.length ? 'répété' : 'absent'}.`);
  }
  return found[0]?.textContent?.trim() ?? '';
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;

/** Reads our format from a verified document (never from anything else). */
export function readWhitelistDocument(doc: Document, signer: string): Whitelist {
  const root = doc.documentElement;
  if (root.namespaceURI !== WHITELIST_NS || root.localName !== 'ListeBlanche') {
    throw new MssError('whitelist_malformed', 'Ce document n’est pas une liste blanche MSSanté (élément racine inattendu).');
  }
  const generatedAt = root.getAttribute('genereLe') ?? '';
  if (!ISO_INSTANT.test(generatedAt) || Number.isNaN(Date.parse(generatedAt))) {
    throw new MssError('whitelist_malformed', 'Liste blanche : date de génération (genereLe) absente ou invalide.');
  }
  const domains = new Map<string, WhitelistEntry>();
  const entries = Array.from(root.childNodes).filter((n) => n.nodeType === 1 && (n as Element).namespaceURI === WHITELIST_NS) as Element[];
  for (const e of entries) {
    if (e.localName !== 'Domaine') throw new MssError('whitelist_malformed', `Liste blanche : élément inattendu ${e.localName}.`);
    if (domains.size >= MAX_DOMAINS) throw new MssError('whitelist_malformed', `Liste blanche : plus de ${MAX_DOMAINS} domaines.`);
    const raw = text(e, 'Nom', true);
    const domain = normaliseDomain(raw);
    if (!domain) throw new MssError('whitelist_malformed', `Liste blanche : nom de domaine invalide « ${raw.slice(0, 80)} ».`);
    const updated = text(e, 'DateMiseAJour', true);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(updated)) throw new MssError('whitelist_malformed', `Liste blanche : date de mise à jour invalide pour ${domain}.`);
    domains.set(domain, { domain, description: text(e, 'Description', false), operatorCertificateDn: text(e, 'DnCertificatOperateur', true), updated });
  }
  if (domains.size === 0) throw new MssError('whitelist_malformed', 'Liste blanche vide.');
  return { generatedAt, domains, signer };
}

/** Verifies the signature and the signer, then reads the list. */
export async function readWhitelist(xml: string, trust: SignerTrust): Promise<Whitelist> {
  const v = await verifySignedXml(xml, trust);
  return readWhitelistDocument(v.doc, v.signerSubject);
}

export type WhitelistUpdate =
  | { status: 'updated'; list: Whitelist }
  | { status: 'unchanged'; list: Whitelist }
  /** The candidate failed: the last valid copy stays in use, and the user is told why. */
  | { status: 'kept_last_valid'; list: Whitelist; error: MssError }
  | { status: 'unavailable'; list: null; error: MssError };

/**
 * One fetch's outcome against the copy in use: a valid, newer list replaces it; anything else
 * (bad signature, unknown signer, malformed, older than the one in use — a replay) keeps it.
 */
export async function updateWhitelist(current: Whitelist | null, xml: string, trust: SignerTrust): Promise<WhitelistUpdate> {
  let next: Whitelist;
  try {
    next = await readWhitelist(xml, trust);
    if (current && Date.parse(next.generatedAt) < Date.parse(current.generatedAt)) {
      throw new MssError('whitelist_older', `La liste reçue (${next.generatedAt}) est plus ancienne que celle en usage (${current.generatedAt}) : ignorée.`);
    }
  } catch (e) {
    const error = e instanceof MssError ? e : new MssError('xml_malformed', 'Liste blanche illisible.');
    return current ? { status: 'kept_last_valid', list: current, error } : { status: 'unavailable', list: null, error };
  }
  if (current && next.generatedAt === current.generatedAt) return { status: 'unchanged', list: current };
  return { status: 'updated', list: next };
}

export function isStale(list: Whitelist, now = Date.now()): boolean {
  return now - Date.parse(list.generatedAt) > WHITELIST_STALE_MS;
}

export interface DomainRefusal {
  address: string;
  role: 'sender' | 'recipient';
  code: 'address_invalid' | 'domain_not_trusted';
  message: string;
}

/** The domain of an addr-spec, lower-cased; null when the address is not one. */
export function addressDomain(address: string): string | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at !== address.indexOf('@')) return null;
  const local = address.slice(0, at);
  if (!/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$/.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return null;
  return normaliseDomain(address.slice(at + 1));
}

/** Every address outside the trust space, with why; empty when the message may leave. */
export function domainRefusals(list: Whitelist, sender: string, recipients: readonly string[]): DomainRefusal[] {
  const out: DomainRefusal[] = [];
  const check = (address: string, role: DomainRefusal['role']): void => {
    const domain = addressDomain(address);
    if (!domain) {
      out.push({ address, role, code: 'address_invalid', message: `« ${address} » n’est pas une adresse de messagerie valide.` });
    } else if (!list.domains.has(domain)) {
      out.push({ address, role, code: 'domain_not_trusted',
        message: role === 'sender'
          ? `Votre domaine « ${domain} » n’est pas dans l’espace de confiance MSSanté : aucun message ne peut partir.`
          : `Le domaine « ${domain} » de ${address} n’est pas dans l’espace de confiance MSSanté : ce destinataire ne peut pas recevoir de message de santé.` });
    }
  };
  check(sender, 'sender');
  for (const r of recipients) check(r, 'recipient');
  return out;
}

/** Throws the first refusal as a typed error (with all of them in the message). */
export function assertInTrustSpace(list: Whitelist | null, sender: string, recipients: readonly string[]): void {
  if (!list) throw new MssError('whitelist_unavailable', 'Aucune liste blanche MSSanté valide n’est disponible : l’envoi est bloqué jusqu’à la prochaine liste valide.');
  const refusals = domainRefusals(list, sender, recipients);
  if (refusals.length > 0) throw new MssError(refusals[0]!.code, refusals.map((r) => r.message).join(' '));
}
