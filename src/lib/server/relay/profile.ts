/**
 * What the relay accepts at intake (docs/ARCHITECTURE.md principle 3: the relay never sees a
 * plaintext invoice). A SESAM-Vitale flow (docs/domain/transmission.md §7) carries one and only
 * one `Application/EDI-consent` entity; its Content-Description has the `K` flag (attachment
 * encryption is mandatory, §2); and its content is a CMS EnvelopedData (RFC 5652 §6) with an
 * AES-CBC content and at least one key-transport recipient.
 *
 * Structure only: the relay holds no recipient key, never decrypts, and keeps nothing of the
 * content beyond the opaque message. A plaintext lot, a lot whose flag says `K` but whose
 * content is not an EnvelopedData, a message with any other part, or a header that is not
 * well formed is refused with a stable reason code before anything is stored.
 *
 * What is forwarded is only what was checked (issue 24 defect 1): the message is written again
 * from the header fields the profile names (Date, From, To, Message-ID, Subject, MIME-Version)
 * and the one entity (its content headers and its base64 text, verbatim): any other header, a
 * preamble or an epilogue is dropped, never delivered.
 */
import { outlineEnvelopedData, parseEnvelopedData } from '../../cms/decrypt.js';
import { isCmsError } from '../../cms/index.js';
import { formatSubject, headerValue, isSesamError, parseMessage, parseMessageOutline, parseRfc5322Date, type Header } from '../../sesam/index.js';

export type ProfileReason =
  /** Not a SESAM-Vitale message at all (no EDI-consent entity, bad headers, bad base64...). */
  | 'profile-malformed'
  /** More than one Application/EDI-consent entity: one message carries one file. */
  | 'profile-multiple-attachments'
  /** Content-Description without the `K` flag: the lot would travel in clear. */
  | 'profile-not-encrypted'
  /** `K` announced, but the content is not a CMS EnvelopedData (or not one we can forward). */
  | 'profile-not-enveloped-data'
  /** A part beside the file (text, a nested message, another multipart): the file travels alone. */
  | 'profile-extra-part'
  /** A header the profile names is not well formed: a control or 8-bit byte, a Date that does not parse, a Subject not `SV…`/`DR…` exactly. */
  | 'profile-header-malformed';

export class ProfileError extends Error {
  /** `detail`: the core parser's own code (SesamMessageError / CmsError), for diagnosis. */
  constructor(readonly reason: ProfileReason, message: string, readonly detail?: string) {
    super(message);
    this.name = 'ProfileError';
  }
}

export interface AcceptedProfile {
  /** Content-Description as received, e.g. `FSE/B2/K`. */
  description: string;
  /** Known nature (FSE, DRE, FACTURE...) or the raw one. */
  nature: string;
  compressed: boolean;
  recipients: number;
  /** The message as the relay stores and delivers it: the checked fields and the one entity, nothing else. */
  canonical: Uint8Array;
}

/**
 * Decoded bytes read of the attachment: the EnvelopedData's structure up to its ciphertext
 * (about 300 bytes per RSA-2048 recipient) fits for a lot of up to five recipients; more are checked by the whole decode.
 */
const OUTLINE_HEAD_BYTES = 2048;
const BOUNDARY = '=_teletrans_relay_lot';

/** Visible ASCII and spaces/tabs only: no control byte (NUL, CR, LF, DEL...), no 8-bit byte. */
const WELL_FORMED = /^[\x20-\x7e\t]*$/;
const TOP = ['Date', 'From', 'To', 'Message-ID', 'Subject', 'MIME-Version'] as const;
const ENTITY = ['Content-Type', 'Content-Transfer-Encoding', 'Content-Description', 'Content-Disposition'] as const;

function wellFormed(headers: readonly Header[], names: readonly string[], where: string): [string, string][] {
  const kept: [string, string][] = [];
  for (const name of names) {
    const value = headerValue(headers, name);
    if (value === undefined) continue;
    if (!WELL_FORMED.test(value) || value.length > 900) {
      throw new ProfileError('profile-header-malformed', `${where} header ${name} holds a control or 8-bit byte, or is too long`, 'header_bytes');
    }
    kept.push([name, value]);
  }
  return kept;
}

const ascii = (text: string): Uint8Array => Buffer.from(text, 'latin1');

/**
 * The parts end to end. Every byte is written, so the buffer need not be zeroed first: a zeroed
 * 100 KiB allocation cost a quarter of a millisecond per message here, half the whole check.
 */
