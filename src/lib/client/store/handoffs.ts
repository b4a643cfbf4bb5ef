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
  /** A practitioner's card, or the front desk's (an administrator may hold either). */
  readonly role: 'practitioner' | 'assistant';
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

/** An ECIES envelope for a hand-off public key (see the top of this file). */
export interface Envelope {
  readonly epk: Uint8Array;
  readonly iv: Uint8Array;
  readonly ct: Uint8Array;
}

/**
 * A practitioner's data key escrowed for one administrator (ADR 0028): sealed for the
 * administrator's hand-off key, so that a renewed or lost card loses no data.
 */
export interface StoredEscrow extends Envelope {
  /** `<keyId>|<administrator>`. */
  readonly id: string;
  /** The escrowed data key's id (the old card's). */
  readonly keyId: string;
  readonly holder: string;
  readonly admin: string;
  /** The administrator's hand-off public key it was sealed for (a renewed admin card: sealed again). */
  readonly adminKey: Uint8Array;
  readonly createdAt: string;
}

/** A renewed card asking for its holder's records (ADR 0028); `grant` once an administrator answered. */
export interface StoredRecovery {
  /** `<holder>|<old keyId>`. */
  readonly id: string;
  readonly holder: string;
  readonly oldKeyId: string;
  readonly newKeyId: string;
  readonly requestedAt: string;
  /** The old data key, sealed for the new card's hand-off key, by an administrator. */
  readonly grant?: Envelope & { readonly by: string; readonly at: string };
}

interface HandoffsDb extends DBSchema {
  directory: { key: string; value: DirectoryEntry };
  handoffs: { key: string; value: StoredHandoff; indexes: { to: string } };
  escrows: { key: string; value: StoredEscrow; indexes: { admin: string } };
  recoveries: { key: string; value: StoredRecovery };
}

const aadOf = (h: Pick<StoredHandoff, 'id' | 'to' | 'structure' | 'from'>): Uint8Array => enc.encode(`teletrans-handoff-v1|${h.id}|${h.to}|${h.structure}|${h.from}`);
const wrapAad = (holder: string, keyId: string, publicKey: Uint8Array): Uint8Array => enc.encode(`teletrans-handoff-key-v1|${holder}|${keyId}|${Array.from(publicKey).join(',')}`);

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Seals `plain` for a hand-off public key (an ephemeral ECDH key, HKDF, AES-GCM). */
export async function sealTo(publicKey: Uint8Array, plain: Uint8Array, aad: Uint8Array): Promise<Envelope> {
  const pub = await subtle.importKey('raw', buf(publicKey), EC, false, []);
  const eph = (await subtle.generateKey(EC, false, ['deriveBits'])) as CryptoKeyPair;
  const epk = new Uint8Array(await subtle.exportKey('raw', eph.publicKey));
  const k = await sharedKey(eph.privateKey, pub, epk, 'encrypt');
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: buf(iv), additionalData: buf(aad) }, k, buf(plain)));
  return { epk, iv, ct };
}

/** Opens an envelope with the hand-off private key; anything wrong: `sealed_invalid`. */
export async function openFrom(privateKey: CryptoKey, e: Envelope, aad: Uint8Array): Promise<Uint8Array> {
  try {
    const pub = await subtle.importKey('raw', buf(e.epk), EC, false, []);
    const k = await sharedKey(privateKey, pub, e.epk, 'decrypt');
    return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: buf(e.iv), additionalData: buf(aad) }, k, buf(e.ct)));
  } catch {
    throw new AtRestError('sealed_invalid', 'Enveloppe altérée, ou chiffrée pour une autre carte.');
  }
}

