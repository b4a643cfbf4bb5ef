/**
 * Logging in to the relay with the CPS: the CPS-authentication profile (the card's
 * authentication certificate only, RSA ≥ 2048, no SHA-1: docs/domain/security.md SP3, C2, G5), practitioners
 * named by a unique identifier, sessions ended by revocation and by logout, small bodies on the
 * unauthenticated routes. Certificates come from the test IGC-Santé chain (forge) and, for the
 * SHA-1 case, from OpenSSL as the issuing CA.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { genKey, issueCert, issueCrl, pem, type ForgeKey } from '../pki/fixtures/forge.js';
import { CrlSources, RelayApi, SqliteStore, type PractitionerConfig, type RelayConfig } from '../../src/lib/server/relay/index.js';
import { PRACTITIONER_ADDR } from './fixtures/mail.js';
import { CARD_AUTH_POLICY, ORIGIN, cpsSubject, login, makeIgcSante, relayConfig, token, type IgcSante } from './fixtures/relay.js';

const B = 'http://relay.test';
const INTER_DN = 'CN=TEST AC IGC-SANTE ELEMENTAIRE PERSONNES,OU=IGC-SANTE TEST,O=ANS,C=FR';
let dir: string;
let pki: IgcSante;
let n = 0;
let serial = 500;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teletrans-relay-auth-'));
  pki = await makeIgcSante();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const practitioner = (id: string, certificateMatch: PractitionerConfig['certificateMatch']): PractitionerConfig =>
  ({ id, certificateMatch, from: PRACTITIONER_ADDR, allowedRecipients: ['@example.test'] });

function setup(extra: Partial<RelayConfig> = {}, loadedCrls?: () => Uint8Array[]): { api: RelayApi; store: SqliteStore } {
  const store = new SqliteStore(join(dir, `a${++n}.sqlite`));
  // No delivery here: the SMTP server is never contacted.
  const config = relayConfig(pki, { host: '127.0.0.1', port: 9, security: 'starttls' }, extra);
  return { api: new RelayApi(store, config, undefined, loadedCrls), store };
}

type Bit = 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment';
const EKU_SERVER_AUTH = Uint8Array.of(0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01);
const EKU_CLIENT_AUTH = Uint8Array.of(0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02);

/**
 * A card certificate under the test "personnes" CA: by default the authentication one (its
 * policy, digitalSignature only); each option makes it something else.
 */
async function card(o: { subject?: string; key?: ForgeKey; bits?: Bit[]; policies?: string[]; eku?: Uint8Array; ca?: { der: Uint8Array; key: ForgeKey } } = {}):
  Promise<{ der: Uint8Array; key: ForgeKey; serial: number }> {
  const key = o.key ?? await genKey();
  const s = ++serial;
  const der = await issueCert({ subject: o.subject ?? cpsSubject('899700000001'), key, issuerCert: o.ca?.der ?? pki.inter, signer: o.ca?.key ?? pki.interKey, serial: s,
    keyUsage: { bits: o.bits ?? ['digitalSignature'], critical: true }, policies: o.policies ?? [CARD_AUTH_POLICY],
    ...(o.eku ? { extensions: [{ oid: '2.5.29.37', value: o.eku }] } : {}) });
  return { der, key, serial: s };
}

async function refused(api: RelayApi, der: Uint8Array, key: ForgeKey): Promise<{ status: number; error: string; reasons: string[] }> {
  const r = await login((q) => api.handle(q), der, key);
  const body = (await r.json()) as { error: string; reasons?: string[] };
  return { status: r.status, error: body.error, reasons: body.reasons ?? [] };
}

const messages = (api: RelayApi, t: string): Promise<Response> =>
  api.handle(new Request(`${B}/api/relay/messages`, { headers: { authorization: `Bearer ${t}` } }));

