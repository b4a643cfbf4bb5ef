/**
 * Our ARL format (docs/returns/arl.md): written and read back, every malformation refused with its
 * code, every prefix and a thousand bit flips giving typed errors (or a file that reads back the
 * same), and the acknowledgements matched to the lots of the file they answer.
 */
import { describe, expect, it } from 'vitest';
import type { LotRecord } from '../../src/lib/billing/lifecycle.js';
import { buildArl, matchArl, parseArl, type Arl } from '../../src/lib/sesam/returns/arl.js';
import { ReturnFormatError } from '../../src/lib/sesam/returns/errors.js';

const COMPOSTAGE = '2026120614300500001';
const ARL: Arl = {
  fileName: 'F000123.SIM',
  compostage: COMPOSTAGE,
  lots: [
    { sender: '999000001', kind: 'FSE', number: '000042', documents: 3, accepted: true },
    { sender: '999000001', kind: 'DRE', number: '000043', documents: 1, accepted: false, reasonCode: 'R12', reason: 'Total du lot différent de la somme des factures' },
  ],
};
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ReturnFormatError) return e.code;
    throw e;
  }
  return 'ok';
}

describe('teletrans-arl-1', () => {
  it('writes the documented lines and reads them back (CR LF tolerated)', () => {
    const bytes = buildArl(ARL);
    expect(dec(bytes)).toBe(
      'TELETRANS-ARL;1\nFICHIER;F000123.SIM;2026120614300500001\nLOT;999000001;FSE;000042;3;ACCEPTE\nLOT;999000001;DRE;000043;1;REJETE;R12;Total du lot différent de la somme des factures\nFIN;2\n',
    );
    expect(parseArl(bytes)).toEqual(ARL);
    expect(parseArl(enc(dec(bytes).replace(/\n/g, '\r\n')))).toEqual(ARL);
  });

  const good = dec(buildArl(ARL));
  it.each([
    ['not_utf8', new Uint8Array([...enc('TELETRANS-ARL;1\n'), 0xff, 0x0a])],
    ['too_large', enc(good + 'x'.repeat(9000))],
    ['bad_header', enc(good.replace('TELETRANS-ARL;1', 'TELETRANS-ARL;2'))],
    ['bad_line', enc(good.replace('FICHIER;', 'FILE;'))],
    ['bad_field', enc(good.replace(COMPOSTAGE, '2026'))],
    ['bad_field', enc(good.replace('999000001;FSE', '99900001;FSE'))],
    ['bad_field', enc(good.replace(';FSE;', ';XYZ;'))],
    ['bad_field', enc(good.replace(';3;ACCEPTE', ';0;ACCEPTE'))],
    ['bad_field', enc(good.replace(';R12;', ';r12;'))],
    ['bad_field', enc(good.replace('Total du lot', 'Total\tdu lot'))],
    ['bad_line', enc(good.replace(';ACCEPTE', ';ACCEPTE;en plus'))],
    ['bad_line', enc(good.replace(';REJETE;R12;', ';REJETE;'))],
    ['duplicate_lot', enc(good.replace('DRE;000043;1;REJETE;R12;Total du lot différent de la somme des factures', 'FSE;000042;3;ACCEPTE'))],
    ['no_lot', enc('TELETRANS-ARL;1\nFICHIER;F1;2026120614300500001\nFIN;0\n')],
    ['too_many_lots', enc(`TELETRANS-ARL;1\nFICHIER;F1;${COMPOSTAGE}\n${Array.from({ length: 21 }, (_, i) => `LOT;999000001;FSE;${String(i + 1).padStart(6, '0')};1;ACCEPTE\n`).join('')}FIN;21\n`)],
    ['count_mismatch', enc(good.replace('FIN;2', 'FIN;1'))],
    ['missing_end', enc(good.replace('FIN;2\n', ''))],
    ['missing_end', enc(good.slice(0, -1))],
    ['trailing_data', enc(good + 'LOT;999000001;FSE;000044;1;ACCEPTE\n')],
  ])('refuses with %s', (code, bytes) => {
    expect(codeOf(() => parseArl(bytes))).toBe(code);
  });

  it('refuses to write what it would not read', () => {
    expect(codeOf(() => buildArl({ ...ARL, fileName: 'F 1' }))).toBe('bad_field');
    expect(codeOf(() => buildArl({ ...ARL, lots: [] }))).toBe('no_lot');
    expect(codeOf(() => buildArl({ ...ARL, lots: [ARL.lots[0]!, ARL.lots[0]!] }))).toBe('duplicate_lot');
    expect(codeOf(() => buildArl({ ...ARL, lots: [{ ...ARL.lots[0]!, documents: 51 }] }))).toBe('bad_field');
    expect(codeOf(() => buildArl({ ...ARL, lots: [{ sender: '999000001', kind: 'FSE', number: '000001', documents: 1, accepted: false, reasonCode: 'R1', reason: 'a;b' }] }))).toBe('bad_field');
  });

  it('every prefix of a file is a typed error, never a shorter valid file', () => {
    const bytes = buildArl(ARL);
    for (let n = 0; n < bytes.length; n++) expect(codeOf(() => parseArl(bytes.subarray(0, n))), `prefix ${n}`).not.toBe('ok');
  });

  it('a thousand bit flips: a typed error, or a file that reads back the same once rewritten', () => {
    const bytes = buildArl(ARL);
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let refused = 0;
    let structural = 0;
    for (let k = 0; k < 1000; k++) {
      const flipped = bytes.slice();
      const i = rand(flipped.length);
      flipped[i]! ^= 1 << rand(8);
      // A separator or a line break changed: the lines' shape changes, and must be refused.
      const shape = bytes[i] === 0x3b || bytes[i] === 0x0a;
      if (shape) structural++;
      let read: Arl | undefined;
      try {
        read = parseArl(flipped);
      } catch (e) {
        expect(e).toBeInstanceOf(ReturnFormatError);
        refused++;
        continue;
      }
      expect(shape, `flip at ${i} read as valid`).toBe(false);
      // Read as valid (a digit or a letter of the reason changed): it is what it says.
      expect(parseArl(buildArl(read))).toEqual(read);
    }
    expect(structural).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(structural);
  });
});

