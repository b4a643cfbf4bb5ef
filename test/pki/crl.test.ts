/**
 * Streaming CRL reader (src/lib/pki/crl.ts), checked against the real OpenSSL:
 *  - CRLs made by `openssl ca` (reasons, invalidity dates, hold instruction, IDP, delta CRL, v1);
 *  - all PKITS CRLs of the shared directory, compared with `openssl crl -text`;
 *  - a 100 000-entry CRL signed by an OpenSSL-made CA (fixtures/big-crl.ts);
 *  - forged malformations and a seeded mutation fuzz: only PkiError('crl_malformed') may escape.
 */
import { parseCertificate } from '../../src/lib/pki/cert.js';
import { verifySignature } from '../../src/lib/pki/signature.js';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crlEntriesFor, parseCrl } from '../../src/lib/pki/crl.js';
import type { Crl, CrlEntry } from '../../src/lib/pki/crl-model.js';
import { readTime } from '../../src/lib/pki/der.js';
import { PkiError } from '../../src/lib/pki/errors.js';
import { nameToString } from '../../src/lib/pki/name.js';
import {
  SHA256_WITH_RSA,
  bigCrl,
  concat,
  extension,
  generalizedTime,
  int,
  oid,
  seq,
  time,
  tlv,
} from './fixtures/big-crl.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkitsCrlDir = path.join(repoRoot, 'test', 'fixtures', 'pkits', 'crls');
const pkitsCertDir = path.join(repoRoot, 'test', 'fixtures', 'pkits', 'certs');

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** The model's views are Uint8Array<ArrayBufferLike>; WebCrypto's types want an ArrayBuffer-backed view. */
const view = (b: Uint8Array): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>;

function allEntries(crl: Crl): CrlEntry[] {
  const out: CrlEntry[] = [];
  for (const v of crl.entries.values()) {
    if (Array.isArray(v)) out.push(...v);
    else out.push(v);
  }
  return out;
}

/** Serial key (two's complement hex as encoded) → signed value, to compare with OpenSSL's text. */
function serialValue(key: string): bigint {
  let v = BigInt('0x' + key);
  if (parseInt(key[0]!, 16) >= 8) v -= 1n << BigInt(key.length * 4);
  return v;
}

/** Runs `fn`, which must throw PkiError('crl_malformed'); returns it. */
function expectMalformed(fn: () => unknown): PkiError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'une erreur était attendue').toBeInstanceOf(PkiError);
  expect((caught as PkiError).code).toBe('crl_malformed');
  return caught as PkiError;
}

/* ------------------------------------------------------------------------------------------ */
/* OpenSSL text oracle */

interface OsslEntry {
  serial: bigint;
  date: number;
  reason?: number;
  invalidity?: number;
  certIssuer?: string;
}

interface OsslCrl {
  version?: number;
  issuer?: string;
  lastUpdate?: number;
  nextUpdate?: number;
  crlNumber?: bigint;
  deltaBase?: bigint;
  aki?: string;
  entries: OsslEntry[];
}

const MONTHS: Record<string, number> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};

/** "Jan  1 08:30:00 2010 GMT" → ms */
function osslDate(s: string): number {
  const m = /^(\w{3})\s+(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4}) GMT$/.exec(s.trim());
  if (!m) throw new Error(`date OpenSSL illisible : ${s}`);
  return Date.UTC(Number(m[6]), MONTHS[m[1]!]!, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
}

const OSSL_REASONS: Record<string, number> = {
  Unspecified: 0,
  'Key Compromise': 1,
  'CA Compromise': 2,
  'Affiliation Changed': 3,
  Superseded: 4,
  'Cessation Of Operation': 5,
  'Certificate Hold': 6,
  'Remove From CRL': 8,
  'Privilege Withdrawn': 9,
  'AA Compromise': 10,
};

/** OpenSSL prints small integers in decimal, large ones as 0x-prefixed hex: BigInt reads both. */
function osslInteger(s: string): bigint {
  return BigInt(s.trim());
}

/** Parses the output of `openssl crl -text -noout -nameopt RFC2253`. */
function parseOpensslText(text: string): OsslCrl {
  const out: OsslCrl = { entries: [] };
  let cur: OsslEntry | undefined;
  let pending: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('Signature Value:')) break;
    if (pending !== undefined) {
      const what = pending;
      pending = undefined;
      switch (what) {
        case 'crlNumber':
          out.crlNumber = osslInteger(line);
          break;
        case 'delta':
          out.deltaBase = osslInteger(line);
          break;
        case 'aki':
          out.aki = line.replace(/^keyid:/, '').replace(/:/g, '').toLowerCase();
          break;
        case 'reason':
          if (!(line in OSSL_REASONS)) throw new Error(`motif OpenSSL inconnu : ${line}`);
          cur!.reason = OSSL_REASONS[line];
          break;
        case 'invalidity':
          cur!.invalidity = osslDate(line);
          break;
        case 'certIssuer':
          cur!.certIssuer = line;
          break;
      }
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = /^Version (\d+)/.exec(line))) out.version = Number(m[1]);
    else if (line.startsWith('Issuer:')) out.issuer = line.slice('Issuer:'.length).trim();
    else if (line.startsWith('Last Update:')) out.lastUpdate = osslDate(line.slice('Last Update:'.length));
    else if (line.startsWith('Next Update:')) {
      const v = line.slice('Next Update:'.length).trim();
      if (v !== 'NONE') out.nextUpdate = osslDate(v);
    } else if (line.startsWith('X509v3 CRL Number:')) pending = 'crlNumber';
    else if (line.startsWith('X509v3 Delta CRL Indicator:')) pending = 'delta';
    else if (line.startsWith('X509v3 Authority Key Identifier:')) pending = 'aki';
    else if (line.startsWith('Serial Number:')) {
      const s = line.slice('Serial Number:'.length).trim();
      cur = { serial: s.startsWith('-') ? -BigInt('0x' + s.slice(1)) : BigInt('0x' + s), date: NaN };
      out.entries.push(cur);
    } else if (line.startsWith('Revocation Date:')) cur!.date = osslDate(line.slice('Revocation Date:'.length));
    else if (line.startsWith('X509v3 CRL Reason Code:')) pending = 'reason';
    else if (line.startsWith('Invalidity Date:')) pending = 'invalidity';
    else if (line.startsWith('X509v3 Certificate Issuer:')) pending = 'certIssuer';
  }
  return out;
}

function opensslText(file: string, inform: 'DER' | 'PEM' = 'DER'): OsslCrl {
  const text = execFileSync('openssl', ['crl', '-inform', inform, '-in', file, '-text', '-noout', '-nameopt', 'RFC2253'], {
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
  });
  return parseOpensslText(text);
}

/** Our parse, in the oracle's shape, for exact comparison. */
function asOracle(crl: Crl): OsslEntry[] {
  return allEntries(crl).map((e) => {
    const o: OsslEntry = { serial: serialValue(e.serial), date: e.revocationDate };
    if (e.reason !== undefined) o.reason = e.reason;
    if (e.invalidityDate !== undefined) o.invalidity = e.invalidityDate;
    return o;
  });
}

function stripIssuer(entries: OsslEntry[]): OsslEntry[] {
  return entries.map(({ certIssuer: _ignored, ...rest }) => rest);
}

/** OpenSSL RFC 2253 names use a few short names that name.ts prints as OIDs. */
function osslNameForm(s: string): string {
  return s.replace(/\b2\.5\.4\.44=/g, 'generationQualifier=').replace(/\b2\.5\.4\.43=/g, 'initials=');
}

