/**
 * One parsing path whoever the caller is:
 *  - the readers never write to the caller's bytes, and give the same model for a Node Buffer
 *    (what the command line reads files into; its slice() is a view) as for a Uint8Array;
 *  - decodeInput (what the command line and the PWA classify files with) followed by the
 *    Verifier gives the Verifier's verdict on the bytes themselves;
 *  - a signature BIT STRING with unused bits is a bad signature of that certificate or CRL, not
 *    an unreadable file — OpenSSL, the reference peer, reads such a certificate and fails its
 *    verification.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Verifier, decodeInput, parseCertificate, parseCrl } from '../../src/lib/pki/index.js';
import { readTlv } from '../../src/lib/pki/der.js';
import { PKITS_AT, loadPkits, pkitsDir, pkitsFiles } from './pkits-data.js';

const files = pkitsFiles();
const data = loadPkits();
const at = new Date(PKITS_AT);
const tmp = mkdtempSync(join(tmpdir(), 'teletrans-input-bytes-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const certPath = (name: string): string => join(pkitsDir, 'certs', name);
const crlPath = (name: string): string => join(pkitsDir, 'crls', name);

/** A copy of a certificate or CRL whose signature BIT STRING says `unused` unused bits, the bits unchanged. */
function withUnusedBits(der: Uint8Array, unused: number): Uint8Array {
  const out = new Uint8Array(der);
  const root = readTlv(out, 0, out.length);
  const tbs = readTlv(out, root.valueStart, root.end);
  const alg = readTlv(out, tbs.end, root.end);
  const sig = readTlv(out, alg.end, root.end);
  expect(sig.tag).toBe(0x03);
  out[sig.valueStart] = unused;
  return out;
}

