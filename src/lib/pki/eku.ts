/** The extendedKeyUsage purposes of a certificate, shared by the profiles. */
import { type Cert, OID } from './cert.js';
import { children, readOid, readRoot, TAG } from './der.js';

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
