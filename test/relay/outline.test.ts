/**
 * Issue 24, the relay's intake speed: the profile check reads a lot without decoding it all
 * (base64Outline, parseMessageOutline, outlineEnvelopedData). Each must give exactly the verdict
 * of the full decode it stands for: the same bytes where it answers, the same error code and
 * message where it refuses, and no answer (null: the caller decodes it all) where it cannot tell.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outlineEnvelopedData, parseEnvelopedData } from '../../src/lib/cms/decrypt.js';
import { NULL, algorithm, octetString, oid, seq, set, smallInt, tlv } from '../../src/lib/cms/der-writer.js';
import { ProfileError, checkOutboundProfile } from '../../src/lib/server/relay/index.js';
import { base64Outline, composeMessage, decodeBase64, encodeBase64Mime, parseMessage, parseMessageOutline } from '../../src/lib/sesam/index.js';
import { type Fixture, makeFixture, opensslCms, prng, removeTemp, tmp } from '../cms/helpers.js';
import { INSURER_ADDR, PRACTITIONER_ADDR } from './fixtures/mail.js';
import { envelopedData } from './fixtures/message.js';

const rand = prng(0x0071e);
let fx: Fixture;
let dir: string;
beforeAll(() => {
  fx = makeFixture();
  dir = tmp();
});
afterAll(removeTemp);
const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

/** The outcome of a call: its value, or its error's class, code and message. */
function outcome<T>(f: () => T): { ok: T } | { error: string } {
  try {
    return { ok: f() };
  } catch (e) {
    const x = e as Error & { code?: string };
    return { error: `${x.name}/${x.code ?? ''}/${x.message}` };
  }
}

/** Base64 texts as mail carries them, and broken ones. */
function base64Variants(): string[] {
  const out: string[] = [];
  for (const n of [0, 1, 2, 3, 4, 5, 57, 100, 1000, 4096, 9000]) {
    const mime = latin1(encodeBase64Mime(rand.bytes(n)));
    const flat = mime.replace(/\r\n/g, '');
    out.push(mime, flat, mime.replace(/\r\n/g, '\n'), mime.replace(/\r\n/g, ' \t\r\n'), ` ${flat.slice(0, 7)}\n${flat.slice(7)}  \r\n`);
    if (flat.length > 0) {
      const at = rand.int(flat.length);
      out.push(
        flat.slice(0, at) + '*' + flat.slice(at), // a character outside the alphabet
        flat.slice(0, at) + 'é' + flat.slice(at),
        flat.slice(0, -1), // truncated
        flat.slice(0, at) + '=' + flat.slice(at + 1), // padding in the middle
        flat + 'QQ==', // padding then more
        `${flat}=`,
        `${flat.replace(/=+$/, '')}===`,
      );
      // Non-zero bits under the padding.
      if (flat.endsWith('==')) out.push(flat.slice(0, -3) + 'R==');
      if (flat.endsWith('=') && !flat.endsWith('==')) out.push(flat.slice(0, -2) + 'B=');
    }
  }
  out.push('', '\r\n', '====', 'A===', 'AB=C', 'QR==', 'QUI=x', 'QQ==\r\n \t');
  return out;
}

describe('base64Outline: the rules of decodeBase64, without decoding it all', () => {
  it('same length and first bytes where it decodes, same refusal where it does not', () => {
    let refused = 0;
    for (const text of base64Variants()) {
      for (const head of [3, 100, 2048]) {
        const full = outcome(() => decodeBase64(text));
        const outline = outcome(() => base64Outline(text, head));
        if ('error' in full) {
          refused++;
          expect(outline, JSON.stringify(text.slice(0, 80))).toEqual(full);
        } else {
          if (!('ok' in outline)) throw new Error(`outline refused what decodeBase64 reads: ${JSON.stringify(text.slice(0, 80))}: ${outline.error}`);
          expect(outline.ok.length).toBe(full.ok.length);
          expect(Buffer.from(outline.ok.head).equals(Buffer.from(full.ok.subarray(0, Math.min(full.ok.length, Math.ceil(head / 3) * 3))))).toBe(true);
        }
      }
    }
    expect(refused).toBeGreaterThan(50);
  });
});

