/**
 * Reading one returned message (docs/domain/transmission.md §7–9): what it is, whether it is
 * signed and by whom, and what it carries — an ARL (ours, docs/returns/arl.md), an RSP (ours,
 * docs/returns/rsp.md), an OCT
 * acknowledgement (`ART/XX`), a service message (4005/40050, 4015/40150, 4025…), a delivery
 * report, or something unknown, which is kept and shown, never dropped.
 *
 * Service messages are believed only when signed (S/MIME, RFC 5751: `multipart/signed` with a
 * detached signature, or `application/pkcs7-mime; smime-type=signed-data`), the signature valid,
 * and the signer's certificate valid for the SESAM-Vitale profile *with the message's From
 * mailbox in its subjectAltName* — that last check is the caller's `validateSigner` (the trust
 * store in the page, files on the command line), so this module never decides trust. An
 * unsigned or badly signed « service message » is read and reported as such: it changes nothing.
 *
 * Pure and isomorphic. A message that cannot be read at all throws a typed error
 * (`ReturnMessageError`, `ReturnFormatError`, `CmsError`); a bad signature does not throw.
 */
import { gzip, verifySigned, isCmsError } from '../../cms/index.js';
import { parseCertificate } from '../../pki/index.js';
import { type ParsedDescription, parseContentDescription } from '../description.js';
import { type Arl, parseArl } from './arl.js';
import { type Rsp, parseRsp } from './rsp.js';
import { type Entity, type MimeLimits, RETURN_LIMITS, ReturnMessageError, bodyText, contentType, decodedBody, field, multipartParts, readEntity } from './mime.js';

export type ReturnKind = 'arl' | 'rsp' | 'service' | 'art' | 'dsn' | 'unknown';

export interface Problem {
  code: string;
  message: string;
}

/** The codes of transmission.md §9 (and the older transport ones, recognised to be shown). */
export const SERVICE_CODES = ['40050', '40150', '4005', '4015', '4025', '4000', '4010', '4020'] as const;
export type ServiceCode = (typeof SERVICE_CODES)[number];
const SERVICE_CODE = new RegExp(`(?<![\\w/.-])(${SERVICE_CODES.join('|')})(?![\\w/.-])`);

/** Validates a signer's certificate for the attachment profile, the mailbox being `email`. */
export type SignerValidator = (input: { certificate: Uint8Array; intermediates: Uint8Array[]; email: string }) => Promise<{ valid: boolean; errors: Problem[] }>;

export interface ReadReturnOptions {
  /** Without it, no signer is ever valid (signer.valid false, `signer_not_checked`). */
  validateSigner?: SignerValidator;
  limits?: MimeLimits;
  /** Ceiling of a decompressed file (`/Z`). */
  maxFileBytes?: number;
}

export interface ReturnReading {
  kind: ReturnKind;
  /** The Content-Description as received ('' when none). */
  nature: string;
  description?: ParsedDescription;
  compressed: boolean;
  signed: boolean;
  /** Present when signed: the signature itself (digest and key), not the signer's trust. */
  signature?: { valid: boolean; errors: Problem[] };
  service?: {
    code: ServiceCode;
    inReplyTo: string | null;
    /** The signer's certificate checked by `validateSigner`; email is its subjectAltName mailbox. */
    signer: { valid: boolean; email: string | null; errors: Problem[]; certificate?: Uint8Array };
    /** Believed: signed, signature valid, signer valid. */
    verified: boolean;
  };
  from: string | null;
  subject: string | null;
  messageId: string | null;
  inReplyTo: string | null;
  /** The first text part (a service message's explanation, an OCT's acknowledgement). */
  text?: string;
  /** The attached file, decoded and decompressed. */
  file?: Uint8Array;
  fileName?: string;
  arl?: Arl;
  /** An RSP of our format (docs/returns/rsp.md): payments, rejections, notices. */
  rsp?: Rsp;
  dsn?: { action: string | null; status: string | null; recipient: string | null; diagnostic: string | null; originalMessageId: string | null };
}

const MAX_FILE = 64 * 1024 * 1024;

/** The mailbox of a From value (`Name <a@b>` or `a@b`), lower-cased; null when none. */
function mailboxOf(value: string | undefined): string | null {
  if (!value) return null;
  const m = /<([^<>\s]+@[^<>\s]+)>\s*$/.exec(value) ?? /^\s*([^<>\s]+@[^<>\s]+)\s*$/.exec(value);
  return m ? m[1]!.toLowerCase() : null;
}

/** RFC 5751 §3.1.1: the signed content has CRLF line ends; a bare LF is read as one. */
function canonical(b: Uint8Array): Uint8Array {
  let bare = 0;
  for (let i = 0; i < b.length; i++) if (b[i] === 10 && b[i - 1] !== 13) bare++;
  if (!bare) return b;
  const out = new Uint8Array(b.length + bare);
  let o = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 10 && b[i - 1] !== 13) out[o++] = 13;
    out[o++] = b[i]!;
  }
  return out;
}

