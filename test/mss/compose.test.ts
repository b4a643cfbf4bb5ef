/**
 * Composing an MSSanté message (src/lib/mss/compose.ts): Python's email package (an independent
 * MIME reader) reads back what we write — headers, X-MSS-*, the XDM zip and the PDFs byte for
 * byte, a French subject — and every rule refuses with its reason: the 41st recipient, 10 MB +
 * 1, a domain outside the trust space, a patient written to first from a non-personal mailbox,
 * documents without their PDF, a header injection.
 */
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { composeMssMessage, MAX_MESSAGE_BYTES, type MssComposeInput } from '../../src/lib/mss/compose.js';
import { MssError } from '../../src/lib/mss/errors.js';
import type { Whitelist, WhitelistEntry } from '../../src/lib/mss/whitelist.js';
import { buildXdm } from '../../src/lib/mss/xdm.js';
import { useNodeXml } from '../../src/lib/server/mss/node-xml.js';
import { xdmInput } from './fixtures/trust.js';

const LIST: Whitelist = {
  generatedAt: '2026-12-05T02:00:00Z',
  signer: 'CN=AGENCE',
  domains: new Map(['medecin.mssante.fr', 'ch-fictif.mssante.fr', 'patient.mssante.fr'].map((d): [string, WhitelistEntry] => [d, { domain: d, description: '', operatorCertificateDn: 'CN=X', updated: '2026-12-01' }])),
};
const PATIENT_ADDR = '279035121518989@patient.mssante.fr';
const PDF = new TextEncoder().encode('%PDF-1.7\n%fictif\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
let zip: Uint8Array;

beforeAll(async () => {
  useNodeXml();
  zip = await buildXdm(xdmInput());
});

const base = (over: Partial<MssComposeInput> = {}): MssComposeInput => ({
  from: 'dr.fictif@medecin.mssante.fr', fromKind: 'personal',
  to: ['secretariat@ch-fictif.mssante.fr', 'dr.autre@medecin.mssante.fr'], cc: [PATIENT_ADDR],
  subject: 'Compte rendu — consultation du 5 décembre', text: 'Chère consœur,\nVeuillez trouver ci-joint le compte rendu.\n\nBien confraternellement',
  xdm: { zip, typeCodes: ['11488-4', '34133-9'], insQualified: true }, pdfs: [{ name: 'compte-rendu.pdf', data: PDF }],
  software: 'Teletrans/Teletrans/0.1.0', date: new Date('2026-12-05T10:30:00Z'), ...over,
});

function refused(f: () => unknown): string {
  try {
    f();
    return 'accepted';
  } catch (e) {
    if (e instanceof MssError) return e.code;
    throw e;
  }
}

const PY_READ = `
import sys, json, email, hashlib
from email import policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.default)
parts = []
for p in m.iter_parts():
    parts.append({"type": p.get_content_type(), "name": p.get_filename(), "sha256": hashlib.sha256(p.get_payload(decode=True)).hexdigest(), "text": p.get_content() if p.get_content_maintype()=="text" else None})
print(json.dumps({"subject": str(m["subject"]), "to": str(m["to"]), "cc": str(m["cc"]), "ins": m["x-mss-ins"], "cda": m["x-mss-codecda"], "nil": m["x-mss-nil"], "defects": len(m.defects), "parts": parts, "mid": m["message-id"], "irt": m["in-reply-to"]}))
`;
const pyRead = (raw: Uint8Array): Record<string, unknown> => JSON.parse(execFileSync('python3', ['-c', PY_READ], { input: raw, encoding: 'utf8' })) as Record<string, unknown>;
const sha256 = async (u: Uint8Array): Promise<string> => Buffer.from(await crypto.subtle.digest('SHA-256', u as BufferSource)).toString('hex');

describe('composing', () => {
  it('writes a message Python’s email package reads back exactly: headers, X-MSS-*, text, XDM zip and PDF', async () => {
    const m = composeMssMessage(base(), LIST);
    expect(m.recipients).toEqual(['secretariat@ch-fictif.mssante.fr', 'dr.autre@medecin.mssante.fr', PATIENT_ADDR]);
    const r = pyRead(m.raw) as { subject: string; ins: string; cda: string; nil: string; defects: number; parts: Array<{ type: string; name: string | null; sha256: string; text: string | null }>; mid: string; cc: string };
    expect(r.defects).toBe(0);
    expect(r.subject).toBe('Compte rendu — consultation du 5 décembre');
    expect([r.ins, r.cda, r.nil]).toEqual(['O', '11488-4,34133-9', 'Teletrans/Teletrans/0.1.0']);
    expect(r.mid).toBe(m.messageId);
    expect(r.cc).toBe(PATIENT_ADDR);
    expect(r.parts.map((p) => [p.type, p.name])).toEqual([['text/plain', null], ['application/zip', 'IHE_XDM.ZIP'], ['application/pdf', 'compte-rendu.pdf']]);
    expect(r.parts[0]!.text!.replace(/\r\n/g, '\n')).toBe('Chère consœur,\nVeuillez trouver ci-joint le compte rendu.\n\nBien confraternellement');
    expect(r.parts[1]!.sha256).toBe(await sha256(zip));
    expect(r.parts[2]!.sha256).toBe(await sha256(PDF));
    const text = new TextDecoder().decode(m.raw);
    expect(text.split('\r\n').every((l) => l.length <= 998)).toBe(true);
    expect(/[^\r]\n/.test(text)).toBe(false);
  });

  it('a reply carries In-Reply-To and References; X-MSS-INS says N when the INS is not qualified; no XDM, no X-MSS-INS', () => {
    const reply = composeMssMessage(base({ replyTo: { messageId: '<abc.1@ch-fictif.mssante.fr>', from: 'secretariat@ch-fictif.mssante.fr' }, xdm: { zip, typeCodes: ['11488-4'], insQualified: false } }), LIST);
    const r = pyRead(reply.raw) as { irt: string; ins: string };
    expect(r.irt).toBe('<abc.1@ch-fictif.mssante.fr>');
    expect(r.ins).toBe('N');
    const plain = pyRead(composeMssMessage(base({ xdm: undefined, pdfs: [] }), LIST).raw) as { ins: string | null; nil: string };
    expect(plain.ins).toBeNull();
    expect(plain.nil).toBe('Teletrans/Teletrans/0.1.0');
  });
});

describe('the rules, each refused with its reason', () => {
  it('40 recipients pass, the 41st is refused; none is refused too', () => {
    const forty = Array.from({ length: 38 }, (_, i) => `c${i}@ch-fictif.mssante.fr`);
    expect(composeMssMessage(base({ to: [...forty, 'a@medecin.mssante.fr'], cc: [PATIENT_ADDR] }), LIST).recipients).toHaveLength(40);
    expect(refused(() => composeMssMessage(base({ to: [...forty, 'a@medecin.mssante.fr', 'b@medecin.mssante.fr'], cc: [PATIENT_ADDR] }), LIST))).toBe('too_many_recipients');
    expect(refused(() => composeMssMessage(base({ to: [], cc: [] }), LIST))).toBe('no_recipient');
    expect(refused(() => composeMssMessage(base({ to: ['a@medecin.mssante.fr', 'A@medecin.mssante.fr'] }), LIST))).toBe('address_invalid');
  });

  it('10 MB + 1 is refused, 10 MB passes (the encoded message, attachments included)', () => {
    const overhead = composeMssMessage(base({ pdfs: [{ name: 'a.pdf', data: PDF }] }), LIST).size;
    // base64 grows by 4/3 plus CRLF every 76 characters: find the PDF size that lands exactly on the limit.
    const encoded = (n: number): number => Math.ceil(n / 3) * 4 + Math.ceil(Math.ceil(n / 3) * 4 / 76) * 2;
    let n = Math.floor(((MAX_MESSAGE_BYTES - overhead) * 3) / 4 * 76 / 78);
    while (overhead - encoded(PDF.length) + encoded(n + 3) <= MAX_MESSAGE_BYTES) n += 3;
    const pdf = (len: number): Uint8Array => {
      const u = new Uint8Array(len);
      u.set(PDF);
      return u;
    };
    let fits = composeMssMessage(base({ pdfs: [{ name: 'a.pdf', data: pdf(n) }] }), LIST);
    while (fits.size < MAX_MESSAGE_BYTES) {
      n++;
      try {
        fits = composeMssMessage(base({ pdfs: [{ name: 'a.pdf', data: pdf(n) }] }), LIST);
      } catch {
        break;
      }
    }
    expect(fits.size).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(fits.size).toBeGreaterThan(MAX_MESSAGE_BYTES - 8);
    let over = n;
    let code = 'accepted';
    while (code === 'accepted') code = refused(() => composeMssMessage(base({ pdfs: [{ name: 'a.pdf', data: pdf(++over) }] }), LIST));
    expect(code).toBe('message_too_large');
  });

  it('a recipient or sender outside the trust space, or no valid whitelist at all', () => {
    expect(refused(() => composeMssMessage(base({ to: ['ami@gmail.com'] }), LIST))).toBe('domain_not_trusted');
    expect(refused(() => composeMssMessage(base({ from: 'dr@clinique-hors-espace.fr' }), LIST))).toBe('domain_not_trusted');
    expect(refused(() => composeMssMessage(base(), null))).toBe('whitelist_unavailable');
  });

  it('a patient: written first only from a professional’s personal mailbox, otherwise only answered', () => {
    expect(refused(() => composeMssMessage(base({ fromKind: 'organisational' }), LIST))).toBe('patient_not_reply');
    expect(refused(() => composeMssMessage(base({ fromKind: 'application' }), LIST))).toBe('patient_not_reply');
    expect(composeMssMessage(base({ fromKind: 'organisational', replyTo: { messageId: '<p.1@patient.mssante.fr>', from: PATIENT_ADDR } }), LIST).recipients).toContain(PATIENT_ADDR);
    expect(refused(() => composeMssMessage(base({ cc: ['12345@patient.mssante.fr'] }), LIST))).toBe('address_invalid');
    expect(refused(() => composeMssMessage(base({ from: PATIENT_ADDR, to: ['180017512345671@patient.mssante.fr'], cc: [] }), LIST))).toBe('patient_not_reply');
  });

  it('structured documents without their PDF, a file that is not a PDF, headers that would inject', () => {
    expect(refused(() => composeMssMessage(base({ pdfs: [] }), LIST))).toBe('attachment_invalid');
    expect(refused(() => composeMssMessage(base({ pdfs: [{ name: 'x.pdf', data: new TextEncoder().encode('MZ...') }] }), LIST))).toBe('attachment_invalid');
    expect(refused(() => composeMssMessage(base({ pdfs: [{ name: 'x"\r\nBcc: a@b.fr.pdf', data: PDF }] }), LIST))).toBe('attachment_invalid');
    expect(refused(() => composeMssMessage(base({ subject: 'Objet\r\nBcc: pirate@gmail.com' }), LIST))).toBe('header_invalid');
    expect(refused(() => composeMssMessage(base({ software: 'Teletrans\r\nX-Evil: 1' }), LIST))).toBe('header_invalid');
    expect(refused(() => composeMssMessage(base({ software: 'x'.repeat(256) }), LIST))).toBe('header_invalid');
    expect(refused(() => composeMssMessage(base({ xdm: { zip, typeCodes: Array.from({ length: 40 }, (_, i) => `1${i}488-4`), insQualified: true } }), LIST))).toBe('header_invalid');
    expect(refused(() => composeMssMessage(base({ to: ['a@medecin.mssante.fr>\r\nBcc: x@y.fr'] }), LIST))).toBe('address_invalid');
  });
});
