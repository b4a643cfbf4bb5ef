/**
 * « Télétransmettre » over the records (src/lib/billing/transmit.ts): the signed invoices not yet
 * in a lot go into lots and files, each file encrypted for ITS recipient (the FSE for the AMO,
 * the DRE for the AMC: OpenSSL opens each with that recipient's key only) and packaged; the
 * lots are built and queued with their message's compostage and subject, the documents are
 * `in_lot`; invoices to sign or cancelled are left alone; nothing left: `no_acts`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BillingNumbering, MemoryCounterStore, SAMPLE_CATALOGUE, cancelInvoice, createInvoiceRecord, invoiceStatus, prepareInvoices, readBillingFile, signInvoice, signPending, submitInvoice, transmitRecords,
  type InvoiceRecord,
} from '../../src/lib/billing/index.js';
import { simulatorAdapter } from '../../src/lib/billing/ssv/simulator.js';
import { encryptFor, joinParts } from '../../src/lib/cms/index.js';
import { MemoryCompostageStore, parseMessage, type Route } from '../../src/lib/sesam/index.js';
import { cpsPki, type CpsPki } from './support/cps-pki.js';
import { invoiceOf, RPPS } from './fixtures.js';

const D = '2025-03-10';
const clock = () => Date.UTC(2025, 2, 10, 17, 0);
const amc = { amc: { identifier: '12345678', contractType: '01', from: '2020-01-01', coverPercent: 100, thirdParty: true } };
let pki: CpsPki;
let dir: string;
const recipients: Record<string, Uint8Array> = {};

beforeAll(async () => {
  pki = await cpsPki(RPPS.doctor);
  dir = mkdtempSync(join(tmpdir(), 'teletrans-transmit-'));
  for (const role of ['amo', 'amc']) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, `${role}.key`), '-outform', 'der', '-out', join(dir, `${role}.der`), '-days', '2', '-subj', `/CN=${role}_pj.test@test.rss.fr`], { stdio: 'ignore' });
    execFileSync('openssl', ['x509', '-inform', 'der', '-in', join(dir, `${role}.der`), '-out', join(dir, `${role}.pem`)]);
    recipients[`${role}_pj.test@test.rss.fr`] = new Uint8Array(readFileSync(join(dir, `${role}.der`)));
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Four invoices: A signed (FSE), B signed (FSE + DRE), C to sign, D signed then cancelled. */
async function day(): Promise<InvoiceRecord[]> {
  const drafts = [
    invoiceOf({ id: 'A', acts: [{ code: 'G', date: D, time: '09:00' }] }),
    invoiceOf({ id: 'B', acts: [{ code: 'G', date: D, time: '10:00' }], context: 'amo_amc', dre: true, beneficiary: { ...amc, rank: 2 } }),
    invoiceOf({ id: 'C', acts: [{ code: 'G', date: D, time: '11:00' }], beneficiary: { rank: 3 } }),
    invoiceOf({ id: 'D', acts: [{ code: 'G', date: D, time: '12:00' }], beneficiary: { rank: 4 } }),
  ];
  const prepared = await prepareInvoices(drafts, { adapter: simulatorAdapter(), numbering: new BillingNumbering(new MemoryCounterStore()), checks: { clock, catalogue: SAMPLE_CATALOGUE } });
  const submitted = drafts.map((d, i) => submitInvoice(createInvoiceRecord(d, clock), prepared[i]!, clock));
  const batch = await signPending([prepared[0]!, prepared[1]!, prepared[3]!], pki.signer);
  const signed = await Promise.all(submitted.map((r) => (r.id === 'C' ? r : signInvoice(r, batch.signed.filter((s) => s.number === r.submission!.number), clock))));
  return signed.map((r) => (r.id === 'D' ? cancelInvoice(r, 'entered_twice', clock) : r));
}

