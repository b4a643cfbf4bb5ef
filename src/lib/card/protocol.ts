/**
 * The bridge channel's protocol, shared by the browser (src/lib/client/card/) and the bridge
 * (bridge/): a core module (docs/ARCHITECTURE.md: lib/card) that both import; WebCrypto only, so it
 * runs unchanged in both.
 *
 * Pairing (once per web origin, approved on the machine):
 *   C → S  {t:"pair", pub: Pc, nonce: Nc}           ephemeral ECDH P-256 keys
 *   S → C  {t:"pair-code", pub: Ps, nonce: Ns}       both sides show code = HKDF(Z, T, "code") as 6 digits
 *   S → C  {t:"paired", keyId}                       after the practitioner approves on the machine
 *   pairing key K = HKDF-SHA-256(Z, salt = T, info "teletrans-bridge pairing key"), 32 bytes,
 *   T = SHA-256(label ‖ origin ‖ Pc ‖ Ps ‖ Nc ‖ Ns). Comparing the code defeats a local
 *   man in the middle: his keys would give another code.
 * Session (each connection; mutual authentication by proof of K, fresh ECDH keys):
 *   C → S  {t:"hello", keyId, pub: Pc, nonce: Nc}
 *   S → C  {t:"welcome", pub: Ps, nonce: Ns, proof: HMAC(K, "server" ‖ T)}
 *   C → S  {t:"proof", proof: HMAC(K, "client" ‖ T)}
 *   c2s / s2c keys = HKDF-SHA-256(Z, salt = T, info "c2s" / "s2c") → AES-256-GCM.
 * Frames after the handshake are binary: version (1) ‖ counter (8, big-endian) ‖ AES-GCM
 * ciphertext and tag; IV = direction (4) ‖ counter (8); AAD = version ‖ counter ‖ direction.
 * Each side expects exactly the next counter: replayed, reordered, dropped or altered frames
 * fail and the connection is closed.
 *
 * Requests inside the frames: {id, m: method, p: params} (+ binary attachment); answers {id, ok,
 * r} or {id, ok: false, err: {code: CardErrorCode | 'card_absent' | 'error', message (French)}}.
 * `cps.verifyPin` carries the PIN typed on the page as the attachment, or no attachment at all
 * to have it typed on the reader's PIN pad (readers reporting `pinPad`: PC/SC part 10), in
 * which case the PIN reaches neither the page nor the bridge.
 *
 * Card session (held by the bridge, per connection: docs/adr/0003-bridge-holds-card-session.md):
 * `cps.sign` and `card.authenticate` are served only while this connection is unlocked and has
 * verified the CPS PIN itself (`cps.verifyPin` in this very session, on the same card);
 * `session.lock` locks it until the PIN is verified again. When the connection ends, locks or
 * the PIN is lost, the bridge resets the card (its security state cleared) unless another live
 * session verified the PIN on it too. `card.authenticate` takes the relay's nonce, never a
 * digest: the bridge signs `authenticationInput(origin, nonce)` for the origin it paired with.
 * `card.deriveKey` (the CPS, same session rule) takes a workstation's salt and signs
 * `atRestInput(origin, salt)` with the authentication key: the page derives from it the key that
 * opens its invoices at rest (docs/adr/0014-invoices-at-rest.md).
 */

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();

export const PROTOCOL_VERSION = 1;

/**
 * The origin the command line presents to the bridge (`teletrans invoice build`, ADR 0012). No
 * browser can send it: a page's Origin is its web origin, and a custom scheme gives "null". The
 * bridge accepts it only once an administrator allowed it (`teletrans bridge origins add
 * teletrans-cli://localhost`), and pairing stays an approval on the bridge's terminal.
 */
export const CLI_ORIGIN = 'teletrans-cli://localhost';

/** Where the bridge listens unless told otherwise (loopback only). */
export const DEFAULT_BRIDGE_PORT = 7523;
export const DEFAULT_BRIDGE_URL = `ws://127.0.0.1:${DEFAULT_BRIDGE_PORT}/`;

/** What a PIN pad answers instead of the card: timeout, cancel key, bad length, bad parameters. */
export type PinPadErrorCode = 'pin_pad_timeout' | 'pin_pad_cancelled' | 'pin_pad_length' | 'pin_pad_invalid';
/** Reason codes of failed requests, shared by the bridge and the page. */
export type CardErrorCode =
  /** This session has not verified the CPS PIN on this card (or lost it: card reset, wrong PIN). */
  | 'pin_required'
  /** This session was locked (`session.lock`): the PIN must be verified again in it. */
  | 'session_locked'
  | 'pin_blocked'
  /**
   * One PIN try left: a PIN typed in the page is not tried on the page's word alone (it could
   * block the card); the practitioner confirms it where the page cannot answer for them (the
   * bridge's terminal), or types it on a PIN pad (docs/adr/0017).
   */
  | 'pin_last_try'
  /**
   * The page said its audit journal is blocked (altered, missing or unverifiable: `journal.report`):
   * the bridge serves it no card until the page reports it intact again (issue 24 defect 4).
   */
  | 'journal_blocked'
  | 'card_error'
  | 'unsupported'
  | 'bad_request'
  /** The connection has as many requests in flight as the bridge serves at once: not served, retry. */
  | 'busy'
  | PinPadErrorCode;
