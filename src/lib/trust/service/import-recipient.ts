/**
 * Planning the import of one recipient's certificates: each is verified (pki Verifier, profile
 * sesam-vitale-attachment for attachment certificates, with the stored CAs; revocation from
 * the stored CRL indexes: no CRL → refused); the most recent valid one among these and the
 * stored ones is kept, older ones of the same recipient are removed (§5).
 */
import { type Cert, parseCertificate } from '../../pki/cert.js';
import { nameToString } from '../../pki/name.js';
import type { PathEntry } from '../../pki/types.js';
import { sha256Hex } from '../../pki/signature.js';
import type { AuditInput } from '../audit.js';
import { type CaRecord, type Change, type RecipientRecord, type Usage, hierarchyLabel } from '../model.js';
import type { TrustContext } from './context.js';
import { type ImportOptions, type Plan, exact, expectedHierarchy, fmtDate, issueText, refused, uris } from './plan.js';
import { removalEvent } from './removal.js';
import { crlSourceChanges } from './sources.js';
import { isRevoked, recipientUsable } from './views.js';

/** Path verification of a leaf against the store; revocation from the indexes. */
export async function verifyLeaf(ctx: TrustContext, cert: Cert, recipient: string, usage: Usage, now: number): Promise<{ ok: true; root: CaRecord; issuer: CaRecord; warnings: string[]; path: PathEntry[] } | { ok: false; code: string; message: string }> {
  const roots = ctx.snap.cas.filter((c) => c.role === 'root');
  const inters = ctx.snap.cas.filter((c) => c.role === 'intermediate');
  const r = await ctx.verifier.verify({
    leaf: exact(cert.der),
    anchors: roots.map((c) => c.der),
    intermediates: inters.map((c) => c.der),
    revocation: 'off',
    at: new Date(now),
    ...(usage === 'attachment' ? { profile: 'sesam-vitale-attachment' as const, email: recipient } : { profile: 'rfc5280' as const }),
  });
  if (!r.valid) return { ok: false, code: r.errors[0]?.code ?? 'invalid', message: issueText(r.errors) };
  const root = roots.find((c) => c.fingerprint === r.path[r.path.length - 1]!.sha256)!;
  const issuer = ctx.snap.cas.find((c) => c.fingerprint === r.path[1]!.sha256)!;
  const expected = usage === 'attachment' ? expectedHierarchy(recipient) : undefined;
  if (expected && root.hierarchy !== expected) {
    return { ok: false, code: 'hierarchy_mismatch', message: `L’adresse ${recipient} relève de la hiérarchie ${hierarchyLabel(expected)}, mais ce certificat a été émis sous ${hierarchyLabel(root.hierarchy)}.` };
  }
  const warnings: string[] = [];
  // The leaf: its CA's CRL is mandatory (§3 "no CRL → invalid").
  const rev = isRevoked(ctx, cert.issuer.key, cert.serial, { ca: false });
  if (rev.status === 'no-crl') return { ok: false, code: 'crl_missing', message: `Aucune LCR de « ${issuer.subject} » n’est installée : le certificat ne peut pas être accepté.` };
  if (rev.revoked) return { ok: false, code: 'cert_revoked', message: `Ce certificat est révoqué (${rev.reasonLabel ?? 'motif non précisé'}).` };
  if (rev.stale) warnings.push(`La LCR de « ${issuer.subject} » est périmée : elle a tout de même été consultée.`);
  // The CAs of the path: checked against their issuer's CRL when one is stored.
  for (const p of r.path.slice(1, -1)) {
    const ca = ctx.snap.cas.find((c) => c.fingerprint === p.sha256);
    if (!ca) continue;
    const caRev = isRevoked(ctx, ca.issuerKey, ca.serial, { ca: true });
    if (caRev.revoked) return { ok: false, code: 'ca_revoked', message: `L’autorité « ${ca.subject} » est révoquée.` };
  }
  return { ok: true, root, issuer, warnings, path: r.path };
}

