/**
 * What may be known of an invoice record without its content (docs/adr/0014-invoices-at-rest.md):
 * states, dates, numbers, amounts and deadlines — never a NIR, a name or an act. The browser
 * keeps it in clear beside the sealed record, so the day's lists, the outbox and the deadlines
 * show while the session is locked, and the record's content stays shut.
 */
import { invoiceDeadline, invoiceStatus, type DeadlineOptions, type DocumentState, type InvoiceRecord, type InvoiceStatus } from './lifecycle.js';
import type { DocumentKind } from './ssv/types.js';

export interface InvoiceSummary {
  readonly status: InvoiceStatus;
  /** ISO instants of the first and last events. */
  readonly createdAt: string;
  readonly updatedAt: string;
  /** The last act's date (ISO date): the care the deadline counts from. */
  readonly careDate?: string;
  /** The patient does not pay the whole fee (third-party payment). */
  readonly thirdParty: boolean;
  /** Built without the Vitale card (degraded mode). */
  readonly degraded: boolean;
  /** Once submitted: the invoice number and fee. */
  readonly number?: string;
  readonly feeCents?: number;
  /** The last day to transmit, while it has not left. */
  readonly deadline?: string;
  readonly documents: readonly { readonly kind: DocumentKind; readonly number: string; readonly state: DocumentState; readonly lotId?: string }[];
}

export function summarizeInvoice(r: InvoiceRecord, o: DeadlineOptions = {}): InvoiceSummary {
  const careDate = r.invoice.acts.reduce((m, a) => (a.date > m ? a.date : m), '');
  const deadline = invoiceDeadline(r, o);
  return {
    status: invoiceStatus(r),
    createdAt: r.history[0]?.at ?? '',
    updatedAt: r.history[r.history.length - 1]?.at ?? '',
    ...(careDate ? { careDate } : {}),
    thirdParty: r.invoice.context !== 'none',
    degraded: r.submission?.securing === 'degraded',
    ...(r.submission ? { number: r.submission.number, feeCents: r.submission.priced.totals.feeCents } : {}),
    ...(deadline ? { deadline } : {}),
    documents: r.documents.map((d) => ({ kind: d.kind, number: d.number, state: d.state, ...(d.lotId ? { lotId: d.lotId } : {}) })),
  };
}
