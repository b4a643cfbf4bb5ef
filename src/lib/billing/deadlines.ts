/**
 * The legal deadlines of invoices and lots (docs/domain/workflow.md §3), from their records:
 * kept apart from the operations (./lifecycle.ts) so the home page computes them without the
 * billing core.
 */
import { arlDueDate, retransmitBy, transmissionDeadline, type HolidayRegion } from '../sesam/deadline.js';
import { today } from './dates.js';
import type { InvoiceRecord, LotRecord } from './lifecycle.js';

/** The practice's calendar date of an instant of a history. */
const dayOf = (at: string, timeZone?: string): string => today(() => Date.parse(at), timeZone);

export interface DeadlineOptions {
  readonly region?: HolidayRegion;
  /** The practice's zone; Europe/Paris by default. */
  readonly timeZone?: string;
}

/**
 * The last day to transmit an invoice that has not left yet: 3 working days after the care
 * when the patient pays, 8 with third-party payment. Our reading for an invoice of several
 * acts: counted from its last act, the day the care it bills ended. Undefined once every
 * document was delivered, or for a cancelled invoice.
 */
export function invoiceDeadline(r: InvoiceRecord, o: DeadlineOptions = {}): string | undefined {
  if (r.invoice.state === 'cancelled') return undefined;
  if (r.documents.length > 0 && r.documents.every((d) => d.state !== 'signed' && d.state !== 'in_lot')) return undefined;
  const lastAct = r.invoice.acts.reduce((m, a) => (a.date > m ? a.date : m), '');
  if (!lastAct) return undefined;
  return transmissionDeadline(lastAct, r.invoice.context !== 'none', o.region);
}

export interface LotDeadlines {
  /** Delivered, no ARL yet: the day by which it is due (2 working days). */
  readonly arlDue?: string;
  /** The last day to retransmit: after a negative ARL, or when the ARL is not there by `arlDue`. */
  readonly retransmitBy?: string;
}

/** What a lot waits for, and until when, from its history. Nothing once acknowledged. */
export function lotDeadlines(lot: LotRecord, o: DeadlineOptions = {}): LotDeadlines {
  if (lot.state === 'refused' && lot.arl) return { retransmitBy: retransmitBy({ negativeArlDate: dayOf(lot.arl.at, o.timeZone) }, o.region) };
  if (lot.state !== 'delivered') return {};
  const delivered = [...lot.history].reverse().find((e) => e.type === 'lot_delivered');
  if (!delivered) return {};
  const sentDate = dayOf(delivered.at, o.timeZone);
  return { arlDue: arlDueDate(sentDate, o.region), retransmitBy: retransmitBy({ sentDate }, o.region) };
}
