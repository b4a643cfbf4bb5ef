/**
 * (b) The official SESAM-Vitale library ("SSV": API Lecture / API CPS, distributed by the
 * GIE SESAM-Vitale to approved software vendors, not public). Real CPS and Vitale cards speak
 * a proprietary command set that only this library reads; a production bridge loads it here.
 *
 * Where it is looked for, in order:
 *   1. the path in the TELETRANS_SSV_LIB environment variable;
 *   2. the usual Linux install locations of the GIE's packages (SSV_CANDIDATES below).
 * Loading it needs an FFI binding (e.g. `koffi`) and the vendor's headers; neither is shipped
 * here. When nothing is found, `detectSsv()` says so and the bridge runs with the virtual
 * card services only. It is never required.
 */
import { existsSync } from 'node:fs';
import type { CardServices } from '../../src/lib/card/services.js';

export const SSV_CANDIDATES = [
  '/opt/santesocial/fsv/lib/libssvlux64.so',
  '/opt/santesocial/fsv/lib/libssv.so',
  '/usr/local/lib/santesocial/libssvlux64.so',
  '/opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so',
];

export interface SsvDetection {
  available: boolean;
  path?: string;
  reason: string;
}

export function detectSsv(env: NodeJS.ProcessEnv = process.env): SsvDetection {
  const candidates = env.TELETRANS_SSV_LIB ? [env.TELETRANS_SSV_LIB] : SSV_CANDIDATES;
  const path = candidates.find((p) => existsSync(p));
  if (!path) return { available: false, reason: `bibliothèque SSV absente (cherchée : ${candidates.join(', ')})` };
  return {
    available: false,
    path,
    reason: `bibliothèque SSV trouvée (${path}) mais son chargement (FFI) n'est pas encore implémenté`,
  };
}

/** Returns the SSV-backed services when the library can be loaded; null otherwise. */
export function loadSsv(env: NodeJS.ProcessEnv = process.env): { services: CardServices | null; detection: SsvDetection } {
  const detection = detectSsv(env);
  // The FFI load goes here (dlopen the library, map its read/sign entry points to CardServices).
  return { services: null, detection };
}
