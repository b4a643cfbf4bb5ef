/**
 * Reading a received MSSanté message in the page (isomorphic): headers unfolded and decoded
 * (RFC 2047), the MIME tree walked within bounds (depth, parts, header size), the text body,
 * the attachments (PDF, the XDM zip, anything else listed by name and type, never run), the
 * X-MSS headers, and delivery notifications made plain: a DSN (RFC 3464) per recipient with its
 * RFC 3463 status read as received / mailbox full / unknown recipient / outside the trust
 * space / virus / other refusal or delay; an MDN (RFC 8098) as displayed or deleted.
 * Hostile input gets a typed refusal or a partial, flagged reading — never a crash or a hang.
 */
import { decodeBase64 } from '../sesam/base64.js';
import { MssError } from './errors.js';

export interface ReadLimits {
  maxBytes: number;
  maxHeaderBytes: number;
  maxDepth: number;
  maxParts: number;
}

export const READ_LIMITS: ReadLimits = { maxBytes: 30 * 1024 * 1024, maxHeaderBytes: 128 * 1024, maxDepth: 8, maxParts: 200 };

export interface Attachment {
  name: string;
  contentType: string;
  size: number;
  data: Uint8Array;
  kind: 'pdf' | 'xdm' | 'other';
}

export type DeliveryOutcome = 'delivered' | 'mailbox_full' | 'unknown_recipient' | 'outside_trust_space' | 'virus' | 'refused' | 'delayed' | 'displayed' | 'deleted';

export interface DeliveryReport {
  recipient: string;
  outcome: DeliveryOutcome;
  /** RFC 3463 status as written, e.g. 5.1.1. */
  status: string;
  /** French, for the practitioner. */
  label: string;
  diagnostic?: string;
}

export interface ReadMessage {
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  date?: string;
  messageId?: string;
  inReplyTo?: string;
  references: string[];
  mss: { ins?: 'O' | 'N'; codeCda?: string[]; nil?: string };
  text: string;
  attachments: Attachment[];
  /** Delivery notifications, when this message is one. */
  reports: DeliveryReport[];
  /** Parts not read because of the bounds, or badly encoded: said, not hidden. */
  warnings: string[];
}

interface Part {
  headers: Array<[string, string]>;
  body: Uint8Array;
}

const latin1 = (u: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode(...u.subarray(i, i + 8192));
  return s;
};

function splitPart(bytes: Uint8Array, limits: ReadLimits): Part {
  let end = -1;
  let bodyStart = bytes.length;
  const max = Math.min(bytes.length, limits.maxHeaderBytes);
  if (bytes[0] === 10) { end = 0; bodyStart = 1; } else if (bytes[0] === 13 && bytes[1] === 10) { end = 0; bodyStart = 2; }
  for (let i = 0; end < 0 && i < max; i++) {
    if (bytes[i] !== 10) continue;
    if (bytes[i + 1] === 10) { end = i; bodyStart = i + 2; } else if (bytes[i + 1] === 13 && bytes[i + 2] === 10) { end = i; bodyStart = i + 3; }
  }
  if (end < 0) {
    if (bytes.length > limits.maxHeaderBytes) throw new MssError('attachment_invalid', 'En-têtes du message trop longs.');
    end = bytes.length;
  }
  const headers: Array<[string, string]> = [];
  for (const line of latin1(bytes.subarray(0, end)).split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && headers.length) {
      headers[headers.length - 1]![1] += ` ${line.trim()}`;
    } else {
      const c = line.indexOf(':');
      if (c > 0) headers.push([line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim()]);
    }
  }
  return { headers, body: bytes.subarray(bodyStart) };
}

const get = (p: Part, name: string): string | undefined => p.headers.find(([k]) => k === name)?.[1];

/** Content-Type and its parameters (RFC 2045, with RFC 2231 continuations left as they are). */
export function contentType(value: string | undefined): { type: string; params: Record<string, string> } {
  const v = value ?? 'text/plain; charset=us-ascii';
  const [t, ...rest] = v.split(';');
  const params: Record<string, string> = {};
  for (const m of rest.join(';').matchAll(/([A-Za-z0-9*_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]+)/g)) {
    params[m[1]!.toLowerCase()] = m[2]!.startsWith('"') ? m[2]!.slice(1, -1).replace(/\\(.)/g, '$1') : m[2]!;
  }
  return { type: (t ?? '').trim().toLowerCase(), params };
}

function decodeCharset(u: Uint8Array, charset: string | undefined): string {
  const cs = (charset ?? 'utf-8').toLowerCase();
  try {
    return new TextDecoder(cs === 'us-ascii' ? 'utf-8' : cs).decode(u);
  } catch {
    return new TextDecoder('utf-8').decode(u);
  }
}

/** RFC 2047 encoded-words (B and Q), adjacent words joined. */
export function decodeWords(s: string): string {
  return s.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=(\s+(?==\?))?/g, (_all, cs: string, enc: string, text: string) => {
    try {
      const bytes = enc.toUpperCase() === 'B'
        ? Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
        : Uint8Array.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), (c) => c.charCodeAt(0));
      return decodeCharset(bytes, cs.split('*')[0]);
    } catch {
      return text;
    }
  });
}

