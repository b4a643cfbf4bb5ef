/**
 * Browser side of `npm run bench -- returns` (bundled by test/browser/harness.ts as
 * `globalThis.ReturnsBench`): a month of returns read (`readReturn`), service messages' signers
 * checked by the trust store over IndexedDB (`TrustService.checkSigner`, as the workstation
 * does), and each return matched and applied to the records in memory (`actOnReturn`, its
 * changes kept for the next one, as the workspace commits them). Then, in the same page, the
 * bare WebCrypto RSA verifications our run made: every `crypto.subtle.verify` call of a round is
 * recorded (key, signature, data) and replayed alone.
 */
import { actOnReturn, returnScope, type InvoiceRecord, type LotRecord, type SentMessage } from '../../src/lib/billing/index.js';
import { decodeValue } from '../../src/lib/client/store/at-rest.js';
import { IdbTrustStore } from '../../src/lib/client/store/idb-trust-store.js';
import { readReturn } from '../../src/lib/sesam/returns/read.js';
import { TrustService } from '../../src/lib/trust/service.js';

export interface Month {
  messages: Uint8Array[];
  invoices: InvoiceRecord[];
  lots: LotRecord[];
  sent: SentMessage[];
  /** PEM: the front end's CAs and their CRLs. */
  trust: string;
}

export interface RoundResult {
  ms: number;
  /** Outcomes, to check the month was read and applied, not skipped. */
  kinds: Record<string, number>;
  statuses: Record<string, number>;
  acknowledgedLots: number;
  paidDocuments: number;
  verifiedService: number;
  verifyCalls: number;
  /** Time in `readReturn` (signer checks included), in all and by kind of return. */
  readMs: number;
  byKind: Record<string, number>;
}

let month: Month | undefined;
let trust: TrustService | undefined;

type VerifyArgs = Parameters<SubtleCrypto['verify']>;
let recording: VerifyArgs[] | null = null;
const realVerify = crypto.subtle.verify.bind(crypto.subtle);
// Every RSA verification our code makes goes through here: recorded while a round runs.
crypto.subtle.verify = ((...args: VerifyArgs) => {
  recording?.push(args.map((a) => (ArrayBuffer.isView(a) ? new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice() : a)) as VerifyArgs);
  return realVerify(...args);
}) as SubtleCrypto['verify'];

export async function load(url: string): Promise<{ messages: number; invoices: number; lots: number }> {
  const res = await fetch(url);
  month = decodeValue<Month>(new Uint8Array(await res.arrayBuffer()));
  const store = await IdbTrustStore.open({ name: `bench-returns-${Date.now()}` });
  trust = await TrustService.open({ store, actor: 'system' });
  const reports = await trust.importFile(month.trust, { source: 'demo', actor: 'system' });
  const refused = reports.filter((r) => r.outcome === 'refused');
  if (refused.length) throw new Error(`trust: ${refused.map((r) => r.message).join('; ')}`);
  return { messages: month.messages.length, invoices: month.invoices.length, lots: month.lots.length };
}

const count = (m: Record<string, number>, k: string): void => void (m[k] = (m[k] ?? 0) + 1);

/** One pass over the month, from the records as they were before it. */
export async function round(): Promise<RoundResult> {
  if (!month || !trust) throw new Error('load() first');
  const svc = trust;
  const invoices = new Map(month.invoices.map((r) => [r.id, r]));
  const lots = new Map(month.lots.map((l) => [l.id, l]));
  // The clear summaries' index the workspace reads (documents by kind and number).
  const byDocument = new Map<string, string[]>();
  for (const r of month.invoices) for (const d of r.documents) byDocument.set(`${d.kind}|${d.number}`, [...(byDocument.get(`${d.kind}|${d.number}`) ?? []), r.id]);
  const kinds: Record<string, number> = {};
  const statuses: Record<string, number> = {};
  let verifiedService = 0;
  recording = [];
  const t0 = performance.now();
  let readMs = 0;
  const byKind: Record<string, number> = {};
  for (const bytes of month.messages) {
    const r0 = performance.now();
    const reading = await readReturn(bytes, { validateSigner: ({ certificate, email }) => svc.checkSigner(certificate, email) });
    readMs += performance.now() - r0;
    byKind[reading.kind] = (byKind[reading.kind] ?? 0) + (performance.now() - r0);
    // As the workspace does: only the invoices the return may change (returnScope).
    const lotList = [...lots.values()];
    const scope = returnScope(reading, lotList, month.sent);
    for (const d of scope.documents) for (const id of byDocument.get(d) ?? []) scope.invoiceIds.add(id);
    const scoped = [...scope.invoiceIds].map((id) => invoices.get(id)!).filter(Boolean);
    const action = actOnReturn(reading, { lots: lotList, invoices: scoped, sent: month.sent, clock: Date.now });
    for (const l of action.lots) lots.set(l.id, l);
    for (const r of action.invoices) invoices.set(r.id, r);
    count(kinds, reading.kind);
    count(statuses, action.status);
    if (reading.service?.verified) verifiedService++;
  }
  const ms = performance.now() - t0;
  const calls = recording.length;
  lastCalls = recording;
  recording = null;
  return {
    ms,
    kinds,
    statuses,
    acknowledgedLots: [...lots.values()].filter((l) => l.state === 'acknowledged').length,
    paidDocuments: [...invoices.values()].flatMap((r) => r.documents).filter((d) => d.state === 'paid').length,
    verifiedService,
    verifyCalls: calls,
    readMs,
    byKind,
  };
}

let lastCalls: VerifyArgs[] = [];

/** The RSA verifications of the last round, alone, one after the other as our run makes them. */
export async function primitives(): Promise<{ ms: number; calls: number }> {
  const calls = lastCalls;
  const t0 = performance.now();
  for (const args of calls) {
    if (!(await realVerify(...args))) throw new Error('a recorded verification does not verify');
  }
  return { ms: performance.now() - t0, calls: calls.length };
}
