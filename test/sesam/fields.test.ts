/**
 * The message layer's fields: Content-Description values (every value of docs/domain/transmission.md §7),
 * return natures, subjects, compostage, routing, addresses, base64, the OCT framing.
 */
import { describe, expect, it } from 'vitest';
import {
  COUNTER_MODULUS, MAILBOXES, MemoryCompostageStore, SesamFieldError, SesamMessageError, checkAddrSpec,
  contentDescription, decodeBase64, describeNature, encodeBase64Mime, formatCompostage, formatSubject,
  nextCompostage, parseCompostage, parseContentDescription, parseMailbox, parseSubject, rfc5322Date, routeFlow,
  simulatorOctFramer, subjectPrefix, wallTime, type FlowKind, type FlowMode,
} from '../../src/lib/sesam/index.js';
import { hexOf, pseudoRandom, text } from './helpers';

function fieldError(fn: () => unknown, code: string, field?: string): SesamFieldError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SesamFieldError);
    expect((e as SesamFieldError).code).toBe(code);
    if (field) expect((e as SesamFieldError).field).toBe(field);
    return e as SesamFieldError;
  }
  throw new Error(`expected SesamFieldError ${code}`);
}

describe('Content-Description (docs/domain/transmission.md §7 table)', () => {
  const table: Array<[FlowKind, FlowMode, string, string]> = [
    ['FSE', 'real', 'FSE/B2/K', 'FSE/B2/ZK'],
    ['DRE', 'real', 'DRE/DR/K', 'DRE/DR/ZK'],
    ['FACTURE', 'real', 'FACTURE/SV/K', 'FACTURE/SV/ZK'],
    ['FSE', 'test', 'FSETEST/B2/K', 'FSETEST/B2/ZK'],
    ['DRE', 'test', 'DRETEST/DR/K', 'DRETEST/DR/ZK'],
    ['FSE', 'demo', 'FSEDEMO/B2/K', 'FSEDEMO/B2/ZK'],
    ['DRE', 'demo', 'DREDEMO/DR/K', 'DREDEMO/DR/ZK'],
  ];
  it.each(table)('%s %s → %s / %s', (kind, mode, plain, compressed) => {
    expect(contentDescription(kind, mode, false)).toBe(plain);
    expect(contentDescription(kind, mode, true)).toBe(compressed);
    for (const value of [plain, compressed]) {
      const d = parseContentDescription(value);
      expect(d.known).toMatchObject({ direction: 'outbound', flow: kind, mode });
      expect(d.encrypted).toBe(true);
      expect(d.compressed).toBe(value === compressed);
      expect(d.normMatches).toBe(true);
      expect(d.wellFormed).toBe(true);
    }
  });

  it('refuses FACTURE in test and demo (no such value in the documents)', () => {
    fieldError(() => contentDescription('FACTURE', 'test', false), 'invalid_combination', 'mode');
    fieldError(() => contentDescription('FACTURE', 'demo', true), 'invalid_combination', 'mode');
  });

  it('refuses unknown kinds and modes', () => {
    fieldError(() => contentDescription('RSP' as FlowKind, 'real', false), 'invalid_kind');
    fieldError(() => contentDescription('FSE', 'prod' as FlowMode, false), 'invalid_mode');
  });
});

describe('return natures', () => {
  const returns: Array<[string, string, boolean, FlowMode]> = [
    ['ARLTEST/NOEMIE', 'ARL', false, 'test'],
    ['RSPTEST/NOEMIE', 'RSP', false, 'test'],
    ['ARLDRETEST/NOEMIE', 'ARL', true, 'test'],
    ['RSPDRETEST/NOEMIE', 'RSP', true, 'test'],
    ['ARLDEMO/NOEMIE', 'ARL', false, 'demo'],
    ['ARLDREDEMO/NOEMIE', 'ARL', true, 'demo'],
    ['ARL/NOEMIE', 'ARL', false, 'real'],
    ['RSP/NOEMIE', 'RSP', false, 'real'],
    ['ARLDRE/NOEMIE', 'ARL', true, 'real'],
    ['RSPDRE/NOEMIE', 'RSP', true, 'real'],
  ];
  it.each(returns)('%s', (value, flow, dre, mode) => {
    for (const v of [value, value.toLowerCase(), `${value}/Z`, `${value.toLowerCase()}/z`, ` ${value} `]) {
      const d = parseContentDescription(v);
      expect(d.known).toEqual({ direction: 'return', flow, dre, mode, expectedNorm: 'NOEMIE' });
      expect(d.nature).toBe(value.split('/')[0]);
      expect(d.norm).toBe('NOEMIE');
      expect(d.compressed).toBe(/\/z$/i.test(v));
      expect(d.encrypted).toBe(false);
      expect(d.normMatches).toBe(true);
    }
  });

  it('ART/XX with profession codes', () => {
    const d = parseContentDescription('ART/IF');
    expect(d.known).toMatchObject({ flow: 'ART', direction: 'return' });
    expect(d.profession).toBe('infirmiers');
    expect(parseContentDescription('art/xx').profession).toBe('toutes professions');
    expect(parseContentDescription('ART/ZZ').profession).toBeUndefined();
    expect(describeNature(parseContentDescription('ART/MK'))).toContain('masseurs-kinésithérapeutes');
  });

  it('keeps unknown and odd natures instead of dropping them', () => {
    for (const v of ['LOI/NOEMIE', 'dLOI/X/Q', 'garbage', '', 'A/B/C/D', 'ARL/B2']) {
      const d = parseContentDescription(v);
      expect(d.raw).toBe(v.trim());
      expect(describeNature(d)).toBeTypeOf('string');
    }
    expect(parseContentDescription('LOI/NOEMIE')).toMatchObject({ nature: 'LOI', norm: 'NOEMIE', wellFormed: true });
    expect(parseContentDescription('LOI/NOEMIE').known).toBeUndefined();
    expect(parseContentDescription('garbage').wellFormed).toBe(false);
    expect(parseContentDescription('ARL/B2').normMatches).toBe(false);
    expect(parseContentDescription('FSE/B2/KQ').unknownFlags).toBe('Q');
    expect(describeNature(parseContentDescription('XYZ/1'))).toBe('nature inconnue « XYZ/1 »');
  });
});

