/**
 * Reading returned messages (src/lib/sesam/returns/read.ts, issue 15): service messages signed by
 * the real OpenSSL (`openssl smime -sign` and `openssl cms -sign`, detached and opaque) verified
 * with the SESAM-Vitale attachment profile and the From mailbox; altered bytes, a signer that
 * speaks for another mailbox, a revoked or untrusted signer and an unsigned « service message »
 * each refused with its code; ARL (plain and /Z), OCT acknowledgement, delivery report and an
 * unknown nature read; every prefix and a thousand bit flips give a reading or a typed error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CmsError, gzip } from '../../src/lib/cms/index.js';
import { SesamError } from '../../src/lib/sesam/errors.js';
import { buildArl } from '../../src/lib/sesam/returns/arl.js';
import { buildRsp } from '../../src/lib/sesam/returns/rsp.js';
import { ReturnFormatError } from '../../src/lib/sesam/returns/errors.js';
import { ReturnMessageError } from '../../src/lib/sesam/returns/mime.js';
import { readReturn } from '../../src/lib/sesam/returns/read.js';
import { type Party, prng, removeTemp } from '../cms/helpers.js';
import { AMC_EMAIL, ARL, EMAIL, ORIGINAL_ID, PRACTITIONER, type ReturnsFixture, fileMessage as fileMessageOf, makeReturnsFixture, signedServiceMessage } from './fixtures/returns.js';

let rf: ReturnsFixture;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const signed = (tool: 'smime' | 'cms', opaque: boolean, signer: Party, code: string): Uint8Array => signedServiceMessage(rf, tool, opaque, signer, code);
const fileMessage = fileMessageOf;
const validateSigner: ReturnsFixture['validateSigner'] = (input) => rf.validateSigner(input);

beforeAll(() => {
  rf = makeReturnsFixture();
}, 60_000);

afterAll(removeTemp);

describe('service messages signed by OpenSSL', () => {
  it.each([
    ['openssl smime, detached', 'smime', false, '40050'],
    ['openssl smime, opaque', 'smime', true, '40150'],
    ['openssl cms, detached', 'cms', false, '4025'],
    ['openssl cms, opaque', 'cms', true, '40050'],
  ] as const)('%s: %s verified, signer valid for the From mailbox', async (_what, tool, opaque, code) => {
    const r = await readReturn(signed(tool, opaque, rf.front, code), { validateSigner });
    expect(r.kind).toBe('service');
    expect(r.signed).toBe(true);
    expect(r.signature).toEqual({ valid: true, errors: [] });
    expect(r.service?.code).toBe(code);
    expect(r.service?.inReplyTo).toBe(ORIGINAL_ID);
    expect(r.service?.signer.valid).toBe(true);
    expect(r.service?.signer.email).toBe(EMAIL);
    expect(r.service?.verified).toBe(true);
    expect(r.text).toMatch(new RegExp(`^${code} Le fichier chiffré`));
    expect(Buffer.compare(r.service!.signer.certificate!, rf.front.cert)).toBe(0);
  });

  it('altered bytes under a detached signature: the signature fails, nothing is believed', async () => {
    const m = Buffer.from(signed('smime', false, rf.front, '40050'));
    const at = m.indexOf('Le fichier');
    m[at] = 'l'.charCodeAt(0);
    const r = await readReturn(new Uint8Array(m), { validateSigner });
    expect(r.kind).toBe('service');
    expect(r.signature?.valid).toBe(false);
    expect(r.signature?.errors[0]?.code).toBe('cms_digest_mismatch');
    expect(r.service?.verified).toBe(false);
    expect(r.service?.signer.valid).toBe(false);
  });

  it('an AMC certificate cannot speak for the AMO mailbox', async () => {
    const r = await readReturn(signed('cms', false, rf.amc, '40150'), { validateSigner });
    expect(r.signature?.valid).toBe(true);
    expect(r.service?.signer.valid).toBe(false);
    expect(r.service?.signer.email).toBe(AMC_EMAIL);
    expect(r.service?.signer.errors.map((e) => e.code)).toContain('email_mismatch');
    expect(r.service?.verified).toBe(false);
  });

  it('a revoked signer and a signer under another root are refused', async () => {
    const rev = await readReturn(signed('smime', true, rf.revoked, '40050'), { validateSigner });
    expect(rev.signature?.valid).toBe(true);
    expect(rev.service?.signer.errors.map((e) => e.code)).toContain('cert_revoked');
    expect(rev.service?.verified).toBe(false);
    const alien = await readReturn(signed('smime', false, rf.stranger, '40050'), { validateSigner });
    expect(alien.service?.signer.valid).toBe(false);
    expect(alien.service?.verified).toBe(false);
  });

  it('without a validator no signer is believed', async () => {
    const r = await readReturn(signed('cms', true, rf.front, '40150'));
    expect(r.signature?.valid).toBe(true);
    expect(r.service?.signer.errors[0]?.code).toBe('signer_not_checked');
    expect(r.service?.verified).toBe(false);
  });

  it('an unsigned « service message » is read and reported unverified', async () => {
    const m = enc(`From: ${EMAIL}\r\nTo: ${PRACTITIONER}\r\nSubject: 40050 rejet\r\nIn-Reply-To: ${ORIGINAL_ID}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n40050 Le fichier n'a pas pu etre dechiffre.\r\n`);
    const r = await readReturn(m, { validateSigner });
    expect(r.kind).toBe('service');
    expect(r.signed).toBe(false);
    expect(r.signature).toBeUndefined();
    expect(r.service).toMatchObject({ code: '40050', verified: false, signer: { valid: false, errors: [{ code: 'unsigned' }] } });
  });

  it('the code as the first token of the text when the Subject has none', async () => {
    const m = enc(`From: ${EMAIL}\r\nSubject: Message de service\r\nContent-Type: text/plain\r\n\r\n4025 Le flux n'etait pas chiffre.\r\n`);
    expect((await readReturn(m)).service?.code).toBe('4025');
    // A compostage's digits are not a code.
    const arl = fileMessage('ARLTEST/NOEMIE', buildArl({ ...ARL, compostage: '2026120614300540050' }), 'F000123.ARL');
    expect((await readReturn(arl)).kind).toBe('arl');
  });
});

describe('files and reports', () => {
  it('an ARL, plain and compressed (/Z), read into its lots', async () => {
    for (const [description, file] of [
      ['ARLTEST/NOEMIE', buildArl(ARL)],
      ['arltest/noemie/z', await gzip.compress(buildArl(ARL))],
    ] as const) {
      const r = await readReturn(fileMessage(description, file, 'F000123.ARL'));
      expect(r.kind).toBe('arl');
      expect(r.nature).toBe(description);
      expect(r.compressed).toBe(description.endsWith('/z'));
      expect(r.signed).toBe(false);
      expect(r.fileName).toBe('F000123.ARL');
      expect(r.arl).toEqual(ARL);
    }
  });

  it('an RSP read into its payments; an unknown nature is kept, not dropped', async () => {
    const data = { organism: '01931', transfer: { date: '2026-12-15', totalCents: 3000 }, lines: [{ type: 'payment' as const, sender: '751234567', kind: 'DRE' as const, number: '000000042', full: true, amountCents: 3000, date: '2026-12-15' }] };
    const rsp = await readReturn(fileMessage('RSPDRETEST/NOEMIE', buildRsp(data), 'F1.RSP'));
    expect(rsp.kind).toBe('rsp');
    expect(rsp.description?.known?.dre).toBe(true);
    expect(rsp.rsp).toEqual(data);
    await expect(readReturn(fileMessage('RSPTEST/NOEMIE', enc('RSP…'), 'F1.RSP'))).rejects.toBeInstanceOf(ReturnFormatError);
    const odd = await readReturn(fileMessage('LOITEST/NOEMIE', enc('liste'), 'LOI.TXT'));
    expect(odd.kind).toBe('unknown');
    expect(odd.nature).toBe('LOITEST/NOEMIE');
    expect(new TextDecoder().decode(odd.file)).toBe('liste');
  });

  it('an OCT acknowledgement (ART/XX) shows its text', async () => {
    const r = await readReturn(fileMessage('ART/IF', enc('Fichier reçu : 3 factures.\r\n'), 'ACK.txt'));
    expect(r.kind).toBe('art');
    expect(r.description?.profession).toBe('infirmiers');
    expect(r.text).toBe('Fichier reçu : 3 factures.\r\n');
  });

  it('a delivery report: action, status, recipient and the original Message-ID', async () => {
    const m = enc(
      `From: MAILER-DAEMON@relay.test\r\nTo: ${PRACTITIONER}\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n` +
        `Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\nLe message n'a pas pu etre remis.\r\n` +
        `--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.test\r\n\r\nFinal-Recipient: rfc822; ${EMAIL}\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 unknown\r\n\r\n` +
        `--r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: ${ORIGINAL_ID}\r\nSubject: SV140700/123456789/2026120614300500001/00003\r\n\r\n--r--\r\n`,
    );
    const r = await readReturn(m);
    expect(r.kind).toBe('dsn');
    expect(r.dsn).toEqual({ action: 'failed', status: '5.1.1', recipient: EMAIL, diagnostic: 'smtp; 550 5.1.1 unknown', originalMessageId: ORIGINAL_ID });
  });
});

describe('hostile input', () => {
  const typed = (e: unknown): boolean => e instanceof ReturnMessageError || e instanceof ReturnFormatError || e instanceof CmsError || e instanceof SesamError;

  it('every prefix of an ARL message: a reading or a typed error', async () => {
    const m = fileMessage('ARLTEST/NOEMIE/Z', await gzip.compress(buildArl(ARL)), 'F.ARL');
    for (let i = 0; i < m.length; i += 3) {
      await readReturn(m.subarray(0, i)).catch((e: unknown) => {
        if (!typed(e)) throw e;
      });
    }
  });

  it('a thousand bit flips of a signed service message: a reading or a typed error, and what is believed is what was signed', async () => {
    const original = signed('cms', true, rf.front, '40050');
    const reference = await readReturn(original, { validateSigner });
    expect(reference.service?.verified).toBe(true);
    const rnd = prng(15);
    let believed = 0;
    for (let k = 0; k < 1000; k++) {
      const m = original.slice();
      const i = rnd.int(m.length);
      m[i] = m[i]! ^ (1 << rnd.int(8));
      try {
        const r = await readReturn(m, { validateSigner });
        if (r.service?.verified) {
          believed++;
          // A flip the signature does not cover (an outer header, an advisory field of the
          // SignedData) may leave it believed; the text, the code and the sender may not change.
          expect([r.text, r.service.code, r.from, r.service.signer.email]).toEqual([reference.text, reference.service!.code, reference.from, reference.service!.signer.email]);
        }
      } catch (e) {
        if (!typed(e)) throw e;
      }
    }
    expect(believed).toBeLessThan(200);
  });

  it('nesting and part counts are bounded', async () => {
    let body = 'Content-Type: text/plain\r\n\r\nx\r\n';
    for (let d = 0; d < 10; d++) body = `Content-Type: multipart/mixed; boundary="d${d}"\r\n\r\n--d${d}\r\n${body}--d${d}--\r\n`;
    await expect(readReturn(enc(`From: ${EMAIL}\r\n${body}`))).rejects.toMatchObject({ code: 'too_deep' });
    const many = Array.from({ length: 60 }, () => '--m\r\nContent-Type: text/plain\r\n\r\nx\r\n').join('');
    await expect(readReturn(enc(`From: ${EMAIL}\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n${many}--m--\r\n`))).rejects.toMatchObject({ code: 'too_many_parts' });
    await expect(readReturn(enc('no header and no blank line'))).rejects.toBeInstanceOf(ReturnMessageError);
    // 10 parts of 10 parts: under the limit at each level, 100 leaves in all.
    const inner = Array.from({ length: 10 }, () => '--i\r\nContent-Type: text/plain\r\n\r\nx\r\n').join('') + '--i--\r\n';
    const outer = Array.from({ length: 10 }, () => `--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n${inner}`).join('') + '--o--\r\n';
    await expect(readReturn(enc(`From: ${EMAIL}\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n${outer}`))).rejects.toMatchObject({ code: 'too_many_parts' });
  });
});
