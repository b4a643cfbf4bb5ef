/**
 * The card client the stores use (./stores.ts), whichever way reaches the cards: the bridge
 * (BridgeClient, its paired channel) or the page itself (LocalCardService over a transport
 * opened here, issue 17). Chosen at each connection (./in-page.ts): a reader plugged in or
 * allowed since is found at the next one. Same calls, same events, same errors (BridgeError
 * with the code) either way.
 */
import { LocalCardService } from '../../card/local-service.js';
import type { PinResult } from '../../card/protocol.js';
import type { CardTransport } from '../../card/transport.js';
import { BridgeClient, BridgeError, type BridgeClientOptions } from './client.js';
import { browserCardApis, openInPage, pickInPage, probeInPage, savedChoice, type BrowserCardApis, type InPageTransport, type TransportChoice } from './in-page.js';

/** What the stores need of a card client. */
export interface CardClient {
  /** `bridge`, or the in-page transport serving; null before a connection. */
  readonly via: 'bridge' | InPageTransport | null;
  connect(): Promise<void>;
  pair(onCode: (code: string) => void): Promise<unknown>;
  call<T = unknown>(method: string, params?: Record<string, unknown>, attachment?: Uint8Array): Promise<T>;
  verifyPin(reader: string, pin?: Uint8Array): Promise<PinResult>;
  lock(): Promise<unknown>;
  onEvent(l: (ev: string, d: unknown) => void): () => void;
  onClose(l: (code: number, reason: string) => void): () => void;
  close(): void;
}

export interface AutoClientOptions extends BridgeClientOptions {
  api?: BrowserCardApis;
  choice?: () => TransportChoice;
  /** Asks before the last PIN try typed in the page (the bridge asks at its own terminal). */
  confirmLastPinTry?: (reader: string) => Promise<boolean>;
  /** Opens an in-page transport (tests give theirs). */
  open?: (id: InPageTransport) => Promise<CardTransport>;
}

const asBridgeError = (e: unknown): BridgeError => {
  if (e instanceof BridgeError) return e;
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? new BridgeError(code, (e as Error).message) : new BridgeError('error', 'erreur interne du service de cartes');
};

export class AutoCardClient implements CardClient {
  private bridge: BridgeClient | null = null;
  private local: LocalCardService | null = null;
  private readonly listeners = new Set<(ev: string, d: unknown) => void>();
  private readonly closeListeners = new Set<(code: number, reason: string) => void>();
  via: 'bridge' | InPageTransport | null = null;

  constructor(private readonly o: AutoClientOptions) {}

  async connect(): Promise<void> {
    const api = this.o.api ?? browserCardApis();
    const id = pickInPage((this.o.choice ?? savedChoice)(), await probeInPage(api));
    if (id) {
      let transport: CardTransport;
      try {
        transport = await (this.o.open ?? ((t) => openInPage(t, api)))(id);
      } catch (e) {
        throw new BridgeError('unreachable', `lecteur inaccessible (${id}) : ${(e as Error).message}`);
      }
      const s = new LocalCardService({ transport, origin: this.o.origin, ...(this.o.confirmLastPinTry ? { confirmLastPinTry: this.o.confirmLastPinTry } : {}) });
      this.local = s;
      this.via = id;
      s.onEvent((ev, d) => this.emit(ev, d));
      // A reader unplugged (or its pipe lost): the connection ends as a bridge's would.
      transport.on('error', (e) => {
        if ((e as { code?: string }).code === 'closed' && this.local === s) this.end(1006, e.message);
      });
      this.emit('ready', { readers: s.readers() });
      return;
    }
    const b = new BridgeClient(this.o);
    for (const l of this.listeners) b.onEvent(l);
    b.onClose((code, reason) => {
      for (const l of this.closeListeners) l(code, reason);
    });
    await b.connect();
    this.bridge = b;
    this.via = 'bridge';
  }

  private emit(ev: string, d: unknown): void {
    for (const l of [...this.listeners]) l(ev, d);
  }

  private end(code: number, reason: string): void {
    const s = this.local;
    this.local = null;
    void s?.close().catch(() => undefined);
    for (const l of [...this.closeListeners]) l(code, reason);
  }

  pair(onCode: (code: string) => void): Promise<unknown> {
    return new BridgeClient(this.o).pair(onCode);
  }

  async call<T = unknown>(method: string, params: Record<string, unknown> = {}, attachment?: Uint8Array): Promise<T> {
    if (this.bridge) return this.bridge.call<T>(method, params, attachment);
    if (!this.local) {
      attachment?.fill(0);
      throw new BridgeError('closed', 'service de cartes non connecté');
    }
    try {
      return (await this.local.call(method, params, attachment)) as T;
    } catch (e) {
      throw asBridgeError(e);
    }
  }

  verifyPin(reader: string, pin?: Uint8Array): Promise<PinResult> {
    if (this.bridge) return this.bridge.verifyPin(reader, pin);
    if (pin && pin.length === 0) return Promise.reject(new BridgeError('bad_request', 'code porteur vide'));
    return this.call<PinResult>('cps.verifyPin', { reader }, pin);
  }

  lock(): Promise<unknown> {
    return this.call('session.lock');
  }

  onEvent(l: (ev: string, d: unknown) => void): () => void {
    this.listeners.add(l);
    const off = this.bridge?.onEvent(l);
    return () => {
      this.listeners.delete(l);
      off?.();
    };
  }

  onClose(l: (code: number, reason: string) => void): () => void {
    this.closeListeners.add(l);
    return () => this.closeListeners.delete(l);
  }

  close(): void {
    this.bridge?.close();
    if (this.local) this.end(1000, 'bye');
  }
}
