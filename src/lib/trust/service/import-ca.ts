/** Planning the import of one CA certificate: a root with its hierarchy, or an intermediate under a stored root. */
import { type Cert, KU, parseCertificate } from '../../pki/cert.js';
import { toHex } from '../../pki/der.js';
import { isPkiError } from '../../pki/errors.js';
import { nameToString } from '../../pki/name.js';
import { keyBits, sha256Hex, verifySignature, KEY_OID } from '../../pki/signature.js';
import { type CaRecord, HIERARCHY_PATTERN, hierarchyLabel } from '../model.js';
import type { TrustContext } from './context.js';
import { type ImportOptions, type Plan, exact, guessHierarchy, issueText, refusal, refused, uris } from './plan.js';
import { crlSourceChanges } from './sources.js';
import { isRevoked } from './views.js';

export async function prepareCa(ctx: TrustContext, certOrDer: Cert | Uint8Array, opts: ImportOptions): Promise<Plan> {
  const now = ctx.clock();
  const actor = opts.actor ?? ctx.defaultActor;
  const source = opts.source ?? 'file';
  let cert: Cert;
  try {
    cert = certOrDer instanceof Uint8Array ? parseCertificate(certOrDer.slice()) : certOrDer;
  } catch (e) {
    return refusal('ca', '', isPkiError(e) ? e.code : 'cert_malformed', e instanceof Error ? e.message : String(e), 'ca.load', actor, source);
  }
  const der = exact(cert.der);
  const fingerprint = await sha256Hex(der);
  const label = nameToString(cert.subject);
  const object = { kind: 'ca' as const, fingerprint, serial: cert.serial, subject: label, issuer: nameToString(cert.issuer) };
  const refuse = (code: string, message: string): Plan => ({
    report: refused('ca', label, code, message, fingerprint),
    changes: [],
    events: [{ event: 'ca.load', outcome: 'refused', actor, object, details: { code, source } }],
  });
  if (ctx.snap.cas.some((c) => c.fingerprint === fingerprint)) {
    return { report: { kind: 'ca', outcome: 'unchanged', label, fingerprint, code: 'already_stored', message: 'Cette autorité est déjà enregistrée.', warnings: [] }, changes: [], events: [] };
  }
  if (!cert.basicConstraints?.ca) return refuse('not_ca', `« ${label} » n’est pas un certificat d’autorité.`);
  if (cert.keyUsage !== undefined && !(cert.keyUsage & KU.keyCertSign)) return refuse('key_usage_no_cert_sign', `« ${label} » ne peut pas signer de certificats (keyUsage).`);
  if (now < cert.notBefore || now >= cert.notAfter) return refuse('cert_expired', `« ${label} » n’est pas en cours de validité.`);
  const pk = { spki: cert.spki, algorithm: cert.spkiAlgorithm, key: cert.publicKey };
  if ((cert.spkiAlgorithm.oid === KEY_OID.rsa || cert.spkiAlgorithm.oid === KEY_OID.rsaPss) && keyBits(pk) < 2048) {
    return refuse('weak_key', `La clé de « ${label} » fait moins de 2048 bits.`);
  }

  const base = {
    fingerprint,
    der,
    subject: label,
    subjectKey: cert.subject.key,
    issuer: nameToString(cert.issuer),
    issuerKey: cert.issuer.key,
    serial: cert.serial,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    crlUrls: uris(cert),
    addedAt: now,
    source,
    ...(cert.subjectKeyId ? { keyId: toHex(cert.subjectKeyId) } : {}),
  };

  let selfSigned = false;
  if (cert.selfIssued) {
    try {
      selfSigned = await verifySignature(cert.signatureAlgorithm, pk, cert.signature, cert.tbs);
    } catch {
      selfSigned = false;
    }
  }
  if (selfSigned) {
    const hierarchy = opts.hierarchy ?? guessHierarchy(label);
    if (!hierarchy || !HIERARCHY_PATTERN.test(hierarchy)) {
      return refuse('hierarchy_required', `Indiquez à quelle hiérarchie appartient l’autorité racine « ${label} » (production, test, OCT…).`);
    }
    const rec: CaRecord = { ...base, role: 'root', hierarchy, issuerFingerprint: fingerprint, rootFingerprint: fingerprint };
    return {
      report: { kind: 'ca', outcome: 'stored', label, fingerprint, message: `Autorité racine « ${label} » ajoutée (${hierarchyLabel(hierarchy)}).`, warnings: [] },
      changes: [{ store: 'cas', put: rec }],
      events: [
        { event: 'ca.load', outcome: 'success', actor, object, details: { role: 'root', hierarchy, notAfter: cert.notAfter, source } },
        { event: 'trust-chain.change', outcome: 'success', actor, object, details: { change: 'anchor-added', hierarchy } },
      ],
    };
  }

  // An intermediate: it must chain to a root of the store (a new CA is installed before
  // anything it issued is accepted, and itself only under a known root).
  const roots = ctx.snap.cas.filter((c) => c.role === 'root');
  const others = ctx.snap.cas.filter((c) => c.role === 'intermediate');
  const r = await ctx.verifier.verify({
    leaf: der,
    anchors: roots.map((c) => c.der),
    intermediates: others.map((c) => c.der),
    revocation: 'off',
    at: new Date(now),
  });
  if (!r.valid) {
    const code = r.errors[0]?.code ?? 'invalid';
    return refuse(code, `L’autorité « ${label} » n’a pas pu être validée : ${issueText(r.errors)}`);
  }
  const rootFp = r.path[r.path.length - 1]!.sha256;
  const issuerFp = r.path[1]!.sha256;
  const root = roots.find((c) => c.fingerprint === rootFp)!;
  if (opts.hierarchy && opts.hierarchy !== root.hierarchy) {
    return refuse('hierarchy_mismatch', `« ${label} » dépend de la hiérarchie ${hierarchyLabel(root.hierarchy)}, pas ${hierarchyLabel(opts.hierarchy)}.`);
  }
  const rev = isRevoked(ctx, cert.issuer.key, cert.serial, { ca: true });
  if (rev.revoked) return refuse('cert_revoked', `L’autorité « ${label} » est révoquée (${rev.reasonLabel ?? 'motif non précisé'}).`);
  const warnings: string[] = [];
  if (rev.stale) warnings.push(`La LCR de « ${base.issuer} » est périmée : elle a tout de même été consultée.`);
  const rec: CaRecord = { ...base, role: 'intermediate', hierarchy: root.hierarchy, issuerFingerprint: issuerFp, rootFingerprint: rootFp };
  return {
    report: { kind: 'ca', outcome: 'stored', label, fingerprint, message: `Autorité intermédiaire « ${label} » ajoutée (${hierarchyLabel(root.hierarchy)}).`, warnings },
    changes: [{ store: 'cas', put: rec }, ...crlSourceChanges(ctx.snap, base.crlUrls, cert.issuer.key)],
    events: [
      { event: 'ca.load', outcome: 'success', actor, object, details: { role: 'intermediate', hierarchy: root.hierarchy, notAfter: cert.notAfter, source } },
      { event: 'trust-chain.change', outcome: 'success', actor, object, details: { change: 'intermediate-added', hierarchy: root.hierarchy } },
    ],
  };
}
