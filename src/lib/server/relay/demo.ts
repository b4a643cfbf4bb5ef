/**
 * The relay on its embedded defaults (`npm start`, TELETRANS_RELAY_DEMO_DIR): everything a
 * practitioner's test run needs, on this machine only, all of it FICTITIOUS:
 * - a demo IGC-Santé-like chain (root, "personnes" CA) and one practitioner credential, made
 *   once and kept in the directory (`practitioner.pem` / `practitioner.key` sign the relay's
 *   challenge like a CPS would: what an API client or the simulated card uses);
 * - CRLs for both CAs, re-issued at start and daily, read by the relay through `crlSources`;
 * - the local test peer (test-peer.ts) standing in for the insurers' front end: SMTP with
 *   STARTTLS on the loopback, its certificate made by OpenSSL, mail kept under `peer-mail/`.
 * Recipients are limited to the SESAM-Vitale TEST mailboxes (@test.rss.fr) and @teletrans.test.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { genKey, importKey, issueCert, issueCpsCertificate, issueCrl, pem, type ForgeKey } from '../../pki/demo/index.js';
import { cpsIdentity, parseCertificate } from '../../pki/index.js';
import type { RelayConfig } from './config.js';
import { startTestPeer } from './test-peer.js';

/**
 * The demo practitioner: its national identifier (fictitious RPPS, the one the bridge's simulated
 * CPS carries by default: bridge/cards/profiles.ts), which the relay maps to it, and its sender.
 */
export const DEMO_RPPS = '19999990013';
export const DEMO_FROM = 'ps.demo@teletrans.test';

const DAY = 86_400_000;

interface SavedPki {
  rootDer: string; caDer: string; rootKey: string; caKey: string; rootSpki: string; caSpki: string; leafDer: string;
}

const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

async function pkcs8(k: ForgeKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey('pkcs8', k.privateKey));
}

function writePrivate(path: string, data: string | Uint8Array): void {
  writeFileSync(path, data, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** The demo chain and practitioner credential: made on first use, then read back. */
async function demoPki(dir: string): Promise<{ rootDer: Uint8Array; caDer: Uint8Array; rootKey: ForgeKey; caKey: ForgeKey }> {
  const file = join(dir, 'pki.json');
  if (existsSync(file)) {
    const s = JSON.parse(readFileSync(file, 'utf8')) as SavedPki;
    const kept = {
      rootDer: unb64(s.rootDer), caDer: unb64(s.caDer),
      rootKey: await importKey('rsa2048', unb64(s.rootKey), unb64(s.rootSpki)),
      caKey: await importKey('rsa2048', unb64(s.caKey), unb64(s.caSpki)),
    };
    // A credential made before practitioners were named by RPPS (CN only): a new one, same CAs.
    if (cpsIdentity(parseCertificate(unb64(s.leafDer))).nationalId !== DEMO_RPPS) {
      s.leafDer = b64(await issueCredential(dir, kept.caDer, kept.caKey));
      writePrivate(file, JSON.stringify(s));
    }
    return kept;
  }
  const [rootKey, caKey] = await Promise.all([genKey(), genKey()]);
  const rootDer = await issueCert({ subject: 'CN=DEMO FICTIF AC RACINE IGC-SANTE,OU=TELETRANS DEMO,O=TELETRANS FICTIF,C=FR',
    key: rootKey, ca: true, notAfter: new Date(Date.now() + 3650 * DAY) });
  const caDer = await issueCert({ subject: 'CN=DEMO FICTIF AC IGC-SANTE PERSONNES,OU=TELETRANS DEMO,O=TELETRANS FICTIF,C=FR',
    key: caKey, issuerCert: rootDer, signer: rootKey, ca: true, notAfter: new Date(Date.now() + 3000 * DAY) });
  const leafDer = await issueCredential(dir, caDer, caKey);
  writeFileSync(join(dir, 'demo-root.pem'), pem(rootDer));
  const saved: SavedPki = { rootDer: b64(rootDer), caDer: b64(caDer), rootKey: b64(await pkcs8(rootKey)), caKey: b64(await pkcs8(caKey)),
    rootSpki: b64(rootKey.spki), caSpki: b64(caKey.spki), leafDer: b64(leafDer) };
  writePrivate(file, JSON.stringify(saved));
  return { rootDer, caDer, rootKey, caKey };
}

/**
 * The demo card's authentication credential, as the bridge's simulated CPS has it: RSA 2048,
 * keyUsage digitalSignature only (critical), "<RPPS>/<NAME>" common name. Written to
 * `practitioner.pem` (the certificate, then its CA) and `practitioner.key` (0600).
 */
async function issueCredential(dir: string, caDer: Uint8Array, caKey: ForgeKey): Promise<Uint8Array> {
  const leafKey = await genKey();
  const leafDer = await issueCpsCertificate({ rpps: DEMO_RPPS, name: 'DEMO FICTIF PRATICIEN', rest: 'OU=CPS DEMO,O=TELETRANS FICTIF,C=FR',
    usage: 'auth', key: leafKey, caDer, caKey, notAfter: new Date(Date.now() + 3 * 365 * DAY) });
  writeFileSync(join(dir, 'practitioner.pem'), pem(leafDer) + pem(caDer));
  writePrivate(join(dir, 'practitioner.key'), pem(await pkcs8(leafKey), 'PRIVATE KEY'));
  return leafDer;
}

/** The test peer's TLS certificate for localhost (self-signed, OpenSSL), made on first use. */
function peerTls(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'peer.pem');
  const key = join(dir, 'peer.key');
  if (!existsSync(cert) || !existsSync(key)) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '3650',
      '-subj', '/CN=localhost/O=TELETRANS FICTIF', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    chmodSync(key, 0o600);
  }
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

export interface DemoRelay {
  config: RelayConfig;
  stop(): Promise<void>;
}

/** Prepares `dir` and starts the test peer; returns the relay configuration that uses them. */
export async function startDemo(dir: string, origins: string[]): Promise<DemoRelay> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pki = await demoPki(dir);
  const crlFiles = [join(dir, 'root.crl'), join(dir, 'ca.crl')];
  const issueCrls = async (): Promise<void> => {
    writeFileSync(crlFiles[0]!, await issueCrl({ issuerCert: pki.rootDer, signer: pki.rootKey, thisUpdate: new Date(Date.now() - 60_000) }));
    writeFileSync(crlFiles[1]!, await issueCrl({ issuerCert: pki.caDer, signer: pki.caKey, thisUpdate: new Date(Date.now() - 60_000) }));
  };
  await issueCrls();
  const crlTimer = setInterval(() => void issueCrls().catch((e: Error) => process.stderr.write(`relay demo CRL: ${e.message}\n`)), DAY);
  crlTimer.unref();
  const tlsPair = peerTls(dir);
  const peer = await startTestPeer({ port: 0, dir: join(dir, 'peer-mail'), cert: tlsPair.cert, key: tlsPair.key });
  const config: RelayConfig = {
    origins,
    anchors: [pki.rootDer],
    intermediates: [pki.caDer],
    crlSources: crlFiles,
    // Re-read often: the daily re-issue must be seen well before the previous CRL expires.
    crlRefreshMs: 3600_000,
    practitioners: [{ id: 'demo', certificateMatch: { rpps: DEMO_RPPS }, from: DEMO_FROM, allowedRecipients: ['@test.rss.fr', '@teletrans.test'] }],
    smtp: { host: '127.0.0.1', port: peer.port, security: 'starttls', tls: { ca: tlsPair.cert, servername: 'localhost' } },
  };
  return { config, async stop() { clearInterval(crlTimer); await peer.close(); } };
}
