/**
 * Bridge benchmarks (issue 5 goals): added latency per APDU through the channel (page →
 * bridge → pcscd → card → page) against the same APDU sent directly with pcsc-lite from the
 * bridge process, in the same run; and a full CPS + Vitale read through the channel.
 * Runs on a private pcscd with vpcd (test/bridge/pcscd.ts) when it can; otherwise on the
 * simulated readers, and says so in the rows ("stack").
 */
import WebSocket from 'ws';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCommand } from '../src/lib/card/apdu.js';
import { AID_CPS, makeCardSet } from '../bridge/cards/profiles.js';
import { VpcdInsertion } from '../bridge/cards/vpcd.js';
import { startBridge } from '../bridge/server.js';
import { SimulatedTransport, type CardTransport } from '../bridge/transport.js';
import { BridgeClient, MemoryKeyStore, type SocketLike } from '../src/lib/client/card/client.js';
import { b64u } from '../src/lib/card/protocol.js';
import { pcscAvailable, startPcscd, type Pcscd } from '../test/bridge/pcscd.js';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number): number => Math.round(x * 1000) / 1000;

export async function benchBridge(): Promise<object[]> {
  const set = await makeCardSet();
  const dir = await mkdtemp(join(tmpdir(), 'teletrans-bench-bridge-'));
  let pcscd: Pcscd | null = null;
  let stack = 'pcscd+vpcd';
  let transport: CardTransport | undefined;
  let readers: [string, string];
  const insertions: VpcdInsertion[] = [];
  try {
    if (!pcscAvailable()) throw new Error('pcscd/vpcd not installed');
    pcscd = await startPcscd();
    readers = pcscd.readers;
  } catch (e) {
    process.stderr.write(`bench bridge: real PC/SC stack unavailable (${(e as Error).message}); simulated readers\n`);
    stack = 'simulated';
    const sim = new SimulatedTransport(['S0', 'S1']);
    sim.insert('S0', set.cps);
    sim.insert('S1', set.vitale);
    transport = sim;
    readers = ['S0', 'S1'];
  }
  let code = '';
  const bridge = await startBridge({
    port: 0,
    transport,
    stateDir: dir,
    // The benchmark's page is http://localhost:5173: a development origin.
    dev: true,
    approve: async (r) => {
      while (!code) await new Promise((q) => setTimeout(q, 2));
      return r.code === code;
    },
  });
  try {
    if (pcscd) {
      insertions.push(new VpcdInsertion(set.cps, pcscd.port), new VpcdInsertion(set.vitale, pcscd.port + 1));
      for (const i of insertions) await i.insert();
      const t0 = Date.now();
      while (bridge.transport.readers().filter((r) => r.present).length < 2) {
        if (Date.now() - t0 > 10_000) throw new Error('cards not seen by pcscd');
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const origin = 'http://localhost:5173';
    const client = new BridgeClient({
      url: bridge.url,
      origin,
      keys: new MemoryKeyStore(),
      createSocket: (u) => new WebSocket(u, { origin }) as unknown as SocketLike,
    });
    await client.pair((c) => (code = c));
    await client.connect();

    const [r0, r1] = readers;
    const apdu = buildCommand(0x00, 0xa4, 0x04, 0x00, AID_CPS);
    const apduB64 = b64u(apdu);
    const direct: number[] = [];
    const channel: number[] = [];
    for (let i = 0; i < 20; i++) {
      await bridge.transport.withCard(r0, (tx) => tx(apdu));
      await client.call('apdu', { reader: r0, apdu: apduB64 });
    }
    const N = 300;
    for (let i = 0; i < N; i++) {
      let t = performance.now();
      await bridge.transport.withCard(r0, (tx) => tx(apdu));
      direct.push(performance.now() - t);
      t = performance.now();
      await client.call('apdu', { reader: r0, apdu: apduB64 });
      channel.push(performance.now() - t);
    }
    const reads: number[] = [];
    for (let i = 0; i < 3; i++) {
      await client.call('cps.read', { reader: r0 });
      await client.call('vitale.read', { reader: r1 });
    }
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      await client.call('cps.read', { reader: r0 });
      await client.call('vitale.read', { reader: r1 });
      reads.push(performance.now() - t);
    }
    client.close();
    const d = median(direct);
    const c = median(channel);
    return [
      { bench: 'apdu', stack, n: N, direct_ms_median: round(d), channel_ms_median: round(c), added_ms_median: round(c - d), goal_added_ms: 2 },
      { bench: 'card-read', stack, n: reads.length, what: 'CPS (identity, situations, card info, PIN status) + Vitale (card info, beneficiaries), sequential, through the channel', ms_median: round(median(reads)), goal_ms: 300 },
    ];
  } finally {
    for (const i of insertions) i.remove();
    await bridge.close();
    await pcscd?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
