/**
 * Invoice signatures: RS256 over SHA-256 of the document's canonical bytes with the CPS
 * signature key, checked against the certificate before acceptance; the batch (signature
 * désynchronisée) leaves every document signed or not, an FSE and its DRE together; OpenSSL
 * verifies what we sign.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BillingError, documentDigest, signBatch, signDocument, testKeySigner, verifyDocumentSignature, type FormattedDocument, type InvoiceSigner } from '../../src/lib/billing/index.js';
import { genKey, issueCert, issueCpsCertificate, type ForgeKey } from '../../src/lib/pki/demo/index.js';

let key: ForgeKey;
let cert: Uint8Array;
let authCert: Uint8Array;
let signer: InvoiceSigner;

const doc = (number: string, kind: 'FSE' | 'DRE' = 'FSE'): FormattedDocument => ({
  kind,
  number,
  billingNumber: '751234567',
  destination: { kind: 'AMO', scheme: '01', fund: '751', organism: '01751' },
  feeCents: 3000,
  askedCents: 1900,
  bytes: new TextEncoder().encode(`#TELETRANS-SSV-SIM 1 DOC\r\n100|1=${kind}|2=${number}|…\r\n`),
});

beforeAll(async () => {
  const caKey = await genKey();
  const ca = await issueCert({ subject: 'CN=AC FICTIVE TEST,C=FR', key: caKey, ca: true });
  key = await genKey();
  cert = await issueCpsCertificate({ rpps: '10000000009', name: 'FICTIF-TEST CLAIRE', usage: 'sign', key, caDer: ca, caKey });
  authCert = await issueCpsCertificate({ rpps: '10000000009', name: 'FICTIF-TEST CLAIRE', usage: 'auth', key, caDer: ca, caKey });
  signer = testKeySigner(key.privateKey, cert);
});

/** Fails at the k-th signature with a bridge-like typed error. */
function failingAt(k: number, code = 'card_absent'): InvoiceSigner & { calls: number } {
  const s = {
    calls: 0,
    certificate: () => signer.certificate(),
    signDigest: async (d: Uint8Array) => {
      if (++s.calls >= k) throw Object.assign(new Error('carte absente'), { code });
      return signer.signDigest(d);
    },
  };
  return s;
}

describe('signDocument', () => {
  it('signs the SHA-256 of the bytes; the signature verifies with WebCrypto and with the certificate', async () => {
    const d = doc('000000001');
    const s = await signDocument(d, signer);
    expect(s.signature).toHaveLength(256);
    expect(s.certificate).toEqual(cert);
    expect(await verifyDocumentSignature(s)).toEqual({ ok: true });
    const ok = await crypto.subtle.verify('RSASSA-PKCS1-v1_5', key.publicKey, s.signature.slice().buffer as ArrayBuffer, d.bytes.slice().buffer as ArrayBuffer);
    expect(ok).toBe(true);
    expect(await documentDigest(d.bytes)).toHaveLength(32);
  });

  it('a changed byte, a wrong signature, or the authentication certificate: refused', async () => {
    const s = await signDocument(doc('000000001'), signer);
    const tampered = { ...s, bytes: s.bytes.map((b, i) => (i === 30 ? b ^ 1 : b)) };
    expect((await verifyDocumentSignature(tampered)).ok).toBe(false);
    const garbled: InvoiceSigner = { certificate: async () => cert, signDigest: async () => new Uint8Array(256).fill(7) };
    await expect(signDocument(doc('000000002'), garbled)).rejects.toMatchObject({ code: 'signature_failed', field: 'signature' });
    const wrongCert = testKeySigner(key.privateKey, authCert);
    await expect(signDocument(doc('000000003'), wrongCert)).rejects.toThrow(/certificat d’authentification/);
  });

  it('a signer failure becomes signature_failed naming the cause', async () => {
    const e = await signDocument(doc('000000001'), failingAt(1, 'session_locked')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BillingError);
    expect(e).toMatchObject({ code: 'signature_failed', field: 'signer.session_locked' });
    expect((e as Error).message).toContain('session verrouillée');
  });
});

