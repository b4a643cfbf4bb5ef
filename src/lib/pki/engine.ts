/**
 * Path building (from an unordered pool, with backtracking) kept apart from path validation
 * (RFC 5280 §6.1), in the manner of Go's crypto/x509: the builder proposes chains whose
 * signatures link up; the validator runs the full algorithm on each until one passes.
 */
import { type Cert, KU, OID } from './cert.js';
import type { Crl } from './crl-model.js';
import { type IssueCode, REASON_FR, frenchDate, issue } from './issues.js';
import { type ConstraintSet, checkNameConstraints } from './name-constraints.js';
import { nameToString, namesEqual } from './name.js';
import { PolicyTree } from './policy.js';
import { type RevocationHost, checkRevocation } from './revocation.js';
import { type PublicKeyInfo, KEY_OID, dsaParamsOf, verifySignature } from './signature.js';
import { PkiError } from './errors.js';
import type { VerifyIssue } from './types.js';

export interface EngineOptions {
  at: number;
  initialPolicySet: string[];
  initialExplicitPolicy: boolean;
  initialPolicyMappingInhibit: boolean;
  initialAnyPolicyInhibit: boolean;
  /** For the end-entity certificate. */
  revocation: 'require' | 'if-available' | 'off';
  /** For CA certificates of the path. */
  caRevocation: 'require' | 'if-available' | 'off';
  staleCrl: 'reject' | 'warn';
}

/** Caches that outlive one validation (the Verifier's warm state). */
export interface EngineCaches {
  keys: Map<string, Promise<CryptoKey | null>>;
  signatures: Map<string, Promise<boolean>>;
  ids: WeakMap<object, number>;
  nextId: { n: number };
}

export function newCaches(): EngineCaches {
  return { keys: new Map(), signatures: new Map(), ids: new WeakMap(), nextId: { n: 1 } };
}

export interface PathResult {
  valid: boolean;
  errors: VerifyIssue[];
  warnings: VerifyIssue[];
  /** Leaf first, anchor last when complete. */
  path: Cert[];
  /** The user-constrained policy set, when valid. */
  policies?: string[];
}

/** Limits that keep hostile pools from making path building explode. */
const MAX_DEPTH = 16;
const MAX_PATHS = 24;
const MAX_EXPANSIONS = 2000;
const MAX_CANDIDATES_PER_STEP = 64;
const MAX_SIGNER_DEPTH = 3;

export class Engine implements RevocationHost {
  readonly at: number;
  readonly staleCrl: 'reject' | 'warn';
  private readonly anchorSet: Set<Cert>;
  private readonly anchorsBySubject = new Map<string, Cert[]>();
  private readonly poolBySubject = new Map<string, Cert[]>();
  private expansions = 0;
  /** Certificates whose own validation as CRL signers is under way (cycle guard). */
  private readonly signersInProgress = new Set<Cert>();
  private readonly signerResults = new Map<Cert, Promise<boolean>>();

  constructor(
    readonly anchors: Cert[],
    pool: Cert[],
    readonly crls: Crl[],
    readonly opts: EngineOptions,
    readonly caches: EngineCaches,
    private readonly signerDepth = 0,
  ) {
    this.at = opts.at;
    this.staleCrl = opts.staleCrl;
    this.anchorSet = new Set(anchors);
    for (const a of anchors) push(this.anchorsBySubject, a.subject.key, a);
    for (const c of pool) if (!this.anchorSet.has(c)) push(this.poolBySubject, c.subject.key, c);
    this.pool = pool;
  }
  private readonly pool: Cert[];

  // ---- RevocationHost ----

  certsBySubject(nameKey: string): Cert[] {
    return [...(this.anchorsBySubject.get(nameKey) ?? []), ...(this.poolBySubject.get(nameKey) ?? [])];
  }

  isAnchor(c: Cert): boolean {
    return this.anchorSet.has(c);
  }

  publicKeyOf(c: Cert): PublicKeyInfo {
    const pk: PublicKeyInfo = { spki: c.spki, algorithm: c.spkiAlgorithm, key: c.publicKey };
    const p = dsaParamsOf(c.spkiAlgorithm);
    if (p) pk.dsaParams = p;
    return pk;
  }

  verifyCrlSignature(crl: Crl, key: PublicKeyInfo): Promise<boolean> {
    // A CRL signed with an algorithm we do not implement is, for us, a CRL we cannot verify.
    return this.checkSignature(crl, crl.signatureAlgorithm, crl.signature, crl.tbs, key).catch(() => false);
  }

  signerIsValid(c: Cert): Promise<boolean> {
    let p = this.signerResults.get(c);
    if (!p) {
      p = this.validateSigner(c);
      this.signerResults.set(c, p);
    }
    return p;
  }

