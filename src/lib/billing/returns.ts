/**
 * What a return does to the workstation's records (issue 15 item 3), pure: an ARL acknowledges or
 * refuses the lots it names (`matchArl`, then `recordArl`), an RSP pays, partly pays or rejects
 * documents (`recordRsp`) and brings notices. Reading the same return twice changes nothing the
 * second time; a lot or a document not yet in a state to take the news (the ARL came before the
 * relay said « delivered ») is reported `waiting`, so the caller keeps the return and tries again.
 * Reports name lots and documents by number, never a patient.
 */
import type { Clock } from './dates.js';
import { BillingError } from './errors.js';
import { expectedPaymentCents, recordArl, recordRsp, type InvoiceRecord, type LotRecord } from './lifecycle.js';
import { matchArl, type Arl } from '../sesam/returns/arl.js';
import type { Rsp } from '../sesam/returns/rsp.js';

export interface ReturnEffect {
  /** The lots changed by this return. */
  readonly lots: readonly LotRecord[];
  /** The invoices changed by this return. */
  readonly invoices: readonly InvoiceRecord[];
  /** What names nothing of ours (another workstation's lot, an unknown document). */
  readonly unknown: readonly string[];
  /** What cannot take the news yet: keep the return, apply it again later. */
  readonly waiting: readonly string[];
  /** RSP notices (reference 576): shown, they change nothing. */
  readonly notices: readonly { readonly kind: string; readonly number: string; readonly code: string; readonly label: string }[];
  /** News the records refuse (a payment larger than what was asked…), with the reason. */
  readonly anomalies: readonly string[];
}

/** Applies an ARL to the lots it names. */
export function applyArl(arl: Arl, lots: readonly LotRecord[], invoices: readonly InvoiceRecord[], clock: Clock): ReturnEffect {
  const match = matchArl(arl, lots);
  let current = [...invoices];
  const changedLots: LotRecord[] = [];
  const changed = new Set<string>();
  const waiting: string[] = [];
  const anomalies: string[] = [];
  for (const { lot, ack } of match.matched) {
    if (lot.state === 'acknowledged' || lot.state === 'refused') continue; // read before
    if (lot.state !== 'delivered' && lot.state !== 'accepted') {
      waiting.push(`lot ${lot.kind} ${lot.number} (${lot.state})`);
      continue;
    }
    try {
      const r = recordArl(lot, ack.accepted ? { positive: true } : { positive: false, reason: `${ack.reasonCode} ${ack.reason}` }, current, clock);
      changedLots.push(r.lot);
      for (const [i, inv] of r.invoices.entries()) if (inv !== current[i]) changed.add(inv.id);
      current = r.invoices;
    } catch (e) {
      if (!(e instanceof BillingError)) throw e;
      anomalies.push(`lot ${lot.kind} ${lot.number} : ${e.message}`);
    }
  }
  return {
    lots: changedLots,
    invoices: current.filter((r) => changed.has(r.id)),
    unknown: match.unknown.map((l) => `lot ${l.kind} ${l.number} de ${l.sender}`),
    waiting,
    notices: [],
    anomalies,
  };
}

/** Applies an RSP to the documents it names (by billing number, kind and number). */
export function applyRsp(rsp: Rsp, invoices: readonly InvoiceRecord[], clock: Clock): ReturnEffect {
  const byId = new Map(invoices.map((r) => [r.id, r]));
  const changed = new Set<string>();
  const unknown: string[] = [];
  const waiting: string[] = [];
  const anomalies: string[] = [];
  const notices: { kind: string; number: string; code: string; label: string }[] = [];
  for (const line of rsp.lines) {
    const where = `${line.kind} ${line.number}`;
    if (line.type === 'notice') {
      notices.push({ kind: line.kind, number: line.number, code: line.code, label: line.label });
      continue;
    }
    const record = [...byId.values()].find((r) => r.invoice.practitioner.situation.billingNumber === line.sender && r.documents.some((d) => d.kind === line.kind && d.number === line.number));
    const doc = record?.documents.find((d) => d.kind === line.kind && d.number === line.number);
    if (!record || !doc) {
      unknown.push(`${where} de ${line.sender}`);
      continue;
    }
    if (doc.state === 'paid' || doc.state === 'partially_paid' || doc.state === 'rejected') continue; // read before
    if (doc.state !== 'sent' && doc.state !== 'acknowledged') {
      waiting.push(`${where} (${doc.state})`);
      continue;
    }
    const asked = expectedPaymentCents(record, doc.kind);
    try {
      const outcome =
        line.type === 'rejection'
          ? ({ status: 'rejected', code: line.code, label: line.label } as const)
          : line.amountCents === asked && line.full
            ? ({ status: 'paid', amountCents: line.amountCents, date: line.date } as const)
            : ({ status: 'partially_paid', amountCents: line.amountCents, date: line.date } as const);
      byId.set(record.id, recordRsp(record, { kind: line.kind, number: line.number }, outcome, clock));
      changed.add(record.id);
    } catch (e) {
      if (!(e instanceof BillingError)) throw e;
      anomalies.push(`${where} : ${e.message}`);
    }
  }
  return { lots: [], invoices: [...changed].map((id) => byId.get(id)!), unknown, waiting, notices, anomalies };
}