describe('time and compostage (Europe/Paris by default)', () => {
  it('uses French local time, winter and summer', () => {
    expect(formatCompostage(new Date('2026-03-05T13:03:07Z'), 1)).toBe('2026030514030700001');
    expect(formatCompostage(new Date('2026-07-14T10:00:00.999Z'), 42)).toBe('2026071412000000042');
    expect(rfc5322Date(new Date('2026-03-05T13:03:07Z'))).toBe('Thu, 05 Mar 2026 14:03:07 +0100');
    expect(rfc5322Date(new Date('2026-07-14T10:00:00Z'))).toBe('Tue, 14 Jul 2026 12:00:00 +0200');
    expect(rfc5322Date(new Date('2026-12-31T23:30:00Z'))).toBe('Fri, 01 Jan 2027 00:30:00 +0100');
    expect(rfc5322Date(new Date('2026-03-05T13:03:07Z'), 'UTC')).toBe('Thu, 05 Mar 2026 13:03:07 +0000');
    expect(rfc5322Date(new Date('2026-03-05T13:03:07Z'), 'America/Cayenne')).toBe('Thu, 05 Mar 2026 10:03:07 -0300');
    expect(formatCompostage(new Date('2026-03-05T13:03:07Z'), 1, 'Indian/Reunion')).toBe('2026030517030700001');
  });

  it('repeats wall times over the October change, where the counter keeps them apart', () => {
    // 00:30Z and 01:30Z on 25 Oct 2026 are both 02:30 in Paris.
    const a = formatCompostage(new Date('2026-10-25T00:30:00Z'), 7);
    const b = formatCompostage(new Date('2026-10-25T01:30:00Z'), 8);
    expect(a.slice(0, 14)).toBe(b.slice(0, 14));
    expect(a).not.toBe(b);
    expect(wallTime(new Date('2026-10-25T00:30:00Z')).offsetMinutes).toBe(120);
    expect(wallTime(new Date('2026-10-25T01:30:00Z')).offsetMinutes).toBe(60);
  });

  it('wraps the 5-digit counter modulo 100000', () => {
    const at = new Date('2026-03-05T13:03:07Z');
    expect(COUNTER_MODULUS).toBe(100_000);
    expect(formatCompostage(at, 99_999).slice(14)).toBe('99999');
    expect(formatCompostage(at, 100_000).slice(14)).toBe('00000');
    expect(formatCompostage(at, 100_001).slice(14)).toBe('00001');
    fieldError(() => formatCompostage(at, -1), 'invalid_counter');
    fieldError(() => formatCompostage(at, 1.5), 'invalid_counter');
    fieldError(() => formatCompostage(new Date(NaN), 1), 'invalid_date');
    fieldError(() => formatCompostage(at, 1, 'Mars/Olympus'), 'invalid_date');
  });

  it('parses and checks compostages', () => {
    expect(parseCompostage('2026030514030700001')).toEqual({
      timestamp: '20260305140307', year: 2026, month: 3, day: 5, hour: 14, minute: 3, second: 7, counter: 1,
    });
    for (const bad of ['202603051403070000', '2026023014030700001', '2026030524030700001', 'x026030514030700001', '20260305140307000011']) {
      fieldError(() => parseCompostage(bad), 'invalid_compostage');
    }
  });

  it('draws the counter from the store, then reads the injected clock', async () => {
    const store = new MemoryCompostageStore(99_998);
    const clock = () => new Date('2026-03-05T13:03:07Z');
    expect((await nextCompostage(store, clock)).compostage).toBe('2026030514030799999');
    expect(await nextCompostage(store, clock)).toMatchObject({ compostage: '2026030514030700000', counter: 100_000 });
  });
});

