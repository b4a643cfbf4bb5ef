/**
 * The card bridge as Svelte stores for the PWA: connection state, readers and cards, the
 * pairing code to show, and the session lock (removing the CPS locks the practitioner's
 * session, SA4). Reconnects with back-off after a bridge restart or a dropped connection.
 */
import { derived, get, writable, type Readable } from 'svelte/store';
import { BridgeClient, BridgeError, type PairingKeyStore, type SocketLike } from './client.js';
import { IdbKeyStore } from './key-store.js';

export const DEFAULT_BRIDGE_URL = 'ws://127.0.0.1:7523/';

export type BridgeStatus = 'arrêté' | 'connexion' | 'connecté' | 'non appairé' | 'appairage' | 'injoignable';

export interface ReaderView {
  name: string;
  present: boolean;
  cardType: 'CPS' | 'VITALE' | null;
}

export interface CardBridge {
  status: Readable<BridgeStatus>;
  readers: Readable<ReaderView[]>;
  /** The code to show during pairing ("123 456"), null otherwise. */
  pairingCode: Readable<string | null>;
  cpsReader: Readable<string | null>;
  vitaleReader: Readable<string | null>;
  /** True once a CPS was removed (or never unlocked): the app locks its session until the PIN. */
  locked: Readable<boolean>;
  start(): void;
  stop(): void;
  pair(): Promise<void>;
  /** Verifies the PIN (wiped once sent); unlocks the session when right. */
  verifyPin(pin: Uint8Array): Promise<{ ok: boolean; triesLeft: number; blocked?: boolean }>;
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
}

export interface CardBridgeOptions {
  url?: string;
  origin?: string;
  keys?: PairingKeyStore;
  createSocket?: (url: string) => SocketLike;
  /** Back-off bounds for reconnection, ms. */
  minDelay?: number;
  maxDelay?: number;
}

export function createCardBridge(o: CardBridgeOptions = {}): CardBridge {
  const url = o.url ?? DEFAULT_BRIDGE_URL;
  const origin = o.origin ?? globalThis.location?.origin ?? 'null';
  const keys = o.keys ?? new IdbKeyStore();
  const status = writable<BridgeStatus>('arrêté');
  const readers = writable<ReaderView[]>([]);
  const pairingCode = writable<string | null>(null);
  const locked = writable(true);
  let client: BridgeClient | null = null;
  let running = false;
  let delay = o.minDelay ?? 500;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const newClient = (): BridgeClient => new BridgeClient({ url, origin, keys, createSocket: o.createSocket });

  const upsert = (r: ReaderView): void => readers.update((rs) => [...rs.filter((x) => x.name !== r.name), r].sort((a, b) => a.name.localeCompare(b.name)));

  function schedule(): void {
    if (!running || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void connect();
    }, delay);
    delay = Math.min(delay * 2, o.maxDelay ?? 15_000);
  }

  async function connect(): Promise<void> {
    if (!running) return;
    status.set('connexion');
    const c = newClient();
    c.onEvent((ev, d) => {
      if (ev === 'ready') readers.set((d as { readers: ReaderView[] }).readers);
      else if (ev === 'inserted') upsert(d as ReaderView);
      else if (ev === 'removed') {
        const name = (d as { name: string }).name;
        const was = get(readers).find((r) => r.name === name);
        if (was?.cardType === 'CPS') locked.set(true);
        upsert({ name, present: false, cardType: null });
      }
    });
    try {
      await c.connect();
      client = c;
      delay = o.minDelay ?? 500;
      status.set('connecté');
      c.onClose(() => {
        if (client === c) client = null;
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

  return {
    status,
    readers,
    pairingCode,
    cpsReader: cardOf('CPS'),
    vitaleReader: cardOf('VITALE'),
    locked,
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
      const reader = get(readers).find((r) => r.present && r.cardType === 'CPS')?.name;
      if (!client || !reader) {
        pin.fill(0);
        throw new BridgeError('card_absent', 'aucune CPS dans les lecteurs');
      }
      const r = await client.call<{ ok: boolean; triesLeft: number; blocked?: boolean }>('cps.verifyPin', { reader }, pin);
      if (r.ok) locked.set(false);
      return r;
    },
    call(method, params = {}) {
      if (!client) return Promise.reject(new BridgeError('closed', 'pont non connecté'));
      return client.call(method, params);
    },
  };
}
