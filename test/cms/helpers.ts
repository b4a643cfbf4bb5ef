/**
 * Shared fixtures of the CMS tests: an OpenSSL-made PKI shaped like the SESAM-Vitale test
 * hierarchy, OpenSSL as the CMS peer, and a seeded PRNG (tests are reproducible).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CaHandle, OpensslPki, attachmentExt, pemToDer } from '../pki/fixtures/openssl-pki.js';

export const EMAIL = 'amo_pj.test@test.rss.fr';

/** mulberry32: small, fast, seedable; good enough to pick sizes, bytes and bit positions. */
export function prng(seed: number): { next(): number; int(n: number): number; bytes(n: number): Uint8Array<ArrayBuffer> } {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    bytes: (n) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
      return out;
    },
  };
}

export interface Party {
  certPath: string;
  keyPath: string;
  /** Certificate DER. */
  cert: Uint8Array;
  /** Private key, PKCS #8 DER. */
  key: Uint8Array;
}

export interface Fixture {
  dir: string;
  pki: OpensslPki;
  root: CaHandle;
  inter: CaHandle;
  rootDer: Uint8Array;
  interDer: Uint8Array;
  rootCrl: { path: string; der: Uint8Array };
  interCrl: { path: string; der: Uint8Array };
  /** Recipient with the attachment profile for EMAIL. */
  recipient: Party;
}

export function party(p: { certPath: string; keyPath: string; der: Uint8Array }): Party {
  return { certPath: p.certPath, keyPath: p.keyPath, cert: p.der, key: pemToDer(readFileSync(p.keyPath, 'utf8')) };
}

/** What `checkRecipient` needs to accept the fixture's recipient for EMAIL. */
export function trustPolicy(fx: Fixture): { anchors: Uint8Array[]; intermediates: Uint8Array[]; crls: Uint8Array[]; email: string } {
  return { anchors: [fx.rootDer], intermediates: [fx.interDer], crls: [fx.rootCrl.der, fx.interCrl.der], email: EMAIL };
}

/** Root → AC-FACTURATION-TEST → recipient, with current CRLs (about 1 s of key generation). */
export function makeFixture(): Fixture {
  const pki = new OpensslPki();
  made.push(pki.root);
  const root = pki.ca('root', '/C=FR/O=sesam-vitale/OU=AC-SESAM-VITALE-TEST-2034/CN=AC-SESAM-VITALE-TEST-2034');
  const inter = pki.ca('inter', '/C=FR/O=sesam-vitale/OU=AC-SESAM-VITALE-TEST-2034/OU=AC-FACTURATION-TEST/CN=AC-FACTURATION-TEST', { issuer: root });
  const recipient = party(pki.leaf(inter, 'recipient', `/C=FR/O=sesam-vitale/CN=${EMAIL}`, attachmentExt(EMAIL)));
  return {
    dir: pki.root,
    pki,
    root,
    inter,
    rootDer: pemToDer(root.certPem),
    interDer: pemToDer(inter.certPem),
    rootCrl: pki.crl(root, 'root'),
    interCrl: pki.crl(inter, 'inter'),
    recipient,
  };
}

/** Directories made by this file's fixtures, removed by `removeTemp` (call it in afterAll). */
const made: string[] = [];

export function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'teletrans-cms-'));
  made.push(dir);
  return dir;
}

export function removeTemp(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

let counter = 0;

/** `openssl cms -decrypt -inform DER -recip cert.pem -inkey key.pem -binary`, bytes in and out. */
export function opensslDecrypt(der: Uint8Array, p: { certPath: string; keyPath: string }, dir = tmp()): Uint8Array {
  const input = join(dir, `in-${process.pid}-${counter++}.der`);
  writeFileSync(input, der);
  return new Uint8Array(
    execFileSync('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', input, '-recip', p.certPath, '-inkey', p.keyPath, '-binary'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    }),
  );
}

/** Runs `openssl cms …` on `data` (written to a file) and returns the DER it writes. */
export function opensslCms(args: string[], data: Uint8Array, dir = tmp()): Uint8Array {
  const n = counter++;
  const input = join(dir, `data-${process.pid}-${n}`);
  const output = join(dir, `out-${process.pid}-${n}.der`);
  writeFileSync(input, data);
  execFileSync('openssl', ['cms', '-in', input, '-out', output, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Uint8Array(readFileSync(output));
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** XORs `mask` into byte `i` (in place). */
export function flip(buf: Uint8Array, i: number, mask: number): void {
  buf[i] = buf[i]! ^ mask;
}
