/**
 * What the workstation does with a return (src/lib/billing/return-actions.ts), on the records as
 * the workstation makes them and the answers of the simulated front end, read by `readReturn`:
 * an ARL acknowledges its lot; an RSP pays; a signed 40150 asks to integrate the front end's new
 * certificate, unsigned or from a stranger it changes nothing; a 40050 asks to re-emit the
 * message's lots, and `resendFile` sends the same file again, with a new compostage, for the new
 * certificate — the front end reads it and acknowledges it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BillingNumbering, MemoryCounterStore, SAMPLE_CATALOGUE, actOnReturn, createInvoiceRecord, dsnStatusFr, reconcilePayments, lotAccepted, lotDelivered, prepareInvoices, resendFile, signInvoice, signPending, submitInvoice, transmitRecords, unreadableReturn,
  type InvoiceRecord, type LotRecord, type QueuedMessage,
} from '../../src/lib/billing/index.js';
import { simulatorAdapter } from '../../src/lib/billing/ssv/simulator.js';
import { encryptFor, joinParts } from '../../src/lib/cms/index.js';
import { type FrontEndConfig, receiveMessage } from '../../src/lib/server/insurer/front-end.js';
import { MemoryCompostageStore } from '../../src/lib/sesam/index.js';
import { readReturn } from '../../src/lib/sesam/returns/read.js';
import { cpsPki, type CpsPki } from './support/cps-pki.js';
import { invoiceOf, RPPS } from './fixtures.js';
import { type Party, party, removeTemp } from '../cms/helpers.js';
import { attachmentExt } from '../pki/fixtures/openssl-pki.js';
import { EMAIL, type ReturnsFixture, makeReturnsFixture } from '../sesam/fixtures/returns.js';
import { testFrontEnd } from '../insurer/fixtures.js';

const D = '2025-03-10';
const at = new Date(Date.UTC(2025, 2, 10, 17, 0));
const clock = () => at.getTime();
const FROM = 'dr.fictif@teletrans.test';
let rf: ReturnsFixture;
let cps: CpsPki;
let next: Party;

beforeAll(async () => {
  rf = makeReturnsFixture();
  cps = await cpsPki(RPPS.doctor);
  next = party(rf.fx.pki.leaf(rf.fx.inter, 'front-next-actions', `/C=FR/O=sesam-vitale/CN=${EMAIL}`, attachmentExt(EMAIL)));
}, 60_000);
afterAll(removeTemp);

const frontEnd = (): FrontEndConfig => testFrontEnd({ rf, next, cpsRoot: cps.root, at });
const encryptTo = (cert: Uint8Array) => async (plain: Uint8Array) => joinParts((await encryptFor(plain, cert, { insecureSkipVerify: true })).parts);

interface Day {
  invoices: InvoiceRecord[];
  lots: LotRecord[];
  message: QueuedMessage;
}

/** Two invoices signed and transmitted to `cert` (one lot, one message), delivered by the relay. */
async function day(cert: Uint8Array, context: 'none' | 'amo' = 'none'): Promise<Day> {
  const drafts = [invoiceOf({ id: 'A', acts: [{ code: 'G', date: D, time: '09:00' }], context }), invoiceOf({ id: 'B', acts: [{ code: 'G', date: D, time: '10:00' }], beneficiary: { rank: 2 }, context })];
  const prepared = await prepareInvoices(drafts, { adapter: simulatorAdapter(), numbering: new BillingNumbering(new MemoryCounterStore()), checks: { clock, catalogue: SAMPLE_CATALOGUE } });
  const batch = await signPending(prepared, cps.signer);
  const records = await Promise.all(drafts.map((d, i) => signInvoice(submitInvoice(createInvoiceRecord(d, clock), prepared[i]!, clock), batch.signed.filter((x) => x.number === prepared[i]!.number), clock)));
  const out = await transmitRecords(records, { adapter: simulatorAdapter(), numbering: new BillingNumbering(new MemoryCounterStore()), way: 'direct', mode: 'test', from: FROM, encrypt: encryptTo(cert), compostage: new MemoryCompostageStore(7), clock });
  expect(out.messages).toHaveLength(1);
  let invoices = out.invoices as InvoiceRecord[];
  const lots = out.lots.map((l) => {
    const d = lotDelivered(lotAccepted(l, 'relay-1', clock), invoices, clock);
    invoices = d.invoices;
    return d.lot;
  });
  return { invoices, lots, message: out.messages[0]! };
}

