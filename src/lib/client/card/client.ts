/**
 * Browser side of the bridge channel (also runs in Node for tests and the benchmark, given a
 * WebSocket factory). Pairing, then sessions with mutual authentication and encrypted frames;
 * see ./protocol.ts for the protocol.
 */
import {
  BUSY,
  BUSY_MESSAGE,
  SecureChannel,
  b64u,
  checkProof,
  decodeMessage,
  encodeMessage,
  ephemeral,
  importPairingKey,
  pairingCode,
  type AuthenticationResult,
  type DerivedSecretResult,
  type LockResult,
  type PinResult,
  pairingKeyBytes,
  proof,
  randomBytes,
  sharedSecret,
  transcript,
  unb64u,
} from '../../card/protocol.js';

/** The subset of the WebSocket API we use (browser WebSocket and the `ws` package both fit). */
export interface SocketLike {
  binaryType: string;
  readyState: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

export interface StoredPairing {
  keyId: string;
  key: CryptoKey;
}

/**
 * Where the pairing key lives: IndexedDB in the browser (non-extractable CryptoKey, `raw`
 * ignored); a file readable by its owner only for the command line
 * (src/lib/cli/pairing-file.ts), which needs `raw` to keep it. `raw` is wiped once `set` resolves.
 */
export interface PairingKeyStore {
  get(): Promise<StoredPairing | null>;
  set(p: StoredPairing, raw?: Uint8Array): Promise<void>;
  clear(): Promise<void>;
}

export class MemoryKeyStore implements PairingKeyStore {
  private p: StoredPairing | null = null;
  async get(): Promise<StoredPairing | null> {
    return this.p;
  }
  async set(p: StoredPairing): Promise<void> {
    this.p = p;
  }
  async clear(): Promise<void> {
    this.p = null;
  }
}

export interface BridgeClientOptions {
  url: string;
  /** The page's origin (bound into the transcripts; the bridge checks it is the HTTP Origin). */
  origin: string;
  keys: PairingKeyStore;
  createSocket?: (url: string) => SocketLike;
  /**
   * How long a request may wait for its answer, ms (default 60 s; a PIN typed on the reader's
   * pad: twice that). Past it the call fails `timeout` and the connection is closed: an answer
   * that never comes must not leave the page waiting (its reconnection starts a new session).
   */
  callTimeoutMs?: number;
}

export class BridgeError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The bridge refused a request unserved: this connection already has as many requests in flight
 * as it serves at once (`busy`). Nothing was done on the card; the same request may be retried.
 * `detail` keeps the bridge's own wording (with its limit); `message` is the page's.
 */
export class BridgeBusyError extends BridgeError {
  constructor(readonly detail?: string) {
    super(BUSY, BUSY_MESSAGE);
  }
}

/** The typed error of a refused request: `busy` as BridgeBusyError, any other code as BridgeError. */
export function requestError(err: { code?: unknown; message?: unknown } | undefined): BridgeError {
  const code = typeof err?.code === 'string' ? err.code : 'error';
  const message = typeof err?.message === 'string' ? err.message : undefined;
  if (code === BUSY) return new BridgeBusyError(message);
  return new BridgeError(code, message ?? 'erreur');
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** A queue of incoming text/binary messages for one socket. */
class Inbox {
  private items: Array<{ data: unknown }> = [];
  private waiters: Array<(v: { data: unknown } | null) => void> = [];
  closed: { code: number; reason: string } | null = null;
  push(v: { data: unknown }): void {
    const w = this.waiters.shift();
    if (w) w(v);
    else this.items.push(v);
  }
  close(ev: { code: number; reason: string }): void {
    this.closed = ev;
    for (const w of this.waiters.splice(0)) w(null);
  }
  next(): Promise<{ data: unknown } | null> {
    const v = this.items.shift();
    if (v) return Promise.resolve(v);
    if (this.closed) return Promise.resolve(null);
    return new Promise((r) => this.waiters.push(r));
  }
}

async function toBytes(d: unknown): Promise<Uint8Array> {
  if (d instanceof Uint8Array) return d;
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  if (typeof Blob !== 'undefined' && d instanceof Blob) return new Uint8Array(await d.arrayBuffer());
  throw new Error('unexpected message type');
}

export class BridgeClient {
  private socket: SocketLike | null = null;
  private channel: SecureChannel | null = null;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private listeners = new Set<(ev: string, d: unknown) => void>();
  private closeListeners = new Set<(code: number, reason: string) => void>();
  private sendQueue: Promise<void> = Promise.resolve();
  /** Frames as sent (tests: replay them). */
  onFrameSent: ((frame: Uint8Array) => void) | null = null;

  constructor(private readonly o: BridgeClientOptions) {}

  private open(): Promise<{ s: SocketLike; inbox: Inbox }> {
    const make = this.o.createSocket ?? ((u: string) => new WebSocket(u) as unknown as SocketLike);
    const s = make(this.o.url);
    s.binaryType = 'arraybuffer';
    const inbox = new Inbox();
    s.onmessage = (ev) => inbox.push(ev);
    return new Promise((resolve, reject) => {
      s.onopen = () => resolve({ s, inbox });
      s.onerror = () => reject(new BridgeError('unreachable', 'pont injoignable ou connexion refusée'));
      s.onclose = (ev) => {
        inbox.close(ev);
        reject(new BridgeError('closed', `connexion fermée (${ev.code} ${ev.reason})`));
      };
    });
  }

  private static async json(inbox: Inbox): Promise<Record<string, unknown>> {
    const m = await inbox.next();
    if (!m) throw new BridgeError(String(inbox.closed?.code ?? 'closed'), `refusé par le pont : ${inbox.closed?.reason ?? 'connexion fermée'}`);
    if (typeof m.data !== 'string') throw new BridgeError('protocol', 'réponse inattendue');
    return JSON.parse(m.data) as Record<string, unknown>;
  }

  /**
   * Asks the bridge to pair this origin. `onCode` receives the code to show on the page; the
   * practitioner compares it with the one the bridge shows and approves there.
   */
  async pair(onCode: (code: string) => void): Promise<{ keyId: string }> {
    const { s, inbox } = await this.open();
    try {
      const eph = await ephemeral();
      const nc = randomBytes(32);
      s.send(JSON.stringify({ t: 'pair', pub: b64u(eph.pub), nonce: b64u(nc) }));
      const m = await BridgeClient.json(inbox);
      if (m.t !== 'pair-code') throw new BridgeError('protocol', 'réponse inattendue');
      const ps = unb64u(String(m.pub));
      const z = await sharedSecret(eph, ps);
      const t = await transcript('teletrans-bridge pairing', this.o.origin, eph.pub, ps, nc, unb64u(String(m.nonce)));
      onCode(await pairingCode(z, t));
      const done = await BridgeClient.json(inbox);
      if (done.t !== 'paired' || typeof done.keyId !== 'string') throw new BridgeError('protocol', 'réponse inattendue');
      const raw = await pairingKeyBytes(z, t);
      const key = await importPairingKey(raw);
      try {
        await this.o.keys.set({ keyId: done.keyId, key }, raw);
      } finally {
        raw.fill(0);
      }
      return { keyId: done.keyId };
    } finally {
      s.close();
    }
  }

  /** Opens a session (mutual authentication, fresh keys). Throws BridgeError('4401') if not paired. */
  async connect(): Promise<void> {
    const stored = await this.o.keys.get();
    if (!stored) throw new BridgeError('not_paired', 'ce navigateur n’est pas appairé au pont');
    const { s, inbox } = await this.open();
    try {
      const eph = await ephemeral();
      const nc = randomBytes(32);
      s.send(JSON.stringify({ t: 'hello', keyId: stored.keyId, pub: b64u(eph.pub), nonce: b64u(nc) }));
      const m = await BridgeClient.json(inbox);
      if (m.t !== 'welcome') throw new BridgeError('protocol', 'réponse inattendue');
      const ps = unb64u(String(m.pub));
      const t = await transcript('teletrans-bridge session', this.o.origin, eph.pub, ps, nc, unb64u(String(m.nonce)));
      if (!(await checkProof(stored.key, 'server', t, unb64u(String(m.proof))))) {
        throw new BridgeError('bad_proof', 'le pont n’a pas prouvé la clé d’appairage');
      }
      const z = await sharedSecret(eph, ps);
      const channel = await SecureChannel.create(z, t, 'client');
      s.send(JSON.stringify({ t: 'proof', proof: b64u(await proof(stored.key, 'client', t)) }));
      this.socket = s;
      this.channel = channel;
      const ready = new Promise<void>((resolve) => {
        const l = (ev: string): void => {
          if (ev === 'ready') {
            this.listeners.delete(l);
            resolve();
          }
        };
        this.listeners.add(l);
      });
      const closed = new Promise<void>((r) => {
        const off = this.onClose(() => {
          off();
          r();
        });
      });
      void this.pump(s, inbox, channel);
      await Promise.race([ready, closed]);
      if (!this.channel) throw new BridgeError(String(inbox.closed?.code ?? 'closed'), `refusé par le pont : ${inbox.closed?.reason ?? ''}`);
    } catch (e) {
      s.close();
      throw e;
    }
  }

  private async pump(s: SocketLike, inbox: Inbox, channel: SecureChannel): Promise<void> {
    for (;;) {
      const m = await inbox.next();
      if (!m) break;
      try {
        const plain = await channel.open(await toBytes(m.data));
        const { msg } = decodeMessage(plain);
        const o = msg as { id?: number; ok?: boolean; r?: unknown; err?: { code: string; message: string }; ev?: string; d?: unknown };
        if (o.ev) for (const l of [...this.listeners]) l(o.ev, o.d);
        else if (typeof o.id === 'number') {
          const p = this.pending.get(o.id);
          this.pending.delete(o.id);
          if (o.ok) p?.resolve(o.r);
          else p?.reject(requestError(o.err));
        }
      } catch {
        s.close(4400, 'bad frame');
        break;
      }
    }
    if (this.socket === s) {
      this.socket = null;
      this.channel = null;
    }
    const closed = inbox.closed ?? { code: 1006, reason: '' };
    for (const p of this.pending.values()) p.reject(new BridgeError('closed', 'connexion au pont perdue'));
    this.pending.clear();
    for (const l of this.closeListeners) l(closed.code, closed.reason);
  }

  get connected(): boolean {
    return this.channel !== null;
  }

  /** Calls a bridge method; `attachment` travels in binary (the PIN) and is wiped once sent. */
  call<T = unknown>(method: string, params: Record<string, unknown> = {}, attachment?: Uint8Array): Promise<T> {
    const s = this.socket;
    const ch = this.channel;
    if (!s || !ch) return Promise.reject(new BridgeError('closed', 'pas de session avec le pont'));
    const id = this.nextId++;
    const limit = (this.o.callTimeoutMs ?? 60_000) * (method === 'cps.verifyPin' && !attachment ? 2 : 1);
    const result = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pending.has(id)) return;
        this.pending.delete(id);
        reject(new BridgeError('timeout', 'le pont de cartes ne répond pas : connexion fermée, elle se rouvre d’elle-même.'));
        if (this.socket === s) s.close(4408, 'request timeout');
      }, limit);
      const done = <V>(f: (v: V) => void) => (v: V): void => {
        clearTimeout(timer);
        f(v);
      };
      this.pending.set(id, { resolve: done(resolve as (v: unknown) => void), reject: done(reject) });
    });
    this.sendQueue = this.sendQueue.then(async () => {
      const plain = encodeMessage({ id, m: method, p: params }, attachment);
      attachment?.fill(0);
      const frame = await ch.seal(plain);
      plain.fill(0);
      this.onFrameSent?.(frame);
      s.send(frame);
    }).catch((e: Error) => this.pending.get(id)?.reject(e));
    return result;
  }

  /**
   * `cps.verifyPin`: with `pin` (ASCII digits, wiped once sent) the PIN typed on the page;
   * without, the bridge has the practitioner type it on the reader's PIN pad.
   */
  verifyPin(reader: string, pin?: Uint8Array): Promise<PinResult> {
    if (pin && pin.length === 0) return Promise.reject(new BridgeError('bad_request', 'code porteur vide'));
    return this.call<PinResult>('cps.verifyPin', { reader }, pin);
  }

  /**
   * `cps.sign`: PKCS#1 v1.5 signature of a SHA-256 digest with the CPS signature key. The bridge
   * signs only if this very session verified the PIN on that card and is not locked
   * (`pin_required`, `session_locked`).
   */
  sign(reader: string, digest: Uint8Array): Promise<{ signature: string }> {
    if (digest.length !== 32) return Promise.reject(new BridgeError('bad_request', 'empreinte SHA-256 attendue'));
    return this.call<{ signature: string }>('cps.sign', { reader, digest: b64u(digest) });
  }

  /**
   * `card.authenticate` for the relay's login: give the relay's nonce; the bridge signs
   * SHA-256(origin) ‖ SHA-256(nonce) for the origin it paired with (what the relay checks,
   * `challengeDigestInput`). A digest chosen by the page is refused.
   */
  authenticate(reader: string, nonce: string): Promise<AuthenticationResult> {
    return this.call<AuthenticationResult>('card.authenticate', { reader, nonce });
  }

  /**
   * `card.deriveKey`: the CPS's secret for this workstation's `salt` (ADR 0014), from which the
   * page derives the key that opens its invoices at rest. Same session rule as a signature.
   */
  deriveKey(reader: string, salt: Uint8Array): Promise<DerivedSecretResult> {
    return this.call<DerivedSecretResult>('card.deriveKey', { reader, salt: b64u(salt) });
  }

  /** Locks the bridge's session (the app locked): no signature until the PIN is verified again. */
  lock(): Promise<LockResult> {
    return this.call<LockResult>('session.lock');
  }

  /** Sends bytes as they are (tests: replays, garbage). */
  sendRaw(data: Uint8Array | string): void {
    this.socket?.send(data);
  }

  onEvent(l: (ev: string, d: unknown) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  onClose(l: (code: number, reason: string) => void): () => void {
    this.closeListeners.add(l);
    return () => this.closeListeners.delete(l);
  }

  close(): void {
    this.socket?.close(1000, 'bye');
  }
}