function problem(e: unknown): Problem {
  if (!(e instanceof Error)) return { code: 'error', message: String(e) };
  const code = (e as Error & { code?: unknown }).code;
  return { code: typeof code === 'string' ? code : 'error', message: e.message };
}

interface Leaf {
  entity: Entity;
  type: string;
}

/**
 * The leaf entities of a (possibly multipart) entity, depth first, with the report's parts. The
 * whole tree counts against `maxParts`, not each level: 50 parts of 50 parts… would be millions.
 */
function leaves(e: Entity, limits: MimeLimits, depth = 0, out: Leaf[] = []): Leaf[] {
  if (depth > limits.maxDepth) throw new ReturnMessageError('too_deep', `parties imbriquées sur plus de ${limits.maxDepth} niveaux`);
  const ct = contentType(e);
  if (ct.type.startsWith('multipart/')) {
    for (const raw of multipartParts(e, ct.params.boundary, limits)) leaves(readEntity(raw, limits), limits, depth + 1, out);
  } else {
    if (out.length >= limits.maxParts) throw new ReturnMessageError('too_many_parts', `plus de ${limits.maxParts} parties en tout`);
    out.push({ entity: e, type: ct.type });
  }
  return out;
}

interface Unwrapped {
  /** The entity under the signature (or the message itself when unsigned). */
  inner: Entity | null;
  signed: boolean;
  signature?: { valid: boolean; errors: Problem[] };
  signer?: { certificate: Uint8Array; intermediates: Uint8Array[] };
}

async function unwrap(top: Entity, limits: MimeLimits): Promise<Unwrapped> {
  const ct = contentType(top);
  const isSignature = (t: string): boolean => t === 'application/pkcs7-signature' || t === 'application/x-pkcs7-signature';
  const isMime = (t: string): boolean => t === 'application/pkcs7-mime' || t === 'application/x-pkcs7-mime';
  if (ct.type === 'multipart/signed') {
    const parts = multipartParts(top, ct.params.boundary, limits);
    if (parts.length !== 2) throw new ReturnMessageError('bad_multipart', `multipart/signed en ${parts.length} parties (2 attendues)`);
    const sigEntity = readEntity(parts[1]!, limits);
    if (!isSignature(contentType(sigEntity).type)) throw new ReturnMessageError('bad_multipart', 'multipart/signed sans partie application/pkcs7-signature');
    const inner = readEntity(parts[0]!, limits);
    try {
      const r = await verifySigned(decodedBody(sigEntity), { content: canonical(parts[0]!) });
      const s = r.signers[0]!;
      return { inner, signed: true, signature: { valid: true, errors: [] }, signer: { certificate: s.certificate, intermediates: r.certificates } };
    } catch (e) {
      if (!isCmsError(e) && !(e instanceof ReturnMessageError)) throw e;
      return { inner, signed: true, signature: { valid: false, errors: [problem(e)] } };
    }
  }
  if (isMime(ct.type) && (ct.params['smime-type'] ?? '').toLowerCase() !== 'enveloped-data') {
    const der = decodedBody(top);
    try {
      const r = await verifySigned(der);
      const s = r.signers[0]!;
      return { inner: readEntity(r.content, limits), signed: true, signature: { valid: true, errors: [] }, signer: { certificate: s.certificate, intermediates: r.certificates } };
    } catch (e) {
      if (!isCmsError(e)) throw e;
      // Opaque and not verifiable: what it says cannot be separated from the signature.
      return { inner: null, signed: true, signature: { valid: false, errors: [problem(e)] } };
    }
  }
  return { inner: top, signed: false };
}

function dsnOf(parts: readonly Leaf[]): ReturnReading['dsn'] {
  const status = parts.find((p) => p.type === 'message/delivery-status');
  if (!status) return undefined;
  // Per-message fields, then one block per recipient (RFC 3464 §2.1): the first recipient's.
  const blocks = bodyText(decodedBody(status.entity)).split(/\r?\n\s*\r?\n/).map((b) => b.replace(/\r?\n[ \t]+/g, ' '));
  const get = (name: string): string | null => {
    for (const b of blocks.slice(1).concat(blocks.slice(0, 1))) {
      const m = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(b);
      if (m) return m[1]!.trim();
    }
    return null;
  };
  const original = parts.find((p) => p.type === 'text/rfc822-headers' || p.type === 'message/rfc822');
  const originalMessageId = original ? (/^message-id:\s*(\S+)/im.exec(bodyText(decodedBody(original.entity)))?.[1] ?? null) : null;
  const recipient = get('Final-Recipient') ?? get('Original-Recipient');
  return { action: get('Action'), status: get('Status'), recipient: recipient ? recipient.replace(/^rfc822;\s*/i, '') : null, diagnostic: get('Diagnostic-Code'), originalMessageId };
}