/** A parsed model as plain data (bytes as hex, Maps as entry lists), whatever array types it holds. */
function canon(v: unknown): unknown {
  if (v instanceof Uint8Array) return `hex:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (v instanceof Map) return [...v.entries()].map(([k, x]) => [canon(k), canon(x)]);
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, canon(x)]));
  return v;
}

function pem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

describe('the readers and the caller’s bytes', () => {
  it('parsing any PKITS file from a Node Buffer leaves it untouched, and parsing it again gives the same model', () => {
    const dirs = [
      ['certs', parseCertificate],
      ['crls', parseCrl],
    ] as const;
    let n = 0;
    for (const [sub, parse] of dirs) {
      for (const f of readdirSync(join(pkitsDir, sub)).sort()) {
        const buf = readFileSync(join(pkitsDir, sub, f));
        const before = Buffer.from(buf);
        const first = parse(buf);
        expect(buf.equals(before), `${f} modified by its reader`).toBe(true);
        const plain = canon(parse(new Uint8Array(before)));
        expect(canon(parse(buf)), f).toEqual(plain);
        expect(canon(first), f).toEqual(plain);
        n++;
      }
    }
    expect(n).toBe(readdirSync(join(pkitsDir, 'certs')).length + readdirSync(join(pkitsDir, 'crls')).length);
  });

  it('decodeInput on Buffers, then the Verifier, is the Verifier on the bytes (nameRelativeToCRLIssuer cases)', async () => {
    const pool = files.pool.map((p) => readFileSync(p));
    const crls = files.crls.map((p) => readFileSync(p));
    const anchor = readFileSync(files.anchor);
    // What the command line does: classify every file, then hand the DER to the Verifier.
    const ders = (bufs: Buffer[]): Uint8Array[] => bufs.flatMap((b) => decodeInput(b).map((i) => i.der));
    const cliPool = ders(pool);
    const cliCrls = ders(crls);
    const cliAnchor = ders([anchor]);
    const viaInput = new Verifier();
    const direct = new Verifier();
    for (const name of ['ValidcRLIssuerTest29EE.crt', 'ValiddistributionPointTest4EE.crt', 'ValiddistributionPointTest5EE.crt', 'ValiddistributionPointTest7EE.crt']) {
      const leaf = readFileSync(certPath(name));
      const r1 = await viaInput.verify({ leaf: ders([leaf])[0]!, anchors: cliAnchor, intermediates: cliPool, crls: cliCrls, at });
      const c = data.cases.find((x) => x.name === name)!;
      const r2 = await direct.verify({ leaf: c.leaf, anchors: [data.anchor], intermediates: data.pool, crls: data.crls, at });
      expect(r2.valid, name).toBe(true);
      expect(r1, name).toEqual(r2);
    }
  });
});

describe('a signature BIT STRING with unused bits', () => {
  const leafDer = new Uint8Array(readFileSync(certPath('ValidCertificatePathTest1EE.crt')));
  const caDer = new Uint8Array(readFileSync(certPath('GoodCACert.crt')));
  const crlDer = new Uint8Array(readFileSync(crlPath('GoodCACRL.crl')));
  const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  const others = (skip: Uint8Array): Uint8Array[] => data.pool.filter((d) => !same(d, skip));
  const otherCrls = (skip: Uint8Array): Uint8Array[] => data.crls.filter((d) => !same(d, skip));

  it('control: the unmodified chain is valid', async () => {
    const r = await new Verifier().verify({ leaf: leafDer, anchors: [data.anchor], intermediates: data.pool, crls: data.crls, at });
    expect(r.errors).toEqual([]);
    expect(r.valid).toBe(true);
  });

  it('in a leaf: read (as OpenSSL does), and its signature fails', async () => {
    const bad = withUnusedBits(leafDer, 1);
    const cert = parseCertificate(bad);
    expect(cert.signature).toHaveLength(0);
    expect(decodeInput(bad)).toMatchObject([{ kind: 'certificate', suggestedRole: 'leaf' }]);
    const r = await new Verifier().verify({ leaf: bad, anchors: [data.anchor], intermediates: data.pool, crls: data.crls, at });
    expect(r.valid).toBe(false);
    expect(r.errors).toMatchObject([{ code: 'signature_invalid', cert: 0 }]);
    expect(r.path[0]?.subject).toBe('CN=Valid EE Certificate Test1,O=Test Certificates 2011,C=US');

    // OpenSSL reads the certificate, and refuses its signature for that very reason.
    const leafPem = join(tmp, 'leaf-unused.pem');
    const chain = join(tmp, 'chain.pem');
    writeFileSync(leafPem, pem(bad, 'CERTIFICATE'));
    writeFileSync(chain, pem(data.anchor, 'CERTIFICATE') + pem(caDer, 'CERTIFICATE'));
    expect(execFileSync('openssl', ['x509', '-in', leafPem, '-noout', '-subject'], { encoding: 'utf8' })).toContain('Valid EE Certificate Test1');
    let ossl = '';
    try {
      execFileSync('openssl', ['verify', '-CAfile', chain, leafPem], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      const x = e as { status: number; stdout: string; stderr: string };
      ossl = x.stdout + x.stderr;
    }
    expect(ossl).toMatch(/signature failure|bits left/i);
    const good = join(tmp, 'leaf.pem');
    writeFileSync(good, pem(leafDer, 'CERTIFICATE'));
    expect(execFileSync('openssl', ['verify', '-CAfile', chain, good], { encoding: 'utf8' })).toContain('OK');
  });

  it('in a CA certificate of the pool: not ignored, blamed in the path', async () => {
    const bad = withUnusedBits(caDer, 1);
    const r = await new Verifier().verify({ leaf: leafDer, anchors: [data.anchor], intermediates: [...others(caDer), bad], crls: data.crls, at });
    expect(r.valid).toBe(false);
    expect(r.warnings).toEqual([]); // read, so not "ignored"
    expect(r.errors).toMatchObject([{ code: 'signature_invalid', cert: 1, subject: 'CN=Good CA,O=Test Certificates 2011,C=US' }]);
    expect(r.path.map((p) => p.subject)).toContain('CN=Good CA,O=Test Certificates 2011,C=US');
  });

  it('in a CRL: its signature fails even though the bits themselves are the right ones', async () => {
    const bad = withUnusedBits(crlDer, 1);
    expect(parseCrl(bad).signature).toHaveLength(0);
    const r = await new Verifier().verify({ leaf: leafDer, anchors: [data.anchor], intermediates: data.pool, crls: [...otherCrls(crlDer), bad], at });
    expect(r.valid).toBe(false);
    expect(r.errors.map((e) => e.code)).toEqual(['crl_signature_invalid']);
  });
});
