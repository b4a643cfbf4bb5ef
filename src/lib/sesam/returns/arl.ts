/**
 * The acknowledgement of a file's lots in our own format `teletrans-arl-1` (docs/returns/arl.md;
 * not the NOEMIE norm): written by the simulated insurer front end, read by the workstation,
 * and matched to the lots it sent. Pure and isomorphic; every departure from the format is a
 * `ReturnFormatError`, never a guess.
 */
import type { LotRecord } from '../../billing/lifecycle.js';
import { ReturnFormatError } from './errors.js';

export const ARL_FORMAT = 'TELETRANS-ARL';
export const ARL_VERSION = '1';
export const ARL_MAX_BYTES = 8 * 1024;
export const ARL_MAX_LOTS = 20;

export type ArlLot =
  | { readonly sender: string; readonly kind: 'FSE' | 'DRE'; readonly number: string; readonly documents: number; readonly accepted: true }
  | { readonly sender: string; readonly kind: 'FSE' | 'DRE'; readonly number: string; readonly documents: number; readonly accepted: false; readonly reasonCode: string; readonly reason: string };

export interface Arl {
  readonly fileName: string;
  readonly compostage: string;
  readonly lots: readonly ArlLot[];
}

const FILE_NAME = /^[A-Za-z0-9._-]{1,32}$/;
const COMPOSTAGE = /^\d{19}$/;
const SENDER = /^(\d{2}|2A|2B)\d{7}$/;
const LOT_NUMBER = /^\d{6}$/;
const COUNT = /^[1-9]\d?$/;
const REASON_CODE = /^[A-Z0-9]{1,8}$/;
// No separator, no control character (C0, DEL, C1), no line break of any kind.
const REASON = /^[^;\p{Cc}\u2028\u2029]{1,200}$/u;

const key = (l: { sender: string; kind: string; number: string }): string => `${l.sender}:${l.kind}:${l.number}`;

function checkLot(l: ArlLot, line: number | undefined): void {
  const bad = (what: string): never => {
    throw new ReturnFormatError('bad_field', line, `lot : ${what} invalide.`);
  };
  if (!SENDER.test(l.sender)) bad('numéro de facturation');
  if (l.kind !== 'FSE' && l.kind !== 'DRE') bad('nature (FSE ou DRE)');
  if (!LOT_NUMBER.test(l.number)) bad('numéro de lot (6 chiffres)');
  if (!Number.isInteger(l.documents) || l.documents < 1 || l.documents > 50) bad('nombre de factures (1 à 50)');
  if (!l.accepted) {
    if (!REASON_CODE.test(l.reasonCode)) bad('code du motif de rejet');
    if (!REASON.test(l.reason) || l.reason.trim() !== l.reason) bad('motif de rejet');
  }
}

/** The file's bytes (UTF-8). Refuses what it could not read back. */
export function buildArl(arl: Arl): Uint8Array {
  if (!FILE_NAME.test(arl.fileName)) throw new ReturnFormatError('bad_field', undefined, 'nom de fichier invalide.');
  if (!COMPOSTAGE.test(arl.compostage)) throw new ReturnFormatError('bad_field', undefined, 'compostage invalide (19 chiffres).');
  if (arl.lots.length === 0) throw new ReturnFormatError('no_lot', undefined, 'un accusé de réception porte au moins un lot.');
  if (arl.lots.length > ARL_MAX_LOTS) throw new ReturnFormatError('too_many_lots', undefined, `${ARL_MAX_LOTS} lots au plus par fichier.`);
  const seen = new Set<string>();
  const lines = [`${ARL_FORMAT};${ARL_VERSION}`, `FICHIER;${arl.fileName};${arl.compostage}`];
  for (const l of arl.lots) {
    checkLot(l, undefined);
    if (seen.has(key(l))) throw new ReturnFormatError('duplicate_lot', undefined, `lot ${l.number} présent deux fois.`);
    seen.add(key(l));
    lines.push(`LOT;${l.sender};${l.kind};${l.number};${l.documents};${l.accepted ? 'ACCEPTE' : `REJETE;${l.reasonCode};${l.reason}`}`);
  }
  lines.push(`FIN;${arl.lots.length}`);
  const bytes = new TextEncoder().encode(lines.join('\n') + '\n');
  if (bytes.length > ARL_MAX_BYTES) throw new ReturnFormatError('too_large', undefined, 'accusé de réception trop long.');
  return bytes;
}

