/**
 * Loader of the in-place AES-CBC addon (native/aes_cbc_inplace.c, built by
 * scripts/build-native.sh into native/build/). Optional by design: without a C compiler or
 * Node's headers the build is skipped, `nativeAesCbcInPlace` is null, and the node:crypto
 * adapter encrypts into fresh memory instead (same bytes, about a third slower on large lots).
 *
 * Looked up, in order: $TELETRANS_NATIVE_DIR, then native/build/ in this module's ancestors
 * (the source tree, where the CLI and the tests run).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FILE = 'aes_cbc_inplace.node';

interface Addon {
  /** Encrypts data's whole blocks in place, the last padded block into tail; returns the bytes done in place. */
  encryptInPlace(key: Uint8Array, iv: Uint8Array, data: Uint8Array, tail: Uint8Array): number;
}

function candidates(): string[] {
  const out: string[] = [];
  if (process.env.TELETRANS_NATIVE_DIR) out.push(join(process.env.TELETRANS_NATIVE_DIR, FILE));
  let dir: string;
  try {
    dir = dirname(fileURLToPath(import.meta.url));
  } catch {
    return out; // bundled into a non-file URL: no source tree to search
  }
  for (let i = 0; i < 8; i++) {
    out.push(join(dir, 'native', 'build', FILE));
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return out;
}

function load(): Addon | null {
  if (process.env.TELETRANS_NATIVE === 'off') return null;
  const require = createRequire(import.meta.url);
  for (const path of candidates()) {
    if (!existsSync(path)) continue;
    try {
      const m = require(path) as Partial<Addon>;
      if (typeof m.encryptInPlace === 'function') return m as Addon;
    } catch {
      // Built for another Node ABI or architecture: fall back, as if absent.
    }
  }
  return null;
}

/** The addon's function, or null when it is not built (or TELETRANS_NATIVE=off). */
export const nativeAesCbcInPlace: Addon['encryptInPlace'] | null = load()?.encryptInPlace ?? null;
