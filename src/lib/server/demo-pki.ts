/**
 * The one FICTITIOUS PKI of `npm start` (issue 14 item 1), kept in the demo directory
 * (data/demo by default) and shared by every part that needs one:
 *
 * - an IGC-Santé-like hierarchy (root, "personnes" CA) for the practitioners' cards: the
 *   bridge's simulated CPS and Vitale get their certificates from it (`teletrans bridge
 *   --simulated-cards --demo-dir`), and the relay trusts it for the card's authentication;
 * - a SESAM-Vitale-like hierarchy (root, "facturation" CA) for the insurers' test mailboxes
 *   (`amo_pj.test@test.rss.fr`, `amc_pj.test@test.rss.fr`): their encryption certificates go to
 *   the browser's trust store as demonstration data (`/api/demo/trust`), their private keys
 *   stay here (0600) for the insurers' test peer and for OpenSSL in the tests;
 * - CRLs for the four CAs, issued on demand (the relay re-issues daily).
 *
 * Made once by the server (the relay's embedded defaults), written atomically; the bridge and
 * other readers wait for it. Every name says FICTIF / DEMO: nothing here is a real authority.
 */
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_CPS_POLICIES, genKey, importKey, issueCert, issueCpsCertificate, issueCrl, pem, type ForgeKey } from '../pki/demo/index.js';
import { cpsIdentity, parseCertificate } from '../pki/index.js';
import { MAILBOXES } from '../sesam/routing.js';

/** The demo practitioner's fictitious RPPS: the one the bridge's simulated CPS carries by default. */
export const DEMO_RPPS = '19999990013';

/** The insurers' test mailboxes of direct mode (docs/domain/transmission.md §7): demo recipients. */
export const DEMO_RECIPIENTS: readonly string[] = [MAILBOXES.amo.test, MAILBOXES.amc.test];

const DAY = 86_400_000;
const FILE = 'pki.json';

export interface DemoCa {
  der: Uint8Array;
  key: ForgeKey;
}

export interface DemoRecipient {
  email: string;
  der: Uint8Array;
  /** PKCS #8, DER: the insurers' side only. */
  key: Uint8Array;
}

export interface DemoPki {
  /** IGC-Santé-like: the cards and the relay's practitioner credential. */
  igcRoot: DemoCa;
  igcCa: DemoCa;
  /** SESAM-Vitale-like: the insurers' encryption certificates. */
  sesamRoot: DemoCa;
  sesamCa: DemoCa;
  recipients: readonly DemoRecipient[];
}

interface SavedKey {
  pkcs8: string;
  spki: string;
}
interface Saved {
  // Version 1 (the relay's own demo PKI): the IGC part and the practitioner credential.
  rootDer: string;
  caDer: string;
  rootKey: string;
  caKey: string;
  rootSpki: string;
  caSpki: string;
  leafDer: string;
  // Version 2: the SESAM-Vitale part.
  sesam?: { rootDer: string; caDer: string; rootKey: SavedKey; caKey: SavedKey; recipients: { email: string; der: string; key: string }[] };
}

const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

async function pkcs8(k: ForgeKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey('pkcs8', k.privateKey));
}
const savedKey = async (k: ForgeKey): Promise<SavedKey> => ({ pkcs8: b64(await pkcs8(k)), spki: b64(k.spki) });
const loadKey = (k: SavedKey): Promise<ForgeKey> => importKey('rsa2048', unb64(k.pkcs8), unb64(k.spki));

