/** French wording and tones shared by the « Certificats » pages. */
import type { AuditActor, AuditObject, SettingKey } from '$lib/trust/audit';
import type { ImportReport } from '$lib/trust/service';
import type { CrlFreshness, FetchOutcome, RecipientState } from '$lib/trust/schedule';

export type Tone = 'ok' | 'warning' | 'error' | 'neutral';

export function formatDateTime(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('fr-FR', { timeZone, dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}

export function formatDate(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('fr-FR', { timeZone, dateStyle: 'medium' }).format(new Date(ms));
}

export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

export const STATE_TONES: Record<RecipientState, Tone> = {
  valid: 'ok',
  expiring: 'warning',
  expired: 'error',
  revoked: 'error',
  obsolete: 'neutral'
};

export const FRESHNESS_TONES: Record<CrlFreshness, Tone> = {
  fresh: 'ok',
  stale: 'warning',
  'not-yet-valid': 'warning',
  missing: 'error'
};

export const FETCH_OUTCOME_LABELS: Record<FetchOutcome, string> = {
  success: 'nouvelle version chargée',
  unchanged: 'pas de nouvelle version',
  failed: 'échec'
};

export const FETCH_OUTCOME_TONES: Record<FetchOutcome, Tone> = {
  success: 'ok',
  unchanged: 'neutral',
  failed: 'error'
};

export const IMPORT_OUTCOME_LABELS: Record<ImportReport['outcome'], string> = {
  stored: 'Enregistré',
  unchanged: 'Inchangé',
  refused: 'Refusé'
};

export const IMPORT_OUTCOME_TONES: Record<ImportReport['outcome'], Tone> = {
  stored: 'ok',
  unchanged: 'neutral',
  refused: 'error'
};

export const IMPORT_KIND_LABELS: Record<ImportReport['kind'], string> = {
  ca: 'Autorité de certification',
  certificate: 'Certificat de destinataire',
  crl: 'Liste de révocation',
  input: 'Fichier'
};

export const USAGE_LABELS = {
  attachment: 'Chiffrement des pièces jointes',
  data: 'Chiffrement des données'
} as const;

export function actorLabel(actor: AuditActor): string {
  if (actor === 'system') return 'Système (automatique)';
  if (actor.startsWith('user:')) return `Utilisateur ${actor.slice(5, 13)}`;
  if (actor.startsWith('device:')) return `Appareil ${actor.slice(7, 15)}`;
  if (actor.startsWith('holder:')) return `Carte ${actor.slice(7)}`;
  return actor;
}

const OBJECT_KIND_LABELS: Record<AuditObject['kind'], string> = {
  ca: 'Autorité',
  certificate: 'Certificat',
  crl: 'LCR',
  settings: 'Paramètre',
  session: 'Session',
  source: 'Source d’annuaire',
  audit: 'Journal'
};

/** The settings as the practitioner reads them in the journal (the keys are the code's). */
export const SETTING_LABELS: Record<SettingKey, string> = {
  timeZone: 'Fuseau horaire',
  crlWindowStart: 'Début de la plage de mise à jour des LCR',
  crlWindowEnd: 'Fin de la plage de mise à jour des LCR',
  crlSlot: 'Heure de mise à jour des LCR',
  crlPeriodDays: 'Fréquence de mise à jour des LCR',
  crlRetryDays: 'Délai avant nouvelle tentative',
  crlAlertLeadHours: 'Préavis d’alerte avant expiration d’une LCR',
  renewalLeadDays: 'Renouvellement anticipé des certificats',
  expiredWarningHours: 'Répétition des alertes',
  auditRetentionDays: 'Durée de conservation du journal',
  auditPurgeIntervalDays: 'Fréquence de purge du journal',
  kiosk: 'Mode kiosque',
  administrators: 'Administrateurs du poste'
};

/** A short description of an audit record's object (no personal data is ever recorded). */
export function objectLabel(o: AuditObject | undefined): { kind: string; text: string; fingerprint?: string } {
  if (!o) return { kind: '—', text: '' };
  const text = o.subject ?? (o.issuer ? `émis par ${o.issuer}` : (o.url ?? (o.setting ? (SETTING_LABELS[o.setting] ?? o.setting) : '')));
  const serial = o.serial && o.kind !== 'ca' ? ` (n° ${o.serial})` : '';
  const out: { kind: string; text: string; fingerprint?: string } = { kind: OBJECT_KIND_LABELS[o.kind] ?? o.kind, text: text + serial };
  if (o.fingerprint) out.fingerprint = o.fingerprint;
  return out;
}

/** The first hex digits of a fingerprint, grouped for reading. */
export function shortFingerprint(fp: string): string {
  return (fp.slice(0, 16).match(/.{1,4}/g) ?? []).join(' ');
}