/** Reads an ARL file (already decrypted and decompressed). */
export function parseArl(bytes: Uint8Array): Arl {
  if (bytes.length > ARL_MAX_BYTES) throw new ReturnFormatError('too_large', undefined, `accusé de réception de plus de ${ARL_MAX_BYTES} octets.`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new ReturnFormatError('not_utf8', undefined, 'accusé de réception illisible (UTF-8 attendu).');
  }
  const lines = text.split('\n');
  // The file ends with a line break: the last piece is empty; anything else was cut or added.
  const last = lines.pop();
  if (last !== '') throw new ReturnFormatError('missing_end', lines.length + 1, 'fichier tronqué (fin de ligne manquante).');
  const at = (i: number): string => {
    const l = lines[i]!;
    return l.endsWith('\r') ? l.slice(0, -1) : l;
  };
  if (lines.length === 0 || at(0) !== `${ARL_FORMAT};${ARL_VERSION}`) throw new ReturnFormatError('bad_header', 1, `en-tête « ${ARL_FORMAT};${ARL_VERSION} » attendu.`);
  const file = (lines.length > 1 ? at(1) : '').split(';');
  if (file.length !== 3 || file[0] !== 'FICHIER') throw new ReturnFormatError('bad_line', 2, 'ligne FICHIER attendue.');
  if (!FILE_NAME.test(file[1]!)) throw new ReturnFormatError('bad_field', 2, 'nom de fichier invalide.');
  if (!COMPOSTAGE.test(file[2]!)) throw new ReturnFormatError('bad_field', 2, 'compostage invalide (19 chiffres).');

  const lots: ArlLot[] = [];
  const seen = new Set<string>();
  let i = 2;
  for (; i < lines.length; i++) {
    const f = at(i).split(';');
    if (f[0] === 'FIN') break;
    const n = i + 1;
    if (f[0] !== 'LOT') throw new ReturnFormatError('bad_line', n, 'ligne LOT ou FIN attendue.');
    const accepted = f[5] === 'ACCEPTE';
    if (!(accepted ? f.length === 6 : f[5] === 'REJETE' && f.length === 8)) throw new ReturnFormatError('bad_line', n, 'ligne LOT mal formée (ACCEPTE, ou REJETE avec son code et son motif).');
    if (!COUNT.test(f[4]!)) throw new ReturnFormatError('bad_field', n, 'lot : nombre de factures (1 à 50) invalide.');
    const base = { sender: f[1]!, kind: f[2] as 'FSE' | 'DRE', number: f[3]!, documents: Number(f[4]) };
    const lot: ArlLot = accepted ? { ...base, accepted: true } : { ...base, accepted: false, reasonCode: f[6]!, reason: f[7]! };
    checkLot(lot, n);
    if (seen.has(key(lot))) throw new ReturnFormatError('duplicate_lot', n, `lot ${lot.number} présent deux fois.`);
    if (lots.length === ARL_MAX_LOTS) throw new ReturnFormatError('too_many_lots', n, `${ARL_MAX_LOTS} lots au plus par fichier.`);
    seen.add(key(lot));
    lots.push(Object.freeze(lot));
  }
  if (i >= lines.length) throw new ReturnFormatError('missing_end', i + 1, 'ligne FIN manquante (fichier tronqué ?).');
  const end = at(i).split(';');
  if (end.length !== 2 || !/^\d{1,2}$/.test(end[1]!)) throw new ReturnFormatError('bad_line', i + 1, 'ligne FIN mal formée.');
  if (lots.length === 0) throw new ReturnFormatError('no_lot', i + 1, 'aucun lot acquitté.');
  if (Number(end[1]) !== lots.length) throw new ReturnFormatError('count_mismatch', i + 1, `FIN annonce ${end[1]} lots, le fichier en porte ${lots.length}.`);
  if (i !== lines.length - 1) throw new ReturnFormatError('trailing_data', i + 2, 'données après la ligne FIN.');
  return Object.freeze({ fileName: file[1]!, compostage: file[2]!, lots: Object.freeze(lots) });
}

export interface ArlMatch {
  /** Each acknowledged lot with the workstation's record of it. */
  readonly matched: readonly { readonly lot: LotRecord; readonly ack: ArlLot }[];
  /** Lines naming no lot sent in that file (another workstation's, or an error at the insurer's). */
  readonly unknown: readonly ArlLot[];
  /** Lots of that file the ARL does not mention: still waiting for their acknowledgement. */
  readonly missing: readonly LotRecord[];
}

/** The lots an ARL speaks of: sent in its file (same name) by a transmission with its compostage. */
export function lotsOfArl(arl: Pick<Arl, 'fileName' | 'compostage'>, lots: readonly LotRecord[]): LotRecord[] {
  return lots.filter((l) => l.fileName === arl.fileName && l.transmissions.some((t) => t.compostage === arl.compostage));
}

/**
 * Matches an ARL to the lots sent in its file: same file name, a transmission with the same
 * compostage, same sender, kind and number, and the same count of documents (a lot the insurer
 * read differently is not acknowledged by this line).
 */
export function matchArl(arl: Arl, lots: readonly LotRecord[]): ArlMatch {
  const inFile = lotsOfArl(arl, lots);
  const byKey = new Map(inFile.map((l) => [key(l), l]));
  const matched: { lot: LotRecord; ack: ArlLot }[] = [];
  const unknown: ArlLot[] = [];
  for (const ack of arl.lots) {
    const lot = byKey.get(key(ack));
    if (lot && lot.documents.length === ack.documents) {
      matched.push({ lot, ack });
      byKey.delete(key(ack));
    } else unknown.push(ack);
  }
  return { matched, unknown, missing: [...byKey.values()] };
}
