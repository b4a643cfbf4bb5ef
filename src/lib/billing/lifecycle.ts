/**
 * The life of invoices, of their documents and of lots, as records that only domain
 * operations change (docs/adr/0011-billing-records-and-history.md):
 *
 * - An `InvoiceRecord` holds the invoice's content and its own state (draft, to_sign, signed,
 *   cancelled); from signing on, one `DocumentRecord` per document, the FSE and the DRE, each
 *   with its own fate: the AMO may pay the FSE while the AMC rejects the DRE.
 *
 *     document:  signed ──► in_lot ──► sent ──► acknowledged ──► paid | partially_paid | rejected
 *                  ▲          │          └──────────────────────► (an RSP may come before the ARL)
 *                  └──────────┘ (lot dissolved before it left)
 *
 * - A `LotRecord` is an entity: number, recipient organism, file, each transmission with its
 *   compostage and subject, its ARL.
 *
 *     lot:  built ──► queued ──► accepted ──► delivered ──► acknowledged (positive ARL)
 *             │         ▲                         │
 *             ▼         └──── refused ◄───────────┘ (negative ARL; or no ARL in time:
 *         dissolved          (retransmitted with a NEW compostage)    delivered ──► queued)
 *                       ▲
 *                       └──── bounced ◄── accepted | delivered (the relay could not deliver it)
 *
 * - Every operation checks what it needs (signing needs every document signed and verifying;
 *   it keeps the priced amounts and the catalogue version fixed at submission) and appends an
 *   event to an append-only history, which is also what a sync between devices will replay.
 *   Events carry numbers, codes, states and amounts: never a NIR, a name or an act.
 *
 * Records are frozen values; an operation returns new ones and never mutates its inputs.
 */
import type { Clock } from './dates.js';
import { BillingError, fail } from './errors.js';
import { transition, type Invoice } from './invoice.js';
import type { PricedInvoice } from './pricing.js';
import { verifyDocumentSignature } from './signing.js';
import type { PreparedInvoice } from './ssv/pipeline.js';
import type { Destination, DocumentKind, FormattedDocument, Lot, Securing, SignedDocument } from './ssv/types.js';

export type EventType =
  | 'created'
  | 'edited'
  | 'submitted'
  | 'reopened'
  | 'signed'
  | 'cancelled'
  | 'lot_built'
  | 'lot_dissolved'
  | 'lot_queued'
  | 'lot_accepted'
  | 'lot_delivered'
  | 'lot_bounced'
  | 'arl_positive'
  | 'arl_negative'
  | 'rsp_paid'
  | 'rsp_partially_paid'
  | 'rsp_rejected';

