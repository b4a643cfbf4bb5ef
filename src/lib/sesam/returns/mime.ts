/**
 * A small MIME reader for the messages that come back (RFC 5322, RFC 2045–2046): ARL and RSP
 * files, OCT acknowledgements, service messages signed in S/MIME, delivery reports. Unlike the
 * outbound parser (../parse.ts), which refuses anything outside the SESAM-Vitale profile, it
 * reads what an insurer, an OCT or a mail server may send, within limits, and keeps each part's
 * exact bytes: a detached S/MIME signature covers the first part byte for byte (RFC 5751 §3.5).
 * Every failure is a `ReturnMessageError`; nothing here decides what a message means.
 */
import { decodeBase64 } from '../base64.js';
import { isSesamError } from '../errors.js';

export type ReturnMessageErrorCode = 'too_large' | 'no_body' | 'bad_header' | 'bad_multipart' | 'too_deep' | 'too_many_parts' | 'bad_encoding';

export class ReturnMessageError extends Error {
  constructor(
    readonly code: ReturnMessageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ReturnMessageError';
  }
}

export interface MimeLimits {
  /** Whole message. Returns are small: a 20 MiB ceiling like the front ends'. */
  maxBytes: number;
  /** One entity's header section. */
  maxHeaderBytes: number;
  /** Nesting of multiparts (a signed report inside a mixed message is 3). */
  maxDepth: number;
  /** Parts in one multipart. */
  maxParts: number;
}

export const RETURN_LIMITS: MimeLimits = { maxBytes: 20 * 1024 * 1024, maxHeaderBytes: 64 * 1024, maxDepth: 6, maxParts: 50 };

export interface Field {
  /** As received (case kept). */
  name: string;
  /** Unfolded, trimmed; bytes as Latin-1 characters (headers are ASCII; anything else is kept, not guessed). */
  value: string;
}

export interface Entity {
  /** The entity's exact bytes, header section included. */
  raw: Uint8Array;
  fields: Field[];
  /** The body's bytes, still transfer-encoded. */
  body: Uint8Array;
}

export interface ContentType {
  /** `type/subtype`, lower-cased; `text/plain` when absent (RFC 2045 §5.2). */
  type: string;
  /** Parameters, names lower-cased, values unquoted (case kept). */
  params: Record<string, string>;
}

const latin1 = (b: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
};

/** Index of the blank line that ends the header section, and the body's start; -1 when none. */
function headerEnd(b: Uint8Array, limit: number): { end: number; body: number } {
  const n = Math.min(b.length, limit);
  for (let i = 0; i < n; i++) {
    if (b[i] !== 10) continue;
    if (b[i + 1] === 10) return { end: i, body: i + 2 };
    if (b[i + 1] === 13 && b[i + 2] === 10) return { end: i, body: i + 3 };
  }
  return { end: -1, body: -1 };
}