function join(parts: readonly Uint8Array[]): Uint8Array {
  const out = Buffer.allocUnsafeSlow(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
const block = (headers: readonly [string, string][]): string => headers.map(([n, v]) => `${n}: ${v}\r\n`).join('');

/** The base64 text without its trailing line breaks. */
function bodyOf(raw: Uint8Array, start: number, end: number): Uint8Array {
  let e = end;
  while (e > start && (raw[e - 1] === 10 || raw[e - 1] === 13 || raw[e - 1] === 32 || raw[e - 1] === 9)) e--;
  return raw.subarray(start, e);
}

/** Checks `raw` against the SESAM-Vitale outbound profile; throws ProfileError when refused. */
export function checkOutboundProfile(raw: Uint8Array): AcceptedProfile {
  let parsed;
  try {
    parsed = parseMessageOutline(raw, OUTLINE_HEAD_BYTES, { maxMessageBytes: raw.byteLength });
  } catch (e) {
    if (!isSesamError(e)) throw e;
    if (e.code === 'multiple_attachments') {
      throw new ProfileError('profile-multiple-attachments', 'a message carries one and only one Application/EDI-consent entity', e.code);
    }
    throw new ProfileError('profile-malformed', `not a SESAM-Vitale message (${e.code})`, e.code);
  }
  if (parsed.otherParts > 0 || parsed.nestedMultipart) {
    throw new ProfileError('profile-extra-part', 'the Application/EDI-consent entity must be the message\'s only part', parsed.nestedMultipart ? 'nested_multipart' : 'other_part');
  }
  const top = wellFormed(parsed.headers, TOP, 'message');
  const entity = wellFormed(parsed.entityHeaders, ENTITY, 'entity');
  if (parseRfc5322Date(parsed.date) === null) throw new ProfileError('profile-header-malformed', 'Date is not an RFC 5322 date-time that names a real time', 'date');
  const sp = parsed.subjectParsed;
  let exact = false;
  try {
    exact = sp.type === 'invoice' && formatSubject(sp) === parsed.subject;
  } catch {
    exact = false;
  }
  if (!exact) throw new ProfileError('profile-header-malformed', 'Subject must be SVvvvvvv/exercice/compostage/nnnnn or DRvvvvvv/…, exactly', 'subject');
  const d = parsed.description;
  if (!d.wellFormed) throw new ProfileError('profile-malformed', 'Content-Description is not nature/norm/flags', 'description_malformed');
  if (!d.encrypted) {
    throw new ProfileError('profile-not-encrypted', 'Content-Description has no K flag: the relay forwards encrypted lots only', 'k_flag_missing');
  }
  let recipients: number;
  try {
    // The outer structure from the first bytes; the whole decode only where they cannot tell.
    recipients = outlineEnvelopedData(parsed.attachmentHead, parsed.attachmentLength)?.recipients ??
      parseEnvelopedData(parseMessage(raw, { maxMessageBytes: raw.byteLength }).attachment).recipients.length;
  } catch (e) {
    if (!isCmsError(e)) throw new ProfileError('profile-not-enveloped-data', 'the attachment is not a CMS EnvelopedData', 'cms_malformed');
    throw new ProfileError('profile-not-enveloped-data', `the attachment is not a usable CMS EnvelopedData (${e.code})`, e.code);
  }
  if (recipients === 0) {
    throw new ProfileError('profile-not-enveloped-data', 'the EnvelopedData has no key-transport recipient', 'no_key_transport');
  }
  return { description: d.raw, nature: d.known?.flow ?? d.nature, compressed: d.compressed, recipients, canonical: canonicalMessage(raw, parsed.structure, top, entity, parsed.entityBody) };
}

/**
 * The message written again from what was checked: the profile's top-level fields, then the
 * entity alone (as the single part, or as the only part of a multipart/mixed with a fixed boundary), its base64 text copied byte for byte. Nothing else of `raw`.
 */
function canonicalMessage(raw: Uint8Array, structure: 'single' | 'multipart', top: [string, string][], entity: [string, string][], body: { start: number; end: number }): Uint8Array {
  const b64 = bodyOf(raw, body.start, body.end);
  if (structure === 'single') return join([ascii(block([...top, ...entity]) + '\r\n'), b64, ascii('\r\n')]);
  // No line of what follows can begin with "--" (base64 has no "-"; each header is one line
  // that starts with its name): a fixed boundary cannot occur in the body.
  const boundary = BOUNDARY;
  return join([
    ascii(block([...top, ['Content-Type', `multipart/mixed; boundary="${boundary}"`]]) + `\r\n--${boundary}\r\n` + block(entity) + '\r\n'),
    b64,
    ascii(`\r\n--${boundary}--\r\n`),
  ]);
}
