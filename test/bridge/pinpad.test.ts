/**
 * Secure PIN entry on the reader's pad (PC/SC part 10 FEATURE_VERIFY_PIN_DIRECT).
 *
 * A fake reader is used (./fake-pinpad.ts) because vpcd, the only reader of the test stack,
 * offers no part 10 features: the real pcscd/vpcd stack cannot produce this branch.
 * pcsc.test.ts checks on that real stack that vpcd reports no pad and the typed path is used.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { render } from 'svelte/server';
import { get, writable } from 'svelte/store';
import WebSocket from 'ws';
import { buildCommand } from '../../src/lib/card/apdu.js';
import { makeCardSet, makeCps, type CardSet } from '../../bridge/cards/profiles.js';
import { LANG_FR, pinVerifyStructure, type PinBlockFormat } from '../../src/lib/card/pinpad.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import CardBridgePanel from '../../src/lib/client/card/CardBridgePanel.svelte';
import { MemoryKeyStore, type SocketLike } from '../../src/lib/client/card/client.js';
import { createCardBridge, type CardBridge } from '../../src/lib/client/card/stores.js';
import { FakePinPad, PadReaderTransport, parsePinVerify } from './fake-pinpad.js';
import { APP_ORIGIN, approver, pairedClient, stateDir, waitFor } from './helpers.js';

const BLOCK: PinBlockFormat = { offset: 0, blockBytes: 8, minDigits: 4, maxDigits: 8, encoding: 'ascii' };
const digits = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('PIN_VERIFY_STRUCTURE (part 10 v2.02.09 §2.5.2)', () => {
  it('wraps the VERIFY template of the virtual CPS, little-endian, French messages', () => {
    const template = buildCommand(0x00, 0x20, 0x00, 0x01, new Uint8Array(8).fill(0xff));
    const s = pinVerifyStructure(template, BLOCK);
    // prettier-ignore
    expect([...s]).toEqual([
      30, 30, // bTimerOut, bTimerOut2: 30 s
      0x82, // bmFormatString: units are bytes, PIN at offset 0 of the data, left-justified, ASCII
      0x08, // bmPINBlockString: no PIN length field, 8-byte PIN block
      0x00, // bmPINLengthFormat: no length written
      0x08, 0x04, // wPINMaxExtraDigit 0x0408: 4 to 8 digits
      0x02, // bEntryValidationCondition: the pad's OK key
      0x01, // bNumberMessage
      0x0c, 0x04, // wLangId 0x040C: French
      0x00, // bMsgIndex
      0x00, 0x00, 0x00, // bTeoPrologue
      13, 0, 0, 0, // ulDataLength
      0x00, 0x20, 0x00, 0x01, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // abData
    ]);
    expect(LANG_FR).toBe(0x040c);
    expect(parsePinVerify(s)).toMatchObject({ minDigits: 4, maxDigits: 8, blockBytes: 8, position: 0, format: 2, langId: 0x040c });
  });

  it('refuses a template where the PIN block does not fit, and bad bounds', () => {
    expect(() => pinVerifyStructure(buildCommand(0, 0x20, 0, 1, new Uint8Array(4)), BLOCK)).toThrow(RangeError);
    expect(() => pinVerifyStructure(buildCommand(0, 0x20, 0, 1), BLOCK)).toThrow(RangeError);
    expect(() => pinVerifyStructure(buildCommand(0, 0x20, 0, 1, new Uint8Array(8)), { ...BLOCK, minDigits: 9 })).toThrow(RangeError);
  });
});

describe('the bridge with a PIN-pad reader (fake reader)', () => {
  let set: CardSet;
  let bridge: Bridge;
  let pad: FakePinPad;
  let transport: PadReaderTransport;
  const a = approver();

  beforeAll(async () => {
    set = await makeCardSet();
    pad = new FakePinPad();
    transport = new PadReaderTransport(['Pad', 'Plain'], new Set(['Pad']), pad);
    transport.insert('Pad', set.cps);
    bridge = await startBridge({ port: 0, transport, stateDir: await stateDir(), approve: a.hook, dev: true });
  }, 60_000);
  afterAll(async () => {
    await bridge?.close();
  });

  it('reports the pad; verifies on it with the same results as a typed PIN: right, wrong, blocked', async () => {
    const { c } = await pairedClient(bridge.url, a);
    expect((await c.call<Array<{ name: string; pinPad: boolean }>>('readers')).map((r) => [r.name, r.pinPad])).toEqual([
      ['Pad', true],
      ['Plain', false],
    ]);
    const digest = Buffer.alloc(32, 3).toString('base64url');
    pad.script.push({ digits: '1234' });
    expect(await c.verifyPin('Pad')).toEqual({ ok: true, triesLeft: 3 });
    // The card really holds a verified PIN: it signs.
    expect((await c.call<{ signature: string }>('cps.sign', { reader: 'Pad', digest })).signature.length).toBeGreaterThan(300);
    const sent = pad.received.at(-1)!;
    expect(sent).toMatchObject({ langId: 0x040c, minDigits: 4, maxDigits: 8, validation: 0x02, timeoutS: 30 });
    expect([...sent.data]).toEqual([0x00, 0x20, 0x00, 0x01, 0x08, ...new Array(8).fill(0xff)]);
    expect([...pad.apdus.at(-1)!]).toEqual([0x00, 0x20, 0x00, 0x01, 0x08, 0x31, 0x32, 0x33, 0x34, 0xff, 0xff, 0xff, 0xff]);

    pad.script.push({ digits: '0000' });
    expect(await c.verifyPin('Pad')).toEqual({ ok: false, triesLeft: 2, blocked: false });
    await expect(c.call('cps.sign', { reader: 'Pad', digest })).rejects.toMatchObject({ code: 'pin_required' });
    pad.script.push({ digits: '1111' }, { digits: '2222' }, { digits: '1234' });
    expect(await c.verifyPin('Pad')).toEqual({ ok: false, triesLeft: 1, blocked: false });
    expect(await c.verifyPin('Pad')).toEqual({ ok: false, triesLeft: 0, blocked: true });
    expect(await c.verifyPin('Pad')).toEqual({ ok: false, triesLeft: 0, blocked: true });
    c.close();
  });

  it("the pad's own outcomes are typed errors in French and leave the tries counter alone", async () => {
    transport.insert('Pad', (await makeCps(set.pki, { serial: '9990000011' })).card);
    const { c } = await pairedClient(bridge.url, a);
    pad.script.push('timeout', 'cancel', { digits: '12' });
    await expect(c.verifyPin('Pad')).rejects.toMatchObject({ code: 'pin_pad_timeout', message: expect.stringMatching(/^Délai dépassé/) });
    await expect(c.verifyPin('Pad')).rejects.toMatchObject({ code: 'pin_pad_cancelled', message: 'Saisie du code PIN annulée sur le lecteur.' });
    await expect(c.verifyPin('Pad')).rejects.toMatchObject({ code: 'pin_pad_length', message: expect.stringContaining('4 à 8 chiffres') });
    pad.refuseParameters = true;
    pad.script.push({ digits: '1234' });
    await expect(c.verifyPin('Pad')).rejects.toMatchObject({ code: 'pin_pad_invalid', message: expect.stringContaining('paramètres') });
    pad.refuseParameters = false;
    pad.script.length = 0;
    // None of these reached the card as a VERIFY with a PIN: still 3 tries.
    expect((await c.call<{ pinTriesLeft: number }>('cps.read', { reader: 'Pad' })).pinTriesLeft).toBe(3);
    const pin = bridge.audit.read().filter((e) => e.event === 'pin');
    expect(pin.map((e) => e.outcome)).toEqual(expect.arrayContaining(['pad_timeout', 'pad_cancelled', 'pad_length', 'pad_invalid', 'verified', 'wrong', 'blocked']));
    expect(pin.every((e) => e.detail === 'pad')).toBe(true);
    expect(readFileSync(bridge.audit.path, 'utf8')).not.toMatch(/1234|0000|1111|2222/);
    c.close();
  });

  it('a reader without a pad needs the PIN from the page; a typed PIN still works on a pad reader', async () => {
    transport.insert('Plain', (await makeCps(set.pki, { serial: '9990000012' })).card);
    const { c } = await pairedClient(bridge.url, a);
    await expect(c.verifyPin('Plain')).rejects.toMatchObject({ code: 'bad_request', message: expect.stringContaining('clavier') });
    const pin = digits('1234');
    expect(await c.verifyPin('Plain', pin)).toEqual({ ok: true, triesLeft: 3 });
    expect(pin.every((x) => x === 0)).toBe(true);
    const before = pad.received.length;
    expect(await c.verifyPin('Pad', digits('1234'))).toEqual({ ok: true, triesLeft: 3 });
    expect(pad.received.length).toBe(before); // typed: the pad was not asked
    c.close();
  });

  it("the page's stores: on a pad reader verifyPin() without a PIN unlocks the session", async () => {
    transport.remove('Plain');
    transport.insert('Pad', (await makeCps(set.pki, { serial: '9990000013' })).card);
    const keys = new MemoryKeyStore();
    let code = '';
    const cb = createCardBridge({
      url: bridge.url,
      origin: APP_ORIGIN,
      keys,
      lockStorage: null,
      createSocket: (u) => new WebSocket(u, { origin: APP_ORIGIN }) as unknown as SocketLike,
    });
    const paired = cb.pair();
    await waitFor(() => (code = get(cb.pairingCode) ?? '') !== '');
    a.pageCode(code);
    await paired;
    await waitFor(() => get(cb.status) === 'connecté' && get(cb.cpsReader) === 'Pad');
    expect(get(cb.cpsPinPad)).toBe(true);
    pad.script.push({ digits: '1234' });
    expect(await cb.verifyPin()).toEqual({ ok: true, triesLeft: 3 });
    expect(get(cb.locked)).toBe(false);
    expect(get(cb.session)).toEqual({ state: 'unlocked', reader: 'Pad' });
    cb.stop();
  });
});

describe('the PIN form of the page', () => {
  const fakeBridge = (pinPad: boolean): CardBridge =>
    ({
      status: writable('connecté'),
      readers: writable([{ name: 'R0', present: true, cardType: 'CPS', pinPad }]),
      pairingCode: writable(null),
      cpsReader: writable('R0'),
      vitaleReader: writable(null),
      cpsPinPad: writable(pinPad),
      locked: writable(true),
      session: writable({ state: 'locked', reason: 'removed' }),
    }) as unknown as CardBridge;

  it('shows the pad prompt instead of the PIN field when the reader has a pad', () => {
    const { body } = render(CardBridgePanel, { props: { bridge: fakeBridge(true) } });
    expect(body).toContain('Saisissez votre code PIN sur le clavier du lecteur');
    expect(body).not.toContain('type="password"');
  });

  it('shows the PIN field on a reader without a pad', () => {
    const { body } = render(CardBridgePanel, { props: { bridge: fakeBridge(false) } });
    expect(body).toContain('type="password"');
    expect(body).not.toContain('clavier du lecteur');
  });
});
