/** Planning the import of a CRL: verified with its issuer CA from the store, indexed before the commit. */
import { KU } from '../../pki/cert.js';
import { parseCrl } from '../../pki/crl.js';
import type { Crl } from '../../pki/crl-model.js';
import { toHex } from '../../pki/der.js';
import { isPkiError } from '../../pki/errors.js';
import { nameToString } from '../../pki/name.js';
import { sha256Hex, verifySignature } from '../../pki/signature.js';
import { type CaRecord, type Change, type CrlRecord, type SourceRecord, crlId, crlNumberHex, crlScope } from '../model.js';
import { buildRevocationIndex } from '../revocation-index.js';
import type { TrustContext } from './context.js';
import { type ImportOptions, type Plan, cmpHexInt, exact, fmtDate, refusal, refused } from './plan.js';

export async function prepareCrl(ctx: TrustContext, crlOrDer: Crl | Uint8Array, opts: ImportOptions): Promise<Plan> {
  const now = ctx.clock();
  const actor = opts.actor ?? ctx.defaultActor;
  const source = opts.source ?? 'file';
  let crl: Crl;
  try {
    crl = crlOrDer instanceof Uint8Array ? parseCrl(crlOrDer) : crlOrDer;
  } catch (e) {
    return refusal('crl', '', isPkiError(e) ? e.code : 'crl_malformed', e instanceof Error ? e.message : String(e), 'crl.load', actor, source);
  }
  const der = exact(crl.der);
  const label = nameToString(crl.issuer);
  const sha256 = await sha256Hex(der);
  const crlNumber = crlNumberHex(crl.crlNumber);
  const object = { kind: 'crl' as const, fingerprint: sha256, issuer: label, ...(crlNumber ? { serial: crlNumber } : {}) };
  const refuse = (code: string, message: string): Plan => ({
    report: refused('crl', label, code, message, sha256),
    changes: [],
    events: [{ event: 'crl.load', outcome: 'refused', actor, object, details: { code, source } }],
  });

  // What the index cannot represent is refused rather than half-understood.
  if (crl.deltaBase !== undefined) return refuse('crl_delta_unsupported', 'Les LCR delta ne sont pas prises en charge : chargez la LCR complète.');
  if (crl.idp?.indirectCrl) return refuse('crl_indirect_unsupported', 'Les LCR indirectes ne sont pas prises en charge.');
  if (crl.idp?.onlySomeReasons !== undefined || crl.idp?.onlyAttributeCerts) return refuse('crl_partial_unsupported', 'Cette LCR ne couvre qu’une partie des motifs ou des certificats : elle n’est pas prise en charge.');
  if (crl.unknownCriticalExtensions.length) return refuse('crl_unknown_critical_extension', 'La LCR porte une extension critique inconnue.');
  for (const v of crl.entries.values()) {
    for (const e of Array.isArray(v) ? v : [v]) {
      if (e.unknownCriticalExtensions?.length) return refuse('crl_unknown_critical_extension', 'Une entrée de la LCR porte une extension critique inconnue.');
    }
  }
  if (crl.nextUpdate === undefined) return refuse('crl_no_next_update', 'La LCR n’indique pas sa prochaine mise à jour (nextUpdate).');

  // Only CRLs of CAs the store accepts, verified with that CA's key.
  const aki = crl.authorityKeyId ? toHex(crl.authorityKeyId) : undefined;
  const candidates = ctx.snap.cas
    .filter((c) => c.subjectKey === crl.issuer.key)
    .sort((a, b) => Number(b.keyId !== undefined && b.keyId === aki) - Number(a.keyId !== undefined && a.keyId === aki));
  if (candidates.length === 0) return refuse('crl_issuer_unknown', `L’autorité « ${label} » n’est pas dans le magasin : chargez d’abord son certificat.`);
  let signer: CaRecord | undefined;
  for (const c of candidates) {
    const cert = ctx.certs.get(c.fingerprint)!;
    if (cert.keyUsage !== undefined && !(cert.keyUsage & KU.cRLSign)) continue;
    try {
      if (await verifySignature(crl.signatureAlgorithm, { spki: cert.spki, algorithm: cert.spkiAlgorithm, key: cert.publicKey }, crl.signature, crl.tbs)) {
        signer = c;
        break;
      }
    } catch {
      // unsupported algorithm: try the next candidate, then refuse
    }
  }
  if (!signer) return refuse('crl_signature_invalid', `La signature de la LCR de « ${label} » n’est pas celle de l’autorité enregistrée.`);

  const id = crlId(crl);
  const existing = ctx.snap.crls.find((c) => c.id === id);
  if (existing) {
    if (existing.sha256 === sha256) {
      return { report: { kind: 'crl', outcome: 'unchanged', label, fingerprint: sha256, code: 'crl_unchanged', message: 'Cette LCR est déjà celle en vigueur.', warnings: [] }, changes: [], events: [] };
    }
    const order =
      existing.crlNumber !== undefined && crlNumber !== undefined ? cmpHexInt(crlNumber, existing.crlNumber) : Math.sign(crl.thisUpdate - existing.thisUpdate);
    if (order < 0) return refuse('crl_older', 'Cette LCR est plus ancienne que celle en vigueur : elle est ignorée.');
    if (order === 0) return refuse('crl_number_reused', 'Cette LCR porte le même numéro que celle en vigueur mais un contenu différent.');
  }

  const buffer = buildRevocationIndex(crl);
  const scope = crlScope(crl);
  const meta: CrlRecord = {
    id,
    issuerKey: crl.issuer.key,
    issuer: label,
    issuerFingerprint: signer.fingerprint,
    hierarchy: signer.hierarchy,
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    size: crl.size,
    sha256,
    scope,
    importedAt: now,
    source,
    ...(aki ? { authorityKeyId: aki } : {}),
    ...(crlNumber ? { crlNumber } : {}),
    ...(opts.sourceUrl ? { sourceUrl: opts.sourceUrl } : {}),
  };
  // The schedule of the sources of this issuer restarts from this CRL (a manual import
  // counts as a successful download).
  const sourceChanges: Change[] = ctx.snap.sources
    .filter((s) => s.kind === 'crl' && s.issuerKey === crl.issuer.key && s.url !== opts.sourceUrl)
    .map((s) => ({ store: 'sources', put: { ...s, lastSuccessAt: now, lastOutcome: 'success', consecutiveFailures: 0 } satisfies SourceRecord }));
  const warnings: string[] = [];
  if (now >= crl.nextUpdate) warnings.push(`Cette LCR est périmée depuis le ${fmtDate(crl.nextUpdate, ctx.conf.timeZone)} : elle sera utilisée, avec un avertissement.`);
  return {
    report: {
      kind: 'crl',
      outcome: 'stored',
      label,
      fingerprint: sha256,
      message: `LCR de « ${label} » enregistrée (${crl.size} certificats révoqués, valable jusqu’au ${fmtDate(crl.nextUpdate, ctx.conf.timeZone)}).`,
      warnings,
    },
    changes: [
      { store: 'crls', put: meta },
      { store: 'crlDer', put: { id, der } },
      { store: 'crlIndex', put: { id, sha256, issuerKey: crl.issuer.key, buffer } },
      ...sourceChanges,
    ],
    events: [
      {
        event: 'crl.load',
        outcome: 'success',
        actor,
        object,
        details: { thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, count: crl.size, hierarchy: signer.hierarchy, source, ...(existing ? { previous: existing.sha256 } : {}) },
      },
    ],
    index: { sha256, buffer },
  };
}