describe('CPS-authentication profile', () => {
  it('refuses the card’s signature certificate (nonRepudiation only), accepts its authentication certificate', async () => {
    const { api } = setup();
    const sign = await card({ bits: ['nonRepudiation'] });
    expect(await refused(api, sign.der, sign.key)).toEqual({ status: 401, error: 'chain', reasons: ['key_usage_not_authentication'] });
    const auth = await card();
    expect((await login((q) => api.handle(q), auth.der, auth.key)).status).toBe(200);
  });

  it('refuses an RSA-1024 card key (G5)', async () => {
    const { api } = setup();
    const weak = await card({ key: await genKey('rsa1024') });
    const r = await refused(api, weak.der, weak.key);
    expect(r.status).toBe(401);
    expect(r.reasons).toContain('weak_key');
  });

  it('refuses a card certificate signed with SHA-1 (issued by OpenSSL as the CA)', async () => {
    const { api } = setup();
    const d = mkdtempSync(join(dir, 'sha1-'));
    const key = await genKey();
    const pkcs8 = async (k: ForgeKey): Promise<Uint8Array> => new Uint8Array(await crypto.subtle.exportKey('pkcs8', k.privateKey));
    writeFileSync(join(d, 'inter.pem'), pem(pki.inter));
    writeFileSync(join(d, 'inter.key'), pem(await pkcs8(pki.interKey), 'PRIVATE KEY'));
    writeFileSync(join(d, 'leaf.key'), pem(await pkcs8(key), 'PRIVATE KEY'));
    writeFileSync(join(d, 'ext.cnf'), `keyUsage = critical, digitalSignature\ncertificatePolicies = ${CARD_AUTH_POLICY}\n`);
    execFileSync('openssl', ['req', '-new', '-key', join(d, 'leaf.key'), '-subj', '/C=FR/O=TEST/OU=CPS/CN=899700000001\\/FICTIF SHA1',
      '-out', join(d, 'leaf.csr')], { stdio: 'ignore' });
    const der = new Uint8Array(execFileSync('openssl', ['x509', '-req', '-in', join(d, 'leaf.csr'), '-CA', join(d, 'inter.pem'), '-CAkey', join(d, 'inter.key'),
      '-sha1', '-set_serial', '777', '-days', '30', '-extfile', join(d, 'ext.cnf'), '-outform', 'DER'], { stdio: ['ignore', 'pipe', 'ignore'] }));
    const r = await refused(api, der, key);
    expect(r.status).toBe(401);
    expect(r.reasons).toEqual(['weak_signature_algorithm']);
  });
});

