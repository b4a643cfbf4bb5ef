/**
 * The SMTP subject (docs/domain/transmission.md §7 and §8):
 *   invoices:  `SVvvvvvv/exercice/compostage/nnnnn` (FSE files) or `DRvvvvvv/...` (DRE files)
 *   OCT text:  `ART/<PS number, right-aligned, zero-padded>/<aaaammjjhhmm>`
 *
 * FACTURE (the OCT single file) carries FSE lots and/or DRE lots. It takes `SV` (the file is
 * an FSE-family file framed for the OCT, and `FACTURE/SV` names that norm) unless it holds only
 * DRE lots, in which case it is in substance a DRE file and takes `DR`: see `subjectPrefix`.
 *
 * The subject is the trace used to find lost messages: callers keep it and show it.
 */
import { parseCompostage, type ParsedCompostage } from './compostage.js';
import type { FlowKind } from './description.js';
import { SesamFieldError } from './errors.js';
import { isValidTimestamp } from './time.js';

export type SubjectPrefix = 'SV' | 'DR';

export interface InvoiceSubjectFields {
  prefix: SubjectPrefix;
  /** Specification version, 6 digits (group 13 field 7, or 93 field 7 for DRE), e.g. `140700`. */
  version: string;
  /** The sender number ("numéro émetteur") of the file. */
  exercice: string;
  /** `AAAAMMJJHHMMSSxxxxx`. */
  compostage: string;
  /** Total number of invoices in the file, 1 to 99 999. */
  invoices: number;
}

/** SV for FSE files, DR for DRE files; FACTURE is SV unless it carries only DRE lots. */
export function subjectPrefix(kind: FlowKind, lotKinds?: readonly ('FSE' | 'DRE')[]): SubjectPrefix {
  if (kind === 'FSE') return 'SV';
  if (kind === 'DRE') return 'DR';
  return lotKinds && lotKinds.length > 0 && lotKinds.every((k) => k === 'DRE') ? 'DR' : 'SV';
}

export function checkVersion(version: string): string {
  if (!/^\d{6}$/.test(version)) {
    throw new SesamFieldError('invalid_version', 'version', `version de spécification invalide « ${version} » (attendu : 6 chiffres, ex. 140700)`);
  }
  return version;
}

/**
 * The sender number: letters and digits only (ADELI, RPPS, SIRET-based numbers; Corsican
 * ADELI numbers contain 2A/2B), up to 20 characters. No `/`, which would split the subject.
 */
export function checkExercice(exercice: string): string {
  if (!/^[0-9A-Za-z]{1,20}$/.test(exercice)) {
    throw new SesamFieldError('invalid_exercice', 'exercice', `numéro émetteur (exercice) invalide « ${exercice} » (attendu : 1 à 20 lettres ou chiffres)`);
  }
  return exercice;
}

export function checkInvoiceCount(invoices: number): number {
  if (!Number.isSafeInteger(invoices) || invoices < 1 || invoices > 99_999) {
    throw new SesamFieldError('invalid_invoice_count', 'invoices', `nombre de factures invalide : ${invoices} (attendu : 1 à 99999)`);
  }
  return invoices;
}

/** Builds the subject after checking every field. Throws SesamFieldError. */
export function formatSubject(f: InvoiceSubjectFields): string {
  if (f.prefix !== 'SV' && f.prefix !== 'DR') {
    throw new SesamFieldError('invalid_kind', 'prefix', `préfixe de sujet invalide « ${String(f.prefix)} » (attendu : SV ou DR)`);
  }
  checkVersion(f.version);
  checkExercice(f.exercice);
  parseCompostage(f.compostage);
  checkInvoiceCount(f.invoices);
  return `${f.prefix}${f.version}/${f.exercice}/${f.compostage}/${String(f.invoices).padStart(5, '0')}`;
}

export type ParsedSubject =
  | {
      type: 'invoice';
      raw: string;
      prefix: SubjectPrefix;
      version: string;
      exercice: string;
      compostage: string;
      compostageParts: ParsedCompostage;
      invoices: number;
    }
  | { type: 'art'; raw: string; psNumber: string; timestamp: string }
  | { type: 'other'; raw: string };

const INVOICE_SUBJECT = /^(SV|DR)(\d{6})\/([0-9A-Z]{1,20})\/(\d{19})\/(\d{5})$/i;
const ART_SUBJECT = /^ART\/(\d{1,20})\/(\d{12})$/i;

/**
 * Recognises invoice and ART subjects (case-insensitively); anything else, or a subject whose
 * date is not a real calendar time, is returned as `other` with its raw text, never refused:
 * a subject is a trace to show, not a gate.
 */
export function parseSubject(subject: string): ParsedSubject {
  const raw = subject.trim();
  const inv = INVOICE_SUBJECT.exec(raw);
  if (inv) {
    const [, prefix = '', version = '', exercice = '', compostage = '', count = ''] = inv;
    if (isValidTimestamp(compostage.slice(0, 14))) {
      return {
        type: 'invoice',
        raw,
        prefix: prefix.toUpperCase() as SubjectPrefix,
        version,
        exercice,
        compostage,
        compostageParts: parseCompostage(compostage),
        invoices: Number(count),
      };
    }
  }
  const art = ART_SUBJECT.exec(raw);
  if (art && isValidTimestamp(art[2] ?? '')) {
    return { type: 'art', raw, psNumber: art[1] ?? '', timestamp: art[2] ?? '' };
  }
  return { type: 'other', raw };
}
