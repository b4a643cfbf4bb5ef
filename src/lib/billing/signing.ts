/**
 * Invoice signatures with the CPS signature key (issue 13 item 6): the document's canonical
 * bytes are hashed (SHA-256) and signed on the card, RS256 (PKCS#1 v1.5); the signature is
 * verified with the card's signature certificate BEFORE it is accepted, so a wrong card, a
 * garbled answer or a swapped certificate never yields a SignedDocument.
 *
 * Signature désynchronisée: documents are stored complete and unsigned (`to_sign`), and
 * `signBatch` signs every pending one after a single PIN entry (the caller's), one card
 * signature each, in order. When the card goes away or the session locks midway, what was
 * signed stays signed (each verified) and everything after is returned unsigned, untouched,
 * with a typed error: never a half-signed document. An FSE and its DRE (same number) are signed
 * both or neither: if the card fails between them, the FSE's signature is dropped too, so the
 * invoice stays one unit to re-sign.
 */
import { parseCertificate } from '../pki/index.js';
import { BillingError } from './errors.js';
import type { FormattedDocument, InvoiceSigner, SignedDocument } from './ssv/types.js';

const subtle = globalThis.crypto.subtle;
const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const KU_DIGITAL_SIGNATURE = 1 << 0;
const KU_NON_REPUDIATION = 1 << 1;

const buf = (b: Uint8Array): ArrayBuffer => new Uint8Array(b).buffer as ArrayBuffer; // a copy: a Node Buffer's slice() shares its pool

/** SHA-256 of a document's canonical bytes: what the card signs. */
export async function documentDigest(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle.digest('SHA-256', buf(bytes)));
}

/**
 * Verification keys of the last few certificates seen: a batch signs every document with the
 * same card, and the reader meets the same practitioners' certificates again and again, so a
 * certificate is parsed and its key imported once. Keyed by the certificate's whole bytes (a
 * string), so a different certificate never finds another's key; bounded, oldest dropped.
 */
const KEY_CACHE_SIZE = 16;
const keyCache = new Map<string, Promise<CryptoKey | string>>();

function verificationKey(certificate: Uint8Array): Promise<CryptoKey | string> {
  let id = '';
  for (let i = 0; i < certificate.length; i += 0x2000) id += String.fromCharCode(...certificate.subarray(i, i + 0x2000));
  let key = keyCache.get(id);
  if (!key) {
    key = importVerificationKey(certificate);
    keyCache.set(id, key);
    if (keyCache.size > KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value!);
  }
  return key;
}

/** The certificate's RSA public key for RS256, or why it cannot verify invoice signatures. */
async function importVerificationKey(certificate: Uint8Array): Promise<CryptoKey | string> {
  let cert;
  try {
    cert = parseCertificate(new Uint8Array(certificate));
  } catch {
    return 'certificat de signature illisible';
  }
  if (cert.spkiAlgorithm.oid !== RSA_ENCRYPTION) return 'clé du certificat non RSA';
  // The CPS signature certificate says nonRepudiation (src/lib/pki/demo/cps.ts `sign`); a
  // digitalSignature-only one is the authentication certificate: not for invoices.
  if (cert.keyUsage !== undefined && !(cert.keyUsage & KU_NON_REPUDIATION)) {
    return cert.keyUsage & KU_DIGITAL_SIGNATURE ? 'certificat d’authentification, pas de signature' : 'usage de clé sans signature';
  }
  try {
    return await subtle.importKey('spki', buf(cert.spki), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['verify']);
  } catch {
    return 'clé publique du certificat inutilisable';
  }
}

export type SignatureVerdict = { ok: true } | { ok: false; reason: string };

/** Does `doc.signature` verify over `doc.bytes` with `doc.certificate`'s key? (The insurer's reader.) */
export async function verifyDocumentSignature(doc: Pick<SignedDocument, 'bytes' | 'signature' | 'certificate'>): Promise<SignatureVerdict> {
  const key = await verificationKey(doc.certificate);
  if (typeof key === 'string') return { ok: false, reason: key };
  const ok = await subtle.verify('RSASSA-PKCS1-v1_5', key, buf(doc.signature), buf(doc.bytes));
  return ok ? { ok: true } : { ok: false, reason: 'la signature ne correspond pas au document ni au certificat' };
}

