/**
 * The homologated engine's seam (issue 13 item 6b): the page asks the bridge whether the GIE's
 * SSV library is loaded; without it every engine call is a typed refusal naming why, and
 * `chooseSsvAdapter` falls back to our simulator and says so. The bridge here is the real one;
 * only the reader transport is simulated (no card is involved in these calls).
 */
import { afterEach, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { startBridge, type Bridge } from '../../bridge/server.js';
import { SimulatedTransport } from '../../bridge/transport.js';
import { BillingError } from '../../src/lib/billing/errors.js';
import { bridgeSsvAdapter, bridgeSsvStatus, chooseSsvAdapter } from '../../src/lib/client/billing/bridge-ssv.js';
import { approver, pairedClient, stateDir } from './helpers.js';

let bridge: Bridge | undefined;
let dir: string | undefined;
const saved = process.env.TELETRANS_SSV_LIB;

afterEach(async () => {
  await bridge?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (saved === undefined) delete process.env.TELETRANS_SSV_LIB;
  else process.env.TELETRANS_SSV_LIB = saved;
});

it('reports the SSV library absent, refuses engine calls with a typed error, and the page picks the simulator', async () => {
  process.env.TELETRANS_SSV_LIB = '/nonexistent/libssvlux64.so';
  dir = await stateDir();
  const a = approver();
  bridge = await startBridge({ port: 0, transport: new SimulatedTransport(['R0']), stateDir: dir, approve: a.hook, dev: true });
  const { c } = await pairedClient(bridge.url, a);
  try {
    const status = await bridgeSsvStatus(c);
    expect(status.available).toBe(false);
    expect(status.reason).toContain('/nonexistent/libssvlux64.so');

    const engine = bridgeSsvAdapter(c, '140700');
    expect(engine.homologated).toBe(true);
    const refused = await engine.buildLots([], { sender: '751234567', lotNumbers: async (n: number) => Array.from({ length: n }, (_, i) => String(i + 1).padStart(6, '0')) }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BillingError);
    expect((refused as BillingError).code).toBe('ssv_unavailable');
    expect((refused as BillingError).message).toContain('bibliothèque SSV absente');

    const chosen = await chooseSsvAdapter(c);
    expect(chosen.adapter.homologated).toBe(false);
    expect(chosen.adapter.version).toBe('140700');
    expect(chosen.notice).toContain('simulateur Teletrans');
    expect(chosen.notice).toContain('non officiel');
  } finally {
    c.close();
  }
});