export async function prepareRecipient(ctx: TrustContext, input: Array<Cert | Uint8Array>, opts: ImportOptions & { recipient: string }): Promise<Plan> {
  const now = ctx.clock();
  const actor = opts.actor ?? ctx.defaultActor;
  const source = opts.source ?? 'file';
  const usage = opts.usage ?? 'attachment';
  const recipient = usage === 'attachment' ? opts.recipient.trim().toLowerCase() : opts.recipient.trim();
  const events: AuditInput[] = [];
  const candidates: Array<{ cert: Cert; fingerprint: string; root: CaRecord; issuer: CaRecord; warnings: string[] }> = [];
  const failures: Array<{ code: string; message: string; label: string }> = [];
  for (const item of input) {
    let cert: Cert;
    try {
      cert = item instanceof Uint8Array ? parseCertificate(item.slice()) : item;
    } catch (e) {
      failures.push({ code: 'cert_malformed', message: e instanceof Error ? e.message : String(e), label: '' });
      events.push({ event: 'certificate.load', outcome: 'refused', actor, details: { code: 'cert_malformed', source } });
      continue;
    }
    const fingerprint = await sha256Hex(exact(cert.der));
    const v = await verifyLeaf(ctx, cert, recipient, usage, now);
    if (!v.ok) {
      failures.push({ code: v.code, message: v.message, label: nameToString(cert.subject) });
      events.push({
        event: 'certificate.load',
        outcome: 'refused',
        actor,
        object: { kind: 'certificate', fingerprint, serial: cert.serial, issuer: nameToString(cert.issuer) },
        details: { code: v.code, role: usage === 'data' ? 'data' : 'recipient', source },
      });
      continue;
    }
    candidates.push({ cert, fingerprint, root: v.root, issuer: v.issuer, warnings: v.warnings });
  }
  const firstLabel = candidates[0] ? nameToString(candidates[0].cert.subject) : (failures[0]?.label ?? recipient);
  if (candidates.length === 0) {
    const f = failures[0] ?? { code: 'no_certificate', message: 'Aucun certificat fourni.', label: recipient };
    return { report: refused('certificate', firstLabel, f.code, `Certificat de ${recipient} refusé : ${failures.map((x) => x.message).join(' ')}`.trim()), changes: [], events };
  }
  // The most recent: latest notBefore, then latest notAfter.
  candidates.sort((a, b) => b.cert.notBefore - a.cert.notBefore || b.cert.notAfter - a.cert.notAfter);
  const best = candidates[0]!;
  const stored = ctx.snap.recipients.filter((r) => r.recipient === recipient && r.usage === usage);
  const storedBest = stored
    .filter((r) => recipientUsable(ctx, r, now))
    .sort((a, b) => b.notBefore - a.notBefore || b.notAfter - a.notAfter)[0];
  const label = nameToString(best.cert.subject);
  if (storedBest && (storedBest.fingerprint === best.fingerprint || storedBest.notBefore > best.cert.notBefore || (storedBest.notBefore === best.cert.notBefore && storedBest.notAfter >= best.cert.notAfter))) {
    // Nothing newer: the stored one stays. Older stored ones are still cleaned up.
    const older = stored.filter((r) => r.fingerprint !== storedBest.fingerprint);
    return {
      report: { kind: 'certificate', outcome: 'unchanged', label, fingerprint: storedBest.fingerprint, code: 'not_newer', message: `Le certificat enregistré pour ${recipient} est déjà le plus récent.`, warnings: best.warnings },
      changes: older.map((r) => ({ store: 'recipients', delete: r.fingerprint }) satisfies Change),
      events: [...events, ...older.map((r) => removalEvent(r, actor, 'superseded'))],
    };
  }
  const rec: RecipientRecord = {
    fingerprint: best.fingerprint,
    recipient,
    usage,
    der: exact(best.cert.der),
    subject: label,
    serial: best.cert.serial,
    issuer: nameToString(best.cert.issuer),
    issuerKey: best.cert.issuer.key,
    issuerFingerprint: best.issuer.fingerprint,
    rootFingerprint: best.root.fingerprint,
    hierarchy: best.root.hierarchy,
    notBefore: best.cert.notBefore,
    notAfter: best.cert.notAfter,
    crlUrls: uris(best.cert),
    addedAt: now,
    source,
  };
  const removed = stored.filter((r) => r.fingerprint !== rec.fingerprint);
  return {
    report: { kind: 'certificate', outcome: 'stored', label, fingerprint: rec.fingerprint, message: `Certificat de ${recipient} enregistré (valable jusqu’au ${fmtDate(rec.notAfter, ctx.conf.timeZone)}).`, warnings: best.warnings },
    changes: [
      { store: 'recipients', put: rec },
      ...removed.map((r) => ({ store: 'recipients', delete: r.fingerprint }) satisfies Change),
      ...crlSourceChanges(ctx.snap, rec.crlUrls, rec.issuerKey),
    ],
    events: [
      ...events,
      {
        event: 'certificate.load',
        outcome: 'success',
        actor,
        object: { kind: 'certificate', fingerprint: rec.fingerprint, serial: rec.serial, issuer: rec.issuer },
        details: { role: usage === 'data' ? 'data' : 'recipient', hierarchy: rec.hierarchy, notAfter: rec.notAfter, source, ...(removed[0] ? { previous: removed[0].fingerprint } : {}) },
      },
      ...removed.map((r) => removalEvent(r, actor, 'superseded')),
    ],
  };
}
