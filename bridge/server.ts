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
  DEFAULT_BRIDGE_PORT,
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
  NONCE_PATTERN,
  authenticationInput,
  atRestInput,
  SALT_PATTERN,
  sha256,
  BUSY,
  JOURNAL_BLOCKED_MESSAGE,
  auditResetInput,
} from '../src/lib/card/protocol.js';
import { AuditLog, ORIGINS_FILE, OriginStore, PAIRINGS_FILE, PairingStore, defaultStateDir } from './state.js';
import { CardAbsentError, PcscTransport, SimulatedTransport, type CardTransport, type ReaderState, type Transmit } from './transport.js';
import { CardServiceError, type CardKind, type CardServices } from '../src/lib/card/services.js';
import { VirtualCardServices } from '../src/lib/card/virtual-services.js';
import { CardSessions } from '../src/lib/card/sessions.js';
import { loadSsv, type SsvDetection } from './services/ssv.js';

export const DEFAULT_PORT = DEFAULT_BRIDGE_PORT;
/**
 * The development origins (Vite dev server, preview, `npm start`): allowed only in development
 * mode (`teletrans bridge --dev`, TELETRANS_BRIDGE_DEV=1, `dev: true`) and only while no origin
 * is saved. Outside that mode an empty list allows no origin at all.
 */
export const DEV_ORIGINS: readonly string[] = [
  'http://localhost:5173',
  'http://127.0.0.1:5173',
  'http://localhost:4173',
  'http://127.0.0.1:4173',
  'http://localhost:3000',
  'http://127.0.0.1:3000',
];

/** How much an unauthenticated or busy peer may hold (defect: the bridge could be held open and filled). */
export interface BridgeLimits {
  /** Open WebSocket connections, all kinds; the next upgrade is refused (503). */
  maxConnections: number;
  /** Connections without a session yet (pairing or handshake in progress); the next is refused (503). */
  maxUnauthenticated: number;
  /** Requests of one session being served at once; more are answered `busy` at once. */
  maxInFlight: number;
  /** Frames of one connection received and not yet handled; more close it (4429). */
  maxQueuedFrames: number;
  /** Time an unauthenticated socket has to open its session (pair request or hello → proof). */
  handshakeTimeoutMs: number;
  /** Time the practitioner has to approve a pairing; the socket is closed after it (4408). */
  pairingTimeoutMs: number;
  /** Bytes queued towards a page that does not read; beyond, the connection is dropped. */
  maxBufferedBytes: number;
}

export const DEFAULT_LIMITS: Readonly<BridgeLimits> = {
  maxConnections: 16,
  maxUnauthenticated: 4,
  maxInFlight: 8,
  maxQueuedFrames: 16,
  handshakeTimeoutMs: 10_000,
  pairingTimeoutMs: 120_000,
  maxBufferedBytes: 1 << 20,
};
/** Time a peer has to answer our close frame before its socket is cut. */
const CLOSE_GRACE_MS = 2_000;
/** Fallback re-read of the state files, should the directory watch miss an event. */
const STATE_RECHECK_MS = 10_000;

/** Close codes of ended sessions (the reason travels with them, in English, for the logs). */
export const CLOSE_REVOKED = 4401;
export const CLOSE_ORIGIN_REMOVED = 4403;
/** Handshake or pairing approval not completed in time. */
export const CLOSE_TIMEOUT = 4408;
/** A frame while the pairing awaits the practitioner's approval, or a malformed one (protocol). */
export const CLOSE_PROTOCOL = 4400;
/** Too many frames queued by one connection. */
export const CLOSE_FLOOD = 4429;

/** Reason code of a request refused because its session has `maxInFlight` requests running (lib/card/protocol). */
export { BUSY };

/** Development mode from the environment: TELETRANS_BRIDGE_DEV=1. */
export function devModeFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.TELETRANS_BRIDGE_DEV === '1';
}

/**
 * The origins allowed to connect: an explicit list, else the administrator's list in the
 * state directory (allowed-origins.json), else — in development mode only — DEV_ORIGINS.
 * Otherwise none: an empty list allows no origin.
 */
