/**
 * Loads the PKITS conformance data from the shared directory: every certificate that is not
 * an end-entity one joins the pool, every CRL joins the CRL pool, the trust anchor is
 * TrustAnchorRootCertificate.crt, and expected.tsv gives the outcome under default settings.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedDir = process.env.TELETRANS_SHARED ?? resolve(repoRoot, '../shared');
export const pkitsDir = join(sharedDir, 'pkits');

/** PKITS certificates are valid 2010–2030; a fixed instant keeps the suite deterministic. */
export const PKITS_AT = '2024-06-01T00:00:00Z';

export interface PkitsCase {
  name: string;
  leaf: Uint8Array;
  expected: 'valid' | 'invalid';
}

export interface PkitsData {
  anchor: Uint8Array;
  pool: Uint8Array[];
  crls: Uint8Array[];
  cases: PkitsCase[];
}

export function loadPkits(): PkitsData {
  const certDir = join(pkitsDir, 'certs');
  const crlDir = join(pkitsDir, 'crls');
  const read = (p: string): Uint8Array => new Uint8Array(readFileSync(p));
  const anchorName = 'TrustAnchorRootCertificate.crt';
  const certFiles = readdirSync(certDir).filter((f) => f.endsWith('.crt')).sort();
  const pool = certFiles.filter((f) => f !== anchorName && !f.endsWith('EE.crt')).map((f) => read(join(certDir, f)));
  const crls = readdirSync(crlDir)
    .filter((f) => f.endsWith('.crl'))
    .sort()
    .map((f) => read(join(crlDir, f)));
  const lines = readFileSync(join(pkitsDir, 'expected.tsv'), 'utf8').trim().split('\n').slice(1);
  const cases = lines.map((l) => {
    const [name, expected] = l.split('\t') as [string, string];
    if (expected !== 'valid' && expected !== 'invalid') throw new Error(`expected.tsv: bad outcome for ${name}`);
    return { name, leaf: read(join(certDir, name)), expected } as PkitsCase;
  });
  return { anchor: read(join(certDir, anchorName)), pool, crls, cases };
}
