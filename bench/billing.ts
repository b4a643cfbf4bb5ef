/**
 * `npm run bench -- billing` (issue 13's goal): a practitioner's day of 60 invoices, in
 * Chromium, from the invoices as entered to the packaged, encrypted messages durable in
 * IndexedDB: checks, pricing, durable numbering, formatting (our simulator), 60 signatures on
 * the virtual CPS through the bridge on the real PC/SC stack (pcscd + vpcd), lots and files,
 * the recipient's certificate checked, CMS encryption and packaging, one durable commit.
 *
 * `ms_primitives`, in the same run and the same page: the bare operations the day cannot
 * avoid — the same 60 card signatures through the bridge (`cps.sign` on the same digests),
 * the CMS encryptions of the same files, one durable IndexedDB commit of the same bytes.
 * Rounds alternate day and primitives, each after the same pause; medians are reported.
 * Goal: ratio ≤ 1.3.
 *
 * The real peers are required (Chromium, pcscd, the vpcd driver): without one the bench fails
 * with the reason.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { makeCardSet } from '../bridge/cards/profiles.js';
import { VpcdInsertion } from '../bridge/cards/vpcd.js';
import { sesamChain, SESAM_EMAIL } from '../bridge/pki/forge.js';
import { startBridge, type Bridge } from '../bridge/server.js';
import type { InvoiceJson } from '../src/lib/billing/invoice-json.js';
import { practitionerInputFromCps } from '../src/lib/billing/from-cards.js';
import { CHROMIUM_PATH, launchChromium, openModulePage } from '../test/browser/harness.js';
import { pcscAvailable, startPcscd, type Pcscd } from '../test/bridge/pcscd.js';
import type { DayParams, DayResult } from './entries/billing-entry.js';

const INVOICES = 60;
const ROUNDS = 31;
/** Idle time before each measured run (day or primitives), the same for both. */
const PAUSE_MS = 100;
// Today: the certificates of the fictitious PKI are made now, valid from yesterday.
const START = Date.now();
const DAY = new Date(START).toISOString().slice(0, 10);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round1 = (x: number): number => Math.round(x * 10) / 10;
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** NIR with its key (97 − N mod 97), from 13 characters. */
const nir = (n13: string): string => n13 + String(97 - Number(BigInt(n13) % 97n)).padStart(2, '0');

/** A doctor's day: consultations and visits, patients of several funds and schemes, some with an AMC. */
function dayOfInvoices(practitioner: InvoiceJson['practitioner']): InvoiceJson[] {
  const funds: [string, string][] = [
    ['01', '751'],
    ['01', '931'],
    ['01', '131'],
    ['02', '751'],
  ];
  return Array.from({ length: INVOICES }, (_, i) => {
    const [scheme, fund] = funds[i % funds.length]!;
    const hour = 8 + Math.floor(i / 6);
    const visit = i % 7 === 3;
    return {
      id: `JOUR-${String(i + 1).padStart(3, '0')}`,
      practitioner,
      beneficiary: {
        holderNir: nir(`1${String(50 + (i % 40)).padStart(2, '0')}0${(i % 9) + 1}75${String(100 + i).padStart(3, '0')}${String(200 + i).padStart(3, '0')}`.slice(0, 13)),
        lastName: 'FICTIF',
        firstName: 'PATIENT',
        birthDate: `19${String(50 + (i % 40)).padStart(2, '0')}-0${(i % 9) + 1}-15`,
        rank: 1,
        quality: 'holder',
        scheme,
        fund,
        centre: '0001',
        amoRights: [{ from: '2015-01-01', thirdParty: true }],
      },
      acts: [{ code: visit ? 'VG' : 'G', date: DAY, time: `${String(hour).padStart(2, '0')}:${String((i % 6) * 10).padStart(2, '0')}` }],
      context: i % 3 === 0 ? 'amo' : 'none',
      nature: 'illness',
      carePathway: 'referring_doctor',
    };
  });
}

/** What the day's page exposes (bench/entries/billing-entry.ts). */
export type DayApi = {
  open(u: string, r: string, pin: string): Promise<void>;
  day(p: DayParams): Promise<DayResult>;
  primitives(p: DayParams): Promise<{ ms: number; sign: number; cms: number; commit: number }>;
  recordsDay(p: DayParams, atRest: boolean, shape: 'day' | 'workspace'): Promise<{ ms: number; invoices: number; messages: number }>;
  close(): void;
};

/** The day's page in Chromium, its CPS session open through the bridge on pcscd + vpcd. */
export interface DayBench {
  page: Page;
  params: DayParams;
  close(): Promise<void>;
}

