/**
 * Invoices the front desk prepares for a practitioner (issue 16 item 2; ADR 0027), sealed so that
 * only that practitioner's card opens them, and the device's directory that makes it possible.
 *
 * - **Directory** (database `teletrans-handoffs`, store `directory`): per practitioner who opened
 *   a session on this device, what an assistant needs to prepare for them — RPPS, profession,
 *   the card's situations (structures, billing numbers, sector, zone) — and a **hand-off public
 *   key** (ECDH P-256). No name: the practitioner's own card supplies it when the invoice is
 *   prepared. The private half is kept beside it wrapped under the practitioner's data key
 *   (AES-GCM, ADR 0014): only their card and PIN unwrap it, as a non-extractable key.
 * - **Hand-offs** (store `handoffs`): each one an ECIES-style envelope — an ephemeral ECDH P-256
 *   key, HKDF-SHA-256 over the shared secret (salt: the ephemeral public key, info "teletrans
 *   handoff v1"), AES-GCM 256 with associated data naming the hand-off, its recipient, its
 *   structure and who prepared it. The assistant keeps no key that opens it afterwards, and
 *   reads nothing else of the practitioner's. In clear: who for, which structure, by whom, when.
 *
 * Failures are `AtRestError`s (`sealed_invalid`, `slot_invalid`): nothing falls back to clear.
 */
import type { DBSchema } from 'idb';
import { Connection } from './connection.js';
import { AtRestError, decodeValue, encodeValue, type DataKey } from './at-rest.js';
import type { CardSituation } from '../../card/reads.js';

export const HANDOFFS_DB = 'teletrans-handoffs';

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();
const buf = (b: Uint8Array): ArrayBuffer => new Uint8Array(b).buffer as ArrayBuffer;
const EC = { name: 'ECDH', namedCurve: 'P-256' } as const;
const INFO = enc.encode('teletrans handoff v1');

/** A practitioner as the device's directory knows them: no name. */
export interface DirectoryEntry {
  /** RPPS (the card holder's identifier). */
  readonly holder: string;
  /** The data key that wraps `wrapped` (the practitioner's card on this device). */
  readonly keyId: string;
  readonly profession: { readonly code: string; readonly label: string };
  readonly situations: readonly CardSituation[];
  /** The hand-off public key, raw (65 bytes, uncompressed P-256 point). */
  readonly publicKey: Uint8Array;
  /** Its private half, PKCS#8 wrapped under the data key (AES-GCM). */
  readonly wrapped: { readonly iv: Uint8Array; readonly ct: Uint8Array };
  readonly updatedAt: string;
}

/** What an assistant prepared: the invoice's input without the practitioner, who supplies it. */
export interface HandoffDraft {
  /** The billing situation (billing number) it is prepared in. */
  readonly billingNumber: string;
  /** `degraded` when the beneficiary was not read from a Vitale card. */
  readonly securing: 'vitale' | 'degraded';
  /** InvoiceInput less `id` and `practitioner` (beneficiary, acts, context…). */
  readonly input: Record<string, unknown>;
}

export interface StoredHandoff {
  readonly id: string;
  /** The practitioner's RPPS. */
  readonly to: string;
  /** The billing number it is for (a structure on both cards). */
  readonly structure: string;
  /** The assistant's card holder identifier. */
  readonly from: string;
  readonly createdAt: string;
  readonly epk: Uint8Array;
  readonly iv: Uint8Array;
  readonly ct: Uint8Array;
}

interface HandoffsDb extends DBSchema {
  directory: { key: string; value: DirectoryEntry };
  handoffs: { key: string; value: StoredHandoff; indexes: { to: string } };
}

const aadOf = (h: Pick<StoredHandoff, 'id' | 'to' | 'structure' | 'from'>): Uint8Array => enc.encode(`teletrans-handoff-v1|${h.id}|${h.to}|${h.structure}|${h.from}`);
const wrapAad = (holder: string, keyId: string, publicKey: Uint8Array): Uint8Array => enc.encode(`teletrans-handoff-key-v1|${holder}|${keyId}|${Array.from(publicKey).join(',')}`);

async function sharedKey(priv: CryptoKey, pub: CryptoKey, epk: Uint8Array, usage: 'encrypt' | 'decrypt'): Promise<CryptoKey> {
  const bits = new Uint8Array(await subtle.deriveBits({ name: 'ECDH', public: pub }, priv, 256));
  try {
    const ikm = await subtle.importKey('raw', buf(bits), 'HKDF', false, ['deriveKey']);
    return await subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: buf(epk), info: buf(INFO) }, ikm, { name: 'AES-GCM', length: 256 }, false, [usage]);
  } finally {
    bits.fill(0);
  }
}

export class IdbHandoffStore {
  private readonly connection: Connection<HandoffsDb>;

  constructor(dbName: string = HANDOFFS_DB) {
    this.connection = new Connection<HandoffsDb>(dbName, 1, (db) => {
      db.createObjectStore('directory', { keyPath: 'holder' });
      db.createObjectStore('handoffs', { keyPath: 'id' }).createIndex('to', 'to');
    });
  }

