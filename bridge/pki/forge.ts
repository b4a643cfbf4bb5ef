/**
 * Test-only additions to the fictitious PKI's factory, which lives in the core
 * (src/lib/pki/demo/issue.ts, re-exported here so tests and benches keep one import):
 * hand-encoded certificates for large pools, a SESAM-Vitale shaped chain, files on disk.
 *
 *   const dir = await writeFiles({ 'root.pem': pem(rootDer), 'crl.der': crl });
 */
import * as asn1js from 'asn1js';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  type CertSpec, type DN, type ForgeKey, type KeyAlg, type KeyUsageBit, type Serial, OID, bs, der, encodeName, genKey, hex,
  issueCert, issueCrl, keyUsageValue, serialBytes,
} from '../../src/lib/pki/demo/issue.js';

export * from '../../src/lib/pki/demo/issue.js';

const subtle = globalThis.crypto.subtle;
const DAY = 86_400_000;

// ---------------------------------------------------------------------------------------------
// Fast path for large pools: hand-encoded TBS, one ECDSA or RSA signature, no pkijs (≈10× faster)

function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const head =
    len < 0x80 ? [tag, len]
      : len < 0x100 ? [tag, 0x81, len]
        : len < 0x10000 ? [tag, 0x82, len >> 8, len & 0xff]
          : [tag, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff];
  const out = new Uint8Array(head.length + len);
  out.set(head);
  let o = head.length;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
const ALG_ECDSA_SHA256 = hex('300a06082a8648ce3d040302');
const ALG_RSA_SHA256 = hex('300d06092a864886f70d01010b0500');
function derTime(d: Date): Uint8Array {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  const y = d.getUTCFullYear();
  return y >= 1950 && y < 2050 ? tlv(0x17, new TextEncoder().encode(iso.slice(2))) : tlv(0x18, new TextEncoder().encode(iso));
}
function derInt(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && !(b[i + 1]! & 0x80)) i++;
  const v = b.subarray(i);
  return tlv(0x02, ...(v[0]! & 0x80 ? [new Uint8Array([0]), v] : [v]));
}

export interface FastCertSpec {
  subject: DN;
  issuer: DN;
  key: ForgeKey;
  signer: ForgeKey;
  serial: Serial;
  notBefore?: Date;
  notAfter?: Date;
  ca?: boolean;
  /** AKI key id (default signer.keyId); SKI is always key.keyId. */
  akiKeyId?: Uint8Array;
}

