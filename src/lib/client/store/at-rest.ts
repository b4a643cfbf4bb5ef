/**
 * Encryption at rest of what the practitioner's records hold (docs/adr/0014-invoices-at-rest.md).
 *
 * - One **data key** per practitioner's card and workstation (AES-GCM 256), random, kept only
 *   wrapped (AES-KW) in a key slot; unwrapped, it lives in the page's memory as a
 *   non-extractable CryptoKey until the next lock.
 * - The **key-encryption key** comes from the card: the bridge's `card.deriveKey` signs a
 *   workstation salt with the CPS's authentication key after its PIN (PKCS#1 v1.5 is
 *   deterministic: the same card and salt give the same secret), and
 *   KEK = HKDF-SHA-256(secret, salt, "teletrans at-rest v1"). A copied browser profile holds the
 *   slot and the salt, not the card.
 * - **Sealed values** are AES-GCM with a fresh 96-bit IV and associated data naming what the
 *   value is (record id, key, history): a sealed value moved to another record, or a record whose
 *   clear part was changed, fails to open.
 *
 * Every failure is an `AtRestError` with a reason code; nothing here falls back to clear text.
 */
import { b64u, unb64u } from '../../card/protocol.js';

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();
// A copy of exactly these bytes (a Node Buffer's slice() shares its pool: never `.slice().buffer`).
const buf = (b: Uint8Array): ArrayBuffer => new Uint8Array(b).buffer as ArrayBuffer;

export const AT_REST_INFO = 'teletrans at-rest v1';
export const SALT_BYTES = 32;

export type AtRestErrorCode =
  /** The card (through the bridge) refused or failed to give its secret: PIN, lock, absent card. */
  | 'card_refused'
  /** The slot's key does not open with this card's secret: another card, or the slot was altered. */
  | 'wrong_card'
  /** The key slot itself is malformed. */
  | 'slot_invalid'
  /** A sealed value did not open: altered, moved, or sealed under another key. */
  | 'sealed_invalid'
  /** No data key in memory: the session is locked. */
  | 'locked';

export class AtRestError extends Error {
  constructor(
    readonly code: AtRestErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AtRestError';
  }
}

/** What a workstation keeps for one card: its salt and the data key wrapped under the card's KEK. */
export interface KeySlot {
  /** b64u SHA-256 of the card's authentication certificate: which card opens it. */
  readonly keyId: string;
  readonly v: 1;
  readonly salt: Uint8Array;
  readonly wrapped: Uint8Array;
  /** ISO instant. */
  readonly created: string;
}

export interface KeySlotStore {
  get(keyId: string): Promise<KeySlot | undefined>;
  /** Adds a new slot; resolves false, writing nothing, when one exists already for `keyId`. */
  add(slot: KeySlot): Promise<boolean>;
}

/** The card's secret for a salt (`card.deriveKey` through the bridge), raw bytes. */
export type CardSecret = (salt: Uint8Array) => Promise<Uint8Array>;

/** An opened data key, with the id of the slot it came from (records name it). */
export interface DataKey {
  readonly keyId: string;
  readonly key: CryptoKey;
}

/** The key id of a card: b64u SHA-256 of its authentication certificate (DER). */
export async function keyIdOf(authCertificate: Uint8Array): Promise<string> {
  return b64u(new Uint8Array(await subtle.digest('SHA-256', buf(authCertificate))));
}

