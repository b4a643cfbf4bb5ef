/**
 * Loads the PKITS conformance data (test/fixtures/pkits/, see its README): every certificate that is not
 * an end-entity one joins the pool, every CRL joins the CRL pool, the trust anchor is
 * TrustAnchorRootCertificate.crt, and expected.tsv gives the outcome under default settings.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const pkitsDir = join(repoRoot, 'test', 'fixtures', 'pkits');

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

/** The same data as file paths, for what reads files itself (the command line, test/cli/pkits-cli.test.ts). */
export interface PkitsFiles {
  anchor: string;
  pool: string[];
  crls: string[];
  cases: Array<{ name: string; leaf: string; expected: 'valid' | 'invalid' }>;
}

export function pkitsFiles(): PkitsFiles {
  const certDir = join(pkitsDir, 'certs');
  const crlDir = join(pkitsDir, 'crls');
  const anchorName = 'TrustAnchorRootCertificate.crt';
  const certFiles = readdirSync(certDir).filter((f) => f.endsWith('.crt')).sort();
  const pool = certFiles.filter((f) => f !== anchorName && !f.endsWith('EE.crt')).map((f) => join(certDir, f));
  const crls = readdirSync(crlDir)
    .filter((f) => f.endsWith('.crl'))
    .sort()
    .map((f) => join(crlDir, f));
  const lines = readFileSync(join(pkitsDir, 'expected.tsv'), 'utf8').trim().split('\n').slice(1);
  const cases = lines.map((l) => {
    const [name, expected] = l.split('\t') as [string, string];
    if (expected !== 'valid' && expected !== 'invalid') throw new Error(`expected.tsv: bad outcome for ${name}`);
    return { name, leaf: join(certDir, name), expected } as const;
  });
  return { anchor: join(certDir, anchorName), pool, crls, cases };
}

export function loadPkits(): PkitsData {
  const f = pkitsFiles();
  const read = (p: string): Uint8Array => new Uint8Array(readFileSync(p));
  return {
    anchor: read(f.anchor),
    pool: f.pool.map(read),
    crls: f.crls.map(read),
    cases: f.cases.map((c) => ({ name: c.name, leaf: read(c.leaf), expected: c.expected })),
  };
}

/**
 * Representative invalid cases and a reason code each must give, checked by the library test
 * and by the command-line test alike.
 */
export const PKITS_REASONS: ReadonlyArray<readonly [string, string]> = [
  ['InvalidEESignatureTest3EE.crt', 'signature_invalid'],
  ['InvalidEEnotAfterDateTest6EE.crt', 'cert_expired'],
  ['InvalidRevokedEETest3EE.crt', 'cert_revoked'],
  ['InvalidMissingCRLTest1EE.crt', 'crl_missing'],
  ['InvalidpathLenConstraintTest6EE.crt', 'path_length_exceeded'],
  ['InvalidDNnameConstraintsTest8EE.crt', 'name_constraints_violated'],
  ['InvalidcAFalseTest2EE.crt', 'not_ca'],
  ['InvalidOldCRLnextUpdateTest11EE.crt', 'crl_expired'],
  ['InvalidUnknownCriticalCertificateExtensionTest2EE.crt', 'unknown_critical_extension'],
  // Signatures whose BIT STRING has unused bits: a bad signature of that certificate or CRL,
  // not an unreadable file (BadSignedCACert.crt, InvalidDSASignatureTest6EE.crt, BadCRLSignatureCACRL.crl).
  ['InvalidCASignatureTest2EE.crt', 'signature_invalid'],
  ['InvalidDSASignatureTest6EE.crt', 'signature_invalid'],
  ['InvalidBadCRLSignatureTest4EE.crt', 'crl_signature_invalid'],
];
