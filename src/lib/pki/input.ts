/**
 * Turning what a user drops or pastes (PEM with any number of blocks, or raw DER) into
 * certificates and CRLs, with a clear error for anything else.
 */
import { PkiError } from './errors.js';
import { type Cert, isCa, parseCertificate } from './cert.js';
import { parseCrl } from './crl.js';
import type { Crl } from './crl-model.js';
import { nameToString } from './name.js';
import type { DecodedItem } from './types.js';
import { nextTask } from '../time/next-task.js';

/** Larger inputs are refused before any parsing (a 100 000-entry CRL is about 4 MB). */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

const CERT_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE']);
const CRL_LABELS = new Set(['X509 CRL']);

function pemError(detail: string): PkiError {
  return new PkiError('pem_malformed', `Fichier PEM invalide : ${detail}.`);
}

function base64Decode(body: string): Uint8Array {
  const clean = body.replace(/[\r\n\t ]+/g, '');
  if (clean.length === 0) throw pemError('bloc vide');
  if (clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) throw pemError('base64 invalide');
  const bin = atob(clean);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function looksLikePem(bytes: Uint8Array): boolean {
  // PEM is text: look for the armour in the first kilobyte (explanatory text may precede it).
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 1024));
  return head.includes('-----BEGIN ');
}

/** All PEM blocks of a text, in order. Headers (RFC 1421 style) are refused. */
export function pemBlocks(text: string): Array<{ label: string; der: Uint8Array }> {
  const out: Array<{ label: string; der: Uint8Array }> = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)(?:-----END ([A-Z0-9 ]+)-----|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const [, label, body, endLabel] = m;
    if (endLabel === undefined) throw pemError(`ligne « END ${label} » manquante`);
    if (endLabel !== label) throw pemError(`« BEGIN ${label} » fermé par « END ${endLabel} »`);
    if (body!.includes(':')) throw pemError('en-têtes PEM non pris en charge (fichier chiffré ?)');
    out.push({ label: label!, der: base64Decode(body!) });
  }
  if (out.length === 0) throw pemError('aucun bloc « -----BEGIN … ----- » trouvé');
  return out;
}

export type Parsed = { kind: 'certificate'; cert: Cert } | { kind: 'crl'; crl: Crl };

/**
 * The same bytes as a plain Uint8Array (no copy). A Node Buffer is a Uint8Array whose slice()
 * is a view, not a copy: the readers, and everything that keeps their subarrays, must see
 * standard typed-array semantics whoever the caller is (the CLI reads files into Buffers).
 */
function plain(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * DER of unknown kind: a certificate or a CRL, read by the very functions the Verifier uses
 * (parseCertificate, parseCrl), so that what is recognised here is what validation reads.
 */
export function parseDer(input: Uint8Array): Parsed {
  const der = plain(input);
  let certError: PkiError | null = null;
  try {
    return { kind: 'certificate', cert: parseCertificate(der) };
  } catch (e) {
    if (!(e instanceof PkiError)) throw e;
    certError = e;
  }
  try {
    return { kind: 'crl', crl: parseCrl(der) };
  } catch (e) {
    if (!(e instanceof PkiError)) throw e;
    // A structure that reads as neither: say what the certificate reader found, it is the usual case.
    throw new PkiError('input_unrecognised', `Ni certificat ni LCR reconnaissable. ${certError.message} ${e.message}`);
  }
}

export function decodeParsed(data: Uint8Array | string): Parsed[] {
  const size = typeof data === 'string' ? data.length : data.byteLength;
  if (size > MAX_INPUT_BYTES) throw new PkiError('input_too_large', `Fichier trop volumineux (${size} octets, maximum ${MAX_INPUT_BYTES}).`);
  if (size === 0) throw new PkiError('input_unrecognised', 'Fichier vide.');
  const isText = typeof data === 'string' || looksLikePem(data);
  if (!isText) return [parseDer(data as Uint8Array)];
  // PEM blocks are decoded into fresh arrays: the input is not referenced past this point.
  const text = typeof data === 'string' ? data : new TextDecoder('latin1').decode(data);
  return pemBlocks(text).map(parseBlock);
}

function parseBlock({ label, der }: { label: string; der: Uint8Array }): Parsed {
  if (CERT_LABELS.has(label)) return { kind: 'certificate', cert: parseCertificate(der) };
  if (CRL_LABELS.has(label)) return { kind: 'crl', crl: parseCrl(der) };
  throw pemError(`type de bloc « ${label} » inattendu (certificat ou LCR attendu)`);
}

/**
 * `decodeParsed`, one PEM block per task: a bundle of certificates and CRLs parsed at start-up
 * does not hold the page for all of them at once. Same results, same errors.
 */
export async function decodeParsedStepwise(data: Uint8Array | string): Promise<Parsed[]> {
  if (typeof data !== 'string' && !looksLikePem(data)) return decodeParsed(data);
  const size = typeof data === 'string' ? data.length : data.byteLength;
  if (size > MAX_INPUT_BYTES || size === 0) return decodeParsed(data); // its errors
  const text = typeof data === 'string' ? data : new TextDecoder('latin1').decode(data);
  const out: Parsed[] = [];
  for (const block of pemBlocks(text)) {
    if (out.length > 0) await nextTask();
    out.push(parseBlock(block));
  }
  return out;
}

export function decodeInput(data: Uint8Array | string): DecodedItem[] {
  return decodeParsed(data).map((p) =>
    p.kind === 'certificate'
      ? {
          kind: 'certificate',
          der: p.cert.der,
          label: nameToString(p.cert.subject),
          suggestedRole: isCa(p.cert) ? (p.cert.selfIssued ? 'anchor' : 'intermediate') : 'leaf',
        }
      : { kind: 'crl', der: p.crl.der, label: nameToString(p.crl.issuer) },
  );
}