async function kek(card: CardSecret, salt: Uint8Array): Promise<CryptoKey> {
  let secret: Uint8Array;
  try {
    secret = await card(salt);
  } catch (e) {
    throw new AtRestError('card_refused', `La carte n’a pas ouvert les factures de ce poste : ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!(secret instanceof Uint8Array) || secret.length < 128) throw new AtRestError('card_refused', 'La carte a donné une réponse inattendue : factures non ouvertes.');
  try {
    const ikm = await subtle.importKey('raw', buf(secret), 'HKDF', false, ['deriveKey']);
    return await subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: buf(salt), info: buf(enc.encode(AT_REST_INFO)) }, ikm, { name: 'AES-KW', length: 256 }, false, ['wrapKey', 'unwrapKey']);
  } finally {
    secret.fill(0);
  }
}

function checkSlot(slot: KeySlot): void {
  const ok = slot && slot.v === 1 && slot.salt instanceof Uint8Array && slot.salt.length === SALT_BYTES && slot.wrapped instanceof Uint8Array && slot.wrapped.length === 40;
  if (!ok) throw new AtRestError('slot_invalid', 'Clé des factures de ce poste illisible : elle n’est jamais remplacée d’office (voir l’administrateur).');
}

async function unwrap(slot: KeySlot, card: CardSecret): Promise<CryptoKey> {
  checkSlot(slot);
  const k = await kek(card, slot.salt);
  try {
    return await subtle.unwrapKey('raw', buf(slot.wrapped), k, 'AES-KW', { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  } catch {
    throw new AtRestError('wrong_card', 'Cette carte n’ouvre pas les factures enregistrées sur ce poste pour elle : clé modifiée ou autre carte.');
  }
}

/**
 * Opens the data key of a slot this workstation does not keep (a backup file's): with the card,
 * which derives the slot's key for its salt and this origin. Nothing is stored.
 */
export async function openSlot(slot: KeySlot, card: CardSecret): Promise<DataKey> {
  return { keyId: slot.keyId, key: await unwrap(slot, card) };
}

/**
 * Opens this card's data key on this workstation, creating its slot the first time. Two tabs
 * creating it at once: one slot wins (`add`), the other tab opens that one. A slot that exists
 * and does not open is an error, never replaced: replacing it would lose every record under it.
 */
export async function openDataKey(o: {
  keyId: string;
  card: CardSecret;
  slots: KeySlotStore;
  now?: () => number;
  /**
   * Given the raw data key once, to escrow it for the device's administrators (ADR 0028): the
   * bytes are wiped when it returns; the key the page keeps stays non-extractable.
   */
  escrow?: (raw: Uint8Array) => Promise<void>;
}): Promise<DataKey> {
  const existing = await o.slots.get(o.keyId);
  if (existing) {
    if (o.escrow) {
      checkSlot(existing);
      const k = await kek(o.card, existing.salt);
      let extractable: CryptoKey;
      try {
        extractable = await subtle.unwrapKey('raw', buf(existing.wrapped), k, 'AES-KW', { name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
      } catch {
        throw new AtRestError('wrong_card', 'Cette carte n’ouvre pas les factures enregistrées sur ce poste pour elle : clé modifiée ou autre carte.');
      }
      await giveRaw(extractable, o.escrow);
      return { keyId: o.keyId, key: await subtle.unwrapKey('raw', buf(existing.wrapped), k, 'AES-KW', { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']) };
    }
    return { keyId: o.keyId, key: await unwrap(existing, o.card) };
  }
  const salt = globalThis.crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const k = await kek(o.card, salt);
  const fresh = await subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
  const wrapped = new Uint8Array(await subtle.wrapKey('raw', fresh, k, 'AES-KW'));
  const slot: KeySlot = { keyId: o.keyId, v: 1, salt, wrapped, created: new Date(o.now?.() ?? Date.now()).toISOString() };
  if (!(await o.slots.add(slot))) {
    const winner = await o.slots.get(o.keyId);
    if (!winner) throw new AtRestError('slot_invalid', 'Clé des factures de ce poste introuvable après sa création.');
    return { keyId: o.keyId, key: await unwrap(winner, o.card) };
  }
  if (o.escrow) await giveRaw(fresh, o.escrow);
  // The extractable copy is dropped; the page keeps a non-extractable one, as from a later open.
  return { keyId: o.keyId, key: await subtle.unwrapKey('raw', buf(wrapped), k, 'AES-KW', { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']) };
}

async function giveRaw(key: CryptoKey, to: (raw: Uint8Array) => Promise<void>): Promise<void> {
  const raw = new Uint8Array(await subtle.exportKey('raw', key));
  try {
    await to(raw);
  } finally {
    raw.fill(0);
  }
}

/** A data key given back by a recovery (ADR 0028), non-extractable; `raw` is wiped. */
export async function importDataKey(keyId: string, raw: Uint8Array): Promise<DataKey> {
  try {
    if (raw.length !== 32) throw new AtRestError('slot_invalid', 'Clé rétablie mal formée.');
    return { keyId, key: await subtle.importKey('raw', buf(raw), { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']) };
  } finally {
    raw.fill(0);
  }
}

/** A sealed value as stored: IV and AES-GCM ciphertext with its tag. */
export interface Sealed {
  readonly iv: Uint8Array;
  readonly ct: Uint8Array;
}

/**
 * A value as the bytes a seal encrypts. Records hold signed documents (bytes): they travel raw
 * after the JSON of the rest, not as base64 inside it (a third less to encrypt, and no base64
 * at every commit: issue 16's store overhead). Layout, version 1:
 *
 *   0x01 | u32 JSON length | JSON (byte arrays as {"$b": index}) | (u32 length | bytes)*
 *
 * Values sealed before it (plain JSON with `{"$bytes": b64u}`, first byte `{`, `[`, `"` or a
 * letter) are still read.
 */
const BINARY_V1 = 0x01;

/**
 * `v` with its byte arrays replaced by `{$b: index}` into `parts`, each array once however many
 * times it is referenced (a signed document shares its bytes with the submission's), so that
 * JSON.stringify runs without a replacer (V8's fast path).
 */
function withoutBytes(v: unknown, parts: Uint8Array[], seen: Map<Uint8Array, number>): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Uint8Array) {
    let i = seen.get(v);
    if (i === undefined) {
      i = parts.push(v) - 1;
      seen.set(v, i);
    }
    return { $b: i };
  }
  if (Array.isArray(v)) return v.map((x) => withoutBytes(x, parts, seen));
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined && typeof x !== 'function') out[k] = withoutBytes(x, parts, seen);
  }
  return out;
}