/** How long the practitioner has to confirm a last PIN try; shorter than the page's wait for the answer. */
export const LAST_TRY_WAIT_MS = 45_000;
/** How recent the PIN must be for `journal.authorizeReset`: typed for the reset, not hours ago. */
export const RESET_PIN_FRESH_MS = 120_000;

export function effectiveOrigins(store: OriginStore, o: { explicit?: string[]; dev?: boolean } = {}): string[] {
  if (o.explicit) return o.explicit;
  const saved = store.list();
  if (saved.length) return saved;
  return o.dev ? [...DEV_ORIGINS] : [];
}

export interface PairingRequest {
  origin: string;
  /** The code the page shows too ("123 456"). */
  code: string;
  /** Aborted when the request is over without an answer (timeout, the page left): stop asking. */
  signal?: AbortSignal;
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
   * allowed-origins.json of the state directory at every connection; when that list is empty
   * no origin is allowed, unless `dev`.
   */
  allowedOrigins?: string[];
  /**
   * Development mode: DEV_ORIGINS are allowed while no origin is saved, and the raw `apdu`
   * method (diagnostics, the benchmark) is served. Default false.
   */
  dev?: boolean;
  /** Bounds on connections, frames and requests; each defaults to DEFAULT_LIMITS. */
  limits?: Partial<BridgeLimits>;
  /**
   * Asked for every pairing request; resolve true to approve. The CLI asks on its terminal;
   * tests pass a hook. Without one, every pairing is refused.
   */
  approve?: (req: PairingRequest) => Promise<boolean>;
  /**
   * Asked when a PIN typed in a page would be the card's last try (docs/adr/0017): resolve
   * true only on the practitioner's word, where the page cannot answer for them (the CLI asks
   * on its terminal). Without one, or no answer within `LAST_TRY_WAIT_MS`, it is refused
   * (`pin_last_try`); a PIN typed on a pad is the practitioner's own and needs no question.
   */
  confirmLastPinTry?: (req: { origin: string; reader: string; signal: AbortSignal }) => Promise<boolean>;
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
  /** What peers hold right now (each bounded by `limits`). */
  stats(): BridgeStats;
  readonly limits: Readonly<BridgeLimits>;
  close(): Promise<void>;
}