/** The code a signer's failure carries (a bridge `card_absent`, `session_locked`…), if any. */
function causeCode(e: unknown): string {
  const c = (e as { code?: unknown })?.code;
  return typeof c === 'string' && /^[a-z_]{1,40}$/.test(c) ? c : 'error';
}

const CAUSES: Record<string, string> = {
  card_absent: 'carte CPS retirée',
  pin_required: 'code porteur à saisir',
  session_locked: 'session verrouillée',
  pin_blocked: 'carte CPS bloquée',
  busy: 'pont de cartes occupé',
  closed: 'pont de cartes déconnecté',
};

/** A signer failure as a typed error: `signature_failed`, its cause's code in `field`. */
export function signatureError(e: unknown): BillingError {
  if (e instanceof BillingError) return e;
  const code = causeCode(e);
  return new BillingError('signature_failed', `signer.${code}`, `Signature impossible : ${CAUSES[code] ?? 'erreur de la carte'}.`);
}

/** Accepts a card's signature only once it verifies over exactly these bytes with this certificate. */
async function accepted(doc: FormattedDocument, signature: Uint8Array, certificate: Uint8Array): Promise<SignedDocument> {
  const verdict = await verifyDocumentSignature({ bytes: doc.bytes, signature, certificate });
  if (!verdict.ok) throw new BillingError('signature_failed', 'signature', `Signature refusée : ${verdict.reason}.`);
  return Object.freeze({ ...doc, signature: new Uint8Array(signature), certificate: new Uint8Array(certificate) });
}

/** Signs one document and checks the signature before returning it. */
export async function signDocument(doc: FormattedDocument, signer: InvoiceSigner): Promise<SignedDocument> {
  const digest = await documentDigest(doc.bytes);
  let certificate: Uint8Array;
  let signature: Uint8Array;
  try {
    certificate = await signer.certificate();
    signature = await signer.signDigest(digest);
  } catch (e) {
    throw signatureError(e);
  }
  return accepted(doc, signature, certificate);
}

export interface BatchOptions {
  /** After each invoice (its FSE and DRE) is signed. */
  onProgress?(done: number, total: number): void;
  signal?: AbortSignal;
}

export interface BatchResult {
  readonly signed: SignedDocument[];
  readonly unsigned: { document: FormattedDocument; error: BillingError }[];
}

/**
 * Signs pending documents in order, grouped by invoice number (FSE then DRE), all or nothing
 * per invoice. The card is the slow part: the digests are computed up front, the card signs one
 * document after the other, and the signatures are verified together once it is done (checking
 * them meanwhile would queue behind the channel's own cryptography and slow every card call).
 * An invoice is signed only once all its signatures verified; one whose signature does not
 * verify stays unsigned with the reason, the others stand. After the first card failure
 * nothing more is sent to the card (a pulled card or a locked session would fail every call,
 * and each extra try is a trace on the card): every invoice from there stays unsigned.
 * `onProgress` follows the card: after each invoice it signed.
 */