/** Reason code of a request the bridge refused unserved because its connection has too many in flight. */
export const BUSY: CardErrorCode = 'busy';
/** The practitioner-facing message of `busy` (French UI), the same whatever the bridge's limit. */
export const BUSY_MESSAGE = 'Le pont de cartes est occupé : trop de demandes sont en cours sur cette connexion. Réessayez dans un instant.';
/** Result of `cps.verifyPin`, typed or on the pad. */
export type PinResult = { ok: true; triesLeft: number } | { ok: false; triesLeft: number; blocked: boolean };
/** What `journal.report` carries: the page's audit journal as its integrity check left it. */
export type JournalReport = { state: 'intact' } | { state: 'blocked'; problem: string };
/** The practitioner-facing message of `journal_blocked` (French UI). */
export const JOURNAL_BLOCKED_MESSAGE = 'Le journal d’audit de ce poste est bloqué : le pont de cartes ne sert aucune carte tant qu’un administrateur ne l’a pas réinitialisé.';
/** Result of `session.lock`. */
export type LockResult = { locked: true };
/** Result of `card.authenticate`: PKCS#1 v1.5 (RS256) over `authenticationInput(origin, nonce)`. */
export type AuthenticationResult = { signature: string; algorithm: 'RS256' };
/** A relay nonce as the bridge accepts it: base64url, 16 to 128 characters. */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * The bytes an authentication signs: SHA-256(origin) ‖ SHA-256(nonce), both UTF-8, as the relay
 * checks them (`challengeDigestInput`, src/lib/server/relay/auth.ts). The bridge computes it
 * itself from the origin it paired with; the page gives only the nonce.
 */
export async function authenticationInput(origin: string, nonce: string): Promise<Uint8Array> {
  const [o, n] = await Promise.all([subtle.digest('SHA-256', enc.encode(origin)), subtle.digest('SHA-256', enc.encode(nonce))]);
  const out = new Uint8Array(64);
  out.set(new Uint8Array(o));
  out.set(new Uint8Array(n), 32);
  return out;
}

/** Result of `card.deriveKey`: the card's PKCS#1 v1.5 signature over `atRestInput(origin, salt)`. */
export type DerivedSecretResult = { secret: string };
/** A workstation's at-rest salt as the bridge accepts it: base64url of 16 to 64 bytes. */
export const SALT_PATTERN = /^[A-Za-z0-9_-]{22,86}$/;
const AT_REST_LABEL = 'teletrans-at-rest v1';

/**
 * The bytes `card.deriveKey` signs (docs/adr/0014): SHA-256(label) ‖ SHA-256(origin) ‖
 * SHA-256(salt), 96 bytes. `card.authenticate` signs 64 bytes, so no relay nonce can ever make
 * the card produce this signature: the relay's login never learns a workstation's key.
 */
export async function atRestInput(origin: string, salt: Uint8Array): Promise<Uint8Array> {
  const parts = await Promise.all([subtle.digest('SHA-256', enc.encode(AT_REST_LABEL)), subtle.digest('SHA-256', enc.encode(origin)), subtle.digest('SHA-256', buf(salt))]);
  const out = new Uint8Array(96);
  parts.forEach((p, i) => out.set(new Uint8Array(p), 32 * i));
  return out;
}

/** Label of the administrator's authorization to reset a workstation's audit journal. */
export const AUDIT_RESET_LABEL = 'teletrans-audit-reset v1';

/**
 * The bytes `journal.authorizeReset` signs with the CPS's authentication key (issue 24 defect 3):
 * SHA-256(label) ‖ SHA-256(origin) ‖ SHA-256(journal id), 96 bytes — never a relay login (64
 * bytes) nor the key at rest (another label). The trust service checks it before a reset.
 */
export async function auditResetInput(origin: string, journal: string): Promise<Uint8Array> {
  const parts = await Promise.all([subtle.digest('SHA-256', enc.encode(AUDIT_RESET_LABEL)), subtle.digest('SHA-256', enc.encode(origin)), subtle.digest('SHA-256', enc.encode(journal))]);
  const out = new Uint8Array(96);
  parts.forEach((p, i) => out.set(new Uint8Array(p), 32 * i));
  return out;
}

