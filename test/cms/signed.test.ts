/**
 * SignedData made by the real OpenSSL (`openssl cms -sign -binary -outform DER`), verified by
 * us: RSA PKCS #1 v1.5, RSA-PSS and ECDSA signers; detached and encapsulated (-nodetach);
 * with and without signed attributes (-noattr); DER and streamed BER; signer named by
 * issuerAndSerialNumber or -keyid; certificates embedded or given. Tampering is refused with
 * the right code, and the signer certificate comes back for PKI validation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CmsError, verifySigned } from '../../src/lib/cms/index.js';
import { verify } from '../../src/lib/pki/index.js';
import { type Fixture, flip, makeFixture, opensslCms, type Party, party, prng, removeTemp, tmp } from './helpers.js';

const SIGNER_EXT = 'basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature, nonRepudiation\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n';
const MESSAGE = new TextEncoder().encode('4005 40050 Le fichier chiffré n’a pas pu être déchiffré.\r\n');

let fx: Fixture;
let dir: string;
let rsa: Party;
let ec: Party;

beforeAll(() => {
  fx = makeFixture();
  dir = tmp();
  rsa = party(fx.pki.leaf(fx.inter, 'signer-rsa', '/C=FR/O=sesam-vitale/CN=frontal RSA', SIGNER_EXT));
  ec = party(fx.pki.leaf(fx.inter, 'signer-ec', '/C=FR/O=sesam-vitale/CN=frontal EC', SIGNER_EXT, { algorithm: 'EC' }));
});

afterAll(removeTemp);

const sign = (signer: Party, args: string[], data: Uint8Array = MESSAGE): Uint8Array =>
  opensslCms(['-sign', '-binary', '-outform', 'DER', '-signer', signer.certPath, '-inkey', signer.keyPath, ...args], data, dir);

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(CmsError);
  expect((e as CmsError).message).not.toMatch(/erreur interne/);
  return (e as CmsError).code;
}

/** Offset of the messageDigest attribute value (after 06 09 …09 04 31 xx 04 xx). */
function digestOffset(der: Uint8Array): number {
  const oid = Buffer.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04]);
  const at = Buffer.from(der).indexOf(oid);
  expect(at).toBeGreaterThan(0);
  return at + oid.length + 4;
}

