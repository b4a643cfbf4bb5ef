/**
 * An MSSanté message as the workstation composes it (mssante.md § Messages), every rule
 * checked before a byte is produced:
 * - 1 to 40 recipients (To + Cc), each a plain addr-spec, none twice;
 * - the sender's and every recipient's domain in the trust space (whitelist.ts);
 * - a patient mailbox (`<INS>@patient.mssante.fr`) only from a professional's personal
 *   mailbox, or as a reply to that patient;
 * - structured documents as one IHE XDM zip (xdm.ts), all about one patient, with the same
 *   documents as PDF beside it; X-MSS-INS, X-MSS-CODECDA and X-MSS-NIL as defined;
 * - at most MAX_MESSAGE_BYTES once encoded (headers, base64 attachments and all).
 * Output: RFC 5322 + MIME (multipart/mixed, UTF-8 text in quoted-printable, attachments in
 * base64), CRLF throughout.
 */
import { encodeBase64Mime } from '../sesam/base64.js';
import { makeMessageId } from '../sesam/compose.js';
import { rfc5322Date } from '../sesam/time.js';
import { MssError } from './errors.js';
import { assertInTrustSpace, addressDomain, type Whitelist } from './whitelist.js';

/** 10 MB (decimal, the stricter reading of the operators' "10 Mo"), encoded message included. */
export const MAX_MESSAGE_BYTES = 10_000_000;
export const MAX_RECIPIENTS = 40;
export const MAX_MSS_HEADER = 255;
export const PATIENT_DOMAIN = 'patient.mssante.fr';

export type MailboxKind = 'personal' | 'organisational' | 'application';

export interface PdfAttachment {
  name: string;
  data: Uint8Array;
}

export interface XdmAttachment {
  zip: Uint8Array;
  /** Type codes of the structured documents (X-MSS-CODECDA). */
  typeCodes: readonly string[];
  /** A qualified INS is inside the structured documents (X-MSS-INS O/N). */
  insQualified: boolean;
}

export interface MssComposeInput {
  from: string;
  /** What the sender's mailbox is: only a professional's personal one may start a conversation with a patient. */
  fromKind: MailboxKind;
  to: readonly string[];
  cc?: readonly string[];
  subject: string;
  text: string;
  xdm?: XdmAttachment;
  pdfs?: readonly PdfAttachment[];
  /** The message answered: its Message-ID and sender (a patient may be answered). */
  replyTo?: { messageId: string; from: string; references?: readonly string[] };
  /** The client software, `<publisherId/softwareId/version>` style (X-MSS-NIL). */
  software: string;
  date: Date;
  random?: (n: number) => Uint8Array;
}

export interface MssComposed {
  raw: Uint8Array;
  messageId: string;
  /** Envelope recipients (To + Cc). */
  recipients: string[];
  size: number;
}

const PATIENT_RE = /^[0-9A-Z]{15}@patient\.mssante\.fr$/i;

export const isPatientAddress = (a: string): boolean => PATIENT_RE.test(a.trim());

function checkHeaderText(name: string, value: string, max = MAX_MSS_HEADER): string {
  // eslint-disable-next-line no-control-regex
  if (value.length === 0 || value.length > max || /[\u0000-\u001f\u007f-\uffff]/.test(value)) {
    throw new MssError('header_invalid', `En-tête ${name} invalide : ASCII imprimable, ${max} caractères au plus.`);
  }
  return value;
}

/** RFC 2047 encoded-words (UTF-8, base64) for a non-ASCII subject; folded under 76 columns. */
function encodeSubject(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) throw new MssError('header_invalid', 'Objet invalide : caractère de contrôle.');
  if (/^[\x20-\x7e]*$/.test(s) && s.length <= 900) return s;
  const bytes = new TextEncoder().encode(s);
  if (bytes.length > 2000) throw new MssError('header_invalid', 'Objet trop long.');
  const words: string[] = [];
  let chunk: number[] = [];
  const flush = (): void => {
    words.push(`=?UTF-8?B?${btoa(String.fromCharCode(...chunk))}?=`);
    chunk = [];
  };
  // Split on character boundaries: 45 bytes give 60 base64 characters per word.
  for (const ch of s) {
    const b = new TextEncoder().encode(ch);
    if (chunk.length + b.length > 45) flush();
    chunk.push(...b);
  }
  if (chunk.length) flush();
  return words.join('\r\n ');
}

