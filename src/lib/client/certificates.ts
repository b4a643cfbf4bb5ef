/**
 * State helpers of the « Certificats » page: the list of loaded files and what the user said
 * about each certificate. Pure functions over plain data, so they are unit-tested in Node.
 */
import type { DecodedItem, Profile, VerifyInput } from '$lib/pki/types';

export type CertRole = 'anchor' | 'intermediate' | 'leaf';

export const ROLE_LABELS: Record<CertRole, string> = {
  anchor: 'Ancre de confiance',
  intermediate: 'Intermédiaire',
  leaf: 'Certificat à vérifier'
};

export const KIND_LABELS: Record<DecodedItem['kind'], string> = {
  certificate: 'Certificat',
  crl: 'LCR'
};

export const PROFILE_LABELS: Record<Profile, string> = {
  rfc5280: 'RFC 5280',
  'sesam-vitale-attachment': 'SESAM-Vitale — chiffrement de pièce jointe',
  'cps-authentication': 'CPS — certificat d’authentification',
  'serv-smime': 'Serveur S/MIME (SERV_S/MIME) — signataire de la liste blanche MSSanté'
};

interface RowBase {
  id: number;
  /** File name, or « Texte collé » for pasted PEM. */
  source: string;
}

export interface CertificateRow extends RowBase {
  kind: 'certificate';
  der: Uint8Array;
  label: string;
  role: CertRole;
}

export interface CrlRow extends RowBase {
  kind: 'crl';
  der: Uint8Array;
  label: string;
}

/** A file that could not be decoded; kept in the list so the user sees why. */
export interface ErrorRow extends RowBase {
  kind: 'error';
  code: string;
  message: string;
}

export type Row = CertificateRow | CrlRow | ErrorRow;

export interface VerifyOptions {
  profile: Profile;
  /** Expected mailbox, used by the SESAM-Vitale profile only. */
  email: string;
  /** Value of an `<input type="datetime-local">` (local time); empty means now. */
  at: string;
}

let lastId = 0;
function nextId(): number {
  lastId += 1;
  return lastId;
}

/**
 * Rows for the items decoded from one file. Certificates take the role the core suggests
 * (self-issued CA → anchor, CA → intermediate, other → leaf), except that a leaf is only
 * suggested while `existing` and this file have none: there is one certificate to verify.
 */
export function rowsFromDecoded(source: string, items: readonly DecodedItem[], existing: readonly Row[] = []): Row[] {
  let hasLeaf = existing.some((row) => row.kind === 'certificate' && row.role === 'leaf');
  return items.map((item): Row => {
    if (item.kind !== 'certificate') return { id: nextId(), source, kind: 'crl', der: item.der, label: item.label };
    let role: CertRole = item.suggestedRole ?? 'intermediate';
    if (role === 'leaf') {
      if (hasLeaf) role = 'intermediate';
      hasLeaf = true;
    }
    return { id: nextId(), source, kind: 'certificate', der: item.der, label: item.label, role };
  });
}

/** Row for a file that failed to decode. `error` is whatever decodeInput threw. */
export function errorRow(source: string, error: unknown): ErrorRow {
  const { code, message } = describeError(error);
  return { id: nextId(), source, kind: 'error', code, message };
}

/** Code and French message of a thrown value (PkiError carries both). */
export function describeError(error: unknown): { code: string; message: string } {
  if (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof error.code === 'string' &&
    'message' in error &&
    typeof error.message === 'string'
  ) {
    return { code: error.code, message: error.message };
  }
  return { code: 'unexpected_error', message: 'Erreur inattendue lors de la lecture du fichier.' };
}

/** Sets the role of one certificate; there is at most one leaf, so a previous leaf becomes an intermediate. */
export function setRole(rows: readonly Row[], id: number, role: CertRole): Row[] {
  return rows.map((row) => {
    if (row.kind !== 'certificate') return row;
    if (row.id === id) return { ...row, role };
    if (role === 'leaf' && row.role === 'leaf') return { ...row, role: 'intermediate' };
    return row;
  });
}

export function removeRow(rows: readonly Row[], id: number): Row[] {
  return rows.filter((row) => row.id !== id);
}

/** Why verification cannot start yet (French), or null when it can. */
export function missingInput(rows: readonly Row[]): string | null {
  const certificates = rows.filter((row): row is CertificateRow => row.kind === 'certificate');
  const hasLeaf = certificates.some((row) => row.role === 'leaf');
  const hasAnchor = certificates.some((row) => row.role === 'anchor');
  if (!hasLeaf && !hasAnchor) {
    return 'Indiquez le certificat à vérifier et au moins une ancre de confiance.';
  }
  if (!hasLeaf) return 'Indiquez le certificat à vérifier.';
  if (!hasAnchor) return 'Indiquez au moins une ancre de confiance.';
  return null;
}

/** Parses an `<input type="datetime-local">` value as local time; undefined when empty or invalid. */
export function parseLocalDateTime(value: string): Date | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value.trim());
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map((part) => Number(part ?? 0));
  const date = new Date(year!, month! - 1, day!, hour!, minute!, second!);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Builds the core's input from the rows and options; call only when missingInput() is null. */
export function buildVerifyInput(rows: readonly Row[], options: VerifyOptions): VerifyInput {
  const leaf = rows.find((row): row is CertificateRow => row.kind === 'certificate' && row.role === 'leaf');
  if (!leaf) throw new Error('buildVerifyInput: no leaf certificate');
  const certsWithRole = (role: CertRole) =>
    rows.filter((row): row is CertificateRow => row.kind === 'certificate' && row.role === role).map((row) => row.der);
  const input: VerifyInput = {
    leaf: leaf.der,
    anchors: certsWithRole('anchor'),
    intermediates: certsWithRole('intermediate'),
    crls: rows.filter((row): row is CrlRow => row.kind === 'crl').map((row) => row.der),
    profile: options.profile
  };
  const at = parseLocalDateTime(options.at);
  if (at) input.at = at;
  const email = options.email.trim();
  if (options.profile === 'sesam-vitale-attachment' && email) input.email = email;
  return input;
}

/** A string that changes whenever anything verification depends on changes. */
export function inputKey(rows: readonly Row[], options: VerifyOptions): string {
  const parts = rows.map((row) => (row.kind === 'certificate' ? `${row.id}:${row.role}` : `${row.id}`));
  return JSON.stringify([parts, options.profile, options.email.trim(), options.at]);
}

/** Formats a certificate date (ISO or RFC 5280 text) for French readers; raw text when unparseable. */
export function formatDate(value: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return `${date.toLocaleString('fr-FR', { timeZone: 'UTC', dateStyle: 'long', timeStyle: 'medium' })} UTC`;
}
