/**
 * What an import prepares before it commits, and the small helpers the planners share. Kept
 * apart from the context so that the context (which applies plans) and the planners (which
 * build them) both depend on it without depending on each other.
 */
import type { Cert } from '../../pki/cert.js';
import type { VerifyIssue } from '../../pki/types.js';
import type { AuditActor, AuditInput } from '../audit.js';
import type { Change, HierarchyLabel, Provenance, Usage } from '../model.js';

export interface ImportOptions {
  /** Hierarchy of a root CA (production, test, oct-…); guessed for GIE SESAM-Vitale names. */
  hierarchy?: HierarchyLabel;
  /** Whose certificate (mailbox for attachment certificates); default the subjectAltName. */
  recipient?: string;
  usage?: Usage;
  source?: Provenance;
  /** Where it came from (a directory URL), for CRLs fetched by refresh(). */
  sourceUrl?: string;
  actor?: AuditActor;
}

export interface ImportReport {
  kind: 'ca' | 'certificate' | 'crl' | 'input';
  outcome: 'stored' | 'unchanged' | 'refused';
  /** Subject DN (certificates) or issuer DN (CRLs), for display. */
  label: string;
  fingerprint?: string;
  /** Stable reason code when refused or unchanged. */
  code?: string;
  /** French, for the practitioner. */
  message: string;
  warnings: string[];
}

/** Work prepared before a commit: the writes, their audit records, and what to report. */
export interface Plan {
  report: ImportReport;
  changes: Change[];
  events: AuditInput[];
  /** Index built for a new CRL, cached once the commit succeeded. */
  index?: { sha256: string; buffer: ArrayBuffer };
}

/** GIE SESAM-Vitale mailboxes and their hierarchy (docs/domain/transmission.md §2 table). */
export function expectedHierarchy(mailbox: string): HierarchyLabel | undefined {
  const m = mailbox.toLowerCase();
  if (m.endsWith('@reel.rss.fr')) return 'production';
  if (m.endsWith('@test.rss.fr')) return 'test';
  return undefined;
}

/** A hierarchy for a GIE SESAM-Vitale root from its name; undefined for other CAs. */
export function guessHierarchy(subject: string): HierarchyLabel | undefined {
  if (!/SESAM-VITALE/i.test(subject)) return undefined;
  return /TEST/i.test(subject) ? 'test' : 'production';
}

/** A copy that owns exactly its bytes (IndexedDB would otherwise store the whole buffer). */
export function exact(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice();
}

export function cmpHexInt(a: string, b: string): number {
  const x = BigInt('0x' + a);
  const y = BigInt('0x' + b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The directory URLs (LDAP, HTTP) of a certificate's CRL distribution points. */
export function uris(c: Cert): string[] {
  const out: string[] = [];
  for (const dp of c.crlDistributionPoints ?? []) {
    if (dp.name?.kind !== 'full') continue;
    for (const g of dp.name.names) if (g.kind === 'uri' && /^(ldaps?|https?):\/\//i.test(g.value)) out.push(g.value);
  }
  return out;
}

export function issueText(issues: VerifyIssue[]): string {
  return issues.map((i) => i.message).join(' ');
}

export function refused(kind: ImportReport['kind'], label: string, code: string, message: string, fingerprint?: string): ImportReport {
  const r: ImportReport = { kind, outcome: 'refused', label, code, message, warnings: [] };
  if (fingerprint) r.fingerprint = fingerprint;
  return r;
}

/** A refusal before anything could be parsed: no object to name in the audit record. */
export function refusal(kind: ImportReport['kind'], label: string, code: string, message: string, event: AuditInput['event'], actor: AuditActor, source: Provenance): Plan {
  return { report: refused(kind, label, code, message), changes: [], events: [{ event, outcome: 'refused', actor, details: { code, source } }] };
}

export function fmtDate(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('fr-FR', { timeZone, dateStyle: 'short', timeStyle: 'short' }).format(new Date(ms));
}