/** Quoted-printable (RFC 2045 §6.7) of UTF-8 text, CRLF line breaks, lines ≤ 76. */
export function quotedPrintable(text: string): string {
  const lines = text.replace(/\r\n|\r|\n/g, '\n').split('\n');
  const out: string[] = [];
  for (const line of lines) {
    let cur = '';
    const bytes = new TextEncoder().encode(line);
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      const last = i === bytes.length - 1;
      let t: string;
      if ((b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last)) t = String.fromCharCode(b);
      else t = `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
      if (cur.length + t.length > 75) {
        out.push(`${cur}=`);
        cur = '';
      }
      cur += t;
    }
    out.push(cur);
  }
  return out.join('\r\n');
}

function checkPdf(p: PdfAttachment): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._()-]{0,100}\.pdf$/i.test(p.name)) throw new MssError('attachment_invalid', `Nom de PDF invalide « ${p.name.slice(0, 80)} ».`);
  const magic = new TextDecoder().decode(p.data.subarray(0, 5));
  if (magic !== '%PDF-') throw new MssError('attachment_invalid', `« ${p.name} » n’est pas un PDF.`);
}

const ascii = (s: string): Uint8Array => {
  const u = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
  return u;
};

/** The recipient rules alone (count, duplicates, addresses, patients, trust space): the page shows them as the user types. */
export function checkRecipients(input: Pick<MssComposeInput, 'from' | 'fromKind' | 'to' | 'cc' | 'replyTo'>, whitelist: Whitelist | null): string[] {
  const all = [...input.to, ...(input.cc ?? [])].map((a) => a.trim());
  if (all.length === 0) throw new MssError('no_recipient', 'Indiquez au moins un destinataire.');
  if (all.length > MAX_RECIPIENTS) throw new MssError('too_many_recipients', `${all.length} destinataires : ${MAX_RECIPIENTS} au plus par message.`);
  const seen = new Set<string>();
  for (const a of [input.from, ...all]) {
    if (!addressDomain(a)) throw new MssError('address_invalid', `« ${a} » n’est pas une adresse de messagerie valide.`);
  }
  for (const a of all) {
    const k = a.toLowerCase();
    if (seen.has(k)) throw new MssError('address_invalid', `${a} figure deux fois parmi les destinataires.`);
    seen.add(k);
    if (addressDomain(a) === PATIENT_DOMAIN) {
      if (!isPatientAddress(a)) throw new MssError('address_invalid', `« ${a} » n’est pas une adresse de patient (INS de 15 caractères).`);
      const answering = input.replyTo && input.replyTo.from.trim().toLowerCase() === k;
      if (input.fromKind !== 'personal' && !answering) {
        throw new MssError('patient_not_reply', `Seul un professionnel peut écrire le premier à un patient : ${a} ne peut recevoir qu’une réponse depuis cette boîte.`);
      }
    }
  }
  if (isPatientAddress(input.from) && all.some((a) => addressDomain(a) === PATIENT_DOMAIN)) {
    throw new MssError('patient_not_reply', 'Une messagerie de patient n’écrit qu’à des professionnels.');
  }
  assertInTrustSpace(whitelist, input.from, all);
  return all;
}

/** Composes the message, or refuses it with a typed reason (nothing is produced). */
export function composeMssMessage(input: MssComposeInput, whitelist: Whitelist | null): MssComposed {
  const recipients = checkRecipients(input, whitelist);
  const software = checkHeaderText('X-MSS-NIL', input.software);
  const pdfs = input.pdfs ?? [];
  pdfs.forEach(checkPdf);
  const headers: Array<[string, string]> = [];
  if (input.xdm) {
    if (pdfs.length === 0) throw new MssError('attachment_invalid', 'Les documents structurés (XDM) partent avec leur version PDF, pour les lecteurs qui ne lisent pas l’XDM.');
    if (input.xdm.typeCodes.length === 0) throw new MssError('header_invalid', 'X-MSS-CODECDA : aucun code de type de document.');
    headers.push(['X-MSS-INS', input.xdm.insQualified ? 'O' : 'N']);
    headers.push(['X-MSS-CODECDA', checkHeaderText('X-MSS-CODECDA', [...new Set(input.xdm.typeCodes)].join(','))]);
  }
  headers.push(['X-MSS-NIL', software]);

  const random = input.random ?? ((n: number) => crypto.getRandomValues(new Uint8Array(n)));
  const messageId = makeMessageId(input.from, undefined, random);
  const boundary = `=_mss_${Array.from(random(12), (b) => b.toString(16).padStart(2, '0')).join('')}`;
  const top: Array<[string, string]> = [
    ['From', input.from.trim()],
    ['To', input.to.map((a) => a.trim()).join(',\r\n ')],
    ...(input.cc?.length ? ([['Cc', input.cc.map((a) => a.trim()).join(',\r\n ')]] as Array<[string, string]>) : []),
    ['Subject', encodeSubject(input.subject)],
    ['Date', rfc5322Date(input.date)],
    ['Message-ID', messageId],
  ];
  if (input.replyTo) {
    if (!/^<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3d\x3f-\x7e]+>$/.test(input.replyTo.messageId)) throw new MssError('header_invalid', 'Message répondu : Message-ID invalide.');
    const refs = [...(input.replyTo.references ?? []), input.replyTo.messageId].filter((r) => /^<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3d\x3f-\x7e]+>$/.test(r)).slice(-20);
    top.push(['In-Reply-To', input.replyTo.messageId], ['References', refs.join('\r\n ')]);
  }
  const single = !input.xdm && pdfs.length === 0;
  top.push(['MIME-Version', '1.0'], ...headers, single ? ['Content-Type', 'text/plain; charset=UTF-8'] : ['Content-Type', `multipart/mixed; boundary="${boundary}"`]);
  if (single) top.push(['Content-Transfer-Encoding', 'quoted-printable']);

  const parts: string[] = [];
  parts.push(`Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${quotedPrintable(input.text)}`);
  const b64 = (d: Uint8Array): string => new TextDecoder().decode(encodeBase64Mime(d));
  if (input.xdm) {
    parts.push(`Content-Type: application/zip; name="IHE_XDM.ZIP"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="IHE_XDM.ZIP"\r\n\r\n${b64(input.xdm.zip)}`);
  }
  for (const p of pdfs) {
    parts.push(`Content-Type: application/pdf; name="${p.name}"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="${p.name}"\r\n\r\n${b64(p.data)}`);
  }
  const head = top.map(([k, v]) => `${k}: ${v}`).join('\r\n');
  // Text alone: one part, no multipart around it (readers list a message without attachments as such).
  const body = single ? `${quotedPrintable(input.text)}\r\n` : parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('') + `--${boundary}--\r\n`;
  const text = `${head}\r\n\r\n${body}`;
  if (text.length > MAX_MESSAGE_BYTES) {
    throw new MssError('message_too_large', `Message de ${text.length} octets une fois encodé : ${MAX_MESSAGE_BYTES} au plus, pièces jointes comprises.`);
  }
  return { raw: ascii(text), messageId, recipients, size: text.length };
}
