/**
 * The valid_policy_tree of RFC 5280 §6.1.2 (a), processed per §6.1.3 (d)–(e), §6.1.4 (b)
 * and §6.1.5 (g). Kept as explicit nodes so the result can say which policies hold.
 */
import { OID, type PolicyInfo } from './cert.js';

const ANY = OID.anyPolicy;

interface Node {
  depth: number;
  policy: string;
  qualifiers?: Uint8Array;
  expected: Set<string>;
  parent: Node | null;
  children: Node[];
}

function child(parent: Node, policy: string, qualifiers: Uint8Array | undefined, expected: Set<string>): Node {
  const n: Node = { depth: parent.depth + 1, policy, expected, parent, children: [] };
  if (qualifiers) n.qualifiers = qualifiers;
  parent.children.push(n);
  return n;
}

export class PolicyTree {
  private root: Node | null = { depth: 0, policy: ANY, expected: new Set([ANY]), parent: null, children: [] };

  get isNull(): boolean {
    return this.root === null;
  }

  private level(d: number): Node[] {
    if (!this.root) return [];
    let cur: Node[] = [this.root];
    for (let i = 0; i < d; i++) cur = cur.flatMap((n) => n.children);
    return cur;
  }

  private remove(n: Node): void {
    if (!n.parent) {
      this.root = null;
      return;
    }
    const sib = n.parent.children;
    sib.splice(sib.indexOf(n), 1);
  }

  /** Deletes childless nodes above depth `d`, bottom-up; the root going means a null tree. */
  private prune(d: number): void {
    for (let depth = d - 1; depth >= 0 && this.root; depth--) {
      for (const n of this.level(depth)) if (n.children.length === 0) this.remove(n);
    }
  }

  /** §6.1.3 (d)/(e) for certificate i (1-based); `anyAllowed` = inhibit_anyPolicy > 0 or (i < n and self-issued). */
  processCertificate(i: number, policies: PolicyInfo[] | undefined, anyAllowed: boolean): void {
    if (!this.root) return;
    if (!policies) {
      this.root = null;
      return;
    }
    const parents = this.level(i - 1);
    for (const p of policies) {
      if (p.oid === ANY) continue;
      let matched = false;
      for (const n of parents) {
        if (n.expected.has(p.oid)) {
          child(n, p.oid, p.qualifiers, new Set([p.oid]));
          matched = true;
        }
      }
      if (!matched) {
        for (const n of parents) if (n.policy === ANY) child(n, p.oid, p.qualifiers, new Set([p.oid]));
      }
    }
    const anyP = policies.find((p) => p.oid === ANY);
    if (anyP && anyAllowed) {
      for (const n of parents) {
        const have = new Set(n.children.map((c) => c.policy));
        for (const e of n.expected) if (!have.has(e)) child(n, e, anyP.qualifiers, new Set([e]));
      }
    }
    this.prune(i);
  }

  /** §6.1.4 (b): policy mappings of certificate i. `mappingAllowed` = policy_mapping > 0. */
  applyMappings(i: number, mappings: Array<{ issuerDomain: string; subjectDomain: string }>, mappingAllowed: boolean): void {
    if (!this.root) return;
    const byIssuer = new Map<string, string[]>();
    for (const m of mappings) {
      const l = byIssuer.get(m.issuerDomain) ?? [];
      if (!l.includes(m.subjectDomain)) l.push(m.subjectDomain);
      byIssuer.set(m.issuerDomain, l);
    }
    for (const [idp, subjects] of byIssuer) {
      const nodes = this.level(i);
      const matching = nodes.filter((n) => n.policy === idp);
      if (mappingAllowed) {
        if (matching.length > 0) {
          for (const n of matching) n.expected = new Set(subjects);
        } else {
          const anyNode = nodes.find((n) => n.policy === ANY);
          if (anyNode?.parent) child(anyNode.parent, idp, anyNode.qualifiers, new Set(subjects));
        }
      } else {
        for (const n of matching) this.remove(n);
        this.prune(i);
      }
    }
  }

  /**
   * §6.1.5 (g): intersection with the user-initial-policy-set at depth n.
   * Returns the policies of the resulting tree's leaves (the user-constrained policy set).
   */
  intersect(n: number, initial: string[]): void {
    if (!this.root || initial.includes(ANY)) return;
    const wanted = new Set(initial);
    // (1) valid_policy_node_set: nodes whose parent is an anyPolicy node.
    const all: Node[] = [];
    const walk = (x: Node): void => {
      all.push(x);
      x.children.forEach(walk);
    };
    walk(this.root);
    const vpns = all.filter((x) => x.parent && x.parent.policy === ANY);
    // (2) remove those not wanted (anyPolicy nodes stay).
    for (const x of vpns) if (x.policy !== ANY && !wanted.has(x.policy)) this.remove(x);
    // (3) replace an anyPolicy leaf by the wanted policies it stands for.
    const leaves = this.level(n);
    const anyLeaf = leaves.find((x) => x.policy === ANY);
    if (anyLeaf?.parent) {
      const present = new Set(vpns.map((x) => x.policy));
      for (const p of wanted) if (!present.has(p)) child(anyLeaf.parent, p, anyLeaf.qualifiers, new Set([p]));
      this.remove(anyLeaf);
    }
    // (4) prune.
    this.prune(n);
  }

  /** Valid policies at depth n (authorities- or user-constrained set, depending on when asked). */
  policiesAt(n: number): string[] {
    return [...new Set(this.level(n).map((x) => x.policy))];
  }
}