describe('subject (docs/domain/transmission.md §7, §8)', () => {
  const base = { prefix: 'SV' as const, version: '140700', exercice: '123456789', compostage: '2026030514030700001', invoices: 25 };

  it('formats SV and DR subjects', () => {
    expect(formatSubject(base)).toBe('SV140700/123456789/2026030514030700001/00025');
    expect(formatSubject({ ...base, prefix: 'DR', version: '140610', invoices: 1 })).toBe('DR140610/123456789/2026030514030700001/00001');
    expect(formatSubject({ ...base, invoices: 99_999 })).toMatch(/\/99999$/);
  });

  it('chooses the prefix from the kind; FACTURE is SV unless only DRE lots', () => {
    expect(subjectPrefix('FSE')).toBe('SV');
    expect(subjectPrefix('DRE')).toBe('DR');
    expect(subjectPrefix('FACTURE')).toBe('SV');
    expect(subjectPrefix('FACTURE', ['FSE', 'DRE'])).toBe('SV');
    expect(subjectPrefix('FACTURE', ['DRE', 'DRE'])).toBe('DR');
  });

  it('refuses each bad field with its own code', () => {
    fieldError(() => formatSubject({ ...base, version: '14070' }), 'invalid_version', 'version');
    fieldError(() => formatSubject({ ...base, version: '14070a' }), 'invalid_version');
    fieldError(() => formatSubject({ ...base, exercice: '12/34' }), 'invalid_exercice', 'exercice');
    fieldError(() => formatSubject({ ...base, exercice: '' }), 'invalid_exercice');
    fieldError(() => formatSubject({ ...base, exercice: 'x'.repeat(21) }), 'invalid_exercice');
    fieldError(() => formatSubject({ ...base, compostage: '2026133114030700001' }), 'invalid_compostage');
    fieldError(() => formatSubject({ ...base, invoices: 0 }), 'invalid_invoice_count', 'invoices');
    fieldError(() => formatSubject({ ...base, invoices: 100_000 }), 'invalid_invoice_count');
    fieldError(() => formatSubject({ ...base, invoices: 2.5 }), 'invalid_invoice_count');
    fieldError(() => formatSubject({ ...base, prefix: 'XX' as 'SV' }), 'invalid_kind');
  });

  it('parses invoice, ART and other subjects', () => {
    expect(parseSubject('SV140700/123456789/2026030514030700001/00025')).toMatchObject({
      type: 'invoice', prefix: 'SV', version: '140700', exercice: '123456789', compostage: '2026030514030700001', invoices: 25,
      compostageParts: { counter: 1, hour: 14 },
    });
    expect(parseSubject('dr140610/2A1234567/2026030514030700001/00003')).toMatchObject({ type: 'invoice', prefix: 'DR', exercice: '2A1234567' });
    expect(parseSubject('ART/000123456/202603051403')).toEqual({ type: 'art', raw: 'ART/000123456/202603051403', psNumber: '000123456', timestamp: '202603051403' });
    expect(parseSubject('Re: hello')).toEqual({ type: 'other', raw: 'Re: hello' });
    expect(parseSubject('SV140700/1/2026023014030700001/00025').type).toBe('other'); // 30 February
    expect(parseSubject('ART/1/202613011200').type).toBe('other');
  });
});

describe('routing (docs/domain/transmission.md §2 table, §8)', () => {
  it('direct mode: production and test mailboxes', () => {
    expect(routeFlow('FSE', 'real')).toEqual({ to: 'amo_pj.reel@reel.rss.fr', role: 'amo', certificateEmail: 'amo_pj.reel@reel.rss.fr', platform: 'production' });
    expect(routeFlow('DRE', 'real')).toEqual({ to: 'amc_pj.reel@reel.rss.fr', role: 'amc', certificateEmail: 'amc_pj.reel@reel.rss.fr', platform: 'production' });
    for (const mode of ['test', 'demo'] as const) {
      expect(routeFlow('FSE', mode)).toMatchObject({ to: 'amo_pj.test@test.rss.fr', role: 'amo', platform: 'test' });
      expect(routeFlow('DRE', mode)).toMatchObject({ to: 'amc_pj.test@test.rss.fr', role: 'amc', platform: 'test' });
    }
    expect(MAILBOXES.amo.real).toBe('amo_pj.reel@reel.rss.fr');
  });

  it('OCT mode: the configured address and its certificate, for every kind', () => {
    const oct = { address: 'factures@oct.example.fr', number: '123456789' };
    for (const kind of ['FSE', 'DRE', 'FACTURE'] as const) {
      expect(routeFlow(kind, 'real', oct)).toEqual({ to: oct.address, role: 'oct', certificateEmail: oct.address, platform: 'oct' });
    }
    fieldError(() => routeFlow('FACTURE', 'real'), 'missing_oct');
    fieldError(() => routeFlow('FSE', 'real', { address: 'not an address' }), 'invalid_address');
  });
});