function quotedPrintableDecode(u: Uint8Array): Uint8Array {
  const s = latin1(u).replace(/=\r?\n/g, '');
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out.push(s.charCodeAt(i) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

function decodeBody(p: Part, warnings: string[]): Uint8Array {
  const cte = (get(p, 'content-transfer-encoding') ?? '7bit').toLowerCase();
  if (cte === 'base64') {
    try {
      return decodeBase64(latin1(p.body));
    } catch {
      warnings.push('Une pièce jointe est mal encodée (base64) : elle n’est pas affichée.');
      return new Uint8Array();
    }
  }
  if (cte === 'quoted-printable') return quotedPrintableDecode(p.body);
  return p.body;
}

function splitMultipart(body: Uint8Array, boundary: string): Uint8Array[] {
  const text = latin1(body);
  const delim = `--${boundary}`;
  const out: Uint8Array[] = [];
  let pos = text.indexOf(delim);
  while (pos >= 0) {
    const after = pos + delim.length;
    if (text.startsWith('--', after)) break;
    const start = text.indexOf('\n', after);
    if (start < 0) break;
    const next = text.indexOf(`\n${delim}`, start);
    const stop = next < 0 ? text.length : next;
    const end = stop > 0 && text[stop - 1] === '\r' ? stop - 1 : stop;
    out.push(body.subarray(start + 1, end));
    pos = next < 0 ? -1 : next + 1;
  }
  return out;
}

const addrList = (v: string | undefined): string[] =>
  v ? [...v.matchAll(/<([^<>\s]+@[^<>\s]+)>|([^\s<>,;:"()]+@[^\s<>,;:"()]+)/g)].map((m) => (m[1] ?? m[2] ?? '').toLowerCase()) : [];

/** RFC 3463 status (+ diagnostic) → what the practitioner reads. */
export function deliveryOutcome(action: string, status: string, diagnostic = ''): { outcome: DeliveryOutcome; label: string } {
  const a = action.toLowerCase();
  if (a === 'delivered' || a === 'relayed' || a === 'expanded' || status.startsWith('2.')) return { outcome: 'delivered', label: 'Reçu par le destinataire' };
  if (a === 'delayed' || (status.startsWith('4.') && !/^4\.2\.2/.test(status))) return { outcome: 'delayed', label: 'Distribution retardée : l’opérateur réessaie' };
  if (/virus|malware|infect/i.test(diagnostic)) return { outcome: 'virus', label: 'Refusé : un virus a été détecté dans le message' };
  if (/^[45]\.2\.2$/.test(status)) return { outcome: 'mailbox_full', label: 'Boîte du destinataire pleine' };
  if (/^5\.1\.[123]$/.test(status)) return { outcome: 'unknown_recipient', label: 'Destinataire inconnu' };
  if (/^5\.7\.\d+$/.test(status) && /confiance|trust|liste blanche|whitelist|espace/i.test(diagnostic)) return { outcome: 'outside_trust_space', label: 'Domaine hors de l’espace de confiance MSSanté' };
  if (/^5\.7\.1$/.test(status)) return { outcome: 'refused', label: 'Refusé par la politique du domaine destinataire' };
  return { outcome: 'refused', label: `Non distribué (${status || 'raison non précisée'})` };
}

function readDsn(fields: string): DeliveryReport[] {
  const groups = fields.split(/\r?\n\r?\n/).slice(1);
  const out: DeliveryReport[] = [];
  for (const g of groups) {
    const f = (n: string): string => new RegExp(`^${n}:\\s*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(g)?.[1]?.replace(/\s+/g, ' ').trim() ?? '';
    const recipient = f('Final-Recipient').replace(/^rfc822;\s*/i, '') || f('Original-Recipient').replace(/^rfc822;\s*/i, '');
    if (!recipient) continue;
    const status = /(\d\.\d{1,3}\.\d{1,3})/.exec(f('Status'))?.[1] ?? '';
    const diagnostic = f('Diagnostic-Code');
    const o = deliveryOutcome(f('Action'), status, diagnostic);
    out.push({ recipient: recipient.toLowerCase(), status, ...o, ...(diagnostic ? { diagnostic } : {}) });
  }
  return out;
}

function readMdn(fields: string, recipient: string): DeliveryReport[] {
  const d = /^Disposition:\s*(.*)$/im.exec(fields)?.[1] ?? '';
  if (/displayed/i.test(d)) return [{ recipient, outcome: 'displayed', status: '', label: 'Lu par le destinataire' }];
  if (/deleted/i.test(d)) return [{ recipient, outcome: 'deleted', status: '', label: 'Supprimé sans avoir été lu' }];
  return [];
}

/** Reads a received message (RFC 822 bytes). */
export function readMessage(raw: Uint8Array, limits: ReadLimits = READ_LIMITS): ReadMessage {
  if (raw.length > limits.maxBytes) throw new MssError('message_too_large', `Message trop volumineux pour être affiché (${raw.length} octets).`);
  const top = splitPart(raw, limits);
  const warnings: string[] = [];
  const attachments: Attachment[] = [];
  const reports: DeliveryReport[] = [];
  let text = '';
  let parts = 0;
  const walk = (p: Part, depth: number): void => {
    if (++parts > limits.maxParts) {
      if (parts === limits.maxParts + 1) warnings.push('Message trop découpé : la fin n’est pas lue.');
      return;
    }
    const ct = contentType(get(p, 'content-type'));
    if (ct.type.startsWith('multipart/')) {
      if (depth >= limits.maxDepth) {
        warnings.push('Parties imbriquées trop profondément : non lues.');
        return;
      }
      const boundary = ct.params.boundary;
      if (!boundary || boundary.length > 200) {
        warnings.push('Partie multiple sans délimiteur : non lue.');
        return;
      }
      for (const sub of splitMultipart(p.body, boundary)) walk(splitPart(sub, limits), depth + 1);
      return;
    }
    const disposition = contentType(get(p, 'content-disposition'));
    const name = decodeWords(disposition.params.filename ?? ct.params.name ?? '');
    if (ct.type === 'message/delivery-status') {
      reports.push(...readDsn(latin1(decodeBody(p, warnings))));
      return;
    }
    if (ct.type === 'message/disposition-notification') {
      reports.push(...readMdn(latin1(decodeBody(p, warnings)), addrList(get(top, 'from'))[0] ?? ''));
      return;
    }
    if ((ct.type === 'text/plain' || ct.type === 'text/html') && disposition.type !== 'attachment' && !name && text === '') {
      const body = decodeCharset(decodeBody(p, warnings), ct.params.charset);
      text = ct.type === 'text/html' ? body.replace(/<style[\s\S]*?<\/style>|<script[\s\S]*?<\/script>/gi, '').replace(/<[^>]+>/g, ' ').replace(/&nbsp;/g, ' ').replace(/[ \t]+/g, ' ') : body;
      return;
    }
    if (ct.type === 'text/rfc822-headers' || ct.type === 'message/rfc822') {
      attachments.push({ name: name || 'message-original.eml', contentType: ct.type, size: p.body.length, data: decodeBody(p, warnings), kind: 'other' });
      return;
    }
    const data = decodeBody(p, warnings);
    const kind: Attachment['kind'] = ct.type === 'application/pdf' || /\.pdf$/i.test(name) ? 'pdf' : /^IHE_XDM\.ZIP$/i.test(name) || (ct.type === 'application/zip' && /xdm/i.test(name)) ? 'xdm' : 'other';
    attachments.push({ name: name || `piece-${attachments.length + 1}`, contentType: ct.type, size: data.length, data, kind });
  };
  walk(top, 0);
  const h = (n: string): string | undefined => get(top, n);
  const ins = h('x-mss-ins')?.trim().toUpperCase();
  return {
    from: addrList(h('from'))[0] ?? '',
    to: addrList(h('to')),
    cc: addrList(h('cc')),
    subject: decodeWords(h('subject') ?? ''),
    ...(h('date') ? { date: h('date') } : {}),
    ...(h('message-id') ? { messageId: h('message-id')!.trim() } : {}),
    ...(h('in-reply-to') ? { inReplyTo: h('in-reply-to')!.trim() } : {}),
    references: (h('references') ?? '').match(/<[^<>\s]+>/g) ?? [],
    mss: {
      ...(ins === 'O' || ins === 'N' ? { ins } : {}),
      ...(h('x-mss-codecda') ? { codeCda: h('x-mss-codecda')!.split(/[,;\s]+/).filter(Boolean) } : {}),
      ...(h('x-mss-nil') ? { nil: h('x-mss-nil') } : {}),
    },
    text,
    attachments,
    reports,
    warnings,
  };
}

/** The inbox line of a message from its header block alone (what the relay's list carries). */
export function readHeaders(block: string): Pick<ReadMessage, 'from' | 'to' | 'cc' | 'subject' | 'date' | 'messageId' | 'inReplyTo'> & { hasAttachments: boolean; report: boolean } {
  const text = `${block.replace(/\r?\n$/, '')}\r\n\r\n`;
  const p = splitPart(Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff), READ_LIMITS);
  const ct = contentType(get(p, 'content-type'));
  return {
    from: addrList(get(p, 'from'))[0] ?? '',
    to: addrList(get(p, 'to')),
    cc: addrList(get(p, 'cc')),
    subject: decodeWords(get(p, 'subject') ?? ''),
    ...(get(p, 'date') ? { date: get(p, 'date') } : {}),
    ...(get(p, 'message-id') ? { messageId: get(p, 'message-id') } : {}),
    ...(get(p, 'in-reply-to') ? { inReplyTo: get(p, 'in-reply-to') } : {}),
    hasAttachments: ct.type === 'multipart/mixed',
    report: ct.type === 'multipart/report',
  };
}
