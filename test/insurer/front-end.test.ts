/**
 * The simulated insurer front end (src/lib/server/insurer/front-end.ts, issue 15): a day billed
 * and sent as the workstation sends it (sendDay, our CMS), received, decrypted, read by the
 * insurer's reader and answered — an ARL read back by `readReturn`; a flow for the previous
 * certificate decrypted and warned with a signed 40150; one for a revoked certificate rejected
 * with a signed 40050; an unencrypted one with 4025; a replayed compostage refused; a tampered
 * invoice rejected in the ARL with its reason; the scenarios (lost ARL, every lot rejected).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BillingNumbering, MemoryCounterStore, SAMPLE_CATALOGUE, createInvoiceRecord, prepareInvoices, signInvoice, signPending, submitInvoice, transmitRecords,
} from '../../src/lib/billing/index.js';
import { simulatorAdapter } from '../../src/lib/billing/ssv/simulator.js';
import { encryptFor, joinParts } from '../../src/lib/cms/index.js';
import { type FrontEndConfig, receiveMessage } from '../../src/lib/server/insurer/front-end.js';
import { encodeBase64Mime } from '../../src/lib/sesam/base64.js';
import { MemoryCompostageStore, parseMessage } from '../../src/lib/sesam/index.js';
import { matchArl } from '../../src/lib/sesam/returns/arl.js';
import { readReturn } from '../../src/lib/sesam/returns/read.js';
import { cpsPki, type CpsPki } from '../billing/support/cps-pki.js';
import { invoiceOf, RPPS } from '../billing/fixtures.js';
import { type Party, party, removeTemp } from '../cms/helpers.js';
import { attachmentExt } from '../pki/fixtures/openssl-pki.js';
import { EMAIL, type ReturnsFixture, makeReturnsFixture } from '../sesam/fixtures/returns.js';
import { DAY, SENT_AT, sentDay, testFrontEnd } from './fixtures.js';

const D = DAY;
const at = SENT_AT;
const FROM = 'dr.fictif@teletrans.test';
let rf: ReturnsFixture;
let cps: CpsPki;
let next: Party;

beforeAll(async () => {
  rf = makeReturnsFixture();
  cps = await cpsPki(RPPS.doctor);
  // The front end's newer certificate: the fixture's one becomes « previous ».
  next = party(rf.fx.pki.leaf(rf.fx.inter, 'front-next', `/C=FR/O=sesam-vitale/CN=${EMAIL}`, attachmentExt(EMAIL)));
}, 60_000);

afterAll(removeTemp);

const frontEnd = (over: Partial<FrontEndConfig> = {}): FrontEndConfig => testFrontEnd({ rf, next, cpsRoot: cps.root, at }, over);

let lastFileName = '';
/** The day's one message, encrypted for `recipient` (after `tamper` on the plain file, if given). */
async function sentMessage(recipient: Uint8Array, tamper?: (plain: Uint8Array) => void, context = 'none'): Promise<Uint8Array> {
  const drafts = [invoiceOf({ id: 'A', acts: [{ code: 'G', date: D, time: '09:00' }], context }), invoiceOf({ id: 'B', acts: [{ code: 'G', date: D, time: '10:00' }], beneficiary: { rank: 2 } })];
  const sent = await sentDay({ recipient, signer: cps.signer, from: FROM, drafts, ...(tamper ? { tamper } : {}) });
  lastFileName = sent.fileName;
  return sent.message;
}

