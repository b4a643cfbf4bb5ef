/** Browser side as Svelte stores: pairing, card events, CPS removal locks, reconnection after a bridge restart. */
import { afterAll, describe, expect, it } from 'vitest';
import { get } from 'svelte/store';
import WebSocket from 'ws';
import { makeCardSet } from '../../bridge/cards/profiles.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import { SimulatedTransport } from '../../bridge/transport.js';
import { MemoryKeyStore, type SocketLike } from '../../src/lib/client/card/client.js';
import { createCardBridge } from '../../src/lib/client/card/stores.js';
import {
  applyShared, lockMessage, nextLock, restoreLock, saveLock, sharedValue, type LockStorage, type SessionLock,
} from '../../src/lib/client/card/session-lock.js';
import { APP_ORIGIN, approver, stateDir, waitFor } from './helpers.js';

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
  bridge = await startBridge({ port: 0, transport: sim, stateDir: dir, approve, dev: true });
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
  bridge = await startBridge({ port, transport: sim, stateDir: dir, approve, dev: true });
  await waitFor(() => get(cb.status) === 'connecté', 5000);
  expect(get(cb.cpsReader)).toBe('R0');
  cb.stop();
});

describe('the session lock, as a state machine', () => {
  const memory = (): LockStorage & { data: Map<string, string> } => {
    const data = new Map<string, string>();
    return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v), removeItem: (k) => void data.delete(k) };
  };

  it('locks when the CPS leaves the reader where the PIN was verified, and only then', () => {
    let s: SessionLock = { state: 'none' };
    s = nextLock(s, { type: 'removed', reader: 'R0' });
    expect(s).toEqual({ state: 'none' }); // nothing to lock before any session
    s = nextLock(s, { type: 'pin-verified', reader: 'R0' });
    expect(s).toEqual({ state: 'unlocked', reader: 'R0' });
    expect(nextLock(s, { type: 'removed', reader: 'R1' })).toBe(s); // the Vitale reader
    expect(nextLock(s, { type: 'cps-readers', readers: ['R0'] })).toBe(s);
    expect(nextLock(s, { type: 'cps-readers', readers: [] })).toEqual({ state: 'locked', reason: 'removed' });
    expect(nextLock(s, { type: 'inserted', reader: 'R0' })).toEqual({ state: 'locked', reason: 'removed' });
    expect(nextLock(s, { type: 'pin-lost', reader: 'R0' })).toEqual({ state: 'locked', reason: 'removed' });
    s = nextLock(s, { type: 'removed', reader: 'R0' });
    expect(s).toEqual({ state: 'locked', reason: 'removed' });
    // Reinsertion alone does not unlock; the PIN does.
    expect(nextLock(s, { type: 'inserted', reader: 'R0' })).toBe(s);
    expect(nextLock(s, { type: 'cps-readers', readers: ['R0'] })).toBe(s);
    expect(nextLock(s, { type: 'pin-verified', reader: 'R0' })).toEqual({ state: 'unlocked', reader: 'R0' });
  });

  it('a reloaded tab that had a session comes back locked; storage holds no reader or card data', () => {
    const st = memory();
    expect(restoreLock(st)).toEqual({ state: 'none' });
    saveLock(st, { state: 'unlocked', reader: 'Lecteur CPS 00' });
    expect([...st.data.values()].join()).not.toContain('Lecteur');
    expect(restoreLock(st)).toEqual({ state: 'locked', reason: 'reload' });
    saveLock(st, { state: 'locked', reason: 'removed' });
    expect(restoreLock(st)).toEqual({ state: 'locked', reason: 'removed' });
    saveLock(st, { state: 'none' });
    expect(st.data.size).toBe(0);
    expect(lockMessage('removed')).toBe('Session verrouillée : carte CPS retirée. Réinsérez votre carte CPS et saisissez votre code PIN.');
  });

  it('drives the stores: CPS removed → app locked until the CPS is back and the PIN right; a reload stays locked', async () => {
    const set = await makeCardSet();
    const sim = new SimulatedTransport(['R0', 'R1']);
    sim.insert('R0', set.cps);
    sim.insert('R1', set.vitale);
    const a = approver();
    const b = await startBridge({ port: 0, transport: sim, stateDir: await stateDir(), approve: a.hook, dev: true });
    const storage = memory();
    const keys = new MemoryKeyStore();
    const make = (): ReturnType<typeof createCardBridge> =>
      createCardBridge({
        url: b.url,
        origin: APP_ORIGIN,
        keys,
        lockStorage: storage,
        createSocket: (u) => new WebSocket(u, { origin: APP_ORIGIN }) as unknown as SocketLike,
        minDelay: 50,
        maxDelay: 200,
      });
    const cb = make();
    try {
      const paired = cb.pair();
      await waitFor(() => get(cb.pairingCode) !== null);
      a.pageCode(get(cb.pairingCode)!);
      await paired;
      await waitFor(() => get(cb.status) === 'connecté');
      expect(get(cb.session)).toEqual({ state: 'none' });
      expect((await cb.verifyPin(new TextEncoder().encode('1234'))).ok).toBe(true);
      expect(get(cb.session)).toEqual({ state: 'unlocked', reader: 'R0' });

      sim.remove('R1'); // the Vitale: no lock
      await waitFor(() => get(cb.vitaleReader) === null);
      expect(get(cb.session).state).toBe('unlocked');

      sim.remove('R0');
      await waitFor(() => get(cb.session).state === 'locked');
      expect(get(cb.session)).toEqual({ state: 'locked', reason: 'removed' });
      sim.insert('R0', set.cps);
      await waitFor(() => get(cb.cpsReader) === 'R0');
      expect(get(cb.session).state).toBe('locked');
      expect((await cb.verifyPin(new TextEncoder().encode('9999'))).ok).toBe(false);
      expect(get(cb.session).state).toBe('locked');
      expect((await cb.verifyPin(new TextEncoder().encode('1234'))).ok).toBe(true);
      expect(get(cb.session)).toEqual({ state: 'unlocked', reader: 'R0' });

      // The tab reloads: the new stores start locked until the PIN, even with the card in place.
      cb.stop();
      const reloaded = make();
      expect(get(reloaded.session)).toEqual({ state: 'locked', reason: 'reload' });
      reloaded.start();
      await waitFor(() => get(reloaded.cpsReader) === 'R0');
      expect(get(reloaded.session).state).toBe('locked');
      expect((await reloaded.verifyPin(new TextEncoder().encode('1234'))).ok).toBe(true);
      expect(get(reloaded.session).state).toBe('unlocked');

      // The CPS pulled and put back while the page could not hear it (connection down): the
      // card lost its PIN state, and the reconnection finds out.
      const port = b.port;
      await b.close();
      await waitFor(() => get(reloaded.status) === 'injoignable');
      sim.remove('R0');
      sim.insert('R0', set.cps);
      const b2 = await startBridge({ port, transport: sim, stateDir: b.pairings.dir, approve: a.hook, dev: true });
      try {
        await waitFor(() => get(reloaded.status) === 'connecté', 5000);
        await waitFor(() => get(reloaded.session).state === 'locked', 5000);
      } finally {
        reloaded.stop();
        await b2.close();
      }
    } finally {
      cb.stop();
      await b.close();
    }
  }, 60_000);
});

