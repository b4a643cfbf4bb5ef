/**
 * The bridge on the real PC/SC stack: a private pcscd (foreground) with a vsmartcard vpcd
 * reader of two slots; our TypeScript virtual cards connect to vpcd's sockets as the card
 * side, so insertions and removals are real PC/SC events. vpcd offers no PC/SC part 10 features:
 * the PIN-pad branch is tested with a fake reader in pinpad.test.ts. pcscd and the vpcd driver
 * are required (scripts/install-system-deps.sh installs them): without them the suite fails.
 * Waits are on events and states, with generous bounds (EVENT_MS) for loaded machines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicKey, createHash, randomBytes, verify as nodeVerify } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { VpcdInsertion } from '../../bridge/cards/vpcd.js';
import { makeCardSet, makeCps, type CardSet } from '../../bridge/cards/profiles.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import { parseCertificate, verify } from '../../src/lib/pki/index.js';
import { PCSCD, VPCD_DRIVER, pcscAvailable, startPcscd, type Pcscd } from './pcscd.js';
import { APP_ORIGIN, approver, client, pairedClient, rawUpgrade, stateDir, waitFor } from './helpers.js';

/** Bound of every wait for a PC/SC event: pcscd polls vpcd every 400 ms; a loaded CI is slower. */
const EVENT_MS = 30_000;
const CARD_PROCESS = fileURLToPath(new URL('./vpcd-card-process.ts', import.meta.url));