export function encodeValue(value: unknown): Uint8Array {
  const parts: Uint8Array[] = [];
  const json = enc.encode(JSON.stringify(withoutBytes(value, parts, new Map())));
  let size = 5 + json.length;
  for (const p of parts) size += 4 + p.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = BINARY_V1;
  view.setUint32(1, json.length);
  out.set(json, 5);
  json.fill(0);
  let at = 5 + json.length;
  for (const p of parts) {
    view.setUint32(at, p.length);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

export function decodeValue<T>(bytes: Uint8Array): T {
  try {
    return decodeUnchecked<T>(bytes);
  } catch (e) {
    if (e instanceof AtRestError) throw e;
    throw new AtRestError('sealed_invalid', 'Donnée chiffrée mal formée.');
  }
}

function decodeUnchecked<T>(bytes: Uint8Array): T {
  if (bytes[0] !== BINARY_V1) {
    return JSON.parse(new TextDecoder().decode(bytes), (_k, v: unknown) => {
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        const keys = Object.keys(v);
        if (keys.length === 1 && keys[0] === '$bytes') return unb64u((v as { $bytes: string }).$bytes, Number.MAX_SAFE_INTEGER);
      }
      return v;
    }) as T;
  }
  const bad = (): never => {
    throw new AtRestError('sealed_invalid', 'Donnée chiffrée mal formée.');
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 5) bad();
  const jsonLength = view.getUint32(1);
  if (5 + jsonLength > bytes.length) bad();
  const parts: Uint8Array[] = [];
  for (let at = 5 + jsonLength; at < bytes.length; ) {
    if (at + 4 > bytes.length) bad();
    const n = view.getUint32(at);
    if (at + 4 + n > bytes.length) bad();
    parts.push(bytes.slice(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return JSON.parse(new TextDecoder().decode(bytes.subarray(5, 5 + jsonLength)), (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === '$b') {
        const i = (v as { $b: unknown }).$b;
        if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= parts.length) bad();
        return parts[i as number];
      }
    }
    return v;
  }) as T;
}

export async function seal(key: DataKey, value: unknown, aad: Uint8Array): Promise<Sealed> {
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const plain = encodeValue(value);
  try {
    // `plain` owns its whole buffer (encodeValue made it): no copy to hand it over.
    const ct = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: buf(iv), additionalData: buf(aad) }, key.key, plain.buffer as ArrayBuffer));
    return { iv, ct };
  } finally {
    plain.fill(0);
  }
}

export async function unseal<T>(key: DataKey, sealed: Sealed, aad: Uint8Array): Promise<T> {
  if (!(sealed?.iv instanceof Uint8Array) || sealed.iv.length !== 12 || !(sealed.ct instanceof Uint8Array)) {
    throw new AtRestError('sealed_invalid', 'Donnée chiffrée mal formée.');
  }
  let plain: Uint8Array;
  try {
    plain = new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: buf(sealed.iv), additionalData: buf(aad) }, key.key, buf(sealed.ct)));
  } catch {
    throw new AtRestError('sealed_invalid', 'Donnée chiffrée altérée, déplacée, ou chiffrée pour une autre carte.');
  }
  try {
    return decodeValue<T>(plain);
  } finally {
    plain.fill(0);
  }
}
