/**
 * Third-party payments reconciled (issue 15 item 3): for every document sent under third-party
 * payment, what the insurer owes the practitioner (`expectedPaymentCents`), what its RSP paid,
 * what it rejected, and what is still awaited. Pure, over the records; amounts in cents.
 */
import { expectedPaymentCents, type DocumentState, type InvoiceRecord } from './lifecycle.js';
import type { DocumentKind } from './ssv/types.js';

export interface PaymentLine {
  readonly invoiceId: string;
  readonly kind: DocumentKind;
  readonly number: string;
  readonly state: DocumentState;
  readonly expectedCents: number;
  readonly paidCents: number;
  /** Paid on (RSP), or rejected with the insurer's code and label. */
  readonly date?: string;
  readonly rejection?: { readonly code: string; readonly label: string };
}

export interface PaymentTotals {
  /** Owed by the insurers for what left this workstation. */
  readonly expectedCents: number;
  readonly paidCents: number;
  /** Owed on documents the insurers rejected. */
  readonly rejectedCents: number;
  /** Owed on documents with no RSP yet. */
  readonly outstandingCents: number;
  /** Expected − paid on documents paid in part. */
  readonly shortfallCents: number;
}

const SENT: ReadonlySet<DocumentState> = new Set(['sent', 'acknowledged', 'paid', 'partially_paid', 'rejected']);

export function reconcilePayments(records: readonly InvoiceRecord[]): { lines: PaymentLine[]; totals: PaymentTotals } {
  const lines: PaymentLine[] = [];
  for (const r of records) {
    for (const d of r.documents) {
      if (!SENT.has(d.state)) continue;
      const expectedCents = expectedPaymentCents(r, d.kind);
      if (expectedCents === 0) continue;
      lines.push({
        invoiceId: r.id,
        kind: d.kind,
        number: d.number,
        state: d.state,
        expectedCents,
        paidCents: d.payment?.amountCents ?? 0,
        ...(d.payment ? { date: d.payment.date } : {}),
        ...(d.rejection ? { rejection: d.rejection } : {}),
      });
    }
  }
  let expected = 0;
  let paid = 0;
  let rejected = 0;
  let outstanding = 0;
  let shortfall = 0;
  for (const l of lines) {
    expected += l.expectedCents;
    paid += l.paidCents;
    if (l.state === 'rejected') rejected += l.expectedCents;
    else if (l.state === 'partially_paid') shortfall += l.expectedCents - l.paidCents;
    else if (l.state !== 'paid') outstanding += l.expectedCents;
  }
  return { lines, totals: { expectedCents: expected, paidCents: paid, rejectedCents: rejected, outstandingCents: outstanding, shortfallCents: shortfall } };
}