function compareWithOracle(crl: Crl, o: OsslCrl, file: string): void {
  expect(crl.version, file).toBe(o.version);
  expect(crl.thisUpdate, file).toBe(o.lastUpdate);
  expect(crl.nextUpdate, file).toBe(o.nextUpdate);
  expect(crl.crlNumber, file).toBe(o.crlNumber);
  expect(crl.deltaBase, file).toBe(o.deltaBase);
  expect(crl.authorityKeyId === undefined ? undefined : hexOf(crl.authorityKeyId), file).toBe(o.aki);
  expect(osslNameForm(nameToString(crl.issuer)), file).toBe(o.issuer);
  expect(crl.size, file).toBe(o.entries.length);
  expect(asOracle(crl), file).toEqual(stripIssuer(o.entries));
}

/* ------------------------------------------------------------------------------------------ */
/* Synthetic CRLs (unsigned: the parser does not verify signatures) */

const NAME = seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, utf8('Synthetic CA')))), tlv(0x31, seq(oid('2.5.4.6'), tlv(0x13, utf8('FR')))));
const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);

function nameDer(cn: string): Uint8Array {
  return seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, utf8(cn)))));
}

interface Synth {
  version?: Uint8Array | null;
  tbsSigAlg?: Uint8Array;
  sigAlg?: Uint8Array;
  issuer?: Uint8Array;
  thisUpdate?: Uint8Array;
  nextUpdate?: Uint8Array | null;
  /** Entries (each a full SEQUENCE), or a raw revokedCertificates element. */
  entries?: Uint8Array[];
  revokedRaw?: Uint8Array;
  /** CRL extensions (each a full Extension), or null for none. */
  exts?: Uint8Array[] | null;
  extsRaw?: Uint8Array;
  tbsTail?: Uint8Array;
  signature?: Uint8Array;
}

function synth(o: Synth = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  if (o.version !== null) parts.push(o.version ?? int(1));
  parts.push(o.tbsSigAlg ?? SHA256_WITH_RSA, o.issuer ?? NAME, o.thisUpdate ?? time(T0));
  if (o.nextUpdate !== null) parts.push(o.nextUpdate ?? time(T0 + 7 * 86400_000));
  if (o.revokedRaw) parts.push(o.revokedRaw);
  else if (o.entries) parts.push(seq(concat(o.entries)));
  if (o.extsRaw) parts.push(o.extsRaw);
  else if (o.exts !== null) parts.push(tlv(0xa0, seq(...(o.exts ?? [extension('2.5.29.20', false, int(7))]))));
  if (o.tbsTail) parts.push(o.tbsTail);
  const tbs = seq(...parts);
  return seq(tbs, o.sigAlg ?? SHA256_WITH_RSA, o.signature ?? tlv(0x03, bytes(0), new Uint8Array(32).fill(0xab)));
}

function entry(serialHex: string, date: number | Uint8Array, exts?: Uint8Array[]): Uint8Array {
  const d = typeof date === 'number' ? time(date) : date;
  return exts ? seq(tlv(0x02, fromHex(serialHex)), d, seq(...exts)) : seq(tlv(0x02, fromHex(serialHex)), d);
}

const reasonExt = (r: number): Uint8Array => extension('2.5.29.21', false, tlv(0x0a, bytes(r)));
const certIssuerExt = (cn: string): Uint8Array => extension('2.5.29.29', true, seq(tlv(0xa4, nameDer(cn))));

/* ------------------------------------------------------------------------------------------ */

