/**
 * SignedData creation (RFC 5652 §5), the counterpart of signed.ts: what the simulated insurer
 * front end signs its service messages with (docs/domain/transmission.md §9), the way OpenSSL
 * does by default — SHA-256, RSA PKCS #1 v1.5 (`rsaEncryption`, as OpenSSL writes it), signer
 * named by issuerAndSerialNumber, signed attributes content-type, signing-time and
 * message-digest, the signer's certificate (and any others given) carried, content detached or
 * encapsulated. The private key stays with the caller: `sign` receives the DER of the signed
 * attributes and returns the signature (node:crypto on a server, WebCrypto in a page).
 */
import { parseCertificate } from '../pki/index.js';
import { fromHex } from '../pki/der.js';
import { algorithm, concat, NULL, octetString, oid, seq, set, smallInt, tlv } from './der-writer.js';
import { OID } from './oids.js';

export interface SignOptions {
  /** The signer's certificate (DER): names the signer and travels in the SignedData. */
  certificate: Uint8Array;
  /** RSASSA-PKCS1-v1_5 with SHA-256 over the given bytes. */
  sign(data: Uint8Array): Promise<Uint8Array>;
  /** Content left out of the SignedData (S/MIME multipart/signed); default false (encapsulated). */
  detached?: boolean;
  /** More certificates to carry (the intermediate CA), DER. */
  certificates?: readonly Uint8Array[];
  /** The signing-time attribute; default now. */
  signingTime?: Date;
}

const two = (n: number): string => String(n).padStart(2, '0');

/** UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5652 §11.3). */
function time(d: Date): Uint8Array {
  const y = d.getUTCFullYear();
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  const text = y >= 1950 && y < 2050 ? `${two(y % 100)}${rest}` : `${String(y).padStart(4, '0')}${rest}`;
  return tlv(y >= 1950 && y < 2050 ? 0x17 : 0x18, new TextEncoder().encode(text));
}

/** DER SET OF: the elements' encodings in ascending order (X.690 §11.6). */
function setOf(elements: readonly Uint8Array[]): Uint8Array[] {
  return [...elements].sort((a, b) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  });
}

/** A ContentInfo (DER) holding SignedData over `content` (id-data). */
export async function signData(content: Uint8Array, o: SignOptions): Promise<Uint8Array> {
  const cert = parseCertificate(o.certificate);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', content as Uint8Array<ArrayBuffer>));
  const attributes = setOf([
    seq(oid(OID.contentTypeAttr), set(oid(OID.data))),
    seq(oid(OID.signingTimeAttr), set(time(o.signingTime ?? new Date()))),
    seq(oid(OID.messageDigestAttr), set(octetString(digest))),
  ]);
  // Signed over as a SET OF (tag 0x31), carried as [0] IMPLICIT (tag 0xA0): §5.4.
  const signature = await o.sign(tlv(0x31, ...attributes));
  const sha256 = algorithm(OID.sha256);
  const signerInfo = seq(
    smallInt(1),
    seq(cert.issuer.der, tlv(0x02, fromHex(cert.serial))),
    sha256,
    tlv(0xa0, ...attributes),
    algorithm(OID.rsaEncryption, NULL),
    octetString(signature),
  );
  const encap = o.detached ? seq(oid(OID.data)) : seq(oid(OID.data), tlv(0xa0, octetString(content)));
  const certificates = tlv(0xa0, ...setOf([o.certificate, ...(o.certificates ?? [])]));
  const signedData = seq(smallInt(1), set(sha256), encap, certificates, set(signerInfo));
  return concat([seq(oid(OID.signedData), tlv(0xa0, signedData))]);
}
