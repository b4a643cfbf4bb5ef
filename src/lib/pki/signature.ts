/**
 * Signature verification of certificates and CRLs through WebCrypto (RSA PKCS #1 v1.5,
 * RSA-PSS, ECDSA, Ed25519), with DSA on BigInt since WebCrypto has none, and an RSA
 * PKCS #1 v1.5 BigInt fallback for keys a WebCrypto implementation refuses to import.
 */
import { PkiError } from './errors.js';
import { TAG, type Tlv, children, integerBig, readOid, readTlv, toHex, value } from './der.js';
import type { AlgorithmIdentifier } from './crl-model.js';

export const SIG_OID = {
  md5WithRSA: '1.2.840.113549.1.1.4',
  sha1WithRSA: '1.2.840.113549.1.1.5',
  rsaPss: '1.2.840.113549.1.1.10',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  sha384WithRSA: '1.2.840.113549.1.1.12',
  sha512WithRSA: '1.2.840.113549.1.1.13',
  ecdsaSha1: '1.2.840.10045.4.1',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecdsaSha384: '1.2.840.10045.4.3.3',
  ecdsaSha512: '1.2.840.10045.4.3.4',
  dsaSha1: '1.2.840.10040.4.3',
  dsaSha256: '2.16.840.1.101.3.4.3.2',
  ed25519: '1.3.101.112',
} as const;

export const KEY_OID = {
  rsa: '1.2.840.113549.1.1.1',
  rsaPss: '1.2.840.113549.1.1.10',
  ec: '1.2.840.10045.2.1',
  dsa: '1.2.840.10040.4.1',
  ed25519: '1.3.101.112',
} as const;

const HASH_OID: Record<string, string> = {
  '1.3.14.3.2.26': 'SHA-1',
  '2.16.840.1.101.3.4.2.1': 'SHA-256',
  '2.16.840.1.101.3.4.2.2': 'SHA-384',
  '2.16.840.1.101.3.4.2.3': 'SHA-512',
};

const CURVES: Record<string, { name: string; size: number }> = {
  '1.2.840.10045.3.1.7': { name: 'P-256', size: 32 },
  '1.3.132.0.34': { name: 'P-384', size: 48 },
  '1.3.132.0.35': { name: 'P-521', size: 66 },
};

/** What a signature algorithm means. */
export interface SignatureScheme {
  family: 'rsa' | 'rsa-pss' | 'ecdsa' | 'dsa' | 'ed25519';
  hash: 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512' | 'none';
  saltLength?: number;
  /** SHA-1 based: accepted by RFC 5280 validation, refused for new material (RGS, docs/domain/security.md G5). */
  weak: boolean;
}

function unsupported(detail: string): PkiError {
  return new PkiError('unsupported_algorithm', `Algorithme non pris en charge : ${detail}.`);
}

function parsePssParams(params: Uint8Array | undefined): { hash: SignatureScheme['hash']; saltLength: number } {
  let hash: SignatureScheme['hash'] = 'SHA-1';
  let mgfHash: string = 'SHA-1';
  let saltLength = 20;
  if (params && params.length > 0) {
    const t = readTlv(params, 0, params.length);
    if (t.tag !== TAG.SEQUENCE) throw unsupported('paramètres RSA-PSS');
    for (const f of children(params, t)) {
      const inner = children(params, f);
      if (f.tag === 0xa0) {
        const algo = children(params, inner[0]!);
        const h = HASH_OID[readOid(params, algo[0]!)];
        if (!h) throw unsupported('hachage RSA-PSS');
        hash = h as SignatureScheme['hash'];
      } else if (f.tag === 0xa1) {
        const algo = children(params, inner[0]!);
        if (readOid(params, algo[0]!) !== '1.2.840.113549.1.1.8') throw unsupported('fonction de masque RSA-PSS');
        const mgfAlgo = children(params, algo[1]!);
        const h = HASH_OID[readOid(params, mgfAlgo[0]!)];
        if (!h) throw unsupported('hachage MGF1');
        mgfHash = h;
      } else if (f.tag === 0xa2) {
        saltLength = Number(integerBig(value(params, inner[0]!)));
      } else if (f.tag === 0xa3) {
        if (Number(integerBig(value(params, inner[0]!))) !== 1) throw unsupported('trailerField RSA-PSS');
      }
    }
  }
  if (mgfHash !== hash) throw unsupported('RSA-PSS avec des hachages différents pour MGF1 et le message');
  return { hash, saltLength };
}

