/**
 * Encryption refuses a recipient certificate that fails the sesam-vitale-attachment profile
 * (docs/domain/transmission.md §2–3), with the Verifier's reason codes; `insecureSkipVerify` overrides.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CmsError, type Recipient, checkRecipient, encryptDocument, encryptFor, joinParts } from '../../src/lib/cms/index.js';
import { Verifier } from '../../src/lib/pki/index.js';
import { attachmentExt } from '../pki/fixtures/openssl-pki.js';
import { EMAIL, type Fixture, makeFixture, opensslDecrypt, type Party, party, removeTemp, trustPolicy } from './helpers.js';

let fx: Fixture;
let policy: { anchors: Uint8Array[]; intermediates: Uint8Array[]; crls: Uint8Array[]; email: string };

beforeAll(() => {
  fx = makeFixture();
  policy = trustPolicy(fx);
});

afterAll(removeTemp);

async function refusal(p: Promise<unknown>): Promise<CmsError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(CmsError);
  return e as CmsError;
}

describe('recipient certificate check before encryption', () => {
  it('accepts the right mailbox with a current CRL, and the result decrypts with OpenSSL', async () => {
    const r = await checkRecipient(fx.recipient.cert, policy);
    expect(r.verified).toBe(true);
    expect(r.warnings).toEqual([]);
    expect(r.path.map((p) => p.anchor)).toEqual([false, false, true]);
    const doc = await encryptDocument(new TextEncoder().encode('ok'), r);
    expect(new TextDecoder().decode(opensslDecrypt(joinParts(doc.parts), fx.recipient))).toBe('ok');
  });

  it('refuses another mailbox (email_mismatch), with the reasons attached', async () => {
    const e = await refusal(checkRecipient(fx.recipient.cert, { ...policy, email: 'amc_pj.test@test.rss.fr' }));
    expect(e.code).toBe('recipient_invalid');
    expect(e.reasons.map((x) => x.code)).toEqual(['email_mismatch']);
    expect(e.message).toMatch(/amc_pj\.test@test\.rss\.fr/);
  });

  it('refuses when no CRL covers the certificate (crl_missing): stop until a CRL is installed', async () => {
    const e = await refusal(checkRecipient(fx.recipient.cert, { ...policy, crls: [fx.rootCrl.der] }));
    expect(e.code).toBe('recipient_invalid');
    expect(e.reasons.map((x) => x.code)).toContain('crl_missing');
  });

  it('uses an expired CRL anyway, with a warning (it does not block)', async () => {
    const stale = fx.pki.crl(fx.inter, 'stale', { lastUpdate: '20200101000000Z', nextUpdate: '20200108000000Z' }).der;
    const r = await checkRecipient(fx.recipient.cert, { ...policy, crls: [fx.rootCrl.der, stale] });
    expect(r.warnings.map((w) => w.code)).toEqual(['crl_expired']);
    await expect(encryptDocument(new Uint8Array(1), r)).resolves.toBeTruthy();
  });

  it('refuses a revoked certificate, an expired one, and one without keyEncipherment', async () => {
    const revoked: Party = party(fx.pki.leaf(fx.inter, 'revoked', `/CN=${EMAIL}`, attachmentExt(EMAIL)));
    fx.pki.revoke(fx.inter, revoked.certPath);
    const crl = fx.pki.crl(fx.inter, 'after-revoke').der;
    const e1 = await refusal(checkRecipient(revoked.cert, { ...policy, crls: [fx.rootCrl.der, crl] }));
    expect(e1.reasons.map((x) => x.code)).toContain('cert_revoked');

    const e2 = await refusal(checkRecipient(fx.recipient.cert, { ...policy, at: new Date(Date.now() + 5 * 365 * 86_400_000) }));
    expect(e2.reasons.map((x) => x.code)).toContain('cert_expired');

    const noKe = party(fx.pki.leaf(fx.inter, 'no-ke', `/CN=${EMAIL}`, attachmentExt(EMAIL, 'critical, digitalSignature, nonRepudiation')));
    const crl2 = fx.pki.crl(fx.inter, 'inter-2').der;
    const e3 = await refusal(checkRecipient(noKe.cert, { ...policy, crls: [fx.rootCrl.der, crl2] }));
    expect(e3.reasons.map((x) => x.code)).toEqual(['key_usage_insufficient']);
  });

  it('refuses without any trust anchor, and an unreadable certificate', async () => {
    const e = await refusal(checkRecipient(fx.recipient.cert, { ...policy, anchors: [] }));
    expect(e.reasons.map((x) => x.code)).toEqual(['issuer_not_found']);
    const bad = await refusal(checkRecipient(new Uint8Array([1, 2, 3]), policy));
    expect(bad.code).toBe('recipient_invalid');
    expect(bad.reasons[0]!.code).toBe('cert_malformed');
  });

  it('insecureSkipVerify: the explicit override encrypts for an unchecked certificate', async () => {
    const r = await checkRecipient(fx.recipient.cert, { insecureSkipVerify: true });
    expect(r.verified).toBe(false);
    const doc = await encryptFor(new TextEncoder().encode('essai'), fx.recipient.cert, { insecureSkipVerify: true });
    expect(new TextDecoder().decode(opensslDecrypt(joinParts(doc.parts), fx.recipient))).toBe('essai');
    expect(r.path).toEqual([]);
  });

  it('encryptFor refuses as checkRecipient does', async () => {
    const e = await refusal(encryptFor(new Uint8Array(1), fx.recipient.cert, { ...policy, email: 'x@y.fr' }));
    expect(e.code).toBe('recipient_invalid');
  });

  it('a hand-made Recipient object is refused: only checkRecipient issues them', async () => {
    const real = await checkRecipient(fx.recipient.cert, policy);
    const forged: Recipient = { ...real };
    const e = await refusal(encryptDocument(new Uint8Array(1), forged));
    expect(e.code).toBe('recipient_invalid');
    expect(e.reasons[0]!.code).toBe('recipient_unchecked');
  });

  it('an EC certificate cannot receive a transported key, even with the override', async () => {
    const ec = party(fx.pki.leaf(fx.inter, 'ec', `/CN=${EMAIL}`, attachmentExt(EMAIL), { algorithm: 'EC' }));
    const e = await refusal(checkRecipient(ec.cert, { insecureSkipVerify: true }));
    expect(e.code).toBe('cms_unsupported_algorithm');
    const crl = fx.pki.crl(fx.inter, 'inter-3').der;
    const v = await refusal(checkRecipient(ec.cert, { ...policy, crls: [fx.rootCrl.der, crl] }));
    expect(v.code).toBe('recipient_invalid');
    expect(v.reasons.map((x) => x.code)).toContain('key_type_not_rsa');
  });

  it('--ski needs a subjectKeyIdentifier in the certificate', async () => {
    const ext = 'basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment\nsubjectKeyIdentifier = none\nauthorityKeyIdentifier = none\nsubjectAltName = email:' + EMAIL + '\n';
    const noSki = party(fx.pki.leaf(fx.inter, 'no-ski', `/CN=${EMAIL}`, ext));
    const r = await checkRecipient(noSki.cert, { insecureSkipVerify: true });
    const e = await refusal(encryptDocument(new Uint8Array(1), r, { recipientIdentifier: 'subject-key-identifier' }));
    expect(e.code).toBe('recipient_invalid');
    expect(e.reasons[0]!.code).toBe('ski_missing');
  });

  it('reuses a warm Verifier across documents', async () => {
    const verifier = new Verifier();
    const a = await checkRecipient(fx.recipient.cert, { ...policy, verifier });
    const b = await checkRecipient(fx.recipient.cert, { ...policy, verifier });
    expect(a.verified && b.verified).toBe(true);
  });
});