  private async validateSigner(c: Cert): Promise<boolean> {
    if (this.signersInProgress.has(c)) return true; // its own validation decides
    if (this.signerDepth >= MAX_SIGNER_DEPTH) return false;
    this.signersInProgress.add(c);
    try {
      const sub = new Engine(this.anchors, this.pool, this.crls, this.opts, this.caches, this.signerDepth + 1);
      for (const x of this.signersInProgress) sub.signersInProgress.add(x);
      const r = await sub.validate(c);
      return r.valid;
    } finally {
      this.signersInProgress.delete(c);
    }
  }

  // ---- signatures ----

  private id(o: object): number {
    let v = this.caches.ids.get(o);
    if (v === undefined) {
      v = this.caches.nextId.n++;
      this.caches.ids.set(o, v);
    }
    return v;
  }

  private checkSignature(
    signed: object,
    alg: { oid: string; params?: Uint8Array },
    sig: Uint8Array,
    data: Uint8Array,
    key: PublicKeyInfo,
  ): Promise<boolean> {
    const k = `${this.id(signed)}|${this.id(key.spki)}|${key.dsaParams ? this.id(key.dsaParams) : ''}`;
    let p = this.caches.signatures.get(k);
    if (!p) {
      // An algorithm we do not implement is an error worth naming; anything else that goes
      // wrong inside verification (a garbled key, a malformed signature) is a failed signature.
      p = verifySignature(alg, key, sig, data, this.caches.keys).catch((e: unknown) => {
        if (e instanceof PkiError && e.code === 'unsupported_algorithm') throw e;
        return false;
      });
      this.caches.signatures.set(k, p);
    }
    return p;
  }

  private certSignedBy(c: Cert, key: PublicKeyInfo): Promise<boolean> {
    return this.checkSignature(c, c.signatureAlgorithm, c.signature, c.tbs, key);
  }

  // ---- path building ----

  private orderCandidates(child: Cert, cands: Cert[]): Cert[] {
    const at = this.at;
    const score = (c: Cert): number => {
      let s = 0;
      if (child.authorityKeyId && c.subjectKeyId) s += bytesEq(child.authorityKeyId, c.subjectKeyId) ? 0 : 4;
      else s += 2;
      if (at < c.notBefore || at > c.notAfter) s += 1;
      return s;
    };
    return [...cands]
      .map((c) => ({ c, s: score(c) }))
      .sort((a, b) => a.s - b.s || b.c.notBefore - a.c.notBefore)
      .slice(0, MAX_CANDIDATES_PER_STEP)
      .map((x) => x.c);
  }

  private buildFailure: { depth: number; path: Cert[]; issue: VerifyIssue } | null = null;

  private noteBuildFailure(path: Cert[], code: IssueCode, message: string): void {
    const depth = path.length;
    if (!this.buildFailure || depth > this.buildFailure.depth || (depth === this.buildFailure.depth && code === 'signature_invalid')) {
      const c = path[path.length - 1]!;
      this.buildFailure = { depth, path, issue: issue(code, message, path.length - 1, nameToString(c.subject)) };
    }
  }

  /** Can `cand` have signed `child`? Deferred (true) when the key needs inherited DSA parameters. */
  private async maySign(child: Cert, cand: Cert): Promise<boolean> {
    const pk = this.publicKeyOf(cand);
    if (pk.algorithm.oid === KEY_OID.dsa && !pk.dsaParams) return true;
    try {
      return await this.certSignedBy(child, pk);
    } catch {
      // Unsupported algorithm: let validation of the full path name it.
      return true;
    }
  }

  private async *extend(path: Cert[]): AsyncGenerator<Cert[]> {
    const cur = path[path.length - 1]!;
    const inPath = new Set(path);
    const anchors = this.orderCandidates(cur, this.anchorsBySubject.get(cur.issuer.key) ?? []);
    const pool = this.orderCandidates(cur, (this.poolBySubject.get(cur.issuer.key) ?? []).filter((c) => !inPath.has(c)));
    let found = false;
    let badSignature = false;
    for (const a of anchors) {
      if (inPath.has(a)) continue;
      if (++this.expansions > MAX_EXPANSIONS) return;
      if (!(await this.maySign(cur, a))) {
        badSignature = true;
        continue;
      }
      found = true;
      yield [...path, a];
    }
    if (path.length < MAX_DEPTH) {
      for (const c of pool) {
        if (++this.expansions > MAX_EXPANSIONS) return;
        // A certificate with the same subject and key already in the path adds nothing but a loop.
        if (path.some((p) => p.subject.key === c.subject.key && bytesEq(p.spki, c.spki))) continue;
        if (!(await this.maySign(cur, c))) {
          badSignature = true;
          continue;
        }
        found = true;
        yield* this.extend([...path, c]);
      }
    }
    if (!found) {
      if (badSignature) {
        this.noteBuildFailure(path, 'signature_invalid', `La signature de « ${nameToString(cur.subject)} » ne correspond à la clé d’aucun émetteur disponible.`);
      } else {
        this.noteBuildFailure(
          path,
          'issuer_not_found',
          `Aucune autorité de confiance ni certificat intermédiaire « ${nameToString(cur.issuer)} » n’a été fourni pour « ${nameToString(cur.subject)} ».`,
        );
      }
    }
  }

