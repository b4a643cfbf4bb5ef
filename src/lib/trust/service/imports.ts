/**
 * The import entry points: decoding a file, ordering what it holds (CAs before the CRLs and
 * certificates they validate), then one plan and one commit per item. The checks themselves
 * are in import-ca.ts, import-crl.ts and import-recipient.ts.
 */
import type { Cert } from '../../pki/cert.js';
import type { Crl } from '../../pki/crl-model.js';
import { isPkiError } from '../../pki/errors.js';
import { type Parsed, decodeParsedStepwise } from '../../pki/input.js';
import { nextTask } from '../../time/next-task.js';
import { nameToString } from '../../pki/name.js';
import type { TrustContext } from './context.js';
import { prepareCa } from './import-ca.js';
import { prepareCrl } from './import-crl.js';
import { prepareRecipient } from './import-recipient.js';
import { type ImportOptions, type ImportReport, refused } from './plan.js';

/**
 * Imports what a file or pasted text holds (PEM with any number of blocks, or DER): CA
 * certificates first, then CRLs, then recipient certificates, each committed with its
 * audit records. One report per item; decoding errors give one refused report.
 */
export async function importFile(ctx: TrustContext, data: Uint8Array | string, opts: ImportOptions): Promise<ImportReport[]> {
  ctx.latch.require();
  let items: Parsed[];
  try {
    items = await decodeParsedStepwise(data);
  } catch (e) {
    const code = isPkiError(e) ? e.code : 'input_unrecognised';
    const message = e instanceof Error ? e.message : String(e);
    await ctx.commit([], [{ event: 'certificate.load', outcome: 'refused', actor: opts.actor ?? ctx.defaultActor, details: { code, source: opts.source ?? 'file' } }]);
    return [refused('input', '', code, message)];
  }
  return importParsed(ctx, items, opts);
}

export async function importParsed(ctx: TrustContext, items: Parsed[], opts: ImportOptions): Promise<ImportReport[]> {
  ctx.latch.require();
  const cas = items.flatMap((p) => (p.kind === 'certificate' && p.cert.basicConstraints?.ca ? [p.cert] : []));
  const crls = items.flatMap((p) => (p.kind === 'crl' ? [p.crl] : []));
  const leaves = items.flatMap((p) => (p.kind === 'certificate' && !p.cert.basicConstraints?.ca ? [p.cert] : []));
  const reports: ImportReport[] = [];
  // Roots first, then each CA after the one that issued it when the bundle holds it (a
  // bundle may list them in any order); each is imported once.
  const depth = new Map<Cert, number>();
  const depthOf = (c: Cert, seen: Set<Cert>): number => {
    let d = depth.get(c);
    if (d === undefined) {
      const parent = c.selfIssued ? undefined : cas.find((p) => p !== c && !seen.has(p) && p.subject.key === c.issuer.key);
      d = parent ? 1 + depthOf(parent, new Set([...seen, c])) : c.selfIssued ? 0 : 1;
      depth.set(c, d);
    }
    return d;
  };
  // One item per task: a bundle imported at start-up (npm start's demonstration data) leaves
  // the page free to paint and answer between them.
  const step = async <T>(work: () => Promise<T>): Promise<T> => {
    if (reports.length > 0) await nextTask();
    return work();
  };
  for (const c of [...cas].sort((a, b) => depthOf(a, new Set()) - depthOf(b, new Set()))) reports.push(await step(() => importCa(ctx, c, opts)));
  for (const crl of crls) reports.push(await step(() => importCrl(ctx, crl, opts)));
  // Leaves grouped by recipient: several certificates of one recipient are one update.
  const groups = new Map<string, Cert[]>();
  for (const c of leaves) {
    const named = (opts.recipient ?? c.subjectAltNames?.find((g) => g.kind === 'rfc822')?.value ?? '').trim();
    // Mailboxes compare case-insensitively; data-certificate identifiers are kept as given.
    const who = (opts.usage ?? 'attachment') === 'attachment' ? named.toLowerCase() : named;
    const g = groups.get(who) ?? [];
    g.push(c);
    groups.set(who, g);
  }
  for (const [who, certs] of groups) {
    if (!who) {
      for (const c of certs) {
        reports.push(refused('certificate', nameToString(c.subject), 'recipient_unknown', 'Indiquez le destinataire de ce certificat : il ne porte pas d’adresse de messagerie.'));
      }
      continue;
    }
    reports.push(await step(() => importRecipient(ctx, certs, { ...opts, recipient: who })));
  }
  return reports;
}

export async function importCa(ctx: TrustContext, certOrDer: Cert | Uint8Array, opts: ImportOptions): Promise<ImportReport> {
  return ctx.apply(await prepareCa(ctx, certOrDer, opts));
}

export async function importCrl(ctx: TrustContext, crlOrDer: Crl | Uint8Array, opts: ImportOptions): Promise<ImportReport> {
  return ctx.apply(await prepareCrl(ctx, crlOrDer, opts));
}

export async function importRecipient(ctx: TrustContext, certs: Array<Cert | Uint8Array>, opts: ImportOptions & { recipient: string }): Promise<ImportReport> {
  return ctx.apply(await prepareRecipient(ctx, certs, opts));
}
