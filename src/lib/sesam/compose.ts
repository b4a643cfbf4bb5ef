/**
 * The SMTP message of docs/domain/transmission.md §7 (annex 4): RFC 5322 headers, one MIME entity
 * (RFC 2045) carrying the file, either as the message body ("single") or as the only part of
 * a multipart/mixed body (RFC 2046), CRLF everywhere, base64 in 76-column lines.
 *
 * Header values that the spec fixes are written with the spec's own casing
 * (`Application/EDI-consent`, `BASE64`): MIME makes them case-insensitive, but the insurers'
 * front ends were specified against these exact strings, so we never normalise them.
 */
import { domainOf, formatMailbox, parseMailbox } from './address.js';
import { encodeBase64Mime } from './base64.js';
import { SesamFieldError } from './errors.js';
import { DEFAULT_TIME_ZONE, rfc5322Date } from './time.js';

export const EDI_CONTENT_TYPE = 'Application/EDI-consent';
export const EDI_TRANSFER_ENCODING = 'BASE64';

export type MessageStructure = 'single' | 'multipart';

export interface ComposeInput {
  /** `local@domain` or `Name <local@domain>`: the PS's address given by its network provider. */
  from: string;
  /** The organism's mailbox or the OCT's address. */
  to: string;
  subject: string;
  date: Date;
  /** Zone of the Date header; default Europe/Paris (same clock as the compostage). */
  timeZone?: string;
  /** `<id@domain>`; generated from the From domain when absent. */
  messageId?: string;
  /** Used in the generated Message-ID before the random part (e.g. the compostage). */
  messageIdHint?: string;
  /** Content-Description value, e.g. `FSE/B2/K`. */
  description: string;
  /** File name as it will appear in Content-Disposition, e.g. `LOT0001.pkcs7`. */
  filename: string;
  /** The file's bytes (the encrypted attachment). */
  content: Uint8Array;
  structure?: MessageStructure;
  /** multipart only; generated when absent. */
  boundary?: string;
  /** multipart only: text before the first part and after the last (ASCII). */
  preamble?: string;
  epilogue?: string;
  /** Randomness for Message-ID and boundary; default crypto.getRandomValues. */
  random?: (length: number) => Uint8Array;
}

export interface ComposedMessage {
  /** The whole message, ASCII, CRLF line endings. */
  bytes: Uint8Array;
  messageId: string;
  boundary?: string;
  /** Top-level headers in order, as written (unfolded values). */
  headers: Array<[name: string, value: string]>;
}

const defaultRandom = (length: number): Uint8Array => crypto.getRandomValues(new Uint8Array(length));

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** Printable ASCII only: the values we write never need RFC 2047 encoding. */
function checkHeaderValue(value: string, field: string, max = 900): string {
  if (value.length === 0 || value.length > max || !/^[\x20-\x7e]+$/.test(value) || value !== value.trim()) {
    throw new SesamFieldError('invalid_header_value', field, `valeur d'en-tête invalide pour ${field} : ASCII imprimable, sans espace en bordure, ${max} caractères au plus`);
  }
  return value;
}

/** Conservative file names: they go in a quoted string and on the recipient's disk. */
export function checkFilename(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/.test(name)) {
    throw new SesamFieldError('invalid_filename', 'filename', `nom de fichier invalide « ${name} » (lettres, chiffres, « . _ + - », 200 caractères au plus, sans point initial)`);
  }
  return name;
}

const BCHARS = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

function checkBoundary(boundary: string): string {
  if (!BCHARS.test(boundary)) {
    throw new SesamFieldError('invalid_boundary', 'boundary', `délimiteur MIME invalide « ${boundary} » (RFC 2046 : 1 à 70 caractères autorisés)`);
  }
  // Our base64 lines can never start with "--" (no "-" in the alphabet), so the boundary only
  // has to be checked against the free texts.
  return boundary;
}

/** Free text (preamble, epilogue): ASCII, lines ≤ 998, normalised to CRLF, boundary-free. */
function freeText(text: string, field: string, boundary: string): string {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (const line of lines) {
    if (!/^[\x20-\x7e\t]*$/.test(line) || line.length > 998) {
      throw new SesamFieldError('invalid_header_value', field, `${field} : texte ASCII imprimable attendu, lignes de 998 caractères au plus`);
    }
    if (line.startsWith(`--${boundary}`)) {
      throw new SesamFieldError('invalid_boundary', field, `${field} contient le délimiteur MIME`);
    }
  }
  return lines.join('\r\n');
}