describe('verifying what OpenSSL signs', () => {
  const signers = (): Array<[string, Party, string[]]> => [
    ['RSA PKCS #1 v1.5', rsa, []],
    ['RSA-PSS', rsa, ['-keyopt', 'rsa_padding_mode:pss']],
    ['ECDSA P-256', ec, []],
  ];

  for (const [name, index] of [['RSA PKCS #1 v1.5', 0], ['RSA-PSS', 1], ['ECDSA P-256', 2]] as const) {
    for (const detached of [true, false]) {
      for (const attrs of [true, false]) {
        it(`${name}, ${detached ? 'detached' : 'encapsulated'}, ${attrs ? 'signed attributes' : '-noattr'}`, async () => {
          const [, signer, extra] = signers()[index]!;
          const der = sign(signer, [...(detached ? [] : ['-nodetach']), ...(attrs ? [] : ['-noattr']), ...extra]);
          const r = await verifySigned(der, detached ? { content: MESSAGE } : {});
          expect(r.detached).toBe(detached);
          expect(Buffer.compare(r.content, MESSAGE)).toBe(0);
          expect(r.contentType).toBe('1.2.840.113549.1.7.1');
          expect(r.signers).toHaveLength(1);
          const s = r.signers[0]!;
          expect(Buffer.compare(s.certificate, signer.cert)).toBe(0);
          expect(s.signedAttributes).toBe(attrs);
          expect(s.digestAlgorithm).toBe('SHA-256');
          expect(s.weak).toBe(false);
          expect(s.signatureAlgorithm).toBe(['1.2.840.113549.1.1.11', '1.2.840.113549.1.1.10', '1.2.840.10045.4.3.2'][index]);
          if (attrs) expect(Math.abs(s.signingTime!.getTime() - Date.now())).toBeLessThan(600_000);

          // Tampered content: digest attribute mismatch, or (no attributes) the signature itself.
          const altered = MESSAGE.slice();
          flip(altered, 0, 1);
          const tamperedContent = detached
            ? verifySigned(der, { content: altered })
            : (() => {
                const t = der.slice();
                const at = Buffer.from(t).indexOf(Buffer.from(MESSAGE));
                flip(t, at, 1);
                return verifySigned(t);
              })();
          expect(await code(tamperedContent)).toBe(attrs ? 'cms_digest_mismatch' : 'cms_signature_invalid');

          // Tampered signature (the last bytes of the DER are the signature value).
          const t = der.slice();
          flip(t, t.length - 2, 0x10);
          expect(await code(verifySigned(t, detached ? { content: MESSAGE } : {}))).toBe('cms_signature_invalid');

          if (attrs) {
            const d = der.slice();
            flip(d, digestOffset(d), 1);
            expect(await code(verifySigned(d, detached ? { content: MESSAGE } : {}))).toBe('cms_digest_mismatch');
          }
        });
      }
    }
  }

  it('streamed BER (-stream, indefinite lengths) and SHA-384 / SHA-512 digests', async () => {
    for (const md of ['sha384', 'sha512']) {
      const der = sign(rsa, ['-nodetach', '-stream', '-md', md], prng(7).bytes(100_000));
      expect(der[1]).toBe(0x80);
      const r = await verifySigned(der);
      expect(r.signers[0]!.digestAlgorithm).toBe(md === 'sha384' ? 'SHA-384' : 'SHA-512');
      expect(r.content.length).toBe(100_000);
    }
  });

  it('signer named by subjectKeyIdentifier (-keyid)', async () => {
    const r = await verifySigned(sign(ec, ['-nodetach', '-keyid']));
    expect(Buffer.compare(r.signers[0]!.certificate, ec.cert)).toBe(0);
  });

  it('signer certificate not embedded (-nocerts): found among the caller’s, else cms_signer_not_found', async () => {
    const der = sign(rsa, ['-nodetach', '-nocerts']);
    expect(await code(verifySigned(der))).toBe('cms_signer_not_found');
    expect(await code(verifySigned(der, { certificates: [ec.cert] }))).toBe('cms_signer_not_found');
    const r = await verifySigned(der, { certificates: [ec.cert, rsa.cert] });
    expect(Buffer.compare(r.signers[0]!.certificate, rsa.cert)).toBe(0);
    expect(r.certificates).toEqual([]);
  });

  it('a content-type attribute that disagrees with eContentType is refused', async () => {
    const der = sign(rsa, ['-nodetach']).slice();
    // eContentType id-data (…07 01) is the first one after signedData's; make it …07 02.
    const idData = Buffer.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01]);
    const at = Buffer.from(der).indexOf(idData);
    der[at + idData.length - 1] = 0x02;
    expect(await code(verifySigned(der))).toBe('cms_content_type_mismatch');
  });

  it('detached signature without content, or content given twice: cms_content_missing', async () => {
    expect(await code(verifySigned(sign(rsa, [])))).toBe('cms_content_missing');
    expect(await code(verifySigned(sign(rsa, ['-nodetach']), { content: MESSAGE }))).toBe('cms_content_missing');
  });

  it('returns the signer certificate and the embedded ones, ready for PKI validation', async () => {
    const der = opensslCms(
      ['-sign', '-binary', '-outform', 'DER', '-nodetach', '-signer', rsa.certPath, '-inkey', rsa.keyPath, '-certfile', fx.inter.certPath],
      MESSAGE,
      dir,
    );
    const r = await verifySigned(der);
    expect(r.certificates).toHaveLength(2);
    const v = await verify({
      leaf: r.signers[0]!.certificate,
      anchors: [fx.rootDer],
      intermediates: r.certificates,
      crls: [fx.rootCrl.der, fx.interCrl.der],
    });
    expect(v.errors).toEqual([]);
    expect(v.valid).toBe(true);
  });

  it('refuses an EnvelopedData or garbage as cms_malformed', async () => {
    const env = opensslCms(['-encrypt', '-binary', '-outform', 'DER', '-aes-128-cbc', fx.recipient.certPath], MESSAGE, dir);
    expect(await code(verifySigned(env))).toBe('cms_malformed');
    expect(await code(verifySigned(new Uint8Array([0x30, 0x80, 0x00, 0x00])))).toBe('cms_malformed');
  });
});