  async directory(): Promise<DirectoryEntry[]> {
    return (await this.connection.get()).getAll('directory');
  }

  /**
   * The practitioner's entry on this device, made (with a new key pair) or brought up to date
   * (profession, situations) under their open data key; returns the private key, non-extractable.
   */
  async publish(key: DataKey, card: { holder: string; profession: DirectoryEntry['profession']; situations: readonly CardSituation[] }, now: () => number): Promise<CryptoKey> {
    const db = await this.connection.get();
    const current = await db.get('directory', card.holder);
    let entry: DirectoryEntry;
    if (current && current.keyId === key.keyId) {
      entry = { ...current, profession: card.profession, situations: [...card.situations], updatedAt: new Date(now()).toISOString() };
    } else {
      // A first session here, or another card of the same holder (renewed): a new key pair;
      // hand-offs sealed for the old key stay until that card opens them.
      const pair = (await subtle.generateKey(EC, true, ['deriveBits'])) as CryptoKeyPair;
      const publicKey = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
      const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
      // The data key encrypts (it has no wrapKey usage): PKCS#8 out, sealed, the buffer wiped.
      const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', pair.privateKey));
      let ct: Uint8Array;
      try {
        ct = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: buf(iv), additionalData: buf(wrapAad(card.holder, key.keyId, publicKey)) }, key.key, buf(pkcs8)));
      } finally {
        pkcs8.fill(0);
      }
      entry = { holder: card.holder, keyId: key.keyId, profession: card.profession, situations: [...card.situations], publicKey, wrapped: { iv, ct }, updatedAt: new Date(now()).toISOString() };
    }
    await db.put('directory', entry);
    return this.privateKey(key, entry);
  }

  private async privateKey(key: DataKey, e: DirectoryEntry): Promise<CryptoKey> {
    let pkcs8: Uint8Array;
    try {
      pkcs8 = new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: buf(e.wrapped.iv), additionalData: buf(wrapAad(e.holder, e.keyId, e.publicKey)) }, key.key, buf(e.wrapped.ct)));
    } catch {
      throw new AtRestError('slot_invalid', 'Clé de remise de ce praticien altérée sur ce poste.');
    }
    try {
      return await subtle.importKey('pkcs8', buf(pkcs8), EC, false, ['deriveBits']);
    } finally {
      pkcs8.fill(0);
    }
  }

  /** Seals `draft` for the practitioner of `entry` and stores it; the sender keeps nothing that opens it. */
  async handOff(entry: DirectoryEntry, draft: HandoffDraft, meta: { id: string; from: string; createdAt: string }): Promise<StoredHandoff> {
    const pub = await subtle.importKey('raw', buf(entry.publicKey), EC, false, []);
    const eph = (await subtle.generateKey(EC, false, ['deriveBits'])) as CryptoKeyPair;
    const epk = new Uint8Array(await subtle.exportKey('raw', eph.publicKey));
    const h = { id: meta.id, to: entry.holder, structure: draft.billingNumber, from: meta.from, createdAt: meta.createdAt, epk };
    const k = await sharedKey(eph.privateKey, pub, epk, 'encrypt');
    const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
    const plain = encodeValue(draft);
    try {
      const ct = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: buf(iv), additionalData: buf(aadOf(h)) }, k, buf(plain)));
      const stored: StoredHandoff = { ...h, iv, ct };
      await (await this.connection.get()).add('handoffs', stored);
      return stored;
    } finally {
      plain.fill(0);
    }
  }

  /** The hand-offs waiting for `holder`. */
  async waitingFor(holder: string): Promise<StoredHandoff[]> {
    return (await this.connection.get()).getAllFromIndex('handoffs', 'to', holder);
  }

  /** What `from` handed off and is still waiting (clear part only). */
  async preparedBy(from: string): Promise<Omit<StoredHandoff, 'epk' | 'iv' | 'ct'>[]> {
    const all = await (await this.connection.get()).getAll('handoffs');
    return all.filter((h) => h.from === from).map(({ epk: _e, iv: _i, ct: _c, ...rest }) => rest);
  }

  /** Opens a hand-off with the practitioner's private key; altered or misaddressed: `sealed_invalid`. */
  async open(h: StoredHandoff, privateKey: CryptoKey): Promise<HandoffDraft> {
    let plain: Uint8Array;
    try {
      const pub = await subtle.importKey('raw', buf(h.epk), EC, false, []);
      const k = await sharedKey(privateKey, pub, h.epk, 'decrypt');
      plain = new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: buf(h.iv), additionalData: buf(aadOf(h)) }, k, buf(h.ct)));
    } catch {
      throw new AtRestError('sealed_invalid', 'Facture préparée altérée, ou chiffrée pour une autre carte.');
    }
    try {
      return decodeValue<HandoffDraft>(plain);
    } finally {
      plain.fill(0);
    }
  }

  async remove(id: string): Promise<void> {
    await (await this.connection.get()).delete('handoffs', id);
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