export async function signBatch(docs: readonly FormattedDocument[], signer: InvoiceSigner, options: BatchOptions = {}): Promise<BatchResult> {
  const groups: FormattedDocument[][] = [];
  const byNumber = new Map<string, FormattedDocument[]>();
  for (const d of docs) {
    const key = `${d.billingNumber}|${d.number}`;
    let g = byNumber.get(key);
    if (!g) {
      byNumber.set(key, (g = []));
      groups.push(g);
    }
    g.push(d);
  }
  let stop: BillingError | undefined;
  let certificate: Uint8Array | undefined;
  try {
    certificate = await signer.certificate();
  } catch (e) {
    stop = signatureError(e);
  }
  const digests = stop ? [] : await Promise.all(docs.map((d) => documentDigest(d.bytes)));
  const digestOf = new Map(docs.map((d, i) => [d, digests[i]!] as const));

  // The card: one signature per document, until the first failure.
  const made = new Map<FormattedDocument[], Uint8Array[]>();
  let done = 0;
  for (const group of groups) {
    if (!stop && options.signal?.aborted) stop = new BillingError('signature_failed', 'signer.aborted', 'Signature interrompue.');
    if (stop) break;
    const signatures: Uint8Array[] = [];
    try {
      for (const d of group) signatures.push(await signer.signDigest(digestOf.get(d)!));
    } catch (e) {
      stop = signatureError(e);
      break;
    }
    made.set(group, signatures);
    options.onProgress?.(++done, groups.length);
  }

  // Every signature verified, all together; then each invoice signed or not, in order.
  const checked = await Promise.allSettled(groups.map((g) => (made.has(g) ? Promise.all(g.map((d, i) => accepted(d, made.get(g)![i]!, certificate!))) : Promise.reject(stop))));
  const signed: SignedDocument[] = [];
  const unsigned: BatchResult['unsigned'] = [];
  groups.forEach((group, i) => {
    const r = checked[i]!;
    if (r.status === 'fulfilled') signed.push(...r.value);
    else {
      const error = r.reason === stop ? stop! : signatureError(r.reason);
      for (const document of group) unsigned.push({ document, error });
    }
  });
  return { signed, unsigned };
}

/**
 * A signer over an extractable WebCrypto RSA private key: FOR TESTS AND DEMONSTRATIONS ONLY
 * (`--test-key`). Real invoices are signed on the CPS through the bridge
 * (src/lib/client/billing/bridge-signer.ts). WebCrypto signs messages, a card signs digests: so
 * this signer does what the card does, EMSA-PKCS1-v1_5 over DigestInfo(SHA-256, digest) and the
 * raw RSA private operation (BigInt, with the CRT parameters of the key's JWK).
 */
export function testKeySigner(privateKey: CryptoKey, certificate: Uint8Array): InvoiceSigner {
  let jwk: Promise<JsonWebKey> | undefined;
  return {
    certificate: async () => certificate,
    signDigest: async (digest) => {
      if (digest.length !== 32) throw new BillingError('signature_failed', 'digest', 'Empreinte SHA-256 attendue (32 octets).');
      jwk ??= subtle.exportKey('jwk', privateKey) as Promise<JsonWebKey>;
      return rsaSignDigest(await jwk, digest);
    },
  };
}

const DIGEST_INFO_SHA256 = Uint8Array.from([0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20]);

const fromB64u = (s: string): bigint => {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
  let h = '';
  for (let i = 0; i < bin.length; i++) h += bin.charCodeAt(i).toString(16).padStart(2, '0');
  return BigInt('0x' + (h || '0'));
};

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

function rsaSignDigest(k: JsonWebKey, digest: Uint8Array): Uint8Array {
  if (k.kty !== 'RSA' || !k.n || !k.p || !k.q || !k.dp || !k.dq || !k.qi) throw new BillingError('signature_failed', 'key', 'Clé de test RSA inutilisable.');
  const n = fromB64u(k.n);
  const len = (n.toString(16).length + 1) >> 1;
  const t = new Uint8Array(DIGEST_INFO_SHA256.length + 32);
  t.set(DIGEST_INFO_SHA256);
  t.set(digest, DIGEST_INFO_SHA256.length);
  // EM = 00 01 FF…FF 00 T
  const em = new Uint8Array(len).fill(0xff);
  em[0] = 0;
  em[1] = 1;
  em[len - t.length - 1] = 0;
  em.set(t, len - t.length);
  const m = BigInt('0x' + Array.from(em, (x) => x.toString(16).padStart(2, '0')).join(''));
  const [p, q, dp, dq, qi] = [k.p, k.q, k.dp, k.dq, k.qi].map(fromB64u) as [bigint, bigint, bigint, bigint, bigint];
  const m1 = modPow(m, dp, p);
  const m2 = modPow(m, dq, q);
  const h = (((m1 - m2) % p) + p) % p * qi % p;
  const sig = (m2 + h * q).toString(16).padStart(len * 2, '0');
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = parseInt(sig.slice(2 * i, 2 * i + 2), 16);
  return out;
}