/** Reads one entity: its header fields (unfolded) and its body's bytes. */
export function readEntity(raw: Uint8Array, limits: MimeLimits = RETURN_LIMITS): Entity {
  if (raw.length > limits.maxBytes) throw new ReturnMessageError('too_large', `message trop grand (${raw.length} octets, ${limits.maxBytes} au plus)`);
  // An entity may start with the blank line itself (no header: all defaults).
  const startsBlank = raw[0] === 10 || (raw[0] === 13 && raw[1] === 10);
  const { end, body } = startsBlank ? { end: 0, body: raw[0] === 10 ? 1 : 2 } : headerEnd(raw, limits.maxHeaderBytes + 3);
  if (end < 0) {
    if (raw.length > limits.maxHeaderBytes) throw new ReturnMessageError('bad_header', 'en-têtes trop longs ou sans ligne vide de fin');
    throw new ReturnMessageError('no_body', 'pas de ligne vide entre les en-têtes et le corps');
  }
  const fields: Field[] = [];
  for (const line of latin1(raw.subarray(0, end)).split(/\r?\n/)) {
    if (line === '') continue;
    if (line[0] === ' ' || line[0] === '\t') {
      const last = fields[fields.length - 1];
      if (!last) throw new ReturnMessageError('bad_header', 'ligne de continuation sans en-tête');
      last.value = `${last.value} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) throw new ReturnMessageError('bad_header', `ligne d’en-tête illisible « ${line.slice(0, 40)} »`);
    fields.push({ name, value: line.slice(colon + 1).trim() });
  }
  return { raw, fields, body: raw.subarray(body) };
}

/** The first value of `name` (case-insensitive), or undefined. */
export function field(e: Entity, name: string): string | undefined {
  const n = name.toLowerCase();
  return e.fields.find((f) => f.name.toLowerCase() === n)?.value;
}

/** Content-Type with its parameters (RFC 2045 §5.1; quoted strings and their escapes). */
export function contentType(e: Entity): ContentType {
  const value = field(e, 'content-type');
  if (value === undefined) return { type: 'text/plain', params: {} };
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const params: Record<string, string> = {};
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]*))/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const name = m[1]!.toLowerCase();
    if (!Object.hasOwn(params, name)) params[name] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
  }
  return { type: /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type) ? type : 'application/octet-stream', params };
}

function indexOf(b: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  outer: for (let i = b.indexOf(first, from); i >= 0 && i + needle.length <= b.length; i = b.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (b[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * The parts of a multipart body, each as its exact bytes (RFC 2046 §5.1.1: the CRLF before a
 * delimiter belongs to the delimiter, not to the part). Refuses a body without its closing
 * delimiter, an empty multipart and more than `limits.maxParts` parts.
 */
export function multipartParts(e: Entity, boundary: string | undefined, limits: MimeLimits = RETURN_LIMITS): Uint8Array[] {
  if (!boundary || boundary.length > 70 || /[\r\n]/.test(boundary)) throw new ReturnMessageError('bad_multipart', 'multipart sans délimiteur valide');
  const body = e.body;
  const delim = Uint8Array.from(`--${boundary}`, (c) => c.charCodeAt(0) & 0xff);
  const parts: Uint8Array[] = [];
  // The first delimiter may open the body; the others follow a line break.
  let at = body.length >= delim.length && indexOf(body.subarray(0, delim.length), delim, 0) === 0 ? 0 : -1;
  if (at < 0) {
    const nl = indexOf(body, Uint8Array.of(10, ...delim), 0);
    at = nl < 0 ? -1 : nl + 1;
  }
  if (at < 0) throw new ReturnMessageError('bad_multipart', 'délimiteur multipart introuvable');
  for (;;) {
    const after = at + delim.length;
    if (body[after] === 45 && body[after + 1] === 45) break; // the closing delimiter
    // The rest of the delimiter line (transport padding), then the part.
    const eol = body.indexOf(10, after);
    if (eol < 0) throw new ReturnMessageError('bad_multipart', 'multipart tronqué');
    const start = eol + 1;
    const next = indexOf(body, Uint8Array.of(10, ...delim), start - 1);
    if (next < 0) throw new ReturnMessageError('bad_multipart', 'multipart sans délimiteur de fin');
    const end = next > start && body[next - 1] === 13 ? next - 1 : next;
    parts.push(body.subarray(start, Math.max(start, end)));
    if (parts.length > limits.maxParts) throw new ReturnMessageError('too_many_parts', `plus de ${limits.maxParts} parties`);
    at = next + 1;
  }
  if (!parts.length) throw new ReturnMessageError('bad_multipart', 'multipart sans partie');
  return parts;
}

/** The body with its Content-Transfer-Encoding undone (base64, quoted-printable, 7bit, 8bit, binary). */
export function decodedBody(e: Entity): Uint8Array {
  const cte = (field(e, 'content-transfer-encoding') ?? '7bit').trim().toLowerCase();
  if (cte === 'base64') {
    try {
      return decodeBase64(latin1(e.body));
    } catch (err) {
      if (isSesamError(err)) throw new ReturnMessageError('bad_encoding', `base64 illisible : ${err.message}`);
      throw err;
    }
  }
  if (cte === 'quoted-printable') return decodeQuotedPrintable(e.body);
  if (cte === '7bit' || cte === '8bit' || cte === 'binary') return e.body;
  throw new ReturnMessageError('bad_encoding', `encodage de transfert inconnu « ${cte.slice(0, 30)} »`);
}

function decodeQuotedPrintable(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  let o = 0;
  const hex = (c: number | undefined): number => (c === undefined ? -1 : c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c !== 61) {
      out[o++] = c;
      continue;
    }
    if (b[i + 1] === 10) i += 1; // soft line break
    else if (b[i + 1] === 13 && b[i + 2] === 10) i += 2;
    else {
      const hi = hex(b[i + 1]);
      const lo = hex(b[i + 2]);
      if (hi < 0 || lo < 0) throw new ReturnMessageError('bad_encoding', 'quoted-printable illisible');
      out[o++] = (hi << 4) | lo;
      i += 2;
    }
  }
  return out.slice(0, o);
}

/** Text of a body (UTF-8 when it decodes as such, Latin-1 otherwise: shown, never dropped). */
export function bodyText(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return latin1(bytes);
  }
}