/** `<hint.random@domain>`: the random part makes it unique even if a hint repeats. */
export function makeMessageId(fromAddress: string, hint?: string, random: (n: number) => Uint8Array = defaultRandom): string {
  const local = [hint, hex(random(16))].filter((x) => x !== undefined && x !== '').join('.');
  return `<${local}@${domainOf(fromAddress)}>`;
}

function checkMessageId(id: string): string {
  if (!/^<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x5a\x5e-\x7e]+>$/.test(id) || id.length > 250) {
    throw new SesamFieldError('invalid_header_value', 'messageId', `Message-ID invalide « ${id} » (attendu : <partie@domaine>)`);
  }
  return id;
}

/** Writes `Name: value` and folds at "; " when the line would pass 78 characters. */
function headerLine(name: string, value: string): string {
  const line = `${name}: ${value}`;
  if (line.length <= 78) return line;
  return `${name}: ${value.split('; ').join(';\r\n ')}`;
}

const ASCII = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
};

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Composes the message. Every field is checked first; throws SesamFieldError. */
export function composeMessage(input: ComposeInput): ComposedMessage {
  const random = input.random ?? defaultRandom;
  const from = parseMailbox(input.from, 'from');
  const to = parseMailbox(input.to, 'to');
  const subject = checkHeaderValue(input.subject, 'subject');
  const description = checkHeaderValue(input.description, 'description', 200);
  const filename = checkFilename(input.filename);
  const structure = input.structure ?? 'single';
  if (structure !== 'single' && structure !== 'multipart') {
    throw new SesamFieldError('invalid_header_value', 'structure', `structure inconnue « ${String(structure)} » (single ou multipart)`);
  }
  if (structure === 'single' && (input.preamble !== undefined || input.epilogue !== undefined || input.boundary !== undefined)) {
    throw new SesamFieldError('invalid_header_value', 'structure', 'préambule, épilogue et délimiteur ne s’appliquent qu’à la structure multipart');
  }
  const messageId = checkMessageId(input.messageId ?? makeMessageId(from.address, input.messageIdHint, random));
  const date = rfc5322Date(input.date, input.timeZone ?? DEFAULT_TIME_ZONE);

  const headers: Array<[string, string]> = [
    ['Date', date],
    ['From', formatMailbox(from)],
    ['To', formatMailbox(to)],
    ['Message-ID', messageId],
    ['Subject', subject],
    ['MIME-Version', '1.0'],
  ];
  const entity: Array<[string, string]> = [
    ['Content-Type', EDI_CONTENT_TYPE],
    ['Content-Transfer-Encoding', EDI_TRANSFER_ENCODING],
    ['Content-Description', description],
    ['Content-Disposition', `attachment; filename="${filename}"`],
  ];
  const block = (hs: Array<[string, string]>): string => hs.map(([n, v]) => headerLine(n, v) + '\r\n').join('');
  const body = encodeBase64Mime(input.content);

  if (structure === 'single') {
    headers.push(...entity);
    return { bytes: concat([ASCII(block(headers) + '\r\n'), body]), messageId, headers };
  }

  // "=_" cannot occur in base64 and is unlikely in text; the random part makes it unique.
  const boundary = checkBoundary(input.boundary ?? `=_teletrans_${hex(random(12))}`);
  const preamble = input.preamble !== undefined ? freeText(input.preamble, 'preamble', boundary) : undefined;
  const epilogue = input.epilogue !== undefined ? freeText(input.epilogue, 'epilogue', boundary) : undefined;
  headers.push(['Content-Type', `multipart/mixed; boundary="${boundary}"`]);
  const head =
    block(headers) +
    '\r\n' +
    (preamble !== undefined ? preamble + '\r\n' : '') +
    `--${boundary}\r\n` +
    block(entity) +
    '\r\n';
  // The CRLF that ends the last base64 line belongs to the close delimiter (RFC 2046 §5.1.1).
  const tail = `--${boundary}--\r\n` + (epilogue !== undefined ? epilogue + '\r\n' : '');
  return { bytes: concat([ASCII(head), body, ASCII(tail)]), messageId, boundary, headers };
}
