/**
 * One card-services suite (./support/services-suite.ts) over the transports a page can use and
 * over the bridge's PC/SC, with the same results (issue 17):
 *  - the bridge's PcscTransport in this process, on a private pcscd with vpcd holding the
 *    virtual CPS and Vitale;
 *  - the Web Smart Card API in Chromium: `navigator.smartCard` emulated in the page, forwarded to
 *    the same pcscd (./fixtures/smartcard-backend.ts);
 *  - CCID over WebUSB in Chromium: `navigator.usb` giving an emulated CCID reader that runs in the
 *    page, its cards' APDUs crossing to the same virtual cards here;
 *  - WebHID in Chromium: `navigator.hid` giving an emulated HID PIN-pad reader (our report mapping).
 * Same card objects everywhere, so the deterministic signatures must be byte-equal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { makeCps, makeTestPki, makeVitale } from '../../bridge/cards/profiles.js';
import type { VirtualCard } from '../../bridge/cards/card.js';
import { VpcdInsertion } from '../../bridge/cards/vpcd.js';
import { PcscTransport } from '../../bridge/transport.js';
import { launchChromium, openModulePage } from '../browser/harness.js';
import { PCSCD, VPCD_DRIVER, pcscAvailable, startPcscd, type Pcscd } from '../bridge/pcscd.js';
import { PcscBackend } from './fixtures/smartcard-backend.js';
import { startBridge } from '../../bridge/server.js';
import { b64u } from '../../src/lib/card/protocol.js';
import { approver, pairedClient, stateDir } from '../bridge/helpers.js';
import { runCardSuite, type SuiteResult } from './support/services-suite.js';

type Entry = typeof import('./support/transports-entry');
const ENTRY = 'test/card/support/transports-entry.ts';
const PIN = '2468';
const [R0, R1] = ['Virtual PCD 00 00', 'Virtual PCD 00 01'];
const EVENT_MS = 20_000;

describe('card transports in the page (Web Smart Card API, WebUSB CCID, WebHID) and the bridge: same suite, same results', () => {
  let pcscd: Pcscd;
  let browser: Browser;
  let page: Page;
  let backend: PcscBackend;
  let cards: { cps: VirtualCard; vitale: VirtualCard };
  let slot0: VpcdInsertion;
  let slot1: VpcdInsertion;

  beforeAll(async () => {
    if (!pcscAvailable()) throw new Error(`transports-in-page: ${PCSCD} or ${VPCD_DRIVER} missing; run scripts/install-system-deps.sh (the real PC/SC peer is required)`);
    const pki = await makeTestPki();
    const [cps, vitale] = await Promise.all([makeCps(pki, { pin: PIN }), makeVitale(pki)]);
    cards = { cps: cps.card, vitale: vitale.card };
    [pcscd, browser] = await Promise.all([startPcscd(), launchChromium()]);
    backend = new PcscBackend();
    await backend.waitForReaders([R0, R1]);
    slot0 = new VpcdInsertion(cards.cps, pcscd.port);
    slot1 = new VpcdInsertion(cards.vitale, pcscd.port + 1);
    await Promise.all([slot0.insert(), slot1.insert()]);
    page = await openModulePage(browser, ENTRY, 'Transports');
    await page.exposeFunction('__smartcard', async (op: string, argsJson: string) => {
      const args = JSON.parse(argsJson) as unknown[];
      const f = (backend as unknown as Record<string, (...a: unknown[]) => unknown>)[op];
      if (typeof f !== 'function' || op === 'close') throw new Error(`no such call ${op}`);
      return JSON.stringify((await f.apply(backend, args)) ?? null);
    });
    await page.exposeFunction('__cardApdu', async (id: string, hex: string) => {
      const card = id === 'cps' ? cards.cps : id === 'vitale' ? cards.vitale : null;
      if (!card) throw new Error(`no card ${id}`);
      if (hex === 'reset') return void card.reset();
      return Buffer.from(await card.process(Uint8Array.from(Buffer.from(hex, 'hex')))).toString('hex');
    });
  }, 420_000); // the pcscd fixture may wait its turn behind another test file

  afterAll(async () => {
    await page?.close();
    await browser?.close();
    backend?.close();
    slot0?.remove();
    slot1?.remove();
    await pcscd?.stop();
  });

  it('the bridge over PC/SC, navigator.smartCard, WebUSB CCID and WebHID give the same reads, PIN counts and signatures', async () => {
    const bridge = new PcscTransport();
    // Node's emitter throws an 'error' nobody listens to: closing cancels pcsclite's status wait.
    bridge.on('error', () => undefined);
    let viaBridge: SuiteResult;
    try {
      await waitFor(() => bridge.readers().filter((r) => r.present).length === 2, EVENT_MS);
      viaBridge = await runCardSuite(bridge, R0, R1, PIN);
    } finally {
      await bridge.close();
    }
    // The bridge as the page reaches it: its paired channel, the card services run in the bridge.
    const a = approver();
    const served = await startBridge({ port: 0, stateDir: await stateDir(), approve: a.hook, dev: true, transport: new PcscTransport() });
    let channel;
    try {
      await waitFor(() => served.transport.readers().filter((r) => r.present).length === 2, EVENT_MS);
      const { c } = await pairedClient(served.url, a);
      const digest = new Uint8Array(32).map((_, i) => (i * 7 + 3) & 0xff);
      const read = await c.call<{ family: string; rpps: string; situations: unknown[] }>('cps.read', { reader: R0 });
      const wrong = await c.verifyPin(R0, new TextEncoder().encode('0000'));
      const refused = await c.sign(R0, digest).then(() => 'signed', (e: { code: string }) => e.code);
      const right = await c.verifyPin(R0, new TextEncoder().encode(PIN));
      const { signature } = await c.call<{ signature: string }>('cps.sign', { reader: R0, digest: b64u(digest) });
      const v = await c.call<{ holderNir: string; beneficiaries: Array<{ firstName: string }> }>('vitale.read', { reader: R1 });
      c.close();
      channel = { cps: { family: read.family, rpps: read.rpps, situations: read.situations.length }, wrong, refused, right, signature: Buffer.from(signature, 'base64url').toString('base64'), vitale: { nir: v.holderNir, beneficiaries: v.beneficiaries.map((b) => b.firstName) } };
    } finally {
      await served.close();
    }
    expect(channel).toEqual({
      cps: { family: viaBridge!.cps.family, rpps: viaBridge!.cps.rpps, situations: viaBridge!.cps.situations },
      wrong: viaBridge!.wrong, refused: viaBridge!.refused, right: viaBridge!.right, signature: viaBridge!.signature, vitale: viaBridge!.vitale,
    });
    const smartcard = await page.evaluate(async ({ pin, r0, r1 }) => {
      const T = (globalThis as unknown as { Transports: Entry }).Transports;
      T.installEmulatedSmartCard();
      const sc = await T.SmartCardTransport.open((navigator as unknown as { smartCard: Parameters<typeof T.SmartCardTransport.open>[0] }).smartCard);
      try {
        return { kind: sc.kind, result: await T.runCardSuite(sc, r0, r1, pin) };
      } finally {
        await sc.close();
      }
    }, { pin: PIN, r0: R0, r1: R1 });
    // The same card objects go into the emulated USB and HID readers: out of vpcd first, or pcscd's
    // own power management (it powers idle cards down) would reset them under those runs.
    slot0.remove();
    slot1.remove();
    const inPage = await page.evaluate(async ({ pin, atrs }) => {
      const T = (globalThis as unknown as { Transports: Entry }).Transports;
      const device = T.installEmulatedUsb({ slots: 2 });
      device.insert(0, T.remoteCard('cps', atrs.cps));
      device.insert(1, T.remoteCard('vitale', atrs.vitale));
      const [granted] = await (navigator as unknown as { usb: { getDevices(): Promise<Array<Parameters<typeof T.CcidTransport.open>[0]>> } }).usb.getDevices();
      const usb = await T.CcidTransport.open(granted!);
      let webusb;
      try {
        const names = usb.readers().map((r) => r.name);
        webusb = { kind: usb.kind, names, result: await T.runCardSuite(usb, names[0]!, names[1]!, pin) };
      } finally {
        await usb.close();
      }
      const hidDevice = T.installEmulatedHid({ slots: 2, pinPad: true });
      hidDevice.insert(0, T.remoteCard('cps', atrs.cps));
      hidDevice.insert(1, T.remoteCard('vitale', atrs.vitale));
      const [hidGranted] = await (navigator as unknown as { hid: { getDevices(): Promise<Array<Parameters<typeof T.HidCcidLink.open>[0]>> } }).hid.getDevices();
      const hid = await T.CcidTransport.over(await T.HidCcidLink.open(hidGranted!));
      let webhid;
      try {
        const names = hid.readers().map((r) => r.name);
        webhid = { kind: hid.kind, names, pinPad: hid.readers().every((r) => r.pinPad), result: await T.runCardSuite(hid, names[0]!, names[1]!, pin) };
      } finally {
        await hid.close();
      }
      return { webusb, webhid };
    }, { pin: PIN, atrs: { cps: Buffer.from(cards.cps.atr).toString('hex'), vitale: Buffer.from(cards.vitale.atr).toString('hex') } });
    expect(viaBridge!.kinds).toEqual(['CPS', 'VITALE']);
    expect(viaBridge!.right).toEqual({ ok: true, triesLeft: 3 });
    expect(viaBridge!.wrong).toEqual({ ok: false, triesLeft: 2, blocked: false });
    await Promise.all([slot0.insert(), slot1.insert()]);
    // pcscd sees them back (it polls vpcd) before the next test starts watching.
    await waitFor(() => backend.present(R0) && backend.present(R1), EVENT_MS);
    expect(smartcard.kind).toBe('smartcard');
    expect(smartcard.result).toEqual(viaBridge!);
    expect(inPage.webusb.kind).toBe('webusb');
    expect(inPage.webusb.names).toEqual(['Lecteur USB émulé 00', 'Lecteur USB émulé 01']);
    expect(inPage.webusb.result).toEqual(viaBridge!);
    expect(inPage.webhid).toMatchObject({ kind: 'webhid', names: ['Clavier-lecteur HID émulé 00', 'Clavier-lecteur HID émulé 01'], pinPad: true });
    expect(inPage.webhid.result).toEqual(viaBridge!);
  }, 120_000);

  it('navigator.smartCard: a card pulled and put back is announced (removed, inserted with its ATR); a session on a pulled card fails as card_absent', async () => {
    await page.evaluate(async () => {
      const T = (globalThis as unknown as { Transports: Entry }).Transports;
      T.installEmulatedSmartCard();
      const sc = await T.SmartCardTransport.open((navigator as unknown as { smartCard: Parameters<typeof T.SmartCardTransport.open>[0] }).smartCard);
      const events: string[] = [];
      sc.on('removed', (n) => events.push(`removed ${n}`));
      sc.on('inserted', (r) => events.push(`inserted ${r.name} ${r.atr?.length}`));
      (globalThis as unknown as { scTest: unknown }).scTest = { sc, events };
    });
    // This reader's events only: the other one's card, put back at the end of the test before,
    // may still be settling at pcscd (its event counter moving once more), which the transport
    // rightly reports as a card pulled and put back there.
    const events = () => page.evaluate((r1) => (globalThis as unknown as { scTest: { events: string[] } }).scTest.events.filter((e) => e.includes(r1)), R1);
    slot1.remove();
    await waitForAsync(async () => (await events()).length === 1, EVENT_MS);
    const absent = await page.evaluate(async (r1) => {
      const { sc } = (globalThis as unknown as { scTest: { sc: { withCard(n: string, f: () => Promise<unknown>): Promise<unknown> } } }).scTest;
      return sc.withCard(r1, async () => 'ran').catch((e: { code?: string }) => e.code);
    }, R1);
    expect(absent).toBe('card_absent');
    await slot1.insert();
    await waitForAsync(async () => (await events()).length === 2, EVENT_MS);
    expect(await events()).toEqual([`removed ${R1}`, `inserted ${R1} ${cards.vitale.atr.length}`]);
    const read = await page.evaluate(async (r1) => {
      const { sc } = (globalThis as unknown as { scTest: { sc: { withCard<T>(n: string, f: (tx: (a: Uint8Array) => Promise<Uint8Array>) => Promise<T>): Promise<T>; close(): Promise<void> } } }).scTest;
      try {
        return await sc.withCard(r1, async (tx) => [...(await tx(Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x06, 0xf0, 0x54, 0x54, 0x56, 0x49, 0x54])))]);
      } finally {
        await sc.close();
      }
    }, R1);
    expect(read).toEqual([0x90, 0x00]);
  }, 120_000);
});

async function waitFor(f: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function waitForAsync(f: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
