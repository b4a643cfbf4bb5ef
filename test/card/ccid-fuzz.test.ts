/**
 * The CCID driver fed malformed descriptors, responses and notifications (issue 17): every
 * outcome is a typed error (CcidError with its code, CardAbsentError) or a success, within a
 * bound — never another exception, never a hang. Seeded, so a failure replays.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { makeCps, makeTestPki, makeVitale, type TestPki } from '../../bridge/cards/profiles.js';
import { parseCcidConfiguration } from '../../src/lib/card/ccid/descriptor.js';
import { CcidTransport } from '../../src/lib/card/ccid/driver.js';
import { CcidError } from '../../src/lib/card/ccid/errors.js';
import { CardAbsentError } from '../../src/lib/card/transport.js';
import { VirtualCardServices } from '../../src/lib/card/virtual-services.js';
import { EmulatedCcidDevice, ccidConfigurationDescriptor } from './fixtures/ccid-device.js';

/** xorshift32: deterministic. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

const typed = (e: unknown): boolean => e instanceof CcidError || e instanceof CardAbsentError;

/** Rejects if `p` has not settled in `ms`: a hang is a failure of its own. */
function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`hang: nothing after ${ms} ms`)), ms))]);
}

function mutate(base: Uint8Array, r: () => number): Uint8Array {
  const b = base.slice();
  const kind = Math.floor(r() * 4);
  if (kind === 0) return b.subarray(0, Math.floor(r() * b.length)); // truncated
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * b.length);
    b[at] = kind === 1 ? Math.floor(r() * 256) : kind === 2 ? b[at]! ^ (1 << Math.floor(r() * 8)) : [0, 1, 0xff, 0x7f, 0x80][Math.floor(r() * 5)]!;
  }
  return b;
}

describe('CCID driver fuzzing', () => {
  let pki: TestPki;
  const base = ccidConfigurationDescriptor({ slots: 2, level: 'short-apdu', maxMessageLength: 271, pinPad: true, interrupt: true });

  beforeAll(async () => {
    pki = await makeTestPki();
  }, 60_000);

  it('5000 mutated configuration descriptors: parsed or refused with a CcidError, nothing else', () => {
    const r = rng(17);
    const codes = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const d = mutate(base, r);
      try {
        const p = parseCcidConfiguration(d);
        // What is accepted is coherent: endpoints exist, slots and message sizes within bounds.
        expect(p.maxSlotIndex).toBeLessThanOrEqual(15);
        expect(p.maxMessageLength).toBeGreaterThanOrEqual(14);
        codes.set('parsed', (codes.get('parsed') ?? 0) + 1);
      } catch (e) {
        if (!(e instanceof CcidError)) throw new Error(`descriptor ${Buffer.from(d).toString('hex')}: ${String(e)}`);
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
    }
    expect(codes.get('parsed')).toBeGreaterThan(100);
    expect(codes.get('descriptor_invalid')).toBeGreaterThan(100);
    expect(codes.get('not_ccid')).toBeGreaterThan(10);
  });

  it('opening devices with 150 mutated descriptors: a transport or a typed error, each within its bound', async () => {
    const r = rng(99);
    const [cps, vitale] = await Promise.all([makeCps(pki), makeVitale(pki)]);
    let opened = 0;
    for (let i = 0; i < 150; i++) {
      const dev = new EmulatedCcidDevice({ descriptor: mutate(base, r), pinPad: true });
      dev.insert(0, cps.card);
      dev.insert(1, vitale.card);
      try {
        const t = await bounded(CcidTransport.open(dev, { responseTimeoutMs: 100, maxCommandMs: 300 }), 5000);
        opened++;
        await t.close();
      } catch (e) {
        if (!typed(e)) throw new Error(`open ${i}: ${String(e)}`);
      }
    }
    expect(opened).toBeGreaterThan(10);
  }, 60_000);

  it('300 garbled responses: each command fails typed or succeeds, and the reader still works after', async () => {
    const r = rng(5);
    const dev = new EmulatedCcidDevice();
    const [cps, vitale] = await Promise.all([makeCps(pki), makeVitale(pki)]);
    dev.insert(0, cps.card);
    dev.insert(1, vitale.card);
    const t = await CcidTransport.open(dev, { responseTimeoutMs: 60, maxCommandMs: 200 });
    const select = Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x06, 0xf0, 0x54, 0x54, 0x56, 0x49, 0x54]);
    const codes = new Map<string, number>();
    try {
      for (let i = 0; i < 300; i++) {
        // A plausible header (right type, slot, next bSeq) with random fields, or plain noise.
        const len = Math.floor(r() * 40);
        const g = Uint8Array.from({ length: len }, () => Math.floor(r() * 256));
        if (len >= 10 && r() < 0.7) {
          g[0] = [0x80, 0x81, 0x82, 0x83][Math.floor(r() * 4)]!;
          if (r() < 0.5) g.set([len - 10, 0, 0, 0], 1);
          g[5] = 1;
        }
        dev.faults.garbage = g;
        try {
          await bounded(t.withCard(t.readers()[1]!.name, (tx) => tx(select)), 5000);
          codes.set('ok', (codes.get('ok') ?? 0) + 1);
        } catch (e) {
          if (!typed(e)) throw new Error(`response ${Buffer.from(g).toString('hex')}: ${String(e)}`);
          const code = (e as { code: string }).code;
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
        // A card declared gone by a garbled status comes back, as after a real reinsertion.
        if (!t.readers()[1]!.present) {
          dev.remove(1);
          dev.insert(1, vitale.card);
          await bounded(until(() => t.readers()[1]!.present), 5000);
        }
      }
      expect(codes.get('protocol')).toBeGreaterThan(50);
      expect(codes.get('timeout')).toBeGreaterThan(10);
      // After all that, a full read.
      expect((await t.withCard(t.readers()[1]!.name, (tx) => new VirtualCardServices().readVitale(tx))).beneficiaries.length).toBeGreaterThan(0);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('malformed notifications are reported as errors; the driver keeps listening', async () => {
    const dev = new EmulatedCcidDevice();
    const vitale = await makeVitale(pki);
    dev.insert(1, vitale.card);
    const t = await CcidTransport.open(dev);
    const errors: string[] = [];
    const inserted: string[] = [];
    t.on('error', (e) => errors.push((e as CcidError).code));
    t.on('inserted', (s) => inserted.push(s.name));
    try {
      for (const b of [[], [0x50], [0x51, 0, 0], [0x99, 1, 2, 3], [0x51, 0, 0, 0x22]]) dev.rawNotification(Uint8Array.from(b));
      await bounded(until(() => errors.length === 5), 3000);
      expect(errors).toEqual(['protocol', 'protocol', 'protocol', 'protocol', 'reader_error']);
      dev.insert(0, (await makeCps(pki)).card);
      await bounded(until(() => inserted.length === 1), 3000);
      expect(t.readers()[0]!.present).toBe(true);
    } finally {
      await t.close();
    }
  });
});

async function until(f: () => boolean): Promise<void> {
  while (!f()) await new Promise((r) => setTimeout(r, 5));
}
