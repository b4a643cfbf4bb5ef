/**
 * The practitioner's session in the page (issue 14 item 2), on top of the card bridge's lock
 * (card/stores.ts): once the PIN is verified, the CPS is read (who is signed in), the billing
 * situation is chosen among those on the card (by itself when there is one; the practitioner's
 * last choice for the same card is kept in memory), and the app logs in to the relay with the
 * card's authentication key (client/relay/login.ts). Without network the session goes on —
 * billing works offline — and the relay is tried again later.
 *
 * Nothing of it is stored: the identity, the situation and the relay's token live in this tab's
 * memory only (never a name in storage, SP4), and every lock drops the token and the identity.
 */
import { derived, get, writable, type Readable } from 'svelte/store';
import type { CardSituation, CpsRead } from '../../card/reads.js';
import type { CardBridge } from '../card/stores.js';
import { relayLogin, RelayLoginError, type RelayLoginCard } from '../relay/login.js';
import { serverBase } from '../server-base.js';

export type RelayState =
  | { state: 'none' }
  | { state: 'connecting' }
  | { state: 'connected'; expiresAt: number }
  /** No network: billing goes on, sending waits. */
  | { state: 'offline' }
  /** This server runs no relay. */
  | { state: 'not-configured' }
  /** The front desk's card (CPE): it sends nothing, so it does not log in. */
  | { state: 'not-for-role' }
  | { state: 'refused'; message: string };

export interface PractitionerSession {
  /** The CPS read once the PIN is verified; null while locked or before. */
  identity: Readable<CpsRead | null>;
  /** The billing situation chosen; null until chosen (several on the card). */
  situation: Readable<CardSituation | null>;
  relay: Readable<RelayState>;
  /** Chooses the billing situation (its billing number, one of the card's). */
  choose(billingNumber: string): void;
  /** The relay's bearer token while connected and not expired, else null (memory only). */
  token(): string | null;
  /** The mailbox the relay sends this practitioner's messages from, once logged in (memory only). */
  mailbox(): string | null;
  /** Tries the relay again (after `offline`, an expiry or a refusal). */
  connectRelay(): Promise<void>;
  /** Stops following the bridge (tests). */
  stop(): void;
}

export interface PractitionerSessionOptions {
  fetch?: typeof fetch;
  origin?: string;
  now?: () => number;
}

export function createPractitionerSession(bridge: CardBridge, o: PractitionerSessionOptions = {}): PractitionerSession {
  const identity = writable<CpsRead | null>(null);
  const chosen = writable<string | null>(null);
  const relay = writable<RelayState>({ state: 'none' });
  const origin = o.origin ?? globalThis.location?.origin ?? 'null';
  const now = o.now ?? (() => Date.now());
  let token: { value: string; expiresAt: number } | null = null;
  let mailbox: string | null = null;
  // The last choice, for the same card only (memory): a lock and the PIN again keep it.
  let remembered: { rpps: string; billingNumber: string } | null = null;
  let generation = 0;

  const situation = derived([identity, chosen], ([id, bn]) => id?.situations.find((s) => s.structureId === bn) ?? null);

  const card: RelayLoginCard = {
    authenticate: (reader, nonce) => bridge.call('card.authenticate', { reader, nonce }),
    call: (method, params) => bridge.call(method, params),
  };

  async function connectRelay(): Promise<void> {
    const reader = get(bridge.cpsReader);
    const g = generation;
    if (!reader || get(bridge.session).state !== 'unlocked' || get(identity)?.family === 'CPE') return;
    relay.set({ state: 'connecting' });
    try {
      const s = await relayLogin({ ...(o.fetch ? { fetch: o.fetch } : {}), base: serverBase(), origin, card, reader });
      if (g !== generation) return; // locked meanwhile: this login is not for the new session
      token = { value: s.token, expiresAt: s.expiresAt };
      mailbox = s.from;
      relay.set({ state: 'connected', expiresAt: s.expiresAt });
    } catch (e) {
      if (g !== generation) return;
      token = null;
      if (e instanceof RelayLoginError && e.code === 'unreachable') relay.set({ state: 'offline' });
      else if (e instanceof RelayLoginError && e.reason === 'not-configured') relay.set({ state: 'not-configured' });
      else relay.set({ state: 'refused', message: e instanceof Error ? e.message : String(e) });
    }
  }

  async function open(reader: string): Promise<void> {
    const g = generation;
    let cps: CpsRead;
    try {
      cps = await bridge.call<CpsRead>('cps.read', { reader });
    } catch {
      return; // the card left meanwhile: the lock follows
    }
    if (g !== generation) return;
    identity.set(cps);
    if (cps.family === 'CPE') {
      relay.set({ state: 'not-for-role' });
      chosen.set(cps.situations.length === 1 ? cps.situations[0]!.structureId : null);
      return;
    }
    const keep = remembered?.rpps === cps.rpps && cps.situations.some((s) => s.structureId === remembered!.billingNumber) ? remembered!.billingNumber : null;
    const only = cps.situations.length === 1 ? cps.situations[0]!.structureId : null;
    chosen.set(keep ?? only);
    await connectRelay();
  }

  function close(): void {
    generation++;
    token = null;
    identity.set(null);
    chosen.set(null);
    relay.set({ state: 'none' });
  }

  // Offline, the relay is tried again when the network comes back, and every minute meanwhile
  // (the outbox waits for its login).
  const retry = (): void => {
    const r = get(relay).state;
    if (r === 'offline' || r === 'none') void connectRelay();
  };
  const retryTimer = typeof window !== 'undefined' ? setInterval(() => get(relay).state === 'offline' && retry(), 60_000) : undefined;
  // The network gone: said at once, not « connecté » until a send fails. The token is kept (a
  // flaky network may still carry a send); `online` logs in again.
  const wentOffline = (): void => {
    const r = get(relay).state;
    if (r === 'connected' || r === 'connecting') relay.set({ state: 'offline' });
  };
  if (typeof window !== 'undefined') {
    window.addEventListener('online', retry);
    window.addEventListener('offline', wentOffline);
  }

  let was = get(bridge.session).state;
  const unsubscribe = bridge.session.subscribe((s) => {
    if (s.state === was) return;
    was = s.state;
    if (s.state === 'unlocked') {
      generation++;
      void open(s.reader);
    } else close();
  });
  // A tab whose session is already open (the store existed before this one).
  const initial = get(bridge.session);
  if (initial.state === 'unlocked') void open(initial.reader);

  return {
    identity,
    situation,
    relay,
    choose(billingNumber) {
      const id = get(identity);
      if (!id || !id.situations.some((s) => s.structureId === billingNumber)) return;
      chosen.set(billingNumber);
      remembered = { rpps: id.rpps, billingNumber };
    },
    token() {
      if (!token || now() >= token.expiresAt) return null;
      return token.value;
    },
    mailbox() {
      return mailbox;
    },
    connectRelay,
    stop() {
      unsubscribe();
      clearInterval(retryTimer);
      if (typeof window !== 'undefined') {
        window.removeEventListener('online', retry);
        window.removeEventListener('offline', wentOffline);
      }
      close();
    },
  };
}