describe('signBatch (signature désynchronisée)', () => {
  it('signs every pending document, one signature each, in order', async () => {
    const docs = ['1', '2', '3'].map((n) => doc(n.padStart(9, '0')));
    const progress: number[] = [];
    const r = await signBatch(docs, signer, { onProgress: (done) => progress.push(done) });
    expect(r.unsigned).toEqual([]);
    expect(r.signed.map((s) => s.number)).toEqual(docs.map((d) => d.number));
    expect(progress).toEqual([1, 2, 3]);
    for (const s of r.signed) expect(await verifyDocumentSignature(s)).toEqual({ ok: true });
  });

  it('a card pulled at the 4th signature: 3 signed and valid, the rest unsigned with the cause, nothing tried after', async () => {
    const docs = Array.from({ length: 8 }, (_, i) => doc(String(i + 1).padStart(9, '0')));
    const s = failingAt(4);
    const r = await signBatch(docs, s);
    expect(r.signed.map((x) => x.number)).toEqual(docs.slice(0, 3).map((d) => d.number));
    for (const x of r.signed) expect(await verifyDocumentSignature(x)).toEqual({ ok: true });
    expect(r.unsigned.map((u) => u.document)).toEqual(docs.slice(3));
    expect(r.unsigned.every((u) => u.error.code === 'signature_failed' && u.error.field === 'signer.card_absent')).toBe(true);
    expect(s.calls).toBe(4);
  });

  it('a signature that does not verify leaves its invoice unsigned with the reason; the others stand', async () => {
    const docs = Array.from({ length: 5 }, (_, i) => doc(String(i + 1).padStart(9, '0')));
    let calls = 0;
    const garbling: InvoiceSigner = {
      certificate: () => signer.certificate(),
      signDigest: async (d) => {
        const sig = await signer.signDigest(d);
        return ++calls === 2 ? sig.map((b, i) => (i === 0 ? b ^ 0xff : b)) : sig;
      },
    };
    const progress: number[] = [];
    const r = await signBatch(docs, garbling, { onProgress: (n) => progress.push(n) });
    expect(r.signed.map((x) => x.number)).toEqual(['000000001', '000000003', '000000004', '000000005']);
    for (const x of r.signed) expect(await verifyDocumentSignature(x)).toEqual({ ok: true });
    expect(r.unsigned.map((u) => [u.document.number, u.error.code, u.error.field])).toEqual([['000000002', 'signature_failed', 'signature']]);
    expect(calls).toBe(5);
    expect(progress).toEqual([1, 2, 3, 4, 5]);
  });

  it('an FSE and its DRE: both signed or neither', async () => {
    const docs = [doc('000000001', 'FSE'), doc('000000001', 'DRE'), doc('000000002', 'FSE'), doc('000000002', 'DRE')];
    const r = await signBatch(docs, failingAt(4));
    expect(r.signed.map((x) => `${x.kind}${x.number}`)).toEqual(['FSE000000001', 'DRE000000001']);
    expect(r.unsigned.map((u) => `${u.document.kind}${u.document.number}`)).toEqual(['FSE000000002', 'DRE000000002']);
  });
});

describe('OpenSSL verifies our invoice signatures', () => {
  it('openssl dgst -sha256 -verify with the certificate’s key: Verified OK, and refuses a tampered document', async () => {
    const s = await signDocument(doc('000000042'), signer);
    const dir = mkdtempSync(join(tmpdir(), 'teletrans-sig-'));
    writeFileSync(join(dir, 'cert.der'), s.certificate);
    writeFileSync(join(dir, 'doc.bin'), s.bytes);
    writeFileSync(join(dir, 'sig.bin'), s.signature);
    writeFileSync(join(dir, 'bad.bin'), Buffer.concat([Buffer.from(s.bytes), Buffer.from('x')]));
    execFileSync('openssl', ['x509', '-inform', 'DER', '-in', join(dir, 'cert.der'), '-pubkey', '-noout', '-out', join(dir, 'pub.pem')]);
    const out = execFileSync('openssl', ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig.bin'), join(dir, 'doc.bin')], { encoding: 'utf8' });
    expect(out.trim()).toBe('Verified OK');
    let refused = '';
    try {
      execFileSync('openssl', ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig.bin'), join(dir, 'bad.bin')], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      refused = String((e as { stdout?: string }).stdout);
    }
    expect(refused.trim()).toBe('Verification failure');
  });
});

describe('bytes from Node (Buffer)', () => {
  it('a digest of a pooled Buffer is the digest of its bytes, not of the pool behind them', async () => {
    const bytes = new TextEncoder().encode('100|1=FSE|2=000000001');
    // Small Buffers share one 8 KiB pool: their slice() is a view onto it.
    const pooled = Buffer.from(bytes);
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    expect(Buffer.from(await documentDigest(pooled))).toEqual(Buffer.from(await documentDigest(bytes)));
    const signed = await signDocument(doc('000000777'), signer);
    const fromFiles = { bytes: Buffer.from(signed.bytes), signature: Buffer.from(signed.signature), certificate: Buffer.from(signed.certificate) };
    expect(await verifyDocumentSignature(fromFiles)).toEqual({ ok: true });
  });
});
