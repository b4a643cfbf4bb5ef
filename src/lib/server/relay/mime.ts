/** Just enough RFC 5322 header reading for the relay: it never needs (nor sees) plaintext bodies. */

export interface HeaderBlock {
  headers: Array<[string, string]>;
  /** Offset of the body in the raw bytes. */
  bodyOffset: number;
}

export function splitHeaders(raw: Uint8Array, maxHeaderBytes = 256 * 1024): HeaderBlock {
  const limit = Math.min(raw.length, maxHeaderBytes);
  let end = -1;
  let bodyOffset = raw.length;
  for (let i = 0; i < limit; i++) {
    if (raw[i] === 10) {
      if (raw[i + 1] === 10) { end = i; bodyOffset = i + 2; break; }
      if (raw[i + 1] === 13 && raw[i + 2] === 10) { end = i; bodyOffset = i + 3; break; }
    }
  }
  if (end < 0) end = limit;
  const text = Buffer.from(raw.subarray(0, end)).toString('latin1');
  const headers: Array<[string, string]> = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && headers.length) {
      const last = headers[headers.length - 1]!;
      last[1] += ' ' + line.trim();
      continue;
    }
    const c = line.indexOf(':');
    if (c <= 0) continue;
    headers.push([line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim()]);
  }
  return { headers, bodyOffset };
}

export function header(h: HeaderBlock, name: string): string | null {
  const n = name.toLowerCase();
  return h.headers.find(([k]) => k === n)?.[1] ?? null;
}

export function headersAll(h: HeaderBlock, name: string): string[] {
  const n = name.toLowerCase();
  return h.headers.filter(([k]) => k === n).map(([, v]) => v);
}

/** Bare addresses from an address-list header value (`Name <a@b>, c@d`), lower-cased. */
export function addresses(value: string | null): string[] {
  if (!value) return [];
  const out: string[] = [];
  const re = /<([^<>\s]+@[^<>\s]+)>|([^\s<>,;:"()]+@[^\s<>,;:"()]+)/g;
  for (const m of value.matchAll(re)) out.push((m[1] ?? m[2] ?? '').toLowerCase());
  return out;
}

export function isAddress(a: string): boolean {
  return /^[^\s@<>(),;:"\\]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$/.test(a) && a.length <= 254;
}

/** Finds the delivery-status and original headers of an RFC 3464 report. */
export function parseDsn(raw: Uint8Array): null | {
  envelopeId: string | null; originalMessageId: string | null;
  recipients: Array<{ recipient: string | null; action: string | null; status: string | null; diagnostic: string | null }>;
} {
  const top = splitHeaders(raw);
  const ct = header(top, 'content-type') ?? '';
  if (!/multipart\/report/i.test(ct) || !/report-type="?delivery-status/i.test(ct)) return null;
  const text = Buffer.from(raw).toString('latin1');
  const envelopeId = /^Original-Envelope-Id:\s*(\S+)/im.exec(text)?.[1] ?? null;
  const recipients: Array<{ recipient: string | null; action: string | null; status: string | null; diagnostic: string | null }> = [];
  // Per-recipient groups follow the per-message group; each has Final-Recipient.
  const groups = text.split(/\r?\n(?=Final-Recipient:)/i).slice(1);
  for (const g of groups) {
    const block = g.split(/\r?\n\r?\n/)[0] ?? '';
    const get = (n: string): string | null => new RegExp(`^${n}:\\s*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(block)?.[1]?.replace(/\s+/g, ' ').trim() ?? null;
    recipients.push({ recipient: get('Final-Recipient'), action: get('Action')?.toLowerCase() ?? null, status: get('Status'), diagnostic: get('Diagnostic-Code') });
  }
  // The returned original headers (text/rfc822-headers or message/rfc822).
  let originalMessageId: string | null = null;
  const idx = text.search(/Content-Type:\s*(text\/rfc822-headers|message\/rfc822)/i);
  if (idx >= 0) originalMessageId = /^Message-ID:\s*(<[^>]+>)/im.exec(text.slice(idx))?.[1] ?? null;
  return { envelopeId, originalMessageId, recipients };
}
