/**
 * The insurer's answer about third-party-payment invoices in our own format `teletrans-rsp-1`
 * (docs/returns/rsp.md; NOT the NOEMIE norm): per document a payment (the data of NOEMIE
 * reference 900), a rejection (580) or a notice (576), and the transfer that pays them. Written
 * by the simulated insurer front end, read by the workstation (`recordRsp`). Pure and isomorphic;
 * every departure from the format is a `ReturnFormatError`, never a guess.
 */
import { ReturnFormatError } from './errors.js';

export const RSP_FORMAT = 'TELETRANS-RSP';
export const RSP_VERSION = '1';
export const RSP_MAX_BYTES = 256 * 1024;
export const RSP_MAX_LINES = 1000;

export type RspLine =
  /** Paid in full or in part (reference 900): the amount paid and the payment date. */
  | { readonly type: 'payment'; readonly sender: string; readonly kind: 'FSE' | 'DRE'; readonly number: string; readonly full: boolean; readonly amountCents: number; readonly date: string }
  /** Rejected (reference 580): the reason code and its label. */
  | { readonly type: 'rejection'; readonly sender: string; readonly kind: 'FSE' | 'DRE'; readonly number: string; readonly code: string; readonly label: string }
  /** A notice about a document, changing nothing (reference 576). */
  | { readonly type: 'notice'; readonly sender: string; readonly kind: 'FSE' | 'DRE'; readonly number: string; readonly code: string; readonly label: string };

export interface Rsp {
  /** The paying organism (its code, e.g. `01931` or an AMC's number). */
  readonly organism: string;
  /** The transfer: its date and total, the sum of the payments. */
  readonly transfer: { readonly date: string; readonly totalCents: number };
  readonly lines: readonly RspLine[];
}

const SENDER = /^(\d{2}|2A|2B)\d{7}$/;
const DOC_NUMBER = /^\d{9}$/;
const ORGANISM = /^[A-Z0-9]{1,16}$/;
const CODE = /^[A-Z0-9]{1,8}$/;
const LABEL = /^[^;\p{Cc}\u2028\u2029]{1,200}$/u;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const AMOUNT = /^(0|[1-9]\d{0,9})$/;

function realDate(d: string): boolean {
  if (!DATE.test(d)) return false;
  const t = Date.UTC(Number(d.slice(0, 4)), Number(d.slice(5, 7)) - 1, Number(d.slice(8, 10)));
  return new Date(t).toISOString().slice(0, 10) === d;
}

function checkLine(l: RspLine, line: number | undefined): void {
  const bad = (what: string): never => {
    throw new ReturnFormatError('bad_field', line, `${what} invalide.`);
  };
  if (!SENDER.test(l.sender)) bad('numéro de facturation');
  if (l.kind !== 'FSE' && l.kind !== 'DRE') bad('nature (FSE ou DRE)');
  if (!DOC_NUMBER.test(l.number)) bad('numéro de facture (9 chiffres)');
  if (l.type === 'payment') {
    if (!Number.isSafeInteger(l.amountCents) || l.amountCents < 0 || !AMOUNT.test(String(l.amountCents))) bad('montant payé');
    if (!realDate(l.date)) bad('date de paiement');
  } else {
    if (!CODE.test(l.code)) bad('code');
    if (!LABEL.test(l.label) || l.label.trim() !== l.label) bad('libellé');
  }
}

const key = (l: RspLine): string => `${l.type === 'notice' ? 'n' : 'd'}:${l.sender}:${l.kind}:${l.number}`;

/** The file's bytes (UTF-8). Refuses what it could not read back. */
export function buildRsp(rsp: Rsp): Uint8Array {
  if (!ORGANISM.test(rsp.organism)) throw new ReturnFormatError('bad_field', undefined, 'organisme invalide.');
  if (!realDate(rsp.transfer.date)) throw new ReturnFormatError('bad_field', undefined, 'date du virement invalide.');
  if (rsp.lines.length === 0) throw new ReturnFormatError('no_lot', undefined, 'un retour porte au moins une facture.');
  if (rsp.lines.length > RSP_MAX_LINES) throw new ReturnFormatError('too_many_lots', undefined, `${RSP_MAX_LINES} lignes au plus.`);
  const out = [`${RSP_FORMAT};${RSP_VERSION}`, `ORGANISME;${rsp.organism}`];
  const seen = new Set<string>();
  let total = 0;
  for (const l of rsp.lines) {
    checkLine(l, undefined);
    if (seen.has(key(l))) throw new ReturnFormatError('duplicate_lot', undefined, `facture ${l.number} présente deux fois.`);
    seen.add(key(l));
    if (l.type === 'payment') {
      total += l.amountCents;
      out.push(`PAIEMENT;${l.sender};${l.kind};${l.number};${l.full ? 'TOTAL' : 'PARTIEL'};${l.amountCents};${l.date}`);
    } else out.push(`${l.type === 'rejection' ? 'REJET' : 'SIGNALEMENT'};${l.sender};${l.kind};${l.number};${l.code};${l.label}`);
  }
  if (total !== rsp.transfer.totalCents) throw new ReturnFormatError('count_mismatch', undefined, 'le virement ne fait pas la somme des paiements.');
  out.push(`VIREMENT;${rsp.transfer.date};${rsp.transfer.totalCents}`, `FIN;${rsp.lines.length}`);
  const bytes = new TextEncoder().encode(out.join('\n') + '\n');
  if (bytes.length > RSP_MAX_BYTES) throw new ReturnFormatError('too_large', undefined, 'retour trop long.');
  return bytes;
}

