/**
 * Card transports benchmark (`npm run bench -- transports`, issue 17): for each transport, in
 * the same run, the median time of one APDU, what the transport adds to the device's (or
 * pcscd's) own time for the same APDU, and a CPS + Vitale read.
 *
 * - bridge: the page → bridge channel against the same APDU sent by the bridge itself with
 *   pcsc-lite (bench/bridge.ts), on a private pcscd + vpcd;
 * - smartcard: `navigator.smartCard` in Chromium, emulated and forwarded to the same kind of
 *   pcscd (test/card/fixtures/smartcard-backend.ts); the device's own time is the emulated API's
 *   transmit, timed in the page (it crosses to this process by the DevTools protocol, which a
 *   browser's own API does not: `emulation_forwarding_ms_median`), pcscd's alone is the binding's
 *   transmit call timed here (`pcscd_ms_median`);
 * - webusb, webhid: the CCID driver in Chromium against the emulated readers running in the page
 *   (test/card/fixtures/), whose own time per XfrBlock is timed in the page; their cards'
 *   APDUs cross to the virtual cards in this process (part of the device's time).
 */
import type { Page } from 'playwright-core';
import { makeCps, makeTestPki, makeVitale } from '../bridge/cards/profiles.js';
import { VpcdInsertion } from '../bridge/cards/vpcd.js';
import { launchChromium, openModulePage } from '../test/browser/harness.js';
import { pcscAvailable, startPcscd } from '../test/bridge/pcscd.js';
import { PcscBackend } from '../test/card/fixtures/smartcard-backend.js';
import { benchBridge } from './bridge.js';
import { median } from './util.js';

type Entry = typeof import('../test/card/support/transports-entry');
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
const log = (s: string): void => void process.stderr.write(`bench transports: ${s}\n`);
const N = 300;
const READS = 30;

interface PageRun {
  apdu: number[];
  own: number[];
  reads: number[];
}