describe('matchArl', () => {
  const lot = (number: string, kind: 'FSE' | 'DRE', documents: number, fileName = 'F000123.SIM', compostage = COMPOSTAGE): LotRecord => ({
    id: `999000001:${kind}:${number}`,
    kind,
    number,
    sender: '999000001',
    destination: { kind: 'AMO', scheme: '01', fund: '751', organism: '01751' },
    fileName,
    documents: Array.from({ length: documents }, (_, i) => ({ invoiceId: `i${number}-${i}`, kind, number: String(i + 1).padStart(9, '0') })),
    state: 'delivered',
    transmissions: [{ compostage, subject: `SV140700/2026/${compostage}/00001`, queuedAt: '2026-12-06T13:30:05.000Z' }],
    history: [],
  });

  it('pairs each line with the lot of that file and compostage; says what is unknown and what is still waiting', () => {
    const fse = lot('000042', 'FSE', 3);
    const dre = lot('000043', 'DRE', 1);
    const third = lot('000044', 'FSE', 2);
    const otherFile = lot('000045', 'FSE', 3, 'F000124.SIM');
    const resent = lot('000042', 'FSE', 3, 'F000123.SIM', '2026120509000000007');
    const arl: Arl = { ...ARL, lots: [...ARL.lots, { sender: '999000001', kind: 'FSE', number: '000045', documents: 3, accepted: true }] };
    const m = matchArl(arl, [fse, dre, third, otherFile, resent]);
    expect(m.matched.map((x) => [x.lot.id, x.ack.accepted])).toEqual([
      ['999000001:FSE:000042', true],
      ['999000001:DRE:000043', false],
    ]);
    expect(m.matched[0]!.lot).toBe(fse);
    expect(m.unknown.map((l) => l.number)).toEqual(['000045']);
    expect(m.missing.map((l) => l.id)).toEqual(['999000001:FSE:000044']);
  });

  it('a line whose count of invoices differs acknowledges nothing', () => {
    const m = matchArl(ARL, [lot('000042', 'FSE', 2), lot('000043', 'DRE', 1)]);
    expect(m.matched.map((x) => x.lot.number)).toEqual(['000043']);
    expect(m.unknown.map((l) => l.number)).toEqual(['000042']);
    expect(m.missing.map((l) => l.number)).toEqual(['000042']);
  });
});