describe('addresses', () => {
  it('accepts bare and named mailboxes, refuses injection', () => {
    expect(checkAddrSpec('ps.nom@medecin.example.fr', 'from')).toBe('ps.nom@medecin.example.fr');
    expect(parseMailbox('Dr Martin <ps@medecin.example.fr>', 'from')).toEqual({ name: 'Dr Martin', address: 'ps@medecin.example.fr' });
    expect(parseMailbox('"Dr Martin" <ps@medecin.example.fr>', 'from')).toEqual({ name: 'Dr Martin', address: 'ps@medecin.example.fr' });
    for (const bad of ['ps@medecin.example.fr\r\nBcc: x@y.fr', 'a@b', 'a b@c.fr', '@c.fr', 'a@-c.fr', 'a,b@c.fr', '<a@b.fr', 'a@b.fr>', 'Dr "X" <a@b.fr>']) {
      fieldError(() => parseMailbox(bad, 'from'), 'invalid_address', 'from');
    }
  });
});

describe('base64', () => {
  it('writes 76-column CRLF lines and reads them back', () => {
    for (const n of [0, 1, 2, 3, 56, 57, 58, 1000, 4096]) {
      const data = pseudoRandom(n, n + 1);
      const b64 = text(encodeBase64Mime(data));
      expect(b64).toBe(n === 0 ? '' : Buffer.from(data).toString('base64').replace(/.{76}/g, '$&\r\n').replace(/(?<!\r\n)$/, '\r\n'));
      expect(hexOf(decodeBase64(b64))).toBe(hexOf(data));
      expect(hexOf(decodeBase64(b64.replace(/\r\n/g, '')))).toBe(hexOf(data));
      expect(hexOf(decodeBase64(b64.replace(/\r\n/g, '\n')))).toBe(hexOf(data));
    }
  });

  it('refuses malformed base64 with bad_base64', () => {
    for (const bad of ['QUJD*', 'QUJ', 'QU=D', 'QQ==QUJD', 'QR==', 'QUI=x', 'é']) {
      expect(() => decodeBase64(bad)).toThrow(SesamMessageError);
      try {
        decodeBase64(bad);
      } catch (e) {
        expect((e as SesamMessageError).code).toBe('bad_base64');
      }
    }
  });
});

describe('OCT single file: simulator framing (not the norm)', () => {
  const lots = [
    { kind: 'FSE' as const, data: pseudoRandom(300, 3) },
    { kind: 'DRE' as const, data: pseudoRandom(17, 4) },
    { kind: 'FSE' as const, data: new Uint8Array([13, 10, 13, 10]) },
  ];
  const file = { header: { fileName: 'F0001', application: 'TO' as const, recipientType: 'OT' as const, recipientNumber: '123456789' }, lots, messageZone: 'Envoi du jour' };

  it('frames group 12 fields 2, 5, 6, 7 and group 14 field 3, and reads them back', () => {
    const bytes = simulatorOctFramer.frame(file);
    const t = text(bytes);
    expect(t.startsWith('#TELETRANS-OCT-SIM 1\r\n12|2=F0001|5=TO|6=OT|7=123456789\r\nLOT|FSE|300\r\n')).toBe(true);
    expect(t.endsWith('\r\n14|3=Envoi du jour|LOTS=3\r\n')).toBe(true);
    expect(simulatorOctFramer.unframe(bytes)).toEqual(file);
  });

  it('refuses bad fields and malformed frames', () => {
    fieldError(() => simulatorOctFramer.frame({ ...file, messageZone: 'a|b' }), 'invalid_oct_field', 'messageZone');
    fieldError(() => simulatorOctFramer.frame({ ...file, header: { ...file.header, recipientNumber: '' } }), 'invalid_oct_field');
    fieldError(() => simulatorOctFramer.frame({ ...file, header: { ...file.header, fileName: '../x' } }), 'invalid_oct_field');
    fieldError(() => simulatorOctFramer.frame({ ...file, lots: [] }), 'invalid_lot');
    const bytes = simulatorOctFramer.frame(file);
    for (const bad of [bytes.subarray(0, bytes.length - 5), bytes.subarray(0, 100), new Uint8Array(0), pseudoRandom(500)]) {
      expect(() => simulatorOctFramer.unframe(bad)).toThrow(expect.objectContaining({ code: 'oct_frame_malformed' }));
    }
  });
});