const escrowAad = (keyId: string, holder: string, admin: string): Uint8Array => enc.encode(`teletrans-escrow-v1|${keyId}|${holder}|${admin}`);
const grantAad = (r: Pick<StoredRecovery, 'holder' | 'oldKeyId' | 'newKeyId'>, by: string): Uint8Array => enc.encode(`teletrans-recovery-v1|${r.holder}|${r.oldKeyId}|${r.newKeyId}|${by}`);

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
    this.connection = new Connection<HandoffsDb>(dbName, 2, (db, oldVersion) => {
      if (oldVersion < 1) {
        db.createObjectStore('directory', { keyPath: 'holder' });
        db.createObjectStore('handoffs', { keyPath: 'id' }).createIndex('to', 'to');
      }
      if (oldVersion < 2) {
        db.createObjectStore('escrows', { keyPath: 'id' }).createIndex('admin', 'admin');
        db.createObjectStore('recoveries', { keyPath: 'id' });
      }
    });
  }

  async directory(): Promise<DirectoryEntry[]> {
    return (await this.connection.get()).getAll('directory');
  }

  /**
   * The practitioner's entry on this device, made (with a new key pair) or brought up to date
   * (profession, situations) under their open data key; returns the private key, non-extractable.
   */
  async entry(holder: string): Promise<DirectoryEntry | undefined> {
    return (await this.connection.get()).get('directory', holder);
  }

  async publish(key: DataKey, card: { holder: string; role: DirectoryEntry['role']; profession: DirectoryEntry['profession']; situations: readonly CardSituation[] }, now: () => number): Promise<CryptoKey> {
    const db = await this.connection.get();
    const current = await db.get('directory', card.holder);
    let entry: DirectoryEntry;
    if (current && current.keyId === key.keyId) {
      entry = { ...current, role: card.role, profession: card.profession, situations: [...card.situations], updatedAt: new Date(now()).toISOString() };
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
      entry = { holder: card.holder, role: card.role, keyId: key.keyId, profession: card.profession, situations: [...card.situations], publicKey, wrapped: { iv, ct }, updatedAt: new Date(now()).toISOString() };
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
    const h = { id: meta.id, to: entry.holder, structure: draft.billingNumber, from: meta.from, createdAt: meta.createdAt };
    const plain = encodeValue(draft);
    try {
      const stored: StoredHandoff = { ...h, ...(await sealTo(entry.publicKey, plain, aadOf(h))) };
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
      plain = await openFrom(privateKey, h, aadOf(h));
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

  /**
   * Escrows a practitioner's raw data key for each administrator's hand-off key not holding it
   * yet (or holding it for an older key of theirs). Returns how many were sealed.
   */
  async escrow(raw: Uint8Array, keyId: string, holder: string, admins: readonly DirectoryEntry[], now: () => number): Promise<number> {
    const db = await this.connection.get();
    let sealed = 0;
    for (const a of admins) {
      if (a.holder === holder) continue; // one's own card cannot vouch for its own renewal
      const id = `${keyId}|${a.holder}`;
      const have = await db.get('escrows', id);
      if (have && same(have.adminKey, a.publicKey)) continue;
      const e = await sealTo(a.publicKey, raw, escrowAad(keyId, holder, a.holder));
      await db.put('escrows', { id, keyId, holder, admin: a.holder, adminKey: a.publicKey, createdAt: new Date(now()).toISOString(), ...e });
      sealed++;
    }
    return sealed;
  }

  /** Whether some administrator holds an escrow of `keyId`. */
  async escrowed(keyId: string): Promise<boolean> {
    const all = await (await this.connection.get()).getAll('escrows');
    return all.some((e) => e.keyId === keyId);
  }

  /** A renewed card (`newKeyId`) of `holder` asks for the records of `oldKeyId`; kept once. */
  async requestRecovery(holder: string, oldKeyId: string, newKeyId: string, now: () => number): Promise<void> {
    const db = await this.connection.get();
    const id = `${holder}|${oldKeyId}`;
    const have = await db.get('recoveries', id);
    if (have && have.newKeyId === newKeyId) return;
    await db.put('recoveries', { id, holder, oldKeyId, newKeyId, requestedAt: new Date(now()).toISOString() });
  }

  async recoveries(): Promise<StoredRecovery[]> {
    return (await this.connection.get()).getAll('recoveries');
  }

  /**
   * An administrator answers a request: the old data key, opened from its escrow with the
   * administrator's hand-off key, sealed for the renewed card's hand-off key. Nothing is kept in
   * clear; the raw key is wiped.
   */
  async grant(id: string, admin: string, adminKey: CryptoKey, now: () => number): Promise<StoredRecovery> {
    const db = await this.connection.get();
    const r = await db.get('recoveries', id);
    if (!r) throw new AtRestError('slot_invalid', 'Demande de rétablissement introuvable.');
    const escrow = await db.get('escrows', `${r.oldKeyId}|${admin}`);
    if (!escrow) throw new AtRestError('slot_invalid', 'Aucune copie de secours de cette carte pour votre carte d’administrateur sur ce poste.');
    const target = await db.get('directory', r.holder);
    if (!target || target.keyId !== r.newKeyId) throw new AtRestError('slot_invalid', 'La nouvelle carte de ce praticien n’a pas encore ouvert de session sur ce poste.');
    const raw = await openFrom(adminKey, escrow, escrowAad(escrow.keyId, escrow.holder, admin));
    try {
      const e = await sealTo(target.publicKey, raw, grantAad(r, admin));
      const granted: StoredRecovery = { ...r, grant: { ...e, by: admin, at: new Date(now()).toISOString() } };
      await db.put('recoveries', granted);
      return granted;
    } finally {
      raw.fill(0);
    }
  }

  /** The old data key of a granted request, opened with the renewed card's hand-off key (raw: wipe it). */
  async openGrant(r: StoredRecovery, privateKey: CryptoKey): Promise<Uint8Array> {
    if (!r.grant) throw new AtRestError('slot_invalid', 'Demande pas encore accordée.');
    return openFrom(privateKey, r.grant, grantAad(r, r.grant.by));
  }

  /** The request answered and used: removed, with the old card's escrows (its key is retired). */
  async closeRecovery(r: StoredRecovery): Promise<void> {
    const db = await this.connection.get();
    const tx = db.transaction(['recoveries', 'escrows'], 'readwrite');
    await tx.objectStore('recoveries').delete(r.id);
    for (const e of await tx.objectStore('escrows').getAll()) if (e.keyId === r.oldKeyId) await tx.objectStore('escrows').delete(e.id);
    await tx.done;
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