describe('bridge over pcscd + vpcd', () => {
  let pcscd: Pcscd;
  let set: CardSet;
  let bridge: Bridge;
  let dir: string;
  let slot0: VpcdInsertion;
  let slot1: VpcdInsertion;
  const a = approver();
  const [R0, R1] = ['Virtual PCD 00 00', 'Virtual PCD 00 01'];

  beforeAll(async () => {
    if (!pcscAvailable()) throw new Error(`pcsc.test: ${PCSCD} or ${VPCD_DRIVER} missing; run scripts/install-system-deps.sh (the real PC/SC peer is required)`);
    set = await makeCardSet();
    pcscd = await startPcscd();
    dir = await stateDir();
    // The practitioner confirms a last PIN try at the bridge's terminal (session.test.ts: otherwise refused).
    bridge = await startBridge({ port: 0, stateDir: dir, approve: a.hook, dev: true, confirmLastPinTry: async () => true });
    await waitFor(() => bridge.transport.readers().length === 2, EVENT_MS);
    slot0 = new VpcdInsertion(set.cps, pcscd.port);
    slot1 = new VpcdInsertion(set.vitale, pcscd.port + 1);
  }, 420_000); // the pcscd fixture may wait its turn (up to 300 s) behind another test file

  afterAll(async () => {
    slot0?.remove();
    slot1?.remove();
    await bridge?.close();
    await pcscd?.stop();
  });

  it('lists the vpcd readers and reports insertion and removal as PC/SC events', async () => {
    expect(bridge.transport.kind).toBe('pcsc');
    const { c } = await pairedClient(bridge.url, a);
    const events: string[] = [];
    c.onEvent((ev, d) => events.push(`${ev}:${(d as { name: string }).name}:${(d as { cardType?: string }).cardType ?? ''}`));
    expect((await c.call<Array<{ name: string }>>('readers')).map((r) => r.name)).toEqual([R0, R1]);
    await slot0.insert();
    await slot1.insert();
    await waitFor(() => events.includes(`inserted:${R0}:CPS`) && events.includes(`inserted:${R1}:VITALE`), EVENT_MS);
    slot1.remove();
    await waitFor(() => events.includes(`removed:${R1}:`), EVENT_MS);
    await slot1.insert();
    await waitFor(() => events.filter((e) => e === `inserted:${R1}:VITALE`).length === 2, EVENT_MS);
    c.close();
  });

  it('two readers at once: the CPS and the Vitale read concurrently', async () => {
    const { c } = await pairedClient(bridge.url, a);
    const [cps, vit] = await Promise.all([
      c.call<{ rpps: string; situations: unknown[] }>('cps.read', { reader: R0 }),
      c.call<{ beneficiaries: unknown[] }>('vitale.read', { reader: R1 }),
    ]);
    expect(cps.rpps).toBe(set.cpsData.rpps);
    expect(cps.situations).toHaveLength(3);
    expect(vit.beneficiaries).toHaveLength(3);
    // PC/SC part 10 discovery ran on connection: vpcd has no PIN pad.
    expect((await c.call<Array<{ pinPad?: boolean }>>('readers')).map((r) => r.pinPad)).toEqual([false, false]);
    c.close();
  });

  it('vpcd has no PIN pad (no PC/SC part 10 features): insertions say so and the PIN is typed', async () => {
    const { c } = await pairedClient(bridge.url, a);
    const inserted: Array<{ name: string; pinPad?: boolean }> = [];
    c.onEvent((ev, d) => ev === 'inserted' && inserted.push(d as { name: string; pinPad?: boolean }));
    slot1.remove();
    await slot1.insert();
    await waitFor(() => inserted.some((r) => r.name === R1), EVENT_MS);
    // Discovery ran before the insertion was announced: the page knows at once.
    expect(inserted.find((r) => r.name === R1)!.pinPad).toBe(false);
    expect((await c.call<Array<{ pinPad?: boolean }>>('readers')).map((r) => r.pinPad)).toEqual([false, false]);
    // Asking for pad entry on it is refused; the typed path verifies.
    await expect(c.verifyPin(R0)).rejects.toMatchObject({ code: 'bad_request', message: expect.stringContaining('clavier') });
    expect(await c.verifyPin(R0, new TextEncoder().encode('1234'))).toEqual({ ok: true, triesLeft: 3 });
    expect(bridge.audit.read().filter((e) => e.event === 'pin').at(-1)).toMatchObject({ outcome: 'verified', detail: 'typed' });
    c.close();
  });

  it('PIN right, wrong, then blocked; a signature verified with the card certificate', async () => {
    const { c } = await pairedClient(bridge.url, a);
    const pin = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(await c.call('cps.verifyPin', { reader: R0 }, pin('1234'))).toEqual({ ok: true, triesLeft: 3 });
    const data = new TextEncoder().encode('FSE fictive à signer');
    const digest = createHash('sha256').update(data).digest();
    const { signature } = await c.call<{ signature: string }>('cps.sign', { reader: R0, digest: digest.toString('base64url') });
    const certs = await c.call<{ sign: string; auth: string; ca: string }>('card.certificates', { reader: R0 });
    const signCert = Buffer.from(certs.sign, 'base64url');
    const key = createPublicKey({ key: Buffer.from(parseCertificate(signCert).spki), format: 'der', type: 'spki' });
    expect(nodeVerify('sha256', data, key, Buffer.from(signature, 'base64url'))).toBe(true);
    const chain = await verify({ leaf: signCert, intermediates: [Buffer.from(certs.ca, 'base64url')], anchors: [set.pki.rootDer], revocation: 'off' });
    expect(chain.valid).toBe(true);

    expect(await c.call('cps.verifyPin', { reader: R0 }, pin('0000'))).toEqual({ ok: false, triesLeft: 2, blocked: false });
    // A wrong PIN drops the verified state: signing is refused until the right PIN.
    await expect(c.call('cps.sign', { reader: R0, digest: digest.toString('base64url') })).rejects.toMatchObject({ code: 'pin_required' });
    expect(await c.call('cps.verifyPin', { reader: R0 }, pin('1111'))).toEqual({ ok: false, triesLeft: 1, blocked: false });
    // The last try, confirmed at the bridge's terminal: wrong, the card blocks.
    expect(await c.call('cps.verifyPin', { reader: R0 }, pin('2222'))).toEqual({ ok: false, triesLeft: 0, blocked: true });
    expect(await c.call('cps.verifyPin', { reader: R0 }, pin('1234'))).toEqual({ ok: false, triesLeft: 0, blocked: true });
    expect((await c.call<{ blocked: boolean }>('cps.read', { reader: R0 })).blocked).toBe(true);
    c.close();
  });

  it('a card pulled during a command: the call fails, the bridge goes on', async () => {
    // The card answers the signature late: it is pulled while the command is in the card.
    const { card } = await makeCps(set.pki, { signDelayMs: 5_000, serial: '9990000009' });
    let signing = false;
    const answer = card.process.bind(card);
    card.process = (apdu) => {
      if (apdu[1] === 0x2a) signing = true; // PSO: COMPUTE DIGITAL SIGNATURE
      return answer(apdu);
    };
    const { c } = await pairedClient(bridge.url, a);
    const events: string[] = [];
    c.onEvent((ev, d) => events.push(`${ev}:${(d as { name: string }).name}`));
    slot0.remove();
    await waitFor(() => events.includes(`removed:${R0}`), EVENT_MS);
    const slow = new VpcdInsertion(card, pcscd.port);
    await slow.insert();
    await waitFor(() => events.includes(`inserted:${R0}`), EVENT_MS);
    expect(await c.call('cps.verifyPin', { reader: R0 }, new TextEncoder().encode('1234'))).toMatchObject({ ok: true });
    const p = c.call('cps.sign', { reader: R0, digest: Buffer.alloc(32, 7).toString('base64url') });
    await waitFor(() => signing, EVENT_MS);
    slow.remove();
    await expect(p).rejects.toMatchObject({ code: 'card_absent' });
    await waitFor(() => events.filter((e) => e === `removed:${R0}`).length === 2, EVENT_MS);
    // Another card in the same slot works at once.
    slot0 = new VpcdInsertion((await makeCps(set.pki)).card, pcscd.port);
    await slot0.insert();
    await waitFor(() => events.filter((e) => e === `inserted:${R0}`).length === 2, EVENT_MS);
    expect(await c.call('cps.verifyPin', { reader: R0 }, new TextEncoder().encode('1234'))).toMatchObject({ ok: true });
    expect(events).toEqual([`removed:${R0}`, `inserted:${R0}`, `removed:${R0}`, `inserted:${R0}`]);
    c.close();
  });

  it('a card swapped while the bridge is too busy to look: reported as removed then inserted, the new card served', async () => {
    const { c } = await pairedClient(bridge.url, a);
    const events: string[] = [];
    c.onEvent((ev, d) => events.push(`${ev}:${(d as { name: string }).name}:${(d as { cardType?: string }).cardType ?? ''}`));
    // While this process is blocked nothing in it may hold a vpcd slot (pcscd polls the reader's
    // two slots in turn and would wait for our answers): the cards live in another process.
    slot0.remove();
    slot1.remove();
    await waitFor(() => events.includes(`removed:${R0}:`) && events.includes(`removed:${R1}:`), EVENT_MS);
    const atrLog = join(await stateDir(), 'atr.log');
    writeFileSync(atrLog, '');
    const child = spawn(process.execPath, ['--import', 'tsx', CARD_PROCESS, atrLog], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
    try {
      await waitFor(() => lines.includes('ready'), 60_000);
      child.stdin!.write(`insert vitale ${pcscd.port + 1}\n`);
      await waitFor(() => events.includes(`inserted:${R1}:VITALE`), EVENT_MS);
      // The other process swaps the Vitale for a CPS while the bridge's event loop is blocked
      // (as under a heavy load): pcscd sees the removal, then the insertion, and pcsclite's
      // status thread keeps only the last state for the loop.
      events.length = 0;
      child.stdin!.write(`swap cps ${pcscd.port + 1} 1500\n`);
      const afterSwap = (): number => {
        const log = readFileSync(atrLog, 'utf8').split('\n');
        return log.slice(log.lastIndexOf('swap') + 1).filter((l) => l === 'atr').length;
      };
      const block = new Int32Array(new SharedArrayBuffer(4));
      const until = Date.now() + EVENT_MS;
      // Three ATR requests of the new card: the presence poll that found it, its power-up, the next poll.
      while ((!readFileSync(atrLog, 'utf8').includes('swap') || afterSwap() < 3) && Date.now() < until) Atomics.wait(block, 0, 0, 20);
      expect(afterSwap()).toBeGreaterThanOrEqual(3);
      expect(events).toEqual([]);
      // Unblocked: both changes are reported, in order, and the new card is the one served.
      await waitFor(() => events.includes(`inserted:${R1}:CPS`), EVENT_MS);
      expect(events).toEqual([`removed:${R1}:`, `inserted:${R1}:CPS`]);
      expect((await c.call<Array<{ name: string; cardType: string }>>('readers')).find((r) => r.name === R1)?.cardType).toBe('CPS');
      expect((await c.call<{ serial: string }>('cps.read', { reader: R1 })).serial).toBe('9990000077');
    } finally {
      child.stdin!.end();
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    }
    await waitFor(() => events.filter((e) => e === `removed:${R1}:`).length === 2, EVENT_MS);
    await slot1.insert();
    await slot0.insert();
    await waitFor(() => events.includes(`inserted:${R1}:VITALE`) && events.includes(`inserted:${R0}:CPS`), EVENT_MS);
    c.close();
  });

  it('refuses a foreign origin, a rebinding Host, an unpaired origin, a replayed frame; survives garbage', async () => {
    const host = `127.0.0.1:${bridge.port}`;
    expect(await rawUpgrade(bridge.url, { Host: host }, 'https://evil.example')).toBe(403);
    expect(await rawUpgrade(bridge.url, { Host: `attacker.example:${bridge.port}` }, APP_ORIGIN)).toBe(403);
    await expect(client(bridge.url, 'http://localhost:3000').connect()).rejects.toThrow(/appairé/);
    const { c } = await pairedClient(bridge.url, a);
    const frames: Uint8Array[] = [];
    c.onFrameSent = (f) => frames.push(f);
    await c.call('cps.read', { reader: R0 });
    const closed = new Promise<string>((r) => c.onClose((_code, reason) => r(reason)));
    c.sendRaw(frames[0]!);
    expect(await closed).toBe('replayed frame');
    for (let i = 0; i < 20; i++) {
      const ws = new WebSocket(bridge.url, { origin: APP_ORIGIN });
      await new Promise((r) => ws.once('open', r));
      const done = new Promise((r) => ws.once('close', r));
      ws.send(i % 2 ? randomBytes(i * 37) : Buffer.alloc(100_000, i));
      await done;
    }
    const { c: ok } = await pairedClient(bridge.url, a);
    expect((await ok.call<{ situations: unknown[] }>('cps.read', { reader: R0 })).situations).toHaveLength(3);
    ok.close();
  });

  it('a bridge restart: pairings survive, the page reconnects with its key', async () => {
    const { c, keys } = await pairedClient(bridge.url, a);
    const closed = new Promise<number>((r) => c.onClose((code) => r(code)));
    const port = bridge.port;
    await bridge.close();
    await closed;
    bridge = await startBridge({ port, stateDir: dir, approve: a.hook, dev: true });
    await waitFor(() => bridge.transport.readers().filter((r) => r.present).length === 2, EVENT_MS);
    const again = client(bridge.url, undefined, keys);
    await again.connect();
    const vit = await again.call<{ beneficiaries: unknown[] }>('vitale.read', { reader: R1 });
    expect(vit.beneficiaries).toHaveLength(3);
    expect(a.requests.length).toBeGreaterThan(0);
    again.close();
  });
});
