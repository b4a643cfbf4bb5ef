/**
 * The numbers a set of records has used, as counter floors (numbering.ts): what a restore from a
 * backup must raise the workstation's counters to, so that no number is ever handed out twice
 * (a profile cleared, or another workstation, starts its counters at zero). Gaps are allowed,
 * repeats never: every floor errs on the high side.
 *
 * - `invoice:<billing number>`: the highest invoice number of that situation — submitted,
 *   abandoned by a correction (the `reopened` event keeps it; counted under the situation the
 *   invoice is in now), or carried by its documents.
 * - `lot:<sender>`: the highest lot number.
 * - `file:<sender>`: the same value. A file's number is inside its name, in the adapter's own
 *   form; but lot and file numbers are drawn together, at least one lot per file, from counters
 *   that start together, so the last lot of any transmission is numbered at least as high as
 *   its files: the highest lot number bounds every file number that went out with a lot.
 */
import type { InvoiceRecord, LotRecord } from './lifecycle.js';
import { COUNTER_KEY } from './numbering.js';

const number = (v: unknown): number => (typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : 0);

export function numbersInUse(invoices: readonly InvoiceRecord[], lots: readonly LotRecord[]): Map<string, number> {
  const floors = new Map<string, number>();
  const raise = (key: string, value: number): void => {
    if (value > 0 && COUNTER_KEY.test(key) && value > (floors.get(key) ?? 0)) floors.set(key, value);
  };
  for (const r of invoices) {
    const key = `invoice:${r.invoice.practitioner.situation.billingNumber}`;
    raise(key, number(r.submission?.number));
    for (const d of r.documents) raise(key, number(d.number));
    for (const e of r.history) {
      raise(key, number(e.detail?.number));
      raise(key, number(e.detail?.abandonedNumber));
    }
  }
  for (const l of lots) {
    raise(`lot:${l.sender}`, number(l.number));
    raise(`file:${l.sender}`, number(l.number));
  }
  return floors;
}