describe('CRL produced by openssl ca', () => {
  let dir = '';
  let crlDer: Uint8Array;
  let deltaDer: Uint8Array;
  let v1Der: Uint8Array;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'teletrans-crl-'));
    const run = (args: string[], cwd = dir): string =>
      execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const cnf = (crlnumber: boolean): string => `
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = .
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/ca.pem
private_key = $dir/ca.key
${crlnumber ? 'crlnumber = $dir/crlnumber' : ''}
default_md = sha256
default_days = 365
default_crl_days = 30
policy = policy_any
unique_subject = no
[ policy_any ]
commonName = supplied
[ crl_ext ]
authorityKeyIdentifier = keyid:always
issuingDistributionPoint = critical, @idp
[ idp ]
fullname = URI:http://crl.example.test/ca.crl
onlyuser = TRUE
onlysomereasons = keyCompromise, CACompromise
[ delta_ext ]
authorityKeyIdentifier = keyid:always
deltaCRL = critical, ASN1:INTEGER:4095
`;
    mkdirSync(path.join(dir, 'newcerts'));
    writeFileSync(path.join(dir, 'index.txt'), '');
    writeFileSync(path.join(dir, 'crlnumber'), '1000\n');
    writeFileSync(path.join(dir, 'ca.cnf'), cnf(true));
    run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30',
      '-subj', '/C=FR/O=Teletrans Tests/OU=Unit/CN=CRL Test CA']);
    run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'leaf.key']);
    const revoke: Array<[string, string[]]> = [
      ['01', ['-crl_compromise', '20240101120000Z']],
      ['0080', ['-crl_hold', 'holdInstructionReject']],
      ['7fffffffffffffffffffffffffffffffffffff01', ['-crl_reason', 'removeFromCRL']],
      ['1234', []],
      ['05', ['-crl_reason', 'superseded']],
      ['06', ['-crl_reason', 'cessationOfOperation']],
      ['07', ['-crl_reason', 'affiliationChanged']],
      ['08', ['-crl_CA_compromise', '20230601000000Z']],
      ['09', ['-crl_reason', 'unspecified']],
      ['0a', ['-crl_reason', 'keyCompromise']],
    ];
    for (const [serial, args] of revoke) {
      run(['req', '-new', '-key', 'leaf.key', '-subj', `/CN=leaf ${serial}`, '-out', `r${serial}.csr`]);
      run(['x509', '-req', '-in', `r${serial}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', `0x${serial}`,
        '-days', '30', '-out', `c${serial}.pem`]);
      run(['ca', '-config', 'ca.cnf', '-revoke', `c${serial}.pem`, ...args]);
    }
    run(['ca', '-config', 'ca.cnf', '-gencrl', '-crlexts', 'crl_ext', '-crlhours', '12', '-out', 'crl.pem']);
    run(['crl', '-in', 'crl.pem', '-outform', 'DER', '-out', 'crl.der']);
    run(['ca', '-config', 'ca.cnf', '-gencrl', '-crlexts', 'delta_ext', '-out', 'delta.pem']);
    run(['crl', '-in', 'delta.pem', '-outform', 'DER', '-out', 'delta.der']);
    crlDer = new Uint8Array(readFileSync(path.join(dir, 'crl.der')));
    deltaDer = new Uint8Array(readFileSync(path.join(dir, 'delta.der')));

    // A v1 CRL: no crlnumber file, no CRL extensions, entries without extensions.
    const v1 = path.join(dir, 'v1');
    mkdirSync(path.join(v1, 'newcerts'), { recursive: true });
    writeFileSync(path.join(v1, 'index.txt'), '');
    writeFileSync(path.join(v1, 'ca.cnf'), cnf(false));
    for (const f of ['ca.pem', 'ca.key', 'c1234.pem', 'c05.pem']) writeFileSync(path.join(v1, f), readFileSync(path.join(dir, f)));
    run(['ca', '-config', 'ca.cnf', '-revoke', 'c1234.pem'], v1);
    run(['ca', '-config', 'ca.cnf', '-revoke', 'c05.pem'], v1);
    run(['ca', '-config', 'ca.cnf', '-gencrl', '-out', 'crl.pem'], v1);
    run(['crl', '-in', 'crl.pem', '-outform', 'DER', '-out', 'crl.der'], v1);
    v1Der = new Uint8Array(readFileSync(path.join(v1, 'crl.der')));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('matches openssl crl -text: header, issuer, extensions, every entry', () => {
    const crl = parseCrl(crlDer);
    compareWithOracle(crl, opensslText(path.join(dir, 'crl.der')), 'crl.der');
    expect(crl.version).toBe(2);
    expect(crl.size).toBe(10);
    expect(crl.crlNumber).toBe(0x1000n);
    expect(crl.deltaBase).toBeUndefined();
    expect(crl.unknownCriticalExtensions).toEqual([]);
    expect(nameToString(crl.issuer)).toBe('CN=CRL Test CA,OU=Unit,O=Teletrans Tests,C=FR');
    expect(crl.nextUpdate! - crl.thisUpdate).toBe(12 * 3600_000);
  });

  it('reads the serials as encoded, the reasons and the invalidity dates', () => {
    const crl = parseCrl(crlDer);
    const e = (s: string): CrlEntry => {
      const v = crl.entries.get(s);
      expect(v, s).toBeDefined();
      expect(Array.isArray(v)).toBe(false);
      return v as CrlEntry;
    };
    expect(e('01').reason).toBe(1);
    expect(e('01').invalidityDate).toBe(Date.UTC(2024, 0, 1, 12, 0, 0));
    expect(e('0080').reason).toBe(6); // certificateHold (+ non-critical holdInstructionCode, ignored)
    expect(e('0080').unknownCriticalExtensions).toBeUndefined();
    expect(e('7fffffffffffffffffffffffffffffffffffff01').reason).toBe(8);
    expect(e('1234').reason).toBeUndefined();
    expect(e('1234')).toEqual({ serial: '1234', revocationDate: e('1234').revocationDate });
    expect(e('05').reason).toBe(4);
    expect(e('06').reason).toBe(5);
    expect(e('07').reason).toBe(3);
    expect(e('08').reason).toBe(2);
    expect(e('08').invalidityDate).toBe(Date.UTC(2023, 5, 1));
    expect(e('09').reason).toBe(0);
    expect(e('0a').reason).toBe(1);
    expect(crl.entries.has('80')).toBe(false); // the key keeps the sign octet: "0080"
    expect(crlEntriesFor(crl, '0A').map((x) => x.serial)).toEqual(['0a']);
    expect(crlEntriesFor(crl, '0b')).toEqual([]);
    for (const x of allEntries(crl)) expect(x.certificateIssuer).toBeUndefined();
  });

  it('reads the issuing distribution point and the authority key identifier', () => {
    const crl = parseCrl(crlDer);
    expect(crl.idp).toBeDefined();
    expect(crl.idp!.onlyUserCerts).toBe(true);
    expect(crl.idp!.onlyCaCerts).toBe(false);
    expect(crl.idp!.indirectCrl).toBe(false);
    expect(crl.idp!.onlySomeReasons).toBe((1 << 1) | (1 << 2));
    expect(crl.idp!.name).toEqual({ kind: 'full', names: [{ kind: 'uri', value: 'http://crl.example.test/ca.crl' }] });
    const ski = execFileSync('openssl', ['x509', '-in', path.join(dir, 'ca.pem'), '-noout', '-ext', 'subjectKeyIdentifier'], {
      encoding: 'utf8',
    });
    expect(hexOf(crl.authorityKeyId!)).toBe(ski.split('\n')[1]!.trim().replace(/:/g, '').toLowerCase());
  });

  it('reads a delta CRL (deltaCRLIndicator)', () => {
    const crl = parseCrl(deltaDer);
    compareWithOracle(crl, opensslText(path.join(dir, 'delta.der')), 'delta.der');
    expect(crl.deltaBase).toBe(4095n);
    expect(crl.crlNumber).toBe(0x1001n);
    expect(crl.idp).toBeUndefined();
  });

  it('reads a v1 CRL', () => {
    const crl = parseCrl(v1Der);
    compareWithOracle(crl, opensslText(path.join(dir, 'v1', 'crl.der')), 'v1/crl.der');
    expect(crl.version).toBe(1);
    expect(crl.size).toBe(2);
    expect(crl.crlNumber).toBeUndefined();
  });

  it('exposes the signed bytes and the signature: WebCrypto verifies them with the CA key', async () => {
    const crl = parseCrl(crlDer);
    expect(crl.der).toBe(crlDer);
    expect(crl.tbs.buffer).toBe(crlDer.buffer); // a view, not a copy
    expect(crl.tbsSignatureAlgorithm).toEqual({ oid: '1.2.840.113549.1.1.11', params: bytes(5, 0) });
    expect(crl.signatureAlgorithm.oid).toBe('1.2.840.113549.1.1.11');
    expect(crl.signature.length).toBe(256);
    const spkiPem = execFileSync('openssl', ['x509', '-in', path.join(dir, 'ca.pem'), '-noout', '-pubkey'], { encoding: 'utf8' });
    const spki = Buffer.from(spkiPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const key = await crypto.subtle.importKey('spki', spki, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['verify']);
    expect(await crypto.subtle.verify('RSASSA-PKCS1-v1_5', key, view(crl.signature), view(crl.tbs))).toBe(true);
    const tampered = crl.tbs.slice();
    tampered[tampered.length - 1]! ^= 1;
    expect(await crypto.subtle.verify('RSASSA-PKCS1-v1_5', key, view(crl.signature), tampered)).toBe(false);
  });

  it('rejects every truncation of the CRL with crl_malformed', () => {
    for (let n = 0; n < crlDer.length; n++) expectMalformed(() => parseCrl(crlDer.subarray(0, n)));
  });
});

/* ------------------------------------------------------------------------------------------ */

describe('PKITS CRLs', () => {
  const files = readdirSync(pkitsCrlDir).filter((f) => f.endsWith('.crl')).sort();
  const read = (f: string): Uint8Array => new Uint8Array(readFileSync(path.join(pkitsCrlDir, f)));
  /** The one PKITS CRL whose signature BIT STRING declares 1 unused bit (test 4.4.3). */
  const BAD_BITS = 'BadCRLSignatureCACRL.crl';

  it('has the 173 CRLs', () => {
    expect(files.length).toBe(173);
  });

  it('parses every CRL like openssl crl -text (entries, serials, reasons, dates, extensions)', () => {
    // One shell, 173 openssl runs.
    const text = execFileSync(
      'bash',
      ['-c', 'for f in "$@"; do printf "=====%s\\n" "$f"; openssl crl -inform DER -in "$f" -text -noout -nameopt RFC2253; done', 'bash', ...files],
      { cwd: pkitsCrlDir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    const oracle = new Map<string, OsslCrl>();
    for (const chunk of text.split('=====').slice(1)) {
      const nl = chunk.indexOf('\n');
      oracle.set(chunk.slice(0, nl), parseOpensslText(chunk.slice(nl + 1)));
    }
    expect(oracle.size).toBe(173);
    let compared = 0;
    let withEntries = 0;
    for (const f of files) {
      const crl = parseCrl(read(f));
      compareWithOracle(crl, oracle.get(f)!, f);
      compared++;
      if (crl.size > 0) withEntries++;
    }
    expect(compared).toBe(173);
    expect(withEntries).toBe(24);
  });

  it('reads the CRL whose signature declares unused bits (BadCRLSignatureCACRL), whose signature then fails', async () => {
    const crl = parseCrl(read(BAD_BITS));
    const ca = new Uint8Array(readFileSync(path.join(pkitsCrlDir, '..', 'certs', 'BadCRLSignatureCACert.crt')));
    const cert = parseCertificate(ca);
    const ok = await verifySignature(crl.signatureAlgorithm, { spki: cert.spki, algorithm: cert.spkiAlgorithm, key: cert.publicKey }, crl.signature, crl.tbs);
    expect(ok).toBe(false);
  });

  it('reads a delta CRL: deltaCRLCA1deltaCRL', () => {
    const crl = parseCrl(read('deltaCRLCA1deltaCRL.crl'));
    expect(crl.deltaBase).toBe(1n);
    expect(crl.crlNumber).toBe(5n);
    expect(crl.unknownCriticalExtensions).toEqual([]);
    expect(allEntries(crl).map((e) => [e.serial, e.reason])).toEqual([
      ['03', 1],
      ['04', 8],
      ['05', 1],
      ['06', 8],
    ]);
    expect(parseCrl(read('deltaCRLIndicatorNoBaseCACRL.crl')).deltaBase).toBe(1n);
    expect(parseCrl(read('deltaCRLCA1CRL.crl')).deltaBase).toBeUndefined();
  });

  it('reads the onlyContains* and onlySomeReasons IDP flags', () => {
    const user = parseCrl(read('onlyContainsUserCertsCACRL.crl'));
    expect(user.idp).toEqual({ onlyUserCerts: true, onlyCaCerts: false, indirectCrl: false, onlyAttributeCerts: false });
    expect(user.size).toBe(0);
    expect(user.entries.size).toBe(0);
    expect(parseCrl(read('onlyContainsCACertsCACRL.crl')).idp!.onlyCaCerts).toBe(true);
    expect(parseCrl(read('onlyContainsAttributeCertsCACRL.crl')).idp!.onlyAttributeCerts).toBe(true);
    expect(parseCrl(read('onlySomeReasonsCA1compromiseCRL.crl')).idp!.onlySomeReasons).toBe(0b110);
    expect(parseCrl(read('onlySomeReasonsCA1otherreasonsCRL.crl')).idp!.onlySomeReasons).toBe(0x1f8);
    expect(parseCrl(read('distributionPoint2CACRL.crl')).idp!.name!.kind).toBe('relative');
    expect(parseCrl(read('NoissuingDistributionPointCACRL.crl')).idp).toBeUndefined();
  });

  it('applies certificateIssuer to the following entries (indirectCRLCA5CRL)', () => {
    const crl = parseCrl(read('indirectCRLCA5CRL.crl'));
    expect(crl.idp!.indirectCrl).toBe(true);
    expect(crl.size).toBe(11);
    const es = allEntries(crl);
    expect(es.map((e) => e.serial)).toEqual(['01', '02', '03', '04', '05', '06', '07', '08', '09', '0a', '0b']);
    const cn = (e: CrlEntry): string | undefined => {
      if (!e.certificateIssuer) return undefined;
      const g = e.certificateIssuer[0]!;
      return g.kind === 'directory' ? nameToString(g.name) : g.kind;
    };
    expect(es.map(cn)).toEqual([
      undefined,
      'CN=indirectCRL CA6,O=Test Certificates 2011,C=US',
      'CN=indirectCRL CA6,O=Test Certificates 2011,C=US',
      'CN=indirectCRL CA6,O=Test Certificates 2011,C=US',
      'CN=indirectCRL CA7,O=Test Certificates 2011,C=US',
      'CN=indirectCRL CA7,O=Test Certificates 2011,C=US',
      'CN=indirectCRL CA7,O=Test Certificates 2011,C=US',
      'CN=indirectCRL CA6,O=Test Certificates 2011,C=US',
      'CN=indirectCRL CA6,O=Test Certificates 2011,C=US',
      'OU=indirectCRL CA5,O=Test Certificates 2011,C=US',
      'OU=indirectCRL CA5,O=Test Certificates 2011,C=US',
    ]);
    // Inherited entries share the very array of the entry that carried the extension.
    expect(es[2]!.certificateIssuer).toBe(es[1]!.certificateIssuer);
    expect(es[3]!.certificateIssuer).toBe(es[1]!.certificateIssuer);
    expect(es[6]!.certificateIssuer).toBe(es[4]!.certificateIssuer);
    expect(es[7]!.certificateIssuer).not.toBe(es[1]!.certificateIssuer);
    expect(es[10]!.certificateIssuer).toBe(es[9]!.certificateIssuer);
    for (const e of es) expect(e.reason).toBe(1);
  });

  it('reports unknown critical CRL and entry extensions', () => {
    expect(parseCrl(read('UnknownCRLExtensionCACRL.crl')).unknownCriticalExtensions).toEqual(['2.16.840.1.101.2.1.12.2']);
    const crl = parseCrl(read('UnknownCRLEntryExtensionCACRL.crl'));
    expect(crl.unknownCriticalExtensions).toEqual([]);
    expect(crlEntriesFor(crl, '01')[0]!.unknownCriticalExtensions).toEqual(['2.16.840.1.101.2.1.12.2']);
    expect(crlEntriesFor(crl, '01')[0]!.reason).toBe(1);
  });

  it('reads odd serials and dates', () => {
    expect([...parseCrl(read('NegativeSerialNumberCACRL.crl')).entries.keys()]).toEqual(['ff']);
    expect([...parseCrl(read('LongSerialNumberCACRL.crl')).entries.keys()]).toEqual(['7f0102030405060708090a0b0c0d0e0f10111213']);
    expect(parseCrl(read('GeneralizedTimeCRLnextUpdateCACRL.crl')).nextUpdate).toBe(Date.UTC(2050, 0, 1, 12, 1, 0));
    const pre2000 = parseCrl(read('pre2000CRLnextUpdateCACRL.crl'));
    expect(pre2000.thisUpdate).toBe(Date.UTC(1998, 0, 1, 12, 1, 0));
    expect(pre2000.nextUpdate).toBe(Date.UTC(1999, 0, 1, 12, 1, 0));
  });

  it('exposes tbs and signature: GoodCACRL verifies with GoodCACert', async () => {
    const crl = parseCrl(read('GoodCACRL.crl'));
    const pub = execFileSync('openssl', ['x509', '-inform', 'DER', '-in', path.join(pkitsCertDir, 'GoodCACert.crt'), '-noout', '-pubkey'], {
      encoding: 'utf8',
    });
    const key = await crypto.subtle.importKey(
      'spki',
      Buffer.from(pub.replace(/-----[^-]+-----|\s/g, ''), 'base64'),
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      false,
      ['verify'],
    );
    expect(await crypto.subtle.verify('RSASSA-PKCS1-v1_5', key, view(crl.signature), view(crl.tbs))).toBe(true);
  });

  it('rejects every truncation and survives every bit flip of indirectCRLCA5CRL', () => {
    const der = read('indirectCRLCA5CRL.crl');
    for (let n = 0; n < der.length; n++) expectMalformed(() => parseCrl(der.subarray(0, n)));
    let rejected = 0;
    const others: string[] = [];
    for (let i = 0; i < der.length * 8; i++) {
      const m = der.slice();
      m[i >> 3]! ^= 0x80 >> (i & 7);
      try {
        parseCrl(m);
      } catch (e) {
        if (e instanceof PkiError && e.code === 'crl_malformed') rejected++;
        else others.push(`bit ${i}: ${String(e)}`);
      }
    }
    expect(others).toEqual([]);
    expect(rejected).toBeGreaterThan(der.length); // most flips outside the signature break something
  });
});

/* ------------------------------------------------------------------------------------------ */

describe('100 000-entry CRL', () => {
  it('is signed by the fixture CA (openssl verify OK) and parses like openssl', async () => {
    const big = await bigCrl(100_000);
    expect(big.der.length).toBeGreaterThan(4_000_000);
    const v = spawnSync('openssl', ['crl', '-inform', 'DER', '-in', big.path, '-CAfile', big.issuerCertPath, '-noout'], {
      encoding: 'utf8',
    });
    expect(v.status).toBe(0);
    expect(v.stdout + v.stderr).toMatch(/verify OK/);

    const t0 = performance.now();
    const crl = parseCrl(big.der);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(5000); // the benchmark (bench/crl-parse.ts) measures it properly
    expect(crl.size).toBe(100_000);
    expect(crl.entries.size).toBe(100_000);
    expect(crl.crlNumber).toBe(100_000n);

    const o = opensslText(big.path);
    expect(o.entries.length).toBe(100_000);
    expect(crl.thisUpdate).toBe(o.lastUpdate);
    expect(crl.nextUpdate).toBe(o.nextUpdate);
    expect(hexOf(crl.authorityKeyId!)).toBe(o.aki);
    const ours = asOracle(crl);
    // Spot checks first (readable failures), then everything.
    for (const i of [0, 1, 2, 4_999, 50_000, 99_998, 99_999]) expect(ours[i], `entrée ${i}`).toEqual(o.entries[i]);
    expect(ours).toEqual(o.entries);
    const withReason = ours.filter((e) => e.reason !== undefined).length;
    expect(withReason).toBe(50_000);
    expect(ours.filter((e) => e.invalidity !== undefined).length).toBeGreaterThan(1000);
    for (const e of allEntries(crl).slice(0, 100)) expect(e.serial).toMatch(/^[0-7][0-9a-f]{31}$/);
  }, 120_000);
});

/* ------------------------------------------------------------------------------------------ */

describe('synthetic CRLs', () => {
  it('parses the minimal forms', () => {
    const crl = parseCrl(synth({ nextUpdate: null, exts: null, version: null }));
    expect(crl.version).toBe(1);
    expect(crl.nextUpdate).toBeUndefined();
    expect(crl.size).toBe(0);
    expect(crl.issuer.rdns.length).toBe(2);
    // An empty revokedCertificates list (should be absent per RFC 5280, harmless).
    expect(parseCrl(synth({ revokedRaw: seq() })).size).toBe(0);
    // Explicit critical FALSE (not DER, common in the wild) is tolerated.
    const e = parseCrl(synth({ entries: [entry('01', T0, [seq(oid('2.5.29.21'), tlv(0x01, bytes(0)), tlv(0x04, tlv(0x0a, bytes(1))))])] }));
    expect(crlEntriesFor(e, '01')[0]!.reason).toBe(1);
  });

  it('groups duplicate serials (indirect CRL) and keeps the certificateIssuer of each', () => {
    const crl = parseCrl(
      synth({
        entries: [
          entry('05', T0, [reasonExt(1)]),
          entry('05', T0 + 1000, [certIssuerExt('Other CA'), reasonExt(4)]),
          entry('06', T0 + 2000),
          entry('05', T0 + 3000),
        ],
        exts: [extension('2.5.29.28', true, seq(tlv(0x84, bytes(0xff))))],
      }),
    );
    expect(crl.idp!.indirectCrl).toBe(true);
    expect(crl.size).toBe(4);
    expect(crl.entries.size).toBe(2);
    const fives = crlEntriesFor(crl, '05');
    expect(fives.map((e) => [e.revocationDate - T0, e.reason])).toEqual([
      [0, 1],
      [1000, 4],
      [3000, undefined],
    ]);
    expect(fives[0]!.certificateIssuer).toBeUndefined();
    expect(fives[1]!.certificateIssuer![0]).toMatchObject({ kind: 'directory' });
    expect(fives[2]!.certificateIssuer).toBe(fives[1]!.certificateIssuer);
    expect(crlEntriesFor(crl, '06')[0]!.certificateIssuer).toBe(fives[1]!.certificateIssuer);
    // crlEntriesFor returns a copy: the CRL is not mutated through it.
    crlEntriesFor(crl, '05').pop();
    expect(crlEntriesFor(crl, '05').length).toBe(3);
  });

  it('reads every field of the CRL extensions', () => {
    const crl = parseCrl(
      synth({
        exts: [
          extension('2.5.29.35', false, seq(tlv(0x80, bytes(1, 2, 3)), tlv(0xa1, seq(tlv(0xa4, NAME))), tlv(0x82, bytes(9)))),
          extension('2.5.29.20', false, tlv(0x02, fromHex('00ffffffffffffffffffffffffffffffffffffff'))),
          extension('2.5.29.27', false, int(0)), // should be critical; still a delta CRL
          extension('2.5.29.46', true, seq(seq(tlv(0xa0, tlv(0xa0, tlv(0x86, utf8('http://x/delta.crl'))))))),
          extension('2.5.29.18', false, seq(tlv(0x82, utf8('ca.example')))),
          extension('1.2.3.4', true, tlv(0x05, bytes())),
          extension('1.2.3.5', false, tlv(0x05, bytes())),
        ],
      }),
    );
    expect(crl.authorityKeyId).toEqual(bytes(1, 2, 3));
    expect(crl.crlNumber).toBe((1n << 152n) - 1n);
    expect(crl.deltaBase).toBe(0n);
    expect(crl.unknownCriticalExtensions).toEqual(['1.2.3.4']);
    // AKI without keyIdentifier
    expect(parseCrl(synth({ exts: [extension('2.5.29.35', false, seq(tlv(0x82, bytes(9))))] })).authorityKeyId).toBeUndefined();
  });

  it('reads every entry extension', () => {
    const crl = parseCrl(
      synth({
        entries: [
          entry('01', T0, [
            reasonExt(10),
            extension('2.5.29.24', false, generalizedTime(T0 - 86400_000)),
            extension('2.5.29.23', false, oid('1.2.840.10040.2.2')),
            extension('1.2.3.4', true, tlv(0x05, bytes())),
            extension('1.2.3.5', true, tlv(0x05, bytes())),
          ]),
          entry('02', T0, [reasonExt(0)]),
          entry('03', T0, [reasonExt(9)]),
        ],
      }),
    );
    const e = crlEntriesFor(crl, '01')[0]!;
    expect(e).toEqual({
      serial: '01',
      revocationDate: T0,
      reason: 10,
      invalidityDate: T0 - 86400_000,
      unknownCriticalExtensions: ['1.2.3.4', '1.2.3.5'],
    });
    expect(crlEntriesFor(crl, '02')[0]!.reason).toBe(0);
    expect(crlEntriesFor(crl, '03')[0]!.reason).toBe(9);
  });

  it('decodes dates exactly like der.ts readTime, UTCTime and GeneralizedTime', () => {
    let seed = 12345;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const samples: number[] = [
      Date.UTC(1950, 0, 1),
      Date.UTC(2049, 11, 31, 23, 59, 59),
      Date.UTC(2000, 1, 29, 1, 2, 3),
      Date.UTC(2024, 1, 29),
      Date.UTC(2050, 0, 1),
      Date.UTC(2100, 1, 28, 23, 59, 59),
      Date.UTC(1900, 2, 1),
      Date.UTC(2400, 1, 29),
      Date.UTC(9999, 11, 31, 23, 59, 59),
    ];
    for (let i = 0; i < 2000; i++) samples.push(Date.UTC(1950, 0, 1) + Math.floor(rnd() * 150 * 365.25 * 86400) * 1000);
    const entries = samples.map((ms, i) => entry((i + 1).toString(16).padStart(4, '0'), time(ms)));
    const gens = samples.slice(0, 500).map((ms, i) => entry('7f' + (i + 1).toString(16).padStart(4, '0'), generalizedTime(ms)));
    const crl = parseCrl(synth({ entries: [...entries, ...gens] }));
    const es = allEntries(crl);
    for (let i = 0; i < samples.length; i++) expect(es[i]!.revocationDate, new Date(samples[i]!).toISOString()).toBe(samples[i]);
    for (let i = 0; i < gens.length; i++) expect(es[samples.length + i]!.revocationDate).toBe(samples[i]);
    // Same answers as readTime on the very bytes.
    const der = synth({ entries: [...entries.slice(0, 300), ...gens.slice(0, 300)] });
    const back = allEntries(parseCrl(der));
    let p = 0;
    for (const e of back) {
      // find the Time element right after the serial in the DER: scan for the serial bytes
      const enc = e.serial.startsWith('7f') ? generalizedTime(e.revocationDate) : time(e.revocationDate);
      p = Buffer.from(der).indexOf(Buffer.from(enc), p);
      expect(p).toBeGreaterThan(0);
      expect(readTime(der, { tag: der[p]!, start: p, valueStart: p + 2, end: p + 2 + der[p + 1]! })).toBe(e.revocationDate);
    }
    // Fractional seconds (tolerated by readTime in GeneralizedTime) and the leap second.
    const frac = parseCrl(synth({ entries: [entry('01', tlv(0x18, utf8('20240101120000.25Z')))] }));
    expect(crlEntriesFor(frac, '01')[0]!.revocationDate).toBe(T0 + 250);
    const leap = parseCrl(synth({ entries: [entry('01', tlv(0x17, utf8('161231120060Z')))] }));
    expect(crlEntriesFor(leap, '01')[0]!.revocationDate).toBe(Date.UTC(2016, 11, 31, 12, 1, 0));
  });

  it('rejects bad dates', () => {
    for (const bad of [
      tlv(0x17, utf8('240230120000Z')), // 30 February
      tlv(0x17, utf8('230229120000Z')), // not a leap year
      tlv(0x18, utf8('21000229120000Z')), // 2100 is not a leap year
      tlv(0x17, utf8('241301120000Z')), // month 13
      tlv(0x17, utf8('240100120000Z')), // day 0
      tlv(0x17, utf8('240101240000Z')), // hour 24
      tlv(0x17, utf8('240101126000Z')), // minute 60
      tlv(0x17, utf8('240101120061Z')), // second 61
      tlv(0x17, utf8('2401011200Z')), // no seconds
      tlv(0x17, utf8('240101120000+0100')),
      tlv(0x17, utf8('24010112000OZ')),
      tlv(0x17, utf8('2401011200 0Z')),
      tlv(0x17, utf8('240101120000z')),
      tlv(0x18, utf8('20240101120000')), // local time
      tlv(0x18, utf8('202401011200Z')),
      tlv(0x18, utf8('20240101120000.Z')),
      tlv(0x04, utf8('240101120000Z')), // not a time
      tlv(0x17, bytes()),
    ]) {
      expectMalformed(() => parseCrl(synth({ entries: [entry('01', bad)] })));
      expectMalformed(() => parseCrl(synth({ thisUpdate: bad })));
    }
    expectMalformed(() => parseCrl(synth({ nextUpdate: tlv(0x17, utf8('240230120000Z')) })));
    // invalidityDate must be a GeneralizedTime
    expectMalformed(() => parseCrl(synth({ entries: [entry('01', T0, [extension('2.5.29.24', false, time(T0))])] })));
  });

  it('rejects malformed headers and signatures', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['version 0 explicite', synth({ version: int(0) })],
      ['version 3', synth({ version: int(2) })],
      ['version non minimale', synth({ version: tlv(0x02, bytes(0, 1)) })],
      ['algorithmes différents', synth({ sigAlg: seq(oid('1.2.840.113549.1.1.11')) })],
      ['algorithme sans OID', synth({ tbsSigAlg: seq(tlv(0x05, bytes())), sigAlg: seq(tlv(0x05, bytes())) })],
      ['algorithme avec trois champs', synth({ tbsSigAlg: seq(oid('1.2.3'), tlv(0x05, bytes()), tlv(0x05, bytes())) })],
      ['bits inutilisés invalides', synth({ signature: tlv(0x03, bytes(8, 0xf8)) })],
      ['signature vide', synth({ signature: tlv(0x03, bytes()) })],
      ['signature en OCTET STRING', synth({ signature: tlv(0x04, bytes(0, 1)) })],
      ['émetteur absent', synth({ issuer: time(T0), thisUpdate: time(T0) })],
      ['émetteur en SET', synth({ issuer: tlv(0x31, bytes()) })],
      ['thisUpdate absent', synth({ thisUpdate: seq(), nextUpdate: null, exts: null })],
      ['élément inconnu en fin de tbs', synth({ tbsTail: tlv(0xa1, bytes()) })],
      ['extensions en double emballage', synth({ extsRaw: tlv(0xa0, seq(), seq()) })],
      ['extensions implicites', synth({ extsRaw: tlv(0xa0, extension('2.5.29.20', false, int(1))) })],
      ['extensions de LCR en v1', synth({ version: null })],
      ["extensions d'entrée en v1", synth({ version: null, exts: null, entries: [entry('01', T0, [reasonExt(1)])] })],
      ['entrées et extensions inversées', synth({ extsRaw: tlv(0xa0, seq(extension('2.5.29.20', false, int(1)))), tbsTail: seq(entry('01', T0)) })],
    ];
    for (const [what, der] of cases) {
      let err: unknown;
      try {
        parseCrl(der);
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(PkiError);
      expect((err as PkiError).code, what).toBe('crl_malformed');
      expect((err as PkiError).message, what).toMatch(/^Liste de révocation \(LCR\) invalide/);
    }
  });

  it('rejects malformed entries', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['motif 7', synth({ entries: [entry('01', T0, [reasonExt(7)])] })],
      ['motif 11', synth({ entries: [entry('01', T0, [reasonExt(11)])] })],
      ['motif 255', synth({ entries: [entry('01', T0, [reasonExt(255)])] })],
      ['motif en INTEGER', synth({ entries: [entry('01', T0, [extension('2.5.29.21', false, int(1))])] })],
      ['motif sur deux octets', synth({ entries: [entry('01', T0, [extension('2.5.29.21', false, tlv(0x0a, bytes(0, 1)))])] })],
      ['motif vide', synth({ entries: [entry('01', T0, [extension('2.5.29.21', false, tlv(0x0a, bytes()))])] })],
      ['motif suivi de données', synth({ entries: [entry('01', T0, [extension('2.5.29.21', false, concat([tlv(0x0a, bytes(1)), tlv(0x05, bytes())]))])] })],
      ['motif en double', synth({ entries: [entry('01', T0, [reasonExt(1), reasonExt(1)])] })],
      ['date d’invalidité en double', synth({ entries: [entry('01', T0, [extension('2.5.29.24', false, generalizedTime(T0)), extension('2.5.29.24', false, generalizedTime(T0))])] })],
      ['émetteur en double', synth({ entries: [entry('01', T0, [certIssuerExt('A'), certIssuerExt('B')])] })],
      ['extension inconnue en double', synth({ entries: [entry('01', T0, [extension('1.2.3', false, tlv(0x05, bytes())), extension('1.2.3', true, tlv(0x05, bytes()))])] })],
      ['extnValue à deux éléments', synth({ entries: [entry('01', T0, [extension('1.2.3', false, concat([tlv(0x05, bytes()), tlv(0x05, bytes())]))])] })],
      ['extnValue vide', synth({ entries: [entry('01', T0, [extension('1.2.3', false, bytes())])] })],
      ['extension sans extnValue', synth({ entries: [entry('01', T0, [seq(oid('1.2.3'))])] })],
      ['BOOLEAN sur deux octets', synth({ entries: [entry('01', T0, [seq(oid('1.2.3'), tlv(0x01, bytes(0xff, 0xff)), tlv(0x04, tlv(0x05, bytes())))])] })],
      ['OID vide', synth({ entries: [entry('01', T0, [seq(tlv(0x06, bytes()), tlv(0x04, tlv(0x05, bytes())))])] })],
      ['OID tronqué', synth({ entries: [entry('01', T0, [seq(tlv(0x06, bytes(0x2a, 0x86)), tlv(0x04, tlv(0x05, bytes())))])] })],
      ['émetteur vide', synth({ entries: [entry('01', T0, [extension('2.5.29.29', true, seq())])] })],
      ['émetteur non GeneralNames', synth({ entries: [entry('01', T0, [extension('2.5.29.29', true, tlv(0x04, bytes(1)))])] })],
      ['numéro de série vide', synth({ entries: [seq(tlv(0x02, bytes()), time(T0))] })],
      ['numéro de série en OCTET STRING', synth({ entries: [seq(tlv(0x04, bytes(1)), time(T0))] })],
      ['date absente', synth({ entries: [seq(tlv(0x02, bytes(1)))] })],
      ['entrée vide', synth({ entries: [seq()] })],
      ['entrée en SET', synth({ entries: [tlv(0x31, tlv(0x02, bytes(1)), time(T0))] })],
      ['données après les extensions', synth({ entries: [seq(tlv(0x02, bytes(1)), time(T0), seq(reasonExt(1)), tlv(0x05, bytes()))] })],
      ['extensions en SET', synth({ entries: [seq(tlv(0x02, bytes(1)), time(T0), tlv(0x31, reasonExt(1)))] })],
      ['liste en SET', synth({ revokedRaw: tlv(0x31, entry('01', T0)) })],
      ['entrée plus longue que la liste', synth({ revokedRaw: concat([bytes(0x30, 0x05), bytes(0x30, 0x10, 0x02, 0x01, 0x01)]) })],
    ];
    for (const [what, der] of cases) {
      let err: unknown;
      try {
        parseCrl(der);
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(PkiError);
      expect((err as PkiError).code, what).toBe('crl_malformed');
    }
  });

  it('rejects malformed CRL extensions', () => {
    const cases: Array<[string, Uint8Array[]]> = [
      ['numéro en double', [extension('2.5.29.20', false, int(1)), extension('2.5.29.20', false, int(2))]],
      ['numéro négatif', [extension('2.5.29.20', false, tlv(0x02, bytes(0xff)))]],
      ['numéro de 22 octets', [extension('2.5.29.20', false, tlv(0x02, new Uint8Array(22).fill(1)))]],
      ['numéro en OCTET STRING', [extension('2.5.29.20', false, tlv(0x04, bytes(1)))]],
      ['base delta négative', [extension('2.5.29.27', true, tlv(0x02, bytes(0x80)))]],
      ['IDP contradictoire', [extension('2.5.29.28', true, seq(tlv(0x81, bytes(0xff)), tlv(0x82, bytes(0xff))))]],
      ['IDP champ inconnu', [extension('2.5.29.28', true, seq(tlv(0x89, bytes(0xff))))]],
      ['IDP en SET', [extension('2.5.29.28', true, tlv(0x31, bytes()))]],
      ['AKI désordonné', [extension('2.5.29.35', false, seq(tlv(0x82, bytes(9)), tlv(0x80, bytes(1))))]],
      ['AKI champ inconnu', [extension('2.5.29.35', false, seq(tlv(0x83, bytes(9))))]],
      ['extension inconnue en double', [extension('1.2.3', false, tlv(0x05, bytes())), extension('1.2.3', false, tlv(0x05, bytes()))]],
      ['extnValue à deux éléments', [extension('1.2.3', false, concat([tlv(0x05, bytes()), tlv(0x05, bytes())]))]],
      ['extnValue vide', [extension('1.2.3', false, bytes())]],
      ['critical mal formé', [seq(oid('1.2.3'), tlv(0x01, bytes()), tlv(0x04, tlv(0x05, bytes())))]],
      ['extension en SET', [tlv(0x31, oid('1.2.3'), tlv(0x04, tlv(0x05, bytes())))]],
      ['données après extnValue', [seq(oid('1.2.3'), tlv(0x04, tlv(0x05, bytes())), tlv(0x05, bytes()))]],
    ];
    for (const [what, exts] of cases) {
      let err: unknown;
      try {
        parseCrl(synth({ exts }));
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(PkiError);
      expect((err as PkiError).code, what).toBe('crl_malformed');
    }
    // The detail of the wrapped dist-point.ts error is kept.
    const e = expectMalformed(() => parseCrl(synth({ exts: [extension('2.5.29.28', true, seq(tlv(0x81, bytes(0xff)), tlv(0x82, bytes(0xff))))] })));
    expect(e.message).toMatch(/onlyContains/);
  });
});

/* ------------------------------------------------------------------------------------------ */

describe('hostile inputs', () => {
  const good = (): Uint8Array =>
    synth({ entries: [entry('01', T0, [reasonExt(1)]), entry('02', T0, [certIssuerExt('X')]), entry('03', T0)] });

  function quick(what: string, fn: () => unknown): PkiError {
    const t0 = performance.now();
    const e = expectMalformed(fn);
    expect(performance.now() - t0, what).toBeLessThan(1000);
    return e;
  }

  it('rejects empty input, other objects and garbage', () => {
    quick('vide', () => parseCrl(new Uint8Array(0)));
    quick('un octet', () => parseCrl(bytes(0x30)));
    quick('SEQUENCE vide', () => parseCrl(bytes(0x30, 0x00)));
    quick('NULL', () => parseCrl(bytes(0x05, 0x00)));
    const cert = new Uint8Array(readFileSync(path.join(pkitsCertDir, 'GoodCACert.crt')));
    quick('certificat', () => parseCrl(cert));
    const pemText = utf8(`-----BEGIN X509 CRL-----\n${Buffer.from(good()).toString('base64')}\n-----END X509 CRL-----\n`);
    quick('PEM', () => parseCrl(pemText));
    let seed = 7;
    for (let i = 0; i < 200; i++) {
      const junk = new Uint8Array(1 + (i % 64) * 7);
      for (let j = 0; j < junk.length; j++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        junk[j] = seed >> 16;
      }
      if (i % 2 === 0) junk[0] = 0x30;
      quick('aléatoire', () => parseCrl(junk));
    }
    expect(() => parseCrl('not bytes' as unknown as Uint8Array)).toThrow(PkiError);
  });

  it('rejects trailing bytes', () => {
    const der = good();
    expect(parseCrl(der).size).toBe(3);
    quick('00 en trop', () => parseCrl(concat([der, bytes(0)])));
    quick('deux LCR', () => parseCrl(concat([der, der])));
    const e = quick('données en trop', () => parseCrl(concat([der, bytes(0x05, 0x00)])));
    expect(e.message).toMatch(/en trop/);
  });

  it('rejects absurd, indefinite and non-minimal lengths', () => {
    const der = good();
    const body = der.subarray(der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2);
    quick('0x84 ffffffff', () => parseCrl(concat([bytes(0x30, 0x84, 0xff, 0xff, 0xff, 0xff), body])));
    quick('0x84 7fffffff', () => parseCrl(concat([bytes(0x30, 0x84, 0x7f, 0xff, 0xff, 0xff), body])));
    quick('0x85', () => parseCrl(concat([bytes(0x30, 0x85, 0, 0, 0, 0x01, 0x00), body])));
    quick('0x88', () => parseCrl(concat([bytes(0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), body])));
    quick('indéfinie', () => parseCrl(concat([bytes(0x30, 0x80), body, bytes(0, 0)])));
    quick('non minimale', () => parseCrl(concat([bytes(0x30, 0x83, 0x00, (body.length >> 8) & 0xff, body.length & 0xff), body])));
    // Inside the entries: an absurd length on the list and on an entry.
    const list = seq(entry('01', T0));
    for (const patch of [bytes(0x84, 0xff, 0xff, 0xff, 0xff), bytes(0x84, 0x00, 0x00, 0x00, 0x09), bytes(0x81, 0x09), bytes(0x80)]) {
      const bad = concat([bytes(0x30), patch, list.subarray(2)]);
      quick('liste', () => parseCrl(synth({ revokedRaw: bad })));
      const badEntry = concat([bytes(0x30, 0x12), bytes(0x30), patch, entry('01', T0).subarray(2)]);
      quick('entrée', () => parseCrl(synth({ revokedRaw: badEntry })));
    }
    // High tag numbers
    quick('balise étendue', () => parseCrl(bytes(0x3f, 0x81, 0x00, 0x00)));
  });

  it('rejects deep nesting quickly, at the top and inside names', () => {
    let nested = bytes(0x05, 0x00);
    for (let i = 0; i < 5000; i++) nested = seq(nested);
    quick('imbrication', () => parseCrl(nested));
    quick('émetteur imbriqué', () => parseCrl(synth({ issuer: nested })));
    quick('paramètres imbriqués', () => {
      const alg = seq(oid('1.2.840.113549.1.1.11'), nested);
      return parseCrl(synth({ tbsSigAlg: alg, sigAlg: alg }));
    });
    quick('certificateIssuer imbriqué', () =>
      parseCrl(synth({ entries: [entry('01', T0, [extension('2.5.29.29', true, seq(tlv(0xa4, nested)))])] })),
    );
    quick('IDP imbriqué', () => parseCrl(synth({ exts: [extension('2.5.29.28', true, seq(tlv(0xa0, tlv(0xa0, tlv(0xa4, nested)))))] })));
  });

  it('refuses huge OIDs before decoding them (decodeOid is quadratic)', () => {
    const hugeArc = concat([new Uint8Array(200_000).fill(0xff), bytes(0x01)]);
    const hugeOid = tlv(0x06, hugeArc);
    quick('extension de LCR', () => parseCrl(synth({ exts: [seq(hugeOid, tlv(0x04, tlv(0x05, bytes())))] })));
    quick("extension d'entrée", () => parseCrl(synth({ entries: [entry('01', T0, [seq(hugeOid, tlv(0x01, bytes(0xff)), tlv(0x04, tlv(0x05, bytes())))])] })));
    quick('type d’attribut', () => parseCrl(synth({ issuer: seq(tlv(0x31, seq(hugeOid, tlv(0x0c, utf8('x'))))) })));
    quick('algorithme', () => parseCrl(synth({ tbsSigAlg: seq(hugeOid), sigAlg: seq(hugeOid) })));
    quick('registeredID', () => parseCrl(synth({ entries: [entry('01', T0, [extension('2.5.29.29', true, seq(tlv(0x88, hugeArc)))])] })));
    quick('numéro de LCR géant', () => parseCrl(synth({ exts: [extension('2.5.29.20', false, tlv(0x02, new Uint8Array(1_000_000).fill(1)))] })));
  });

  it('turns an invalid UniversalString character in a name into crl_malformed', () => {
    const name = seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x1c, bytes(0x7f, 0xff, 0xff, 0xff)))));
    quick('UniversalString', () => parseCrl(synth({ issuer: name })));
    quick('UniversalString dans certificateIssuer', () =>
      parseCrl(synth({ entries: [entry('01', T0, [extension('2.5.29.29', true, seq(tlv(0xa4, name)))])] })),
    );
  });

  it('stays linear on pathological but valid lists', () => {
    // 100 000 times the same serial: one array, no quadratic behaviour.
    const same = entry('01', T0, [reasonExt(1)]);
    const many = new Uint8Array(same.length * 100_000);
    for (let i = 0; i < 100_000; i++) many.set(same, i * same.length);
    let t0 = performance.now();
    const crl = parseCrl(synth({ revokedRaw: tlv(0x30, many) }));
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(crl.size).toBe(100_000);
    expect(crl.entries.size).toBe(1);
    expect(crlEntriesFor(crl, '01').length).toBe(100_000);
    // One entry with 20 000 distinct unknown non-critical extensions.
    const exts: Uint8Array[] = [];
    for (let i = 0; i < 20_000; i++) exts.push(extension(`1.2.3.${i}`, i % 1000 === 0, tlv(0x05, bytes())));
    t0 = performance.now();
    const crl2 = parseCrl(synth({ entries: [entry('01', T0, exts)] }));
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(crlEntriesFor(crl2, '01')[0]!.unknownCriticalExtensions!.length).toBe(20);
    // 20 000 certificateIssuer changes.
    const ci: Uint8Array[] = [];
    for (let i = 0; i < 20_000; i++) ci.push(entry(i.toString(16).padStart(6, '0'), T0, [certIssuerExt(`CA ${i}`)]));
    t0 = performance.now();
    expect(parseCrl(synth({ entries: ci })).size).toBe(20_000);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it('fuzz: 2 000 seeded mutations of real CRLs parse or throw crl_malformed, each in < 1 s', () => {
    let s = 0x5eed1234;
    const rnd = (): number => {
      // mulberry32
      s = (s + 0x6d2b79f5) | 0;
      let t = Math.imul(s ^ (s >>> 15), 1 | s);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = (n: number): number => Math.floor(rnd() * n);
    const INTERESTING = [0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x0a, 0x17, 0x18, 0x30, 0x31, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0xa0, 0xa4, 0xff];
    function mutate(src: Uint8Array): Uint8Array {
      let b: Uint8Array = src.slice();
      const ops = 1 + pick(4);
      for (let k = 0; k < ops; k++) {
        const at = pick(b.length);
        switch (pick(7)) {
          case 0:
            b[at]! ^= 1 << pick(8);
            break;
          case 1:
            b[at] = pick(256);
            break;
          case 2:
            b[at] = INTERESTING[pick(INTERESTING.length)]!;
            break;
          case 3: {
            const n = 1 + pick(16);
            b = concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + n))]);
            break;
          }
          case 4: {
            const ins = new Uint8Array(1 + pick(8)).map(() => INTERESTING[pick(INTERESTING.length)]!);
            b = concat([b.subarray(0, at), ins, b.subarray(at)]);
            break;
          }
          case 5: {
            const from = pick(b.length);
            const n = 1 + pick(64);
            b = concat([b.subarray(0, at), b.subarray(from, from + n), b.subarray(at)]);
            break;
          }
          default:
            b = b.subarray(0, at);
        }
        if (b.length === 0) break;
      }
      return b;
    }
    const seeds = [
      new Uint8Array(readFileSync(path.join(pkitsCrlDir, 'indirectCRLCA5CRL.crl'))),
      new Uint8Array(readFileSync(path.join(pkitsCrlDir, 'onlySomeReasonsCA3compromiseCRL.crl'))),
      new Uint8Array(readFileSync(path.join(pkitsCrlDir, 'UnknownCRLEntryExtensionCACRL.crl'))),
      good(),
    ];
    const failures: string[] = [];
    let parsed = 0;
    let rejected = 0;
    let slowest = 0;
    for (let i = 0; i < 2000; i++) {
      const input = mutate(seeds[i % seeds.length]!);
      const t0 = performance.now();
      try {
        parseCrl(input);
        parsed++;
      } catch (e) {
        if (e instanceof PkiError && e.code === 'crl_malformed') rejected++;
        else failures.push(`#${i} ${hexOf(input)}: ${e instanceof Error ? e.stack : String(e)}`);
      }
      slowest = Math.max(slowest, performance.now() - t0);
    }
    expect(failures).toEqual([]);
    expect(slowest).toBeLessThan(1000);
    expect(parsed + rejected).toBe(2000);
    expect(rejected).toBeGreaterThan(1000);
  });
});