describe('parseMessageOutline: parseMessage without the whole decode', () => {
  const message = (structure: 'single' | 'multipart', content: Uint8Array): string => latin1(composeMessage({
    from: PRACTITIONER_ADDR, to: INSURER_ADDR, subject: 'SV140700/123456789/2026120608000000001/00001', date: new Date(Date.UTC(2026, 11, 6, 8)),
    description: 'FSE/B2/K', filename: 'LOT0001.pkcs7', content, messageIdHint: '2026120608000000001', structure,
    ...(structure === 'multipart' ? { boundary: 'b1' } : {}),
  }).bytes);

  it('the same fields, the file\'s length and first bytes; the same errors', () => {
    const cases: string[] = [];
    for (const structure of ['single', 'multipart'] as const) {
      const m = message(structure, rand.bytes(3000));
      const body = m.lastIndexOf('\r\n\r\n') + 4;
      cases.push(
        m,
        m.replace('Subject: SV140700/123456789/2026120608000000001/00001\r\n', 'Subject: Gr\u00e9\u20ac\r\n'), // 8-bit header bytes
        m.slice(0, body + 10) + '!' + m.slice(body + 10), // bad base64
        m.replace('Content-Transfer-Encoding: BASE64', 'Content-Transfer-Encoding: 8bit'),
        m.replace(/Content-Description: [^\r]*\r\n/, ''),
        m.slice(0, body), // no file
      );
    }
    for (const text of cases) {
      const raw = bytes(text);
      const full = outcome(() => parseMessage(raw));
      const outline = outcome(() => parseMessageOutline(raw, 64));
      if ('error' in full) {
        expect(outline).toEqual(full);
        continue;
      }
      if (!('ok' in outline)) throw new Error(`outline refused what parseMessage reads: ${outline.error}`);
      const { attachment, ...fields } = full.ok;
      const { attachmentLength, attachmentHead, ...outlineFields } = outline.ok;
      expect(outlineFields).toEqual(fields);
      expect(attachmentLength).toBe(attachment.length);
      expect(Buffer.from(attachmentHead).equals(Buffer.from(attachment.subarray(0, 66)))).toBe(true);
    }
  });

  it('reads a header holding the bytes 0x80–0x9F (which the WHATWG latin1 decoder would remap) byte for byte', () => {
    // "€" in UTF-8 is E2 82 AC: 0x82 is one windows-1252 remaps to "‚".
    const m = message('single', rand.bytes(100)).replace('MIME-Version: 1.0\r\n', 'MIME-Version: 1.0\r\nX-Note: 12 \u00e2\u0082\u00ac\r\n');
    const parsed = parseMessageOutline(bytes(m), 16);
    expect(parsed.headers.find((h) => h.name === 'X-Note')?.value).toBe('12 €');
  });
});

