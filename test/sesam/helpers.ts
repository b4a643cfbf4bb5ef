/** Shared by the message-layer tests: the Python reader, byte helpers, a fake encryptor. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const PY_READER = join(REPO, 'test', 'sesam', 'parse_message.py');

export interface PyEntity {
  headers: Array<[string, string]>;
  content_type: string;
  content_type_raw: string;
  transfer_encoding: string;
  content_description: string;
  content_disposition: string | null;
  filename: string | null;
  sha256: string;
  length: number;
}

export interface PyResult {
  error?: string;
  headers: Array<[string, string]>;
  defects: string[];
  is_multipart: boolean;
  content_type: string;
  boundary: string | null;
  preamble: string | null;
  epilogue: string | null;
  date: string | null;
  from_addr: string | null;
  to_addr: string | null;
  message_id: string | null;
  subject: string | null;
  mime_version: string | null;
  leaf_count: number;
  entity: PyEntity | null;
}

/** Parses each message with Python's `email` package (one interpreter for the whole list). */
export async function pythonParse(messages: Uint8Array[]): Promise<PyResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'teletrans-py-'));
  const paths = messages.map((m, i) => {
    const p = join(dir, `m${i}.eml`);
    writeFileSync(p, m);
    return p;
  });
  return new Promise((resolveRun, reject) => {
    const child = spawn('python3', [PY_READER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`python3 exited ${code}: ${err}`));
      else resolveRun(JSON.parse(out) as PyResult[]);
    });
    child.stdin.end(JSON.stringify(paths));
  });
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
export const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** A stand-in for CMS: a recognisable prefix, then the bytes. Reversible, so tests can check. */
export const FAKE_PREFIX = ascii('FAKE-CMS:');
export const fakeEncrypt = async (plain: Uint8Array): Promise<Uint8Array> => {
  const out = new Uint8Array(FAKE_PREFIX.length + plain.length);
  out.set(FAKE_PREFIX, 0);
  out.set(plain, FAKE_PREFIX.length);
  return out;
};
export function fakeDecrypt(att: Uint8Array, compressed: boolean): Uint8Array {
  const body = att.subarray(FAKE_PREFIX.length);
  return compressed ? new Uint8Array(gunzipSync(body)) : body;
}

/** Deterministic pseudo-random bytes (tests must be reproducible). */
export function pseudoRandom(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Checks CRLF line endings throughout: no bare LF, no bare CR. */
export function onlyCrlf(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] !== 13) return false;
    if (bytes[i] === 13 && bytes[i + 1] !== 10) return false;
  }
  return true;
}

/**
 * The base64 body lines of the message's single entity: after the entity's blank line, up to
 * the end (single part) or the next delimiter (multipart), each as written without its CRLF.
 */
export function base64Lines(message: string, boundary?: string): string[] {
  let start = message.indexOf('\r\n\r\n');
  if (boundary) start = message.indexOf('\r\n\r\n', message.indexOf(`--${boundary}\r\n`));
  const body = message.slice(start + 4);
  const end = boundary ? body.indexOf(`--${boundary}--`) : body.length;
  const chunk = body.slice(0, end);
  if (!chunk.endsWith('\r\n')) throw new Error('base64 body does not end with CRLF');
  return chunk.slice(0, -2).split('\r\n');
}

/** Byte equality without vitest's element-by-element deep diff (slow on large arrays). */
export function hexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
