/**
 * WebHID: the CCID driver over our HID report mapping (src/lib/card/ccid/hid-link.ts) against
 * an emulated HID reader with a PIN pad (./fixtures/hid-device.ts): the same card-services
 * results as the simulated readers, the PIN on the pad, slot changes, frames out of order.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeCps, makeTestPki, makeVitale, type TestPki } from '../../bridge/cards/profiles.js';
import { SimulatedTransport } from '../../bridge/transport.js';
import { CcidTransport } from '../../src/lib/card/ccid/driver.js';
import { CcidError } from '../../src/lib/card/ccid/errors.js';
import { HidCcidLink, HidFrameJoiner, hidFrames } from '../../src/lib/card/ccid/hid-link.js';
import { VirtualCardServices } from '../../src/lib/card/virtual-services.js';
import { EmulatedHidCcidDevice } from './fixtures/hid-device.js';
import { runCardSuite } from './support/services-suite.js';

const PIN = '8642';
const R0 = 'Clavier-lecteur HID émulé 00';
const R1 = 'Clavier-lecteur HID émulé 01';

describe('CCID over (emulated) WebHID', () => {
  let pki: TestPki;
  const open: CcidTransport[] = [];

  beforeAll(async () => {
    pki = await makeTestPki();
  }, 60_000);

  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  async function reader(pinPad = true) {
    const dev = new EmulatedHidCcidDevice({ pinPad });
    const [cps, vitale] = await Promise.all([makeCps(pki, { pin: PIN }), makeVitale(pki)]);
    dev.insert(0, cps.card);
    dev.insert(1, vitale.card);
    const t = await CcidTransport.over(await HidCcidLink.open(dev), { responseTimeoutMs: 2000 });
    open.push(t);
    return { dev, t, cps, vitale };
  }

  it('frames: any message length splits and joins back; a frame out of sequence is a protocol error', () => {
    for (const n of [0, 1, 61, 62, 63, 124, 125, 300, 1000]) {
      const m = Uint8Array.from({ length: n }, (_, i) => (i * 13) & 0xff);
      const j = new HidFrameJoiner(2000);
      const fs = hidFrames(m);
      expect(fs.every((f) => f.length === 64)).toBe(true);
      const outs = fs.map((f) => j.push(f));
      expect(outs.slice(0, -1).every((o) => o === null)).toBe(true);
      expect(outs.at(-1)).toEqual(m);
    }
    const fs = hidFrames(new Uint8Array(200));
    const j = new HidFrameJoiner(2000);
    j.push(fs[0]!);
    expect(() => j.push(fs[2]!)).toThrow(CcidError);
    expect(() => new HidFrameJoiner(100).push(Uint8Array.of(0xc0, 63))).toThrow(/malformée/);
  });

  it('runs the card services with the same results as the simulated readers', async () => {
    const { t, cps, vitale } = await reader();
    expect(t.kind).toBe('webhid');
    expect(t.readers().map((r) => [r.name, r.present, r.pinPad])).toEqual([[R0, true, true], [R1, true, true]]);
    const viaHid = await runCardSuite(t, R0, R1, PIN);
    const sim = new SimulatedTransport(['A', 'B']);
    sim.insert('A', cps.card);
    sim.insert('B', vitale.card);
    expect(viaHid).toEqual(await runCardSuite(sim, 'A', 'B', PIN));
  });

  it('the PIN typed on the HID pad: right, wrong, cancelled', async () => {
    const { t, dev } = await reader();
    dev.inner.padScript.push({ digits: '0000' }, { digits: PIN }, 'cancel');
    const s = new VirtualCardServices();
    const out = await t.withCard(R0, async (tx, pad) => {
      const wrong = await s.verifyPinOnPad(tx, pad!);
      const right = await s.verifyPinOnPad(tx, pad!);
      const cancelled = await s.verifyPinOnPad(tx, pad!).then(() => 'ok', (e: { code: string }) => e.code);
      return { wrong, right, cancelled };
    });
    expect(out).toEqual({ wrong: { ok: false, triesLeft: 2, blocked: false }, right: { ok: true, triesLeft: 3 }, cancelled: 'pin_pad_cancelled' });
  });

  it('slot changes come as input report 03h; a frame out of sequence fails one command, the next works', async () => {
    const { t, dev } = await reader();
    const seen: string[] = [];
    t.on('removed', (n) => seen.push(`removed ${n}`));
    t.on('inserted', (r) => seen.push(`inserted ${r.name}`));
    dev.remove(1);
    dev.insert(1, (await makeVitale(pki)).card);
    for (let i = 0; i < 200 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([`removed ${R1}`, `inserted ${R1}`]);
    dev.corruptNextFrame = true;
    const s = new VirtualCardServices();
    // A READ BINARY of 200 bytes: its answer takes several frames, the last one out of sequence.
    const e = await t.withCard(R1, async (tx) => {
      await tx(Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x06, 0xf0, 0x54, 0x54, 0x56, 0x49, 0x54]));
      await tx(Uint8Array.from([0x00, 0xa4, 0x02, 0x00, 0x02, 0x01, 0x01]));
      return tx(Uint8Array.from([0x00, 0xb0, 0x00, 0x00, 0xc8]));
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CcidError);
    expect((e as CcidError).code).toBe('protocol');
    expect((await t.withCard(R1, (tx) => s.readVitale(tx))).beneficiaries.length).toBeGreaterThan(0);
  });

  it('a HID device without our CCID feature report is refused as not_ccid', async () => {
    const dev = new EmulatedHidCcidDevice();
    dev.receiveFeatureReport = () => Promise.reject(new Error('NotAllowedError: Failed to receive the feature report.'));
    await expect(HidCcidLink.open(dev)).rejects.toMatchObject({ code: 'not_ccid' });
  });
});
