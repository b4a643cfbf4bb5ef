/**
 * The bridge: readers (PC/SC or simulated), card services, and the paired, encrypted
 * WebSocket channel on 127.0.0.1. See ./README.md for the flows it allows (C1).
 *
 * Order of checks on every connection, before any work: the HTTP request must carry a Host
 * naming this loopback listener (DNS rebinding refused), an Origin from the allowed list
 * (foreign origins refused), and be a WebSocket upgrade. Then the only things an unpaired
 * origin can do is ask to be paired; everything else needs a session (mutual proof of the
 * pairing key, fresh ECDH keys), after which every frame is AES-256-GCM with strict counters.
 */
import { watch, type FSWatcher } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import {
  MAX_FRAME,
  SecureChannel,
  b64u,
  checkProof,
  decodeMessage,
  encodeMessage,
  ephemeral,
  importPairingKey,
  pairingCode,
  pairingKeyBytes,
  proof,
  randomBytes,
  sharedSecret,
  transcript,
  unb64u,
  FrameError,
} from '../src/lib/client/card/protocol.js';
import { AuditLog, ORIGINS_FILE, OriginStore, PAIRINGS_FILE, PairingStore, defaultStateDir } from './state.js';
import { CardAbsentError, PcscTransport, SimulatedTransport, type CardTransport, type ReaderState } from './transport.js';
import { CardServiceError, type CardKind, type CardServices } from './services/adapter.js';
import { VirtualCardServices } from './services/virtual.js';
import { loadSsv, type SsvDetection } from './services/ssv.js';

export const DEFAULT_PORT = 7523;
export const DEFAULT_ORIGINS = [
  'http://localhost:5173',
  'http://127.0.0.1:5173',
  'http://localhost:4173',
  'http://127.0.0.1:4173',
  'http://localhost:3000',
  'http://127.0.0.1:3000',
];
const PAIRING_TIMEOUT_MS = 120_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Fallback re-read of the state files, should the directory watch miss an event. */
const STATE_RECHECK_MS = 10_000;

/** Close codes of ended sessions (the reason travels with them, in English, for the logs). */
export const CLOSE_REVOKED = 4401;
export const CLOSE_ORIGIN_REMOVED = 4403;

/**
 * The origins allowed to connect: an explicit list, else the administrator's list in the
 * state directory (allowed-origins.json), else the development defaults.
 */
export function effectiveOrigins(store: OriginStore, explicit?: string[]): string[] {
  if (explicit) return explicit;
  const saved = store.list();
  return saved.length ? saved : DEFAULT_ORIGINS;
}

export interface PairingRequest {
  origin: string;
  /** The code the page shows too ("123 456"). */
  code: string;
}

export interface BridgeOptions {
  port?: number;
  /** Use in-process virtual cards instead of PC/SC. */
  simulated?: boolean;
  /** An existing transport (tests); overrides `simulated`. */
  transport?: CardTransport;
  stateDir?: string;
  /**
   * Origins allowed to connect, fixed for this run (tests). Without it the bridge reads
   * allowed-origins.json of the state directory at every connection (DEFAULT_ORIGINS when empty).
   */
  allowedOrigins?: string[];
  /**
   * Asked for every pairing request; resolve true to approve. The CLI asks on its terminal;
   * tests pass a hook. Without one, every pairing is refused.
   */
  approve?: (req: PairingRequest) => Promise<boolean>;
  /** Services used for cards (default: the SSV library when loadable, then the virtual cards). */
  services?: CardServices[];
  log?: (line: string) => void;
  /** A session without any request for this long is closed (SA4); default 30 minutes. */
  idleTimeoutMs?: number;
}

export interface Bridge {
  port: number;
  url: string;
  transport: CardTransport;
  pairings: PairingStore;
  origins: OriginStore;
  audit: AuditLog;
  ssv: SsvDetection;
  /** Revokes a pairing (keyId or origin) and closes its live sessions at once. */
  revoke(keyIdOrOrigin: string): number;
  close(): Promise<void>;
}

