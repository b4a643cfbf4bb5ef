/**
 * The sesam-vitale-attachment profile (docs/domain/transmission.md §2–3) on certificates and CRLs made
 * by the real OpenSSL: a hierarchy shaped like AC-SESAM-VITALE-TEST-2034 / AC-FACTURATION-TEST.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Verifier, type VerifyInput, type VerifyResult } from '../../src/lib/pki/index.js';
import { OpensslPki, attachmentExt, pemToDer, type CaHandle } from './fixtures/openssl-pki.js';

const EMAIL = 'amo_pj.test@test.rss.fr';
const v = new Verifier();
let pki: OpensslPki;
let root: CaHandle;
let inter: CaHandle;
let good: Uint8Array;
let rootCrl: Uint8Array;
let interCrl: Uint8Array;

const codes = (r: VerifyResult): string[] => r.errors.map((e) => e.code);
const run = (over: Partial<VerifyInput> & { leaf: Uint8Array }): Promise<VerifyResult> =>
  v.verify({
    anchors: [pemToDer(root.certPem)],
    intermediates: [pemToDer(inter.certPem)],
    crls: [rootCrl, interCrl],
    profile: 'sesam-vitale-attachment',
    email: EMAIL,
    ...over,
  });

beforeAll(() => {
  pki = new OpensslPki();
  root = pki.ca('root', '/C=FR/O=sesam-vitale/OU=AC-SESAM-VITALE-TEST-2034/CN=AC-SESAM-VITALE-TEST-2034');
  inter = pki.ca('inter', '/C=FR/O=sesam-vitale/OU=AC-SESAM-VITALE-TEST-2034/OU=AC-FACTURATION-TEST/CN=AC-FACTURATION-TEST', { issuer: root });
  good = pki.leaf(inter, 'good', `/C=FR/O=sesam-vitale/CN=${EMAIL}`, attachmentExt(EMAIL)).der;
  rootCrl = pki.crl(root, 'root').der;
  interCrl = pki.crl(inter, 'inter').der;
});

describe('sesam-vitale-attachment profile', () => {
  it('accepts a well-formed recipient certificate with current CRLs', async () => {
    const r = await run({ leaf: good });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.valid).toBe(true);
    expect(r.path.map((p) => p.anchor)).toEqual([false, false, true]);
    expect(r.path[0]!.subject).toContain(EMAIL);
  });

  it('requires a CRL covering the leaf', async () => {
    const r = await run({ leaf: good, crls: [rootCrl] });
    expect(r.valid).toBe(false);
    expect(codes(r)).toEqual(['crl_missing']);
    expect(r.errors[0]!.cert).toBe(0);
  });

  it('checks CA certificates only against a CRL that is offered', async () => {
    const r = await run({ leaf: good, crls: [interCrl] });
    expect(r.valid).toBe(true);
    expect(r.warnings.map((w) => w.code)).toEqual(['revocation_not_checked']);
    expect(r.warnings[0]!.cert).toBe(1);
  });

  it('uses an expired CRL with a warning, and rejects it under plain RFC 5280', async () => {
    const stale = pki.crl(inter, 'stale', { lastUpdate: '20200101000000Z', nextUpdate: '20200108000000Z' }).der;
    const r = await run({ leaf: good, crls: [rootCrl, stale] });
    expect(r.valid).toBe(true);
    expect(r.warnings.map((w) => w.code)).toEqual(['crl_expired']);
    const strict = await run({ leaf: good, crls: [rootCrl, stale], profile: 'rfc5280' });
    expect(strict.valid).toBe(false);
    expect(codes(strict)).toEqual(['crl_expired']);
  });

  it('refuses the wrong owner', async () => {
    const r = await run({ leaf: good, email: 'amc_pj.test@test.rss.fr' });
    expect(codes(r)).toEqual(['email_mismatch']);
    const none = await run({ leaf: good, email: undefined });
    expect(codes(none)).toEqual(['email_missing']);
  });

  it('compares the mailbox without regard to case', async () => {
    const r = await run({ leaf: good, email: EMAIL.toUpperCase() });
    expect(r.valid).toBe(true);
  });

  it('requires keyUsage present, critical, with the three bits', async () => {
    const nonCritical = pki.leaf(inter, 'kunc', '/CN=kunc', attachmentExt(EMAIL, 'digitalSignature, nonRepudiation, keyEncipherment')).der;
    const fewBits = pki.leaf(inter, 'kubits', '/CN=kubits', attachmentExt(EMAIL, 'critical, digitalSignature, keyEncipherment')).der;
    const missing = pki.leaf(inter, 'kumissing', '/CN=kumissing', `basicConstraints = CA:FALSE\nsubjectAltName = email:${EMAIL}\n`).der;
    const crls = [rootCrl, pki.crl(inter, 'ku').der];
    expect(codes(await run({ leaf: nonCritical, crls }))).toEqual(['key_usage_not_critical']);
    expect(codes(await run({ leaf: fewBits, crls }))).toEqual(['key_usage_insufficient']);
    expect(codes(await run({ leaf: missing, crls }))).toEqual(['key_usage_missing']);
  });

  it('refuses weak and non-RSA keys', async () => {
    const weak = pki.leaf(inter, 'weak', '/CN=weak', attachmentExt(EMAIL), { bits: 1024 }).der;
    const ec = pki.leaf(inter, 'ec', '/CN=ec', attachmentExt(EMAIL), { algorithm: 'EC' }).der;
    const crls = [rootCrl, pki.crl(inter, 'weak').der];
    const w = await run({ leaf: weak, crls });
    expect(codes(w)).toEqual(['weak_key']);
    expect(w.errors[0]!.message).toContain('1024');
    expect(codes(await run({ leaf: ec, crls }))).toEqual(['key_type_not_rsa']);
  });

  it('refuses a revoked certificate and one on hold', async () => {
    const revoked = pki.leaf(inter, 'revoked', '/CN=revoked', attachmentExt(EMAIL));
    const held = pki.leaf(inter, 'held', '/CN=held', attachmentExt(EMAIL));
    pki.revoke(inter, revoked.certPath, 'keyCompromise');
    pki.revoke(inter, held.certPath, 'certificateHold');
    const crls = [rootCrl, pki.crl(inter, 'revoked').der];
    const r = await run({ leaf: revoked.der, crls });
    expect(codes(r)).toEqual(['cert_revoked']);
    expect(r.errors[0]!.message).toContain('keyCompromise');
    expect(codes(await run({ leaf: held.der, crls }))).toEqual(['cert_on_hold']);
    // The good certificate is unaffected by the same CRL.
    expect((await run({ leaf: good, crls })).valid).toBe(true);
  });

  it('refuses a CRL forged under the CA name with another key', async () => {
    const forger = pki.ca('forger', inter.name);
    const forged = pki.crl(forger, 'forged').der;
    const r = await run({ leaf: good, crls: [rootCrl, forged] });
    expect(codes(r)).toEqual(['crl_signature_invalid']);
  });

  it('follows a CA migration: same-named CAs with different keys', async () => {
    const newInter = pki.ca('inter2', inter.name, { issuer: root });
    const fromNew = pki.leaf(newInter, 'fromnew', `/CN=${EMAIL}`, attachmentExt(EMAIL)).der;
    const crls = [rootCrl, interCrl, pki.crl(newInter, 'inter2').der];
    const both = [pemToDer(inter.certPem), pemToDer(newInter.certPem)];
    const r = await run({ leaf: fromNew, intermediates: both, crls });
    expect(r.valid).toBe(true);
    expect(r.path[1]!.sha256).not.toBe((await run({ leaf: good, intermediates: both, crls })).path[1]!.sha256);
    // The old CA's certificate revoked by the root: leaves of the old CA fail, the new ones pass.
    pki.revoke(root, inter.certPath, 'superseded');
    const crls2 = [pki.crl(root, 'root2').der, interCrl, pki.crl(newInter, 'inter2b').der];
    const old = await run({ leaf: good, intermediates: both, crls: crls2 });
    expect(old.valid).toBe(false);
    expect(codes(old)).toEqual(['cert_revoked']);
    expect(old.errors[0]!.cert).toBe(1);
    expect((await run({ leaf: fromNew, intermediates: both, crls: crls2 })).valid).toBe(true);
  });

  it('refuses an expired or not yet valid certificate', async () => {
    const r = await run({ leaf: good, at: new Date(Date.now() + 900 * 86400_000) });
    expect(codes(r)).toContain('cert_expired');
    const early = await run({ leaf: good, at: new Date(Date.now() - 86400_000) });
    expect(codes(early)).toContain('cert_not_yet_valid');
  });

  it('refuses a leaf that does not chain to the anchors given', async () => {
    const other = pki.ca('other', '/CN=Other Root');
    const r = await run({ leaf: good, anchors: [pemToDer(other.certPem)] });
    expect(r.valid).toBe(false);
    expect(codes(r)).toEqual(['issuer_not_found']);
  });
});
