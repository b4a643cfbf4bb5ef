/**
 * The billing day as three steps over any `SsvAdapter`, shared by the CLI, the benchmark and
 * the PWA:
 *
 *   prepare   checks → `to_sign`, pricing, invoice number (durable, drawn only once the checks
 *             passed, so a refused invoice never consumes a number), FSE (+ DRE) formatted.
 *             The result can be stored and signed later (signature désynchronisée).
 *   sign      one card signature per document after one PIN entry (the caller's); a card pulled
 *             midway leaves each invoice signed or not, never half (signing.ts `signBatch`).
 *   transmit  lots per destination organism, then files by transmission way; lot and file
 *             numbers drawn from the same durable counters.
 *
 * Encryption and packaging into the SMTP message stay with src/lib/sesam (`packageFile`) and
 * the outbox: this module produces the files.
 */
import { checkInvoice, submitForSigning, type CheckContext } from '../checks.js';
import { today } from '../dates.js';
import { BillingError, fail } from '../errors.js';
import { transition, type Invoice } from '../invoice.js';
import { checkSender, type BillingNumbering } from '../numbering.js';
import { priceInvoice, type PricedInvoice } from '../pricing.js';
import { signBatch, type BatchResult } from '../signing.js';
import type { BillingFile, FormattedDocument, InvoiceSigner, Lot, Securing, SignedDocument, SsvAdapter, TransmissionWay } from './types.js';

export interface PreparedInvoice {
  /** The invoice in `to_sign`. */
  readonly invoice: Invoice;
  readonly priced: PricedInvoice;
  readonly number: string;
  /** Its FSE, and its DRE when asked. */
  readonly documents: readonly FormattedDocument[];
}

export interface PrepareOptions {
  readonly adapter: SsvAdapter;
  readonly numbering: BillingNumbering;
  readonly checks: CheckContext;
  readonly securing?: Securing;
}

/** Prices and formats an invoice that passed its checks (`to_sign`) under its number. */
async function formatChecked(invoice: Invoice, number: string, o: PrepareOptions): Promise<PreparedInvoice> {
  const priced = priceInvoice(invoice, o.checks.catalogue);
  const createdOn = today(o.checks.clock, o.checks.timeZone);
  const documents = await o.adapter.formatInvoice({ invoice, priced, number, createdOn, securing: o.securing ?? 'vitale' });
  return Object.freeze({ invoice, priced, number, documents: Object.freeze(documents) });
}

/** Checks, prices, numbers and formats one invoice. Throws `checks_failed` with every problem. */
export async function prepareInvoice(draft: Invoice, o: PrepareOptions): Promise<PreparedInvoice> {
  const invoice = submitForSigning(draft, o.checks);
  const number = await o.numbering.invoiceNumber(invoice.practitioner.situation.billingNumber);
  return formatChecked(invoice, number, o);
}

/**
 * The evening's one action over the day's drafts: every invoice is checked first (with the
 * others of the batch, for duplicates), and only if all pass are numbers drawn — one durable
 * reservation per billing number, in the drafts' order — and documents formatted; otherwise
 * `checks_failed` listing every invoice's problems, and nothing is drawn.
 */
export async function prepareInvoices(drafts: readonly Invoice[], o: PrepareOptions): Promise<PreparedInvoice[]> {
  const problems = drafts.flatMap((d) =>
    checkInvoice(d, { ...o.checks, others: [...(o.checks.others ?? []), ...drafts.filter((x) => x !== d)] }).map((e) => new BillingError(e.code, `${d.id}${e.field ? `.${e.field}` : ''}`, e.message)),
  );
  if (problems.length > 0) {
    const n = problems.length;
    throw new BillingError('checks_failed', '', `${n} problème${n > 1 ? 's' : ''} à corriger avant de préparer les factures.`, problems);
  }
  const byBillingNumber = new Map<string, Invoice[]>();
  for (const d of drafts) {
    const bn = d.practitioner.situation.billingNumber;
    const list = byBillingNumber.get(bn);
    if (list) list.push(d);
    else byBillingNumber.set(bn, [d]);
  }
  const numbers = new Map<Invoice, string>();
  for (const [bn, list] of byBillingNumber) {
    const block = await o.numbering.invoiceNumbers(bn, list.length);
    list.forEach((d, i) => numbers.set(d, block[i]!));
  }
  const out: PreparedInvoice[] = [];
  for (const d of drafts) out.push(await formatChecked(transition(d, 'to_sign'), numbers.get(d)!, o));
  return out;
}

