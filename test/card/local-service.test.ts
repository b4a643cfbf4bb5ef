/**
 * The page's own card service (src/lib/card/local-service.ts) over a CardTransport: the bridge's
 * methods and refusals — PIN before any signature, a locked session reads nothing, the
 * authentication bound to the page's origin, a blocked journal gets no card, the last try not
 * spent on a PIN typed in the page without confirmation, the PIN wiped. Over the emulated USB
 * CCID reader (the page's WebUSB case).
 */
import { constants, createPublicKey, publicDecrypt } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeCps, makeTestPki, makeVitale, type TestPki } from '../../bridge/cards/profiles.js';
import { CcidTransport } from '../../src/lib/card/ccid/driver.js';
import { LocalCardService, type LocalCardAudit } from '../../src/lib/card/local-service.js';
import { authenticationInput, b64u, sha256 } from '../../src/lib/card/protocol.js';
import { EmulatedCcidDevice } from './fixtures/ccid-device.js';

const PIN = '1357';
const ORIGIN = 'https://teletrans.example';
const R0 = 'Lecteur USB émulé 00';
const R1 = 'Lecteur USB émulé 01';
const pin = (s: string) => new TextEncoder().encode(s);
const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));

describe('the card service run by the page (LocalCardService)', () => {
  let pki: TestPki;
  const open: LocalCardService[] = [];

  beforeAll(async () => {
    pki = await makeTestPki();
  }, 60_000);

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  /** `lastTry`: two wrong PINs typed first, so that one try is left. */
  async function service(o: { lastTry?: boolean; confirm?: boolean } = {}) {
    const dev = new EmulatedCcidDevice();
    const [cps, vitale] = await Promise.all([makeCps(pki, { pin: PIN }), makeVitale(pki)]);
    dev.insert(0, cps.card);
    dev.insert(1, vitale.card);
    const audit: LocalCardAudit[] = [];
    const asked: string[] = [];
    const s = new LocalCardService({
      transport: await CcidTransport.open(dev), origin: ORIGIN, audit: (e) => audit.push(e),
      ...(o.confirm !== undefined ? { confirmLastPinTry: async (r: string) => { asked.push(r); return o.confirm!; } } : {}),
    });
    open.push(s);
    if (o.lastTry) {
      for (let i = 0; i < 2; i++) await s.call('cps.verifyPin', { reader: R0 }, pin('0000'));
      audit.length = 0;
    }
    return { s, dev, cps, vitale, audit, asked };
  }

  it('reads, refuses to sign before the PIN, signs and authenticates (bound to the origin) after it', async () => {
    const { s, cps, vitale, audit } = await service();
    expect(s.readers()).toEqual([{ name: R0, present: true, cardType: 'CPS', pinPad: false }, { name: R1, present: true, cardType: 'VITALE', pinPad: false }]);
    expect(await s.call('cps.read', { reader: R0 })).toMatchObject({ rpps: cps.data.rpps });
    expect(await s.call('vitale.read', { reader: R1 })).toMatchObject({ holderNir: vitale.data.holderNir });
    const digest = b64u(new Uint8Array(32).fill(9));
    expect(await codeOf(s.call('cps.sign', { reader: R0, digest }))).toBe('pin_required');
    const typed = pin('0000');
    expect(await s.call('cps.verifyPin', { reader: R0 }, typed)).toEqual({ ok: false, triesLeft: 2, blocked: false });
    expect([...typed]).toEqual([0, 0, 0, 0]);
    expect(await s.call('cps.verifyPin', { reader: R0 }, pin(PIN))).toEqual({ ok: true, triesLeft: 3 });
    const { signature } = (await s.call('cps.sign', { reader: R0, digest })) as { signature: string };
    expect(signature.length).toBeGreaterThan(300);
    const nonce = 'n'.repeat(32);
    const auth = (await s.call('card.authenticate', { reader: R0, nonce })) as { signature: string };
    const certs = (await s.call('card.certificates', { reader: R0 })) as { auth: string };
    const authKey = createPublicKey({ key: `-----BEGIN CERTIFICATE-----\n${Buffer.from(certs.auth, 'base64url').toString('base64')}\n-----END CERTIFICATE-----`, format: 'pem' });
    const signed = publicDecrypt({ key: authKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(auth.signature, 'base64url'));
    const expected = await sha256(await authenticationInput(ORIGIN, nonce));
    expect(signed.subarray(-32).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
    // A digest from the page is refused: only the relay's nonce, bound here to the origin.
    expect(await codeOf(s.call('card.authenticate', { reader: R0, nonce, digest }))).toBe('bad_request');
    expect(audit.map((a) => `${a.event}:${a.outcome}`)).toEqual(['signature:refused', 'pin:wrong', 'pin:verified', 'signature:done', 'authentication:done']);
    expect(JSON.stringify(audit)).not.toContain(PIN);
  });

  it('the PIN typed in the page: every buffer the driver sent it in is wiped once the call returns (SP4)', async () => {
    const { s, dev } = await service();
    const sent: Uint8Array[] = [];
    const transferOut = dev.transferOut.bind(dev);
    dev.transferOut = (ep, data) => {
      sent.push(data);
      return transferOut(ep, data);
    };
    const typed = pin(PIN);
    expect(await s.call('cps.verifyPin', { reader: R0 }, typed)).toEqual({ ok: true, triesLeft: 3 });
    const digits = Buffer.from(PIN).toString('hex');
    // The card did receive it (the emulator keeps its own copy, as a reader's firmware would)…
    expect(dev.apdus.some((a) => a.includes(digits))).toBe(true);
    // …and nothing the page holds still does.
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((b) => b.every((x) => x === 0))).toBe(true);
    expect([...typed].every((x) => x === 0)).toBe(true);
  });

  it('a locked session reads and signs nothing until the PIN is typed again; a blocked journal gets no card', async () => {
    const { s } = await service();
    await s.call('cps.verifyPin', { reader: R0 }, pin(PIN));
    await s.call('session.lock');
    expect(await codeOf(s.call('cps.read', { reader: R0 }))).toBe('session_locked');
    expect(await codeOf(s.call('cps.sign', { reader: R0, digest: b64u(new Uint8Array(32)) }))).toBe('session_locked');
    await s.call('cps.verifyPin', { reader: R0 }, pin(PIN));
    expect(await codeOf(s.call('cps.read', { reader: R0 }))).toBe('ok');
    await s.call('journal.report', { state: 'blocked', problem: 'chain_broken' });
    expect(await codeOf(s.call('vitale.read', { reader: R1 }))).toBe('journal_blocked');
    expect(await codeOf(s.call('cps.sign', { reader: R0, digest: b64u(new Uint8Array(32)) }))).toBe('journal_blocked');
    expect(await s.call('readers')).toHaveLength(2);
    await s.call('journal.report', { state: 'intact' });
    expect(await codeOf(s.call('vitale.read', { reader: R1 }))).toBe('session_locked');
  });

  it('the last PIN try typed in the page: refused unless the practitioner confirms it', async () => {
    const refused = await service({ lastTry: true });
    expect(await codeOf(refused.s.call('cps.verifyPin', { reader: R0 }, pin('9999')))).toBe('pin_last_try');
    expect(refused.cps.card.triesLeft).toBe(1);
    const declined = await service({ lastTry: true, confirm: false });
    expect(await codeOf(declined.s.call('cps.verifyPin', { reader: R0 }, pin(PIN)))).toBe('pin_last_try');
    expect(declined.asked).toEqual([R0]);
    const confirmed = await service({ lastTry: true, confirm: true });
    expect(await confirmed.s.call('cps.verifyPin', { reader: R0 }, pin(PIN))).toEqual({ ok: true, triesLeft: 3 });
    expect(confirmed.audit.map((a) => a.outcome)).toEqual(['last_try_confirmed', 'verified']);
  });

  it('a card pulled and put back: events as the bridge sends them, and its PIN must be typed again', async () => {
    const { s, dev, cps } = await service();
    const events: string[] = [];
    s.onEvent((ev, d) => events.push(`${ev}:${JSON.stringify(d)}`));
    await s.call('cps.verifyPin', { reader: R0 }, pin(PIN));
    dev.remove(0);
    dev.insert(0, cps.card);
    for (let i = 0; i < 200 && events.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(events).toEqual([`removed:${JSON.stringify({ name: R0 })}`, `inserted:${JSON.stringify({ name: R0, present: true, cardType: 'CPS', pinPad: false })}`]);
    expect(await codeOf(s.call('cps.sign', { reader: R0, digest: b64u(new Uint8Array(32)) }))).toBe('pin_required');
  });
});