export function signatureScheme(alg: AlgorithmIdentifier): SignatureScheme {
  switch (alg.oid) {
    case SIG_OID.sha1WithRSA:
      return { family: 'rsa', hash: 'SHA-1', weak: true };
    case SIG_OID.sha256WithRSA:
      return { family: 'rsa', hash: 'SHA-256', weak: false };
    case SIG_OID.sha384WithRSA:
      return { family: 'rsa', hash: 'SHA-384', weak: false };
    case SIG_OID.sha512WithRSA:
      return { family: 'rsa', hash: 'SHA-512', weak: false };
    case SIG_OID.rsaPss: {
      const p = parsePssParams(alg.params);
      return { family: 'rsa-pss', hash: p.hash, saltLength: p.saltLength, weak: p.hash === 'SHA-1' };
    }
    case SIG_OID.ecdsaSha1:
      return { family: 'ecdsa', hash: 'SHA-1', weak: true };
    case SIG_OID.ecdsaSha256:
      return { family: 'ecdsa', hash: 'SHA-256', weak: false };
    case SIG_OID.ecdsaSha384:
      return { family: 'ecdsa', hash: 'SHA-384', weak: false };
    case SIG_OID.ecdsaSha512:
      return { family: 'ecdsa', hash: 'SHA-512', weak: false };
    case SIG_OID.dsaSha1:
      return { family: 'dsa', hash: 'SHA-1', weak: true };
    case SIG_OID.dsaSha256:
      return { family: 'dsa', hash: 'SHA-256', weak: false };
    case SIG_OID.ed25519:
      return { family: 'ed25519', hash: 'none', weak: false };
    case SIG_OID.md5WithRSA:
      throw unsupported('md5WithRSAEncryption (cassé)');
    default:
      throw unsupported(`signature ${alg.oid}`);
  }
}

/** A public key as needed to verify: SPKI, algorithm, and DSA domain parameters if inherited. */
export interface PublicKeyInfo {
  spki: Uint8Array;
  algorithm: AlgorithmIdentifier;
  /** subjectPublicKey bits. */
  key: Uint8Array;
  /** DSA parameters (p, q, g) in effect, from the SPKI or inherited from the issuer (RFC 5280 §6.1.4 (d)-(f)). */
  dsaParams?: Uint8Array;
}

/** Size in bits of an RSA modulus, or of a curve / DSA p, for key-strength policies. */
export function keyBits(pk: PublicKeyInfo): number {
  try {
    if (pk.algorithm.oid === KEY_OID.rsa || pk.algorithm.oid === KEY_OID.rsaPss) {
      const { n } = rsaComponents(pk.key);
      return n.toString(2).length;
    }
    if (pk.algorithm.oid === KEY_OID.ec) {
      const p = pk.algorithm.params;
      const curve = p ? CURVES[readOid(p, readTlv(p, 0, p.length))] : undefined;
      return curve ? curve.size * 8 - (curve.name === 'P-521' ? 7 : 0) : 0;
    }
    if (pk.algorithm.oid === KEY_OID.dsa && pk.dsaParams) {
      const [p] = dsaDomain(pk.dsaParams);
      return p.toString(2).length;
    }
    if (pk.algorithm.oid === KEY_OID.ed25519) return 256;
  } catch {
    return 0;
  }
  return 0;
}

function rsaComponents(key: Uint8Array): { n: bigint; e: bigint } {
  const t = readTlv(key, 0, key.length);
  const f = children(key, t);
  if (t.tag !== TAG.SEQUENCE || f.length !== 2) throw unsupported('clé RSA mal formée');
  const n = integerBig(value(key, f[0]!));
  const e = integerBig(value(key, f[1]!));
  if (n <= 0n || e <= 1n) throw unsupported('clé RSA mal formée');
  return { n, e };
}

function dsaDomain(params: Uint8Array): [bigint, bigint, bigint] {
  const t = readTlv(params, 0, params.length);
  const f = children(params, t);
  if (t.tag !== TAG.SEQUENCE || f.length !== 3) throw unsupported('paramètres DSA mal formés');
  return [integerBig(value(params, f[0]!)), integerBig(value(params, f[1]!)), integerBig(value(params, f[2]!))];
}

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  if (b < 0n) b += m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    e >>= 1n;
    b = (b * b) % m;
  }
  return r;
}

function modInv(a: bigint, m: bigint): bigint {
  let [oldR, r] = [((a % m) + m) % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) return 0n;
  return ((oldS % m) + m) % m;
}

function bytesToBig(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + toHex(b));
}