export async function openDayBench(): Promise<DayBench> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium missing at ${CHROMIUM_PATH} (scripts/install-system-deps.sh)`);
  if (!pcscAvailable()) throw new Error('pcscd or the vpcd driver missing (scripts/install-system-deps.sh): the day is measured on the real PC/SC stack');
  const set = await makeCardSet();
  const chain = await sesamChain();
  const dir = await mkdtemp(join(tmpdir(), 'teletrans-bench-billing-'));
  let browser: Browser | undefined;
  let page: Page | undefined;
  let pcscd: Pcscd | undefined;
  let bridge: Bridge | undefined;
  const cards: VpcdInsertion[] = [];
  const close = async (): Promise<void> => {
    for (const c of cards) c.remove();
    await page?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await bridge?.close().catch(() => undefined);
    await pcscd?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    browser = await launchChromium();
    page = await openModulePage(browser, 'bench/entries/billing-entry.ts', 'BillingBench');
    const p = page;
    pcscd = await startPcscd();
    bridge = await startBridge({
      port: 0,
      stateDir: dir,
      allowedOrigins: [new URL(p.url()).origin],
      approve: async ({ code }) => {
        for (let i = 0; i < 500; i++) {
          const shown = await p.evaluate(() => globalThis.shownCode);
          if (shown) return shown === code;
          await new Promise((r) => setTimeout(r, 20));
        }
        return false;
      },
    });
    const b = bridge;
    cards.push(new VpcdInsertion(set.cps, pcscd.port), new VpcdInsertion(set.vitale, pcscd.port + 1));
    for (const c of cards) await c.insert();
    const t0 = Date.now();
    while (b.transport.readers().filter((r) => r.present).length < 2) {
      if (Date.now() - t0 > 30_000) throw new Error('cards not seen by pcscd');
      await new Promise((r) => setTimeout(r, 20));
    }
    const reader = pcscd.readers[0];
    const c = set.cpsData;
    const situation = c.situations[0]!;
    const practitioner: InvoiceJson['practitioner'] = practitionerInputFromCps(c, situation.structureId);
    const params: DayParams = {
      url: b.url,
      reader,
      pin: '1234',
      invoicesJson: JSON.stringify(dayOfInvoices(practitioner)),
      sender: situation.structureId,
      from: 'ps.demo@teletrans.test',
      now: START,
      recipient: { leaf: b64(chain.leaf), root: b64(chain.root), inter: b64(chain.inter), crls: [b64(chain.rootCrl), b64(chain.interCrl)], email: SESAM_EMAIL },
    };
    await p.evaluate(({ url, reader, pin }) => (globalThis as unknown as { BillingBench: DayApi }).BillingBench.open(url, reader, pin), { url: params.url, reader, pin: params.pin });
    return { page: p, params, close };
  } catch (e) {
    await close();
    throw e;
  }
}

export async function benchBilling(): Promise<object[]> {
  const bench = await openDayBench();
  const p = bench.page;
  const params = bench.params;
  try {
    const days: DayResult[] = [];
    const prims: Awaited<ReturnType<DayApi['primitives']>>[] = [];
    // Round 0 warms up (JIT, first IndexedDB databases, the card's first signatures): not counted.
    for (let r = 0; r <= ROUNDS; r++) {
      // Each measured run starts after the same pause: a card loop run right after another is
      // faster (the bridge, pcscd and the card process are still hot; measured 0.2–0.3 ms per
      // signature), and neither side may inherit the other's warm pipeline.
      const pause = () => new Promise((r) => setTimeout(r, PAUSE_MS));
      const runDay = () => pause().then(() => p.evaluate((q) => (globalThis as unknown as { BillingBench: DayApi }).BillingBench.day(q), params));
      const runPrimitives = () => pause().then(() => p.evaluate((q) => (globalThis as unknown as { BillingBench: DayApi }).BillingBench.primitives(q), params));
      // The primitives redo what the last day did (the same 60 documents, signed and encrypted
      // again); which runs first alternates, so that a drift of the machine (the card process,
      // pcscd) weighs on both alike.
      let d: DayResult;
      let x: Awaited<ReturnType<DayApi['primitives']>>;
      if (r % 2 === 0) {
        d = await runDay();
        x = await runPrimitives();
      } else {
        x = await runPrimitives();
        d = await runDay();
      }
      process.stderr.write(`bench billing: round ${r}: day ${round1(d.ms)} ms ${JSON.stringify(Object.fromEntries(Object.entries(d.phases).map(([k, v]) => [k, round1(v)])))}; primitives ${round1(x.ms)} ms (sign ${round1(x.sign)}, cms ${round1(x.cms)}, commit ${round1(x.commit)})\n`);
      if (d.invoices !== INVOICES || d.signatures !== INVOICES) throw new Error(`the day made ${d.invoices} invoices and ${d.signatures} signatures, not ${INVOICES}`);
      if (r > 0) {
        days.push(d);
        prims.push(x);
      }
    }
    await p.evaluate(() => (globalThis as unknown as { BillingBench: DayApi }).BillingBench.close());
    const msTotal = median(days.map((d) => d.ms));
    const msPrimitives = median(prims.map((x) => x.ms));
    const last = days.at(-1)!;
    process.stderr.write(`bench billing: ${last.files.length} files (${last.files.map((f) => `${f.kind} ${f.invoices}`).join(', ')}), subjects ${last.subjects.join(' ')}\n`);
    return [
      {
        bench: 'billing-day',
        runtime: 'chromium',
        invoices: INVOICES,
        ms_total: round1(msTotal),
        ms_primitives: round1(msPrimitives),
        ratio_to_primitives: Math.round((msTotal / msPrimitives) * 1000) / 1000,
      },
    ];
  } finally {
    await bench.close();
  }
}
