/**
 * Our RSP format (docs/returns/rsp.md): written and read back, the transfer checked against the
 * payments, every malformation refused with its code, every prefix and seeded bit flips typed.
 */
import { describe, expect, it } from 'vitest';
import { ReturnFormatError } from '../../src/lib/sesam/returns/errors.js';
import { buildRsp, parseRsp, type Rsp } from '../../src/lib/sesam/returns/rsp.js';
import { mulberry32 } from '../support/prng.js';

const RSP: Rsp = {
  organism: '01931',
  transfer: { date: '2026-12-15', totalCents: 3000 + 1840 },
  lines: [
    { type: 'payment', sender: '751234567', kind: 'FSE', number: '000000042', full: true, amountCents: 3000, date: '2026-12-15' },
    { type: 'payment', sender: '751234567', kind: 'FSE', number: '000000043', full: false, amountCents: 1840, date: '2026-12-15' },
    { type: 'rejection', sender: '751234567', kind: 'FSE', number: '000000044', code: 'R102', label: 'Droits du bénéficiaire fermés à la date des soins' },
    { type: 'notice', sender: '751234567', kind: 'FSE', number: '000000043', code: 'S12', label: 'Participation forfaitaire retenue' },
  ],
};
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ReturnFormatError);
    return (e as ReturnFormatError).code;
  }
  throw new Error('no error');
};

describe('teletrans-rsp-1', () => {
  it('is written as documented and read back', () => {
    const bytes = buildRsp(RSP);
    expect(new TextDecoder().decode(bytes)).toBe(
      'TELETRANS-RSP;1\nORGANISME;01931\nPAIEMENT;751234567;FSE;000000042;TOTAL;3000;2026-12-15\nPAIEMENT;751234567;FSE;000000043;PARTIEL;1840;2026-12-15\n' +
        'REJET;751234567;FSE;000000044;R102;Droits du bénéficiaire fermés à la date des soins\nSIGNALEMENT;751234567;FSE;000000043;S12;Participation forfaitaire retenue\nVIREMENT;2026-12-15;4840\nFIN;4\n',
    );
    expect(parseRsp(bytes)).toEqual(RSP);
    expect(parseRsp(enc(new TextDecoder().decode(bytes).replace(/\n/g, '\r\n')))).toEqual(RSP);
  });

  it('refuses what it cannot read back, each with its code', () => {
    expect(code(() => buildRsp({ ...RSP, transfer: { ...RSP.transfer, totalCents: 1 } }))).toBe('count_mismatch');
    expect(code(() => buildRsp({ ...RSP, lines: [] }))).toBe('no_lot');
    expect(code(() => buildRsp({ ...RSP, lines: [RSP.lines[0]!, RSP.lines[0]!] }))).toBe('duplicate_lot');
    expect(code(() => buildRsp({ ...RSP, organism: 'a b' }))).toBe('bad_field');
    expect(code(() => buildRsp({ ...RSP, transfer: { date: '2026-02-30', totalCents: 4840 } }))).toBe('bad_field');
    const text = new TextDecoder().decode(buildRsp(RSP));
    const cases: Array<[string, string]> = [
      [text.replace('TELETRANS-RSP;1', 'TELETRANS-RSP;2'), 'bad_header'],
      [text.replace('ORGANISME;01931', 'ORGANISMES;01931'), 'bad_line'],
      [text.replace('TOTAL;3000', 'COMPLET;3000'), 'bad_line'],
      [text.replace(';3000;', ';03000;'), 'bad_field'],
      [text.replace('2026-12-15\nPAIEMENT', '2026-13-15\nPAIEMENT'), 'bad_field'],
      [text.replace('000000044', '44'), 'bad_field'],
      [text.replace('R102', 'r102'), 'bad_field'],
      [text.replace('VIREMENT;2026-12-15;4840', 'VIREMENT;2026-12-15;4841'), 'count_mismatch'],
      [text.replace('FIN;4', 'FIN;3'), 'count_mismatch'],
      [text.replace('FIN;4\n', ''), 'missing_end'],
      [text.slice(0, -1), 'missing_end'],
      [text + 'X\n', 'trailing_data'],
      [text.replace('SIGNALEMENT;751234567;FSE;000000043', 'SIGNALEMENT;751234567;FSE;000000042').replace('PAIEMENT;751234567;FSE;000000043;PARTIEL', 'PAIEMENT;751234567;FSE;000000042;PARTIEL'), 'duplicate_lot'],
    ];
    for (const [t, c] of cases) expect(code(() => parseRsp(enc(t))), t).toBe(c);
    expect(code(() => parseRsp(Uint8Array.of(0xff, 0xfe)))).toBe('not_utf8');
    expect(code(() => parseRsp(new Uint8Array(300 * 1024)))).toBe('too_large');
  });

  it('every prefix and 2 000 bit flips: the same file or a typed error', () => {
    const bytes = buildRsp(RSP);
    for (let i = 0; i < bytes.length; i++) {
      try {
        parseRsp(bytes.subarray(0, i));
        throw new Error(`prefix ${i} read as valid`);
      } catch (e) {
        expect(e).toBeInstanceOf(ReturnFormatError);
      }
    }
    const rnd = mulberry32(580);
    for (let k = 0; k < 2000; k++) {
      const b = bytes.slice();
      const i = Math.floor(rnd() * b.length);
      b[i] = b[i]! ^ (1 << Math.floor(rnd() * 8));
      try {
        const r = parseRsp(b);
        // A flip may leave a valid file (a letter of a label): then it says what it says, whole.
        expect(r.lines).toHaveLength(4);
        expect(r.transfer.totalCents).toBe(r.lines.reduce((n, l) => n + (l.type === 'payment' ? l.amountCents : 0), 0));
      } catch (e) {
        expect(e).toBeInstanceOf(ReturnFormatError);
      }
    }
  });
});