/** Reads one returned message; see the module comment for what is checked and what throws. */
export async function readReturn(bytes: Uint8Array, options: ReadReturnOptions = {}): Promise<ReturnReading> {
  const limits = options.limits ?? RETURN_LIMITS;
  const top = readEntity(bytes, limits);
  const from = mailboxOf(field(top, 'from'));
  const subject = field(top, 'subject') ?? null;
  const reading: ReturnReading = {
    kind: 'unknown',
    nature: '',
    compressed: false,
    signed: false,
    from,
    subject,
    messageId: field(top, 'message-id') ?? null,
    inReplyTo: field(top, 'in-reply-to') ?? null,
  };

  const topType = contentType(top);
  if (topType.type === 'multipart/report' && (topType.params['report-type'] ?? '').toLowerCase() === 'delivery-status') {
    const parts = leaves(top, limits);
    reading.kind = 'dsn';
    reading.dsn = dsnOf(parts);
    const text = parts.find((p) => p.type === 'text/plain');
    if (text) reading.text = bodyText(decodedBody(text.entity));
    return reading;
  }

  const u = await unwrap(top, limits);
  reading.signed = u.signed;
  if (u.signature) reading.signature = u.signature;
  const parts = u.inner ? leaves(u.inner, limits) : [];
  const text = parts.find((p) => p.type === 'text/plain' && !field(p.entity, 'content-description'));
  if (text) reading.text = bodyText(decodedBody(text.entity));

  // A service message by its code, in the Subject or the first text part (its first token).
  const code = (SERVICE_CODE.exec(subject ?? '')?.[1] ?? (reading.text ? SERVICE_CODE.exec(reading.text.trimStart().split(/\s/, 1)[0] ?? '')?.[1] : undefined)) as ServiceCode | undefined;
  // The attached file: the part that carries a Content-Description (or, in a signed message,
  // the top entity's own one).
  const filePart = parts.find((p) => field(p.entity, 'content-description') !== undefined);
  const description = filePart ? field(filePart.entity, 'content-description')! : (field(top, 'content-description') ?? '');
  if (description) {
    reading.nature = description;
    reading.description = parseContentDescription(description);
    reading.compressed = reading.description.compressed;
  }

  if (code) {
    reading.kind = 'service';
    let signer: NonNullable<ReturnReading['service']>['signer'] = { valid: false, email: null, errors: [{ code: 'unsigned', message: 'message de service non signé : il n’est pas cru' }] };
    if (u.signed && !u.signer) signer = { valid: false, email: null, errors: [{ code: 'signature_invalid', message: 'signature invalide : le signataire n’est pas vérifié' }] };
    if (u.signer) {
      let email: string | null = null;
      try {
        email = parseCertificate(u.signer.certificate).subjectAltNames?.find((n) => n.kind === 'rfc822')?.value.toLowerCase() ?? null;
      } catch {
        email = null;
      }
      if (!from) signer = { valid: false, email, errors: [{ code: 'from_missing', message: 'le message n’a pas d’expéditeur (From) : le signataire ne peut pas parler pour lui' }], certificate: u.signer.certificate };
      else if (!options.validateSigner) signer = { valid: false, email, errors: [{ code: 'signer_not_checked', message: 'certificat du signataire non vérifié (aucune ancre de confiance)' }], certificate: u.signer.certificate };
      else {
        const v = await options.validateSigner({ certificate: u.signer.certificate, intermediates: u.signer.intermediates, email: from });
        signer = { valid: v.valid, email, errors: v.errors, certificate: u.signer.certificate };
      }
    }
    reading.service = { code, inReplyTo: reading.inReplyTo, signer, verified: u.signature?.valid === true && signer.valid };
    return reading;
  }

  const flow = reading.description?.known?.flow;
  reading.kind = flow === 'ARL' ? 'arl' : flow === 'RSP' ? 'rsp' : flow === 'ART' ? 'art' : 'unknown';
  if (filePart) {
    const name = contentType(filePart.entity).params.name ?? /filename\s*=\s*"?([^";]+)"?/i.exec(field(filePart.entity, 'content-disposition') ?? '')?.[1];
    if (name) reading.fileName = name;
    let file = decodedBody(filePart.entity);
    if (reading.compressed) {
      try {
        file = await gzip.decompress(file, options.maxFileBytes ?? MAX_FILE);
      } catch (e) {
        if (isCmsError(e)) throw new ReturnMessageError('bad_encoding', `fichier compressé illisible : ${e.message}`);
        throw e;
      }
    }
    reading.file = file;
    if (reading.kind === 'arl') reading.arl = parseArl(file);
    if (reading.kind === 'rsp') reading.rsp = parseRsp(file);
    if (reading.kind === 'art' && reading.text === undefined) reading.text = bodyText(file);
  }
  return reading;
}
