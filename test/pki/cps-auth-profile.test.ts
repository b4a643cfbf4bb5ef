/**
 * The cps-authentication profile (src/lib/pki/profile-cps-auth.ts) and cpsIdentity, as data:
 * each card certificate shape and the reason codes it must (or must not) get.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cpsIdentity, parseCertificate, verify } from '../../src/lib/pki/index.js';
import { genKey, issueCert, issueCrl, type CertSpec, type ForgeKey } from './fixtures/forge.js';

let rootKey: ForgeKey;
let caKey: ForgeKey;
let root: Uint8Array;
let ca: Uint8Array;
let crls: Uint8Array[];
beforeAll(async () => {
  [rootKey, caKey] = await Promise.all([genKey(), genKey()]);
  root = await issueCert({ subject: 'CN=TEST RACINE,O=TEST,C=FR', key: rootKey, ca: true });
  ca = await issueCert({ subject: 'CN=TEST PERSONNES,O=TEST,C=FR', key: caKey, issuerCert: root, signer: rootKey, ca: true });
  crls = [await issueCrl({ issuerCert: root, signer: rootKey }), await issueCrl({ issuerCert: ca, signer: caKey })];
});

async function codes(spec: Partial<CertSpec>, alg: 'rsa2048' | 'rsa1024' | 'p256' = 'rsa2048'): Promise<string[]> {
  const leaf = await issueCert({ subject: 'CN=899700000001/FICTIF,C=FR', key: await genKey(alg), issuerCert: ca, signer: caKey,
    keyUsage: { bits: ['digitalSignature'], critical: true }, ...spec });
  const r = await verify({ leaf, anchors: [root], intermediates: [ca], crls, profile: 'cps-authentication' });
  expect(r.valid).toBe(r.errors.length === 0);
  return r.errors.map((e) => e.code);
}

describe('cps-authentication profile', () => {
  const cases: Array<[string, Partial<CertSpec>, 'rsa2048' | 'rsa1024' | 'p256', string[]]> = [
    ['authentication certificate (digitalSignature)', {}, 'rsa2048', []],
    ['authentication certificate, ECDSA P-256', {}, 'p256', []],
    ['signature certificate (nonRepudiation only)', { keyUsage: { bits: ['nonRepudiation'], critical: true } }, 'rsa2048', ['key_usage_not_authentication']],
    ['encipherment only', { keyUsage: { bits: ['keyEncipherment'], critical: true } }, 'rsa2048', ['key_usage_not_authentication']],
    ['no keyUsage', { keyUsage: null }, 'rsa2048', ['key_usage_missing']],
    ['RSA 1024', {}, 'rsa1024', ['weak_key']],
  ];
  for (const [what, spec, alg, expected] of cases) {
    it(what, async () => expect(await codes(spec, alg)).toEqual(expected));
  }

  it('a CA certificate is not a card', async () => {
    const c = await codes({ ca: true, keyUsage: { bits: ['digitalSignature', 'keyCertSign'], critical: true } });
    expect(c).toContain('leaf_is_ca');
  });
});

describe('cpsIdentity', () => {
  const id = async (subject: string): Promise<string | null> =>
    cpsIdentity(parseCertificate(await issueCert({ subject, key: await genKey('p256'), issuerCert: ca, signer: caKey, serial: 0x80 }))).nationalId;
  it('reads the national identifier from serialNumber, else from "<id>/<NAME>" in the CN, never from a bare name', async () => {
    expect(await id('CN=DR HOMONYME,SERIALNUMBER=810000000001,C=FR')).toBe('810000000001');
    expect(await id('CN=19999999001/FICTIF-TEST CAMILLE,C=FR')).toBe('19999999001');
    expect(await id('CN=DR HOMONYME,C=FR')).toBeNull();
    expect(await id('CN=12/COURT,C=FR')).toBeNull();
  });
  it('names the issuer and the serial as encoded', async () => {
    const c = parseCertificate(await issueCert({ subject: 'CN=X,C=FR', key: await genKey('p256'), issuerCert: ca, signer: caKey, serial: 0x80 }));
    expect(cpsIdentity(c)).toEqual({ nationalId: null, issuer: 'CN=TEST PERSONNES,O=TEST,C=FR', serial: '0080' });
  });
});