describe('only the card\'s authentication certificate, as its profile defines it (issue 24 defect 2)', () => {
  it('refuses, each with its reason, the leaves of the same anchors that are not that certificate', async () => {
    const { api } = setup();
    // A second CA under the same root, issuing (say) establishments' certificates.
    const orgKey = await genKey();
    const org = { key: orgKey, der: await issueCert({ subject: 'CN=TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS,OU=IGC-SANTE TEST,O=ANS,C=FR', key: orgKey,
      issuerCert: pki.root, signer: pki.rootKey, ca: true, basicConstraints: { cA: true, pathLen: 0, critical: true }, serial: 3 }) };
    const orgCrl = await issueCrl({ issuerCert: org.der, signer: org.key });
    const api2 = setup({ intermediates: [pki.inter, org.der], crls: [pki.rootCrl, pki.interCrl, orgCrl] }).api;
    const cases: Array<[string, Awaited<ReturnType<typeof card>>, RelayApi, string[]]> = [
      ['digitalSignature and nonRepudiation', await card({ bits: ['digitalSignature', 'nonRepudiation'] }), api, ['key_usage_not_authentication']],
      ['a TLS server certificate (ECDSA-style usage, serverAuth)', await card({ subject: 'CN=899700000001/relay.example.test,C=FR', eku: EKU_SERVER_AUTH }), api, ['eku_not_client_auth']],
      ['a TLS server certificate (RSA-style usage)', await card({ bits: ['digitalSignature', 'keyEncipherment'], eku: EKU_SERVER_AUTH, policies: ['1.2.3.4'] }), api,
        ['key_usage_not_authentication', 'eku_not_client_auth', 'policy_not_authentication']],
      ['another end entity of the card CA, without the authentication policy', await card({ policies: [] }), api, ['policy_not_authentication']],
      ['the card\'s signature certificate policy', await card({ policies: ['2.25.148276281164427754648465140806896172893.1.2'] }), api, ['policy_not_authentication']],
      ['a leaf of another CA under the same anchor, with everything else right', await card({ ca: org }), api2, ['issuer_not_card_ca']],
    ];
    for (const [what, c, a, reasons] of cases) {
      expect(await refused(a, c.der, c.key), what).toEqual({ status: 401, error: 'chain', reasons });
    }
    // With clientAuth, the authentication certificate still logs in; its RPPS comes from its CN.
    const ok = await card({ eku: EKU_CLIENT_AUTH });
    const r = await login((q) => api.handle(q), ok.der, ok.key);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { practitioner: string }).practitioner).toBe('ps1');
  });

  it('a relay that is not told what a card is does not start', () => {
    const store = new SqliteStore(join(dir, `cfg${++n}.sqlite`));
    const base = relayConfig(pki, { host: '127.0.0.1', port: 9, security: 'starttls' });
    for (const cardAuthentication of [undefined, { issuers: [], policies: [CARD_AUTH_POLICY] }, { issuers: [pki.inter], policies: [] }, { issuers: [pki.inter], policies: ['not an oid'] }]) {
      expect(() => new RelayApi(store, { ...base, cardAuthentication } as RelayConfig)).toThrow(/cardAuthentication/);
    }
  });
});

describe('practitioner identity', () => {
  it('tells apart two practitioners with the same name (RPPS before the "/" of the CN, or issuer and serial); a serialNumber attribute is not an identity', async () => {
    const homonym = (id?: string): string => `CN=${id ? `${id}/` : ''}DR HOMONYME CAMILLE,OU=CPS,O=TEST,C=FR`;
    const a = await card({ subject: homonym('810000000001') });
    const b = await card({ subject: homonym('810000000002') });
    const c = await card({ subject: homonym() });
    const { api } = setup({ practitioners: [
      practitioner('ps-a', { rpps: '810000000001' }), practitioner('ps-b', { rpps: '810000000002' }),
      practitioner('ps-c', { issuer: INTER_DN.toLowerCase(), serial: `00${c.serial.toString(16).toUpperCase()}` }),
    ] });
    const who = async (x: { der: Uint8Array; key: ForgeKey }): Promise<string> =>
      ((await (await login((q) => api.handle(q), x.der, x.key)).json()) as { practitioner: string }).practitioner;
    expect([await who(a), await who(b), await who(c)]).toEqual(['ps-a', 'ps-b', 'ps-c']);
    // A homonym with neither identifier nor a configured certificate is nobody, even with an RPPS in serialNumber.
    const d = await card({ subject: homonym() });
    expect((await refused(api, d.der, d.key)).status).toBe(403);
    const e = await card({ subject: 'CN=DR HOMONYME CAMILLE,SERIALNUMBER=810000000001,OU=CPS,O=TEST,C=FR' });
    expect((await refused(api, e.der, e.key)).status).toBe(403);
  });

  it('refuses configurations that match by common name or e-mail, or overlap', () => {
    const store = new SqliteStore(join(dir, `cfg${++n}.sqlite`));
    const base = relayConfig(pki, { host: '127.0.0.1', port: 9, security: 'starttls' });
    const withP = (ps: unknown[]): RelayConfig => ({ ...base, practitioners: ps as PractitionerConfig[] });
    expect(() => new RelayApi(store, withP([{ ...practitioner('x', {}), certificateMatch: { cn: '899700000001' } }]))).toThrow(/not unique/);
    expect(() => new RelayApi(store, withP([practitioner('x', {})]))).toThrow(/needs rpps/);
    expect(() => new RelayApi(store, withP([practitioner('x', { rpps: '1' }), practitioner('y', { rpps: '1' })]))).toThrow(/same certificates/);
    expect(() => new RelayApi(store, withP([practitioner('x', { serial: '01' })]))).toThrow(/go together/);
  });
});

