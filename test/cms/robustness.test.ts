/**
 * Corrupted and truncated CMS objects: every prefix, and seeded random bit flips. The only
 * acceptable outcomes are a CmsError (never another exception, never a hang) or, for flips
 * that the format cannot detect (CBC has no integrity: IV and ciphertext bits), a result —
 * and a flip anywhere else must never yield a different plaintext silently.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CmsError, checkRecipient, decryptDocument, encryptDocument, joinParts, verifySigned } from '../../src/lib/cms/index.js';
import { type Fixture, flip, makeFixture, opensslCms, prng, removeTemp, tmp } from './helpers.js';

const CONTENT = new TextEncoder().encode('lot FSE 00025 : 20 o');

let fx: Fixture;
let ours: Uint8Array;
let oursOaepSki: Uint8Array;
let streamed: Uint8Array;
let signed: Uint8Array;

beforeAll(async () => {
  fx = makeFixture();
  const r = await checkRecipient(fx.recipient.cert, { insecureSkipVerify: true });
  ours = joinParts((await encryptDocument(CONTENT, r)).parts);
  oursOaepSki = joinParts((await encryptDocument(CONTENT, r, { keyTransport: 'rsa-oaep-sha256', recipientIdentifier: 'subject-key-identifier' })).parts);
  const dir = tmp();
  streamed = opensslCms(['-encrypt', '-binary', '-outform', 'DER', '-stream', '-aes-128-cbc', fx.recipient.certPath], CONTENT, dir);
  signed = opensslCms(['-sign', '-binary', '-outform', 'DER', '-nodetach', '-signer', fx.recipient.certPath, '-inkey', fx.recipient.keyPath], CONTENT, dir);
});

afterAll(removeTemp);

type Outcome = { ok: true; content: Uint8Array } | { ok: false; code: string };

async function outcome(p: Promise<{ content: Uint8Array }>): Promise<Outcome> {
  try {
    return { ok: true, content: (await p).content };
  } catch (e) {
    // The contract: a CmsError, and not one wrapping an unexpected exception of ours.
    expect(e).toBeInstanceOf(CmsError);
    expect((e as CmsError).message).not.toMatch(/erreur interne/);
    return { ok: false, code: (e as CmsError).code };
  }
}

const open = (der: Uint8Array): Promise<Outcome> => outcome(decryptDocument(der, { key: fx.recipient.key, certificate: fx.recipient.cert }));

/** Byte ranges of IV and ciphertext in one of our DER objects (the ciphertext ends the object). */
function undetectable(der: Uint8Array): (i: number) => boolean {
  const ct = 32; // 20 bytes of content → two AES blocks
  const ctStart = der.length - ct;
  const ivStart = ctStart - 2 - 16; // IV, then the 80 20 header of encryptedContent
  return (i) => i >= ctStart || (i >= ivStart && i < ivStart + 16);
}

describe('truncated objects', () => {
  it('every strict prefix of our EnvelopedData (both modes) and of OpenSSL’s BER is refused', async () => {
    for (const der of [ours, oursOaepSki, streamed]) {
      expect((await open(der)).ok).toBe(true);
      for (let n = 0; n < der.length; n++) {
        const o = await open(der.subarray(0, n));
        expect(o.ok, `prefix ${n}/${der.length}`).toBe(false);
      }
    }
  });

  it('trailing bytes are refused', async () => {
    const o = await open(Uint8Array.from([...ours, 0]));
    expect(o).toEqual({ ok: false, code: 'cms_malformed' });
  });

  it('every strict prefix of a SignedData is refused', async () => {
    for (let n = 0; n < signed.length; n++) {
      const o = await outcome(verifySigned(signed.subarray(0, n)));
      expect(o.ok, `prefix ${n}`).toBe(false);
    }
  });
});

describe('random bit flips (seeded)', () => {
  it('1 000 flips in our EnvelopedData: typed error, or an undetectable IV/ciphertext flip', async () => {
    const rand = prng(20260301);
    const inPayload = undetectable(ours);
    const codes = new Map<string, number>();
    let undetected = 0;
    for (let k = 0; k < 1000; k++) {
      const der = ours.slice();
      const i = rand.int(der.length);
      flip(der, i, 1 << rand.int(8));
      const o = await open(der);
      if (o.ok) {
        const same = Buffer.compare(o.content, CONTENT) === 0;
        expect(same || inPayload(i), `flip at ${i} changed the plaintext silently`).toBe(true);
        if (!same) undetected++;
      } else {
        codes.set(o.code, (codes.get(o.code) ?? 0) + 1);
      }
    }
    expect(codes.get('cms_malformed')).toBeGreaterThan(0);
    expect(codes.get('cms_decrypt_failed')).toBeGreaterThan(0);
    // Only IV/ciphertext flips (48 of ~450 bytes) can go unnoticed.
    expect(undetected).toBeLessThan(200);
  });

  it('1 000 flips in OpenSSL’s streamed BER and in a SignedData: typed errors only', async () => {
    const rand = prng(7);
    for (let k = 0; k < 500; k++) {
      const der = streamed.slice();
      flip(der, rand.int(der.length), 1 << rand.int(8));
      await open(der);
    }
    for (let k = 0; k < 500; k++) {
      const der = signed.slice();
      flip(der, rand.int(der.length), 1 << rand.int(8));
      const o = await outcome(verifySigned(der));
      if (o.ok) expect(Buffer.compare(o.content, CONTENT)).toBe(0);
    }
  });

  it('random garbage and hostile lengths end quickly with cms_malformed', async () => {
    const rand = prng(99);
    const hostile = [
      Uint8Array.of(0x30, 0x84, 0xff, 0xff, 0xff, 0xff),
      Uint8Array.of(0x30, 0x80, 0x30, 0x80, 0x30, 0x80),
      Uint8Array.of(0x30, 0x85, 1, 0, 0, 0, 0, 0),
      new Uint8Array(200).fill(0x30).map((v, i) => (i % 2 ? 0x80 : v)), // 100 nested indefinite SEQUENCEs
      Uint8Array.of(0x30, 0x02, 0x00, 0x00),
      Uint8Array.of(0x1f, 0x81, 0x00),
    ];
    for (let k = 0; k < 200; k++) hostile.push(rand.bytes(1 + rand.int(64)));
    for (const der of hostile) {
      const o = await open(der);
      expect(o.ok).toBe(false);
    }
  });
});