  // ---- validation ----

  async validate(leaf: Cert): Promise<PathResult> {
    if (this.anchorSet.has(leaf)) {
      return { valid: true, errors: [], warnings: [], path: [leaf] };
    }
    let first: PathResult | null = null;
    let tried = 0;
    for await (const chain of this.extend([leaf])) {
      const r = await this.validatePath(chain);
      if (r.valid) return r;
      first ??= r;
      if (++tried >= MAX_PATHS) break;
    }
    if (first) return first;
    if (this.expansions > MAX_EXPANSIONS) {
      return {
        valid: false,
        errors: [issue('path_too_complex', 'Trop de chemins de certification possibles : la recherche a été interrompue.', 0)],
        warnings: [],
        path: [leaf],
      };
    }
    const f = this.buildFailure;
    return {
      valid: false,
      errors: [f?.issue ?? issue('issuer_not_found', 'Aucun chemin vers une autorité de confiance.', 0)],
      warnings: [],
      path: f?.path ?? [leaf],
    };
  }

  /** RFC 5280 §6.1 on chain = [leaf, …, anchor]. */
  async validatePath(chain: Cert[]): Promise<PathResult> {
    const errors: VerifyIssue[] = [];
    const warnings: VerifyIssue[] = [];
    const anchor = chain[chain.length - 1]!;
    const certs = chain.slice(0, -1).reverse(); // certs[0] = issued by anchor … certs[n-1] = leaf
    const n = certs.length;
    const idx = (i: number): number => n - 1 - i; // position in `chain` (0 = leaf)
    const err = (i: number, code: IssueCode, message: string): void => {
      errors.push(issue(code, message, idx(i), nameToString(certs[i]!.subject)));
    };
    const o = this.opts;

    let workingKey: PublicKeyInfo = this.publicKeyOf(anchor);
    let workingIssuer = anchor.subject;
    let explicitPolicy = o.initialExplicitPolicy ? 0 : n + 1;
    let inhibitAny = o.initialAnyPolicyInhibit ? 0 : n + 1;
    let policyMapping = o.initialPolicyMappingInhibit ? 0 : n + 1;
    let maxPathLength = n;
    const tree = new PolicyTree();
    const constraints: ConstraintSet[] = [];

    for (let i = 0; i < n; i++) {
      const c = certs[i]!;
      const isLeaf = i === n - 1;
      const label = `« ${nameToString(c.subject)} »`;
      // (a)(1) signature
      try {
        if (!(await this.certSignedBy(c, workingKey))) err(i, 'signature_invalid', `La signature du certificat ${label} est invalide.`);
      } catch (e) {
        err(i, 'unsupported_algorithm', e instanceof Error ? e.message : String(e));
      }
      // (a)(2) validity period
      if (this.at < c.notBefore) err(i, 'cert_not_yet_valid', `Le certificat ${label} n’est valable qu’à partir du ${frenchDate(c.notBefore)}.`);
      else if (this.at > c.notAfter) err(i, 'cert_expired', `Le certificat ${label} a expiré le ${frenchDate(c.notAfter)}.`);
      // (a)(4) name chaining
      if (!namesEqual(c.issuer, workingIssuer)) err(i, 'name_chaining', `L’émetteur de ${label} ne correspond pas au sujet du certificat précédent.`);
      // (b)(c) name constraints, not for self-issued intermediates
      if (!(c.selfIssued && !isLeaf)) {
        const v = checkNameConstraints(c, constraints);
        if (v) err(i, 'name_constraints_violated', `Contraintes de noms non respectées par ${label} : ${v}.`);
      }
      // (d)(e) policies, (f)
      tree.processCertificate(i + 1, c.policies, inhibitAny > 0 || (!isLeaf && c.selfIssued));
      if (explicitPolicy === 0 && tree.isNull) {
        err(i, 'policy_required', `Aucune politique de certification acceptable n’est valide au niveau de ${label}.`);
      }
      if (!isLeaf) {
        // §6.1.4 preparation for certificate i+1
        const maps = c.policyMappings;
        if (maps) {
          if (maps.some((m) => m.issuerDomain === OID.anyPolicy || m.subjectDomain === OID.anyPolicy)) {
            err(i, 'policy_mapping_any', `Le certificat ${label} fait correspondre anyPolicy, ce qui est interdit.`);
          } else {
            tree.applyMappings(i + 1, maps, policyMapping > 0);
          }
        }
        workingIssuer = c.subject;
        const key = this.publicKeyOf(c);
        if (key.algorithm.oid === KEY_OID.dsa && !key.dsaParams && workingKey.algorithm.oid === KEY_OID.dsa && workingKey.dsaParams) {
          key.dsaParams = workingKey.dsaParams;
        }
        if (c.nameConstraints) constraints.push(c.nameConstraints);
        if (!c.selfIssued) {
          if (explicitPolicy > 0) explicitPolicy--;
          if (policyMapping > 0) policyMapping--;
          if (inhibitAny > 0) inhibitAny--;
        }
        const pc = c.policyConstraints;
        if (pc?.requireExplicitPolicy !== undefined && pc.requireExplicitPolicy < explicitPolicy) explicitPolicy = pc.requireExplicitPolicy;
        if (pc?.inhibitPolicyMapping !== undefined && pc.inhibitPolicyMapping < policyMapping) policyMapping = pc.inhibitPolicyMapping;
        if (c.inhibitAnyPolicy !== undefined && c.inhibitAnyPolicy < inhibitAny) inhibitAny = c.inhibitAnyPolicy;
        if (c.basicConstraints?.ca !== true) {
          err(i, 'not_ca', `Le certificat ${label} n’est pas un certificat d’autorité (basicConstraints cA absent) et ne peut pas en émettre d’autres.`);
        }
        if (!c.selfIssued) {
          if (maxPathLength <= 0) err(i, 'path_length_exceeded', `La longueur maximale du chemin est dépassée au niveau de ${label}.`);
          else maxPathLength--;
        }
        if (c.basicConstraints?.pathLen !== undefined && c.basicConstraints.pathLen < maxPathLength) maxPathLength = c.basicConstraints.pathLen;
        if (c.keyUsage !== undefined && (c.keyUsage & KU.keyCertSign) === 0) {
          err(i, 'key_usage_no_cert_sign', `L’usage de clé de ${label} n’autorise pas la signature de certificats.`);
        }
        if (c.unknownCritical.length > 0) {
          err(i, 'unknown_critical_extension', `Le certificat ${label} contient une extension critique inconnue (${c.unknownCritical.join(', ')}).`);
        }
        // Revocation of c uses the previous working key (its issuer's); done below for all certs.
        workingKey = key;
      } else {
        if (explicitPolicy > 0) explicitPolicy--;
        if (c.policyConstraints?.requireExplicitPolicy === 0) explicitPolicy = 0;
        if (c.unknownCritical.length > 0) {
          err(i, 'unknown_critical_extension', `Le certificat ${label} contient une extension critique inconnue (${c.unknownCritical.join(', ')}).`);
        }
        tree.intersect(n, o.initialPolicySet);
        if (explicitPolicy === 0 && tree.isNull && !errors.some((e) => e.code === 'policy_required')) {
          err(i, 'policy_required', 'Aucune politique de certification acceptable n’est valide pour ce chemin.');
        }
      }
    }

    // §6.1.3 (a)(3) revocation, once the structure holds (no point checking a broken path).
    if (errors.length === 0) {
      let issuerKey = this.publicKeyOf(anchor);
      let parent = anchor;
      for (let i = 0; i < n; i++) {
        const c = certs[i]!;
        const mode = i === n - 1 ? o.revocation : o.caRevocation;
        const st = mode === 'off' ? ({ status: 'good', warnings: [] } as const) : await checkRevocation(this, c, parent, issuerKey);
        for (const w of st.warnings) warnings.push(issue(w.code, w.message, idx(i), nameToString(c.subject)));
        const label = `« ${nameToString(c.subject)} »`;
        if (st.status === 'revoked') {
          err(
            i,
            st.onHold ? 'cert_on_hold' : 'cert_revoked',
            st.onHold
              ? `Le certificat ${label} est suspendu depuis le ${frenchDate(st.date)}.`
              : `Le certificat ${label} est révoqué depuis le ${frenchDate(st.date)} (motif : ${REASON_FR[st.reason] ?? st.reason}, ${st.reason}).`,
          );
        } else if (st.status === 'unknown') {
          if (mode === 'require') err(i, st.code, `Statut de révocation de ${label} inconnu : ${st.message}`);
          else warnings.push(issue('revocation_not_checked', `Révocation de ${label} non vérifiée : ${st.message}`, idx(i), nameToString(c.subject)));
        }
        const next = this.publicKeyOf(c);
        if (next.algorithm.oid === KEY_OID.dsa && !next.dsaParams && issuerKey.dsaParams) next.dsaParams = issuerKey.dsaParams;
        issuerKey = next;
        parent = c;
      }
    }
    const result: PathResult = { valid: errors.length === 0, errors, warnings, path: chain };
    if (result.valid) result.policies = tree.policiesAt(n);
    return result;
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
