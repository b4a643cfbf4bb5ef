/**
 * The practitioner's alerts, derived from the views, and the memory of which were shown
 * (the "once a day" repetition of expired data-certificate warnings).
 */
import type { MetaRecord } from '../model.js';
import { type Alert, HOUR_MS, expiredWarningDue } from '../schedule.js';
import type { TrustContext, TrustState } from './context.js';
import { fmtDate } from './plan.js';
import { crlAlertFor, recipients } from './views.js';

function shownAlerts(s: TrustState): Record<string, number> {
  return (s.snap.meta.find((m) => m.key === 'alerts-shown')?.value as Record<string, number> | undefined) ?? {};
}

/**
 * Alerts for the practitioner now: CRLs missing, expiring without renewal, or expired;
 * recipient certificates revoked, expired or orphaned; expired data-encryption
 * certificates (at most once per `expiredWarningHours`, see markAlertShown).
 */
export function alerts(s: TrustState, now: number): Alert[] {
  const out: Alert[] = [];
  const tz = s.conf.timeZone;
  const shown = shownAlerts(s);
  // CAs that issue end-entity certificates in use need a CRL.
  const issuers = new Map<string, string>();
  for (const r of s.snap.recipients) issuers.set(r.issuerKey, r.issuer);
  for (const [key, dn] of issuers) {
    if (!s.byIssuer.has(key)) out.push({ id: `crl_missing:${dn}`, level: 'error', code: 'crl_missing', message: `Aucune liste de révocation de « ${dn} » n’est installée : les certificats de cette autorité sont refusés.` });
  }
  for (const c of s.snap.crls) {
    const last = s.snap.sources.filter((x) => x.kind === 'crl' && x.issuerKey === c.issuerKey && x.lastAttemptAt !== undefined).sort((a, b) => b.lastAttemptAt! - a.lastAttemptAt!)[0];
    const a = crlAlertFor(s.conf, c, last, now);
    if (a) out.push(a);
  }
  for (const v of recipients(s, now)) {
    if (v.usage === 'data') {
      if (v.state === 'expired' && expiredWarningDue(v.notAfter, shown[`data_cert_expired:${v.fingerprint}`], now, s.conf.expiredWarningHours * HOUR_MS)) {
        out.push({ id: `data_cert_expired:${v.fingerprint}`, level: 'warning', code: 'data_cert_expired', message: `Le certificat de chiffrement des données « ${v.recipient} » a expiré le ${fmtDate(v.notAfter, tz)}. La facturation continue ; faites-le renouveler.` });
      }
      if (v.state === 'revoked') out.push({ id: `recipient_revoked:${v.fingerprint}`, level: 'error', code: 'recipient_revoked', message: `Le certificat de chiffrement des données « ${v.recipient} » est révoqué : les factures ne peuvent plus être construites.` });
      continue;
    }
    if (v.state === 'revoked') out.push({ id: `recipient_revoked:${v.fingerprint}`, level: 'error', code: 'recipient_revoked', message: `Le certificat de ${v.recipient} est révoqué : les envois vers cette adresse sont suspendus jusqu’à sa mise à jour.` });
    if (v.state === 'expired') out.push({ id: `recipient_expired:${v.fingerprint}`, level: 'error', code: 'recipient_expired', message: `Le certificat de ${v.recipient} a expiré : les envois vers cette adresse sont suspendus jusqu’à sa mise à jour.` });
    if (v.state === 'obsolete') out.push({ id: `recipient_obsolete:${v.fingerprint}`, level: 'warning', code: 'recipient_obsolete', message: `Le certificat de ${v.recipient} n’est plus rattaché à une autorité du magasin.` });
  }
  for (const src of s.snap.sources) {
    if (src.kind === 'certificate' && src.recipient && !s.snap.recipients.some((r) => r.recipient === src.recipient && r.usage === (src.usage ?? 'attachment'))) {
      out.push({ id: `recipient_missing:${src.recipient}`, level: 'error', code: 'recipient_missing', message: `Aucun certificat n’est enregistré pour ${src.recipient}.` });
    }
  }
  return out;
}

/** Remembers that an alert was shown (display state, not trust state: no audit record). */
export async function markAlertShown(ctx: TrustContext, id: string, now: number): Promise<void> {
  const shown = { ...shownAlerts(ctx), [id]: now };
  await ctx.store.commit([{ store: 'meta', put: { key: 'alerts-shown', value: shown } satisfies MetaRecord }]);
  await ctx.reload();
}