/** One entry of a record's history. `detail` holds numbers, codes, states and amounts only. */
export interface BillingEvent {
  readonly seq: number;
  /** ISO 8601 instant, from the injected clock. */
  readonly at: string;
  readonly type: EventType;
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

export type DocumentState = 'signed' | 'in_lot' | 'sent' | 'acknowledged' | 'paid' | 'partially_paid' | 'rejected';

export interface DocumentRecord {
  readonly kind: DocumentKind;
  readonly number: string;
  readonly state: DocumentState;
  readonly signed: SignedDocument;
  /** The lot carrying it, from `in_lot` on. */
  readonly lotId?: string;
  /** From the RSP: what was paid, and when. */
  readonly payment?: { readonly amountCents: number; readonly date: string };
  /** From the RSP: why it was rejected (the insurer's code and label). */
  readonly rejection?: { readonly code: string; readonly label: string };
}

/** Fixed at submission: the number, the amounts and the catalogue version they come from. */
export interface Submission {
  readonly number: string;
  readonly priced: PricedInvoice;
  readonly catalogueVersion: string;
  readonly documents: readonly FormattedDocument[];
  /** Built without the Vitale card (degraded mode): a paper copy goes to the patient's fund. Absent: read from the card. */
  readonly securing?: Securing;
}

export interface InvoiceRecord {
  readonly id: string;
  readonly invoice: Invoice;
  readonly submission?: Submission;
  readonly documents: readonly DocumentRecord[];
  readonly history: readonly BillingEvent[];
}

export type LotState = 'built' | 'queued' | 'accepted' | 'delivered' | 'bounced' | 'acknowledged' | 'refused' | 'dissolved';

export interface LotTransmission {
  /** `AAAAMMJJHHMMSSxxxxx` (docs/domain/transmission.md §7): new for every transmission. */
  readonly compostage: string;
  readonly subject: string;
  readonly queuedAt: string;
  /** The relay's id once it accepted the message. */
  readonly messageId?: string;
}

export interface LotRecord {
  /** `sender:kind:number`. */
  readonly id: string;
  readonly kind: DocumentKind;
  readonly number: string;
  readonly sender: string;
  readonly destination: Destination;
  readonly fileName: string;
  readonly documents: readonly { readonly invoiceId: string; readonly kind: DocumentKind; readonly number: string }[];
  readonly state: LotState;
  readonly transmissions: readonly LotTransmission[];
  readonly arl?: { readonly positive: boolean; readonly at: string; readonly reason?: string };
  readonly history: readonly BillingEvent[];
}

const iso = (clock: Clock): string => new Date(clock()).toISOString();

function withEvent<T extends { history: readonly BillingEvent[] }>(r: T, clock: Clock, type: EventType, detail?: BillingEvent['detail'], changes: Partial<T> = {}): T {
  const event: BillingEvent = Object.freeze({ seq: r.history.length + 1, at: iso(clock), type, ...(detail ? { detail: Object.freeze({ ...detail }) } : {}) });
  return Object.freeze({ ...r, ...changes, history: Object.freeze([...r.history, event]) });
}

const STATE_FR: Record<DocumentState | LotState, string> = {
  signed: 'signé',
  in_lot: 'dans un lot',
  sent: 'envoyé',
  acknowledged: 'acquitté',
  paid: 'payé',
  partially_paid: 'payé en partie',
  rejected: 'rejeté',
  built: 'constitué',
  queued: 'en attente d’envoi',
  accepted: 'accepté par le relais',
  delivered: 'remis',
  bounced: 'non remis',
  refused: 'refusé (ARL négatif)',
  dissolved: 'dissous',
};

function forbidden(what: string, state: DocumentState | LotState, action: string): never {
  throw new BillingError('transition_forbidden', 'state', `${what} ${STATE_FR[state]} : ${action} impossible.`);
}

// ---------------------------------------------------------------------------------------------
// Invoices

export function createInvoiceRecord(invoice: Invoice, clock: Clock): InvoiceRecord {
  if (invoice.state !== 'draft') fail('transition_forbidden', 'state', 'Une facture commence à l’état brouillon.');
  return withEvent({ id: invoice.id, invoice, documents: Object.freeze([]), history: Object.freeze([]) }, clock, 'created');
}

/** Replaces the content of a draft (the same invoice id). */
export function editDraft(r: InvoiceRecord, invoice: Invoice, clock: Clock): InvoiceRecord {
  if (r.invoice.state !== 'draft') fail('transition_forbidden', 'state', 'Seul un brouillon se modifie : remettre la facture en brouillon d’abord.');
  if (invoice.id !== r.id || invoice.state !== 'draft') fail('invoice_id_invalid', 'id', 'La facture modifiée doit garder son identifiant et rester un brouillon.');
  return withEvent(r, clock, 'edited', { acts: invoice.acts.length }, { invoice });
}

/**
 * draft → to_sign with what `prepareInvoice` fixed (every check passed, the number drawn, the
 * amounts priced, the documents formatted): those stay as they are until the signature.
 */
export function submitInvoice(r: InvoiceRecord, prepared: PreparedInvoice, clock: Clock): InvoiceRecord {
  if (r.invoice.state !== 'draft') fail('transition_forbidden', 'state', 'Seul un brouillon se soumet à la signature.');
  if (prepared.invoice.id !== r.id || prepared.invoice.state !== 'to_sign') fail('transition_forbidden', 'prepared', 'Facture préparée d’une autre facture, ou non contrôlée.');
  const submission: Submission = Object.freeze({
    number: prepared.number,
    priced: prepared.priced,
    catalogueVersion: prepared.priced.catalogueVersion,
    documents: Object.freeze([...prepared.documents]),
    ...(prepared.securing === 'degraded' ? { securing: 'degraded' as const } : {}),
  });
  return withEvent(r, clock, 'submitted', { number: prepared.number, catalogueVersion: submission.catalogueVersion, feeCents: prepared.priced.totals.feeCents, documents: prepared.documents.map((d) => d.kind).join('+'), securing: prepared.securing ?? 'vitale' }, { invoice: prepared.invoice, submission });
}

/** to_sign → draft, to change it: its number is abandoned (a gap, never reused). */
export function reopenInvoice(r: InvoiceRecord, clock: Clock): InvoiceRecord {
  if (r.invoice.state !== 'to_sign') fail('transition_forbidden', 'state', 'Seule une facture à signer se remet en brouillon.');
  const { submission: abandoned, ...rest } = r;
  return withEvent<InvoiceRecord>(rest, clock, 'reopened', { abandonedNumber: abandoned?.number ?? '' }, { invoice: transition(r.invoice, 'draft') });
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * to_sign → signed: every document of the submission, and nothing else, signed, each signature
 * verifying with its certificate over exactly the submitted bytes. All or nothing.
 */
export async function signInvoice(r: InvoiceRecord, signed: readonly SignedDocument[], clock: Clock): Promise<InvoiceRecord> {
  const s = r.submission;
  if (r.invoice.state !== 'to_sign' || !s) fail('transition_forbidden', 'state', 'Seule une facture à signer se signe.');
  if (signed.length !== s.documents.length) fail('signature_failed', 'documents', `${s.documents.length} document(s) à signer, ${signed.length} signé(s) : la facture reste à signer.`);
  const documents: DocumentRecord[] = [];
  for (const expected of s.documents) {
    const d = signed.find((x) => x.kind === expected.kind && x.number === expected.number);
    if (!d || !sameBytes(d.bytes, expected.bytes)) fail('signature_failed', expected.kind, `${expected.kind} ${expected.number} : document signé absent ou différent de celui soumis.`);
    if (d.signature.length === 0 || d.certificate.length === 0) fail('signature_failed', expected.kind, `${expected.kind} ${expected.number} : signature absente.`);
    const verdict = await verifyDocumentSignature(d);
    if (!verdict.ok) fail('signature_failed', expected.kind, `${expected.kind} ${expected.number} : ${verdict.reason}.`);
    documents.push(Object.freeze({ kind: d.kind, number: d.number, state: 'signed', signed: d }));
  }
  return withEvent(r, clock, 'signed', { number: s.number, documents: documents.map((d) => d.kind).join('+') }, { invoice: transition(r.invoice, 'signed'), documents: Object.freeze(documents) });
}

/** Cancels a draft, an invoice to sign, or a signed one none of whose documents left for a lot. */
export function cancelInvoice(r: InvoiceRecord, reason: string, clock: Clock): InvoiceRecord {
  const inLot = r.documents.find((d) => d.state !== 'signed');
  if (inLot) forbidden(`${inLot.kind} ${inLot.number}`, inLot.state, 'annulation');
  if (!/^[a-z_]{1,40}$/.test(reason)) fail('transition_forbidden', 'reason', 'Motif d’annulation : un code court attendu.');
  return withEvent(r, clock, 'cancelled', { reason }, { invoice: transition(r.invoice, 'cancelled') });
}

/**
 * The invoice's state as the practitioner reads it, from its own and its documents': the
 * least advanced document speaks (an invoice is `sent` until all its documents are).
 */
export type InvoiceStatus = 'draft' | 'to_sign' | 'signed' | 'in_lot' | 'sent' | 'acknowledged' | 'paid' | 'partially_paid' | 'rejected' | 'cancelled';

const ORDER: readonly DocumentState[] = ['signed', 'in_lot', 'sent', 'acknowledged', 'partially_paid', 'paid'];

export function invoiceStatus(r: InvoiceRecord): InvoiceStatus {
  if (r.invoice.state !== 'signed') return r.invoice.state;
  if (r.documents.some((d) => d.state === 'rejected')) return 'rejected';
  const least = Math.min(...r.documents.map((d) => ORDER.indexOf(d.state)));
  return ORDER[least] ?? 'signed';
}

// ---------------------------------------------------------------------------------------------
// Lots

export const lotId = (sender: string, kind: DocumentKind, number: string): string => `${sender}:${kind}:${number}`;

function updateDocuments(records: readonly InvoiceRecord[], refs: LotRecord['documents'], clock: Clock, change: (d: DocumentRecord, r: InvoiceRecord) => DocumentRecord | undefined, type: EventType, detail: BillingEvent['detail']): InvoiceRecord[] {
  return records.map((r) => {
    const mine = refs.filter((x) => x.invoiceId === r.id);
    if (mine.length === 0) return r;
    let touched = false;
    const documents = r.documents.map((d) => {
      if (!mine.some((x) => x.kind === d.kind && x.number === d.number)) return d;
      const next = change(d, r);
      if (!next || next === d) return d;
      touched = true;
      return Object.freeze(next);
    });
    return touched ? withEvent(r, clock, type, detail, { documents: Object.freeze(documents) }) : r;
  });
}

function findRefs(lot: Lot, records: readonly InvoiceRecord[]): LotRecord['documents'] {
  return lot.documents.map((doc) => {
    const r = records.find((x) => x.submission?.number === doc.number && x.invoice.practitioner.situation.billingNumber === doc.billingNumber);
    const d = r?.documents.find((x) => x.kind === doc.kind && x.number === doc.number);
    if (!r || !d) fail('transition_forbidden', 'documents', `${doc.kind} ${doc.number} : aucune facture signée ne lui correspond.`);
    if (d.state !== 'signed') forbidden(`${doc.kind} ${doc.number}`, d.state, 'mise en lot');
    return Object.freeze({ invoiceId: r.id, kind: doc.kind, number: doc.number });
  });
}

/** A lot built from signed documents: each moves to `in_lot`, pointing to the lot. */
export function createLotRecord(lot: Lot, sender: string, fileName: string, records: readonly InvoiceRecord[], clock: Clock): { lot: LotRecord; invoices: InvoiceRecord[] } {
  const refs = Object.freeze(findRefs(lot, records));
  const id = lotId(sender, lot.kind, lot.number);
  const base: LotRecord = { id, kind: lot.kind, number: lot.number, sender, destination: lot.destination, fileName, documents: refs, state: 'built', transmissions: Object.freeze([]), history: Object.freeze([]) };
  const record = withEvent(base, clock, 'lot_built', { documents: refs.length, organism: lot.destination.organism, fileName });
  const invoices = updateDocuments(records, refs, clock, (d) => ({ ...d, state: 'in_lot', lotId: id }), 'lot_built', { lot: id });
  return { lot: record, invoices };
}

/** A lot that never left is dissolved: its documents are `signed` again, free for another lot. */
export function dissolveLot(lot: LotRecord, records: readonly InvoiceRecord[], clock: Clock): { lot: LotRecord; invoices: InvoiceRecord[] } {
  if (lot.state !== 'built') forbidden('Lot', lot.state, 'dissolution');
  const free = (d: DocumentRecord): DocumentRecord => {
    if (d.lotId !== lot.id) return d;
    const { lotId: _dropped, ...rest } = d;
    return { ...rest, state: 'signed' };
  };
  const invoices = updateDocuments(records, lot.documents, clock, free, 'lot_dissolved', { lot: lot.id });
  return { lot: withEvent(lot, clock, 'lot_dissolved', undefined, { state: 'dissolved' }), invoices };
}

const COMPOSTAGE = /^\d{14}\d{5}$/;

/**
 * The lot's message is durable in the outbox, with its compostage and subject. Also the
 * retransmission of a refused lot, or of a delivered one whose ARL did not come in time:
 * always with a compostage never used for this lot (docs/domain/transmission.md §7).
 */
export function queueLot(lot: LotRecord, t: { compostage: string; subject: string }, clock: Clock): LotRecord {
  if (lot.state !== 'built' && lot.state !== 'refused' && lot.state !== 'delivered' && lot.state !== 'bounced') forbidden('Lot', lot.state, 'envoi');
  if (!COMPOSTAGE.test(t.compostage)) fail('format_invalid', 'compostage', 'Compostage AAAAMMJJHHMMSSxxxxx attendu.');
  if (!t.subject.includes(`/${t.compostage}/`)) fail('format_invalid', 'subject', 'L’objet du message doit porter le compostage du lot.');
  if (lot.transmissions.some((x) => x.compostage === t.compostage)) fail('transition_forbidden', 'compostage', 'Une retransmission doit porter un compostage nouveau.');
  const transmission: LotTransmission = Object.freeze({ compostage: t.compostage, subject: t.subject, queuedAt: iso(clock) });
  const retransmission = lot.transmissions.length > 0;
  return withEvent(lot, clock, 'lot_queued', { compostage: t.compostage, retransmission }, { state: 'queued', transmissions: Object.freeze([...lot.transmissions, transmission]) });
}

/** The relay took the message (its id), durably. */
export function lotAccepted(lot: LotRecord, messageId: string, clock: Clock): LotRecord {
  if (lot.state !== 'queued') forbidden('Lot', lot.state, 'acceptation par le relais');
  const last = lot.transmissions.at(-1)!;
  const transmissions = Object.freeze([...lot.transmissions.slice(0, -1), Object.freeze({ ...last, messageId })]);
  return withEvent(lot, clock, 'lot_accepted', { messageId }, { state: 'accepted', transmissions });
}

/** The insurer's server took the message: its documents are `sent` (the deadlines run from here). */
export function lotDelivered(lot: LotRecord, records: readonly InvoiceRecord[], clock: Clock): { lot: LotRecord; invoices: InvoiceRecord[] } {
  if (lot.state !== 'accepted') forbidden('Lot', lot.state, 'remise');
  const invoices = updateDocuments(records, lot.documents, clock, (d) => (d.state === 'in_lot' ? { ...d, state: 'sent' } : d), 'lot_delivered', { lot: lot.id });
  return { lot: withEvent(lot, clock, 'lot_delivered', { compostage: lot.transmissions.at(-1)!.compostage }, { state: 'delivered' }), invoices };
}

/**
 * The relay could not deliver the lot's latest message (a DSN, or its SMTP peer refused it for
 * good): the lot is to be sent again (retransmission with a new compostage), its documents stay
 * in the lot.
 */
export function lotBounced(lot: LotRecord, status: string, clock: Clock): LotRecord {
  if (lot.state !== 'accepted' && lot.state !== 'delivered') forbidden('Lot', lot.state, 'non-remise');
  return withEvent(lot, clock, 'lot_bounced', { compostage: lot.transmissions.at(-1)!.compostage, status: status.slice(0, 40) }, { state: 'bounced' });
}

/**
 * The ARL of the lot. Positive: the lot arrived, its documents are `acknowledged` (the
 * practitioner's responsibility is discharged). Negative: the lot is `refused` and waits for
 * its retransmission; its documents stay `sent`.
 */
export function recordArl(lot: LotRecord, arl: { positive: boolean; reason?: string }, records: readonly InvoiceRecord[], clock: Clock): { lot: LotRecord; invoices: InvoiceRecord[] } {
  if (lot.state !== 'delivered' && lot.state !== 'accepted') forbidden('Lot', lot.state, 'accusé de réception logique');
  const at = iso(clock);
  const detail = { positive: arl.positive, ...(arl.reason ? { reason: arl.reason.slice(0, 80) } : {}) };
  const record = withEvent(lot, clock, arl.positive ? 'arl_positive' : 'arl_negative', detail, { state: arl.positive ? 'acknowledged' : 'refused', arl: Object.freeze({ positive: arl.positive, at, ...(arl.reason ? { reason: arl.reason.slice(0, 80) } : {}) }) });
  if (!arl.positive) return { lot: record, invoices: [...records] };
  const invoices = updateDocuments(records, lot.documents, clock, (d) => (d.state === 'in_lot' || d.state === 'sent' ? { ...d, state: 'acknowledged' } : d), 'arl_positive', { lot: lot.id });
  return { lot: record, invoices };
}

export type RspOutcome =
  | { readonly status: 'paid'; readonly amountCents: number; readonly date: string }
  | { readonly status: 'partially_paid'; readonly amountCents: number; readonly date: string }
  | { readonly status: 'rejected'; readonly code: string; readonly label: string };

/**
 * What the insurer owes the practitioner for a document under third-party payment: the AMO's
 * part for an FSE, the AMC's for a DRE (pricing's `amoToPractitionerCents` /
 * `amcToPractitionerCents`; the flat contribution is recovered from the patient, not from the
 * practitioner). 0 without third-party payment: no payment is then expected.
 */
export function expectedPaymentCents(r: InvoiceRecord, kind: DocumentKind): number {
  const t = r.submission?.priced.totals;
  if (!t) return 0;
  return kind === 'FSE' ? t.amoToPractitionerCents : t.amcToPractitionerCents;
}

/** An RSP about one document (FSE or DRE): paid, partly paid, or rejected with the reason. */
export function recordRsp(r: InvoiceRecord, doc: { kind: DocumentKind; number: string }, outcome: RspOutcome, clock: Clock): InvoiceRecord {
  const d = r.documents.find((x) => x.kind === doc.kind && x.number === doc.number);
  if (!d) fail('transition_forbidden', 'document', `${doc.kind} ${doc.number} : document inconnu de cette facture.`);
  if (d.state !== 'sent' && d.state !== 'acknowledged') forbidden(`${d.kind} ${d.number}`, d.state, 'retour RSP');
  let next: DocumentRecord;
  let detail: BillingEvent['detail'];
  if (outcome.status === 'rejected') {
    next = { ...d, state: 'rejected', rejection: Object.freeze({ code: outcome.code.slice(0, 20), label: outcome.label.slice(0, 200) }) };
    detail = { kind: d.kind, number: d.number, code: outcome.code.slice(0, 20) };
  } else {
    const asked = expectedPaymentCents(r, d.kind);
    if (!Number.isSafeInteger(outcome.amountCents) || outcome.amountCents < 0) fail('amount_invalid', 'amountCents', 'Montant payé invalide.');
    if (asked === 0) fail('amount_invalid', 'amountCents', `${d.kind} ${d.number} sans tiers payant : aucun paiement n’est attendu de l’organisme.`);
    if (outcome.status === 'paid' && outcome.amountCents !== asked) fail('amount_invalid', 'amountCents', 'Un paiement complet règle exactement le montant dû au praticien ; sinon, paiement partiel.');
    if (outcome.status === 'partially_paid' && outcome.amountCents >= asked) fail('amount_invalid', 'amountCents', 'Un paiement partiel est inférieur au montant dû au praticien.');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(outcome.date)) fail('date_invalid', 'date', 'Date de paiement AAAA-MM-JJ attendue.');
    next = { ...d, state: outcome.status, payment: Object.freeze({ amountCents: outcome.amountCents, date: outcome.date }) };
    detail = { kind: d.kind, number: d.number, amountCents: outcome.amountCents, askedCents: asked, date: outcome.date };
  }
  const documents = Object.freeze(r.documents.map((x) => (x === d ? Object.freeze(next) : x)));
  return withEvent(r, clock, outcome.status === 'rejected' ? 'rsp_rejected' : outcome.status === 'paid' ? 'rsp_paid' : 'rsp_partially_paid', detail, { documents });
}

// Deadlines: ./deadlines.ts (card-free and core-free, for the home page).
export { invoiceDeadline, lotDeadlines, type DeadlineOptions, type LotDeadlines } from './deadlines.js';
