/**
 * The persisted revocation index against the pki reader: every entry of a generated
 * 100 000-entry CRL (and of a small CRL with odd serials) answers as parseCrl says, absent
 * serials are absent, and the serialized buffer reopens without parsing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCrl } from '../../src/lib/pki/crl.js';
import type { Crl, CrlEntry } from '../../src/lib/pki/crl-model.js';
import { NO_REASON, RevocationIndex, buildRevocationIndex } from '../../src/lib/trust/revocation-index.js';
import { bigCrl } from '../pki/fixtures/big-crl.js';
import { genKey, issueCert, issueCrl } from '../pki/fixtures/forge.js';

function entriesOf(crl: Crl): CrlEntry[] {
  return [...crl.entries.values()].flatMap((v) => (Array.isArray(v) ? v : [v]));
}

function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return Buffer.from(b).toString('hex');
}

describe('revocation index of a 100 000-entry CRL', () => {
  let crl: Crl;
  let index: RevocationIndex;
  let buffer: ArrayBuffer;

  beforeAll(async () => {
    const { der } = await bigCrl(100_000);
    crl = parseCrl(der);
    buffer = buildRevocationIndex(crl);
    // Reopen from a copy, as IndexedDB returns it after a reload.
    index = new RevocationIndex(buffer.slice(0));
  });

  it('holds every entry, in a compact buffer', () => {
    expect(index.size).toBe(100_000);
    expect(crl.size).toBe(100_000);
    // ≈ 8 (date) + 4 (hash) + 4 (offset) + 1 (reason) + 16 (serial) bytes an entry, + 1 % invalidity dates.
    expect(buffer.byteLength).toBeLessThan(100_000 * 34);
  });

  it('answers every listed serial exactly as parseCrl', () => {
    let reasons = 0;
    let invalidity = 0;
    // Plain comparisons, one expect at the end: 100 000 expect() calls take half a minute.
    const wrong: string[] = [];
    for (const e of entriesOf(crl)) {
      const hit = index.lookup(e.serial);
      if (!hit || hit.revocationDate !== e.revocationDate || hit.reason !== e.reason || hit.invalidityDate !== e.invalidityDate) wrong.push(e.serial);
      if (e.reason !== undefined) reasons++;
      if (e.invalidityDate !== undefined) invalidity++;
    }
    expect(wrong).toEqual([]);
    // The fixture has reasons on half the entries and invalidity dates on ~1 %.
    expect(reasons).toBe(50_000);
    expect(invalidity).toBeGreaterThan(900);
  });

  it('answers absent for serials not listed (random, and near misses of listed ones)', () => {
    const found: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const s = randomHex(16);
      if (!crl.entries.has(s) && index.lookup(s)) found.push(s);
    }
    for (const e of entriesOf(crl).slice(0, 5000)) {
      // Same bytes with one more leading zero, last byte changed, truncated: all distinct serials.
      const last = parseInt(e.serial.slice(-2), 16) ^ 1;
      const flipped = e.serial.slice(0, -2) + last.toString(16).padStart(2, '0');
      for (const s of ['00' + e.serial, flipped, e.serial.slice(0, -2)]) if (!crl.entries.has(s) && index.lookup(s)) found.push(s);
    }
    expect(found).toEqual([]);
  });

  it('accepts upper-case hex, refuses what is not hex', () => {
    const e = entriesOf(crl)[123]!;
    expect(index.lookup(e.serial.toUpperCase())).toEqual(index.lookup(e.serial));
    expect(() => index.lookup('xyz0')).toThrow(RangeError);
    expect(() => index.lookup('abc')).toThrow(RangeError);
    expect(() => index.lookup('')).toThrow(RangeError);
  });

  it('refuses a buffer that is not an index', () => {
    expect(() => new RevocationIndex(new ArrayBuffer(8))).toThrow(RangeError);
    const bad = buffer.slice(0);
    new Uint8Array(bad)[0] = 0;
    expect(() => new RevocationIndex(bad)).toThrow(/magic/);
    expect(() => new RevocationIndex(buffer.slice(0, buffer.byteLength >> 1))).toThrow(/truncated/);
  });
});

describe('revocation index of small CRLs', () => {
  it('handles serials of any length as encoded, reasons and their absence', async () => {
    const key = await genKey();
    const ca = await issueCert({ subject: 'CN=Index CA,O=Test,C=FR', key, ca: true });
    const serials: Array<number | bigint | string> = [1, 0x7f, 0x80, 0xff, 0x1000, 2n ** 64n + 5n, 2n ** 159n - 1n];
    const der = await issueCrl({
      issuerCert: ca,
      signer: key,
      entries: serials.map((serial, i) => ({
        serial,
        reason: i % 2 ? 'keyCompromise' : undefined,
        date: new Date(Date.UTC(2024, 0, 1 + i)),
      })),
    });
    const crl = parseCrl(der);
    const index = new RevocationIndex(buildRevocationIndex(crl));
    expect(index.size).toBe(serials.length);
    for (const e of entriesOf(crl)) {
      expect(index.lookup(e.serial)).toEqual(e.reason === undefined ? { revocationDate: e.revocationDate } : { revocationDate: e.revocationDate, reason: e.reason });
    }
    // 0x80 is encoded 0080: "80" alone is another serial.
    expect(index.lookup('0080')).toBeDefined();
    expect(index.lookup('80')).toBeUndefined();
    expect(index.lookup('02')).toBeUndefined();
    expect([...index.serialsHex()].sort()).toEqual(entriesOf(crl).map((e) => e.serial).sort());
    expect(NO_REASON).toBe(255);
  });

  it('works for a CRL without entries', async () => {
    const key = await genKey();
    const ca = await issueCert({ subject: 'CN=Empty CA,O=Test,C=FR', key, ca: true });
    const crl = parseCrl(await issueCrl({ issuerCert: ca, signer: key }));
    const index = new RevocationIndex(buildRevocationIndex(crl));
    expect(index.size).toBe(0);
    expect(index.lookup('01')).toBeUndefined();
  });

  it('keeps every entry when a serial is listed twice, and resolves hash collisions by bytes', () => {
    const entries = new Map<string, CrlEntry | CrlEntry[]>([
      ['0a', [{ serial: '0a', revocationDate: 1000, reason: 1 }, { serial: '0a', revocationDate: 2000 }]],
      ...Array.from({ length: 5000 }, (_, i) => {
        const s = (i + 0x100).toString(16).padStart(4, '0');
        return [s, { serial: s, revocationDate: i * 1000, reason: 4 }] as [string, CrlEntry];
      }),
    ]);
    const index = new RevocationIndex(buildRevocationIndex({ entries }));
    expect(index.size).toBe(5002);
    expect(index.lookup('0a')?.revocationDate).toBeOneOf([1000, 2000]);
    for (let i = 0; i < 5000; i++) expect(index.lookup((i + 0x100).toString(16).padStart(4, '0'))).toEqual({ revocationDate: i * 1000, reason: 4 });
    expect(index.lookup('1488')).toBeUndefined();
  });
});
