/**
 * The card session is the bridge's (docs/adr/0003-bridge-holds-card-session.md), on the real
 * PC/SC stack: a private pcscd with a vpcd reader of two slots, our virtual CPS and Vitale as the
 * card side. A signature or an authentication only within a live, unlocked session that verified
 * the PIN itself; the card reset when the session ends, locks or its page goes away; the
 * authentication bound by the bridge to the paired origin and the relay's nonce; all of it
 * audited with the origin.
 */
import { DEMO_CPS_POLICIES } from '../../src/lib/pki/demo/cps.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { VpcdInsertion } from '../../bridge/cards/vpcd.js';
import { makeCardSet, type CardSet } from '../../bridge/cards/profiles.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import { atRestInput, auditResetInput, authenticationInput } from '../../src/lib/card/protocol.js';
import { keyIdOf, openDataKey, seal, unseal, type KeySlot } from '../../src/lib/client/store/at-rest.js';
import { get } from 'svelte/store';
import WebSocket from 'ws';
import { MemoryKeyStore, type BridgeClient, type SocketLike } from '../../src/lib/client/card/client.js';
import { createCardBridge } from '../../src/lib/client/card/stores.js';
import { parseCertificate } from '../../src/lib/pki/index.js';
import { Auth, challengeDigestInput } from '../../src/lib/server/relay/auth.js';
import type { RelayConfig } from '../../src/lib/server/relay/config.js';
import type { RelayStore } from '../../src/lib/server/relay/store/types.js';
import { startPcscd, type Pcscd } from './pcscd.js';
import { APP_ORIGIN, approver, client, droppableClient, pairedClient, stateDir, waitFor } from './helpers.js';

const OTHER_ORIGIN = 'http://localhost:3000';
const PIN = (): Uint8Array => new TextEncoder().encode('1234');
const DIGEST = createHash('sha256').update('FSE fictive à signer').digest();

