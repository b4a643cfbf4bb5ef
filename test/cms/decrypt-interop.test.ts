/**
 * EnvelopedData made by the real OpenSSL (`openssl cms -encrypt -binary … -outform DER`),
 * decrypted by us: AES-128/192/256-CBC, PKCS #1 v1.5 and OAEP, issuerAndSerialNumber and
 * subjectKeyIdentifier, streamed BER, several recipients, keys as PKCS #8, PKCS #1 or CryptoKey.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CmsError, checkRecipient, decryptDocument, encryptDocument, joinParts } from '../../src/lib/cms/index.js';
import { nodeAesCbc } from '../../src/lib/server/crypto/aes-cbc-node.js';
import { attachmentExt, pemToDer } from '../pki/fixtures/openssl-pki.js';
import { type Fixture, makeFixture, opensslCms, type Party, party, prng, removeTemp, tmp } from './helpers.js';

let fx: Fixture;
let other: Party;
let dir: string;
const rand = prng(0xdec0de);
const DATA = { empty: new Uint8Array(0), one: rand.bytes(1), block: rand.bytes(16), mib: rand.bytes(1024 * 1024) };

beforeAll(() => {
  fx = makeFixture();
  dir = tmp();
  other = party(fx.pki.leaf(fx.inter, 'other', '/C=FR/O=sesam-vitale/CN=amc_pj.test@test.rss.fr', attachmentExt('amc_pj.test@test.rss.fr')));
});

afterAll(removeTemp);

const enc = (args: string[], data: Uint8Array, recips: Party[] = [fx.recipient]): Uint8Array =>
  opensslCms(['-encrypt', '-binary', '-outform', 'DER', ...args, ...recips.map((r) => r.certPath)], data, dir);

async function expectCode(p: Promise<unknown>, code: string): Promise<CmsError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e, `expected ${code}`).toBeInstanceOf(CmsError);
  expect((e as CmsError).code).toBe(code);
  expect((e as CmsError).message).not.toMatch(/erreur interne/);
  return e as CmsError;
}

describe('decrypting what OpenSSL encrypts', () => {
  for (const [cipher, name] of [
    ['-aes-128-cbc', 'aes-128-cbc'],
    ['-aes-192-cbc', 'aes-192-cbc'],
    ['-aes256', 'aes-256-cbc'],
  ] as const) {
    it(`${cipher}, PKCS #1 v1.5, issuerAndSerialNumber`, async () => {
      for (const data of Object.values(DATA)) {
        const der = enc([cipher], data);
        const r = await decryptDocument(der, { key: fx.recipient.key, certificate: fx.recipient.cert });
        expect(r.contentEncryption).toBe(name);
        expect(r.keyTransport).toBe('rsa-pkcs1-v1_5');
        expect(r.recipientIdentifier).toBe('issuer-and-serial');
        expect(r.contentType).toBe('1.2.840.113549.1.7.1');
        expect(Buffer.compare(r.content, data)).toBe(0);
        // The node:crypto adapter gives the same result.
        const n = await decryptDocument(der, { key: fx.recipient.key, certificate: fx.recipient.cert, aes: nodeAesCbc });
        expect(Buffer.compare(n.content, data)).toBe(0);
      }
    });
  }

  it('-keyid (subjectKeyIdentifier)', async () => {
    const der = enc(['-aes-128-cbc', '-keyid'], DATA.block);
    const r = await decryptDocument(der, { key: fx.recipient.key, certificate: fx.recipient.cert });
    expect(r.recipientIdentifier).toBe('subject-key-identifier');
    expect(Buffer.compare(r.content, DATA.block)).toBe(0);
  });

  it('RSAES-OAEP with SHA-256 and MGF1-SHA-256, and with the SHA-1 defaults', async () => {
    for (const opts of [
      ['-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256', '-keyopt', 'rsa_mgf1_md:sha256'],
      ['-keyopt', 'rsa_padding_mode:oaep'],
    ]) {
      for (const data of [DATA.empty, DATA.mib]) {
        const der = opensslCms(['-encrypt', '-binary', '-outform', 'DER', '-aes256', '-recip', fx.recipient.certPath, ...opts], data, dir);
        const r = await decryptDocument(der, { key: fx.recipient.key, certificate: fx.recipient.cert });
        expect(r.keyTransport).toBe('rsa-oaep');
        expect(Buffer.compare(r.content, data)).toBe(0);
      }
    }
  });

  it('OAEP with different OAEP and MGF1 hashes is refused as unsupported (WebCrypto has one hash)', async () => {
    const der = opensslCms(
      ['-encrypt', '-binary', '-outform', 'DER', '-aes-128-cbc', '-recip', fx.recipient.certPath,
        '-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256', '-keyopt', 'rsa_mgf1_md:sha1'],
      DATA.one,
      dir,
    );
    await expectCode(decryptDocument(der, { key: fx.recipient.key }), 'cms_unsupported_algorithm');
  });

  it('streamed BER (-stream: indefinite lengths, constructed OCTET STRING)', async () => {
    const der = enc(['-aes-128-cbc', '-stream'], DATA.mib);
    expect(der[1]).toBe(0x80); // indefinite length at the top
    const r = await decryptDocument(der, { key: fx.recipient.key, certificate: fx.recipient.cert });
    expect(Buffer.compare(r.content, DATA.mib)).toBe(0);
  });

  it('several recipients: picks ours by certificate, or tries each without one', async () => {
    const der = enc(['-aes-128-cbc'], DATA.block, [other, fx.recipient]);
    for (const opts of [{ certificate: fx.recipient.cert }, {}]) {
      const r = await decryptDocument(der, { key: fx.recipient.key, ...opts });
      expect(Buffer.compare(r.content, DATA.block)).toBe(0);
    }
    const o = await decryptDocument(der, { key: other.key, certificate: other.cert });
    expect(Buffer.compare(o.content, DATA.block)).toBe(0);
  });

  it('accepts a PKCS #1 RSAPrivateKey as well as PKCS #8', async () => {
    const pkcs1 = pemToDer(execFileSync('openssl', ['rsa', '-in', fx.recipient.keyPath, '-traditional'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    for (const args of [['-aes-128-cbc'], ['-aes-128-cbc', '-keyopt', 'rsa_padding_mode:oaep']]) {
      const der = opensslCms(['-encrypt', '-binary', '-outform', 'DER', ...args.slice(0, 1), '-recip', fx.recipient.certPath, ...args.slice(1)], DATA.one, dir);
      const r = await decryptDocument(der, { key: pkcs1 });
      expect(Buffer.compare(r.content, DATA.one)).toBe(0);
    }
  });

  it('accepts a WebCrypto CryptoKey (extractable for v1.5; non-extractable RSA-OAEP for OAEP)', async () => {
    const s = crypto.subtle;
    const extractable = await s.importKey('pkcs8', new Uint8Array(fx.recipient.key), { name: 'RSA-OAEP', hash: 'SHA-256' }, true, ['decrypt']);
    const locked = await s.importKey('pkcs8', new Uint8Array(fx.recipient.key), { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['decrypt']);
    const v15 = enc(['-aes-128-cbc'], DATA.block);
    const oaep = opensslCms(
      ['-encrypt', '-binary', '-outform', 'DER', '-aes-128-cbc', '-recip', fx.recipient.certPath,
        '-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256', '-keyopt', 'rsa_mgf1_md:sha256'],
      DATA.block,
      dir,
    );
    expect(Buffer.compare((await decryptDocument(v15, { key: extractable })).content, DATA.block)).toBe(0);
    expect(Buffer.compare((await decryptDocument(oaep, { key: extractable })).content, DATA.block)).toBe(0);
    expect(Buffer.compare((await decryptDocument(oaep, { key: locked })).content, DATA.block)).toBe(0);
    await expectCode(decryptDocument(v15, { key: locked }), 'cms_key_invalid');
  });

  it('refuses 3-DES (transport encryption, no longer allowed) as unsupported', async () => {
    const der = enc(['-des3'], DATA.one);
    const e = await expectCode(decryptDocument(der, { key: fx.recipient.key }), 'cms_unsupported_algorithm');
    expect(e.message).toMatch(/3-DES/);
  });

  it('wrong key: cms_decrypt_failed (v1.5 and OAEP); wrong certificate: cms_no_matching_recipient', async () => {
    const v15 = enc(['-aes-128-cbc'], DATA.block);
    const oaep = opensslCms(['-encrypt', '-binary', '-outform', 'DER', '-aes-128-cbc', '-recip', fx.recipient.certPath, '-keyopt', 'rsa_padding_mode:oaep'], DATA.block, dir);
    await expectCode(decryptDocument(v15, { key: other.key }), 'cms_decrypt_failed');
    await expectCode(decryptDocument(oaep, { key: other.key }), 'cms_decrypt_failed');
    await expectCode(decryptDocument(v15, { key: other.key, certificate: other.cert }), 'cms_no_matching_recipient');
  });

  it('refuses keys that are not RSA private keys', async () => {
    const v15 = enc(['-aes-128-cbc'], DATA.block);
    await expectCode(decryptDocument(v15, { key: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]) }), 'cms_key_invalid');
    await expectCode(decryptDocument(v15, { key: fx.recipient.cert }), 'cms_key_invalid');
    const ecKey = pemToDer(execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], { encoding: 'utf8' }));
    await expectCode(decryptDocument(v15, { key: ecKey }), 'cms_key_invalid');
  });

  it('refuses other CMS types and non-CMS input as cms_malformed', async () => {
    const signed = opensslCms(['-sign', '-binary', '-outform', 'DER', '-signer', fx.recipient.certPath, '-inkey', fx.recipient.keyPath], DATA.one, dir);
    await expectCode(decryptDocument(signed, { key: fx.recipient.key }), 'cms_malformed');
    await expectCode(decryptDocument(new Uint8Array(0), { key: fx.recipient.key }), 'cms_malformed');
    await expectCode(decryptDocument(fx.recipient.cert, { key: fx.recipient.key }), 'cms_malformed');
    await expectCode(decryptDocument(new TextEncoder().encode('-----BEGIN CMS-----'), { key: fx.recipient.key }), 'cms_malformed');
  });

  it('round-trips our own objects in every mode', async () => {
    const r = await checkRecipient(fx.recipient.cert, { insecureSkipVerify: true });
    for (const keyTransport of ['rsa-pkcs1-v1_5', 'rsa-oaep-sha256'] as const) {
      for (const recipientIdentifier of ['issuer-and-serial', 'subject-key-identifier'] as const) {
        const doc = await encryptDocument(DATA.mib, r, { keyTransport, recipientIdentifier });
        const out = await decryptDocument(joinParts(doc.parts), { key: fx.recipient.key, certificate: fx.recipient.cert });
        expect(Buffer.compare(out.content, DATA.mib)).toBe(0);
        expect(out.recipientIdentifier).toBe(recipientIdentifier);
      }
    }
  });
});
