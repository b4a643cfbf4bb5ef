/**
 * Certificate revocation status from CRLs, per RFC 5280 §6.3: distribution points and the
 * issuing distribution point, reason masks across partitioned CRLs, indirect CRLs with
 * certificateIssuer entries, delta CRLs, and CRLs signed by a separate key of the same
 * (or another) issuer whose own path must validate.
 */
import { type Cert, KU, isCa } from './cert.js';
import type { Crl, CrlEntry } from './crl-model.js';
import { REASON_NAMES } from './crl-model.js';
import { ALL_REASONS, type DistributionPoint, type DpName, type IssuingDistributionPoint, resolveDpName } from './dist-point.js';
import { type IssueCode, frenchDate } from './issues.js';
import { type GeneralName, type Name, generalNamesEqual, nameToString, namesEqual } from './name.js';
import type { PublicKeyInfo } from './signature.js';

export type RevocationStatus =
  | { status: 'good'; warnings: Array<{ code: IssueCode; message: string }> }
  | { status: 'revoked'; reason: string; date: number; onHold: boolean; warnings: Array<{ code: IssueCode; message: string }> }
  | { status: 'unknown'; code: IssueCode; message: string; warnings: Array<{ code: IssueCode; message: string }> };

/** What revocation checking needs from the validation engine. */
export interface RevocationHost {
  at: number;
  staleCrl: 'reject' | 'warn';
  crls: Crl[];
  /** Certificates that may have signed a CRL: anchors and the pool. */
  certsBySubject(nameKey: string): Cert[];
  isAnchor(c: Cert): boolean;
  publicKeyOf(c: Cert): PublicKeyInfo;
  verifyCrlSignature(crl: Crl, key: PublicKeyInfo): Promise<boolean>;
  /** Validates a CRL signer's certificate (its own path, revocation included). */
  signerIsValid(c: Cert): Promise<boolean>;
}

interface Diagnostic {
  code: IssueCode;
  message: string;
  rank: number;
}

const entriesCache = new WeakMap<Crl, boolean>();

/** RFC 5280 §5.3: a CRL with an unrecognised critical entry extension must not be used at all. */
function hasUnknownCriticalEntry(crl: Crl): boolean {
  let v = entriesCache.get(crl);
  if (v === undefined) {
    v = false;
    for (const e of crl.entries.values()) {
      const list = Array.isArray(e) ? e : [e];
      if (list.some((x) => (x.unknownCriticalExtensions?.length ?? 0) > 0)) {
        v = true;
        break;
      }
    }
    entriesCache.set(crl, v);
  }
  return v;
}

function dirNames(names: GeneralName[] | undefined): Name[] {
  return (names ?? []).flatMap((g) => (g.kind === 'directory' ? [g.name] : []));
}

function anyNameMatch(a: GeneralName[], b: GeneralName[]): boolean {
  return a.some((x) => b.some((y) => generalNamesEqual(x, y)));
}

function dpNames(dp: DpName | undefined, issuer: Name): GeneralName[] | undefined {
  return dp ? resolveDpName(dp, issuer) : undefined;
}

/** Canonical text of an IDP, to match a delta CRL's scope with its base. */
function idpKey(idp: IssuingDistributionPoint | undefined, issuer: Name): string {
  if (!idp) return '';
  const names = dpNames(idp.name, issuer) ?? [];
  return JSON.stringify([
    names.map((g) => (g.kind === 'directory' ? 'dn:' + g.name.key : g.kind + ':' + ('value' in g ? String(g.value).toLowerCase() : ''))),
    idp.onlyUserCerts,
    idp.onlyCaCerts,
    idp.onlySomeReasons ?? ALL_REASONS,
    idp.indirectCrl,
    idp.onlyAttributeCerts,
  ]);
}

function entriesFor(crl: Crl, serial: string): CrlEntry[] {
  const e = crl.entries.get(serial);
  return e === undefined ? [] : Array.isArray(e) ? e : [e];
}

/** The entry applying to `cert` in `crl`, honouring certificateIssuer in indirect CRLs. */
function findEntry(crl: Crl, cert: Cert): CrlEntry | undefined {
  const indirect = crl.idp?.indirectCrl === true;
  for (const e of entriesFor(crl, cert.serial)) {
    if (!indirect) return e;
    const issuers = e.certificateIssuer ? dirNames(e.certificateIssuer) : [crl.issuer];
    if (issuers.some((n) => namesEqual(n, cert.issuer))) return e;
  }
  return undefined;
}