/** Signs every pending document: one card signature each, signed or not, never half. */
export function signPending(prepared: readonly PreparedInvoice[], signer: InvoiceSigner, options?: Parameters<typeof signBatch>[2]): Promise<BatchResult> {
  return signBatch(
    prepared.flatMap((p) => p.documents),
    signer,
    options,
  );
}

export interface TransmitOptions {
  readonly adapter: SsvAdapter;
  readonly numbering: BillingNumbering;
  readonly way: TransmissionWay;
  /** Sender number ("numéro émetteur"): the practitioner's billing number in direct mode. */
  readonly sender: string;
  /** YYYY-MM-DD. */
  readonly fileDate: string;
  readonly octNumber?: string;
  readonly messageZone?: string;
}

export interface Transmission {
  readonly lots: readonly Lot[];
  readonly files: readonly BillingFile[];
}

/** Groups signed documents into lots and files, numbered from the durable counters. */
export async function buildTransmission(documents: readonly SignedDocument[], o: TransmitOptions): Promise<Transmission> {
  if (documents.length === 0) fail('no_acts', 'documents', 'Aucune facture signée à transmettre.');
  if ((o.way === 'oct_single' || o.way === 'oct_enriched') && !o.octNumber) fail('format_invalid', 'octNumber', 'Numéro de l’OCT manquant (groupe 12 champ 7).');
  // Lot and file numbers in one durable step when the engine says how many it will need
  // (it plans the same way when it builds); otherwise each when asked.
  const counts = o.adapter.planCounts?.(documents, o.way);
  const reserved = counts ? await o.numbering.lotAndFileNumbers(o.sender, counts.lots, counts.files) : undefined;
  const lotNumbers = (n: number) => (reserved?.lots.length === n ? Promise.resolve(reserved.lots) : o.numbering.lotNumbers(o.sender, n));
  const fileNumbers = (n: number) => (reserved?.files.length === n ? Promise.resolve(reserved.files) : o.numbering.fileNumbers(o.sender, n));
  const lots = await o.adapter.buildLots(documents, { sender: o.sender, lotNumbers });
  const files = await o.adapter.buildFiles(lots, {
    way: o.way,
    sender: o.sender,
    fileDate: o.fileDate,
    fileNumbers,
    ...(o.octNumber !== undefined ? { octNumber: o.octNumber } : {}),
    ...(o.messageZone !== undefined ? { messageZone: o.messageZone } : {}),
  });
  return Object.freeze({ lots: Object.freeze(lots), files: Object.freeze(files) });
}

export interface DayOptions extends PrepareOptions, Omit<TransmitOptions, 'adapter' | 'numbering'> {
  readonly signer: InvoiceSigner;
  readonly batch?: Parameters<typeof signBatch>[2];
}

export interface BilledDay {
  readonly prepared: readonly PreparedInvoice[];
  readonly batch: BatchResult;
  /** Absent when nothing could be signed. */
  readonly transmission?: Transmission;
}

/**
 * The evening's one action: the day's drafts checked, numbered and formatted, signed on the
 * card (one PIN entry, one signature each), grouped into lots and files. What could not be
 * signed stays unsigned, with its reason, and the rest goes on. Everything runs one step after
 * the other: on a workstation of two cores, durable writes run beside the card's work slowed
 * the card more than they saved (measured with `npm run bench -- billing`).
 */
export async function billDay(drafts: readonly Invoice[], o: DayOptions): Promise<BilledDay> {
  if ((o.way === 'oct_single' || o.way === 'oct_enriched') && !o.octNumber) fail('format_invalid', 'octNumber', 'Numéro de l’OCT manquant (groupe 12 champ 7).');
  checkSender(o.sender);
  const prepared = await prepareInvoices(drafts, o);
  const batch = await signBatch(prepared.flatMap((p) => p.documents), o.signer, o.batch);
  if (batch.signed.length === 0) return Object.freeze({ prepared, batch });
  const transmission = await buildTransmission(batch.signed, o);
  return Object.freeze({ prepared, batch, transmission });
}
