/**
 * A private OpenLDAP server for the directory tests, shaped like the GIE SESAM-Vitale
 * directory, with real certificates and CRLs made by OpenSSL.
 *
 *   const pki = buildSesamTestDirectory();        // certificates, CRLs and the LDIF
 *   const slapd = await startSlapd(pki.ldif);     // slapadd, then slapd on 127.0.0.1:<free port>
 *   …  ldap://127.0.0.1:<slapd.port>/cn=AC-FACTURATION-TEST,…/certificateRevocationList
 *   await slapd.stop();                           // kills the process group, removes the files
 *
 * Installs nothing: `slapd` and `ldap-utils` come from scripts/install-system-deps.sh.
 * slapd runs in the foreground (`-d 0`), as a child in its own process group, with a
 * slapd.conf and an mdb database in a temporary directory; anonymous read of everything.
 * The database is loaded offline with `slapadd -q` (which also lifts the protocol's
 * incoming-PDU limits, so a 20 MiB value can be stored).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpensslPki, attachmentExt } from '../pki/fixtures/openssl-pki';

export const SUFFIX = 'o=sesam-vitale,c=fr';
export const ROOT_OU = `ou=AC-SESAM-VITALE-TEST-2034,${SUFFIX}`;
export const ROOT_DN = `cn=AC-SESAM-VITALE-TEST-2034,${ROOT_OU}`;
export const CA_OU = `ou=AC-FACTURATION-TEST,${ROOT_OU}`;
export const CA_DN = `cn=AC-FACTURATION-TEST,${CA_OU}`;
export const RECIPIENT_MAILBOX = 'amo_pj.test@test.rss.fr';
export const RECIPIENT_DN = `cn=${RECIPIENT_MAILBOX},${CA_DN}`;
/** A second recipient found by its `mail` attribute only (its cn is not the mailbox). */
export const MAIL_ONLY_MAILBOX = 'oct.test@test.rss.fr';
export const MAIL_ONLY_DN = `cn=OCT de test,${CA_DN}`;
/** A CA entry without any certificate or CRL. */
export const EMPTY_CA_DN = `cn=AC-VIDE-TEST,${CA_OU}`;
/** A CA entry whose certificateRevocationList is `bigValueBytes` of DER-shaped filler. */
export const BIG_CA_DN = `cn=AC-ENORME-TEST,${CA_OU}`;

export interface SesamTestDirectory {
  ldif: string;
  pki: OpensslPki;
  rootCert: Uint8Array;
  rootCrl: Uint8Array;
  caCert: Uint8Array;
  /** The CA's CRL in the directory: number 01, or 02 with `previousCaCrl`. */
  caCrl: Uint8Array;
  /** With `previousCaCrl`: the CA's CRL number 01, older than the one the directory holds. */
  caCrlPrevious?: Uint8Array;
  recipientCert: Uint8Array;
  mailOnlyCert: Uint8Array;
  bigValue: Uint8Array;
}

function b64(der: Uint8Array): string {
  return Buffer.from(der).toString('base64');
}

/** A DER SEQUENCE header followed by zeros: `bytes` long in total. */
function bigDerShapedValue(bytes: number): Uint8Array {
  const value = new Uint8Array(bytes);
  const contentLength = bytes - 6;
  value[0] = 0x30;
  value[1] = 0x84;
  new DataView(value.buffer).setUint32(2, contentLength);
  return value;
}

/** DER of a CRLDistributionPoints extension value with one full-name URI (RFC 5280 §4.2.1.13). */
function crlDpDer(uri: string): string {
  const tlv = (tag: number, body: Buffer): Buffer => {
    const n = body.length;
    const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
    return Buffer.concat([Buffer.from([tag]), len, body]);
  };
  // DistributionPoint { distributionPoint [0] { fullName [0] { uniformResourceIdentifier [6] } } }
  return tlv(0x30, tlv(0x30, tlv(0xa0, tlv(0xa0, tlv(0x86, Buffer.from(uri, 'ascii')))))).toString('hex');
}