export async function checkRevocation(
  host: RevocationHost,
  cert: Cert,
  issuerCert: Cert,
  issuerKey: PublicKeyInfo,
): Promise<RevocationStatus> {
  const warnings: Array<{ code: IssueCode; message: string }> = [];
  const dps: DistributionPoint[] = cert.crlDistributionPoints ?? [{}];
  let reasonsMask = 0;
  let best: Diagnostic | null = null;
  const note = (code: IssueCode, message: string, rank: number): void => {
    if (!best || rank > best.rank) best = { code, message, rank };
  };
  let sawCandidate = false;

  const signerCache = new Map<Crl, Promise<PublicKeyInfo | null>>();
  const signerFor = (crl: Crl): Promise<PublicKeyInfo | null> => {
    let p = signerCache.get(crl);
    if (!p) {
      p = findSigner(host, crl, issuerCert, issuerKey);
      signerCache.set(crl, p);
    }
    return p;
  };

  for (const dp of dps) {
    if (reasonsMask === ALL_REASONS) break;
    const dpCrlIssuers = dp.crlIssuer ? dirNames(dp.crlIssuer) : null;
    for (const crl of host.crls) {
      if (reasonsMask === ALL_REASONS) break;
      if (crl.deltaBase !== undefined) continue;
      // (b)(1) issuer
      if (dpCrlIssuers) {
        if (!dpCrlIssuers.some((n) => namesEqual(n, crl.issuer))) continue;
        sawCandidate = true;
        if (!crl.idp?.indirectCrl) {
          note('crl_scope_mismatch', `La LCR de ${nameToString(crl.issuer)} n’est pas déclarée indirecte.`, 2);
          continue;
        }
      } else {
        if (!namesEqual(crl.issuer, cert.issuer)) continue;
        sawCandidate = true;
      }
      // (b)(2) scope
      const idp = crl.idp;
      if (idp) {
        if (idp.name) {
          const idpNames = resolveDpName(idp.name, crl.issuer);
          // A relative DP name is relative to the CRL issuer named in the DP (§4.2.1.13), which
          // was just checked to equal this CRL's issuer; else to the certificate's issuer.
          const certNames = dp.name ? dpNames(dp.name, dpCrlIssuers ? crl.issuer : cert.issuer)! : dp.crlIssuer ?? null;
          if (!certNames || !anyNameMatch(idpNames, certNames)) {
            note('crl_scope_mismatch', 'Le point de distribution de la LCR ne correspond pas à celui du certificat.', 2);
            continue;
          }
        }
        if (idp.onlyUserCerts && isCa(cert)) {
          note('crl_scope_mismatch', 'La LCR ne couvre que les certificats d’utilisateurs.', 2);
          continue;
        }
        if (idp.onlyCaCerts && !isCa(cert)) {
          note('crl_scope_mismatch', 'La LCR ne couvre que les certificats d’AC.', 2);
          continue;
        }
        if (idp.onlyAttributeCerts) {
          note('crl_scope_mismatch', 'La LCR ne couvre que les certificats d’attributs.', 2);
          continue;
        }
      }
      // (d) reasons
      const interim = (dp.reasons ?? ALL_REASONS) & (idp?.onlySomeReasons ?? ALL_REASONS);
      if ((interim & ~reasonsMask) === 0) continue;
      if (crl.unknownCriticalExtensions.length > 0 || hasUnknownCriticalEntry(crl)) {
        note('crl_unknown_critical_extension', 'La LCR contient une extension critique inconnue : elle est inutilisable.', 4);
        continue;
      }
      if (crl.thisUpdate > host.at) {
        note('crl_not_yet_valid', `La LCR n’est valable qu’à partir du ${frenchDate(crl.thisUpdate)}.`, 3);
        continue;
      }
      // (f)(g) signer and signature
      const key = await signerFor(crl);
      if (!key) {
        note('crl_signature_invalid', `La signature de la LCR de ${nameToString(crl.issuer)} ne peut être vérifiée par aucune clé valide de l’émetteur.`, 5);
        continue;
      }
      // (c) delta CRLs of the same scope
      const delta = await findDelta(host, crl, key);
      // currency (§6.3.3 (a)(2)): a stale complete CRL is current enough with a current delta.
      const stale = crl.nextUpdate !== undefined && crl.nextUpdate < host.at;
      if (stale && !(delta && !delta.stale)) {
        if (host.staleCrl === 'reject') {
          note('crl_expired', `La LCR de ${nameToString(crl.issuer)} est périmée depuis le ${frenchDate(crl.nextUpdate!)}.`, 3);
          continue;
        }
        warnings.push({
          code: 'crl_expired',
          message: `La LCR de ${nameToString(crl.issuer)} est périmée depuis le ${frenchDate(crl.nextUpdate!)} ; elle est utilisée quand même.`,
        });
      }
      // (i)(j) status
      let entry: CrlEntry | undefined;
      let removed = false;
      if (delta && (!delta.stale || host.staleCrl === 'warn')) {
        const d = findEntry(delta.crl, cert);
        if (d) {
          if (d.reason === 8) removed = true;
          else entry = d;
        }
      }
      if (!entry && !removed) {
        const e = findEntry(crl, cert);
        if (e && e.reason !== 8) entry = e;
      }
      reasonsMask |= interim;
      if (entry) {
        const reason = entry.reason !== undefined ? REASON_NAMES[entry.reason] : 'unspecified';
        return { status: 'revoked', reason, date: entry.revocationDate, onHold: entry.reason === 6, warnings };
      }
    }
  }
  if (reasonsMask === ALL_REASONS) return { status: 'good', warnings };
  if (best) {
    const b = best as Diagnostic;
    return { status: 'unknown', code: b.code, message: b.message, warnings };
  }
  if (reasonsMask !== 0) {
    return { status: 'unknown', code: 'revocation_incomplete', message: 'Les LCR disponibles ne couvrent pas tous les motifs de révocation.', warnings };
  }
  return {
    status: 'unknown',
    code: 'crl_missing',
    message: sawCandidate ? 'Aucune LCR utilisable pour ce certificat.' : `Aucune LCR de ${nameToString(cert.issuer)} n’est disponible.`,
    warnings,
  };
}

