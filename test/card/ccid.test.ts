/**
 * The CCID driver (src/lib/card/ccid/) against an emulated USB reader (./fixtures/ccid-device.ts)
 * holding our virtual cards: descriptors, power, XfrBlock at short and extended APDU level with
 * chaining, T=0 GET RESPONSE and 6Cxx, time extensions, Secure on a pad, slot-change
 * notifications, stalls, silence, a late answer, a card pulled mid-command. The card-services
 * run gives the same results as over the bridge's simulated readers.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeCps, makeTestPki, makeVitale, type TestPki } from '../../bridge/cards/profiles.js';
import { SimulatedTransport } from '../../bridge/transport.js';
import { CcidTransport } from '../../src/lib/card/ccid/driver.js';
import { CcidError } from '../../src/lib/card/ccid/errors.js';
import { CardAbsentError } from '../../src/lib/card/transport.js';
import { VirtualCardServices } from '../../src/lib/card/virtual-services.js';
import { EmulatedCcidDevice, type EmulatedCcidOptions } from './fixtures/ccid-device.js';
import { runCardSuite } from './support/services-suite.js';

const PIN = '4321';
const R0 = 'Lecteur USB émulé 00';
const R1 = 'Lecteur USB émulé 01';

describe('CCID over (emulated) WebUSB', () => {
  let pki: TestPki;
  const open: CcidTransport[] = [];

  beforeAll(async () => {
    pki = await makeTestPki();
  }, 60_000);

  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  async function reader(o: EmulatedCcidOptions = {}, driver: { responseTimeoutMs?: number; maxCommandMs?: number; pollMs?: number } = {}) {
    const dev = new EmulatedCcidDevice(o);
    const [cps, vitale] = await Promise.all([makeCps(pki, { pin: PIN }), makeVitale(pki)]);
    dev.insert(0, cps.card);
    dev.insert(1, vitale.card);
    const t = await CcidTransport.open(dev, driver);
    open.push(t);
    return { dev, t, cps, vitale };
  }

  it('reads the descriptors: two slots, short APDU level, the PIN pad, the endpoints', async () => {
    const { t, cps, vitale } = await reader({ pinPad: true });
    expect(t.descriptor).toMatchObject({ maxSlotIndex: 1, level: 'short-apdu', maxMessageLength: 271, pinSupport: 1, bulkOut: 1, bulkIn: 2, interruptIn: 3, interfaceNumber: 0 });
    expect(t.readers()).toEqual([{ name: R0, present: true, pinPad: true, atr: cps.card.atr }, { name: R1, present: true, pinPad: true, atr: vitale.card.atr }]);
  });

  it('runs the card services with the same results as the simulated readers (reads, PIN tries, signature, Vitale)', async () => {
    const { t, cps, vitale, dev } = await reader();
    const viaUsb = await runCardSuite(t, R0, R1, PIN);
    const sim = new SimulatedTransport(['A', 'B']);
    sim.insert('A', cps.card);
    sim.insert('B', vitale.card);
    const viaSim = await runCardSuite(sim, 'A', 'B', PIN);
    expect(viaUsb).toEqual(viaSim);
    expect(viaUsb.kinds).toEqual(['CPS', 'VITALE']);
    expect(viaUsb.cps).toMatchObject({ family: 'CPS', rpps: cps.data.rpps, situations: 3 });
    expect(viaUsb.wrong).toEqual({ ok: false, triesLeft: 2, blocked: false });
    expect(viaUsb.refused).toBe('pin_required');
    expect(viaUsb.right).toEqual({ ok: true, triesLeft: 3 });
    expect(viaUsb.vitale.nir).toBe(vitale.data.holderNir);
    expect(dev.counts.chainedResponseParts).toBe(0);
  });

  it('T=0 cards: response data fetched with GET RESPONSE (61xx), a wrong Le sent again (6Cxx)', async () => {
    const { t, dev } = await reader({ t0: true });
    const r = await runCardSuite(t, R0, R1, PIN);
    expect(r.right).toEqual({ ok: true, triesLeft: 3 });
    expect(dev.counts.getResponses).toBeGreaterThanOrEqual(10);
    // A READ BINARY asking more than the file holds: 6Cxx, then the same command with that Le.
    const out = await t.withCard(R0, async (tx) => {
      await tx(Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x06, 0xf0, 0x54, 0x54, 0x43, 0x50, 0x53]));
      const sel = await tx(Uint8Array.from([0x00, 0xa4, 0x02, 0x00, 0x02, 0x00, 0x03]));
      const size = (sel[4]! << 8) | sel[5]!;
      return { size, read: await tx(Uint8Array.from([0x00, 0xb0, 0x00, 0x00, 0x00])) };
    });
    expect(dev.counts.wrongLe).toBe(1);
    expect(out.read.length).toBe(out.size + 2);
    expect([...out.read.subarray(-2)]).toEqual([0x90, 0x00]);
  });

  it('chains commands and responses longer than the reader’s messages (wLevelParameter / bChainParameter)', async () => {
    const { t, dev, cps } = await reader({ maxMessageLength: 10 + 24 });
    const sim = new SimulatedTransport(['A', 'B']);
    sim.insert('A', cps.card);
    const viaSim = await sim.withCard('A', (tx) => new VirtualCardServices().readCps(tx));
    const r = await t.withCard(R0, (tx) => new VirtualCardServices().readCps(tx));
    expect(r).toEqual(viaSim);
    expect(dev.counts.chainedResponseParts).toBeGreaterThan(0);
    const sig = await t.withCard(R0, async (tx, pad) => {
      expect(pad).toBeNull();
      const s = new VirtualCardServices();
      await s.verifyPin(tx, new TextEncoder().encode(PIN));
      return s.sign(tx, new Uint8Array(32).fill(1));
    });
    expect(sig.length).toBe(256);
    // The PSO (5 + 32 bytes) went in two parts.
    expect(dev.counts.chainedCommandParts).toBe(2);
  });

  it('extended APDUs: chained to an extended-level reader, refused by a short-level one before anything is sent', async () => {
    const big = new Uint8Array(4 + 3 + 600);
    big.set([0x00, 0xa4, 0x04, 0x00, 0x00, 600 >> 8, 600 & 0xff]);
    big.fill(0xab, 7);
    const ext = await reader({ level: 'extended-apdu', maxMessageLength: 271 });
    const r = await ext.t.withCard(R0, (tx) => tx(big));
    expect(r.length).toBe(2);
    expect(ext.dev.apdus.at(-1)).toBe(Buffer.from(big).toString('hex'));
    expect(ext.dev.counts.chainedCommandParts).toBe(3);
    const short = await reader();
    const before = short.dev.counts.commands;
    const e = await short.t.withCard(R0, (tx) => tx(big)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CcidError);
    expect((e as CcidError).code).toBe('apdu_too_long');
    expect(short.dev.counts.commands).toBe(before);
  });

  it('follows time extensions, answers split over several transfers, stray zero-length packets', async () => {
    const { t, dev } = await reader({}, { responseTimeoutMs: 500 });
    dev.faults.timeExtensions = 5;
    dev.faults.splitAt = 7;
    dev.faults.zlps = 2;
    const read = await t.withCard(R1, (tx) => new VirtualCardServices().readVitale(tx));
    expect(read.beneficiaries.length).toBeGreaterThan(0);
    expect(dev.counts.timeExtensions).toBe(5);
    // Nothing but zero-length packets: a protocol error, not a hang.
    dev.faults.zlps = 6;
    dev.faults.silent = true;
    await expect(t.withCard(R1, (tx) => tx(Uint8Array.from([0x00, 0xb0, 0x00, 0x00, 0x04])))).rejects.toMatchObject({ code: 'protocol' });
  });

  it('the PIN typed on the reader’s pad (Secure): right, wrong, cancelled, timed out — the page never holds it', async () => {
    const { t, dev } = await reader({ pinPad: true });
    const s = new VirtualCardServices();
    dev.padScript.push({ digits: '1111' }, { digits: PIN }, 'cancel', 'timeout', { digits: '12' });
    const out = await t.withCard(R0, async (tx, pad) => {
      expect(pad).not.toBeNull();
      const wrong = await s.verifyPinOnPad(tx, pad!);
      const right = await s.verifyPinOnPad(tx, pad!);
      const codes: string[] = [];
      for (let i = 0; i < 3; i++) codes.push(await s.verifyPinOnPad(tx, pad!).then(() => 'ok', (e: { code: string }) => e.code));
      return { wrong, right, codes };
    });
    expect(out.wrong).toEqual({ ok: false, triesLeft: 2, blocked: false });
    expect(out.right).toEqual({ ok: true, triesLeft: 3 });
    expect(out.codes).toEqual(['pin_pad_cancelled', 'pin_pad_timeout', 'pin_pad_length']);
    // The digits went from the pad into the VERIFY, not through the driver's messages.
    expect(dev.padApdus.map((a) => Buffer.from(a.subarray(5, 9)).toString())).toEqual(['1111', PIN]);
    expect(dev.apdus.some((a) => a.includes(Buffer.from(PIN).toString('hex')))).toBe(false);
  });

  it('announces removals and insertions from the interrupt pipe, and by polling without one', async () => {
    for (const interrupt of [true, false]) {
      const { t, dev } = await reader({ interrupt }, { pollMs: 20 });
      const seen: string[] = [];
      t.on('removed', (n) => seen.push(`removed ${n}`));
      t.on('inserted', (r) => seen.push(`inserted ${r.name} ${Buffer.from(r.atr!).toString('hex')}`));
      dev.remove(1);
      await until(() => seen.length === 1);
      expect(t.readers()[1]!.present).toBe(false);
      await expect(t.withCard(R1, async () => 'x')).rejects.toBeInstanceOf(CardAbsentError);
      const other = (await makeVitale(pki)).card;
      dev.insert(1, other);
      await until(() => seen.length === 2);
      expect(seen).toEqual([`removed ${R1}`, `inserted ${R1} ${Buffer.from(other.atr).toString('hex')}`]);
      expect((await t.withCard(R1, (tx) => new VirtualCardServices().readVitale(tx))).beneficiaries.length).toBeGreaterThan(0);
    }
  });

  it('a card pulled during a command: CardAbsentError, the removal announced, the other slot unaffected', async () => {
    const { t, dev } = await reader();
    const removed: string[] = [];
    t.on('removed', (n) => removed.push(n));
    const e = await t.withCard(R0, async (tx) => {
      await new VirtualCardServices().readCps(tx);
      dev.faults.pull = true;
      return tx(Uint8Array.from([0x00, 0xb0, 0x00, 0x00, 0x10]));
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CardAbsentError);
    expect(removed).toEqual([R0]);
    expect(t.readers()[0]!.present).toBe(false);
    expect((await t.withCard(R1, (tx) => new VirtualCardServices().readVitale(tx))).beneficiaries.length).toBeGreaterThan(0);
  });

  it('stalls are cleared and reported; a silent reader times out; its late answer is dropped, not taken for the next', async () => {
    const { t, dev } = await reader({}, { responseTimeoutMs: 150 });
    const s = new VirtualCardServices();
    dev.faults.stallOut = true;
    await expect(t.withCard(R1, (tx) => s.readVitale(tx))).rejects.toMatchObject({ code: 'transfer_failed' });
    dev.faults.stallIn = true;
    await expect(t.withCard(R1, (tx) => s.readVitale(tx))).rejects.toMatchObject({ code: 'transfer_failed' });
    expect(dev.counts.stalls).toBe(2);
    expect((await t.withCard(R1, (tx) => s.readVitale(tx))).beneficiaries.length).toBeGreaterThan(0);

    dev.faults.silent = true;
    await expect(t.withCard(R1, (tx) => s.readVitale(tx))).rejects.toMatchObject({ code: 'timeout' });
    expect((await t.withCard(R1, (tx) => s.readVitale(tx))).beneficiaries.length).toBeGreaterThan(0);

    // The answer to a command given up comes while the next one waits: recognised by bSeq.
    dev.faults.lateMs = 300;
    const select = Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x06, 0xf0, 0x54, 0x54, 0x56, 0x49, 0x54]);
    await expect(t.withCard(R1, (tx) => tx(select))).rejects.toMatchObject({ code: 'timeout' });
    const next = await t.withCard(R1, (tx) => tx(Uint8Array.from([0x00, 0xa4, 0x02, 0x00, 0x02, 0x01, 0x01])));
    expect([...next.subarray(-2)]).toEqual([0x90, 0x00]);
    expect(next.length).toBe(8); // the FCP of the file, not the SELECT's bare 9000
  });

  it('refuses TPDU-level readers and devices that are not CCID, with their reason', async () => {
    await expect(CcidTransport.open(new EmulatedCcidDevice({ level: 'tpdu' }))).rejects.toMatchObject({ code: 'unsupported_level' });
    const notCcid = new EmulatedCcidDevice({ descriptor: Uint8Array.from([0x09, 0x02, 18, 0, 1, 1, 0, 0x80, 0x32, 0x09, 0x04, 0, 0, 0, 0x03, 0, 0, 0]) });
    await expect(CcidTransport.open(notCcid)).rejects.toMatchObject({ code: 'not_ccid' });
    // A reader another driver holds (pcscd's, the system's): Chromium refuses the claim.
    const held = new EmulatedCcidDevice();
    held.claimInterface = () => Promise.reject(new Error('NetworkError: Unable to claim interface.'));
    await expect(CcidTransport.open(held)).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('Unable to claim interface') });
  });
});

async function until(f: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
