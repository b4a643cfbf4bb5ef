/**
 * Base64 (RFC 2045 §6.8) without atob/btoa or Buffer: they work on strings (binary strings in
 * the browser), allocate twice, and atob accepts input that RFC 4648 decoders refuse. Encoding
 * writes the MIME shape directly: 76-character lines, each ended by CRLF.
 */
import { SesamMessageError } from './errors.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const ENC = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
const DEC = new Int16Array(256).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DEC[ALPHABET.charCodeAt(i)] = i;

export const MIME_LINE = 76;
const CR = 13;
const LF = 10;
const EQ = 61;

/** Base64 of `data` as ASCII bytes: 76-column lines, CRLF after every line (the last included). */
export function encodeBase64Mime(data: Uint8Array): Uint8Array {
  const chars = Math.ceil(data.length / 3) * 4;
  const lines = Math.ceil(chars / MIME_LINE);
  const out = new Uint8Array(chars + lines * 2);
  let o = 0;
  let col = 0;
  const put = (c: number): void => {
    out[o++] = c;
    if (++col === MIME_LINE) {
      out[o++] = CR;
      out[o++] = LF;
      col = 0;
    }
  };
  let i = 0;
  for (; i + 2 < data.length; i += 3) {
    const n = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
    put(ENC[(n >> 18) & 63]!);
    put(ENC[(n >> 12) & 63]!);
    put(ENC[(n >> 6) & 63]!);
    put(ENC[n & 63]!);
  }
  const rest = data.length - i;
  if (rest > 0) {
    const n = (data[i]! << 16) | (rest === 2 ? data[i + 1]! << 8 : 0);
    put(ENC[(n >> 18) & 63]!);
    put(ENC[(n >> 12) & 63]!);
    put(rest === 2 ? ENC[(n >> 6) & 63]! : EQ);
    put(EQ);
  }
  if (col !== 0) {
    out[o++] = CR;
    out[o++] = LF;
  }
  return out;
}

/**
 * Decodes base64 text, ignoring line breaks and other whitespace (any line length, LF or
 * CRLF). Refuses, with `bad_base64`, any other character, a length that is not a multiple of
 * 4 once whitespace is removed, padding anywhere but the end, and non-zero bits under the
 * padding (so one message has one decoding).
 */
export function decodeBase64(text: string): Uint8Array {
  const clean = new Uint8Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === CR || c === LF) continue;
    if (c > 255 || (DEC[c] === -1 && c !== EQ)) {
      throw new SesamMessageError('bad_base64', `base64 invalide : caractère inattendu à la position ${i}`);
    }
    clean[n++] = c;
  }
  if (n % 4 !== 0) throw new SesamMessageError('bad_base64', `base64 invalide : longueur ${n} non multiple de 4 (contenu tronqué ?)`);
  let pad = 0;
  if (n > 0 && clean[n - 1] === EQ) pad = clean[n - 2] === EQ ? 2 : 1;
  const out = new Uint8Array((n / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < n; i += 4) {
    const last = i + 4 === n;
    const a = DEC[clean[i]!]!;
    const b = DEC[clean[i + 1]!]!;
    const c = clean[i + 2] === EQ && last && pad === 2 ? 0 : DEC[clean[i + 2]!]!;
    const d = clean[i + 3] === EQ && last && pad >= 1 ? 0 : DEC[clean[i + 3]!]!;
    if (a < 0 || b < 0 || c < 0 || d < 0) {
      throw new SesamMessageError('bad_base64', 'base64 invalide : « = » de remplissage ailleurs qu’à la fin');
    }
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = (v >> 16) & 255;
    if (!(last && pad === 2)) out[o++] = (v >> 8) & 255;
    if (!(last && pad >= 1)) out[o++] = v & 255;
    if (last && ((pad === 2 && (v & 0xffff) !== 0) || (pad === 1 && (v & 0xff) !== 0))) {
      throw new SesamMessageError('bad_base64', 'base64 invalide : bits non nuls sous le remplissage');
    }
  }
  return out;
}

/** What `base64Outline` gives: the decoded length and the first bytes, without decoding the rest. */
export interface Base64Outline {
  /** Length of the whole decoded content. */
  length: number;
  /** The first `min(length, headBytes)` decoded bytes (a multiple of 3 unless it is the whole). */
  head: Uint8Array;
}

const WHITESPACE = /[\r\n\t ]/g;
const NOT_BASE64_OR_SPACE = /[^A-Za-z0-9+/=\r\n\t ]/;
const TAB_OR_SPACE = /[\t ]/;
/** What may follow the first "=": one more "=" at most, and whitespace. */
const PADDING_TAIL = /^=(?:[\r\n\t ]*=)?[\r\n\t ]*$/;

function occurrences(text: string, char: string): number {
  let k = 0;
  for (let i = text.indexOf(char); i >= 0; i = text.indexOf(char, i + 1)) k++;
  return k;
}

/**
 * Checks `text` by exactly the rules of `decodeBase64` and decodes only its first `headBytes`:
 * for a relay that must know the text is valid base64 and what the content starts with, not
 * the content itself (issue 24: the whole decode cost more than the rest of intake). Native
 * string scans do the work, without copying the text; any refusal is reported by
 * `decodeBase64` itself, so the codes and messages are the same.
 */
export function base64Outline(text: string, headBytes: number): Base64Outline {
  // MIME's lines end in CR LF; spaces and tabs are legal but rare: counted the slow way.
  const spaced = TAB_OR_SPACE.test(text);
  const n = text.length - (spaced ? text.length - text.replace(WHITESPACE, '').length : occurrences(text, '\r') + occurrences(text, '\n'));
  const eq = text.indexOf('=');
  const pad = eq < 0 ? 0 : occurrences(text.slice(eq), '=');
  const valid = !NOT_BASE64_OR_SPACE.test(text) && n % 4 === 0 && (eq < 0 || PADDING_TAIL.test(text.slice(eq)));
  if (!valid) {
    decodeBase64(text);
    throw new SesamMessageError('bad_base64', 'base64 invalide');
  }
  // The last quantum carries the padding-bits rule: decoding it alone applies it.
  if (n > 0) decodeBase64(lastQuantum(text));
  const headChars = Math.min(n, Math.ceil(headBytes / 3) * 4);
  return { length: (n / 4) * 3 - pad, head: decodeBase64(cleanPrefix(text, headChars)) };
}

/** The last four base64 characters of `text`, whitespace left out. */
function lastQuantum(text: string): string {
  let q = '';
  for (let i = text.length - 1; i >= 0 && q.length < 4; i--) {
    const c = text.charCodeAt(i);
    if (c !== 13 && c !== 10 && c !== 9 && c !== 32) q = text[i] + q;
  }
  return q;
}

/** The first `chars` base64 characters of `text`, whitespace left out. */
function cleanPrefix(text: string, chars: number): string {
  let take = chars;
  for (;;) {
    const clean = text.slice(0, take).replace(WHITESPACE, '');
    if (clean.length >= chars || take >= text.length) return clean.slice(0, chars);
    take += chars - clean.length;
  }
}
