/**
 * The wire format of the relay's directory door, `GET /api/directory/fetch?url=…`, shared by
 * the server endpoint (src/lib/server/directory/endpoint.ts, which encodes) and the browser's
 * fetcher (./fetcher.ts, which decodes). One definition, so the two sides cannot drift apart.
 *
 *   200 `{"items":[{"kind":"certificate"|"crl"|"unknown","der":"<base64 DER>"}, …]}` (never empty)
 *   4xx/5xx `{"error":{"code":"<DirectoryErrorCode>","message":"<French>"}}`
 *
 * `kind` is the relay's cheap label, not a verdict: the browser parses and verifies every item
 * whatever its label. Pure and isomorphic (no Buffer, no atob): base64 is done here.
 */

/** Path of the endpoint on the app's origin. */
export const DIRECTORY_FETCH_PATH = '/api/directory/fetch';

/** The relay's label of one item (see src/lib/server/directory/classify.ts). */
export const DIRECTORY_ITEM_KINDS = ['certificate', 'crl', 'unknown'] as const;
export type DirectoryItemKind = (typeof DIRECTORY_ITEM_KINDS)[number];

/** Every code the endpoint may answer with (src/lib/server/directory/errors.ts maps them to statuses). */
export const DIRECTORY_ERROR_CODES = [
  'url_invalid',
  'host_not_allowed',
  'scheme_not_allowed',
  'too_large',
  'timeout',
  'not_found',
  'upstream_error',
  'method_not_allowed',
  'origin_not_allowed',
  'rate_limited',
  'config_invalid',
] as const;
export type DirectoryWireErrorCode = (typeof DIRECTORY_ERROR_CODES)[number];

/** One item as it travels. */
export interface DirectoryWireItem {
  kind: DirectoryItemKind;
  der: string;
}

/** The 200 body. */
export interface DirectoryFetchResponse {
  items: DirectoryWireItem[];
}

/** The error body. */
export interface DirectoryErrorResponse {
  error: { code: DirectoryWireErrorCode; message: string };
}

/** One item once decoded. */
export interface DirectoryItemBytes {
  kind: DirectoryItemKind;
  der: Uint8Array;
}

/** A body that is not the wire format (the browser's fetcher maps it to `bad_response`). */
export class DirectoryWireError extends Error {
  readonly code = 'bad_response';
  constructor(message: string) {
    super(message);
    this.name = 'DirectoryWireError';
  }
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DEC = new Int16Array(256).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DEC[ALPHABET.charCodeAt(i)] = i;

const ENC = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
const ASCII = new TextDecoder('ascii');

/** Standard base64 with padding, no line breaks (RFC 4648 §4). */
export function bytesToBase64(data: Uint8Array): string {
  // ASCII bytes first, one string at the end: a 16 MiB CRL must not cost millions of concatenations.
  const out = new Uint8Array(Math.ceil(data.length / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < data.length; i += 3) {
    const n = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
    out[o++] = ENC[(n >> 18) & 63]!;
    out[o++] = ENC[(n >> 12) & 63]!;
    out[o++] = ENC[(n >> 6) & 63]!;
    out[o++] = ENC[n & 63]!;
  }
  const rest = data.length - i;
  if (rest > 0) {
    const n = (data[i]! << 16) | (rest === 2 ? data[i + 1]! << 8 : 0);
    out[o++] = ENC[(n >> 18) & 63]!;
    out[o++] = ENC[(n >> 12) & 63]!;
    out[o++] = rest === 2 ? ENC[(n >> 6) & 63]! : 61;
    out[o++] = 61;
  }
  return ASCII.decode(out);
}

/** Strict decoding of what bytesToBase64 writes; throws DirectoryWireError on anything else. */
export function base64ToBytes(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new DirectoryWireError('Réponse de l’annuaire illisible (base64 de longueur invalide).');
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  const digit = (i: number, padOk: boolean): number => {
    const c = text.charCodeAt(i);
    if (padOk && c === 61) return 0;
    const d = c < 256 ? DEC[c]! : -1;
    if (d < 0) throw new DirectoryWireError('Réponse de l’annuaire illisible (caractère hors base64).');
    return d;
  };
  const end = text.length;
  for (let i = 0; i < end; i += 4) {
    const last = i + 4 === end;
    const n =
      (digit(i, false) << 18) | (digit(i + 1, false) << 12) | (digit(i + 2, last && pad === 2) << 6) | digit(i + 3, last && pad >= 1);
    out[o++] = (n >> 16) & 0xff;
    if (o < out.length) out[o++] = (n >> 8) & 0xff;
    if (o < out.length) out[o++] = n & 0xff;
  }
  return out;
}

/** The 200 body for `items` (the endpoint's side). */
export function encodeDirectoryResponse(items: readonly DirectoryItemBytes[]): DirectoryFetchResponse {
  return { items: items.map((item) => ({ kind: item.kind, der: bytesToBase64(item.der) })) };
}

/** The error body (the endpoint's side). */
export function encodeDirectoryError(code: DirectoryWireErrorCode, message: string): DirectoryErrorResponse {
  return { error: { code, message } };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads a 200 body (the browser's side). Throws DirectoryWireError unless it is exactly
 * `{"items":[{"kind","der"}, …]}` with at least one item, known kinds and base64 DER.
 */
export function decodeDirectoryResponse(body: unknown): DirectoryItemBytes[] {
  if (!isRecord(body) || !Array.isArray(body.items)) {
    throw new DirectoryWireError('Réponse de l’annuaire illisible ({"items":[…]} attendu).');
  }
  if (body.items.length === 0) throw new DirectoryWireError('Réponse de l’annuaire vide.');
  return body.items.map((item: unknown) => {
    if (!isRecord(item) || typeof item.der !== 'string' || !(DIRECTORY_ITEM_KINDS as readonly unknown[]).includes(item.kind)) {
      throw new DirectoryWireError('Réponse de l’annuaire illisible (élément {"kind","der"} attendu).');
    }
    const der = base64ToBytes(item.der);
    if (der.length === 0) throw new DirectoryWireError('Réponse de l’annuaire illisible (élément vide).');
    return { kind: item.kind as DirectoryItemKind, der };
  });
}

/** Reads an error body; undefined when it is not one (a proxy's HTML page, say). */
export function decodeDirectoryError(body: unknown): DirectoryErrorResponse['error'] | undefined {
  if (!isRecord(body) || !isRecord(body.error)) return undefined;
  const { code, message } = body.error;
  if (typeof message !== 'string' || !(DIRECTORY_ERROR_CODES as readonly unknown[]).includes(code)) return undefined;
  return { code: code as DirectoryWireErrorCode, message: message.slice(0, 500) };
}

/** The endpoint URL asking for `url` (relative to the page unless `endpoint` is absolute). */
export function directoryFetchUrl(url: string, endpoint: string = DIRECTORY_FETCH_PATH): string {
  return `${endpoint}${endpoint.includes('?') ? '&' : '?'}url=${encodeURIComponent(url)}`;
}
