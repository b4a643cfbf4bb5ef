/**
 * `npm run bench -- returns` (issue 15's goal): a month of returns — 1 000 ARL, 200 RSP and
 * 100 signed service messages (40150) — read, verified and matched in Chromium.
 *
 * The month is made as it happens: 1 000 invoices billed by our simulator and signed with a
 * card key of the demo PKI, each transmitted in its own message (`transmitRecords`, our CMS,
 * for the front end's certificate), the lots delivered; the simulated insurer front end of
 * `npm start` (scenario `rotate`) reads every message and answers — an ARL each, an RSP for
 * the 200 under third-party payment, and a signed 40150 for the 100 encrypted for its previous
 * certificate. Its answers, in the order it wrote them, are the month.
 *
 * In the page (bench/entries/returns-entry.ts): every message read by `readReturn`, a service
 * message's signer checked by the trust store over IndexedDB (`checkSigner`, what the
 * workstation does), and each return applied to the 1 000 invoices and lots (`actOnReturn`,
 * its changes kept for the next). `ms_verify_primitives`, in the same page and the same run:
 * the bare `crypto.subtle.verify` calls that pass made (recorded as it ran), replayed alone.
 * Rounds alternate which goes first; round 0 warms up; medians are reported. Goal: ratio ≤ 1.5.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import {
  BillingNumbering, MemoryCounterStore, SAMPLE_CATALOGUE, createInvoiceRecord, lotAccepted, lotDelivered, prepareInvoices, signInvoice, signPending, submitInvoice, testKeySigner, transmitRecords,
  type InvoiceRecord, type LotRecord, type SentMessage,
} from '../src/lib/billing/index.js';
import { simulatorAdapter } from '../src/lib/billing/ssv/simulator.js';
import { encodeValue } from '../src/lib/client/store/at-rest.js';
import { encryptFor, joinParts } from '../src/lib/cms/index.js';
import { genKey, issueCpsCertificate } from '../src/lib/pki/demo/index.js';
import { demoTrustBundle, ensureDemoPki, issueDemoCrls } from '../src/lib/server/demo-pki.js';
import { demoFrontEnd, parseScenario } from '../src/lib/server/insurer/demo.js';
import { DEMO_FROM, DEMO_PRACTITIONERS } from '../src/lib/server/relay/demo.js';
import { MemoryCompostageStore } from '../src/lib/sesam/index.js';
import { invoiceOf, RPPS } from '../test/billing/fixtures.js';
import { launchChromium, openModulePage } from '../test/browser/harness.js';
import type { Month, RoundResult } from './entries/returns-entry.js';

const INVOICES = Number(process.env.BENCH_RETURNS_INVOICES ?? 1000);
const THIRD_PARTY_EVERY = 5;
const OLD_CERT_EVERY = 10;
const ROUNDS = Number(process.env.BENCH_RETURNS_ROUNDS ?? 7);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round1 = (x: number): number => Math.round(x * 10) / 10;
const log = (s: string): void => void process.stderr.write(`bench returns: ${s}\n`);

/** A valid 15-character NIR (key 97 − N mod 97): one patient per invoice. */
const nir = (i: number): string => {
  const n13 = `18005750${String(56000 + i).padStart(5, '0')}`;
  return n13 + String(97 - Number(BigInt(n13) % 97n)).padStart(2, '0');
};

async function makeMonth(dir: string): Promise<{ month: Month; counts: { arl: number; rsp: number; service: number } }> {
  const pki = await ensureDemoPki(join(dir, 'demo'));
  const crls = await issueDemoCrls(pki);
  const key = await genKey();
  const cert = await issueCpsCertificate({ rpps: RPPS.doctor, name: 'FICTIF-TEST CLAIRE', usage: 'sign', key, caDer: pki.igcCa.der, caKey: pki.igcCa.key, notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 365 * 86_400_000) });
  const signer = testKeySigner(key.privateKey, cert);
  const clock = Date.now;
  const day = new Date().toLocaleDateString('en-CA', { timeZone: 'Europe/Paris' });

  log(`billing and signing ${INVOICES} invoices…`);
  const drafts = Array.from({ length: INVOICES }, (_, i) =>
    invoiceOf({ id: `F-${i}`, acts: [{ code: 'G', date: day, time: '09:00' }], context: i % THIRD_PARTY_EVERY === 1 ? 'amo' : 'none', beneficiary: { holderNir: nir(i) } }));
  const numbering = new BillingNumbering(new MemoryCounterStore());
  const prepared = await prepareInvoices(drafts, { adapter: simulatorAdapter(), numbering, checks: { clock, catalogue: SAMPLE_CATALOGUE } });
  const batch = await signPending(prepared, signer);
  if (batch.unsigned.length) throw new Error(`${batch.unsigned.length} invoices not signed: ${batch.unsigned[0]!.error.message}`);
  const records = await Promise.all(drafts.map((d, i) => signInvoice(submitInvoice(createInvoiceRecord(d, clock), prepared[i]!, clock), batch.signed.filter((s) => s.number === prepared[i]!.number), clock)));

  const mailboxes = join(dir, 'mailboxes');
  const keysDir = join(dir, 'front-end-keys');
  const frontEnd = demoFrontEnd({ pki, crls: () => crls, mailboxes, practitioners: DEMO_PRACTITIONERS, scenario: parseScenario('rotate'), keysDir });
  const amo = pki.recipients.find((r) => r.email.startsWith('amo'))!;
  const compostage = new MemoryCompostageStore(1);
  const invoices: InvoiceRecord[] = [];
  const lots: LotRecord[] = [];
  const sent: SentMessage[] = [];
  let current: Uint8Array | undefined;
  log(`transmitting ${INVOICES} messages to the simulated front end…`);
  for (const [i, record] of records.entries()) {
    // The first message (old certificate) makes the front end take its new one.
    const old = i % OLD_CERT_EVERY === 0;
    const recipient = old ? amo.der : current!;
    const out = await transmitRecords([record], {
      adapter: simulatorAdapter(), numbering, way: 'direct', mode: 'test', from: DEMO_FROM, compostage, clock,
      encrypt: async (plain) => joinParts((await encryptFor(plain, recipient, { insecureSkipVerify: true })).parts),
    });
    const m = out.messages[0]!;
    await frontEnd(m.message.message, { to: [m.message.to] });
    if (!current) current = new Uint8Array(await readFile(join(keysDir, `${amo.email}.pem`)).then((b) => Buffer.from(b.toString('latin1').replace(/-----[^-]+-----|\s/g, ''), 'base64')));
    let inv = out.invoices as InvoiceRecord[];
    for (const l of out.lots) {
      const d = lotDelivered(lotAccepted(l, `relay-${i}`, clock), inv, clock);
      inv = d.invoices;
      lots.push(d.lot);
    }
    invoices.push(...inv);
    sent.push({ messageId: m.message.messageId, compostage: m.message.compostage, lotIds: m.lotIds, to: m.message.to });
  }
  const box = join(mailboxes, 'demo', 'new');
  const names = (await readdir(box)).sort();
  const messages = await Promise.all(names.map(async (n) => new Uint8Array(await readFile(join(box, n)))));
  const text = messages.map((m) => Buffer.from(m.subarray(0, 2048)).toString('latin1'));
  const counts = {
    arl: text.filter((t) => /Content-Description: ARLTEST\/NOEMIE/i.test(t)).length,
    rsp: text.filter((t) => /Content-Description: RSPTEST\/NOEMIE/i.test(t)).length,
    service: text.filter((t) => /^Subject: 40150 /m.test(t)).length,
  };
  return { month: { messages, invoices, lots, sent, trust: demoTrustBundle(pki, crls) }, counts };
}