/** The directory addresses a certificate names for its issuer's CRL, on the slapd at `ldapPort`. */
export function crlUrls(ldapPort: number): { root: string; ca: string } {
  const base = `ldap://127.0.0.1:${ldapPort}`;
  return { root: `${base}/${ROOT_DN}/certificateRevocationList`, ca: `${base}/${CA_DN}/certificateRevocationList` };
}

/**
 * `ldapPort`: the port slapd will listen on (startSlapd's `port`); the CA and recipient
 * certificates then carry CRL distribution points on that slapd, as the real directory's do,
 * so that a trust store learns where to refresh from. `previousCaCrl`: also issue an older CRL
 * of the CA (number 01, returned, not published), so that a refresh is seen to bring a new one.
 */
export function buildSesamTestDirectory(options: { bigValueBytes?: number; ldapPort?: number; previousCaCrl?: boolean } = {}): SesamTestDirectory {
  const pki = new OpensslPki();
  const dp = options.ldapPort === undefined ? undefined : crlUrls(options.ldapPort);
  const dpExt = (uri: string | undefined): string => (uri ? `2.5.29.31 = DER:${crlDpDer(uri)}\n` : '');
  const root = pki.ca('root', '/CN=AC-SESAM-VITALE-TEST-2034/O=GIE SESAM-Vitale/C=FR');
  let ca = pki.ca('facturation', '/CN=AC-FACTURATION-TEST/O=GIE SESAM-Vitale/C=FR', { issuer: root });
  if (dp) {
    // Re-issued from its own request with the root's CRL address added (ca() takes no extensions).
    pki.sign(
      root,
      join(ca.dir, 'req.csr'),
      ca.certPath,
      'basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n' + dpExt(dp.root),
      3650
    );
    ca = { ...ca, certPem: readFileSync(ca.certPath, 'utf8') };
  }
  const recipient = pki.leaf(ca, 'amo-pj', `/CN=${RECIPIENT_MAILBOX}/O=Assurance Maladie/C=FR`, attachmentExt(RECIPIENT_MAILBOX) + dpExt(dp?.ca));
  const mailOnly = pki.leaf(ca, 'oct', `/CN=${MAIL_ONLY_MAILBOX}/O=OCT de test/C=FR`, attachmentExt(MAIL_ONLY_MAILBOX) + dpExt(dp?.ca));
  const rootCrl = pki.crl(root, 'root');
  const caCrlPrevious = options.previousCaCrl ? pki.crl(ca, 'facturation-previous') : undefined;
  const caCrl = pki.crl(ca, 'facturation');
  const bigValue = bigDerShapedValue(options.bigValueBytes ?? 20 * 1024 * 1024);
  const rootCert = pemDer(root.certPem);
  const caCert = pemDer(ca.certPem);

  const entries = [
    [`dn: ${SUFFIX}`, 'objectClass: organization', 'o: sesam-vitale'],
    [`dn: ${ROOT_OU}`, 'objectClass: organizationalUnit', 'ou: AC-SESAM-VITALE-TEST-2034'],
    [
      `dn: ${ROOT_DN}`,
      'objectClass: applicationProcess',
      'objectClass: pkiCA',
      'cn: AC-SESAM-VITALE-TEST-2034',
      `cACertificate;binary:: ${b64(rootCert)}`,
      `certificateRevocationList;binary:: ${b64(rootCrl.der)}`
    ],
    [`dn: ${CA_OU}`, 'objectClass: organizationalUnit', 'ou: AC-FACTURATION-TEST'],
    [
      `dn: ${CA_DN}`,
      'objectClass: applicationProcess',
      'objectClass: pkiCA',
      'cn: AC-FACTURATION-TEST',
      `cACertificate;binary:: ${b64(caCert)}`,
      `certificateRevocationList;binary:: ${b64(caCrl.der)}`
    ],
    [
      `dn: ${RECIPIENT_DN}`,
      'objectClass: inetOrgPerson',
      `cn: ${RECIPIENT_MAILBOX}`,
      'sn: AMO PJ test',
      `mail: ${RECIPIENT_MAILBOX}`,
      `userCertificate;binary:: ${b64(recipient.der)}`
    ],
    [
      `dn: ${MAIL_ONLY_DN}`,
      'objectClass: inetOrgPerson',
      'cn: OCT de test',
      'sn: OCT',
      `mail: ${MAIL_ONLY_MAILBOX}`,
      `userCertificate;binary:: ${b64(mailOnly.der)}`
    ],
    [`dn: ${EMPTY_CA_DN}`, 'objectClass: applicationProcess', 'objectClass: pkiCA', 'cn: AC-VIDE-TEST'],
    [
      `dn: ${BIG_CA_DN}`,
      'objectClass: applicationProcess',
      'objectClass: pkiCA',
      'cn: AC-ENORME-TEST',
      `certificateRevocationList;binary:: ${b64(bigValue)}`
    ]
  ];
  const ldif = entries.map((lines) => lines.join('\n')).join('\n\n') + '\n';
  return {
    ldif,
    pki,
    rootCert,
    rootCrl: rootCrl.der,
    caCert,
    caCrl: caCrl.der,
    ...(caCrlPrevious ? { caCrlPrevious: caCrlPrevious.der } : {}),
    recipientCert: recipient.der,
    mailOnlyCert: mailOnly.der,
    bigValue
  };
}

