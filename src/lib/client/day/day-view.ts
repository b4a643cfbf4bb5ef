/**
 * The practitioner's day on the home page (issue 14 item 8), from what the workstation keeps in
 * clear (docs/adr/0014): the invoices' summaries, the lots and the outbox — so it shows while
 * the session is locked, without the card and without the billing core. Pure: the page reads
 * the store and the clock, this says what to show.
 *
 *  - today's invoices, those left to sign, those signed and not yet sent with each one's legal
 *    deadline (CSS R161-47: 3 working days after the care, 8 with third-party payment) counted
 *    down in working days;
 *  - the outbox: waiting, accepted, delivered, and the messages that need the practitioner
 *    (bounced, refused);
 *  - the lots delivered without an ARL yet, with the day it is due and the last day to
 *    retransmit (the returns issue fills the ARLs in).
 */
import { workingDaysBetween, type HolidayRegion } from '../../sesam/deadline.js';
import type { LotRecord } from '../../billing/lifecycle.js';
import { lotDeadlines } from '../../billing/deadlines.js';
import { today as dateIn } from '../../billing/dates.js';
import type { InvoiceListing, OutboxEntry } from '../store/billing-db.js';
import { byCodeUnits } from '../../text/compare.js';

export interface DayInput {
  readonly invoices: readonly InvoiceListing[];
  readonly lots: readonly LotRecord[];
  readonly outbox: readonly OutboxEntry[];
  /** Today in the practice's zone (ISO date), and the practice's zone. */
  readonly today: string;
  readonly timeZone?: string;
  readonly region?: HolidayRegion;
}

export interface Unsent {
  readonly id: string;
  readonly number?: string;
  readonly status: 'to_sign' | 'signed' | 'in_lot';
  readonly careDate?: string;
  readonly feeCents?: number;
  readonly deadline: string;
  /** Working days left until the deadline: 0 on the day, negative once passed. */
  readonly workingDaysLeft: number;
}

export interface AwaitingArl {
  readonly lotId: string;
  readonly kind: string;
  readonly number: string;
  readonly arlDue: string;
  readonly retransmitBy?: string;
  /** The ARL's due day is past. */
  readonly late: boolean;
}

/** A lot the practitioner must send again, and why. */
export interface ToResend {
  readonly lotId: string;
  readonly kind: string;
  readonly number: string;
  readonly reason: 'arl_negative' | 'arl_missing' | 'bounced';
  /** French: the ARL's reason, or the delivery failure. */
  readonly detail?: string;
  readonly retransmitBy?: string;
  /** The last day to retransmit is past. */
  readonly late: boolean;
}

export interface DayView {
  readonly today: number;
  readonly toSign: number;
  readonly unsent: readonly Unsent[];
  readonly outbox: { readonly waiting: number; readonly accepted: number; readonly deliveredToday: number };
  /** Messages the practitioner must act on. */
  readonly problems: readonly OutboxEntry[];
  readonly awaitingArl: readonly AwaitingArl[];
  /** Negative ARL, ARL overdue, or not delivered: to retransmit (same file, new compostage). */
  readonly toResend: readonly ToResend[];
  /** What is past its deadline, or due today or the next working day (French, counts only). */
  readonly alerts: readonly { readonly level: 'late' | 'soon'; readonly text: string }[];
}

const UNSENT = new Set(['to_sign', 'signed', 'in_lot']);