const subtle = (): SubtleCrypto => {
  const s = globalThis.crypto?.subtle;
  if (!s) throw unsupported('WebCrypto indisponible (contexte non sécurisé ?)');
  return s;
};

/** Copies into a fresh ArrayBuffer-backed view (WebCrypto rejects SharedArrayBuffer views). */
function buf(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(b) as Uint8Array<ArrayBuffer>;
}

async function digest(hash: SignatureScheme['hash'], data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest(hash, buf(data)));
}

const DIGEST_INFO_PREFIX: Record<string, string> = {
  'SHA-1': '3021300906052b0e03021a05000414',
  'SHA-256': '3031300d060960864801650304020105000420',
  'SHA-384': '3041300d060960864801650304020205000430',
  'SHA-512': '3051300d060960864801650304020305000440',
};

/** RSASSA-PKCS1-v1_5 verification on BigInt, used only when WebCrypto refuses the key. */
async function rsaPkcs1VerifyBig(key: Uint8Array, hash: SignatureScheme['hash'], sig: Uint8Array, data: Uint8Array): Promise<boolean> {
  const { n, e } = rsaComponents(key);
  const k = Math.ceil(n.toString(16).length / 2);
  if (sig.length !== k) return false;
  const s = bytesToBig(sig);
  if (s >= n) return false;
  const em = modPow(s, e, n).toString(16).padStart(k * 2, '0');
  const h = toHex(await digest(hash, data));
  const t = DIGEST_INFO_PREFIX[hash]! + h;
  const ps = 'ff'.repeat(k - 3 - t.length / 2);
  if (k - 3 - t.length / 2 < 8) return false;
  return em === '0001' + ps + '00' + t;
}

async function dsaVerify(pk: PublicKeyInfo, hash: SignatureScheme['hash'], sig: Uint8Array, data: Uint8Array): Promise<boolean> {
  if (!pk.dsaParams) throw unsupported('paramètres DSA absents (ni dans la clé ni hérités)');
  const [p, q, g] = dsaDomain(pk.dsaParams);
  const yT = readTlv(pk.key, 0, pk.key.length);
  if (yT.tag !== TAG.INTEGER) throw unsupported('clé DSA mal formée');
  const y = integerBig(value(pk.key, yT));
  const sT = readTlv(sig, 0, sig.length);
  const rs = children(sig, sT);
  if (sT.tag !== TAG.SEQUENCE || rs.length !== 2 || sT.end !== sig.length) return false;
  const r = integerBig(value(sig, rs[0]!));
  const s = integerBig(value(sig, rs[1]!));
  if (r <= 0n || r >= q || s <= 0n || s >= q) return false;
  const hb = await digest(hash, data);
  const qBits = q.toString(2).length;
  let z = bytesToBig(hb);
  if (hb.length * 8 > qBits) z >>= BigInt(hb.length * 8 - qBits);
  const w = modInv(s, q);
  if (w === 0n) return false;
  const u1 = (z * w) % q;
  const u2 = (r * w) % q;
  const v = ((modPow(g, u1, p) * modPow(y, u2, p)) % p) % q;
  return v === r;
}

/** ECDSA DER signature → IEEE P1363 r||s as WebCrypto wants. */
function ecdsaRaw(sig: Uint8Array, size: number): Uint8Array | null {
  let t: Tlv;
  try {
    t = readTlv(sig, 0, sig.length);
  } catch {
    return null;
  }
  if (t.tag !== TAG.SEQUENCE || t.end !== sig.length) return null;
  const rs = children(sig, t);
  if (rs.length !== 2 || rs[0]!.tag !== TAG.INTEGER || rs[1]!.tag !== TAG.INTEGER) return null;
  const out = new Uint8Array(size * 2);
  for (let i = 0; i < 2; i++) {
    let v = value(sig, rs[i]!);
    // Only the minimal, positive DER encoding is accepted: one signature, one encoding.
    if (v.length === 0 || v[0]! & 0x80 || (v.length > 1 && v[0] === 0 && !(v[1]! & 0x80))) return null;
    if (v[0] === 0 && v.length > 1) v = v.subarray(1);
    if (v.length > size) return null;
    out.set(v, i * size + size - v.length);
  }
  return out;
}

