/**
 * The cps-authentication profile (src/lib/pki/profile-cps-auth.ts) and cpsIdentity, as data:
 * each card certificate shape and the reason codes it must (or must not) get.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cpsIdentity, parseCertificate, verify, type CpsAuthenticationProfile } from '../../src/lib/pki/index.js';
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

const AUTH_POLICY = '2.25.148276281164427754648465140806896172893.1.1';

async function codes(spec: Partial<CertSpec>, alg: 'rsa2048' | 'rsa1024' | 'p256' = 'rsa2048', profile: CpsAuthenticationProfile | null = { issuers: [ca], policies: [AUTH_POLICY] }): Promise<string[]> {
  const leaf = await issueCert({ subject: 'CN=899700000001/FICTIF,C=FR', key: await genKey(alg), issuerCert: ca, signer: caKey,
    keyUsage: { bits: ['digitalSignature'], critical: true }, policies: [AUTH_POLICY], ...spec });
  const r = await verify({ leaf, anchors: [root], intermediates: [ca], crls, profile: 'cps-authentication', ...(profile ? { cpsAuthentication: profile } : {}) });
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
    ['digitalSignature with nonRepudiation', { keyUsage: { bits: ['digitalSignature', 'nonRepudiation'], critical: true } }, 'rsa2048', ['key_usage_not_authentication']],
    ['another policy', { policies: ['1.2.250.1.999'] }, 'rsa2048', ['policy_not_authentication']],
    ['no policy', { policies: [] }, 'rsa2048', ['policy_not_authentication']],
    ['extendedKeyUsage serverAuth', { extensions: [{ oid: '2.5.29.37', value: Uint8Array.of(0x30, 0x0a, 0x06, 0x08, 0x2b, 6, 1, 5, 5, 7, 3, 1) }] }, 'rsa2048', ['eku_not_client_auth']],
    ['extendedKeyUsage unreadable', { extensions: [{ oid: '2.5.29.37', value: Uint8Array.of(0x04, 0x00) }] }, 'rsa2048', ['eku_not_client_auth']],
    ['RSA 1024', {}, 'rsa1024', ['weak_key']],
  ];
  for (const [what, spec, alg, expected] of cases) {
    it(what, async () => expect(await codes(spec, alg)).toEqual(expected));
  }

  it('without a configured card profile, even the authentication certificate is refused (fail closed)', async () => {
    expect(await codes({}, 'rsa2048', null)).toEqual(['profile_not_configured']);
    expect(await codes({}, 'rsa2048', { issuers: [], policies: [AUTH_POLICY] })).toEqual(['profile_not_configured']);
  });

  it('a leaf whose issuing CA is not one that issues cards is refused, even under the same anchor', async () => {
    expect(await codes({}, 'rsa2048', { issuers: [root], policies: [AUTH_POLICY] })).toEqual(['issuer_not_card_ca']);
  });

  it('a CA certificate is not a card', async () => {
    const c = await codes({ ca: true, keyUsage: { bits: ['digitalSignature', 'keyCertSign'], critical: true } });
    expect(c).toContain('leaf_is_ca');
  });
});

describe('cpsIdentity', () => {
  const id = async (subject: string): Promise<string | null> =>
    cpsIdentity(parseCertificate(await issueCert({ subject, key: await genKey('p256'), issuerCert: ca, signer: caKey, serial: 0x80 }))).nationalId;
  it('reads the national identifier from "<id>/<NAME>" in the CN, where the profile puts it: never from serialNumber or a bare name', async () => {
    expect(await id('CN=DR HOMONYME,SERIALNUMBER=810000000001,C=FR')).toBeNull();
    expect(await id('CN=19999999001/FICTIF-TEST CAMILLE,C=FR')).toBe('19999999001');
    expect(await id('CN=DR HOMONYME,C=FR')).toBeNull();
    expect(await id('CN=12/COURT,C=FR')).toBeNull();
  });
  it('names the issuer and the serial as encoded', async () => {
    const c = parseCertificate(await issueCert({ subject: 'CN=X,C=FR', key: await genKey('p256'), issuerCert: ca, signer: caKey, serial: 0x80 }));
    expect(cpsIdentity(c)).toEqual({ nationalId: null, issuer: 'CN=TEST PERSONNES,O=TEST,C=FR', serial: '0080' });
  });
});