const sent = (d: Day) => [{ messageId: d.message.message.messageId, compostage: d.message.message.compostage, lotIds: d.message.lotIds, to: d.message.message.to }];
const ctx = (d: Day) => ({ lots: d.lots, invoices: d.invoices, sent: sent(d), clock });

describe('actOnReturn', () => {
  it('an ARL acknowledges the lot and its documents; read again, it changes nothing', async () => {
    const d = await day(next.cert);
    const r = await receiveMessage(d.message.message.message, frontEnd());
    const a = actOnReturn(await readReturn(r.answers[0]!.bytes), ctx(d));
    expect(a.status).toBe('applied');
    expect(a.lots.map((l) => [l.id, l.state])).toEqual(d.lots.map((l) => [l.id, 'acknowledged']));
    expect(a.invoices.flatMap((x) => x.documents.map((doc) => doc.state))).toEqual(['acknowledged', 'acknowledged']);
    expect(a.summary).toMatchObject({ kind: 'arl', nature: 'ARLTEST/NOEMIE', lotIds: d.lots.map((l) => l.id), label: expect.stringMatching(/^ARL positif du fichier .+ : 1 lot accepté$/) });
    expect(a.integrate ?? a.reemit).toBeUndefined();
    const again = actOnReturn(await readReturn(r.answers[0]!.bytes), { ...ctx(d), lots: a.lots, invoices: a.invoices });
    expect([again.status, again.lots, again.invoices]).toEqual(['applied', [], []]);
    // From a mailbox this workstation never sent to: kept, shown, nothing changes.
    const stranger = actOnReturn(await readReturn(r.answers[0]!.bytes), { ...ctx(d), sent: sent(d).map((m) => ({ ...m, to: 'autre@ailleurs.test' })) });
    expect([stranger.status, stranger.lots, stranger.invoices]).toEqual(['unverified', [], []]);
    expect(stranger.summary.label).toBe(`ARL d’un expéditeur à qui ce poste n’a rien envoyé (${EMAIL.toLowerCase()}) : rien n’a été fait`);
    // Before the relay said « delivered »: it waits, and says so.
    const early = actOnReturn(await readReturn(r.answers[0]!.bytes), { ...ctx(d), lots: d.lots.map((l) => ({ ...l, state: 'queued' as const })) });
    expect(early.status).toBe('waiting');
    expect(early.summary.notes.some((n) => n.startsWith('En attente : lot FSE'))).toBe(true);
  });

  it('an RSP after the ARL pays the third-party invoice: paid, with the amount in the summary', async () => {
    const d = await day(next.cert, 'amo');
    const r = await receiveMessage(d.message.message.message, frontEnd());
    expect(r.answers).toHaveLength(2);
    const arl = actOnReturn(await readReturn(r.answers[0]!.bytes), ctx(d));
    const byId = new Map(d.invoices.map((x) => [x.id, x]));
    for (const x of arl.invoices) byId.set(x.id, x);
    const rsp = await readReturn(r.answers[1]!.bytes);
    const a = actOnReturn(rsp, { ...ctx(d), lots: arl.lots, invoices: [...byId.values()] });
    const paid = rsp.rsp!.lines.reduce((n, l) => n + (l.type === 'payment' ? l.amountCents : 0), 0);
    expect(paid).toBeGreaterThan(0);
    expect(a.status).toBe('applied');
    expect(a.summary).toMatchObject({ kind: 'rsp', paidCents: paid, rejected: 0 });
    const states = a.invoices.flatMap((x) => x.documents.map((doc) => [doc.state, doc.payment?.amountCents]));
    expect(states.length).toBeGreaterThan(0);
    for (const [state, amount] of states) {
      expect(state).toBe('paid');
      expect(amount).toBe(2100);
    }
    // Reconciled: owed, paid, rejected, awaited — before the RSP, then after.
    expect(reconcilePayments([...byId.values()]).totals).toEqual({ expectedCents: 4200, paidCents: 0, rejectedCents: 0, outstandingCents: 4200, shortfallCents: 0 });
    for (const x of a.invoices) byId.set(x.id, x);
    const after = reconcilePayments([...byId.values()]);
    expect(after.totals).toEqual({ expectedCents: 4200, paidCents: 4200, rejectedCents: 0, outstandingCents: 0, shortfallCents: 0 });
    expect(after.lines.map((l) => [l.state, l.expectedCents, l.paidCents, l.date])).toEqual([['paid', 2100, 2100, '2025-03-10'], ['paid', 2100, 2100, '2025-03-10']]);
    // Without third-party payment nothing is owed: no line.
    expect(reconcilePayments((await day(next.cert)).invoices).lines).toEqual([]);
  });

  it('a signed 40150 asks to integrate the front end’s newer certificate; unverified (no trust, or a stranger’s signature), it changes nothing', async () => {
    const d = await day(rf.front.cert);
    const r = await receiveMessage(d.message.message.message, frontEnd());
    const kinds = await Promise.all(r.answers.map(async (x) => (await readReturn(x.bytes)).service?.code));
    const svc = r.answers[kinds.indexOf('40150')]!;
    expect(svc).toBeDefined();
    const a = actOnReturn(await readReturn(svc.bytes, { validateSigner: rf.validateSigner }), ctx(d));
    expect(a.status).toBe('applied');
    expect(a.summary).toMatchObject({ kind: 'service', code: '40150', verified: true, lotIds: d.message.lotIds });
    expect(a.integrate?.email.toLowerCase()).toBe(EMAIL.toLowerCase());
    expect(Buffer.from(a.integrate!.certificate).equals(Buffer.from(next.cert))).toBe(true);
    expect(a.reemit).toBeUndefined();

    const blind = actOnReturn(await readReturn(svc.bytes), ctx(d));
    expect(blind.status).toBe('unverified');
    expect(blind.summary.label).toMatch(/NON VÉRIFIÉ/);
    expect(blind.integrate ?? blind.reemit).toBeUndefined();
    expect(blind.summary.notes.join(' ')).toMatch(/signer_not_checked/);
  });

  it('a signed 40050 asks to re-emit the lots of the message; resendFile sends the same file with a new compostage for the new certificate, and the front end acknowledges it', async () => {
    const d = await day(rf.revoked.cert);
    const r = await receiveMessage(d.message.message.message, frontEnd());
    expect(r.outcome).toMatchObject({ kind: 'service', code: '40050' });
    const a = actOnReturn(await readReturn(r.answers[0]!.bytes, { validateSigner: rf.validateSigner }), ctx(d));
    expect(a.status).toBe('applied');
    expect(a.reemit).toEqual({ messageId: d.message.message.messageId, compostage: d.message.message.compostage, lotIds: d.message.lotIds, code: '40050' });
    expect(a.integrate?.email.toLowerCase()).toBe(EMAIL.toLowerCase());

    const again = await resendFile(d.message.file, d.lots, { mode: 'test', from: FROM, encrypt: encryptTo(a.integrate!.certificate), compostage: new MemoryCompostageStore(50), clock });
    expect(Buffer.from(again.message.file).equals(Buffer.from(d.message.file.data))).toBe(true);
    expect(again.message.compostage).not.toBe(d.message.message.compostage);
    expect(again.message.subject.replace(/\/\d{19}\//, '/C/')).toBe(d.message.message.subject.replace(/\/\d{19}\//, '/C/'));
    expect(again.lots.map((l) => [l.state, l.transmissions.length, l.transmissions.at(-1)!.compostage])).toEqual([['queued', 2, again.message.compostage]]);
    const read = await receiveMessage(again.message.message, frontEnd());
    expect(read.outcome).toMatchObject({ kind: 'read', warned40150: false });
    const arl = await readReturn(read.answers[0]!.bytes);
    expect(arl.arl?.lots.every((l) => l.accepted)).toBe(true);
    // A lot already acknowledged does not go again.
    await expect(resendFile(d.message.file, d.lots.map((l) => ({ ...l, state: 'acknowledged' as const })), { mode: 'test', from: FROM, encrypt: encryptTo(next.cert), compostage: new MemoryCompostageStore(60), clock })).rejects.toMatchObject({ code: 'transition_forbidden' });
  });

  it('a 40050 that answers no message of ours changes nothing; an unreadable return is kept and said', async () => {
    const d = await day(rf.revoked.cert);
    const r = await receiveMessage(d.message.message.message, frontEnd());
    const a = actOnReturn(await readReturn(r.answers[0]!.bytes, { validateSigner: rf.validateSigner }), { ...ctx(d), sent: [] });
    expect(a.reemit).toBeUndefined();
    expect(a.summary.notes[0]).toMatch(/ne répond à aucun message de ce poste/);
    const bad = await readReturn(new TextEncoder().encode('pas un message')).then(() => null, (e: { code: string; message: string }) => unreadableReturn(e.code, e.message));
    expect(bad).toMatchObject({ status: 'unreadable', summary: { kind: 'unreadable', label: expect.stringMatching(/^Retour illisible \(\w+\)/) } });
  });

  it('a DSN of a permanent failure: the lots of that message are to send again (a delay changes nothing); resent, they go', async () => {
    const d = await day(next.cert);
    const dsn = (status: string, action: string) => new TextEncoder().encode(
      `From: MAILER-DAEMON@relay.test\r\nTo: ${FROM}\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n` +
        `Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\nNon remis.\r\n` +
        `--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.test\r\n\r\nFinal-Recipient: rfc822; ${EMAIL}\r\nAction: ${action}\r\nStatus: ${status}\r\nDiagnostic-Code: smtp; 550 5.1.1 unknown\r\n\r\n` +
        `--r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: ${d.message.message.messageId}\r\n\r\n--r--\r\n`);
    const delayed = actOnReturn(await readReturn(dsn('4.4.7', 'delayed')), ctx(d));
    expect([delayed.status, delayed.lots]).toEqual(['shown', []]);
    expect(delayed.summary).toMatchObject({ kind: 'dsn', dsnStatus: '4.4.7', lotIds: d.message.lotIds, label: 'Avis de non-remise (4.4.7) : échec temporaire : délai de remise dépassé' });
    const failed = actOnReturn(await readReturn(dsn('5.1.1', 'failed')), ctx(d));
    expect(failed.status).toBe('applied');
    expect(failed.lots.map((l) => [l.id, l.state])).toEqual(d.lots.map((l) => [l.id, 'bounced']));
    expect(failed.summary.notes.at(-1)).toMatch(/^Lot FSE \d{6} à retransmettre/);
    const again = await resendFile(d.message.file, failed.lots, { mode: 'test', from: FROM, encrypt: encryptTo(next.cert), compostage: new MemoryCompostageStore(70), clock });
    expect(again.lots.map((l) => l.state)).toEqual(['queued']);
    // The same DSN read after the retransmission: the lot's latest message is another one, nothing changes.
    expect(actOnReturn(await readReturn(dsn('5.1.1', 'failed')), { ...ctx(d), lots: again.lots }).lots).toEqual([]);
  });

  it('DSN statuses in French (RFC 3463)', () => {
    expect(dsnStatusFr('5.1.1')).toBe('échec définitif : boîte aux lettres du destinataire inconnue');
    expect(dsnStatusFr('4.4.7')).toBe('échec temporaire : délai de remise dépassé');
    expect(dsnStatusFr('5.9.99')).toBe('échec définitif (9.99)');
    expect(dsnStatusFr('x')).toBe('état de remise inconnu');
  });
});
