/**
 * The app's card stores served by a reader the page reaches itself (issue 17): with a USB
 * reader allowed (the emulated one), the stores connect without any bridge, say so (`via`),
 * follow the cards, verify the PIN, sign through the page's own card service and lock when the
 * CPS leaves; unplugged, they fall back to the bridge (here absent: « injoignable »). The probes
 * say why each way is or is not usable.
 */
import { get } from 'svelte/store';
import { describe, expect, it } from 'vitest';
import { makeCps, makeTestPki, makeVitale } from '../../bridge/cards/profiles.js';
import { b64u } from '../../src/lib/card/protocol.js';
import { MemoryKeyStore } from '../../src/lib/client/card/client.js';
import { pickInPage, probeInPage, type BrowserCardApis } from '../../src/lib/client/card/in-page.js';
import { AutoCardClient } from '../../src/lib/client/card/local-client.js';
import { createCardBridge } from '../../src/lib/client/card/stores.js';
import { EmulatedCcidDevice } from './fixtures/ccid-device.js';
import { EmulatedHidCcidDevice } from './fixtures/hid-device.js';

const ORIGIN = 'http://localhost:5173';
const R0 = 'Lecteur USB émulé 00';

async function until(f: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('card stores over an in-page reader', () => {
  it('probes: why each way is or is not usable; the automatic choice and a forced one', async () => {
    const none = await probeInPage({ secure: true });
    expect(none.map((s) => [s.id, s.usable])).toEqual([['smartcard', false], ['webusb', false], ['webhid', false]]);
    expect(none[0]!.reason).toMatch(/application web isolée/);
    expect(none[1]!.reason).toMatch(/WebUSB absent/);
    const insecure = await probeInPage({ secure: false });
    expect(insecure[1]!.reason).toMatch(/page sécurisée/);
    const dev = new EmulatedCcidDevice();
    const hid = new EmulatedHidCcidDevice();
    const api: BrowserCardApis = {
      secure: true,
      usb: { getDevices: async () => [dev], requestDevice: async () => dev },
      hid: { getDevices: async () => [], requestDevice: async () => [hid] },
    };
    const some = await probeInPage(api);
    expect(some.map((s) => [s.id, s.usable, s.canGrant ?? false])).toEqual([['smartcard', false, false], ['webusb', true, false], ['webhid', false, true]]);
    expect(pickInPage('auto', some)).toBe('webusb');
    expect(pickInPage('bridge', some)).toBeNull();
    expect(pickInPage('webhid', some)).toBeNull();
    // The site's Permissions Policy denies USB: said, and the browser is not even asked.
    let asked = 0;
    const denied = await probeInPage({ ...api, usb: { getDevices: async () => { asked++; return [dev]; }, requestDevice: async () => dev }, allowed: (f) => f !== 'usb' });
    expect(denied[1]).toMatchObject({ id: 'webusb', usable: false });
    expect(denied[1]!.reason).toMatch(/politique de permissions/);
    expect(asked).toBe(0);
  });

  it('connects with no bridge, follows the cards, verifies the PIN, signs, locks on removal; unplugged → back to the bridge', async () => {
    const pki = await makeTestPki();
    const [cps, vitale] = await Promise.all([makeCps(pki, { pin: '1234' }), makeVitale(pki)]);
    const dev = new EmulatedCcidDevice();
    dev.insert(0, cps.card);
    dev.insert(1, vitale.card);
    let plugged = true;
    const api: BrowserCardApis = { secure: true, usb: { getDevices: async () => (plugged ? [dev] : []), requestDevice: async () => dev } };
    const keys = new MemoryKeyStore();
    // No bridge listens on this port: the bridge way is unreachable.
    const cb = createCardBridge({
      url: 'ws://127.0.0.1:9/', origin: ORIGIN, keys, minDelay: 20, maxDelay: 50, lockStorage: null, sharedLockStorage: null, inactivity: null,
      client: () => new AutoCardClient({ url: 'ws://127.0.0.1:9/', origin: ORIGIN, keys, api, choice: () => 'auto' }),
    });
    cb.start();
    try {
      await until(() => get(cb.status) === 'connecté');
      expect(get(cb.via)).toBe('webusb');
      expect(get(cb.cpsReader)).toBe(R0);
      expect(get(cb.vitaleReader)).toBe('Lecteur USB émulé 01');
      expect(get(cb.locked)).toBe(true);
      await expect(cb.call('cps.sign', { reader: R0, digest: b64u(new Uint8Array(32)) })).rejects.toMatchObject({ code: 'pin_required' });
      expect((await cb.verifyPin(new TextEncoder().encode('1234'))).ok).toBe(true);
      expect(get(cb.locked)).toBe(false);
      const { signature } = await cb.call<{ signature: string }>('cps.sign', { reader: R0, digest: b64u(new Uint8Array(32).fill(3)) });
      expect(signature.length).toBeGreaterThan(300);
      dev.remove(0);
      await until(() => get(cb.locked) && get(cb.cpsReader) === null);
      expect(get(cb.session).state).toBe('locked');
      // The reader unplugged: its pipes fail, the connection ends, the next one finds no reader here.
      plugged = false;
      await dev.close();
      await until(() => get(cb.status) === 'injoignable');
      expect(get(cb.via)).toBeNull();
    } finally {
      cb.stop();
    }
  }, 30_000);

  it('the connection lost while the practitioner was away past the idle period: the lock says why — 15 minutes without activity', async () => {
    const pki = await makeTestPki();
    const cps = await makeCps(pki, { pin: '1234' });
    let dev = new EmulatedCcidDevice();
    dev.insert(0, cps.card);
    let plugged = true;
    const api: BrowserCardApis = { secure: true, usb: { getDevices: async () => (plugged ? [dev] : []), requestDevice: async () => dev } };
    const keys = new MemoryKeyStore();
    // The page's clock, moved by hand; no activity is heard (no target), the idle timer is a real
    // one of 15 minutes that never fires here: only the check on the reconnection can say it.
    let now = Date.UTC(2026, 11, 7, 8, 0);
    const cb = createCardBridge({
      url: 'ws://127.0.0.1:9/', origin: ORIGIN, keys, minDelay: 20, maxDelay: 50, lockStorage: null, sharedLockStorage: null,
      inactivity: { now: () => now, storage: null, target: null },
      client: () => new AutoCardClient({ url: 'ws://127.0.0.1:9/', origin: ORIGIN, keys, api, choice: () => 'auto' }),
    });
    cb.start();
    try {
      await until(() => get(cb.status) === 'connecté');
      expect((await cb.verifyPin(new TextEncoder().encode('1234'))).ok).toBe(true);
      expect(get(cb.session).state).toBe('unlocked');
      // Away 16 minutes; meanwhile the reader went away and came back (a new session with it).
      now += 16 * 60_000;
      plugged = false;
      await dev.close();
      await until(() => get(cb.status) === 'injoignable');
      dev = new EmulatedCcidDevice();
      dev.insert(0, cps.card);
      plugged = true;
      await until(() => get(cb.status) === 'connecté');
      await until(() => get(cb.session).state === 'locked');
      expect(get(cb.session)).toEqual({ state: 'locked', reason: 'idle' });
    } finally {
      cb.stop();
    }
  }, 30_000);
});