describe('transmitRecords', () => {
  it('lots and files from the signed invoices, each file encrypted for its own recipient; the records moved on', async () => {
    const records = await day();
    const routes: string[] = [];
    const encrypt = async (plain: Uint8Array, route: Route) => {
      routes.push(route.certificateEmail);
      return joinParts((await encryptFor(plain, recipients[route.certificateEmail]!, { insecureSkipVerify: true })).parts);
    };
    const numbering = new BillingNumbering(new MemoryCounterStore());
    const o = { adapter: simulatorAdapter(), numbering, way: 'direct' as const, mode: 'test' as const, from: 'dr.fictif@teletrans.test', encrypt, compostage: new MemoryCompostageStore(41), clock };
    const out = await transmitRecords(records, o);

    expect(routes).toEqual(['amo_pj.test@test.rss.fr', 'amc_pj.test@test.rss.fr']);
    expect(out.messages.map((m) => [m.message.description, m.message.subject])).toEqual([
      ['FSETEST/B2/K', 'SV140700/751234567/2025031018000000042/00002'],
      ['DRETEST/DR/K', 'DR140700/751234567/2025031018000000043/00001'],
    ]);
    // Each attachment opens with its recipient's key, and not with the other's.
    for (const [i, role] of ['amo', 'amc'].entries()) {
      const m = out.messages[i]!.message;
      writeFileSync(join(dir, `${role}.p7`), parseMessage(m.message).attachment);
      const opened = execFileSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'der', '-in', join(dir, `${role}.p7`), '-inkey', join(dir, `${role}.key`), '-recip', join(dir, `${role}.pem`)]);
      expect(Buffer.from(opened).equals(Buffer.from(m.file))).toBe(true);
      const other = role === 'amo' ? 'amc' : 'amo';
      // The other key does not recover the file. OpenSSL may not even fail: against the
      // million-message attack it goes on with a random content key when the RSA padding is
      // wrong, and about one time in 256 the garbage it decrypts ends in valid CBC padding.
      let wrong: Buffer | null = null;
      try {
        wrong = execFileSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'der', '-in', join(dir, `${role}.p7`), '-inkey', join(dir, `${other}.key`)], { stdio: 'pipe' });
      } catch {
        wrong = null;
      }
      expect(wrong !== null && Buffer.from(wrong).equals(Buffer.from(m.file))).toBe(false);
    }
    const fse = await readBillingFile(new Uint8Array(out.messages[0]!.message.file), { anchors: [pki.root], at: new Date(clock()), revocation: 'off', catalogue: SAMPLE_CATALOGUE });
    expect(fse.ok).toBe(true);
    expect(fse.documents).toBe(2);

    // The lots: built then queued with their message's compostage; the documents in them.
    expect(out.lots.map((l) => [l.kind, l.state, l.transmissions.map((t) => t.compostage), l.documents.map((d) => d.invoiceId)])).toEqual([
      ['FSE', 'queued', ['2025031018000000042'], ['A', 'B']],
      ['DRE', 'queued', ['2025031018000000043'], ['B']],
    ]);
    expect(out.messages.map((m) => m.lotIds)).toEqual([[out.lots[0]!.id], [out.lots[1]!.id]]);
    expect(out.invoices.map((r) => [r.id, invoiceStatus(r), r.documents.map((d) => `${d.kind}:${d.state}:${d.lotId}`)])).toEqual([
      ['A', 'in_lot', [`FSE:in_lot:${out.lots[0]!.id}`]],
      ['B', 'in_lot', [`FSE:in_lot:${out.lots[0]!.id}`, `DRE:in_lot:${out.lots[1]!.id}`]],
    ]);

    // Nothing left to transmit once the records moved on: C waits for its signature, D is cancelled.
    const next = records.map((r) => out.invoices.find((x) => x.id === r.id) ?? r);
    await expect(transmitRecords(next, o)).rejects.toMatchObject({ code: 'no_acts' });
  });

  it('bad sending settings are refused before any number is drawn', async () => {
    const records = await day();
    const counters = new MemoryCounterStore();
    const compostage = new MemoryCompostageStore(0);
    const o = { adapter: simulatorAdapter(), numbering: new BillingNumbering(counters), way: 'direct' as const, compostage, clock, encrypt: async (p: Uint8Array) => p };
    await expect(transmitRecords(records, { ...o, mode: 'test', from: 'pas une adresse' })).rejects.toMatchObject({ code: 'invalid_address' });
    await expect(transmitRecords(records, { ...o, mode: 'prod' as 'test', from: 'dr.fictif@teletrans.test' })).rejects.toThrow();
    expect(await counters.next('lot:751234567')).toBe(1);
    expect(await compostage.next()).toBe(1);
  });
});