describe('the lock shared by the tabs (localStorage)', () => {
  const unlocked = { state: 'unlocked', reader: 'R1' } as const;
  it('a lock in one tab locks the others; a tab opened during a locked session starts locked', () => {
    expect(sharedValue({ state: 'locked', reason: 'removed' })).toBe('locked');
    expect(applyShared(unlocked, 'locked', true)).toEqual({ state: 'locked', reason: 'removed' });
    expect(applyShared({ state: 'none' }, 'locked', false)).toEqual({ state: 'locked', reason: 'removed' });
  });

  it('a PIN verified in one tab unlocks that tab only: each tab has its own session with the bridge', () => {
    expect(sharedValue(unlocked)).toBe('unlocked:R1');
    // The bridge would refuse the other tabs' sessions their signatures: they stay as they are.
    expect(applyShared({ state: 'locked', reason: 'removed' }, 'unlocked:R1', true)).toEqual({ state: 'locked', reason: 'removed' });
    expect(applyShared({ state: 'locked', reason: 'reload' }, 'unlocked:R1', false)).toEqual({ state: 'locked', reason: 'reload' });
    expect(applyShared({ state: 'none' }, 'unlocked:R1', false)).toEqual({ state: 'none' });
    expect(applyShared({ state: 'none' }, null, false)).toEqual({ state: 'none' });
    expect(applyShared({ state: 'none' }, 'unlocked:', true)).toEqual({ state: 'none' });
    // A new connection to the bridge (reconnection) locks an unlocked tab: the new session has no PIN.
    expect(nextLock(unlocked, { type: 'session-lost' })).toEqual({ state: 'locked', reason: 'reconnected' });
    expect(nextLock({ state: 'none' }, { type: 'session-lost' })).toEqual({ state: 'none' });
    expect(lockMessage('reconnected')).toContain('connexion au pont de cartes a été interrompue');
  });
});