interface Api {
  load(url: string): Promise<{ messages: number }>;
  round(): Promise<RoundResult>;
  primitives(): Promise<{ ms: number; calls: number }>;
}
const api = (p: Page) => ({
  load: (url: string) => p.evaluate((u) => (globalThis as unknown as { ReturnsBench: Api }).ReturnsBench.load(u), url),
  round: () => p.evaluate(() => (globalThis as unknown as { ReturnsBench: Api }).ReturnsBench.round()),
  primitives: () => p.evaluate(() => (globalThis as unknown as { ReturnsBench: Api }).ReturnsBench.primitives()),
});

export async function benchReturns(): Promise<object[]> {
  const dir = await mkdtemp(join(tmpdir(), 'teletrans-bench-returns-'));
  let browser: Browser | undefined;
  let page: Page | undefined;
  try {
    const { month, counts } = await makeMonth(dir);
    log(`month: ${month.messages.length} messages (${counts.arl} ARL, ${counts.rsp} RSP, ${counts.service} service messages)`);
    const expected = { arl: INVOICES, rsp: INVOICES / THIRD_PARTY_EVERY, service: INVOICES / OLD_CERT_EVERY };
    if (JSON.stringify(counts) !== JSON.stringify(expected)) throw new Error(`the front end answered ${JSON.stringify(counts)}, not ${JSON.stringify(expected)}`);
    const body = Buffer.from(encodeValue(month));
    browser = await launchChromium();
    page = await openModulePage(browser, 'bench/entries/returns-entry.ts', 'ReturnsBench');
    await page.route('**/month.bin', (route) => route.fulfill({ status: 200, contentType: 'application/octet-stream', body }));
    const a = api(page);
    await a.load('/month.bin');
    const totals: number[] = [];
    const prims: number[] = [];
    let calls = 0;
    for (let r = 0; r <= ROUNDS; r++) {
      let t: RoundResult;
      let x: { ms: number; calls: number };
      // The primitives replay the last round's verifications: a round runs first once.
      if (r % 2 === 0 || r === 0) {
        t = await a.round();
        x = await a.primitives();
      } else {
        x = await a.primitives();
        t = await a.round();
      }
      log(`round ${r}: month ${round1(t.ms)} ms (read ${round1(t.readMs)} ms: ${Object.entries(t.byKind).map(([k, v]) => `${k} ${round1(v)}`).join(', ')}; ${JSON.stringify(t.kinds)} ${JSON.stringify(t.statuses)}, ${t.verifyCalls} RSA verifications); primitives ${round1(x.ms)} ms (${x.calls})`);
      if (t.acknowledgedLots !== INVOICES || t.paidDocuments !== expected.rsp || t.verifiedService !== expected.service) {
        throw new Error(`the month was not applied: ${t.acknowledgedLots} lots acknowledged, ${t.paidDocuments} documents paid, ${t.verifiedService} service messages verified`);
      }
      if (r > 0) {
        totals.push(t.ms);
        prims.push(x.ms);
        calls = x.calls;
      }
    }
    const msTotal = median(totals);
    const msPrimitives = median(prims);
    return [{
      bench: 'returns',
      runtime: 'chromium',
      messages: month.messages.length,
      ms_total: round1(msTotal),
      ms_verify_primitives: round1(msPrimitives),
      ratio_to_primitives: Math.round((msTotal / msPrimitives) * 1000) / 1000,
      arl: counts.arl,
      rsp: counts.rsp,
      service_messages: counts.service,
      rsa_verifications: calls,
    }];
  } finally {
    await page?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