describe('sessions', () => {
  it('ends a live session when a CRL refresh revokes the card', async () => {
    const d = mkdtempSync(join(dir, 'crl-'));
    const crlFile = join(d, 'inter.crl');
    writeFileSync(crlFile, await issueCrl({ issuerCert: pki.inter, signer: pki.interKey, thisUpdate: new Date(Date.now() - 120_000) }));
    const sources = new CrlSources([crlFile], () => undefined);
    await sources.refresh();
    const { api, store } = setup({ crls: [pki.rootCrl] }, () => sources.list());
    const t = await token(api, pki);
    expect((await messages(api, t)).status).toBe(200);
    // The CA revokes the card; the relay's next refresh sees it.
    writeFileSync(crlFile, await issueCrl({ issuerCert: pki.inter, signer: pki.interKey, thisUpdate: new Date(Date.now() - 60_000), crlNumber: 2,
      entries: [{ serial: 100, reason: 'keyCompromise' }] }));
    expect((await messages(api, t)).status).toBe(200); // not yet refreshed
    await sources.refresh();
    const r = await messages(api, t);
    expect(r.status).toBe(401);
    const body = (await r.json()) as { error: string; reasons: string[] };
    expect(body.error).toBe('revoked');
    expect(body.reasons).toContain('cert_revoked');
    expect(((await (await messages(api, t)).json()) as { error: string }).error).toBe('no-session');
    expect((await store.listAudit(20)).some((e) => e.action === 'session.revoked')).toBe(true);
    expect((await login((q) => api.handle(q), pki.leaf, pki.leafKey)).status).toBe(401);
  });

  it('logs out: the token no longer opens anything', async () => {
    const { api, store } = setup();
    const t = await token(api, pki);
    const other = await token(api, pki);
    const out = await api.handle(new Request(`${B}/api/relay/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${t}` } }));
    expect(out.status).toBe(200);
    expect(await out.json()).toEqual({ loggedOut: true, sessionEnded: true });
    const r = await messages(api, t);
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: string }).error).toBe('no-session');
    expect((await messages(api, other)).status).toBe(200); // only that session
    expect((await store.listAudit(20)).some((e) => e.action === 'session.close')).toBe(true);
    expect((await api.handle(new Request(`${B}/api/relay/auth/logout`, { method: 'POST' }))).status).toBe(401);
    const doc = (await (await api.handle(new Request(`${B}/api/relay/openapi.json`))).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/auth/logout');
  });

  it('caps the bodies of the unauthenticated routes (413), declared or streamed', async () => {
    const { api } = setup();
    const big = JSON.stringify({ origin: ORIGIN, pad: 'x'.repeat(4096) });
    const declared = await api.handle(new Request(`${B}/api/relay/auth/challenge`, { method: 'POST', headers: { origin: ORIGIN }, body: big }));
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as { error: string }).error).toBe('too-large');
    const stream = new ReadableStream<Uint8Array>({ start(c) { for (let i = 0; i < 64; i++) c.enqueue(new Uint8Array(1024)); c.close(); } });
    const streamed = await api.handle(new Request(`${B}/api/relay/auth/token`, { method: 'POST', headers: { origin: ORIGIN }, body: stream, duplex: 'half' } as RequestInit));
    expect(streamed.status).toBe(413);
    // Within the cap, as before: the Origin from the body when the header is absent.
    const small = await api.handle(new Request(`${B}/api/relay/auth/challenge`, { method: 'POST', body: JSON.stringify({ origin: ORIGIN }) }));
    expect(small.status).toBe(200);
  });
});
