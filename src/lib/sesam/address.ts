/**
 * Mailbox checks for the From and To headers. Deliberately narrower than RFC 5322: a dot-atom
 * local part and a DNS domain, so that nothing a user typed can inject a header (CR, LF) or
 * change the structure of the field (commas, quotes, angle brackets).
 */
import { SesamFieldError } from './errors.js';

const ATEXT = "[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~]+";
const ADDR_SPEC = new RegExp(`^${ATEXT}(?:\\.${ATEXT})*@([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+)$`);

/** Checks a bare `local@domain` address and returns it. */
export function checkAddrSpec(address: string, field: string): string {
  if (address.length > 254 || !ADDR_SPEC.test(address)) {
    throw new SesamFieldError('invalid_address', field, `adresse électronique invalide « ${address} » (${field})`);
  }
  return address;
}

export interface Mailbox {
  /** Optional display name (printable ASCII, no quotes or backslashes). */
  name?: string;
  address: string;
}

/**
 * Accepts `local@domain` or `Display Name <local@domain>`; returns the parsed mailbox.
 * Display names are limited to printable ASCII without `"` and `\`, written as a quoted string.
 */
export function parseMailbox(text: string, field: string): Mailbox {
  const t = text.trim();
  const m = /^(.*?)\s*<([^<>]*)>$/.exec(t);
  if (!m) return { address: checkAddrSpec(t, field) };
  const name = (m[1] ?? '').trim().replace(/^"(.*)"$/, '$1');
  const address = checkAddrSpec(m[2] ?? '', field);
  if (name === '') return { address };
  if (!/^[\x20-\x7e]{1,64}$/.test(name) || /["\\]/.test(name)) {
    throw new SesamFieldError('invalid_address', field, `nom affiché invalide « ${name} » (${field}) : ASCII imprimable sans guillemets, 64 caractères au plus`);
  }
  return { name, address };
}

export function formatMailbox(m: Mailbox): string {
  return m.name ? `"${m.name}" <${m.address}>` : m.address;
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}
