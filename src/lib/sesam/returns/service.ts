/**
 * Writing a signed service message (docs/domain/transmission.md §9; RFC 5751), as the simulated
 * insurer front end sends them: the code in the Subject and as the first token of the first
 * text part, the original message's Message-ID in In-Reply-To and its subject quoted, signed by
 * the front end's attachment certificate — `multipart/signed` with a detached signature, or
 * `application/pkcs7-mime; smime-type=signed-data` (opaque). Read back by `readReturn`.
 */
import { signData } from '../../cms/index.js';
import { encodeBase64Mime } from '../base64.js';
import type { ServiceCode } from './read.js';

/** What each code tells the practitioner (French, shown as the message's explanation). */
export const SERVICE_TEXT: Readonly<Partial<Record<ServiceCode, string>>> = {
  '40050': 'Rejet : la pièce jointe chiffrée n’a pas pu être déchiffrée (certificat utilisé révoqué ou inconnu du frontal). Le flux doit être réémis à l’identique, chiffré pour le certificat joint à ce message.',
  '40150': 'Avertissement : le flux a été déchiffré, mais un certificat plus récent existe. Utilisez le certificat joint à ce message pour les prochaines transmissions.',
  '4025': 'Rejet : la pièce jointe n’était pas chiffrée. Le flux doit être réémis à l’identique, chiffré.',
};

export interface ServiceMessageInput {
  from: string;
  to: string;
  code: ServiceCode;
  /** Message-ID of the message answered (with its angle brackets). */
  inReplyTo: string;
  /** Its subject, quoted in ours. */
  originalSubject: string;
  messageId: string;
  date: Date;
  /** Explanation after the code; default SERVICE_TEXT[code]. */
  text?: string;
  opaque?: boolean;
  signer: { certificate: Uint8Array; certificates?: readonly Uint8Array[]; sign(data: Uint8Array): Promise<Uint8Array> };
  /** MIME boundary (tests fix it); default random. */
  boundary?: string;
}

const enc = new TextEncoder();
const CRLF = '\r\n';

/** RFC 5322 date-time, in UTC. */
function rfc5322(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** No CR, LF or other control character may reach a header (the subject comes from a message received). */
function headerSafe(value: string): string {
  return value.replace(/[\p{Cc}\u2028\u2029]+/gu, ' ').slice(0, 400);
}

const ascii = (b: Uint8Array): string => new TextDecoder('latin1').decode(b);

function randomBoundary(): string {
  const r = new Uint8Array(12);
  crypto.getRandomValues(r);
  return `=_svc_${Array.from(r, (x) => x.toString(16).padStart(2, '0')).join('')}`;
}

/** The whole message, CRLF line ends, 7-bit: every body is base64. */
export async function composeServiceMessage(m: ServiceMessageInput): Promise<Uint8Array> {
  const explanation = m.text ?? SERVICE_TEXT[m.code] ?? '';
  const text = `${m.code} ${explanation}${CRLF}${CRLF}Objet du message d’origine : « ${headerSafe(m.originalSubject)} »${CRLF}Message d’origine : ${headerSafe(m.inReplyTo)}${CRLF}`;
  const inner = `Content-Type: text/plain; charset=utf-8${CRLF}Content-Transfer-Encoding: base64${CRLF}${CRLF}${ascii(encodeBase64Mime(enc.encode(text)))}`;
  const innerBytes = enc.encode(inner);
  const headers = [
    `From: ${headerSafe(m.from)}`,
    `To: ${headerSafe(m.to)}`,
    `Date: ${rfc5322(m.date)}`,
    `Message-ID: ${headerSafe(m.messageId)}`,
    `In-Reply-To: ${headerSafe(m.inReplyTo)}`,
    `Subject: ${m.code} Re: ${headerSafe(m.originalSubject)}`,
    'MIME-Version: 1.0',
  ];
  const signature = await signData(innerBytes, { certificate: m.signer.certificate, certificates: m.signer.certificates ?? [], sign: m.signer.sign, detached: !m.opaque, signingTime: m.date });
  const b64 = ascii(encodeBase64Mime(signature));
  if (m.opaque) {
    headers.push('Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"', 'Content-Transfer-Encoding: base64', 'Content-Disposition: attachment; filename="smime.p7m"');
    return enc.encode(`${headers.join(CRLF)}${CRLF}${CRLF}${b64}`);
  }
  const boundary = m.boundary ?? randomBoundary();
  headers.push(`Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="${boundary}"`);
  return enc.encode(
    `${headers.join(CRLF)}${CRLF}${CRLF}This is an S/MIME signed message.${CRLF}${CRLF}--${boundary}${CRLF}${inner}${CRLF}--${boundary}${CRLF}` +
      `Content-Type: application/pkcs7-signature; name="smime.p7s"${CRLF}Content-Transfer-Encoding: base64${CRLF}Content-Disposition: attachment; filename="smime.p7s"${CRLF}${CRLF}` +
      `${b64}${CRLF}--${boundary}--${CRLF}`,
  );
}