/** §6.3.3 (f): the key that signed the CRL, from a certificate allowed to sign CRLs and itself valid. */
async function findSigner(host: RevocationHost, crl: Crl, issuerCert: Cert, issuerKey: PublicKeyInfo): Promise<PublicKeyInfo | null> {
  const canSignCrl = (c: Cert): boolean => c.keyUsage === undefined || (c.keyUsage & KU.cRLSign) !== 0;
  if (namesEqual(crl.issuer, issuerCert.subject) && (host.isAnchor(issuerCert) || canSignCrl(issuerCert))) {
    if (await host.verifyCrlSignature(crl, issuerKey)) return issuerKey;
  }
  for (const c of host.certsBySubject(crl.issuer.key)) {
    if (c === issuerCert) continue;
    if (!host.isAnchor(c) && !canSignCrl(c)) continue;
    const key = host.publicKeyOf(c);
    if (!(await host.verifyCrlSignature(crl, key))) continue;
    if (host.isAnchor(c) || (await host.signerIsValid(c))) return key;
  }
  return null;
}

async function findDelta(host: RevocationHost, base: Crl, key: PublicKeyInfo): Promise<{ crl: Crl; stale: boolean } | null> {
  if (base.crlNumber === undefined) return null;
  const scope = idpKey(base.idp, base.issuer);
  let best: Crl | null = null;
  for (const d of host.crls) {
    if (d.deltaBase === undefined || d.crlNumber === undefined) continue;
    if (!namesEqual(d.issuer, base.issuer)) continue;
    if (idpKey(d.idp, d.issuer) !== scope) continue;
    if (d.deltaBase > base.crlNumber) continue;
    if (d.crlNumber <= base.crlNumber) continue;
    if (d.unknownCriticalExtensions.length > 0 || hasUnknownCriticalEntry(d)) continue;
    if (d.thisUpdate > host.at) continue;
    if (best && best.crlNumber! >= d.crlNumber) continue;
    if (!(await host.verifyCrlSignature(d, key))) continue;
    best = d;
  }
  if (!best) return null;
  return { crl: best, stale: best.nextUpdate !== undefined && best.nextUpdate < host.at };
}