describe('the simulated front end', () => {
  it('reads a flow for its current certificate and answers one positive ARL', async () => {
    const sent = await sentMessage(next.cert);
    const r = await receiveMessage(sent, frontEnd());
    expect(r.outcome).toMatchObject({ kind: 'read', warned40150: false });
    expect(r.answers).toHaveLength(1);
    const back = await readReturn(r.answers[0]!.bytes);
    expect(back.kind).toBe('arl');
    expect(back.nature).toBe('ARLTEST/NOEMIE');
    expect(back.inReplyTo).toBe(parseMessage(sent).messageId);
    const subject = parseMessage(sent).subjectParsed;
    expect(subject.type).toBe('invoice');
    expect(back.arl?.compostage).toBe(subject.type === 'invoice' ? subject.compostage : null);
    expect(back.arl?.lots).toEqual([{ sender: '751234567', kind: 'FSE', number: expect.stringMatching(/^\d{6}$/), documents: 2, accepted: true }]);
    expect(r.answers[0]!.to).toBe(FROM);
    // Named as the workstation filed its lots (LotRecord.fileName), which matchArl compares.
    expect(back.arl?.fileName).toBe(lastFileName);
    expect(back.fileName).toBe(lastFileName.replace(/\.sim$/, '.arl'));
  });

  it('a flow for its previous certificate: read, ARL, and a signed 40150', async () => {
    const r = await receiveMessage(await sentMessage(rf.front.cert), frontEnd());
    expect(r.outcome).toMatchObject({ kind: 'read', warned40150: true });
    expect(r.answers).toHaveLength(2);
    const warning = await readReturn(r.answers[1]!.bytes, { validateSigner: rf.validateSigner });
    expect(warning.service).toMatchObject({ code: '40150', verified: true, signer: { email: EMAIL } });
    // The certificate to use from now on travels with it: the current one.
    expect(Buffer.compare(warning.service!.signer.certificate!, next.cert)).toBe(0);
  });

  it('a flow for a certificate revoked at the front end: rejected with a signed 40050, no ARL', async () => {
    const r = await receiveMessage(await sentMessage(rf.revoked.cert), frontEnd());
    expect(r.outcome).toMatchObject({ kind: 'service', code: '40050' });
    expect(r.answers).toHaveLength(1);
    const back = await readReturn(r.answers[0]!.bytes, { validateSigner: rf.validateSigner });
    expect(back.service).toMatchObject({ code: '40050', verified: true });
  });

  it('a flow for none of its certificates: 40050', async () => {
    const r = await receiveMessage(await sentMessage(rf.amc.cert), frontEnd());
    expect(r.outcome).toMatchObject({ kind: 'service', code: '40050' });
  });

  it('an attachment that is not encrypted: 4025', async () => {
    const sent = await sentMessage(next.cert);
    const p = parseMessage(sent);
    const text = new TextDecoder('latin1').decode(sent);
    const plain = new TextDecoder('latin1').decode(encodeBase64Mime(new TextEncoder().encode('#fichier en clair')));
    const unencrypted = new TextEncoder().encode((text.slice(0, p.entityBody.start) + plain + text.slice(p.entityBody.end)).replace('FSETEST/B2/K', 'FSETEST/B2'));
    const r = await receiveMessage(unencrypted, frontEnd());
    expect(r.outcome).toMatchObject({ kind: 'service', code: '4025' });
    expect((await readReturn(r.answers[0]!.bytes, { validateSigner: rf.validateSigner })).service).toMatchObject({ code: '4025', verified: true });
  });

  it('the same compostage twice: the second is refused, unanswered', async () => {
    const sent = await sentMessage(next.cert);
    const cfg = frontEnd();
    expect((await receiveMessage(sent, cfg)).answers).toHaveLength(1);
    const again = await receiveMessage(sent, cfg);
    expect(again.outcome).toMatchObject({ kind: 'refused', code: 'compostage_seen' });
    expect(again.answers).toEqual([]);
  });

  it('a document altered after signing: its lot rejected in the ARL, with the reason', async () => {
    // One byte of the plain file changed before encryption (as if altered on the way).
    const sent = await sentMessage(next.cert, (plain) => {
      const text = new TextDecoder().decode(plain);
      const i = text.lastIndexOf('|2=G|'); // the last act's code (group 141, field 2)
      expect(i).toBeGreaterThan(0);
      plain[i + 3] = 'C'.charCodeAt(0);
    });
    const r = await receiveMessage(sent, frontEnd());
    const back = await readReturn(r.answers[0]!.bytes);
    expect(back.arl?.lots[0]).toMatchObject({ accepted: false, reasonCode: 'SIGNATUR' });
    expect(r.outcome.kind === 'read' && r.outcome.report.ok).toBe(false);
  });

  it('scenarios: every lot rejected; the ARL lost', async () => {
    const rejected = await receiveMessage(await sentMessage(next.cert), frontEnd({ scenario: { rejectLots: { code: 'TEST', reason: 'Rejet de démonstration' } } }));
    expect((await readReturn(rejected.answers[0]!.bytes)).arl?.lots[0]).toMatchObject({ accepted: false, reasonCode: 'TEST', reason: 'Rejet de démonstration' });
    const lost = await receiveMessage(await sentMessage(next.cert), frontEnd({ scenario: { loseArl: true } }));
    expect(lost.outcome.kind).toBe('read');
    expect(lost.answers).toEqual([]);
  });

  it('what is not a practitioner’s message is refused without an answer, never thrown', async () => {
    for (const bytes of [new Uint8Array(0), new TextEncoder().encode('From: x\r\n\r\nhello'), (await sentMessage(next.cert)).subarray(0, 400)]) {
      const r = await receiveMessage(bytes, frontEnd());
      expect(r.outcome.kind).toBe('refused');
      expect(r.answers).toEqual([]);
    }
  });

  it('its ARL matches the workstation’s own lot records (transmitRecords → front end → matchArl)', async () => {
    const clock = () => at.getTime();
    const drafts = [invoiceOf({ id: 'A', acts: [{ code: 'G', date: D, time: '09:00' }] }), invoiceOf({ id: 'B', acts: [{ code: 'G', date: D, time: '10:00' }], beneficiary: { rank: 2 } })];
    const prepared = await prepareInvoices(drafts, { adapter: simulatorAdapter(), numbering: new BillingNumbering(new MemoryCounterStore()), checks: { clock, catalogue: SAMPLE_CATALOGUE } });
    const batch = await signPending(prepared, cps.signer);
    const records = await Promise.all(drafts.map((d, i) => signInvoice(submitInvoice(createInvoiceRecord(d, clock), prepared[i]!, clock), batch.signed.filter((x) => x.number === prepared[i]!.number), clock)));
    const out = await transmitRecords(records, {
      adapter: simulatorAdapter(),
      numbering: new BillingNumbering(new MemoryCounterStore()),
      way: 'direct',
      mode: 'test',
      from: FROM,
      encrypt: async (plain: Uint8Array) => joinParts((await encryptFor(plain, next.cert, { insecureSkipVerify: true })).parts),
      compostage: new MemoryCompostageStore(7),
      clock,
    });
    expect(out.messages).toHaveLength(1);
    const r = await receiveMessage(out.messages[0]!.message.message, frontEnd());
    const back = await readReturn(r.answers[0]!.bytes);
    const match = matchArl(back.arl!, out.lots);
    expect(match.unknown).toEqual([]);
    expect(match.missing).toEqual([]);
    expect(match.matched.map((x) => [x.lot.id, x.ack.accepted])).toEqual(out.lots.map((l) => [l.id, true]));
  });

  it('third-party payment: an RSP after the ARL pays what the AMO owes the practitioner; the scenario rejects instead', async () => {
    const r = await receiveMessage(await sentMessage(next.cert, undefined, 'amo'), frontEnd());
    expect(r.answers).toHaveLength(2);
    const rsp = await readReturn(r.answers[1]!.bytes);
    expect(rsp.kind).toBe('rsp');
    expect(rsp.nature).toBe('RSPTEST/NOEMIE');
    const owed = r.outcome.kind === 'read' ? r.outcome.report.lots[0]!.documents.find((d) => d.declared.amoToPractitionerCents > 0)! : null;
    expect(owed).not.toBeNull();
    expect(rsp.rsp?.lines).toEqual([{ type: 'payment', sender: '751234567', kind: 'FSE', number: owed!.number, full: true, amountCents: owed!.declared.amoToPractitionerCents, date: '2025-03-10' }]);
    expect(rsp.rsp?.transfer).toEqual({ date: '2025-03-10', totalCents: owed!.declared.amoToPractitionerCents });

    const rejected = await receiveMessage(await sentMessage(next.cert, undefined, 'amo'), frontEnd({ scenario: { rejectPayments: { code: 'R102', label: 'Droits fermés' } } }));
    expect((await readReturn(rejected.answers[1]!.bytes)).rsp?.lines[0]).toMatchObject({ type: 'rejection', code: 'R102', label: 'Droits fermés' });
  });

  it('standing for an OCT: the text acknowledgement ART/<PS number>/<aaaammjjhhmm> with its profession code', async () => {
    const r = await receiveMessage(await sentMessage(next.cert), frontEnd({ oct: { profession: 'ER' } }));
    expect(r.answers).toHaveLength(2);
    const art = await readReturn(r.answers[1]!.bytes);
    expect(art.kind).toBe('art');
    expect(art.nature).toBe('ART/ER');
    expect(art.description?.profession).toBe('médecins, chirurgiens-dentistes et sages-femmes');
    // Read at 18:01 in Paris on 10 March (the clock of frontEnd()).
    expect(art.subject).toBe('ART/751234567/202503101801');
    expect(art.text).toBe(`Fichier ${lastFileName} reçu le 10/03/2025 à 18:01 : 1 lot(s), 2 facture(s).\r\n`);
    expect(art.fileName).toBe(lastFileName.replace(/\.sim$/, '.txt'));
  });
});
