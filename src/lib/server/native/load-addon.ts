/**
 * Loader of the optional native addons (native/*.c, built by scripts/build-native.sh into
 * native/build/). Optional by design: without a C compiler or Node's headers the build is
 * skipped and `loadAddon` returns null; each caller then takes its JavaScript path (same
 * results, slower). TELETRANS_NATIVE=off disables them all.
 *
 * Looked up, in order: $TELETRANS_NATIVE_DIR, then native/build/ in this module's ancestors
 * (the source tree, where the CLI and the tests run, and above `build/` for the node server).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function candidates(file: string): string[] {
  const out: string[] = [];
  if (process.env.TELETRANS_NATIVE_DIR) out.push(join(process.env.TELETRANS_NATIVE_DIR, file));
  let dir: string;
  try {
    dir = dirname(fileURLToPath(import.meta.url));
  } catch {
    return out; // bundled into a non-file URL: no source tree to search
  }
  for (let i = 0; i < 8; i++) {
    out.push(join(dir, 'native', 'build', file));
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return out;
}

/** The addon `file` (e.g. 'smtp_data.node') if it is built, loads, and exports `fn`; else null. */
export function loadAddon<T extends object>(file: string, fn: keyof T & string): T | null {
  if (process.env.TELETRANS_NATIVE === 'off') return null;
  const require = createRequire(import.meta.url);
  for (const path of candidates(file)) {
    if (!existsSync(path)) continue;
    try {
      const m = require(path) as Partial<T>;
      if (typeof m[fn] === 'function') return m as T;
    } catch {
      // Built for another Node ABI or architecture: fall back, as if absent.
    }
  }
  return null;
}