/** Builds an rsaEncryption SPKI around a key (PSS-restricted SPKIs are not importable everywhere). */
function rsaEncryptionSpki(key: Uint8Array): Uint8Array {
  const algo = [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
  const bits = [0x03, ...lenBytes(key.length + 1), 0x00];
  const body = algo.length + bits.length + key.length;
  const head = [0x30, ...lenBytes(body)];
  const out = new Uint8Array(head.length + body);
  out.set(head, 0);
  out.set(algo, head.length);
  out.set(bits, head.length + algo.length);
  out.set(key, head.length + algo.length + bits.length);
  return out;
}

function lenBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const b: number[] = [];
  while (n > 0) {
    b.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return [0x80 | b.length, ...b];
}

/**
 * Verifies `sig` over `data` with `pk` under `alg`. Returns false on a wrong signature or a key
 * that does not match the algorithm; throws PkiError('unsupported_algorithm') for unknown ones.
 * `keyCache` keeps imported CryptoKeys across calls (warm caches). An empty `sig` (what the
 * readers give for a malformed signature BIT STRING, der.ts readSignatureBits) never verifies.
 */
export async function verifySignature(
  alg: AlgorithmIdentifier,
  pk: PublicKeyInfo,
  sig: Uint8Array,
  data: Uint8Array,
  keyCache?: Map<string, Promise<CryptoKey | null>>,
): Promise<boolean> {
  if (sig.length === 0) return false;
  const scheme = signatureScheme(alg);
  const keyOid = pk.algorithm.oid;
  const importCached = (id: string, make: () => Promise<CryptoKey>): Promise<CryptoKey | null> => {
    const k = id + ':' + toHex(pk.spki);
    let p = keyCache?.get(k);
    if (!p) {
      p = make().catch(() => null);
      keyCache?.set(k, p);
    }
    return p;
  };
  switch (scheme.family) {
    case 'rsa': {
      if (keyOid !== KEY_OID.rsa) return false;
      const key = await importCached('rsa-' + scheme.hash, () =>
        subtle().importKey('spki', buf(pk.spki), { name: 'RSASSA-PKCS1-v1_5', hash: scheme.hash }, false, ['verify']),
      );
      if (!key) return rsaPkcs1VerifyBig(pk.key, scheme.hash, sig, data);
      return subtle().verify('RSASSA-PKCS1-v1_5', key, buf(sig), buf(data));
    }
    case 'rsa-pss': {
      if (keyOid !== KEY_OID.rsa && keyOid !== KEY_OID.rsaPss) return false;
      const key = await importCached('pss-' + scheme.hash, () =>
        subtle().importKey('spki', buf(rsaEncryptionSpki(pk.key)), { name: 'RSA-PSS', hash: scheme.hash }, false, ['verify']),
      );
      if (!key) throw unsupported('clé RSA-PSS refusée par WebCrypto');
      return subtle().verify({ name: 'RSA-PSS', saltLength: scheme.saltLength ?? 20 }, key, buf(sig), buf(data));
    }
    case 'ecdsa': {
      if (keyOid !== KEY_OID.ec || !pk.algorithm.params) return false;
      const p = pk.algorithm.params;
      const curve = CURVES[readOid(p, readTlv(p, 0, p.length))];
      if (!curve) throw unsupported('courbe elliptique');
      const raw = ecdsaRaw(sig, curve.size);
      if (!raw) return false;
      const key = await importCached('ec-' + scheme.hash, () =>
        subtle().importKey('spki', buf(pk.spki), { name: 'ECDSA', namedCurve: curve.name }, false, ['verify']),
      );
      if (!key) return false;
      return subtle().verify({ name: 'ECDSA', hash: scheme.hash }, key, buf(raw), buf(data));
    }
    case 'ed25519': {
      if (keyOid !== KEY_OID.ed25519) return false;
      const key = await importCached('ed25519', () => subtle().importKey('spki', buf(pk.spki), { name: 'Ed25519' }, false, ['verify']));
      if (!key) throw unsupported('Ed25519 indisponible dans ce navigateur');
      return subtle().verify({ name: 'Ed25519' }, key, buf(sig), buf(data));
    }
    case 'dsa':
      if (keyOid !== KEY_OID.dsa) return false;
      return dsaVerify(pk, scheme.hash, sig, data);
  }
}

/** Whether a key algorithm carries DSA parameters of its own (absent or NULL ⇒ inherited). */
export function dsaParamsOf(alg: AlgorithmIdentifier): Uint8Array | undefined {
  if (alg.oid !== KEY_OID.dsa || !alg.params) return undefined;
  if (alg.params.length === 2 && alg.params[0] === TAG.NULL) return undefined;
  return alg.params;
}

export async function sha256Hex(data: Uint8Array): Promise<string> {
  return toHex(await digest('SHA-256', data));
}