interface Conn {
  ws: WebSocket;
  origin: string;
  keyId?: string;
  channel?: SecureChannel;
  queue: Promise<void>;
  sendQueue: Promise<void>;
  idle?: ReturnType<typeof setTimeout>;
  /** Set when the bridge ends the session (revoked, origin removed): nothing more is served. */
  ended?: boolean;
}

function hostAllowed(host: string | undefined, port: number): boolean {
  if (!host) return false;
  return host === `127.0.0.1:${port}` || host === `localhost:${port}` || host === `[::1]:${port}`;
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

const asObj = (m: unknown): Record<string, unknown> => (m && typeof m === 'object' && !Array.isArray(m) ? (m as Record<string, unknown>) : {});
const str = (v: unknown, max = 256): string => {
  if (typeof v !== 'string' || v.length > max) throw new CardServiceError('bad_request', 'paramètre invalide');
  return v;
};

export async function startBridge(o: BridgeOptions = {}): Promise<Bridge> {
  const log = o.log ?? (() => undefined);
  const stateDir = o.stateDir ?? defaultStateDir();
  const pairings = new PairingStore(stateDir);
  const origins = new OriginStore(stateDir);
  const audit = new AuditLog(stateDir);
  const allowedNow = (): Set<string> => {
    try {
      return new Set(effectiveOrigins(origins, o.allowedOrigins));
    } catch (e) {
      // An unreadable list allows nobody rather than the defaults.
      log(`origines autorisées illisibles : ${(e as Error).message}`);
      return new Set();
    }
  };
  const ssvLoad = loadSsv();
  const services: CardServices[] = o.services ?? [...(ssvLoad.services ? [ssvLoad.services] : []), new VirtualCardServices()];
  const transport: CardTransport = o.transport ?? (o.simulated ? new SimulatedTransport() : new PcscTransport());
  const conns = new Set<Conn>();
  let pairingPending = false;

  transport.on('error', (e: Error) => log(`lecteurs : ${e.message}`));

  const cardKind = (atr: Uint8Array | undefined): { kind: CardKind | null; services: CardServices | null } => {
    for (const s of services) {
      const kind = s.identify(atr);
      if (kind) return { kind, services: s };
    }
    return { kind: null, services: null };
  };
  const readerView = (r: ReaderState): { name: string; present: boolean; cardType: CardKind | null; pinPad?: boolean } => ({
    name: r.name,
    present: r.present,
    cardType: r.present ? cardKind(r.atr).kind : null,
    pinPad: r.pinPad,
  });

  const broadcast = (ev: string, d: unknown): void => {
    for (const c of conns) if (c.channel) void sendSecure(c, { ev, d });
  };
  transport.on('inserted', (r: ReaderState) => {
    log(`carte insérée : ${r.name}`);
    broadcast('inserted', readerView(r));
  });
  transport.on('removed', (name: string) => {
    log(`carte retirée : ${name}`);
    broadcast('removed', { name });
  });
  transport.on('reader', (name: string) => broadcast('reader', { name }));
  transport.on('reader-removed', (name: string) => broadcast('reader-removed', { name }));

  async function sendSecure(c: Conn, msg: unknown): Promise<void> {
    const ch = c.channel;
    if (!ch) return;
    // One frame at a time: frames leave in counter order.
    c.sendQueue = c.sendQueue.then(async () => {
      const frame = await ch.seal(encodeMessage(msg));
      if (c.ws.readyState === c.ws.OPEN) c.ws.send(frame);
    }).catch(() => undefined);
    return c.sendQueue;
  }

  /** Ends a session from the bridge's side, logged, and refuses whatever the page still sends. */
  function endSession(c: Conn, code: number, reason: string, outcome: string): void {
    if (c.ended) return;
    c.ended = true;
    if (c.idle) clearTimeout(c.idle);
    audit.write({ event: 'session', origin: c.origin, keyId: c.keyId, outcome, detail: reason });
    log(`session fermée (${reason}) : ${c.origin}`);
    try {
      c.ws.close(code, reason);
    } catch {
      c.ws.terminate();
    }
  }

  /**
   * Re-reads the pairings and the allowed origins and ends every session that lost either:
   * `teletrans bridge revoke` and `teletrans bridge origins remove` run in another process.
   */
  function enforceState(): void {
    let live: Set<string>;
    try {
      pairings.reload();
      live = new Set(pairings.list().map((p) => p.keyId));
    } catch (e) {
      // Unreadable pairings: no key can be trusted any more (fail closed).
      log(`appairages illisibles : ${(e as Error).message}`);
      live = new Set();
    }
    const allowed = allowedNow();
    for (const c of conns) {
      if (!allowed.has(c.origin)) endSession(c, CLOSE_ORIGIN_REMOVED, 'origin no longer allowed', 'origin-removed');
      else if (c.keyId && !live.has(c.keyId)) endSession(c, CLOSE_REVOKED, 'pairing revoked', 'revoked');
    }
  }

  function fail(c: Conn, code: number, reason: string, event: string): void {
    audit.write({ event, origin: c.origin, keyId: c.keyId, outcome: 'refused', detail: reason });
    try {
      c.ws.close(code, reason);
    } catch {
      c.ws.terminate();
    }
  }

  async function onHandshake(c: Conn, m: Record<string, unknown>, state: { eph?: Awaited<ReturnType<typeof ephemeral>>; t?: Uint8Array; key?: CryptoKey; z?: CryptoKey }): Promise<void> {
    if (m.t === 'pair' && !state.eph) {
      if (pairingPending) return fail(c, 4429, 'pairing already pending', 'pairing');
      const pc = unb64u(str(m.pub, 100));
      const nc = unb64u(str(m.nonce, 100));
      if (nc.length !== 32) return fail(c, 4400, 'bad nonce', 'pairing');
      const eph = await ephemeral();
      const ns = randomBytes(32);
      const z = await sharedSecret(eph, pc);
      const t = await transcript('teletrans-bridge pairing', c.origin, pc, eph.pub, nc, ns);
      const code = await pairingCode(z, t);
      state.eph = eph;
      c.ws.send(JSON.stringify({ t: 'pair-code', pub: b64u(eph.pub), nonce: b64u(ns) }));
      audit.write({ event: 'pairing', origin: c.origin, outcome: 'requested' });
      pairingPending = true;
      let ok = false;
      try {
        const timeout = new Promise<boolean>((r) => setTimeout(() => r(false), PAIRING_TIMEOUT_MS).unref());
        const closed = new Promise<boolean>((r) => c.ws.once('close', () => r(false)));
        ok = o.approve ? await Promise.race([o.approve({ origin: c.origin, code }), timeout, closed]) : false;
      } catch {
        ok = false;
      } finally {
        pairingPending = false;
      }
      if (!ok || c.ws.readyState !== c.ws.OPEN) return fail(c, 4403, 'pairing refused', 'pairing');
      const key = await pairingKeyBytes(z, t);
      const p = pairings.add(c.origin, key);
      key.fill(0);
      audit.write({ event: 'pairing', origin: c.origin, keyId: p.keyId, outcome: 'approved' });
      c.ws.send(JSON.stringify({ t: 'paired', keyId: p.keyId }));
      c.ws.close(1000, 'paired');
      return;
    }
    if (m.t === 'hello' && !state.eph) {
      const keyId = str(m.keyId, 64);
      const raw = pairings.key(c.origin, keyId);
      if (!raw) return fail(c, 4401, 'not paired', 'session');
      c.keyId = keyId;
      state.key = await importPairingKey(raw);
      raw.fill(0);
      const pc = unb64u(str(m.pub, 100));
      const nc = unb64u(str(m.nonce, 100));
      if (nc.length !== 32) return fail(c, 4400, 'bad nonce', 'session');
      const eph = await ephemeral();
      const ns = randomBytes(32);
      state.eph = eph;
      state.z = await sharedSecret(eph, pc);
      state.t = await transcript('teletrans-bridge session', c.origin, pc, eph.pub, nc, ns);
      c.ws.send(JSON.stringify({ t: 'welcome', pub: b64u(eph.pub), nonce: b64u(ns), proof: b64u(await proof(state.key, 'server', state.t)) }));
      return;
    }
    if (m.t === 'proof' && state.key && state.t && state.z && !c.channel) {
      if (!(await checkProof(state.key, 'client', state.t, unb64u(str(m.proof, 100))))) return fail(c, 4401, 'bad proof', 'session');
      c.channel = await SecureChannel.create(state.z, state.t, 'server');
      pairings.touch(c.keyId!);
      audit.write({ event: 'session', origin: c.origin, keyId: c.keyId, outcome: 'opened' });
      armIdle(c);
      await sendSecure(c, { ev: 'ready', d: { readers: transport.readers().map(readerView), ssv: ssvLoad.detection.reason } });
      return;
    }
    return fail(c, 4400, 'unexpected handshake message', 'session');
  }

  async function onRequest(c: Conn, plain: Uint8Array): Promise<void> {
    let id: unknown = null;
    let attachment: Uint8Array | null = null;
    try {
      const d = decodeMessage(plain);
      attachment = d.attachment;
      const m = asObj(d.msg);
      id = typeof m.id === 'number' || typeof m.id === 'string' ? m.id : null;
      if (c.ended) throw new CardServiceError('bad_request', 'session fermée');
      const r = await dispatch(c, str(m.m, 64), asObj(m.p), attachment);
      await sendSecure(c, { id, ok: true, r });
    } catch (e) {
      const code = e instanceof CardServiceError ? e.code : e instanceof CardAbsentError ? 'card_absent' : 'error';
      const message = e instanceof CardServiceError || e instanceof CardAbsentError ? e.message : 'erreur interne';
      if (code === 'error') log(`requête en échec : ${(e as Error)?.message}`);
      await sendSecure(c, { id, ok: false, err: { code, message } });
    } finally {
      // The plaintext may hold a PIN (attachment): wipe it.
      plain.fill(0);
    }
  }

  async function dispatch(c: Conn, method: string, p: Record<string, unknown>, attachment: Uint8Array): Promise<unknown> {
    const reader = (): { name: string; kind: CardKind; s: CardServices; pinPad: boolean } => {
      const name = str(p.reader);
      const r = transport.readers().find((x) => x.name === name);
      if (!r) throw new CardServiceError('bad_request', 'lecteur inconnu');
      if (!r.present) throw new CardAbsentError(name);
      const { kind, services: s } = cardKind(r.atr);
      if (!kind || !s) throw new CardServiceError('unsupported', 'carte non reconnue');
      return { name, kind, s, pinPad: r.pinPad === true };
    };
    const digest = (): Uint8Array => {
      const b = unb64u(str(p.digest, 64));
      if (b.length !== 32) throw new CardServiceError('bad_request', 'empreinte SHA-256 attendue');
      return b;
    };
    switch (method) {
      case 'readers':
        return transport.readers().map(readerView);
      case 'cps.read': {
        const r = reader();
        return transport.withCard(r.name, (tx) => r.s.readCps(tx));
      }
      case 'vitale.read': {
        const r = reader();
        return transport.withCard(r.name, (tx) => r.s.readVitale(tx));
      }
      case 'cps.verifyPin': {
        // With the PIN as attachment: typed on the page. Without: typed on the reader's pad.
        const onPad = attachment.length === 0;
        const r = reader();
        if (r.kind !== 'CPS') throw new CardServiceError('bad_request', 'pas une CPS');
        if (onPad && !r.pinPad) throw new CardServiceError('bad_request', 'code porteur attendu : ce lecteur n’a pas de clavier');
        const entry = onPad ? 'pad' : 'typed';
        try {
          const res = await transport.withCard(r.name, (tx, pad) => {
            if (!onPad) return r.s.verifyPin(tx, attachment);
            if (!pad) throw new CardServiceError('bad_request', 'code porteur attendu : ce lecteur n’a pas de clavier');
            return r.s.verifyPinOnPad(tx, pad);
          });
          audit.write({ event: 'pin', origin: c.origin, keyId: c.keyId, reader: r.name, outcome: res.ok ? 'verified' : res.blocked ? 'blocked' : 'wrong', detail: entry });
          return res;
        } catch (e) {
          if (e instanceof CardServiceError && e.code.startsWith('pin_pad_')) {
            audit.write({ event: 'pin', origin: c.origin, keyId: c.keyId, reader: r.name, outcome: e.code.slice(4), detail: entry });
          }
          throw e;
        } finally {
          attachment.fill(0);
        }
      }
      case 'cps.sign': {
        const r = reader();
        const sig = await transport.withCard(r.name, (tx) => r.s.sign(tx, digest()));
        audit.write({ event: 'signature', origin: c.origin, keyId: c.keyId, reader: r.name, outcome: 'done' });
        return { signature: b64u(sig) };
      }
      case 'card.authenticate': {
        const r = reader();
        return { signature: b64u(await transport.withCard(r.name, (tx) => r.s.authenticate(tx, r.kind, digest()))) };
      }
      case 'card.certificates': {
        const r = reader();
        const certs = await transport.withCard(r.name, (tx) => r.s.certificates(tx, r.kind));
        return { auth: b64u(certs.auth), sign: certs.sign && b64u(certs.sign), ca: certs.ca && b64u(certs.ca) };
      }
      case 'apdu': {
        // Raw APDUs for diagnostics and the benchmark, limited to commands that neither take a
        // PIN nor use a key: SELECT, READ BINARY, and VERIFY without data (tries counter).
        const name = str(p.reader);
        const apdu = unb64u(str(p.apdu, 400));
        const ins = apdu[1];
        const ok = apdu.length >= 4 && apdu[0] === 0x00 && (ins === 0xa4 || ins === 0xb0 || (ins === 0x20 && apdu.length === 4));
        if (!ok) throw new CardServiceError('bad_request', 'commande non autorisée');
        return { response: b64u(await transport.withCard(name, (tx) => tx(apdu))) };
      }
      default:
        throw new CardServiceError('bad_request', 'méthode inconnue');
    }
  }

  const http: Server = createServer((req, res) => {
    // No HTTP API: only the WebSocket upgrade.
    res.writeHead(hostAllowed(req.headers.host, port) ? 426 : 403, { 'content-type': 'text/plain' }).end();
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const origin = req.headers.origin;
    if (!hostAllowed(req.headers.host, port)) {
      audit.write({ event: 'connection', origin, outcome: 'refused', detail: 'host' });
      return refuse(socket, 403, 'Forbidden');
    }
    if (!origin || !allowedNow().has(origin)) {
      audit.write({ event: 'connection', origin, outcome: 'refused', detail: 'origin' });
      return refuse(socket, 403, 'Forbidden');
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, origin));
  });

  const idleMs = o.idleTimeoutMs ?? 30 * 60_000;
  function armIdle(c: Conn): void {
    if (c.idle) clearTimeout(c.idle);
    c.idle = setTimeout(() => {
      audit.write({ event: 'session', origin: c.origin, keyId: c.keyId, outcome: 'expired' });
      c.ws.close(4408, 'idle');
    }, idleMs);
    c.idle.unref();
  }

  function onConnection(ws: WebSocket, origin: string): void {
    const c: Conn = { ws, origin, queue: Promise.resolve(), sendQueue: Promise.resolve() };
    conns.add(c);
    const state = {};
    const hsTimer = setTimeout(() => {
      if (!c.channel && !pairingPending) fail(c, 4408, 'handshake timeout', 'session');
    }, HANDSHAKE_TIMEOUT_MS);
    ws.on('error', () => undefined);
    ws.on('close', () => {
      clearTimeout(hsTimer);
      if (c.idle) clearTimeout(c.idle);
      conns.delete(c);
      if (c.channel) audit.write({ event: 'session', origin, keyId: c.keyId, outcome: 'closed' });
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      c.queue = c.queue.then(async () => {
        if (c.ended) {
          bytes.fill(0);
          audit.write({ event: 'frame', origin, keyId: c.keyId, outcome: 'refused', detail: 'session ended' });
          return;
        }
        if (ws.readyState !== ws.OPEN) return;
        try {
          if (!c.channel) {
            if (isBinary) return fail(c, 4400, 'binary before session', 'session');
            let m: unknown;
            try {
              m = JSON.parse(bytes.toString('utf8'));
            } catch {
              return fail(c, 4400, 'malformed handshake', 'session');
            }
            await onHandshake(c, asObj(m), state);
            return;
          }
          if (!isBinary) return fail(c, 4400, 'text frame in session', 'frame');
          let plain: Uint8Array;
          try {
            plain = await c.channel.open(new Uint8Array(bytes));
          } catch (e) {
            return fail(c, 4400, e instanceof FrameError ? e.message : 'bad frame', 'frame');
          }
          armIdle(c);
          // Requests run concurrently with later frames (per-reader serialisation is below).
          void onRequest(c, plain);
        } catch (e) {
          fail(c, 4400, e instanceof CardServiceError ? e.message : 'malformed message', 'session');
        }
      });
    });
  }

  let port = o.port ?? DEFAULT_PORT;
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', () => {
      http.off('error', reject);
      resolve();
    });
  });
  port = (http.address() as { port: number }).port;
  audit.write({ event: 'bridge', outcome: 'started', detail: `${transport.kind} port ${port}` });

  // Revocations and origin removals made by the CLI (another process) end sessions at once;
  // a slow re-check backs the watch up where the file system drops its events.
  let watcher: FSWatcher | null = null;
  let enforceTimer: ReturnType<typeof setTimeout> | null = null;
  const recheck = setInterval(enforceState, STATE_RECHECK_MS);
  recheck.unref();
  try {
    watcher = watch(stateDir, (_event, file) => {
      if (file !== null && file !== PAIRINGS_FILE && file !== ORIGINS_FILE) return;
      // Coalesce the bursts of events one rename makes.
      enforceTimer ??= setTimeout(() => {
        enforceTimer = null;
        enforceState();
      }, 20);
    });
    watcher.on('error', (e) => log(`surveillance de ${stateDir} : ${e.message}`));
  } catch (e) {
    log(`surveillance de ${stateDir} impossible (${(e as Error).message}) : révocations vérifiées toutes les ${STATE_RECHECK_MS / 1000} s`);
  }

  return {
    port,
    url: `ws://127.0.0.1:${port}/`,
    transport,
    pairings,
    origins,
    audit,
    ssv: ssvLoad.detection,
    revoke(x: string): number {
      const gone = pairings.revoke(x);
      for (const g of gone) {
        audit.write({ event: 'pairing', origin: g.origin, keyId: g.keyId, outcome: 'revoked' });
        for (const c of conns) if (c.keyId === g.keyId) endSession(c, CLOSE_REVOKED, 'pairing revoked', 'revoked');
      }
      return gone.length;
    },
    async close() {
      watcher?.close();
      clearInterval(recheck);
      if (enforceTimer) clearTimeout(enforceTimer);
      for (const c of conns) c.ws.terminate();
      wss.close();
      await new Promise<void>((r) => http.close(() => r()));
      if (!o.transport) await transport.close();
      audit.write({ event: 'bridge', outcome: 'stopped' });
    },
  };
}
