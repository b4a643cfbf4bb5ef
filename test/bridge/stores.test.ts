/** Browser side as Svelte stores: pairing, card events, CPS removal locks, reconnection after a bridge restart. */
import { afterAll, expect, it } from 'vitest';
import { get } from 'svelte/store';
import WebSocket from 'ws';
import { makeCardSet } from '../../bridge/cards/profiles.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import { SimulatedTransport } from '../../bridge/transport.js';
import { MemoryKeyStore, type SocketLike } from '../../src/lib/client/card/client.js';
import { createCardBridge } from '../../src/lib/client/card/stores.js';
import { APP_ORIGIN, stateDir, waitFor } from './helpers.js';

let bridge: Bridge | undefined;
afterAll(async () => {
  await bridge?.close();
});

it('pairs, follows the cards, locks when the CPS leaves, reconnects after a restart', async () => {
  const set = await makeCardSet();
  const sim = new SimulatedTransport(['R0', 'R1']);
  sim.insert('R0', set.cps);
  const dir = await stateDir();
  let bridgeCode = '';
  const approve = async (r: { code: string }): Promise<boolean> => {
    bridgeCode = r.code;
    await waitFor(() => get(cb.pairingCode) === r.code);
    return true;
  };
  bridge = await startBridge({ port: 0, transport: sim, stateDir: dir, approve });
  const port = bridge.port;
  const cb = createCardBridge({
    url: bridge.url,
    origin: APP_ORIGIN,
    keys: new MemoryKeyStore(),
    createSocket: (u) => new WebSocket(u, { origin: APP_ORIGIN }) as unknown as SocketLike,
    minDelay: 50,
    maxDelay: 200,
  });
  cb.start();
  await waitFor(() => get(cb.status) === 'non appairé');
  await cb.pair();
  expect(bridgeCode).toMatch(/^\d{3} \d{3}$/);
  await waitFor(() => get(cb.status) === 'connecté');
  expect(get(cb.cpsReader)).toBe('R0');
  expect(get(cb.locked)).toBe(true);
  expect((await cb.verifyPin(new TextEncoder().encode('1234'))).ok).toBe(true);
  expect(get(cb.locked)).toBe(false);
  sim.insert('R1', set.vitale);
  await waitFor(() => get(cb.vitaleReader) === 'R1');
  sim.remove('R0');
  await waitFor(() => get(cb.locked) && get(cb.cpsReader) === null);

  await bridge.close();
  await waitFor(() => get(cb.status) === 'injoignable');
  sim.insert('R0', set.cps);
  bridge = await startBridge({ port, transport: sim, stateDir: dir, approve });
  await waitFor(() => get(cb.status) === 'connecté', 5000);
  expect(get(cb.cpsReader)).toBe('R0');
  cb.stop();
});