/** Same output shape as issueCert (v3, SKI, AKI, basicConstraints/keyUsage when `ca`). */
export async function fastCert(s: FastCertSpec): Promise<Uint8Array> {
  const ec = s.signer.alg === 'p256';
  const alg = ec ? ALG_ECDSA_SHA256 : ALG_RSA_SHA256;
  const now = Date.now();
  const extSeq = (oid: string, crit: boolean, value: Uint8Array): Uint8Array =>
    tlv(0x30, der(new asn1js.ObjectIdentifier({ value: oid })), ...(crit ? [hex('0101ff')] : []), tlv(0x04, value));
  const exts = [
    ...(s.ca
      ? [extSeq(OID.basicConstraints, true, hex('30030101ff')), extSeq(OID.keyUsage, true, keyUsageValue(['keyCertSign', 'cRLSign']))]
      : []),
    extSeq(OID.subjectKeyIdentifier, false, tlv(0x04, s.key.keyId)),
    extSeq(OID.authorityKeyIdentifier, false, tlv(0x30, tlv(0x80, s.akiKeyId ?? s.signer.keyId))),
  ];
  const tbs = tlv(
    0x30,
    hex('a003020102'),
    derInt(serialBytes(s.serial)),
    alg,
    encodeName(s.issuer),
    tlv(0x30, derTime(s.notBefore ?? new Date(now - DAY)), derTime(s.notAfter ?? new Date(now + 365 * DAY))),
    encodeName(s.subject),
    s.key.spki,
    tlv(0xa3, tlv(0x30, ...exts)),
  );
  const sig = new Uint8Array(
    await subtle.sign(ec ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' }, s.signer.privateKey, bs(tbs)),
  );
  const sigDer = ec ? tlv(0x30, derInt(sig.subarray(0, 32)), derInt(sig.subarray(32))) : sig;
  return tlv(0x30, tbs, alg, tlv(0x03, new Uint8Array([0]), sigDer));
}

// ---------------------------------------------------------------------------------------------
// SESAM-Vitale shaped chain (root → intermediate → leaf), shared by tests and benchmarks

export const SESAM_EMAIL = 'amo_pj.test@test.rss.fr';
export const SESAM_LEAF_KU: KeyUsageBit[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment'];

export interface SesamChain {
  rootKey: ForgeKey;
  interKey: ForgeKey;
  leafKey: ForgeKey;
  root: Uint8Array;
  inter: Uint8Array;
  leaf: Uint8Array;
  /** CRL of the root (covers the intermediate) and of the intermediate (covers the leaf). */
  rootCrl: Uint8Array;
  interCrl: Uint8Array;
  leafSerial: bigint;
}

export interface SesamChainOptions {
  keys?: { root?: ForgeKey; inter?: ForgeKey; leaf?: ForgeKey };
  leafAlg?: KeyAlg;
  email?: string;
  /** Overrides for the leaf spec (keyUsage, notAfter, …). */
  leaf?: Partial<CertSpec>;
  rootName?: string;
  interName?: string;
  /** Serials revoked by the intermediate's CRL. */
  revoked?: Serial[];
  crlThisUpdate?: Date;
  crlNextUpdate?: Date | null;
}

export async function sesamChain(o: SesamChainOptions = {}): Promise<SesamChain> {
  const [rootKey, interKey, leafKey] = await Promise.all([
    o.keys?.root ?? genKey(),
    o.keys?.inter ?? genKey(),
    o.keys?.leaf ?? genKey(o.leafAlg ?? 'rsa2048'),
  ]);
  const rootName = o.rootName ?? 'CN=AC-SESAM-VITALE-TEST-2034,O=sesam-vitale,C=FR';
  const interName = o.interName ?? 'CN=AC-FACTURATION-TEST,OU=AC-FACTURATION-TEST,O=sesam-vitale,C=FR';
  const root = await issueCert({ subject: rootName, key: rootKey, ca: true, serial: 1 });
  const inter = await issueCert({
    subject: interName, key: interKey, issuerCert: root, signer: rootKey, ca: true,
    basicConstraints: { cA: true, pathLen: 0, critical: true }, serial: 2,
    crlDp: ['ldap://annuaire.test/cn=root/certificateRevocationList'],
  });
  const leafSerial = 0x3e8n + BigInt(Math.floor(Math.random() * 1e6));
  const email = o.email ?? SESAM_EMAIL;
  const leaf = await issueCert({
    subject: `CN=${email},O=sesam-vitale,C=FR`, key: leafKey, issuerCert: inter, signer: interKey,
    serial: leafSerial, emails: [email], keyUsage: { bits: SESAM_LEAF_KU, critical: true },
    crlDp: ['ldap://annuaire.test/cn=inter/certificateRevocationList'],
    ...o.leaf,
  });
  const crlTimes = { thisUpdate: o.crlThisUpdate, nextUpdate: o.crlNextUpdate };
  const rootCrl = await issueCrl({ issuerCert: root, signer: rootKey, ...crlTimes });
  const interCrl = await issueCrl({
    issuerCert: inter, signer: interKey, ...crlTimes,
    entries: (o.revoked ?? []).map((serial) => ({ serial, reason: 'keyCompromise' as const })),
  });
  return { rootKey, interKey, leafKey, root, inter, leaf, rootCrl, interCrl, leafSerial };
}

// ---------------------------------------------------------------------------------------------
// Files

/**
 * Writes `files` (relative name → content) under `dir` (default: a new temp dir) and returns
 * the directory. Subdirectories are created as needed.
 */
export async function writeFiles(
  files: Record<string, Uint8Array | string>,
  dir?: string,
): Promise<string> {
  const root = dir ?? (await mkdtemp(join(tmpdir(), 'teletrans-forge-')));
  for (const [name, content] of Object.entries(files)) {
    const p = join(root, name);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, content);
  }
  return root;
}