/** Result of `journal.authorizeReset`: the signature over `auditResetInput` and the certificate that checks it. */
export type ResetAuthorizationResult = { signature: string; certificate: string };

/** SHA-256 of `b` (the digest a card signs in PKCS#1 v1.5 for RS256). */
export async function sha256(b: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle.digest('SHA-256', buf(b)));
}

/** Largest WebSocket message either side accepts, bytes. */
export const MAX_FRAME = 64 * 1024;
export const DIR_C2S = 1;
export const DIR_S2C = 2;

// The platform's own base64 where it has it (Chromium ≥ 140: TC39 "Uint8Array to/from base64"):
// sealed records carry signed documents, encoded at every commit (issue 16's store overhead).
const nativeToBase64 = (Uint8Array.prototype as { toBase64?: (o: { alphabet: 'base64url'; omitPadding: boolean }) => string }).toBase64;
const nativeFromBase64 = (Uint8Array as unknown as { fromBase64?: (s: string, o: { alphabet: 'base64url' }) => Uint8Array }).fromBase64;

export function b64u(b: Uint8Array): string {
  if (nativeToBase64) return nativeToBase64.call(b, { alphabet: 'base64url', omitPadding: true });
  let s = '';
  for (let i = 0; i < b.length; i += 0x2000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x2000) as unknown as number[]);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function unb64u(s: string, maxLen = MAX_FRAME): Uint8Array {
  if (typeof s !== 'string' || s.length > (maxLen * 4) / 3 + 4 || !/^[A-Za-z0-9_-]*$/.test(s)) throw new Error('bad base64url');
  if (nativeFromBase64) {
    try {
      return nativeFromBase64(s, { alphabet: 'base64url' });
    } catch {
      throw new Error('bad base64url');
    }
  }
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function randomBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

// A copy of exactly these bytes (a Node Buffer's slice() shares its pool: never `.slice().buffer`).
const buf = (b: Uint8Array): ArrayBuffer => new Uint8Array(b).buffer as ArrayBuffer;

export interface Ephemeral {
  keys: CryptoKeyPair;
  pub: Uint8Array;
}

export async function ephemeral(): Promise<Ephemeral> {
  const keys = (await subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits'])) as CryptoKeyPair;
  return { keys, pub: new Uint8Array(await subtle.exportKey('raw', keys.publicKey)) };
}

/** ECDH shared secret Z as an HKDF key (never extractable). */
export async function sharedSecret(mine: Ephemeral, peerPub: Uint8Array): Promise<CryptoKey> {
  if (peerPub.length !== 65 || peerPub[0] !== 4) throw new Error('bad public key');
  const peer = await subtle.importKey('raw', buf(peerPub), { name: 'ECDH', namedCurve: 'P-256' }, false, []);
  const z = new Uint8Array(await subtle.deriveBits({ name: 'ECDH', public: peer }, mine.keys.privateKey, 256));
  const k = await subtle.importKey('raw', buf(z), 'HKDF', false, ['deriveBits', 'deriveKey']);
  z.fill(0);
  return k;
}

export async function transcript(label: string, origin: string, pc: Uint8Array, ps: Uint8Array, nc: Uint8Array, ns: Uint8Array): Promise<Uint8Array> {
  const parts = [enc.encode(label), enc.encode(origin), pc, ps, nc, ns];
  const total = parts.reduce((n, p) => n + 4 + p.length, 0);
  const all = new Uint8Array(total);
  let i = 0;
  for (const p of parts) {
    new DataView(all.buffer).setUint32(i, p.length);
    all.set(p, i + 4);
    i += 4 + p.length;
  }
  return new Uint8Array(await subtle.digest('SHA-256', all));
}

async function hkdfBits(z: CryptoKey, salt: Uint8Array, info: string, bits: number): Promise<Uint8Array> {
  return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: buf(salt), info: buf(enc.encode(info)) }, z, bits));
}

/** The 6-digit comparison code shown by both sides during pairing ("123 456"). */
export async function pairingCode(z: CryptoKey, t: Uint8Array): Promise<string> {
  const b = await hkdfBits(z, t, 'teletrans-bridge pairing code', 32);
  const n = (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) % 1_000_000;
  const s = n.toString().padStart(6, '0');
  return `${s.slice(0, 3)} ${s.slice(3)}`;
}

/** The pairing key K, raw (the bridge stores it; the browser imports it non-extractable). */
export function pairingKeyBytes(z: CryptoKey, t: Uint8Array): Promise<Uint8Array> {
  return hkdfBits(z, t, 'teletrans-bridge pairing key', 256);
}