export interface BridgeStats {
  connections: number;
  unauthenticated: number;
  /** The largest count of frames queued by one connection. */
  maxQueuedFrames: number;
  /** The largest count of requests in flight on one connection. */
  maxInFlight: number;
  pairingPending: boolean;
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
  /** The handshake (or pairing approval) deadline of a socket without a session. */
  deadline?: ReturnType<typeof setTimeout>;
  /** Set while this connection's pairing awaits the practitioner: any frame closes it. */
  awaitingApproval?: boolean;
  /** Frames received and not yet handled (bounded by maxQueuedFrames). */
  queued: number;
  /** Requests being served (bounded by maxInFlight). */
  inFlight: number;
  /** Set once the bridge closes the connection: later frames are dropped unread. */
  closing?: boolean;
  /** Called when the bridge starts closing the connection (a pending approval gives up at once). */
  onClosing?: () => void;
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
  const limits: BridgeLimits = { ...DEFAULT_LIMITS, ...o.limits };
  const allowedNow = (): Set<string> => {
    try {
      return new Set(effectiveOrigins(origins, { explicit: o.allowedOrigins, dev: o.dev }));
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
  /** Who may have the CPS sign or authenticate: the bridge's own account (services/card-session.ts). */
  const cardSessions = new CardSessions<Conn>(transport, log);
  /** Pairings (key ids) whose page reported its audit journal blocked, with the problem it named. */
  const journalBlocked = new Map<string, string>();
  /** When each session last verified the PIN: a journal reset wants it fresh. */
  const pinVerifiedAt = new WeakMap<Conn, number>();
  /** Per reader, the ids of the card's certificates (audit of signatures); dropped with the card. */
  const certIds = new Map<string, { auth: string; sign?: string }>();
  const auditResets = (c: Conn, readers: string[], why: string): void => {
    for (const reader of readers) audit.write({ event: 'card', origin: c.origin, keyId: c.keyId, reader, outcome: 'reset', detail: why });
  };

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
    // Another card (or the same, powered up again): no PIN verified on it by anybody.
    cardSessions.cardGone(r.name);
    certIds.delete(r.name);
    log(`carte insérée : ${r.name}`);
    broadcast('inserted', readerView(r));
  });
  transport.on('removed', (name: string) => {
    cardSessions.cardGone(name);
    certIds.delete(name);
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
      if (c.ws.readyState !== c.ws.OPEN) return;
      c.ws.send(frame);
      // A page that does not read its frames (events, answers) is not buffered for without end.
      if (c.ws.bufferedAmount > limits.maxBufferedBytes) {
        audit.write({ event: 'connection', origin: c.origin, keyId: c.keyId, outcome: 'dropped', detail: 'not reading' });
        c.closing = true;
        c.ws.terminate();
      }
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
    closeConn(c, code, reason);
  }

  /**
   * Closes from the bridge's side: later frames are dropped unread, and a peer that does not
   * answer the close handshake is cut off after CLOSE_GRACE_MS.
   */
  function closeConn(c: Conn, code: number, reason: string): void {
    c.closing = true;
    c.awaitingApproval = false;
    if (c.deadline) clearTimeout(c.deadline);
    c.onClosing?.();
    try {
      c.ws.close(code, reason);
      setTimeout(() => c.ws.terminate(), CLOSE_GRACE_MS).unref();
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
    if (c.closing) return;
    audit.write({ event, origin: c.origin, keyId: c.keyId, outcome: 'refused', detail: reason });
    closeConn(c, code, reason);
  }

  async function onHandshake(c: Conn, m: Record<string, unknown>, state: { eph?: Awaited<ReturnType<typeof ephemeral>>; t?: Uint8Array; key?: CryptoKey; z?: CryptoKey }): Promise<void> {
    if (m.t === 'pair' && !state.eph) {
      if (pairingPending) return fail(c, CLOSE_FLOOD, 'pairing already pending', 'pairing');
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
      // From here the practitioner's approval is awaited: the handshake deadline gives way to the
      // approval's, and the page has nothing to send (any frame closes the connection).
      if (c.deadline) clearTimeout(c.deadline);
      c.awaitingApproval = true;
      const asking = new AbortController();
      let timedOut = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let ok = false;
      try {
        const timeout = new Promise<boolean>((r) => {
          timer = setTimeout(() => {
            timedOut = true;
            r(false);
          }, limits.pairingTimeoutMs);
          timer.unref();
        });
        const closed = new Promise<boolean>((r) => {
          c.ws.once('close', () => r(false));
          c.onClosing = () => r(false);
        });
        ok = o.approve ? await Promise.race([o.approve({ origin: c.origin, code, signal: asking.signal }), timeout, closed]) : false;
      } catch {
        ok = false;
      } finally {
        clearTimeout(timer);
        c.onClosing = undefined;
        pairingPending = false;
        c.awaitingApproval = false;
        asking.abort();
      }
      if (timedOut) return fail(c, CLOSE_TIMEOUT, 'pairing timeout', 'pairing');
      if (!ok || c.closing || c.ws.readyState !== c.ws.OPEN) return fail(c, 4403, 'pairing refused', 'pairing');
      const key = await pairingKeyBytes(z, t);
      const p = pairings.add(c.origin, key);
      key.fill(0);
      audit.write({ event: 'pairing', origin: c.origin, keyId: p.keyId, outcome: 'approved' });
      c.ws.send(JSON.stringify({ t: 'paired', keyId: p.keyId }));
      closeConn(c, 1000, 'paired');
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
      if (c.deadline) clearTimeout(c.deadline);
      pairings.touch(c.keyId!);
      audit.write({ event: 'session', origin: c.origin, keyId: c.keyId, outcome: 'opened' });
      armIdle(c);
      await sendSecure(c, { ev: 'ready', d: { readers: transport.readers().map(readerView), ssv: ssvLoad.detection.reason } });
      return;
    }
    return fail(c, 4400, 'unexpected handshake message', 'session');
  }

  /** Answers a request over the session's in-flight cap with the `busy` reason code, unserved. */
  async function refuseBusy(c: Conn, plain: Uint8Array): Promise<void> {
    let id: unknown = null;
    try {
      const m = asObj(decodeMessage(plain).msg);
      id = typeof m.id === 'number' || typeof m.id === 'string' ? m.id : null;
    } catch {
      /* undecodable: answered without id */
    } finally {
      plain.fill(0);
    }
    await sendSecure(c, { id, ok: false, err: { code: BUSY, message: `pont occupé : déjà ${limits.maxInFlight} requêtes en cours sur cette connexion, réessayez` } });
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

  /**
   * Runs a signature or an authentication for session `c`, only if it holds the PIN verified on
   * that card (checked in the reader's queue, right before the command); audited either way with
   * the origin, reader, certificate id of the key and outcome (EL1, SA2). Neither PIN nor digest
   * is logged.
   */
  async function withSession(
    c: Conn,
    r: { name: string; kind: CardKind; s: CardServices },
    event: 'signature' | 'authentication' | 'key_derivation',
    op: (tx: Transmit) => Promise<Uint8Array>,
  ): Promise<Uint8Array> {
    let cert: string | undefined;
    try {
      const sig = await transport.withCard(r.name, async (tx) => {
        cardSessions.require(c, r.name, r.kind);
        let ids = certIds.get(r.name);
        if (!ids) {
          const certs = await r.s.certificates(tx, r.kind);
          const id = async (der: Uint8Array): Promise<string> => b64u(await sha256(der));
          ids = { auth: await id(certs.auth), sign: certs.sign && (await id(certs.sign)) };
          certIds.set(r.name, ids);
        }
        cert = event === 'signature' ? ids.sign : ids.auth;
        return op(tx);
      });
      audit.write({ event, origin: c.origin, keyId: c.keyId, reader: r.name, cert, outcome: 'done', detail: r.kind });
      return sig;
    } catch (e) {
      const code = e instanceof CardServiceError ? e.code : e instanceof CardAbsentError ? 'card_absent' : 'error';
      const byBridge = cert === undefined && (code === 'pin_required' || code === 'session_locked' || code === 'bad_request');
      audit.write({ event, origin: c.origin, keyId: c.keyId, reader: r.name, cert, outcome: byBridge ? 'refused' : 'failed', detail: code });
      // The card itself says its PIN is not verified: nobody holds it any more.
      if (code === 'pin_required' && !byBridge) cardSessions.pinLost(r.name);
      throw e;
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
    // A locked session reads nothing from the cards (issue 24 defect 5): the identity, the
    // beneficiaries and the certificates wait for the PIN typed again in this session.
    const unlocked = (): void => {
      if (cardSessions.isLocked(c)) throw new CardServiceError('session_locked', 'session verrouillée : saisissez de nouveau le code porteur');
    };
    const digest = (): Uint8Array => {
      const b = unb64u(str(p.digest, 64));
      if (b.length !== 32) throw new CardServiceError('bad_request', 'empreinte SHA-256 attendue');
      return b;
    };
    // A page whose journal is blocked gets no card service (issue 24 defect 4): only the readers'
    // list, its lock, and its next report. Kept per pairing: a reconnection does not clear it.
    const pairing = c.keyId ?? '';
    // The administrator's reset of the journal needs the CPS and its PIN: those two only.
    const forReset = method === 'cps.verifyPin' || method === 'journal.authorizeReset';
    if (journalBlocked.has(pairing) && method !== 'readers' && method !== 'session.lock' && method !== 'journal.report' && !forReset) {
      throw new CardServiceError('journal_blocked', JOURNAL_BLOCKED_MESSAGE);
    }
    switch (method) {
      case 'readers':
        return transport.readers().map(readerView);
      case 'journal.report': {
        const state = str(p.state, 16);
        if (state === 'intact') {
          if (journalBlocked.delete(pairing)) audit.write({ event: 'journal', origin: c.origin, keyId: c.keyId, outcome: 'intact' });
          return { blocked: false };
        }
        const problem = str(p.problem, 40);
        if (state !== 'blocked' || !/^[a-z_]{1,40}$/.test(problem)) throw new CardServiceError('bad_request', 'état du journal invalide');
        if (!journalBlocked.has(pairing)) audit.write({ event: 'journal', origin: c.origin, keyId: c.keyId, outcome: 'blocked', detail: problem });
        journalBlocked.set(pairing, problem);
        // Nothing stays open for a blocked page: its card session locks (the PIN is no longer held).
        pinVerifiedAt.delete(c);
        auditResets(c, await cardSessions.lock(c), 'journal blocked');
        return { blocked: true };
      }
      case 'cps.read': {
        unlocked();
        const r = reader();
        return transport.withCard(r.name, (tx) => r.s.readCps(tx));
      }
      case 'vitale.read': {
        unlocked();
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
        const epoch = cardSessions.epoch(c);
        try {
          if (!onPad) {
            // The last try is never spent on a page's word alone (issue 24 defect 5).
            const st = await transport.withCard(r.name, (tx) => r.s.pinStatus(tx));
            if (!st.verified && !st.blocked && st.triesLeft === 1) {
              const asking = new AbortController();
              const timer = setTimeout(() => asking.abort(), LAST_TRY_WAIT_MS);
              let ok = false;
              try {
                ok = o.confirmLastPinTry
                  ? await Promise.race([o.confirmLastPinTry({ origin: c.origin, reader: r.name, signal: asking.signal }).catch(() => false),
                    new Promise<false>((res) => asking.signal.addEventListener('abort', () => res(false), { once: true }))])
                  : false;
              } finally {
                clearTimeout(timer);
                asking.abort();
              }
              audit.write({ event: 'pin', origin: c.origin, keyId: c.keyId, reader: r.name, outcome: ok ? 'last_try_confirmed' : 'last_try_refused', detail: entry });
              if (!ok) {
                throw new CardServiceError('pin_last_try',
                  'Il ne reste qu’un essai au code porteur de cette carte : il n’a pas été tenté. Saisissez-le sur le clavier du lecteur, ou confirmez-le dans la fenêtre du pont Teletrans sur ce poste ; sinon faites débloquer la carte.');
              }
            }
          }
          const res = await transport.withCard(r.name, (tx, pad) => {
            if (!onPad) return r.s.verifyPin(tx, attachment);
            if (!pad) throw new CardServiceError('bad_request', 'code porteur attendu : ce lecteur n’a pas de clavier');
            return r.s.verifyPinOnPad(tx, pad);
          });
          audit.write({ event: 'pin', origin: c.origin, keyId: c.keyId, reader: r.name, outcome: res.ok ? 'verified' : res.blocked ? 'blocked' : 'wrong', detail: entry });
          // The session now holds this card's PIN; a wrong or blocked PIN clears the card's state for all.
          if (res.ok) {
            await cardSessions.verified(c, r.name, epoch);
            pinVerifiedAt.set(c, Date.now());
          }
          else cardSessions.pinLost(r.name);
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
        if (r.kind !== 'CPS') throw new CardServiceError('bad_request', 'pas une CPS');
        const d = digest();
        const sig = await withSession(c, r, 'signature', (tx) => r.s.sign(tx, d));
        return { signature: b64u(sig) };
      }
      case 'card.authenticate': {
        // The page gives the relay's nonce; the bridge binds it to the origin it paired with.
        if (p.digest !== undefined) throw new CardServiceError('bad_request', 'empreinte refusée : donnez le nonce du relais');
        const nonce = str(p.nonce, 128);
        if (!NONCE_PATTERN.test(nonce)) throw new CardServiceError('bad_request', 'nonce invalide');
        const r = reader();
        const d = await sha256(await authenticationInput(c.origin, nonce));
        const sig = await withSession(c, r, 'authentication', (tx) => r.s.authenticate(tx, r.kind, d));
        return { signature: b64u(sig), algorithm: 'RS256' };
      }
      case 'card.deriveKey': {
        // The key that opens the page's invoices at rest (ADR 0014): the CPS's authentication
        // key over an input bound to the paired origin and the workstation's salt, one that
        // card.authenticate never signs. The CPS only: a Vitale is the patient's.
        const salt = str(p.salt, 86);
        if (!SALT_PATTERN.test(salt)) throw new CardServiceError('bad_request', 'sel invalide');
        const r = reader();
        if (r.kind !== 'CPS') throw new CardServiceError('bad_request', 'pas une CPS');
        const d = await sha256(await atRestInput(c.origin, unb64u(salt)));
        const sig = await withSession(c, r, 'key_derivation', (tx) => r.s.authenticate(tx, r.kind, d));
        return { secret: b64u(sig) };
      }
      case 'journal.authorizeReset': {
        // The administrator's authorization to reset this page's journal (issue 24 defect 3): a
        // PIN verified in this session within the last minutes, then the authentication key over
        // an input bound to the paired origin and the journal; with the certificate that checks it.
        const journal = str(p.journal, 36);
        // A journal's UUID, or `none` for one whose key check is gone (trust/service/audit-log.ts).
        if (journal !== 'none' && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(journal)) throw new CardServiceError('bad_request', 'journal invalide');
        const r = reader();
        if (r.kind !== 'CPS') throw new CardServiceError('bad_request', 'pas une CPS');
        const at = pinVerifiedAt.get(c);
        if (at === undefined || Date.now() - at > RESET_PIN_FRESH_MS) {
          throw new CardServiceError('pin_required', 'saisissez le code porteur de la carte pour autoriser la réinitialisation');
        }
        const d = await sha256(await auditResetInput(c.origin, journal));
        const sig = await withSession(c, r, 'authentication', (tx) => r.s.authenticate(tx, r.kind, d));
        const certs = await transport.withCard(r.name, (tx) => r.s.certificates(tx, r.kind));
        audit.write({ event: 'journal', origin: c.origin, keyId: c.keyId, reader: r.name, outcome: 'reset_authorized' });
        return { signature: b64u(sig), certificate: b64u(certs.auth) };
      }
      case 'session.lock': {
        // The app locked (session-lock.ts): no signature until the PIN is verified again here.
        const reset = await cardSessions.lock(c);
        pinVerifiedAt.delete(c);
        audit.write({ event: 'session', origin: c.origin, keyId: c.keyId, outcome: 'locked' });
        auditResets(c, reset, 'locked');
        return { locked: true };
      }
      case 'card.certificates': {
        unlocked();
        const r = reader();
        const certs = await transport.withCard(r.name, (tx) => r.s.certificates(tx, r.kind));
        return { auth: b64u(certs.auth), sign: certs.sign && b64u(certs.sign), ca: certs.ca && b64u(certs.ca) };
      }
      case 'ssv.status':
        // The homologated engine's seam (src/lib/client/billing/bridge-ssv.ts): whether the
        // GIE's SSV library is loaded here. Never required: the page falls back to the simulator.
        return { available: ssvLoad.services !== null, reason: ssvLoad.detection.reason };
      case 'ssv.format':
      case 'ssv.sign':
      case 'ssv.lots':
      case 'ssv.files':
        // Served by the SSV library once its FFI load exists (services/ssv.ts); until then a
        // typed refusal that names why, so the page can say it and use the simulator.
        throw new CardServiceError('unsupported', ssvLoad.detection.reason);
      case 'apdu': {
        // Raw APDUs for diagnostics and the benchmark, in development mode only, limited to
        // commands that neither take a PIN nor use a key: SELECT, READ BINARY, and VERIFY
        // without data (tries counter). Never for a locked session.
        if (!o.dev) throw new CardServiceError('bad_request', 'méthode inconnue');
        unlocked();
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
    res.writeHead(hostAllowed(req.headers.host, port) ? 426 : 403, { 'content-type': 'text/plain', connection: 'close' }).end();
  });
  // A socket that never finishes its request headers is not kept; nor are more TCP connections
  // than twice the WebSocket cap (beyond the cap, upgrades are answered 503 below).
  http.headersTimeout = limits.handshakeTimeoutMs;
  http.requestTimeout = limits.handshakeTimeoutMs;
  http.maxConnections = 2 * limits.maxConnections;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });
  /** Upgrades accepted and not yet connected (counted against the caps). */
  let upgrading = 0;

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
    let unauthenticated = upgrading;
    for (const c of conns) if (!c.channel) unauthenticated++;
    if (conns.size + upgrading >= limits.maxConnections || unauthenticated >= limits.maxUnauthenticated) {
      audit.write({ event: 'connection', origin, outcome: 'refused', detail: conns.size + upgrading >= limits.maxConnections ? 'too many connections' : 'too many unauthenticated connections' });
      return refuse(socket, 503, 'Service Unavailable');
    }
    upgrading++;
    let counted = true;
    const settle = (): void => {
      if (counted) upgrading--;
      counted = false;
    };
    // An upgrade ws refuses (bad headers) never calls back: its socket closing settles the count.
    socket.once('close', settle);
    wss.handleUpgrade(req, socket, head, (ws) => {
      settle();
      onConnection(ws, origin);
    });
  });

  const idleMs = o.idleTimeoutMs ?? 30 * 60_000;
  function armIdle(c: Conn): void {
    if (c.idle) clearTimeout(c.idle);
    c.idle = setTimeout(() => {
      audit.write({ event: 'session', origin: c.origin, keyId: c.keyId, outcome: 'expired' });
      closeConn(c, CLOSE_TIMEOUT, 'idle');
    }, idleMs);
    c.idle.unref();
  }

  function onConnection(ws: WebSocket, origin: string): void {
    const c: Conn = { ws, origin, queue: Promise.resolve(), sendQueue: Promise.resolve(), queued: 0, inFlight: 0 };
    conns.add(c);
    const state = {};
    // Every socket without a session has its own deadline (a pending pairing elsewhere keeps
    // nobody open); the pairing request replaces it with the approval's (onHandshake).
    c.deadline = setTimeout(() => {
      if (!c.channel && !c.awaitingApproval) fail(c, CLOSE_TIMEOUT, 'handshake timeout', 'session');
    }, limits.handshakeTimeoutMs);
    c.deadline.unref();
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (c.deadline) clearTimeout(c.deadline);
      if (c.idle) clearTimeout(c.idle);
      conns.delete(c);
      if (c.channel) audit.write({ event: 'session', origin, keyId: c.keyId, outcome: 'closed' });
      // The page went away: its PIN goes with it (the card is reset unless another session holds it).
      void cardSessions.end(c).then((reset) => auditResets(c, reset, 'closed'));
    });
    let refusedAfterEnd = false;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (c.ended || c.closing) {
        // Refused unread; logged once per connection (a flood must not fill the log).
        if (Buffer.isBuffer(data)) data.fill(0);
        if (c.ended && !refusedAfterEnd) audit.write({ event: 'frame', origin, keyId: c.keyId, outcome: 'refused', detail: 'session ended' });
        refusedAfterEnd ||= c.ended === true;
        return;
      }
      // While the pairing awaits approval the page has nothing to say: nothing is queued.
      if (c.awaitingApproval) return fail(c, CLOSE_PROTOCOL, 'frame during pairing', 'pairing');
      if (c.queued >= limits.maxQueuedFrames) return fail(c, CLOSE_FLOOD, 'too many frames', 'frame');
      c.queued++;
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      c.queue = c.queue.then(async () => {
        c.queued--;
        if (c.closing || ws.readyState !== ws.OPEN) {
          bytes.fill(0);
          return;
        }
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
          if (c.inFlight >= limits.maxInFlight) return void refuseBusy(c, plain);
          // Requests run concurrently with later frames (per-reader serialisation is below).
          c.inFlight++;
          void onRequest(c, plain).finally(() => c.inFlight--);
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
    limits,
    stats(): BridgeStats {
      let unauthenticated = 0;
      let queued = 0;
      let inFlight = 0;
      for (const c of conns) {
        if (!c.channel) unauthenticated++;
        queued = Math.max(queued, c.queued);
        inFlight = Math.max(inFlight, c.inFlight);
      }
      return { connections: conns.size, unauthenticated, maxQueuedFrames: queued, maxInFlight: inFlight, pairingPending };
    },
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
      // Reset the cards whose PIN a session held before letting go of the readers.
      await Promise.all([...conns].map(async (c) => auditResets(c, await cardSessions.end(c), 'bridge stopped')));
      await cardSessions.endAll();
      wss.close();
      await new Promise<void>((r) => http.close(() => r()));
      if (!o.transport) await transport.close();
      audit.write({ event: 'bridge', outcome: 'stopped' });
    },
  };
}
