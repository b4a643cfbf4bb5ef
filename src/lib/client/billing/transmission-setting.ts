/**
 * How this practitioner's invoices go (issue 14 item 5, docs/domain/transmission.md §8): direct
 * to the insurers, or through an OCT (organisme concentrateur technique) — way 1, the same FSE
 * and DRE files as direct mode to the OCT's mailbox, or way 2, one framed FACTURE file per send
 * with the OCT's number. Way 3 (enriched FSE, AMC contract type 99) is not offered: the billing
 * core does not build enriched FSE yet. Kept in the card's sealed preferences (store/billing.ts).
 */
import { checkAddrSpec } from '../../sesam/address.js';
import type { FlowMode } from '../../sesam/description.js';
import type { OctConfig } from '../../sesam/routing.js';

export type TransmissionSetting =
  | { readonly way: 'direct' }
  | { readonly way: 'oct_split' | 'oct_single'; readonly octAddress: string; readonly octNumber?: string };

export const DIRECT: TransmissionSetting = Object.freeze({ way: 'direct' });

/** What the OCT's number may be: letters and digits (group 12 field 7 of the framed file). */
const OCT_NUMBER = /^[0-9A-Z]{1,20}$/;

/**
 * The setting as typed in the page, checked; a French reason when it cannot be kept. `mode`: the
 * single FACTURE file exists only for real flows (transmission.md §7 defines no FACTURETEST).
 */
export function transmissionSetting(input: { way: string; octAddress?: string; octNumber?: string }, mode: FlowMode = 'real'): { ok: true; value: TransmissionSetting } | { ok: false; message: string } {
  if (input.way === 'direct') return { ok: true, value: DIRECT };
  if (input.way !== 'oct_split' && input.way !== 'oct_single') return { ok: false, message: 'Mode de transmission inconnu.' };
  if (input.way === 'oct_single' && mode !== 'real') return { ok: false, message: 'Le fichier unique FACTURE n’existe qu’en production : en test et en démonstration, choisissez la voie 1.' };
  let address: string;
  try {
    address = checkAddrSpec((input.octAddress ?? '').trim(), 'octAddress');
  } catch {
    return { ok: false, message: 'Adresse de messagerie de l’OCT invalide (par exemple oct@exemple.fr).' };
  }
  const number = (input.octNumber ?? '').trim().toUpperCase();
  if (number && !OCT_NUMBER.test(number)) return { ok: false, message: 'Numéro de l’OCT invalide (lettres et chiffres, 20 au plus).' };
  if (input.way === 'oct_single' && !number) return { ok: false, message: 'Le fichier unique FACTURE porte le numéro de l’OCT : indiquez-le.' };
  return { ok: true, value: Object.freeze({ way: input.way, octAddress: address, ...(number ? { octNumber: number } : {}) }) };
}

/** The routing the billing core needs: nothing for direct mode, the OCT's address and number otherwise. */
export function octOf(s: TransmissionSetting): (OctConfig & { number?: string }) | undefined {
  return s.way === 'direct' ? undefined : { address: s.octAddress, ...(s.octNumber ? { number: s.octNumber } : {}) };
}

/** « directe » or « par l’OCT <adresse> », for the page. */
export function describeTransmission(s: TransmissionSetting): string {
  if (s.way === 'direct') return 'directe aux caisses (AMO et AMC)';
  return `par l’OCT ${s.octAddress}${s.way === 'oct_single' ? ` (fichier unique, n° ${s.octNumber ?? ''})` : ''}`;
}