export function importPairingKey(raw: Uint8Array): Promise<CryptoKey> {
  return subtle.importKey('raw', buf(raw), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

export async function proof(k: CryptoKey, role: 'server' | 'client', t: Uint8Array): Promise<Uint8Array> {
  const m = new Uint8Array(6 + t.length);
  m.set(enc.encode(role.padEnd(6, ' ')));
  m.set(t, 6);
  return new Uint8Array(await subtle.sign('HMAC', k, m));
}

export async function checkProof(k: CryptoKey, role: 'server' | 'client', t: Uint8Array, p: Uint8Array): Promise<boolean> {
  const m = new Uint8Array(6 + t.length);
  m.set(enc.encode(role.padEnd(6, ' ')));
  m.set(t, 6);
  return subtle.verify('HMAC', k, buf(p), m);
}

async function aesKey(z: CryptoKey, t: Uint8Array, info: string): Promise<CryptoKey> {
  return subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: buf(t), info: buf(enc.encode(info)) },
    z,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

export class FrameError extends Error {}

/** One direction pair of an established session. */
export class SecureChannel {
  private sendCounter = 0n;
  private recvCounter = 0n;

  private constructor(
    private readonly sendKey: CryptoKey,
    private readonly recvKey: CryptoKey,
    private readonly sendDir: number,
    private readonly recvDir: number,
  ) {}

  static async create(z: CryptoKey, t: Uint8Array, role: 'server' | 'client'): Promise<SecureChannel> {
    const c2s = await aesKey(z, t, 'teletrans-bridge c2s');
    const s2c = await aesKey(z, t, 'teletrans-bridge s2c');
    return role === 'client' ? new SecureChannel(c2s, s2c, DIR_C2S, DIR_S2C) : new SecureChannel(s2c, c2s, DIR_S2C, DIR_C2S);
  }

  private static header(counter: bigint, dir: number): { head: Uint8Array; iv: Uint8Array; aad: Uint8Array } {
    const head = new Uint8Array(9);
    head[0] = PROTOCOL_VERSION;
    new DataView(head.buffer).setBigUint64(1, counter);
    const iv = new Uint8Array(12);
    new DataView(iv.buffer).setUint32(0, dir);
    iv.set(head.subarray(1), 4);
    const aad = new Uint8Array(10);
    aad.set(head);
    aad[9] = dir;
    return { head, iv, aad };
  }

  async seal(plain: Uint8Array): Promise<Uint8Array> {
    const { head, iv, aad } = SecureChannel.header(this.sendCounter++, this.sendDir);
    const ct = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: buf(iv), additionalData: buf(aad) }, this.sendKey, buf(plain)));
    const out = new Uint8Array(9 + ct.length);
    out.set(head);
    out.set(ct, 9);
    return out;
  }

  /** Opens the next frame; throws FrameError on a wrong version, counter, or tag. */
  async open(frame: Uint8Array): Promise<Uint8Array> {
    if (frame.length < 9 + 16 || frame.length > MAX_FRAME) throw new FrameError('bad frame length');
    if (frame[0] !== PROTOCOL_VERSION) throw new FrameError('bad frame version');
    const counter = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getBigUint64(1);
    if (counter !== this.recvCounter) throw new FrameError(counter < this.recvCounter ? 'replayed frame' : 'frame out of order');
    const { iv, aad } = SecureChannel.header(counter, this.recvDir);
    let plain: ArrayBuffer;
    try {
      plain = await subtle.decrypt({ name: 'AES-GCM', iv: buf(iv), additionalData: buf(aad) }, this.recvKey, buf(frame.subarray(9)));
    } catch {
      throw new FrameError('altered frame');
    }
    this.recvCounter++;
    return new Uint8Array(plain);
  }
}

/** Inner message: u32 JSON length ‖ JSON ‖ optional binary attachment (the PIN travels there). */
export function encodeMessage(obj: unknown, attachment?: Uint8Array): Uint8Array {
  const j = enc.encode(JSON.stringify(obj));
  const out = new Uint8Array(4 + j.length + (attachment?.length ?? 0));
  new DataView(out.buffer).setUint32(0, j.length);
  out.set(j, 4);
  if (attachment) out.set(attachment, 4 + j.length);
  return out;
}

export function decodeMessage(b: Uint8Array): { msg: unknown; attachment: Uint8Array } {
  if (b.length < 4) throw new FrameError('short message');
  const n = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0);
  if (4 + n > b.length) throw new FrameError('bad message length');
  const msg: unknown = JSON.parse(new TextDecoder().decode(b.subarray(4, 4 + n)));
  return { msg, attachment: b.subarray(4 + n) };
}
