/**
 * The in-place AES-CBC addon (native/aes_cbc_inplace.c). When it is not built (or
 * TELETRANS_NATIVE=off), `nativeAesCbcInPlace` is null and the node:crypto adapter encrypts
 * into fresh memory instead (same bytes, about a third slower on large lots).
 */
import { loadAddon } from '../native/load-addon.js';

interface Addon {
  /** Encrypts data's whole blocks in place, the last padded block into tail; returns the bytes done in place. */
  encryptInPlace(key: Uint8Array, iv: Uint8Array, data: Uint8Array, tail: Uint8Array): number;
}

/** The addon's function, or null when it is not built (or TELETRANS_NATIVE=off). */
export const nativeAesCbcInPlace: Addon['encryptInPlace'] | null = loadAddon<Addon>('aes_cbc_inplace.node', 'encryptInPlace')?.encryptInPlace ?? null;