describe('the bridge holds the card session (pcscd + vpcd)', () => {
  let pcscd: Pcscd;
  let set: CardSet;
  let bridge: Bridge;
  let slot0: VpcdInsertion;
  let slot1: VpcdInsertion;
  const a = approver();
  /** The practitioner's answer at the bridge's terminal when a last PIN try is asked (none: refused). */
  let lastTry: ((r: { origin: string; reader: string }) => Promise<boolean>) | undefined;
  let R0: string;
  let R1: string;

  beforeAll(async () => {
    set = await makeCardSet();
    pcscd = await startPcscd();
    [R0, R1] = pcscd.readers;
    bridge = await startBridge({ port: 0, stateDir: await stateDir(), approve: a.hook, allowedOrigins: [APP_ORIGIN, OTHER_ORIGIN],
      confirmLastPinTry: (r) => (lastTry ? lastTry(r) : Promise.resolve(false)) });
    await waitFor(() => bridge.transport.readers().length === 2, 10_000);
    slot0 = new VpcdInsertion(set.cps, pcscd.port);
    slot1 = new VpcdInsertion(set.vitale, pcscd.port + 1);
    await slot0.insert();
    await slot1.insert();
    await waitFor(() => bridge.transport.readers().filter((r) => r.present).length === 2, 10_000);
  }, 120_000);

  afterAll(async () => {
    slot0?.remove();
    slot1?.remove();
    await bridge?.close();
    await pcscd?.stop();
  });

  /** Tries left as the card itself reports them: -1 while its PIN is verified. */
  const cardPinState = async (c: BridgeClient): Promise<number> => (await c.call<{ pinTriesLeft: number }>('cps.read', { reader: R0 })).pinTriesLeft;
  const signs = (c: BridgeClient): Promise<{ signature: string }> => c.sign(R0, DIGEST);
  const resets = (): number => bridge.audit.read().filter((e) => e.event === 'card' && e.outcome === 'reset' && e.reader === R0).length;
  const closes = (): number => bridge.audit.read().filter((e) => e.event === 'session' && e.outcome === 'closed').length;
  /**
   * Waits until the bridge has seen the session end: from then on, its card reset is queued
   * before any later command on that reader.
   */
  const ended = async (n: number): Promise<void> => waitFor(() => closes() > n);

  it('a lock from the page: signing refused (session_locked) and the card reset until the PIN is typed again in that session', async () => {
    const { c } = await pairedClient(bridge.url, a);
    expect(await c.verifyPin(R0, PIN())).toEqual({ ok: true, triesLeft: 3 });
    expect((await signs(c)).signature.length).toBeGreaterThan(300);
    const before = resets();
    expect(await c.lock()).toEqual({ locked: true });
    await expect(signs(c)).rejects.toMatchObject({ code: 'session_locked' });
    await expect(c.authenticate(R0, 'bm9uY2UtZHUtcmVsYWlzLWZpY3RpdmU')).rejects.toMatchObject({ code: 'session_locked' });
    // A locked session reads nothing either (issue 24 defect 5): no identity, no beneficiaries,
    // no certificates, no raw APDU.
    for (const [method, reader] of [['cps.read', R0], ['vitale.read', R1], ['card.certificates', R0]] as const) {
      await expect(c.call(method, { reader })).rejects.toMatchObject({ code: 'session_locked' });
    }
    // Outside development mode the raw APDU method does not exist.
    await expect(c.call('apdu', { reader: R0, apdu: Buffer.from('00A4040000', 'hex').toString('base64url') })).rejects.toMatchObject({ code: 'bad_request' });
    // The card itself lost the PIN: the bridge reset it (read through another, unlocked session).
    expect(resets()).toBe(before + 1);
    const other = (await pairedClient(bridge.url, a)).c;
    expect(await cardPinState(other)).toBe(3);
    other.close();
    // The PIN typed again in this session unlocks it.
    expect(await c.verifyPin(R0, PIN())).toMatchObject({ ok: true });
    expect((await signs(c)).signature.length).toBeGreaterThan(300);
    c.close();
    await waitFor(() => resets() === before + 2);
  });

  it('a session closed after the PIN: the next session, without the PIN, gets no signature', async () => {
    const keys = new MemoryKeyStore();
    const first = client(bridge.url, APP_ORIGIN, keys);
    await first.pair(a.pageCode);
    await first.connect();
    expect(await first.verifyPin(R0, PIN())).toMatchObject({ ok: true });
    expect(await cardPinState(first)).toBe(-1);
    const [before, closed] = [resets(), closes()];
    first.close();
    await ended(closed);
    const again = client(bridge.url, APP_ORIGIN, keys);
    await again.connect();
    await expect(signs(again)).rejects.toMatchObject({ code: 'pin_required' });
    // The card itself was reset when the first session ended.
    expect(await cardPinState(again)).toBe(3);
    await waitFor(() => resets() === before + 1);
    again.close();
  });

  it('two live sessions: only the one that typed the PIN signs; the card stays verified until the last holder leaves', async () => {
    const keys = new MemoryKeyStore();
    const one = client(bridge.url, APP_ORIGIN, keys);
    await one.pair(a.pageCode);
    await one.connect();
    const two = client(bridge.url, APP_ORIGIN, keys);
    await two.connect();
    expect(await one.verifyPin(R0, PIN())).toMatchObject({ ok: true });
    // The card holds the PIN, yet the bridge refuses the session that did not type it.
    expect(await cardPinState(two)).toBe(-1);
    await expect(signs(two)).rejects.toMatchObject({ code: 'pin_required' });
    expect(await two.verifyPin(R0, PIN())).toMatchObject({ ok: true });
    const [before, closed] = [resets(), closes()];
    one.close();
    await ended(closed);
    expect((await signs(two)).signature.length).toBeGreaterThan(300);
    expect(resets()).toBe(before);
    two.close();
    await waitFor(() => resets() === before + 1);
  });

  it('a page gone without closing (socket cut): the card is reset; the reconnected page needs the PIN', async () => {
    const keys = new MemoryKeyStore();
    const { c, drop } = droppableClient(bridge.url, keys);
    await c.pair(a.pageCode);
    await c.connect();
    expect(await c.verifyPin(R0, PIN())).toMatchObject({ ok: true });
    const [before, closed] = [resets(), closes()];
    drop();
    await ended(closed);
    const back = client(bridge.url, APP_ORIGIN, keys);
    await back.connect();
    await expect(signs(back)).rejects.toMatchObject({ code: 'pin_required' });
    await expect(back.authenticate(R0, 'bm9uY2UtZHUtcmVsYWlzLWZpY3RpdmU')).rejects.toMatchObject({ code: 'pin_required' });
    expect(await cardPinState(back)).toBe(3);
    await waitFor(() => resets() === before + 1);
    back.close();
  });

  it("the app's lock reaches the bridge: after the CPS comes back, the page's session is locked there until the PIN", async () => {
    const cb = createCardBridge({
      url: bridge.url,
      origin: APP_ORIGIN,
      keys: new MemoryKeyStore(),
      lockStorage: null,
      sharedLockStorage: null,
      createSocket: (u) => new WebSocket(u, { origin: APP_ORIGIN }) as unknown as SocketLike,
      minDelay: 50,
      maxDelay: 200,
    });
    try {
      const paired = cb.pair();
      await waitFor(() => get(cb.pairingCode) !== null);
      a.pageCode(get(cb.pairingCode)!);
      await paired;
      await waitFor(() => get(cb.status) === 'connecté' && get(cb.cpsReader) === R0, 10_000);
      expect((await cb.verifyPin(PIN())).ok).toBe(true);
      expect((await cb.call<{ signature: string }>('cps.sign', { reader: R0, digest: DIGEST.toString('base64url') })).signature.length).toBeGreaterThan(300);
      const locks = (): number => bridge.audit.read().filter((e) => e.event === 'session' && e.outcome === 'locked').length;
      const before = locks();
      slot0.remove();
      await waitFor(() => get(cb.session).state === 'locked', 10_000);
      await waitFor(() => locks() === before + 1, 10_000);
      await slot0.insert();
      await waitFor(() => get(cb.cpsReader) === R0, 10_000);
      // Locked by the bridge itself, not merely a card without its PIN.
      await expect(cb.call('cps.sign', { reader: R0, digest: DIGEST.toString('base64url') })).rejects.toMatchObject({ code: 'session_locked' });
      expect((await cb.verifyPin(PIN())).ok).toBe(true);
      expect(get(cb.session)).toEqual({ state: 'unlocked', reader: R0 });
      expect((await cb.call<{ signature: string }>('cps.sign', { reader: R0, digest: DIGEST.toString('base64url') })).signature.length).toBeGreaterThan(300);
    } finally {
      cb.stop();
      // Whatever happened, the next tests find the CPS in its reader.
      if (!slot0.inserted) await slot0.insert();
    }
  });

  it('a wrong PIN, or the card pulled, drops what the session held', async () => {
    const { c } = await pairedClient(bridge.url, a);
    expect(await c.verifyPin(R0, PIN())).toMatchObject({ ok: true });
    expect(await c.verifyPin(R0, new TextEncoder().encode('0000'))).toMatchObject({ ok: false, triesLeft: 2 });
    await expect(signs(c)).rejects.toMatchObject({ code: 'pin_required' });
    expect(await c.verifyPin(R0, PIN())).toEqual({ ok: true, triesLeft: 3 });
    const events: string[] = [];
    c.onEvent((ev, d) => events.push(`${ev}:${(d as { name: string }).name}`));
    slot0.remove();
    await waitFor(() => events.includes(`removed:${R0}`), 10_000);
    await slot0.insert();
    await waitFor(() => events.includes(`inserted:${R0}`), 10_000);
    await expect(signs(c)).rejects.toMatchObject({ code: 'pin_required' });
    c.close();
  });

  it('authentication takes the relay nonce, not a digest: the bridge binds it to the paired origin, and the relay accepts it', async () => {
    // The relay's own check, as the PWA's login meets it: challenge, then token.
    const nonces = new Map<string, { origin: string; expiresAt: number }>();
    const audit: unknown[] = [];
    const store = {
      createNonce: async (nonce: string, origin: string, expiresAt: number) => void nonces.set(nonce, { origin, expiresAt }),
      consumeNonce: async (nonce: string, now: number) => {
        const n = nonces.get(nonce);
        nonces.delete(nonce);
        return n && n.expiresAt > now ? n.origin : null;
      },
      createSession: async () => undefined,
      audit: async (e: unknown) => void audit.push(e),
    } as unknown as RelayStore;
    const config = {
      origins: [APP_ORIGIN],
      anchors: [set.pki.rootDer],
      intermediates: [set.pki.caDer],
      cardAuthentication: { issuers: [set.pki.caDer], policies: [DEMO_CPS_POLICIES.auth] },
      revocation: 'off',
      practitioners: [{ id: 'ps-fictif', certificateMatch: { rpps: set.cpsData.rpps }, from: 'ps@teletrans.test', allowedRecipients: [] }],
      smtp: {},
    } as unknown as RelayConfig;
    const relay = new Auth(store, config);

    const { c } = await pairedClient(bridge.url, a);
    const certs = await c.call<{ auth: string; ca: string }>('card.certificates', { reader: R0 });
    const authCert = Buffer.from(certs.auth, 'base64url');
    const key = createPublicKey({ key: Buffer.from(parseCertificate(authCert).spki), format: 'der', type: 'spki' });

    const { nonce } = await relay.challenge(APP_ORIGIN);
    // No PIN in this session yet.
    await expect(c.authenticate(R0, nonce)).rejects.toMatchObject({ code: 'pin_required' });
    expect(await c.verifyPin(R0, PIN())).toMatchObject({ ok: true });
    // A digest chosen by the page is refused, whatever it is.
    const pageDigest = createHash('sha256').update(challengeDigestInput(APP_ORIGIN, nonce)).digest();
    await expect(c.call('card.authenticate', { reader: R0, digest: pageDigest.toString('base64url') })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(c.call('card.authenticate', { reader: R0, nonce, digest: pageDigest.toString('base64url') })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(c.authenticate(R0, 'trop-court')).rejects.toMatchObject({ code: 'bad_request' });

    // The input the bridge signs is the relay's, for the origin the bridge paired with.
    expect(Buffer.from(await authenticationInput(APP_ORIGIN, nonce))).toEqual(challengeDigestInput(APP_ORIGIN, nonce));
    const auth = await c.authenticate(R0, nonce);
    expect(auth.algorithm).toBe('RS256');
    const sig = Buffer.from(auth.signature, 'base64url');
    expect(nodeVerify('sha256', challengeDigestInput(APP_ORIGIN, nonce), key, sig)).toBe(true);
    const token = await relay.token(
      { certificate: authCert.toString('base64'), intermediates: [Buffer.from(certs.ca, 'base64url').toString('base64')], nonce, origin: APP_ORIGIN, algorithm: 'RS256', signature: sig.toString('base64') },
      APP_ORIGIN,
    );
    expect(token.practitioner).toBe('ps-fictif');

    // Another paired origin gets its own origin bound in, whatever nonce it passes on: the relay
    // refuses that signature for the app's origin.
    const { c: other } = await pairedClient(bridge.url, a, OTHER_ORIGIN);
    expect(await other.verifyPin(R0, PIN())).toMatchObject({ ok: true });
    const second = await relay.challenge(APP_ORIGIN);
    const foreign = Buffer.from((await other.authenticate(R0, second.nonce)).signature, 'base64url');
    expect(nodeVerify('sha256', challengeDigestInput(APP_ORIGIN, second.nonce), key, foreign)).toBe(false);
    expect(nodeVerify('sha256', challengeDigestInput(OTHER_ORIGIN, second.nonce), key, foreign)).toBe(true);
    await expect(
      relay.token({ certificate: authCert.toString('base64'), nonce: second.nonce, origin: APP_ORIGIN, algorithm: 'RS256', signature: foreign.toString('base64') }, APP_ORIGIN),
    ).rejects.toMatchObject({ code: 'signature' });

    // The Vitale authenticates with the same binding, for a session whose practitioner typed the PIN.
    const vCerts = await c.call<{ auth: string }>('card.certificates', { reader: R1 });
    const vKey = createPublicKey({ key: Buffer.from(parseCertificate(Buffer.from(vCerts.auth, 'base64url')).spki), format: 'der', type: 'spki' });
    const vSig = Buffer.from((await c.authenticate(R1, nonce)).signature, 'base64url');
    expect(nodeVerify('sha256', challengeDigestInput(APP_ORIGIN, nonce), vKey, vSig)).toBe(true);
    const { c: fresh } = await pairedClient(bridge.url, a);
    await expect(fresh.authenticate(R1, nonce)).rejects.toMatchObject({ code: 'pin_required' });
    fresh.close();
    other.close();
    c.close();
  });

  it('every signature and authentication is audited with its origin, reader, certificate and outcome; no PIN, digest or nonce', async () => {
    const { c } = await pairedClient(bridge.url, a);
    await expect(signs(c)).rejects.toMatchObject({ code: 'pin_required' });
    expect(await c.verifyPin(R0, PIN())).toMatchObject({ ok: true });
    await c.lock();
    await expect(signs(c)).rejects.toMatchObject({ code: 'session_locked' });
    expect(await c.verifyPin(R0, PIN())).toMatchObject({ ok: true });
    await signs(c);
    const nonce = 'bm9uY2UtZHUtcmVsYWlzLWF1ZGl0w6k';
    await c.authenticate(R0, nonce);
    c.close();
    const log = bridge.audit.read();
    const signatures = log.filter((e) => e.event === 'signature');
    const authentications = log.filter((e) => e.event === 'authentication');
    for (const e of [...signatures, ...authentications]) {
      expect(e.origin).toMatch(/^http:\/\/localhost:(5173|3000)$/);
      expect(e.reader).toMatch(/^Virtual PCD 00 0[01]$/);
      expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(['done', 'refused', 'failed']).toContain(e.outcome);
      if (e.outcome === 'done') expect(e.cert).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
    expect(signatures.at(-1)).toMatchObject({ origin: APP_ORIGIN, reader: R0, outcome: 'done', detail: 'CPS' });
    expect(signatures.some((e) => e.outcome === 'refused' && e.detail === 'pin_required')).toBe(true);
    expect(signatures.some((e) => e.outcome === 'refused' && e.detail === 'session_locked')).toBe(true);
    expect(authentications.at(-1)).toMatchObject({ origin: APP_ORIGIN, reader: R0, outcome: 'done' });
    // The certificate id is the one of the key used.
    const certs = await (async () => {
      const { c: k } = await pairedClient(bridge.url, a);
      const r = await k.call<{ auth: string; sign: string }>('card.certificates', { reader: R0 });
      k.close();
      return r;
    })();
    const id = (b64: string): string => createHash('sha256').update(Buffer.from(b64, 'base64url')).digest('base64url');
    expect(signatures.at(-1)!.cert).toBe(id(certs.sign));
    expect(authentications.at(-1)!.cert).toBe(id(certs.auth));
    const text = readFileSync(bridge.audit.path, 'utf8');
    expect(text).not.toContain('1234');
    expect(text).not.toContain(nonce);
    expect(text).not.toContain(DIGEST.toString('base64url'));
    expect(text).not.toContain(DIGEST.toString('hex'));
  });

  it('card.deriveKey: the CPS gives the same secret for the same salt and origin, to a session with its PIN only; it opens the data key at rest (ADR 0014)', async () => {
    const { c } = await pairedClient(bridge.url, a);
    const salt = new Uint8Array(32).fill(7);
    await expect(c.deriveKey(R0, salt)).rejects.toMatchObject({ code: 'pin_required' });
    expect(await c.verifyPin(R0, PIN())).toMatchObject({ ok: true });
    const first = Buffer.from((await c.deriveKey(R0, salt)).secret, 'base64url');
    const second = Buffer.from((await c.deriveKey(R0, salt)).secret, 'base64url');
    expect(second).toEqual(first);
    expect(Buffer.from((await c.deriveKey(R0, new Uint8Array(32).fill(8))).secret, 'base64url')).not.toEqual(first);

    // The card's authentication key over the at-rest input for the paired origin, and nothing a
    // relay's nonce can obtain: card.authenticate signs a 64-byte input, this one 96.
    const certs = await c.call<{ auth: string }>('card.certificates', { reader: R0 });
    const key = createPublicKey({ key: Buffer.from(parseCertificate(Buffer.from(certs.auth, 'base64url')).spki), format: 'der', type: 'spki' });
    expect(nodeVerify('sha256', await atRestInput(APP_ORIGIN, salt), key, first)).toBe(true);
    expect((await atRestInput(APP_ORIGIN, salt)).length).toBe(96);
    const asNonce = Buffer.from(salt).toString('base64url');
    expect(Buffer.from((await c.authenticate(R0, asNonce)).signature, 'base64url')).not.toEqual(first);

    // A salt out of bounds, a Vitale, a digest instead of a salt: refused.
    await expect(c.deriveKey(R0, new Uint8Array(8))).rejects.toMatchObject({ code: 'bad_request' });
    await expect(c.call('card.deriveKey', { reader: R0, salt: 'pas du base64url !' })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(c.deriveKey(R1, salt)).rejects.toMatchObject({ code: 'bad_request' });

    // Another origin gets another secret from the same card and salt.
    const { c: other } = await pairedClient(bridge.url, a, OTHER_ORIGIN);
    expect(await other.verifyPin(R0, PIN())).toMatchObject({ ok: true });
    expect(Buffer.from((await other.deriveKey(R0, salt)).secret, 'base64url')).not.toEqual(first);
    other.close();

    // The page's at-rest key from the bridge's secret: a slot made once, opened again later.
    const slots = new Map<string, KeySlot>();
    const slotStore = { get: async (id: string) => slots.get(id), add: async (sl: KeySlot) => (slots.has(sl.keyId) ? false : (slots.set(sl.keyId, sl), true)) };
    const cardSecret = async (s: Uint8Array) => Buffer.from((await c.deriveKey(R0, s)).secret, 'base64url');
    const keyId = await keyIdOf(Buffer.from(certs.auth, 'base64url'));
    const made = await openDataKey({ keyId, card: cardSecret, slots: slotStore });
    const sealed = await seal(made, { nir: 'chiffré' }, new Uint8Array([1]));
    const reopened = await openDataKey({ keyId, card: cardSecret, slots: slotStore });
    expect(await unseal(reopened, sealed, new Uint8Array([1]))).toEqual({ nir: 'chiffré' });
    expect(reopened.key.extractable).toBe(false);

    // Locked: no secret, and the slot does not open.
    await c.lock();
    await expect(c.deriveKey(R0, salt)).rejects.toMatchObject({ code: 'session_locked' });
    await expect(openDataKey({ keyId, card: cardSecret, slots: slotStore })).rejects.toMatchObject({ code: 'card_refused' });
    c.close();

    const log = bridge.audit.read().filter((e) => e.event === 'key_derivation');
    expect(log.some((e) => e.outcome === 'done' && e.origin === APP_ORIGIN && e.cert === createHash('sha256').update(Buffer.from(certs.auth, 'base64url')).digest('base64url'))).toBe(true);
    expect(log.some((e) => e.outcome === 'refused' && e.detail === 'pin_required')).toBe(true);
    expect(log.some((e) => e.outcome === 'refused' && e.detail === 'session_locked')).toBe(true);
    const text = readFileSync(bridge.audit.path, 'utf8');
    expect(text).not.toContain(first.toString('base64url'));
    expect(text).not.toContain(asNonce);
  });

  it('the last PIN try is never spent on the page’s word: refused without reaching the card, tried once the practitioner confirms at the bridge', async () => {
    const { c } = await pairedClient(bridge.url, a);
    // A fresh buffer each time: the client wipes the PIN it sent.
    const wrong = (): Uint8Array => new TextEncoder().encode('0000');
    expect(await c.verifyPin(R0, wrong())).toMatchObject({ ok: false, triesLeft: 2 });
    expect(await c.verifyPin(R0, wrong())).toMatchObject({ ok: false, triesLeft: 1 });
    // The page types a third PIN: not sent to the card (the right one, even), a French way on.
    await expect(c.verifyPin(R0, PIN())).rejects.toMatchObject({ code: 'pin_last_try', message: expect.stringContaining('clavier du lecteur') });
    expect(await cardPinState(c)).toBe(1);
    expect(bridge.audit.read().filter((e) => e.event === 'pin' && e.outcome === 'last_try_refused')).toHaveLength(1);
    // The practitioner says no at the terminal: still not tried.
    const asked: string[] = [];
    lastTry = async (r) => (asked.push(`${r.origin} ${r.reader}`), false);
    await expect(c.verifyPin(R0, PIN())).rejects.toMatchObject({ code: 'pin_last_try' });
    expect(await cardPinState(c)).toBe(1);
    // Yes at the terminal: tried, and the right PIN gives the card its three tries back.
    lastTry = async (r) => (asked.push(`${r.origin} ${r.reader}`), true);
    expect(await c.verifyPin(R0, PIN())).toEqual({ ok: true, triesLeft: 3 });
    expect(asked).toEqual([`${APP_ORIGIN} ${R0}`, `${APP_ORIGIN} ${R0}`]);
    expect(bridge.audit.read().filter((e) => e.event === 'pin' && e.outcome === 'last_try_confirmed')).toHaveLength(1);
    lastTry = undefined;
    c.close();
  });
  it('a page whose audit journal is blocked is served no card, across reconnections, until it reports the journal intact (issue 24 defect 4)', async () => {
    const keys = new MemoryKeyStore();
    const c = client(bridge.url, APP_ORIGIN, keys);
    await c.pair(a.pageCode);
    await c.connect();
    expect(await c.verifyPin(R0, PIN())).toMatchObject({ ok: true });
    const before = resets();
    expect(await c.call('journal.report', { state: 'blocked', problem: 'forged' })).toEqual({ blocked: true });
    // The session locked with it: the card nobody holds any more was reset.
    await waitFor(() => resets() > before);
    const refusedAll = async (x: BridgeClient): Promise<void> => {
      for (const [method, params] of [['cps.read', { reader: R0 }], ['vitale.read', { reader: R1 }], ['card.certificates', { reader: R0 }],
        ['card.deriveKey', { reader: R0, salt: 'c2VsLWR1LXBvc3RlLWZpY3RpZg' }]] as const) {
        await expect(x.call(method, params), method).rejects.toMatchObject({ code: 'journal_blocked' });
      }
      await expect(signs(x)).rejects.toMatchObject({ code: 'journal_blocked' });
      await expect(x.authenticate(R0, 'bm9uY2UtZHUtcmVsYWlzLWZpY3RpdmU')).rejects.toMatchObject({ code: 'journal_blocked' });
      expect((await x.call<unknown[]>('readers')).length).toBe(2);
    };
    await refusedAll(c);
    // The administrator's reset (issue 24 defect 3) is what a blocked page may still do: the PIN
    // typed for it, then the card's authorization bound to this origin and journal.
    const journal = '6f8cf916-1d64-4f4a-854e-042b48f5bf5d';
    await expect(c.call('journal.authorizeReset', { reader: R0, journal })).rejects.toMatchObject({ code: 'pin_required' });
    expect(await c.verifyPin(R0, PIN())).toMatchObject({ ok: true });
    await expect(c.call('journal.authorizeReset', { reader: R0, journal: 'pas-un-journal' })).rejects.toMatchObject({ code: 'bad_request' });
    const auth = await c.call<{ signature: string; certificate: string }>('journal.authorizeReset', { reader: R0, journal });
    const cert = Buffer.from(auth.certificate, 'base64url');
    const spki = createPublicKey({ key: Buffer.from(parseCertificate(cert).spki), format: 'der', type: 'spki' });
    expect(nodeVerify('sha256', await auditResetInput(APP_ORIGIN, journal), spki, Buffer.from(auth.signature, 'base64url'))).toBe(true);
    expect(nodeVerify('sha256', await auditResetInput(APP_ORIGIN, 'none'), spki, Buffer.from(auth.signature, 'base64url'))).toBe(false);
    // The PIN verified for it opens nothing else while the journal is blocked.
    await refusedAll(c);
    await expect(c.call('journal.report', { state: 'blocked', problem: 'pas un code' })).rejects.toMatchObject({ code: 'bad_request' });
    c.close();
    // Another connection of the same pairing: still blocked.
    const again = client(bridge.url, APP_ORIGIN, keys);
    await again.connect();
    await refusedAll(again);
    // Reported intact (after the administrator's reset): served again, the PIN to type anew.
    expect(await again.call('journal.report', { state: 'intact' })).toEqual({ blocked: false });
    expect((await again.call<{ pinTriesLeft: number }>('cps.read', { reader: R0 })).pinTriesLeft).toBe(3);
    await expect(signs(again)).rejects.toMatchObject({ code: 'pin_required' });
    const events = bridge.audit.read().filter((e) => e.event === 'journal');
    expect(events.map((e) => e.outcome)).toEqual(['blocked', 'reset_authorized', 'intact']);
    expect(events[0]).toMatchObject({ origin: APP_ORIGIN, detail: 'forged' });
    again.close();
  });
});
