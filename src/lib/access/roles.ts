/**
 * Who may do what on a workstation (annex 7 SA1, SP3; issue 16 item 2): the roles come from the
 * card that opened the session, never from a setting the page could flip, and every action the
 * workspace runs asks `authorize` first. A refusal is an `AccessError` with a stable code and a
 * French message; the caller records it in the audit journal (holder identifier and codes only).
 *
 * - **practitioner** — a CPS of a health professional: their own billing, in the structures of
 *   their card's billing situations; signs.
 * - **assistant** — a CPE, the staff card of a structure: checks patients in, prepares invoices
 *   for the practitioners of the structures on the card; never signs, transmits or acts on
 *   returns; reads only what it prepared (the data keys see to that: ADR 0014, 0025).
 * - **administrator** — not a card kind: a card holder the device's configuration names (by card
 *   identifier). Device settings (kiosk, OCT, directory sources, certificates) need it. A device
 *   that names nobody is a personal workstation: its practitioner administers it; an assistant
 *   never does.
 */

export type CardFamily = 'CPS' | 'CPE';
export type CardRole = 'practitioner' | 'assistant';

export interface Actor {
  readonly role: CardRole;
  /** The card holder's national identifier (RPPS, or the CPE's staff number): what the audit names. */
  readonly holder: string;
  /** The billing numbers of the structures on the card (its situations). */
  readonly structures: readonly string[];
  /** Named administrator of this device (or a practitioner on a device that names none). */
  readonly administrator: boolean;
}

/**
 * - `invoice.prepare`: check a patient in (Vitale read), prepare and save an invoice to sign;
 * - `invoice.sign`: sign invoices on the card (signature désynchronisée included);
 * - `invoice.cancel`: cancel or correct an invoice;
 * - `invoice.transmit`: build lots and send them; retransmit;
 * - `returns.act`: read, verify and act on the insurers' returns;
 * - `device.settings`: kiosk mode, OCT, directory sources, administrators;
 * - `trust.manage`: the trust store (CAs, CRLs, recipients).
 */
export const PERMISSIONS = ['invoice.prepare', 'invoice.sign', 'invoice.cancel', 'invoice.transmit', 'returns.act', 'device.settings', 'trust.manage'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export type AccessErrorCode =
  /** No card session: nothing is allowed. */
  | 'no_session'
  /** The card's role does not allow this action at all. */
  | 'role_forbidden'
  /** The action concerns a structure that is not on the card. */
  | 'other_structure'
  /** The action concerns another practitioner's invoices. */
  | 'other_practitioner'
  /** Device settings without being this device's administrator. */
  | 'not_administrator';

export class AccessError extends Error {
  constructor(
    readonly code: AccessErrorCode,
    readonly permission: Permission,
    message: string,
  ) {
    super(message);
    this.name = 'AccessError';
  }
}

/** What an action is about: the structure (billing number) and the practitioner (RPPS) concerned. */
export interface AccessTarget {
  readonly structure?: string;
  readonly practitioner?: string;
}

const ROLE_FR: Record<CardRole, string> = { practitioner: 'praticien', assistant: 'assistant(e) de structure' };

const ACTION_FR: Record<Permission, string> = {
  'invoice.prepare': 'préparer une facture',
  'invoice.sign': 'signer une facture',
  'invoice.cancel': 'annuler ou corriger une facture',
  'invoice.transmit': 'télétransmettre',
  'returns.act': 'traiter les retours des organismes',
  'device.settings': 'modifier les réglages du poste',
  'trust.manage': 'gérer les certificats du poste',
};

/** What each card role may do at all (the target is checked after). */
const ALLOWED: Record<CardRole, ReadonlySet<Permission>> = {
  practitioner: new Set<Permission>(['invoice.prepare', 'invoice.sign', 'invoice.cancel', 'invoice.transmit', 'returns.act', 'device.settings', 'trust.manage']),
  assistant: new Set<Permission>(['invoice.prepare', 'invoice.cancel', 'device.settings', 'trust.manage']),
};

const ADMIN_ONLY: ReadonlySet<Permission> = new Set<Permission>(['device.settings', 'trust.manage']);

/**
 * The actor a card makes on this device. `administrators`: the card holders this device names
 * as its administrators; empty or absent, a personal workstation (its practitioner administers).
 */
export function actorOf(card: { family: CardFamily; holder: string; structures: readonly string[] }, administrators: readonly string[] = []): Actor {
  const role: CardRole = card.family === 'CPE' ? 'assistant' : 'practitioner';
  const administrator = administrators.length ? administrators.includes(card.holder) : role === 'practitioner';
  return Object.freeze({ role, holder: card.holder, structures: Object.freeze([...card.structures]), administrator });
}

/** Throws an `AccessError` unless `actor` may do `permission` on `target`. Fails closed: no actor, no action. */
export function authorize(actor: Actor | null | undefined, permission: Permission, target: AccessTarget = {}): void {
  const action = ACTION_FR[permission];
  if (!actor) throw new AccessError('no_session', permission, `Pour ${action}, insérez votre carte et saisissez son code.`);
  if (!ALLOWED[actor.role].has(permission)) {
    throw new AccessError('role_forbidden', permission, `Une carte de ${ROLE_FR[actor.role]} ne permet pas de ${action}${permission === 'invoice.sign' ? ' : le praticien la signera avec sa carte CPS' : ''}.`);
  }
  if (ADMIN_ONLY.has(permission)) {
    if (!actor.administrator) throw new AccessError('not_administrator', permission, `Seul un administrateur de ce poste peut ${action}.`);
    return;
  }
  if (target.structure !== undefined && !actor.structures.includes(target.structure)) {
    throw new AccessError('other_structure', permission, `Cette carte ne permet pas de ${action} pour une structure qui n’est pas la sienne.`);
  }
  if (actor.role === 'practitioner' && target.practitioner !== undefined && target.practitioner !== actor.holder) {
    throw new AccessError('other_practitioner', permission, `Cette carte ne permet pas de ${action} pour un autre praticien.`);
  }
}

/** `authorize` as a yes/no, for what a page offers (the action itself still calls `authorize`). */
export function can(actor: Actor | null | undefined, permission: Permission, target: AccessTarget = {}): boolean {
  try {
    authorize(actor, permission, target);
    return true;
  } catch (e) {
    if (e instanceof AccessError) return false;
    throw e;
  }
}

export const isAccessError = (e: unknown): e is AccessError => e instanceof AccessError;
