/**
 * The relay on its embedded defaults (`npm start`, TELETRANS_RELAY_DEMO_DIR): everything a
 * practitioner's test run needs, on this machine only, all of it FICTITIOUS:
 * - the demo PKI shared with the bridge's simulated cards and the browser's trust store
 *   (../demo-pki.ts): the IGC-Santé-like chain the relay trusts for the cards' authentication,
 *   one practitioner credential (`practitioner.pem` / `practitioner.key` sign the relay's
 *   challenge like a CPS would: what an API client uses), the insurers' test recipients;
 * - CRLs for the four CAs, re-issued at start and daily; the relay reads the IGC ones through
 *   `crlSources`, the browser gets the SESAM-Vitale ones with `/api/demo/trust`;
 * - the local test peer (test-peer.ts) standing in for the insurers' front end: SMTP with
 *   STARTTLS on the loopback, its certificate made by OpenSSL, mail kept under `peer-mail/`;
 *   each message it takes goes to the simulated insurer front end (../insurer/demo.ts), which
 *   answers — ARL, signed service messages — into each practitioner's embedded mailbox, a
 *   Maildir under `mailboxes/<id>/` that the relay picks up every 10 s (issue 15). Scenarios:
 *   TELETRANS_DEMO_FRONT_END (`lose-arl`, `mute`, `reject`, `reject-payments`, `rotate`,
 *   `revoke-old`, `delay=<seconds>`).
 * Recipients are limited to the SESAM-Vitale TEST mailboxes (@test.rss.fr) and @teletrans.test.
 * A test lab may put a mail server of its own in the test peer's place (`smtp`: what
 * TELETRANS_RELAY_DEMO_SMTP names, see index.ts): everything else stays fictitious.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_RPPS, demoTrustBundle, ensureDemoPki, issueDemoCrls, type DemoCrls } from '../demo-pki.js';
import { DEMO_CPS_POLICIES } from '../../pki/demo/cps.js';
import type { RelayConfig, SmtpConfig } from './config.js';
import { startTestPeer } from './test-peer.js';
import { demoFrontEnd, demoMailbox, parseScenario } from '../insurer/demo.js';
import { startDemoMss } from '../mss/demo.js';

/**
 * The demo practitioner: its national identifier (fictitious RPPS, the one the bridge's simulated
 * CPS carries by default: bridge/cards/profiles.ts), which the relay maps to it, and its sender.
 */
export { DEMO_RPPS };
export const DEMO_FROM = 'ps.demo@teletrans.test';
/**
 * The practitioners the demo relay knows: the simulated CPS of the bridge (`insérer cps`,
 * `cps-infirmier`, `cps-kine`), fictitious RPPS 1999999 + the card's serial end + Luhn key.
 */
export const DEMO_PRACTITIONERS: readonly { id: string; rpps: string; from: string }[] = [
  { id: 'demo', rpps: DEMO_RPPS, from: DEMO_FROM },
  { id: 'demo-infirmier', rpps: '19999990617', from: 'infirmier.demo@teletrans.test' },
  { id: 'demo-kine', rpps: '19999990716', from: 'kine.demo@teletrans.test' },
];

const DAY = 86_400_000;

/** The loopback TLS certificate for localhost (self-signed, OpenSSL), made on first use: the test peer and the local MSSanté operator. */
export function peerTls(dir: string): { cert: string; key: string } {
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
  /** The CRLs of the four demo CAs, re-issued daily (what `/api/demo/trust` serves). */
  crls(): DemoCrls;
  /** The browser's demonstration trust bundle (PEM, certificates and CRLs only). */
  trustBundle(): string;
  stop(): Promise<void>;
}

/**
 * Prepares `dir` (the shared demo PKI, demo-pki.ts) and starts the test peer, unless `smtp`
 * names another server for the insurers' mail; returns the relay configuration that uses them.
 */
export async function startDemo(dir: string, origins: string[], smtp?: SmtpConfig, opts: { mss?: boolean } = {}): Promise<DemoRelay> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pki = await ensureDemoPki(dir);
  const crlFiles = [join(dir, 'root.crl'), join(dir, 'ca.crl')];
  let crls = await issueDemoCrls(pki);
  const writeCrls = (): void => {
    writeFileSync(crlFiles[0]!, crls.igcRoot);
    writeFileSync(crlFiles[1]!, crls.igcCa);
    writeFileSync(join(dir, 'sesam-root.crl'), crls.sesamRoot);
    writeFileSync(join(dir, 'sesam-ca.crl'), crls.sesamCa);
  };
  writeCrls();
  const reissue = async (): Promise<void> => {
    crls = await issueDemoCrls(pki);
    writeCrls();
  };
  const crlTimer = setInterval(() => void reissue().catch((e: Error) => process.stderr.write(`relay demo CRL: ${e.message}\n`)), DAY);
  crlTimer.unref();
  let peer: Awaited<ReturnType<typeof startTestPeer>> | null = null;
  const mailboxes = join(dir, 'mailboxes');
  if (!smtp) {
    const tlsPair = peerTls(dir);
    // A bad scenario stops the start here, with the reason: a typo must not pass silently.
    const scenario = parseScenario(process.env.TELETRANS_DEMO_FRONT_END);
    const onMessage = demoFrontEnd({ pki, crls: () => crls, mailboxes, practitioners: DEMO_PRACTITIONERS, scenario, keysDir: join(dir, 'front-end-keys'), log: (l) => process.stderr.write(`${l}\n`) });
    peer = await startTestPeer({ port: 0, dir: join(dir, 'peer-mail'), cert: tlsPair.cert, key: tlsPair.key, onMessage });
    smtp = { host: '127.0.0.1', port: peer.port, security: 'starttls', tls: { ca: tlsPair.cert, servername: 'localhost' } };
  }
  const config: RelayConfig = {
    origins,
    anchors: [pki.igcRoot.der],
    intermediates: [pki.igcCa.der],
    // The cards (the bridge's simulated CPS, the demo credential) come from this CA, under this policy.
    cardAuthentication: { issuers: [pki.igcCa.der], policies: [DEMO_CPS_POLICIES.auth] },
    crlSources: crlFiles,
    // Re-read often: the daily re-issue must be seen well before the previous CRL expires.
    crlRefreshMs: 3600_000,
    practitioners: DEMO_PRACTITIONERS.map((p) => ({
      id: p.id,
      certificateMatch: { rpps: p.rpps },
      from: p.from,
      allowedRecipients: ['@test.rss.fr', '@teletrans.test'],
      // The front end's answers: only when it is the one answering (not a lab's own mail server).
      ...(peer ? { mailbox: { protocol: 'maildir' as const, path: demoMailbox(mailboxes, p.id) } } : {}),
    })),
    pickup: { intervalMs: 10_000 },
    smtp,
  };
  // MSSanté on loopback too (../mss/demo.ts): a provider, a signed whitelist, a local operator.
  const mss = opts.mss === false ? null : await startDemoMss({ dir, pki, origin: origins[0]!, practitioners: DEMO_PRACTITIONERS, tls: peerTls(dir) });
  if (mss) config.mss = mss.config;
  return {
    config,
    crls: () => crls,
    trustBundle: () => demoTrustBundle(pki, crls),
    async stop() {
      clearInterval(crlTimer);
      await peer?.close();
      await mss?.stop();
    },
  };
}