/** Reads an RSP file (already decrypted and decompressed). */
export function parseRsp(bytes: Uint8Array): Rsp {
  if (bytes.length > RSP_MAX_BYTES) throw new ReturnFormatError('too_large', undefined, `retour de plus de ${RSP_MAX_BYTES} octets.`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new ReturnFormatError('not_utf8', undefined, 'retour illisible (UTF-8 attendu).');
  }
  const lines = text.split('\n');
  if (lines.pop() !== '') throw new ReturnFormatError('missing_end', lines.length + 1, 'fichier tronqué (fin de ligne manquante).');
  const at = (i: number): string => (lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!);
  if (lines.length === 0 || at(0) !== `${RSP_FORMAT};${RSP_VERSION}`) throw new ReturnFormatError('bad_header', 1, `en-tête « ${RSP_FORMAT};${RSP_VERSION} » attendu.`);
  const org = (lines.length > 1 ? at(1) : '').split(';');
  if (org.length !== 2 || org[0] !== 'ORGANISME' || !ORGANISM.test(org[1]!)) throw new ReturnFormatError('bad_line', 2, 'ligne ORGANISME attendue.');

  const out: RspLine[] = [];
  const seen = new Set<string>();
  let total = 0;
  let i = 2;
  for (; i < lines.length; i++) {
    const f = at(i).split(';');
    if (f[0] === 'VIREMENT') break;
    const n = i + 1;
    let l: RspLine;
    const base = { sender: f[1]!, kind: f[2] as 'FSE' | 'DRE', number: f[3]! };
    if (f[0] === 'PAIEMENT' && f.length === 7 && (f[4] === 'TOTAL' || f[4] === 'PARTIEL')) {
      if (!AMOUNT.test(f[5]!)) throw new ReturnFormatError('bad_field', n, 'montant payé invalide.');
      l = { type: 'payment', ...base, full: f[4] === 'TOTAL', amountCents: Number(f[5]), date: f[6]! };
    } else if ((f[0] === 'REJET' || f[0] === 'SIGNALEMENT') && f.length === 6) {
      l = { type: f[0] === 'REJET' ? 'rejection' : 'notice', ...base, code: f[4]!, label: f[5]! };
    } else throw new ReturnFormatError('bad_line', n, 'ligne PAIEMENT, REJET, SIGNALEMENT ou VIREMENT attendue.');
    checkLine(l, n);
    if (seen.has(key(l))) throw new ReturnFormatError('duplicate_lot', n, `facture ${l.number} présente deux fois.`);
    if (out.length === RSP_MAX_LINES) throw new ReturnFormatError('too_many_lots', n, `${RSP_MAX_LINES} lignes au plus.`);
    seen.add(key(l));
    if (l.type === 'payment') total += l.amountCents;
    out.push(Object.freeze(l));
  }
  if (out.length === 0) throw new ReturnFormatError('no_lot', i + 1, 'aucune facture.');
  if (i >= lines.length) throw new ReturnFormatError('missing_end', i + 1, 'ligne VIREMENT manquante (fichier tronqué ?).');
  const v = at(i).split(';');
  if (v.length !== 3 || !realDate(v[1]!) || !AMOUNT.test(v[2]!)) throw new ReturnFormatError('bad_line', i + 1, 'ligne VIREMENT mal formée.');
  if (Number(v[2]) !== total) throw new ReturnFormatError('count_mismatch', i + 1, `le virement annonce ${v[2]} centimes, les paiements en font ${total}.`);
  i++;
  const end = i < lines.length ? at(i).split(';') : [];
  if (end.length !== 2 || end[0] !== 'FIN' || !/^\d{1,4}$/.test(end[1]!)) throw new ReturnFormatError('missing_end', i + 1, 'ligne FIN manquante ou mal formée.');
  if (Number(end[1]) !== out.length) throw new ReturnFormatError('count_mismatch', i + 1, `FIN annonce ${end[1]} lignes, le fichier en porte ${out.length}.`);
  if (i !== lines.length - 1) throw new ReturnFormatError('trailing_data', i + 2, 'données après la ligne FIN.');
  return Object.freeze({ organism: org[1]!, transfer: Object.freeze({ date: v[1]!, totalCents: Number(v[2]) }), lines: Object.freeze(out) });
}
