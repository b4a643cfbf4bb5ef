/**
 * A small certificate world for the trust store tests (Node and Chromium): two GIE
 * SESAM-Vitale shaped hierarchies side by side (production AC-SESAM-VITALE-2034 →
 * AC-FACTURATION, test AC-SESAM-VITALE-TEST-2034 → AC-FACTURATION-TEST), an OCT root, recipient
 * certificates with the attachment-encryption profile and CRLs, all made with WebCrypto
 * (test/pki/fixtures/forge.ts). Keys are generated once per world.
 */
import { addDays, atMinute, localDate } from '../../src/lib/time/zoned-time.js';
import { type ForgeKey, type KeyUsageBit, genKey, issueCert, issueCrl, pem } from '../pki/fixtures/forge.js';

export const DAY = 86_400_000;

export const URL = {
  testInterCrl: 'ldap://annuaire.test/cn=AC-FACTURATION-TEST,ou=AC-FACTURATION-TEST,ou=AC-SESAM-VITALE-TEST-2034,o=sesam-vitale,c=fr/certificateRevocationList',
  testRootCrl: 'ldap://annuaire.test/cn=AC-SESAM-VITALE-TEST-2034,o=sesam-vitale,c=fr/certificateRevocationList',
  prodInterCrl: 'ldap://annuaire.test/cn=AC-FACTURATION,ou=AC-FACTURATION,ou=AC-SESAM-VITALE-2034,o=sesam-vitale,c=fr/certificateRevocationList',
  prodRootCrl: 'ldap://annuaire.test/cn=AC-SESAM-VITALE-2034,o=sesam-vitale,c=fr/certificateRevocationList',
  amoTest: 'ldap://annuaire.test/cn=AC-FACTURATION-TEST,ou=AC-FACTURATION-TEST,ou=AC-SESAM-VITALE-TEST-2034,o=sesam-vitale,c=fr,cn=amo_pj.test@test.rss.fr/certificate',
} as const;

export const MAILBOX = {
  amoTest: 'amo_pj.test@test.rss.fr',
  amcTest: 'amc_pj.test@test.rss.fr',
  amoProd: 'amo_pj.reel@reel.rss.fr',
} as const;

const LEAF_KU: KeyUsageBit[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment'];

export type CaId = 'testRoot' | 'testInter' | 'prodRoot' | 'prodInter' | 'octRoot';

export interface World {
  /** The instant the world was made; certificates are valid from now − 1 day. */
  now: number;
  der: Record<CaId, Uint8Array>;
  keys: Record<CaId | 'leaf', ForgeKey>;
  /** A recipient certificate. */
  leaf(o: {
    email: string;
    ca?: 'testInter' | 'prodInter' | 'testRoot';
    serial: number | bigint;
    notBefore?: number;
    notAfter?: number;
    crlUrl?: string;
  }): Promise<Uint8Array>;
  /** A CRL of `ca`. */
  crl(o: { ca: CaId; revoked?: Array<number | bigint>; thisUpdate?: number; nextUpdate?: number; crlNumber?: number; signer?: ForgeKey }): Promise<Uint8Array>;
}

export const NAMES: Record<CaId, string> = {
  testRoot: 'CN=AC-SESAM-VITALE-TEST-2034,O=sesam-vitale,C=FR',
  testInter: 'CN=AC-FACTURATION-TEST,OU=AC-FACTURATION-TEST,O=sesam-vitale,C=FR',
  prodRoot: 'CN=AC-SESAM-VITALE-2034,O=sesam-vitale,C=FR',
  prodInter: 'CN=AC-FACTURATION,OU=AC-FACTURATION,O=sesam-vitale,C=FR',
  octRoot: 'CN=AC OCT Exemple,O=OCT Exemple,C=FR',
};

/**
 * A noon in Paris (winter, no DST change within weeks): unit tests build their world at a fixed
 * instant and drive the service with an injected clock, so they mean the same at any hour.
 */
export const FIXED_NOW = Date.parse('2026-01-13T11:00:00Z');

/** `now` defaults to the real clock, for the browser tests whose pages read it. */
export async function makeWorld(opts: { now?: number } = {}): Promise<World> {
  const now = opts.now ?? Date.now();
  const [testRoot, testInter, prodRoot, prodInter, octRoot, leaf] = await Promise.all([genKey(), genKey(), genKey(), genKey(), genKey(), genKey()]);
  const keys = { testRoot, testInter, prodRoot, prodInter, octRoot, leaf };
  // Every date from `now`, never from the real clock (the factory's default).
  const notBefore = new Date(now - DAY);
  const notAfter = new Date(now + 3 * 365 * DAY);
  const rootT = await issueCert({ subject: NAMES.testRoot, key: testRoot, ca: true, serial: 1, notBefore, notAfter });
  const rootP = await issueCert({ subject: NAMES.prodRoot, key: prodRoot, ca: true, serial: 1, notBefore, notAfter });
  const rootO = await issueCert({ subject: NAMES.octRoot, key: octRoot, ca: true, serial: 1, notBefore, notAfter });
  const inter = (subject: string, key: ForgeKey, issuerCert: Uint8Array, signer: ForgeKey, crlDp: string): Promise<Uint8Array> =>
    issueCert({ subject, key, issuerCert, signer, ca: true, basicConstraints: { cA: true, pathLen: 0, critical: true }, serial: 2, crlDp: [crlDp], notBefore, notAfter });
  const der: Record<CaId, Uint8Array> = {
    testRoot: rootT,
    prodRoot: rootP,
    octRoot: rootO,
    testInter: await inter(NAMES.testInter, testInter, rootT, testRoot, URL.testRootCrl),
    prodInter: await inter(NAMES.prodInter, prodInter, rootP, prodRoot, URL.prodRootCrl),
  };
  return {
    now,
    der,
    keys,
    leaf: (o) => {
      const ca = o.ca ?? 'testInter';
      const crlUrl = o.crlUrl ?? (ca === 'prodInter' ? URL.prodInterCrl : URL.testInterCrl);
      return issueCert({
        subject: `CN=${o.email},O=sesam-vitale,C=FR`,
        key: leaf,
        issuerCert: der[ca],
        signer: keys[ca],
        serial: o.serial,
        emails: [o.email],
        keyUsage: { bits: LEAF_KU, critical: true },
        crlDp: [crlUrl],
        notBefore: new Date(o.notBefore ?? now - DAY),
        notAfter: new Date(o.notAfter ?? now + 365 * DAY),
      });
    },
    crl: (o) =>
      issueCrl({
        issuerCert: der[o.ca],
        signer: o.signer ?? keys[o.ca],
        thisUpdate: new Date(o.thisUpdate ?? now - 3_600_000),
        nextUpdate: new Date(o.nextUpdate ?? (o.thisUpdate ?? now - 3_600_000) + 7 * DAY),
        crlNumber: o.crlNumber ?? 1,
        entries: (o.revoked ?? []).map((serial) => ({ serial, reason: 'keyCompromise' as const })),
      }),
  };
}

export const pemOf = (der: Uint8Array, label = 'CERTIFICATE'): string => pem(der, label);

export const b64 = (d: Uint8Array): string => Buffer.from(d).toString('base64');

/**
 * The first instant at `minute` past midnight, Europe/Paris wall clock, that is later than
 * `after`: the start of a browser test's page clock, so that the test means the same at
 * whatever hour it runs (the CRL window is read in Paris time).
 */
export function nextParisWall(after: number, minute: number): number {
  const today = localDate(after);
  const t = atMinute(today, minute);
  return t > after ? t : atMinute(addDays(today, 1), minute);
}
