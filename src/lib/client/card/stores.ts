/**
 * The card bridge as Svelte stores for the PWA: connection state, readers and cards, the
 * pairing code to show, and the session lock (removing the CPS locks the practitioner's
 * session across the app, SA4; see ./session-lock.ts). Reconnects with back-off after a bridge
 * restart or a dropped connection. The bridge holds the card session itself: every lock of the
 * app is sent to it (`session.lock`), and a new connection starts without the PIN.
 */
import { derived, get, writable, type Readable } from 'svelte/store';
import { BridgeError, type PairingKeyStore, type SocketLike } from './client.js';
import { AutoCardClient, type CardClient } from './local-client.js';
import type { InPageTransport } from './in-page.js';
import { IdbKeyStore } from './key-store.js';
import { watchInactivity, type InactivityOptions } from './inactivity.js';
import type { JournalReport, PinResult } from '../../card/protocol.js';
import {
  SHARED_LOCK_KEY, applyShared, nextLock, restoreLock, saveLock, sharedValue, type LockEvent, type LockStorage, type SessionLock,
} from './session-lock.js';

import { DEFAULT_BRIDGE_URL } from '../../card/protocol.js';
import { byCodeUnits } from '../../text/compare.js';
export { DEFAULT_BRIDGE_URL };

export type BridgeStatus = 'arrêté' | 'connexion' | 'connecté' | 'non appairé' | 'appairage' | 'injoignable';

export interface ReaderView {
  name: string;
  present: boolean;
  cardType: 'CPS' | 'VITALE' | null;
  /** The reader has a PIN pad (PC/SC part 10): the PIN is typed there, not on the page. */
  pinPad?: boolean;
}

export interface CardBridge {
  status: Readable<BridgeStatus>;
  /** What serves the cards: the bridge, or a reader the page reaches itself (issue 17); null while unconnected. */
  via: Readable<'bridge' | InPageTransport | null>;
  readers: Readable<ReaderView[]>;
  /** The code to show during pairing ("123 456"), null otherwise. */
  pairingCode: Readable<string | null>;
  cpsReader: Readable<string | null>;
  vitaleReader: Readable<string | null>;
  /** The reader holding the CPS has a PIN pad: ask for `verifyPin()` without a PIN. */
  cpsPinPad: Readable<boolean>;
  /** True while the CPS in the reader has no PIN verified through this page (card level). */
  locked: Readable<boolean>;
  /** The practitioner's session lock for the whole app (the root layout shows it). */
  session: Readable<SessionLock>;
  start(): void;
  stop(): void;
  pair(): Promise<void>;
  /**
   * Verifies the PIN and unlocks the session when right. With `pin` (ASCII digits, wiped once
   * sent) it was typed on the page; without, it is typed on the reader's PIN pad.
   */
  verifyPin(pin?: Uint8Array): Promise<PinResult>;
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  /**
   * The page's audit journal as its integrity check left it (issue 24 defect 4): told to the
   * bridge now if connected, and first thing at every (re)connection. While it says blocked the
   * bridge serves no card to this pairing.
   */
  reportJournal(report: JournalReport): void;
}

export interface CardBridgeOptions {
  url?: string;
  origin?: string;
  keys?: PairingKeyStore;
  createSocket?: (url: string) => SocketLike;
  /** The card client (default: AutoCardClient — a reader the page reaches itself, else the bridge). */
  client?: () => CardClient;
  /** Asks before the last PIN try typed in the page when the page serves the cards itself. */
  confirmLastPinTry?: (reader: string) => Promise<boolean>;
  /** Back-off bounds for reconnection, ms. */
  minDelay?: number;
  maxDelay?: number;
  /** Where the session lock survives a reload (default: sessionStorage; null: nowhere). */
  lockStorage?: LockStorage | null;
  /** Where the tabs share the lock (default: localStorage; null: not shared). */
  sharedLockStorage?: LockStorage | null;
  /**
   * Locking after inactivity (SA4, inactivity.ts): on by default in a page (15 minutes, activity
   * shared by the tabs); null turns it off (Node tests without a document).
   */
  inactivity?: Omit<InactivityOptions, 'onIdle'> | null;
}