export async function benchTransports(emit?: (row: object) => void): Promise<object[]> {
  const rows: object[] = [];
  const out = (r: object): void => {
    rows.push(r);
    emit?.(r);
  };
  if (!pcscAvailable()) throw new Error('pcscd and vpcd are required (scripts/install-system-deps.sh)');

  log('bridge…');
  const b = (await benchBridge()) as Array<Record<string, number | string>>;
  const apduRow = b.find((r) => r.bench === 'apdu')!;
  const readRow = b.find((r) => r.bench === 'card-read')!;
  out({ bench: 'transport', transport: 'bridge', apdu_ms_median: apduRow.channel_ms_median, added_ms_median: apduRow.added_ms_median, card_read_ms_median: readRow.ms_median, own_ms_median: apduRow.direct_ms_median, n: apduRow.n });

  const pki = await makeTestPki();
  const [cps, vitale] = await Promise.all([makeCps(pki, { pin: '1234' }), makeVitale(pki)]);
  const pcscd = await startPcscd();
  const browser = await launchChromium();
  const backend = new PcscBackend();
  const slots = [new VpcdInsertion(cps.card, pcscd.port), new VpcdInsertion(vitale.card, pcscd.port + 1)];
  let page: Page | undefined;
  try {
    const [R0, R1] = pcscd.readers;
    await backend.waitForReaders([R0, R1]);
    await Promise.all(slots.map((s) => s.insert()));
    for (const end = Date.now() + 20_000; !(backend.present(R0) && backend.present(R1)); ) {
      if (Date.now() > end) throw new Error('cards not seen by pcscd');
      await new Promise((r) => setTimeout(r, 20));
    }
    page = await openModulePage(browser, 'test/card/support/transports-entry.ts', 'Transports');
    await page.exposeFunction('__smartcard', async (op: string, argsJson: string) => {
      if (op === 'ping') return 'null';
      const f = (backend as unknown as Record<string, (...a: unknown[]) => unknown>)[op];
      if (typeof f !== 'function' || op === 'close') throw new Error(`no such call ${op}`);
      return JSON.stringify((await f.apply(backend, JSON.parse(argsJson) as unknown[])) ?? null);
    });
    await page.exposeFunction('__cardApdu', async (id: string, hex: string) => {
      const card = id === 'cps' ? cps.card : vitale.card;
      if (hex === 'reset') return void card.reset();
      return Buffer.from(await card.process(Uint8Array.from(Buffer.from(hex, 'hex')))).toString('hex');
    });

    log('smartcard…');
    const sc = await page.evaluate(async ({ r0, r1, n, reads }) => {
      const T = (globalThis as unknown as { Transports: Entry }).Transports;
      T.installEmulatedSmartCard();
      const t = await T.SmartCardTransport.open((navigator as unknown as { smartCard: Parameters<typeof T.SmartCardTransport.open>[0] }).smartCard);
      const { VirtualCardServices } = T;
      const s = new VirtualCardServices();
      const select = Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x06, 0xf0, 0x54, 0x54, 0x43, 0x50, 0x53]);
      const forwarding: number[] = [];
      const bridge = (globalThis as unknown as { __smartcard(op: string, a: string): Promise<string> }).__smartcard;
      const apdu: number[] = [];
      let own: number[] = [];
      await t.withCard(r0, async (tx) => {
        for (let i = 0; i < 20; i++) await tx(select);
        const from = T.smartCardTransmitMs.length;
        // Each APDU next to one empty round trip of the emulation's forwarding, for its cost at that moment.
        for (let i = 0; i < n; i++) {
          let t0 = performance.now();
          await bridge('ping', '[]');
          forwarding.push(performance.now() - t0);
          t0 = performance.now();
          await tx(select);
          apdu.push(performance.now() - t0);
        }
        own = T.smartCardTransmitMs.slice(from, from + n);
      });
      const readMs: number[] = [];
      for (let i = 0; i < reads + 3; i++) {
        const t0 = performance.now();
        await t.withCard(r0, (tx) => s.readCps(tx));
        await t.withCard(r1, (tx) => s.readVitale(tx));
        if (i >= 3) readMs.push(performance.now() - t0);
      }
      await t.close();
      return { apdu, own, reads: readMs, forwarding };
    }, { r0: R0, r1: R1, n: N, reads: READS });
    // The emulated API's own time (its transmit, timed in the page) is the device's, as the
    // emulated readers' is for WebUSB and WebHID; pcscd's alone is printed beside it.
    const pcscOwn = backend.transmitMs.slice(20, 20 + N);
    out(row('smartcard', { apdu: sc.apdu, own: sc.own, reads: sc.reads }, {
      pcscd_ms_median: r3(median(pcscOwn)),
      emulation_forwarding_ms_median: r3(median(sc.forwarding)),
    }));

    // The same card objects go into the emulated readers: out of vpcd first (pcscd powers idle cards down).
    for (const s of slots) s.remove();
    for (const kind of ['webusb', 'webhid'] as const) {
      log(`${kind}…`);
      const run = await page.evaluate(async ({ kind, n, reads, atrs }) => {
        const T = (globalThis as unknown as { Transports: Entry }).Transports;
        let t: Awaited<ReturnType<typeof T.CcidTransport.open>>;
        let deviceMs: number[];
        if (kind === 'webusb') {
          const d = T.installEmulatedUsb({ slots: 2 });
          d.insert(0, T.remoteCard('cps', atrs.cps));
          d.insert(1, T.remoteCard('vitale', atrs.vitale));
          t = await T.CcidTransport.open(d);
          deviceMs = d.deviceMs;
        } else {
          const d = T.installEmulatedHid({ slots: 2, pinPad: true });
          d.insert(0, T.remoteCard('cps', atrs.cps));
          d.insert(1, T.remoteCard('vitale', atrs.vitale));
          t = await T.CcidTransport.over(await T.HidCcidLink.open(d));
          deviceMs = d.inner.deviceMs;
        }
        const [r0, r1] = t.readers().map((r) => r.name);
        const s = new T.VirtualCardServices();
        const select = Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x06, 0xf0, 0x54, 0x54, 0x43, 0x50, 0x53]);
        const apdu: number[] = [];
        let own: number[] = [];
        await t.withCard(r0!, async (tx) => {
          for (let i = 0; i < 20; i++) await tx(select);
          const from = deviceMs.length;
          for (let i = 0; i < n; i++) {
            const t0 = performance.now();
            await tx(select);
            apdu.push(performance.now() - t0);
          }
          own = deviceMs.slice(from, from + n);
        });
        const readMs: number[] = [];
        for (let i = 0; i < reads + 3; i++) {
          const t0 = performance.now();
          await t.withCard(r0!, (tx) => s.readCps(tx));
          await t.withCard(r1!, (tx) => s.readVitale(tx));
          if (i >= 3) readMs.push(performance.now() - t0);
        }
        await t.close();
        return { apdu, own, reads: readMs };
      }, { kind, n: N, reads: READS, atrs: { cps: Buffer.from(cps.card.atr).toString('hex'), vitale: Buffer.from(vitale.card.atr).toString('hex') } });
      out(row(kind, run, {}));
    }
  } finally {
    await page?.close();
    await browser.close();
    backend.close();
    for (const s of slots) s.remove();
    await pcscd.stop();
  }
  return rows;
}

/** One transport's row; `added` pairs each APDU with the device's own time for it. */
function row(transport: string, r: PageRun, extra: object): object {
  if (r.own.length !== r.apdu.length) throw new Error(`${transport}: ${r.own.length} own timings for ${r.apdu.length} APDUs`);
  return {
    bench: 'transport', transport,
    apdu_ms_median: r3(median(r.apdu)),
    added_ms_median: r3(median(r.apdu.map((a, i) => a - r.own[i]!))),
    card_read_ms_median: r3(median(r.reads)),
    own_ms_median: r3(median(r.own)), n: r.apdu.length,
    ...extra,
  };
}