function writePrivate(path: string, data: string | Uint8Array): void {
  writeFileSync(path, data, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Writes `pki.json` all at once: a reader never sees half of it. `exclusive`: fails if it exists. */
function save(dir: string, s: Saved, exclusive: boolean): boolean {
  const tmp = join(dir, `${FILE}.${process.pid}.tmp`);
  writePrivate(tmp, JSON.stringify(s));
  try {
    if (exclusive) {
      try {
        linkSync(tmp, join(dir, FILE));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e;
      }
    } else writeFileSync(join(dir, FILE), readFileSync(tmp), { mode: 0o600 });
    return true;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * The demo card's authentication credential, as the bridge's simulated CPS has it: RSA 2048,
 * keyUsage digitalSignature only (critical), "<RPPS>/<NAME>" common name. Written to
 * `practitioner.pem` (the certificate, then its CA) and `practitioner.key` (0600): what an API
 * client uses to log in to the demo relay without a card.
 */
async function issueCredential(dir: string, caDer: Uint8Array, caKey: ForgeKey): Promise<Uint8Array> {
  const leafKey = await genKey();
  const leafDer = await issueCpsCertificate({
    rpps: DEMO_RPPS,
    name: 'DEMO FICTIF PRATICIEN',
    rest: 'OU=CPS DEMO,O=TELETRANS FICTIF,C=FR',
    usage: 'auth',
    key: leafKey,
    caDer,
    caKey,
    notAfter: new Date(Date.now() + 3 * 365 * DAY),
  });
  writeFileSync(join(dir, 'practitioner.pem'), pem(leafDer) + pem(caDer));
  writePrivate(join(dir, 'practitioner.key'), pem(await pkcs8(leafKey), 'PRIVATE KEY'));
  return leafDer;
}

/** A fictitious root and its CA (names say DEMO FICTIF), ten and about eight years long. */
async function makeHierarchy(rootName: string, caName: string, pathLen?: number): Promise<{ rootDer: Uint8Array; caDer: Uint8Array; rootKey: ForgeKey; caKey: ForgeKey }> {
  const [rootKey, caKey] = await Promise.all([genKey(), genKey()]);
  const dn = (cn: string): string => `CN=${cn},OU=TELETRANS DEMO,O=TELETRANS FICTIF,C=FR`;
  const rootDer = await issueCert({ subject: dn(rootName), key: rootKey, ca: true, notAfter: new Date(Date.now() + 3650 * DAY) });
  const caDer = await issueCert({
    subject: dn(caName),
    key: caKey,
    issuerCert: rootDer,
    signer: rootKey,
    ca: true,
    ...(pathLen !== undefined ? { basicConstraints: { cA: true, pathLen, critical: true } } : {}),
    notAfter: new Date(Date.now() + 3000 * DAY),
  });
  return { rootDer, caDer, rootKey, caKey };
}

async function makeIgc(dir: string): Promise<Saved> {
  const { rootDer, caDer, rootKey, caKey } = await makeHierarchy('DEMO FICTIF AC RACINE IGC-SANTE', 'DEMO FICTIF AC IGC-SANTE PERSONNES');
  const leafDer = await issueCredential(dir, caDer, caKey);
  return { rootDer: b64(rootDer), caDer: b64(caDer), rootKey: b64(await pkcs8(rootKey)), caKey: b64(await pkcs8(caKey)), rootSpki: b64(rootKey.spki), caSpki: b64(caKey.spki), leafDer: b64(leafDer) };
}

async function makeSesam(): Promise<NonNullable<Saved['sesam']>> {
  // « TEST » in the names: the trust store files them under the test hierarchy (plan.ts guessHierarchy).
  const { rootDer, caDer, rootKey, caKey } = await makeHierarchy('DEMO FICTIF AC RACINE SESAM-VITALE TEST', 'DEMO FICTIF AC FACTURATION SESAM-VITALE TEST', 0);
  const recipients = [];
  for (const [i, email] of DEMO_RECIPIENTS.entries()) {
    const key = await genKey();
    const der = await issueCert({
      subject: `CN=${email},OU=TELETRANS DEMO,O=TELETRANS FICTIF,C=FR`,
      key,
      issuerCert: caDer,
      signer: caKey,
      serial: 1000 + i,
      emails: [email],
      // As the insurers' attachment certificates (docs/domain/transmission.md §2, profile-sesam.ts).
      keyUsage: { bits: ['digitalSignature', 'nonRepudiation', 'keyEncipherment'], critical: true },
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 2 * 365 * DAY),
    });
    recipients.push({ email, der: b64(der), key: b64(await pkcs8(key)) });
  }
  return { rootDer: b64(rootDer), caDer: b64(caDer), rootKey: await savedKey(rootKey), caKey: await savedKey(caKey), recipients };
}

async function fromSaved(s: Saved & { sesam: NonNullable<Saved['sesam']> }): Promise<DemoPki> {
  return {
    igcRoot: { der: unb64(s.rootDer), key: await importKey('rsa2048', unb64(s.rootKey), unb64(s.rootSpki)) },
    igcCa: { der: unb64(s.caDer), key: await importKey('rsa2048', unb64(s.caKey), unb64(s.caSpki)) },
    sesamRoot: { der: unb64(s.sesam.rootDer), key: await loadKey(s.sesam.rootKey) },
    sesamCa: { der: unb64(s.sesam.caDer), key: await loadKey(s.sesam.caKey) },
    recipients: s.sesam.recipients.map((r) => ({ email: r.email, der: unb64(r.der), key: unb64(r.key) })),
  };
}

/** The recipients' certificates and keys as files, for OpenSSL (`openssl cms -decrypt`). */
function writeRecipientFiles(dir: string, pki: DemoPki): void {
  const out = join(dir, 'recipients');
  mkdirSync(out, { recursive: true, mode: 0o700 });
  for (const r of pki.recipients) {
    writeFileSync(join(out, `${r.email}.pem`), pem(r.der));
    writePrivate(join(out, `${r.email}.key`), pem(r.key, 'PRIVATE KEY'));
  }
  writeFileSync(join(dir, 'demo-root.pem'), pem(pki.igcRoot.der));
  writeFileSync(join(dir, 'demo-sesam-root.pem'), pem(pki.sesamRoot.der));
}

/**
 * Makes the demo PKI in `dir` on first use (the server does), completes one made by an older
 * version, then reads it back. Two processes starting together: one makes it, the other reads
 * what the first wrote.
 */
export async function ensureDemoPki(dir: string): Promise<DemoPki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, FILE);
  if (!existsSync(file)) {
    const made: Saved = { ...(await makeIgc(dir)), sesam: await makeSesam() };
    save(dir, made, true);
  }
  const s = JSON.parse(readFileSync(file, 'utf8')) as Saved;
  let changed = false;
  const igcCa = { der: unb64(s.caDer), key: await importKey('rsa2048', unb64(s.caKey), unb64(s.caSpki)) };
  // A credential made before practitioners were named by RPPS (CN only), or before card
  // certificates asserted their policy (the relay now requires it): a new one, same CAs.
  const leaf = parseCertificate(unb64(s.leafDer));
  if (cpsIdentity(leaf).nationalId !== DEMO_RPPS || !(leaf.policies ?? []).some((p) => p.oid === DEMO_CPS_POLICIES.auth)) {
    s.leafDer = b64(await issueCredential(dir, igcCa.der, igcCa.key));
    changed = true;
  }
  if (!s.sesam) {
    s.sesam = await makeSesam();
    changed = true;
  }
  if (changed) save(dir, s, false);
  const pki = await fromSaved(s as Saved & { sesam: NonNullable<Saved['sesam']> });
  writeRecipientFiles(dir, pki);
  return pki;
}

/** Reads the demo PKI the server made, waiting for it up to `timeoutMs` (the bridge starts beside the server). */
export async function readDemoPki(dir: string, timeoutMs = 60_000): Promise<DemoPki> {
  const file = join(dir, FILE);
  const t0 = Date.now();
  for (;;) {
    if (existsSync(file)) {
      const s = JSON.parse(readFileSync(file, 'utf8')) as Saved;
      if (s.sesam) return fromSaved(s as Saved & { sesam: NonNullable<Saved['sesam']> });
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`PKI de démonstration absente de ${dir} (le serveur la crée au démarrage : npm start)`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface DemoCrls {
  igcRoot: Uint8Array;
  igcCa: Uint8Array;
  sesamRoot: Uint8Array;
  sesamCa: Uint8Array;
}

/** Fresh CRLs of the four CAs (nothing revoked), valid 7 days, numbered by the second. */
export async function issueDemoCrls(pki: DemoPki, now = Date.now()): Promise<DemoCrls> {
  const thisUpdate = new Date(now - 60_000);
  const crlNumber = Math.floor(now / 1000);
  const one = (ca: DemoCa): Promise<Uint8Array> => issueCrl({ issuerCert: ca.der, signer: ca.key, thisUpdate, crlNumber });
  const [igcRoot, igcCa, sesamRoot, sesamCa] = await Promise.all([one(pki.igcRoot), one(pki.igcCa), one(pki.sesamRoot), one(pki.sesamCa)]);
  return { igcRoot, igcCa, sesamRoot, sesamCa };
}

/**
 * What the browser's trust store starts with in the demo (PEM): the SESAM-Vitale-like root and
 * CA, their CRLs, and the insurers' test recipients' certificates. Certificates only: no key.
 */
export function demoTrustBundle(pki: DemoPki, crls: DemoCrls): string {
  return [pem(pki.sesamRoot.der), pem(pki.sesamCa.der), pem(crls.sesamRoot, 'X509 CRL'), pem(crls.sesamCa, 'X509 CRL'), ...pki.recipients.map((r) => pem(r.der))].join('');
}