function defaultSharedStorage(): LockStorage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

function readShared(storage: LockStorage | null): string | null {
  try {
    return storage?.getItem(SHARED_LOCK_KEY) ?? null;
  } catch {
    return null;
  }
}

function writeShared(storage: LockStorage | null, s: SessionLock): void {
  try {
    const v = sharedValue(s);
    if (v === null) storage?.removeItem(SHARED_LOCK_KEY);
    else storage?.setItem(SHARED_LOCK_KEY, v);
  } catch {
    /* storage full or disabled: this tab's lock still holds */
  }
}

function defaultLockStorage(): LockStorage | null {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null;
  }
}

export function createCardBridge(o: CardBridgeOptions = {}): CardBridge {
  const url = o.url ?? DEFAULT_BRIDGE_URL;
  const origin = o.origin ?? globalThis.location?.origin ?? 'null';
  const keys = o.keys ?? new IdbKeyStore();
  const status = writable<BridgeStatus>('arrêté');
  const via = writable<'bridge' | InPageTransport | null>(null);
  const readers = writable<ReaderView[]>([]);
  const pairingCode = writable<string | null>(null);
  const locked = writable(true);
  const lockStorage = o.lockStorage === undefined ? defaultLockStorage() : o.lockStorage;
  const sharedStorage = o.sharedLockStorage === undefined ? defaultSharedStorage() : o.sharedLockStorage;
  const session = writable<SessionLock>(applyShared(restoreLock(lockStorage), readShared(sharedStorage), false));
  // Set once the inactivity watch runs (below): a lock for another cause, arriving after the idle
  // period (the connection dropped while the practitioner was away), says the idle lock first —
  // the cause that tells them what happened.
  let idleCheck: (() => void) | null = null;
  const feed = (e: LockEvent): void => {
    if (e.type !== 'idle' && e.type !== 'pin-verified' && get(session).state === 'unlocked') idleCheck?.();
    apply(e);
  };
  const apply = (e: LockEvent): void =>
    session.update((s) => {
      const n = nextLock(s, e);
      if (n !== s) {
        saveLock(lockStorage, n);
        writeShared(sharedStorage, n);
      }
      return n;
    });
  // Another tab locked or unlocked the practitioner's session.
  if (sharedStorage && typeof globalThis.addEventListener === 'function') {
    globalThis.addEventListener('storage', (ev: StorageEvent) => {
      if (ev.key !== SHARED_LOCK_KEY) return;
      session.update((s) => {
        const n = applyShared(s, ev.newValue, true);
        if (n !== s) saveLock(lockStorage, n);
        return n;
      });
    });
  }
  let client: CardClient | null = null;
  // Every lock, whatever its cause (card removed, another tab, reconnection), locks the bridge's
  // session too: the bridge then refuses signatures until the PIN is verified again here.
  let wasLocked = get(session).state === 'locked';
  session.subscribe((s) => {
    const nowLocked = s.state === 'locked';
    if (nowLocked && !wasLocked) {
      // The PIN must be typed again (the panel offers it): the bridge no longer counts it.
      locked.set(true);
      void client?.lock().catch(() => undefined);
    }
    wasLocked = nowLocked;
  });
  // Inactivity locks the session like a removed card does (and so the bridge's session too).
  const inactivity = o.inactivity === undefined ? (globalThis.document ? {} : null) : o.inactivity;
  if (inactivity) idleCheck = watchInactivity({ ...inactivity, onIdle: () => apply({ type: 'idle' }) }).check;
  let running = false;
  let delay = o.minDelay ?? 500;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const newClient = (): CardClient => o.client?.() ?? new AutoCardClient({ url, origin, keys, createSocket: o.createSocket, ...(o.confirmLastPinTry ? { confirmLastPinTry: o.confirmLastPinTry } : {}) });

  let journal: JournalReport = { state: 'intact' };
  const upsert = (r: ReaderView): void => readers.update((rs) => [...rs.filter((x) => x.name !== r.name), r].sort((a, b) => byCodeUnits(a.name, b.name)));

  function schedule(): void {
    if (!running || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void connect();
    }, delay);
    delay = Math.min(delay * 2, o.maxDelay ?? 15_000);
  }

  // The connection under way: the readers arrive before it is usable (the journal's report comes
  // first), so a PIN typed in between waits for it instead of finding no bridge.
  let connecting: Promise<void> | null = null;
  function connect(): Promise<void> {
    const p = open().finally(() => {
      if (connecting === p) connecting = null;
    });
    connecting = p;
    return p;
  }

  async function open(): Promise<void> {
    if (!running) return;
    status.set('connexion');
    const c = newClient();
    c.onEvent((ev, d) => {
      if (ev === 'ready') {
        const rs = (d as { readers: ReaderView[] }).readers;
        readers.set(rs);
        feed({ type: 'cps-readers', readers: rs.filter((r) => r.present && r.cardType === 'CPS').map((r) => r.name) });
      } else if (ev === 'inserted') {
        const r = d as ReaderView;
        feed({ type: 'inserted', reader: r.name });
        upsert(r);
      } else if (ev === 'removed') {
        const name = (d as { name: string }).name;
        const was = get(readers).find((r) => r.name === name);
        if (was?.cardType === 'CPS') locked.set(true);
        feed({ type: 'removed', reader: name });
        upsert({ name, present: false, cardType: null, pinPad: was?.pinPad });
      }
    });
    try {
      await c.connect();
      // The journal's state before anything else: a blocked page must not be served in between.
      await c.call('journal.report', journal);
      client = c;
      via.set(c.via);
      delay = o.minDelay ?? 500;
      status.set('connecté');
      // A new session with the bridge holds no PIN: an unlocked app locks until it is typed again.
      feed({ type: 'session-lost' });
      c.onClose(() => {
        if (client === c) client = null;
        via.set(null);
        locked.set(true);
        status.set('injoignable');
        schedule();
      });
    } catch (e) {
      if (e instanceof BridgeError && (e.code === 'not_paired' || e.code === '4401')) {
        status.set('non appairé');
        return;
      }
      status.set('injoignable');
      schedule();
    }
  }

  const cardOf = (t: 'CPS' | 'VITALE'): Readable<string | null> => derived(readers, (rs) => rs.find((r) => r.present && r.cardType === t)?.name ?? null);
  const cpsReaderView = (): ReaderView | undefined => get(readers).find((r) => r.present && r.cardType === 'CPS');

  return {
    status,
    via,
    readers,
    pairingCode,
    cpsReader: cardOf('CPS'),
    vitaleReader: cardOf('VITALE'),
    cpsPinPad: derived(readers, (rs) => rs.find((r) => r.present && r.cardType === 'CPS')?.pinPad === true),
    locked,
    session,
    start() {
      if (running) return;
      running = true;
      void connect();
    },
    stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = null;
      client?.close();
      client = null;
      via.set(null);
      status.set('arrêté');
    },
    async pair() {
      status.set('appairage');
      try {
        await newClient().pair((code) => pairingCode.set(code));
      } finally {
        pairingCode.set(null);
      }
      running = true;
      await connect();
    },
    async verifyPin(pin) {
      if (!client && connecting) await connecting;
      const reader = cpsReaderView();
      if (!client || !reader) {
        pin?.fill(0);
        throw new BridgeError('card_absent', 'aucune CPS dans les lecteurs');
      }
      if (!pin && !reader.pinPad) throw new BridgeError('bad_request', 'ce lecteur n’a pas de clavier : saisissez le code PIN');
      const r = await client.verifyPin(reader.name, pin);
      if (r.ok) {
        locked.set(false);
        feed({ type: 'pin-verified', reader: reader.name });
      }
      return r;
    },
    call(method, params = {}) {
      if (!client) return Promise.reject(new BridgeError('closed', 'pont non connecté'));
      return client.call(method, params);
    },
    reportJournal(report) {
      if (report.state === journal.state && (report.state === 'intact' || (journal.state === 'blocked' && report.problem === journal.problem))) return;
      journal = report;
      // Connected: said now (a failure closes nothing: the next connection says it first).
      client?.call('journal.report', report).catch(() => undefined);
    },
  };
}
