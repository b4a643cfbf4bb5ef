/**
 * How long the workstation keeps its copies (issue 14 item 7): every invoice for 3 months, and
 * then only once its fate is settled — acknowledged by a positive ARL (or paid, or rejected
 * by the RSP), or cancelled. An invoice still waiting for its ARL, or never sent, is kept
 * whatever its age: it is the practitioner's only proof. A lot goes with the last of its
 * invoices. Counted in calendar months from the day of the record's last event, in the
 * practice's zone.
 */
import { today } from './dates.js';
import type { InvoiceRecord, LotRecord } from './lifecycle.js';

export const RETENTION_MONTHS = 3;

/** Document states after which nothing more is expected of the insurers. */
const SETTLED = new Set(['acknowledged', 'paid', 'partially_paid', 'rejected']);

/** `iso` plus `months` calendar months (the 31st of a shorter month: its last day). */
export function addMonths(iso: string, months: number): string {
  const [y, m, d] = iso.split('-').map(Number) as [number, number, number];
  const total = y * 12 + (m - 1) + months;
  const year = Math.floor(total / 12);
  const month = (total % 12) + 1;
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(Math.min(d, last)).padStart(2, '0')}`;
}

const lastDay = (history: readonly { at: string }[], timeZone?: string): string | undefined => {
  const at = history.at(-1)?.at;
  return at ? today(() => Date.parse(at), timeZone) : undefined;
};

/** Settled, and its last event at least 3 months before `day` (ISO date). */
export function invoicePurgeable(r: InvoiceRecord, day: string, timeZone?: string): boolean {
  const settled = r.invoice.state === 'cancelled' ? r.documents.every((d) => d.state === 'signed') : r.documents.length > 0 && r.documents.every((d) => SETTLED.has(d.state));
  if (!settled) return false;
  const last = lastDay(r.history, timeZone);
  return last !== undefined && addMonths(last, RETENTION_MONTHS) <= day;
}

export interface Purge {
  readonly invoices: readonly string[];
  readonly lots: readonly string[];
}

/**
 * What may go today: the purgeable invoices, and the lots all of whose invoices go (or are gone
 * already) and that are settled themselves (acknowledged or dissolved) and old enough.
 */
export function purgeable(invoices: readonly InvoiceRecord[], lots: readonly LotRecord[], day: string, timeZone?: string): Purge {
  const going = new Set(invoices.filter((r) => invoicePurgeable(r, day, timeZone)).map((r) => r.id));
  const kept = new Set(invoices.filter((r) => !going.has(r.id)).map((r) => r.id));
  const lotIds = lots
    .filter((l) => (l.state === 'acknowledged' || l.state === 'dissolved') && l.documents.every((d) => !kept.has(d.invoiceId)))
    .filter((l) => {
      const last = lastDay(l.history, timeZone);
      return last !== undefined && addMonths(last, RETENTION_MONTHS) <= day;
    })
    .map((l) => l.id);
  return { invoices: [...going], lots: lotIds };
}
