/**
 * An invoice as it is being typed (issue 14 item 4): built, checked and priced at every change,
 * so that the page shows the amounts with their working and every problem in French before
 * anything is signed. Never throws on bad input: what the model refuses is a problem like the
 * others (construction errors first; then the checks; then what pricing refuses, once).
 */
import { checkInvoice, type CheckContext } from './checks.js';
import { BillingError } from './errors.js';
import { createInvoice, type Invoice, type InvoiceInput } from './invoice.js';
import { priceInvoice, type PricedInvoice } from './pricing.js';

export interface Evaluation {
  readonly invoice?: Invoice;
  /** Absent when the invoice cannot be priced (an unknown code, a coefficient out of range…). */
  readonly priced?: PricedInvoice;
  readonly problems: readonly BillingError[];
}

export function evaluateInvoice(input: InvoiceInput, ctx: CheckContext): Evaluation {
  let invoice: Invoice;
  try {
    invoice = createInvoice(input);
  } catch (e) {
    if (e instanceof BillingError) return { problems: [e] };
    throw e;
  }
  const problems = [...checkInvoice(invoice, ctx)];
  let priced: PricedInvoice | undefined;
  try {
    priced = priceInvoice(invoice, ctx.catalogue);
  } catch (e) {
    if (!(e instanceof BillingError)) throw e;
    if (!problems.some((p) => p.code === e.code && p.field === e.field)) problems.push(e);
  }
  return { invoice, ...(priced ? { priced } : {}), problems };
}
