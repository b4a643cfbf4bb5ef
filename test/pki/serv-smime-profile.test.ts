/**
 * The serv-smime profile (src/lib/pki/profile-serv-smime.ts), as data: the shapes a whitelist
 * signer's certificate may take and the reason codes each must get.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { verify, type ServSmimeProfile } from '../../src/lib/pki/index.js';
import { DEMO_ORG_POLICIES, ekuValue, genKey, issueCert, issueCrl, type CertSpec, type ForgeKey } from '../../src/lib/pki/demo/index.js';

let rootKey: ForgeKey;
let caKey: ForgeKey;
let root: Uint8Array;
let ca: Uint8Array;
let crls: Uint8Array[];
const AGENCY = 'CN=AGENCE FICTIVE,O=FICTIF,C=FR';
beforeAll(async () => {
  [rootKey, caKey] = await Promise.all([genKey(), genKey()]);
  root = await issueCert({ subject: 'CN=RACINE,O=FICTIF,C=FR', key: rootKey, ca: true });
  ca = await issueCert({ subject: 'CN=ORGANISATIONS,O=FICTIF,C=FR', key: caKey, issuerCert: root, signer: rootKey, ca: true });
  crls = [await issueCrl({ issuerCert: root, signer: rootKey }), await issueCrl({ issuerCert: ca, signer: caKey })];
});

const EMAIL = ekuValue(['1.3.6.1.5.5.7.3.4']);
async function codes(spec: Partial<CertSpec>, alg: 'rsa2048' | 'rsa1024' = 'rsa2048', profile?: Partial<ServSmimeProfile>): Promise<string[]> {
  const leaf = await issueCert({ subject: AGENCY, key: await genKey(alg), issuerCert: ca, signer: caKey,
    keyUsage: { bits: ['digitalSignature'], critical: true }, policies: [DEMO_ORG_POLICIES.servSmime], extensions: [{ oid: '2.5.29.37', value: EMAIL }], ...spec });
  const r = await verify({ leaf, anchors: [root], intermediates: [ca], crls, profile: 'serv-smime',
    servSmime: { issuers: [ca], policies: [DEMO_ORG_POLICIES.servSmime], subject: AGENCY, ...profile } });
  expect(r.valid).toBe(r.errors.length === 0);
  return r.errors.map((e) => e.code);
}

describe('serv-smime profile', () => {
  const cases: Array<[string, Partial<CertSpec>, 'rsa2048' | 'rsa1024', string[]]> = [
    ['the agency’s SERV_S/MIME certificate', {}, 'rsa2048', []],
    ['with keyEncipherment too (signature and encryption)', { keyUsage: { bits: ['digitalSignature', 'keyEncipherment'], critical: true } }, 'rsa2048', []],
    ['no extendedKeyUsage', { extensions: [] }, 'rsa2048', []],
    ['a TLS server certificate (serverAuth)', { extensions: [{ oid: '2.5.29.37', value: ekuValue(['1.3.6.1.5.5.7.3.1']) }] }, 'rsa2048', ['eku_not_smime']],
    ['a TLS client certificate (ORG AUTH_CLI policy, clientAuth)', { policies: [DEMO_ORG_POLICIES.orgAuthCli], extensions: [{ oid: '2.5.29.37', value: ekuValue(['1.3.6.1.5.5.7.3.2']) }] }, 'rsa2048', ['eku_not_smime', 'policy_not_serv_smime']],
    ['nonRepudiation only', { keyUsage: { bits: ['nonRepudiation'], critical: true } }, 'rsa2048', ['key_usage_insufficient']],
    ['keyUsage not critical', { keyUsage: { bits: ['digitalSignature'], critical: false } }, 'rsa2048', ['key_usage_not_critical']],
    ['no keyUsage', { keyUsage: null }, 'rsa2048', ['key_usage_missing']],
    ['another structure', { subject: 'CN=AUTRE,O=FICTIF,C=FR' }, 'rsa2048', ['signer_not_expected']],
    ['RSA 1024', {}, 'rsa1024', ['weak_key']],
  ];
  for (const [what, spec, alg, expected] of cases) it(what, async () => expect(await codes(spec, alg)).toEqual(expected));

  it('the subject compares without regard to case or spaces around separators', async () => {
    expect(await codes({}, 'rsa2048', { subject: 'cn=Agence Fictive, o=FICTIF, c=FR' })).toEqual([]);
  });
  it('issued by the root itself, not by the structures’ CA', async () => {
    expect(await codes({}, 'rsa2048', { issuers: [root] })).toEqual(['issuer_not_org_ca']);
  });
  it('without a configured profile nothing is accepted', async () => {
    expect(await codes({}, 'rsa2048', { policies: [] })).toContain('profile_not_configured');
    expect(await codes({}, 'rsa2048', { subject: ' ' })).toEqual(['profile_not_configured']);
  });
});