export function dayView(d: DayInput): DayView {
  const dayOf = (iso: string): string => dateIn(() => Date.parse(iso), d.timeZone);
  const unsent: Unsent[] = [];
  for (const { id, summary: s } of d.invoices) {
    if (!UNSENT.has(s.status) || !s.deadline) continue;
    unsent.push({
      id,
      ...(s.number ? { number: s.number } : {}),
      status: s.status as Unsent['status'],
      ...(s.careDate ? { careDate: s.careDate } : {}),
      ...(s.feeCents !== undefined ? { feeCents: s.feeCents } : {}),
      deadline: s.deadline,
      workingDaysLeft: workingDaysBetween(d.today, s.deadline, d.region),
    });
  }
  unsent.sort((a, b) => byCodeUnits(a.deadline, b.deadline) || byCodeUnits(a.number ?? '', b.number ?? ''));
  // One pass over the lots: what awaits its ARL, and what is to be sent again.
  const awaitingArl: AwaitingArl[] = [];
  const toResend: ToResend[] = [];
  for (const lot of d.lots) {
    const dl = lotDeadlines(lot, { ...(d.region ? { region: d.region } : {}), ...(d.timeZone ? { timeZone: d.timeZone } : {}) });
    if (dl.arlDue) awaitingArl.push({ lotId: lot.id, kind: lot.kind, number: lot.number, arlDue: dl.arlDue, ...(dl.retransmitBy ? { retransmitBy: dl.retransmitBy } : {}), late: dl.arlDue < d.today });
    const by = dl.retransmitBy ? { retransmitBy: dl.retransmitBy, late: dl.retransmitBy < d.today } : { late: false };
    if (lot.state === 'refused') toResend.push({ lotId: lot.id, kind: lot.kind, number: lot.number, reason: 'arl_negative', ...(lot.arl?.reason ? { detail: lot.arl.reason } : {}), ...by });
    else if (lot.state === 'bounced') {
      const status = [...lot.history].reverse().find((e) => e.type === 'lot_bounced')?.detail?.status;
      toResend.push({ lotId: lot.id, kind: lot.kind, number: lot.number, reason: 'bounced', ...(typeof status === 'string' ? { detail: status } : {}), late: false });
    } else if (dl.arlDue && dl.arlDue < d.today) toResend.push({ lotId: lot.id, kind: lot.kind, number: lot.number, reason: 'arl_missing', ...by });
  }
  awaitingArl.sort((a, b) => byCodeUnits(a.arlDue, b.arlDue));
  toResend.sort((a, b) => byCodeUnits(a.retransmitBy ?? '', b.retransmitBy ?? '') || byCodeUnits(a.lotId, b.lotId));
  const n = (k: number, one: string, many: string): string => `${k} ${k > 1 ? many : one}`;
  const alerts: { level: 'late' | 'soon'; text: string }[] = [];
  const lateInvoices = unsent.filter((u) => u.workingDaysLeft < 0).length;
  const soonInvoices = unsent.filter((u) => u.workingDaysLeft >= 0 && u.workingDaysLeft <= 1).length;
  const lateLots = toResend.filter((l) => l.late).length;
  const soonLots = toResend.filter((l) => !l.late && (!l.retransmitBy || workingDaysBetween(d.today, l.retransmitBy, d.region) <= 1)).length;
  if (lateInvoices) alerts.push({ level: 'late', text: `${n(lateInvoices, 'facture', 'factures')} hors du délai de transmission` });
  if (lateLots) alerts.push({ level: 'late', text: `${n(lateLots, 'lot', 'lots')} hors du délai de retransmission` });
  if (soonInvoices) alerts.push({ level: 'soon', text: `${n(soonInvoices, 'facture', 'factures')} à transmettre au plus tard le jour ouvré suivant` });
  if (soonLots) alerts.push({ level: 'soon', text: `${n(soonLots, 'lot', 'lots')} à retransmettre au plus tard le jour ouvré suivant` });
  return {
    today: d.invoices.filter((i) => i.summary.createdAt && dayOf(i.summary.createdAt) === d.today).length,
    toSign: d.invoices.filter((i) => i.summary.status === 'to_sign').length,
    unsent,
    outbox: {
      waiting: d.outbox.filter((e) => e.state === 'waiting').length,
      accepted: d.outbox.filter((e) => e.state === 'accepted').length,
      deliveredToday: d.outbox.filter((e) => e.state === 'delivered' && dayOf(e.updatedAt) === d.today).length,
    },
    problems: d.outbox.filter((e) => e.state === 'bounced' || e.state === 'refused'),
    awaitingArl,
    toResend,
    alerts,
  };
}
