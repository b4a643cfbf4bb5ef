/**
 * RSA on BigInt for what WebCrypto lacks: RSAES-PKCS1-v1_5 (RFC 8017 §7.2), the key transport
 * `openssl cms -encrypt` uses by default and SESAM-Vitale expects (docs/domain/transmission.md §2).
 * WebCrypto offers RSA-OAEP only, so the public-key operation (e = 65537: 17 modular
 * multiplications) and, for decryption, the CRT private-key operation are done here.
 *
 * Side channels: BigInt arithmetic is not constant-time. The private operation is blinded
 * (the exponentiation never sees the attacker's ciphertext), and the padding check examines
 * every byte and fails through a single error path, so a decryption oracle learns as little
 * as we can manage in JavaScript. Callers must report every decryption failure identically.
 */
import type { Cert } from '../pki/cert.js';
import { bigIntToBytes, bytesToBigInt, randomBytes } from './bytes.js';
import { CmsError, decryptFailed } from './errors.js';
import { TAG, type Node, absentOrNull, childrenOf, contents, readAlgorithm, readBigInt, readRoot, readSmallInt } from './ber.js';
import { OID } from './oids.js';

export interface RsaPublicKey {
  n: bigint;
  e: bigint;
  /** Modulus length in bytes. */
  k: number;
}

export interface RsaPrivateKey extends RsaPublicKey {
  d: bigint;
  p: bigint;
  q: bigint;
  dp: bigint;
  dq: bigint;
  qinv: bigint;
}

function keyInvalid(detail: string): CmsError {
  return new CmsError('cms_key_invalid', `Clé RSA inutilisable : ${detail}.`);
}

export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  let r = 1n;
  let b = base % m;
  if (b < 0n) b += m;
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
  }
  return r;
}

