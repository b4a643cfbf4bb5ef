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
  /** How the beneficiary's data came in: read from the Vitale card, or by hand (degraded mode). */
  readonly securing: Securing;
}

export interface PrepareOptions {
  readonly adapter: SsvAdapter;
  readonly numbering: BillingNumbering;
  readonly checks: CheckContext;
  readonly securing?: Securing;
}

/** Prices and formats an invoice that passed its checks (`to_sign`) under its number. */
async function formatChecked(invoice: Invoice, number: string, o: PrepareOptions, priced = priceInvoice(invoice, o.checks.catalogue)): Promise<PreparedInvoice> {
  const createdOn = today(o.checks.clock, o.checks.timeZone);
  const securing = o.securing ?? 'vitale';
  const documents = await o.adapter.formatInvoice({ invoice, priced, number, createdOn, securing });
  return Object.freeze({ invoice, priced, number, documents: Object.freeze(documents), securing });
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
  // The numbers' durable write runs while the invoices are priced (pricing needs no number).
  const reserved = (async () => {
    const numbers = new Map<Invoice, string>();
    for (const [bn, list] of byBillingNumber) {
      const block = await o.numbering.invoiceNumbers(bn, list.length);
      list.forEach((d, i) => numbers.set(d, block[i]!));
    }
    return numbers;
  })();
  reserved.catch(() => undefined);
  const checked = drafts.map((d) => transition(d, 'to_sign'));
  const priced = checked.map((inv) => priceInvoice(inv, o.checks.catalogue));
  const numbers = await reserved;
  const out: PreparedInvoice[] = [];
  for (const [i, inv] of checked.entries()) out.push(await formatChecked(inv, numbers.get(drafts[i]!)!, o, priced[i]));
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

/** Lot and file numbers reserved ahead (`billDay` reserves them while the card signs). */
export interface ReservedNumbers {
  readonly lots: readonly string[];
  readonly files: readonly string[];
}

export interface Transmission {
  readonly lots: readonly Lot[];
  readonly files: readonly BillingFile[];
}

/**
 * Groups signed documents into lots and files, numbered from the durable counters.
 * `reserved`: numbers reserved ahead for these documents or more (the whole day, before some
 * invoice failed to sign); the first ones are used, the rest are skipped and never reused — a
 * gap in the numbering, never a repeat (docs/billing/lots-and-files.md). A failed reservation
 * fails the transmission: nothing is numbered from a counter in doubt.
 */
export async function buildTransmission(documents: readonly SignedDocument[], o: TransmitOptions, reserved?: Promise<ReservedNumbers>): Promise<Transmission> {
  if (documents.length === 0) fail('no_acts', 'documents', 'Aucune facture signée à transmettre.');
  if ((o.way === 'oct_single' || o.way === 'oct_enriched') && !o.octNumber) fail('format_invalid', 'octNumber', 'Numéro de l’OCT manquant (groupe 12 champ 7).');
  // Lot and file numbers in one durable step when the engine says how many it will need
  // (it plans the same way when it builds); otherwise each when asked.
  const counts = reserved ? undefined : o.adapter.planCounts?.(documents, o.way);
  const block = reserved ? await reserved : counts ? await o.numbering.lotAndFileNumbers(o.sender, counts.lots, counts.files) : undefined;
  const take = (have: readonly string[] | undefined, n: number, draw: (n: number) => Promise<string[]>): Promise<string[]> =>
    have && n <= have.length ? Promise.resolve(have.slice(0, n)) : draw(n);
  const lotNumbers = (n: number) => take(block?.lots, n, (k) => o.numbering.lotNumbers(o.sender, k));
  const fileNumbers = (n: number) => take(block?.files, n, (k) => o.numbering.fileNumbers(o.sender, k));
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

/** How many lots and files the day's documents make, once formatted (the engine's plan). */
export interface DayPlan {
  readonly lots: number;
  readonly files: number;
}

export interface DayOptions extends PrepareOptions, Omit<TransmitOptions, 'adapter' | 'numbering'> {
  readonly signer: InvoiceSigner;
  readonly batch?: Parameters<typeof signBatch>[2];
  /**
   * Called once the documents are formatted and planned, just before the card signs, so the
   * caller can start durable reservations of its own (a compostage per file, send.ts) that run
   * beside the card. Not called when the engine does not plan (`planCounts` absent).
   */
  readonly onPlanned?: (plan: DayPlan) => void;
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
 * signed stays unsigned, with its reason, and the rest goes on.
 *
 * The card is the slow part, and the lot and file numbers the day needs are known once the
 * documents are formatted: they are reserved in one durable step WHILE the card signs (ADR 0010,
 * second addendum). If some invoice then fails to sign, fewer lots may be needed and the spare
 * numbers are skipped. The invoice numbers cannot wait: they are in the bytes the card signs.
 */
export async function billDay(drafts: readonly Invoice[], o: DayOptions): Promise<BilledDay> {
  if ((o.way === 'oct_single' || o.way === 'oct_enriched') && !o.octNumber) fail('format_invalid', 'octNumber', 'Numéro de l’OCT manquant (groupe 12 champ 7).');
  checkSender(o.sender);
  const prepared = await prepareInvoices(drafts, o);
  const documents = prepared.flatMap((p) => p.documents);
  const plan = o.adapter.planCounts?.(documents, o.way);
  let reserved: Promise<ReservedNumbers> | undefined;
  if (plan) {
    reserved = o.numbering.lotAndFileNumbers(o.sender, plan.lots, plan.files);
    // Awaited below, once the card is done; a failure then fails the transmission.
    reserved.catch(() => undefined);
    o.onPlanned?.(plan);
  }
  const batch = await signBatch(documents, o.signer, o.batch);
  if (batch.signed.length === 0) return Object.freeze({ prepared, batch });
  const transmission = await buildTransmission(batch.signed, o, reserved);
  return Object.freeze({ prepared, batch, transmission });
}