function pemDer(pem: string): Uint8Array {
  return new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

function sbin(name: string): string {
  for (const dir of ['/usr/sbin', '/usr/local/sbin', '/sbin']) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return name;
}

export interface RunningSlapd {
  host: '127.0.0.1';
  port: number;
  /** `ldap://127.0.0.1:<port>` */
  url: string;
  dir: string;
  pid: number;
  stop(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** `port`: listen there (chosen beforehand with freePort(), when certificates must name it); default a free one. */
export async function startSlapd(ldif: string, options: { port?: number } = {}): Promise<RunningSlapd> {
  const dir = mkdtempSync(join(tmpdir(), 'teletrans-slapd-'));
  mkdirSync(join(dir, 'db'));
  const conf = join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      'include /etc/ldap/schema/core.schema',
      'include /etc/ldap/schema/cosine.schema',
      'include /etc/ldap/schema/inetorgperson.schema',
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      `pidfile ${join(dir, 'slapd.pid')}`,
      `argsfile ${join(dir, 'slapd.args')}`,
      'loglevel none',
      'database mdb',
      // Sparse file: room for the 20 MiB value and more.
      'maxsize 268435456',
      `suffix "${SUFFIX}"`,
      `rootdn "cn=admin,${SUFFIX}"`,
      `directory ${join(dir, 'db')}`,
      'access to * by * read',
      ''
    ].join('\n')
  );
  const ldifPath = join(dir, 'data.ldif');
  writeFileSync(ldifPath, ldif);
  try {
    execFileSync(sbin('slapadd'), ['-q', '-f', conf, '-l', ldifPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`slapadd failed (is slapd installed? run scripts/install-system-deps.sh)\n${stderr}`);
  }

  const port = options.port ?? (await freePort());
  const url = `ldap://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(sbin('slapd'), ['-f', conf, '-h', `${url}/`, '-d', '0'], {
    detached: true, // own process group, killed as a whole
    stdio: ['ignore', 'pipe', 'pipe']
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid;
  if (pid === undefined) throw new Error('slapd did not start');

  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  };
  // Never leave a slapd behind, even if the test process dies without calling stop().
  const onExit = () => killGroup('SIGKILL');
  process.once('exit', onExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) {
      killGroup('SIGTERM');
      const timer = setTimeout(() => killGroup('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`slapd exited early (${child.exitCode ?? child.signalCode})\n${output}`);
    }
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`slapd did not listen on ${url}\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { host: '127.0.0.1', port, url, dir, pid, stop };
}