export function modInv(a: bigint, m: bigint): bigint {
  let [r0, r1] = [((a % m) + m) % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw keyInvalid('élément non inversible');
  return ((s0 % m) + m) % m;
}

function byteLength(n: bigint): number {
  return Math.ceil(n.toString(16).length / 2);
}

/** RSAPublicKey (RFC 8017 A.1.1) DER, as found in a certificate's subjectPublicKey. */
export function parseRsaPublicKey(der: Uint8Array): RsaPublicKey {
  const f = childrenOf(der, readRoot(der), TAG.SEQUENCE, 'RSAPublicKey');
  if (f.length !== 2) throw keyInvalid('RSAPublicKey mal formée');
  const n = readBigInt(der, f[0], 'module RSA');
  const e = readBigInt(der, f[1], 'exposant RSA');
  if (n <= 0n || e <= 1n || (n & 1n) === 0n) throw keyInvalid('module ou exposant invalide');
  return { n, e, k: byteLength(n) };
}

/** The recipient's RSA key from its certificate (rsaEncryption SPKI only). */
export function rsaPublicKeyOf(cert: Cert): RsaPublicKey {
  if (cert.spkiAlgorithm.oid !== OID.rsaEncryption) {
    throw new CmsError('cms_unsupported_algorithm', 'Le certificat du destinataire ne porte pas une clé RSA (rsaEncryption) : transport de clé impossible.');
  }
  return parseRsaPublicKey(cert.publicKey);
}

/** PS: random non-zero octets (RFC 8017 §7.2.1 step 2b). */
function nonZeroRandom(len: number): Uint8Array {
  const out = randomBytes(len);
  for (let i = 0; i < len; i++) {
    while (out[i] === 0) out[i] = randomBytes(1)[0]!;
  }
  return out;
}

/**
 * The key-transport primitive, injectable like AesCbc: BigInt by default (isomorphic); in Node
 * the CLI and the relay pass the node:crypto adapter (OpenSSL, ~10× faster than V8's BigInt
 * for the 17 modular multiplications, which matters for small documents).
 */
export interface RsaPkcs1 {
  readonly name: string;
  /** RSAES-PKCS1-v1_5-ENCRYPT of `message` for the recipient (SPKI DER and parsed key). */
  encrypt(recipient: { spki: Uint8Array; key: RsaPublicKey }, message: Uint8Array): Promise<Uint8Array>;
}

export const bigIntRsaPkcs1: RsaPkcs1 = {
  name: 'bigint',
  encrypt: async (recipient, message) => pkcs1v15Encrypt(recipient.key, message),
};

/** RSAES-PKCS1-v1_5-ENCRYPT: EM = 00 02 PS 00 M with |PS| ≥ 8, then m^e mod n. */
export function pkcs1v15Encrypt(key: RsaPublicKey, message: Uint8Array): Uint8Array<ArrayBuffer> {
  const psLen = key.k - message.length - 3;
  if (psLen < 8) throw new CmsError('cms_unsupported_algorithm', 'Clé RSA trop courte pour transporter la clé de session.');
  const em = new Uint8Array(key.k);
  em[1] = 0x02;
  em.set(nonZeroRandom(psLen), 2);
  em.set(message, 3 + psLen);
  return bigIntToBytes(modPow(bytesToBigInt(em), key.e, key.n), key.k);
}

/**
 * Private-key operation with CRT and blinding: c·r^e is exponentiated instead of c, then the
 * result is multiplied by r⁻¹. The result is checked against the public key, so a
 * corrupted key (bad CRT values) cannot leak a faulty signature-like value.
 */
export function rsaPrivate(key: RsaPrivateKey, c: bigint): bigint {
  if (c >= key.n) throw decryptFailed();
  let r = 0n;
  while (r < 2n || r >= key.n) r = bytesToBigInt(randomBytes(key.k)) % key.n;
  const rInv = modInv(r, key.n);
  const blinded = (c * modPow(r, key.e, key.n)) % key.n;
  const m1 = modPow(blinded % key.p, key.dp, key.p);
  const m2 = modPow(blinded % key.q, key.dq, key.q);
  let h = ((m1 - m2) * key.qinv) % key.p;
  if (h < 0n) h += key.p;
  const m = ((m2 + h * key.q) * rInv) % key.n;
  if (modPow(m, key.e, key.n) !== c) throw keyInvalid('les paramètres de la clé privée sont incohérents');
  return m;
}

/**
 * RSAES-PKCS1-v1_5-DECRYPT with the expected key length known in advance (the content
 * algorithm fixes it). Every byte is examined and every failure takes the same path.
 */
export function pkcs1v15Decrypt(key: RsaPrivateKey, ciphertext: Uint8Array, expectedLen: number): Uint8Array {
  if (ciphertext.length !== key.k || key.k < 11) throw decryptFailed();
  const em = bigIntToBytes(rsaPrivate(key, bytesToBigInt(ciphertext)), key.k);
  let bad = em[0]! | (em[1]! ^ 0x02);
  // Index of the first zero after PS, found without an early exit.
  let sep = 0;
  let found = 0;
  for (let i = 2; i < em.length; i++) {
    const isZero = ((em[i]! - 1) >>> 8) & 1 & (found ^ 1);
    sep |= isZero * i;
    found |= isZero;
  }
  bad |= found ^ 1;
  bad |= sep < 10 ? 1 : 0; // |PS| ≥ 8
  bad |= em.length - sep - 1 !== expectedLen ? 1 : 0;
  if (bad !== 0) throw decryptFailed();
  return em.slice(sep + 1);
}

function positive(v: bigint, what: string): bigint {
  if (v <= 0n) throw keyInvalid(`${what} invalide`);
  return v;
}

function rsaPrivateKeyFrom(der: Uint8Array, seqNode: Node): RsaPrivateKey {
  const f = childrenOf(der, seqNode, TAG.SEQUENCE, 'RSAPrivateKey');
  if (f.length !== 9) throw keyInvalid('RSAPrivateKey mal formée (clé multi-premiers ?)');
  if (readSmallInt(der, f[0], 'version RSAPrivateKey') !== 0) throw keyInvalid('version RSAPrivateKey inattendue');
  const [n, e, d, p, q, dp, dq, qinv] = f.slice(1).map((x, i) => positive(readBigInt(der, x, 'entier RSA'), `composante ${i + 1}`)) as [
    bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint,
  ];
  if (p * q !== n) throw keyInvalid('module différent de p·q');
  return { n, e, d, p, q, dp, dq, qinv, k: byteLength(n) };
}

/**
 * An RSA private key from PKCS #8 PrivateKeyInfo DER (`openssl genpkey`, WebCrypto export) or
 * PKCS #1 RSAPrivateKey DER (`openssl genrsa -traditional`).
 */
export function parseRsaPrivateKey(der: Uint8Array): RsaPrivateKey {
  try {
    const root = readRoot(der);
    const f = childrenOf(der, root, TAG.SEQUENCE, 'clé privée');
    if (f[1]?.tag === TAG.INTEGER) return rsaPrivateKeyFrom(der, root);
    // PrivateKeyInfo ::= SEQUENCE { version, privateKeyAlgorithm, privateKey OCTET STRING, ... }
    if (f.length < 3) throw keyInvalid('PrivateKeyInfo mal formée');
    const alg = readAlgorithm(der, f[1], 'algorithme de la clé privée');
    if (alg.oid !== OID.rsaEncryption || !absentOrNull(der, alg.params)) throw keyInvalid('ce n’est pas une clé RSA (rsaEncryption)');
    const inner = f[2]!;
    if (inner.tag !== TAG.OCTET_STRING) throw keyInvalid('PrivateKeyInfo mal formée');
    const body = contents(der, inner);
    return rsaPrivateKeyFrom(body, readRoot(body));
  } catch (e) {
    if (e instanceof CmsError && e.code === 'cms_malformed') throw keyInvalid(e.message);
    throw e;
  }
}