describe('outlineEnvelopedData: parseEnvelopedData from the first bytes', () => {
  it('a DER lot: the same recipients and algorithm, from any head that holds the structure', () => {
    const der = envelopedData(rand.bytes(5000));
    const full = parseEnvelopedData(der);
    for (const head of [400, 1024, 4000]) {
      expect(outlineEnvelopedData(der.subarray(0, head), der.length)).toEqual({ recipients: full.recipients.length, contentAlgorithm: full.contentAlgorithm });
    }
    // A head that stops inside the structure: no answer, never a guess.
    expect(outlineEnvelopedData(der.subarray(0, 40), der.length)).toBeNull();
  });

  it('no answer where the first bytes cannot tell: streamed BER, several ciphertext segments, attributes after the content, a length that does not match', () => {
    const ber = opensslCms(['-encrypt', '-binary', '-outform', 'DER', '-aes-128-cbc', '-stream', fx.recipient.certPath], rand.bytes(20_000), dir);
    expect(ber[1]).toBe(0x80);
    expect(parseEnvelopedData(ber).recipients).toHaveLength(1);
    expect(outlineEnvelopedData(ber.subarray(0, 2048), ber.length)).toBeNull();

    const iv = octetString(rand.bytes(16));
    const ktri = seq(smallInt(0), seq(seq(), smallInt(1)), algorithm('1.2.840.113549.1.1.1', NULL), octetString(rand.bytes(256)));
    const wrap = (...env: Uint8Array[]): Uint8Array => seq(oid('1.2.840.113549.1.7.3'), tlv(0xa0, seq(smallInt(0), set(ktri), ...env)));
    const eci = (content: Uint8Array): Uint8Array => seq(oid('1.2.840.113549.1.7.1'), algorithm('2.16.840.1.101.3.4.1.2', iv), content);
    const segmented = wrap(eci(tlv(0xa0, octetString(rand.bytes(4096)), octetString(rand.bytes(4096)))));
    const attributes = wrap(eci(tlv(0x80, rand.bytes(4096))), tlv(0xa1, seq(oid('1.2.3.4'), set(octetString(rand.bytes(8))))));
    for (const der of [segmented, attributes]) {
      expect(parseEnvelopedData(der).recipients).toHaveLength(1);
      expect(outlineEnvelopedData(der.subarray(0, 1024), der.length)).toBeNull();
    }
    const plain = wrap(eci(tlv(0x80, rand.bytes(4096))));
    expect(outlineEnvelopedData(plain.subarray(0, 1024), plain.length + 7)).toBeNull();
    expect(outlineEnvelopedData(plain.subarray(0, 1024), plain.length)).toEqual({ recipients: 1, contentAlgorithm: '2.16.840.1.101.3.4.1.2' });
  });

  it('never accepts what parseEnvelopedData refuses: 2000 corrupted heads', () => {
    const der = envelopedData(rand.bytes(3000));
    let answered = 0;
    for (let i = 0; i < 2000; i++) {
      const bad = new Uint8Array(der);
      for (let k = 1 + rand.int(3); k > 0; k--) bad[rand.int(400)] = rand.int(256);
      const outline = outlineEnvelopedData(bad.subarray(0, 1024), bad.length);
      if (outline === null) continue;
      answered++;
      const full = parseEnvelopedData(bad);
      expect(outline).toEqual({ recipients: full.recipients.length, contentAlgorithm: full.contentAlgorithm });
    }
    expect(answered).toBeGreaterThan(0);
  });
});

describe('checkOutboundProfile with the outline', () => {
  const lot = (content: Uint8Array): Uint8Array => composeMessage({
    from: PRACTITIONER_ADDR, to: INSURER_ADDR, subject: 'SV140700/123456789/2026120608000000002/00001', date: new Date(),
    description: 'FSE/B2/K', filename: 'LOT0002.pkcs7', content, messageIdHint: '2026120608000000002',
  }).bytes;

  it('a lot the first bytes cannot tell (twelve recipients, streamed BER) is checked by the whole decode', () => {
    const one = envelopedData(rand.bytes(64));
    const ktri = parseEnvelopedData(one);
    expect(ktri.recipients).toHaveLength(1);
    // Twelve key-transport recipients: about 3.5 KiB of structure before the ciphertext.
    const k = (): Uint8Array => seq(smallInt(2), tlv(0x80, new Uint8Array(randomBytes(20))), algorithm('1.2.840.113549.1.1.1', NULL), octetString(new Uint8Array(randomBytes(256))));
    const many = seq(oid('1.2.840.113549.1.7.3'), tlv(0xa0, seq(smallInt(2), set(...Array.from({ length: 12 }, k)),
      seq(oid('1.2.840.113549.1.7.1'), algorithm('2.16.840.1.101.3.4.1.2', octetString(rand.bytes(16))), tlv(0x80, rand.bytes(4096))))));
    expect(checkOutboundProfile(lot(many)).recipients).toBe(12);
    const ber = opensslCms(['-encrypt', '-binary', '-outform', 'DER', '-aes-128-cbc', '-stream', fx.recipient.certPath], rand.bytes(5000), dir);
    expect(checkOutboundProfile(lot(ber)).recipients).toBe(1);
  });

  it('refuses a lot whose ciphertext is cut short or followed by bytes, as the whole decode does', () => {
    const der = envelopedData(rand.bytes(4000));
    for (const bad of [der.subarray(0, der.length - 16), new Uint8Array([...der, 0, 0])]) {
      const e = outcome(() => checkOutboundProfile(lot(bad)));
      expect('error' in e && e.error.startsWith('ProfileError/')).toBe(true);
      try {
        checkOutboundProfile(lot(bad));
      } catch (x) {
        expect(x).toBeInstanceOf(ProfileError);
        expect((x as ProfileError).reason).toBe('profile-not-enveloped-data');
      }
    }
  });
});
