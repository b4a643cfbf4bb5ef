/** What the profiles share: the extendedKeyUsage purposes, the leaf's issuer among a given set of CAs. */
import { type Cert, OID, parseCertificate } from './cert.js';
import { children, readOid, readRoot, TAG } from './der.js';
import { namesEqual } from './name.js';

export const EKU = {
  clientAuth: '1.3.6.1.5.5.7.3.2',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  any: '2.5.29.37.0',
} as const;

/** The purposes, or undefined without the extension; null when unreadable (a refusal for any profile). */
export function extendedKeyUsage(c: Cert): string[] | undefined | null {
  const ext = c.extensions.find((e) => e.oid === OID.extKeyUsage);
  if (!ext) return undefined;
  try {
    const root = readRoot(ext.value);
    if (root.tag !== TAG.SEQUENCE) return null;
    return children(ext.value, root).map((t) => readOid(ext.value, t));
  } catch {
    return null;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The path's issuing CA (path[1]) is one of `issuers` (DER): same name and same key, not merely a chain to an anchor. */
export function issuedByOneOf(path: readonly Cert[], issuers: readonly Uint8Array[]): boolean {
  const ca = path[1];
  return ca !== undefined && issuers.some((der) => {
    try {
      const c = parseCertificate(der);
      return sameBytes(c.spki, ca.spki) && namesEqual(c.subject, ca.subject);
    } catch {
      return false;
    }
  });
}
