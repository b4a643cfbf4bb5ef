/**
 * The SMTP message: every kind × mode × compression × structure composed by packageLot, read
 * back by an independent parser (Python's `email` package) and by ours; then the parser's
 * tolerance (casing, folding, LF, base64 shapes, returns) and its typed refusals of malformed
 * or hostile input.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  MemoryCompostageStore, SesamFieldError, SesamMessageError, composeMessage, packageLot, parseMessage, reservedCompostages,
  simulatorOctFramer, type FlowKind, type FlowMode, type MessageStructure, type PackagedMessage, type ParsedMessage,
} from '../../src/lib/sesam/index.js';
import {
  ascii, base64Lines, fakeDecrypt, fakeEncrypt, hexOf, onlyCrlf, pseudoRandom, pythonParse, sha256, text, type PyResult,
} from './helpers';

const AT = new Date('2026-03-05T13:03:07Z'); // 14:03:07 in Paris (CET)
const DATE_HEADER = 'Thu, 05 Mar 2026 14:03:07 +0100';
const FROM = 'ps.martin@medecin.example.fr';
const OCT = { address: 'factures@oct.example.fr', number: '123456789' };
const LOT = pseudoRandom(5000, 7);
const FSE_LOT = pseudoRandom(1200, 8);
const DRE_LOT = pseudoRandom(700, 9);

interface Case {
  kind: FlowKind;
  mode: FlowMode;
  compressed: boolean;
  structure: MessageStructure;
}

const cases: Case[] = [];
for (const kind of ['FSE', 'DRE', 'FACTURE'] as const)
  for (const mode of ['real', 'test', 'demo'] as const)
    for (const compressed of [false, true])
      for (const structure of ['single', 'multipart'] as const) cases.push({ kind, mode, compressed, structure });

const valid = cases.filter((c) => c.kind !== 'FACTURE' || c.mode === 'real');
const name = (c: Case): string => `${c.kind} ${c.mode} ${c.compressed ? 'compressed' : 'plain'} ${c.structure}`;

const EXPECTED_TO: Record<string, string> = {
  'FSE real': 'amo_pj.reel@reel.rss.fr',
  'FSE test': 'amo_pj.test@test.rss.fr',
  'FSE demo': 'amo_pj.test@test.rss.fr',
  'DRE real': 'amc_pj.reel@reel.rss.fr',
  'DRE test': 'amc_pj.test@test.rss.fr',
  'DRE demo': 'amc_pj.test@test.rss.fr',
  'FACTURE real': OCT.address,
};
const NATURE: Record<string, string> = {
  'FSE real': 'FSE/B2', 'FSE test': 'FSETEST/B2', 'FSE demo': 'FSEDEMO/B2',
  'DRE real': 'DRE/DR', 'DRE test': 'DRETEST/DR', 'DRE demo': 'DREDEMO/DR',
  'FACTURE real': 'FACTURE/SV',
};

async function build(c: Case, store = new MemoryCompostageStore(41)): Promise<PackagedMessage> {
  return packageLot({
    kind: c.kind,
    mode: c.mode,
    compressed: c.compressed,
    structure: c.structure,
    from: FROM,
    ...(c.kind === 'FACTURE'
      ? { oct: OCT, facture: { lots: [{ kind: 'FSE', data: FSE_LOT }, { kind: 'DRE', data: DRE_LOT }], messageZone: 'zone libre' } }
      : { file: { name: 'LOT00042', data: LOT } }),
    exercice: '123456789',
    invoices: 25,
    version: '140700',
    encrypt: fakeEncrypt,
    compostage: store,
    clock: () => AT,
    ...(c.structure === 'multipart' ? { preamble: 'Message SESAM-Vitale.', epilogue: 'Fin.' } : {}),
  });
}

describe('composed messages, read by Python email and by our parser', () => {
  const built: PackagedMessage[] = [];
  let py: PyResult[] = [];
  let ours: ParsedMessage[] = [];

  beforeAll(async () => {
    for (const c of valid) built.push(await build(c));
    py = await pythonParse(built.map((b) => b.message));
    ours = built.map((b) => parseMessage(b.message));
  });

  it('covers the whole matrix (FACTURE only in real mode)', () => {
    expect(valid).toHaveLength(28);
    expect(py).toHaveLength(28);
  });

  it.each(valid.map((c, i) => [name(c), c, i] as const))('%s', (_n, c, i) => {
    const b = built[i]!;
    const p = py[i]!;
    const o = ours[i]!;
    const key = `${c.kind} ${c.mode}`;
    const description = `${NATURE[key]}/${c.compressed ? 'ZK' : 'K'}`;
    const compostage = '2026030514030700042';
    const prefix = c.kind === 'DRE' ? 'DR' : 'SV';
    const subject = `${prefix}140700/123456789/${compostage}/00025`;
    const filename = c.kind === 'FACTURE' ? `F${compostage}.pkcs7` : 'LOT00042.pkcs7';
    const messageId = b.messageId;
    expect(messageId).toMatch(new RegExp(`^<${compostage}\\.[0-9a-f]{32}@medecin\\.example\\.fr>$`));

    // Python: no defects, every header value exactly.
    expect(p.error).toBeUndefined();
    expect(p.defects).toEqual([]);
    const envelope: Array<[string, string]> = [
      ['Date', DATE_HEADER],
      ['From', FROM],
      ['To', EXPECTED_TO[key]!],
      ['Message-ID', messageId],
      ['Subject', subject],
      ['MIME-Version', '1.0'],
    ];
    const entity: Array<[string, string]> = [
      ['Content-Type', 'Application/EDI-consent'],
      ['Content-Transfer-Encoding', 'BASE64'],
      ['Content-Description', description],
      ['Content-Disposition', `attachment; filename="${filename}"`],
    ];
    if (c.structure === 'single') {
      expect(p.headers).toEqual([...envelope, ...entity]);
      expect(p.is_multipart).toBe(false);
    } else {
      expect(p.headers).toEqual([...envelope, ['Content-Type', `multipart/mixed; boundary="${p.boundary}"`]]);
      expect(p.is_multipart).toBe(true);
      expect(p.content_type).toBe('multipart/mixed');
      expect(p.boundary).toMatch(/^=_teletrans_[0-9a-f]{24}$/);
      // The CRLF before the first delimiter belongs to the delimiter (RFC 2046 §5.1.1).
      expect(p.preamble).toBe('Message SESAM-Vitale.');
      expect(p.epilogue).toBe('Fin.\r\n');
      expect(p.entity!.headers).toEqual(entity);
    }
    expect(p.leaf_count).toBe(1);
    expect(p.date).toBe('2026-03-05T14:03:07+01:00');
    expect(p.from_addr).toBe(FROM);
    expect(p.to_addr).toBe(EXPECTED_TO[key]);
    expect(p.subject).toBe(subject);
    expect(p.mime_version).toBe('1.0');
    expect(p.entity).toMatchObject({
      content_type: 'application/edi-consent',
      content_type_raw: 'Application/EDI-consent',
      transfer_encoding: 'BASE64',
      content_description: description,
      content_disposition: 'attachment',
      filename,
      sha256: sha256(b.attachment),
      length: b.attachment.length,
    });

    // Wire format: CRLF everywhere, base64 in 76-column lines.
    const wire = text(b.message);
    expect(onlyCrlf(b.message)).toBe(true);
    const lines = base64Lines(wire, c.structure === 'multipart' ? (p.boundary ?? undefined) : undefined);
    expect(lines.length).toBe(Math.ceil(Math.ceil(b.attachment.length / 3) * 4 / 76));
    lines.slice(0, -1).forEach((l) => expect(l).toMatch(/^[A-Za-z0-9+/]{76}$/));
    expect(lines.at(-1)).toMatch(/^[A-Za-z0-9+/]{1,76}={0,2}$/);
    // RFC 5322 §2.1.1: 998 at most; 78 recommended, which only the Message-ID may pass (it cannot fold).
    const wireLines = wire.split('\r\n');
    expect(wireLines.every((l) => l.length <= 998)).toBe(true);
    expect(wireLines.filter((l) => l.length > 78 && !l.startsWith('Message-ID: '))).toEqual([]);

    // Our parser.
    expect(o.structure).toBe(c.structure);
    expect(o.headers.slice(0, 6).map((h) => [h.name, h.value])).toEqual(envelope);
    // Single part: the message is the entity, so its headers are the envelope's plus the content ones.
    expect(o.entityHeaders.map((h) => [h.name, h.value])).toEqual(c.structure === 'single' ? [...envelope, ...entity] : entity);
    expect(o.contentType).toBe('Application/EDI-consent');
    expect(o.transferEncoding).toBe('BASE64');
    expect(o.filename).toBe(filename);
    expect(hexOf(o.attachment)).toBe(hexOf(b.attachment));
    expect(o.description).toMatchObject({ raw: description, compressed: c.compressed, encrypted: true, known: { direction: 'outbound', flow: c.kind, mode: c.mode } });
    expect(o.subjectParsed).toMatchObject({ type: 'invoice', prefix, version: '140700', exercice: '123456789', compostage, invoices: 25 });

    // The attachment is the encryptor's output over the (compressed) file.
    const plain = fakeDecrypt(o.attachment, c.compressed);
    expect(hexOf(plain)).toBe(hexOf(b.file));
    if (c.kind === 'FACTURE') {
      const oct = simulatorOctFramer.unframe(plain);
      expect(oct.header).toEqual({ fileName: `F${compostage}`, application: 'TO', recipientType: 'OT', recipientNumber: OCT.number });
      expect(oct.lots).toEqual([{ kind: 'FSE', data: FSE_LOT }, { kind: 'DRE', data: DRE_LOT }]);
      expect(oct.messageZone).toBe('zone libre');
    } else {
      expect(hexOf(plain)).toBe(hexOf(LOT));
    }
  });

  it('refuses FACTURE in test and demo modes before drawing a counter', async () => {
    const store = new MemoryCompostageStore();
    for (const c of cases.filter((x) => x.kind === 'FACTURE' && x.mode !== 'real')) {
      await expect(build(c, store)).rejects.toMatchObject({ code: 'invalid_combination' });
    }
    expect(await store.next()).toBe(1);
  });

  it('gives every message its own compostage and Message-ID (a retransmission too)', async () => {
    const store = new MemoryCompostageStore(99_998);
    const c = valid[0]!;
    const msgs = [await build(c, store), await build(c, store), await build(c, store)];
    expect(msgs.map((m) => m.compostage)).toEqual(['2026030514030799999', '2026030514030700000', '2026030514030700001']);
    expect(new Set(msgs.map((m) => m.messageId)).size).toBe(3);
    expect(new Set(msgs.map((m) => m.subject)).size).toBe(3);
  });

  it('a block reserved ahead is handed out in order, then the store goes on; a failed reservation fails, never falls back', async () => {
    const store = new MemoryCompostageStore(10);
    const ahead = reservedCompostages(store, 3);
    expect(await store.next()).toBe(14); // the block 11–13 is already taken
    expect(await Promise.all([ahead.next(), ahead.next(), ahead.next(), ahead.next()])).toEqual([11, 12, 13, 15]);
    // A store that cannot reserve is asked value by value.
    let v = 0;
    const plain = reservedCompostages({ next: async () => ++v }, 2);
    expect([await plain.next(), await plain.next()]).toEqual([1, 2]);
    // A damaged counter: every message waiting on the block fails with its error.
    const damaged = Object.assign(new Error('compteur illisible'), { code: 'counter_corrupt' });
    let fallbacks = 0;
    const broken = reservedCompostages({ next: async () => ++fallbacks, reserve: () => Promise.reject(damaged) }, 2);
    await expect(broken.next()).rejects.toBe(damaged);
    await expect(broken.next()).rejects.toBe(damaged);
    expect(fallbacks).toBe(0);
    for (const n of [0, -1, 1.5, 1001]) expect(() => reservedCompostages(store, n)).toThrow(SesamFieldError);
  });

  it('FACTURE with only DRE lots takes the DR prefix; a prebuilt FACTURE file is sent as is', async () => {
    const dreOnly = await packageLot({
      kind: 'FACTURE', mode: 'real', from: FROM, oct: OCT, exercice: '1', invoices: 2, version: '140700',
      facture: { lots: [{ kind: 'DRE', data: DRE_LOT }], fileName: 'OCTFILE1' },
      encrypt: fakeEncrypt, compostage: new MemoryCompostageStore(), clock: () => AT,
    });
    expect(dreOnly.subject).toBe('DR140700/1/2026030514030700001/00002');
    expect(dreOnly.filename).toBe('OCTFILE1.pkcs7');
    const again = await packageLot({
      kind: 'FACTURE', mode: 'real', from: FROM, oct: OCT, exercice: '1', invoices: 2, version: '140700',
      file: { name: 'OCTFILE1', data: dreOnly.file }, lotKinds: ['DRE'],
      encrypt: fakeEncrypt, compostage: new MemoryCompostageStore(1), clock: () => AT,
    });
    expect(hexOf(again.file)).toBe(hexOf(dreOnly.file));
    expect(again.subject).toBe('DR140700/1/2026030514030700002/00002');
  });

  it('the encryptor is told whose certificate: an FSE for the AMO, a DRE for the AMC, the OCT in OCT mode', async () => {
    const seen: string[] = [];
    const encrypt = async (p: Uint8Array, route: { certificateEmail: string; role: string }): Promise<Uint8Array> => (seen.push(`${route.role}:${route.certificateEmail}`), fakeEncrypt(p));
    const common = { mode: 'test' as const, from: FROM, exercice: '1', invoices: 1, version: '140700', file: { name: 'L', data: LOT }, encrypt, compostage: new MemoryCompostageStore(), clock: () => AT };
    await packageLot({ ...common, kind: 'FSE' });
    await packageLot({ ...common, kind: 'DRE' });
    await packageLot({ ...common, kind: 'DRE', oct: OCT });
    expect(seen).toEqual(['amo:amo_pj.test@test.rss.fr', 'amc:amc_pj.test@test.rss.fr', `oct:${OCT.address}`]);
  });

  it('refuses bad inputs with typed field errors', async () => {
    const base = { kind: 'FSE' as const, mode: 'real' as const, from: FROM, exercice: '1', invoices: 1, version: '140700', file: { name: 'L', data: LOT }, encrypt: fakeEncrypt, compostage: new MemoryCompostageStore() };
    const bad: Array<[object, string]> = [
      [{ from: 'nobody' }, 'invalid_address'],
      [{ to: 'x@y.fr\r\nBcc: z@w.fr' }, 'invalid_address'],
      [{ version: '1407' }, 'invalid_version'],
      [{ exercice: 'a/b' }, 'invalid_exercice'],
      [{ invoices: 0 }, 'invalid_invoice_count'],
      [{ file: { name: '../etc/passwd', data: LOT } }, 'invalid_filename'],
      [{ file: { name: 'L', data: new Uint8Array(0) } }, 'invalid_lot'],
      [{ file: undefined }, 'invalid_lot'],
      [{ kind: 'FACTURE', file: undefined }, 'missing_oct'],
      [{ kind: 'FACTURE', oct: { address: OCT.address }, file: undefined, facture: { lots: [{ kind: 'FSE', data: LOT }] } }, 'missing_oct'],
      [{ kind: 'FACTURE', oct: OCT, facture: { lots: [{ kind: 'FSE', data: LOT }] } }, 'invalid_lot'],
      [{ kind: 'FACTURE', oct: OCT, file: undefined, facture: { lots: [] } }, 'invalid_lot'],
      [{ kind: 'FACTURE', oct: OCT, file: undefined, facture: { lots: [{ kind: 'FSE', data: LOT }], messageZone: 'a|b' } }, 'invalid_oct_field'],
      [{ kind: 'RSP' }, 'invalid_kind'],
      [{ mode: 'prod' }, 'invalid_mode'],
    ];
    for (const [patch, code] of bad) {
      await expect(packageLot({ ...base, ...patch } as Parameters<typeof packageLot>[0]), code).rejects.toSatisfy(
        (e) => e instanceof SesamFieldError && e.code === code,
      );
    }
    expect(() => composeMessage({ from: FROM, to: FROM, subject: 'x', date: AT, description: 'FSE/B2/K', filename: 'a.pkcs7', content: LOT, structure: 'multipart', preamble: '--=_b\r\n', boundary: '=_b' }))
      .toThrow(expect.objectContaining({ code: 'invalid_boundary' }));
    expect(() => composeMessage({ from: FROM, to: FROM, subject: 'é', date: AT, description: 'FSE/B2/K', filename: 'a.pkcs7', content: LOT }))
      .toThrow(expect.objectContaining({ code: 'invalid_header_value' }));
    expect(() => composeMessage({ from: FROM, to: FROM, subject: 's', date: AT, description: 'FSE/B2/K', filename: 'a.pkcs7', content: LOT, preamble: 'x' }))
      .toThrow(expect.objectContaining({ code: 'invalid_header_value' }));
  });

  it('folds a long Content-Disposition, which both parsers unfold', async () => {
    const long = 'L'.repeat(120);
    const m = composeMessage({ from: FROM, to: FROM, subject: 's', date: AT, description: 'FSE/B2/K', filename: `${long}.pkcs7`, content: LOT });
    expect(text(m.bytes)).toContain(`Content-Disposition: attachment;\r\n filename="${long}.pkcs7"\r\n`);
    const [p] = await pythonParse([m.bytes]);
    expect(p!.defects).toEqual([]);
    expect(p!.entity!.filename).toBe(`${long}.pkcs7`);
    expect(parseMessage(m.bytes).filename).toBe(`${long}.pkcs7`);
  });
});

// ---------------------------------------------------------------------------------------------

const SAMPLE_B64 = Buffer.from(LOT.subarray(0, 300)).toString('base64');
const wrap = (s: string, n: number): string => s.replace(new RegExp(`.{1,${n}}`, 'g'), '$&\r\n');

function single(overrides: Record<string, string | null> = {}, body = wrap(SAMPLE_B64, 76)): string {
  const h: Record<string, string | null> = {
    Date: DATE_HEADER,
    From: FROM,
    To: 'amo_pj.test@test.rss.fr',
    'Message-ID': '<1@medecin.example.fr>',
    Subject: 'SV140700/123456789/2026030514030700001/00025',
    'MIME-Version': '1.0',
    'Content-Type': 'Application/EDI-consent',
    'Content-Transfer-Encoding': 'BASE64',
    'Content-Description': 'FSETEST/B2/K',
    'Content-Disposition': 'attachment; filename="LOT.pkcs7"',
    ...overrides,
  };
  return Object.entries(h).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n' + body;
}

function multipart(parts: string[], boundary = 'b1', close = true): string {
  const env = single({ 'Content-Type': `multipart/mixed; boundary="${boundary}"`, 'Content-Transfer-Encoding': null, 'Content-Description': null, 'Content-Disposition': null }, '');
  return env + 'preamble\r\n' + parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('') + (close ? `--${boundary}--\r\n` : '');
}

const EDI_PART = 'Content-Type: Application/EDI-consent\r\nContent-Transfer-Encoding: BASE64\r\nContent-Description: FSETEST/B2/K\r\n\r\n' + wrap(SAMPLE_B64, 76);

function refused(input: string | Uint8Array, code: string, limits?: Parameters<typeof parseMessage>[1]): SesamMessageError {
  try {
    parseMessage(typeof input === 'string' ? ascii(input) : input, limits);
  } catch (e) {
    expect(e).toBeInstanceOf(SesamMessageError);
    expect((e as SesamMessageError).code).toBe(code);
    expect((e as SesamMessageError).message.length).toBeGreaterThan(0);
    return e as SesamMessageError;
  }
  throw new Error(`expected SesamMessageError ${code}`);
}

describe('parser tolerance', () => {
  const expected = LOT.subarray(0, 300);

  it('reads any header casing, folded headers, LF line endings, any base64 line length', () => {
    const variants = [
      single(),
      single().replace(/^([^:\r\n]+):/gm, (_m, n: string) => `${n.toLowerCase()}:`),
      single().replace(/^([^:\r\n]+):/gm, (_m, n: string) => `${n.toUpperCase()}:`),
      single().replace(/\r\n/g, '\n'),
      single({ Subject: 'SV140700/123456789/\r\n 2026030514030700001/00025' }).replace('/\r\n 2026', '/\r\n\t2026'),
      single({ 'Content-Disposition': 'attachment;\r\n\tfilename="LOT.pkcs7"' }),
      single({}, SAMPLE_B64),
      single({}, wrap(SAMPLE_B64, 64)),
      single({}, wrap(SAMPLE_B64, 4).replace(/\r\n/g, '\n')),
      single({ 'Content-Transfer-Encoding': 'base64', 'Content-Type': 'application/edi-consent; name="LOT.pkcs7"' }),
      multipart([EDI_PART]),
      multipart(['Content-Type: text/plain\r\n\r\nBonjour', EDI_PART]).replace(/\r\n/g, '\n'),
      multipart([`Content-Type: multipart/mixed; boundary=inner\r\n\r\n--inner\r\n${EDI_PART}\r\n--inner--`]),
    ];
    for (const v of variants) {
      const m = parseMessage(ascii(v));
      expect(hexOf(m.attachment)).toBe(hexOf(expected));
      expect(m.description.known?.flow).toBe('FSE');
    }
    // RFC 5322 unfolding removes the line break and keeps the whitespace.
    expect(parseMessage(ascii(variants[4]!)).subject).toBe('SV140700/123456789/\t2026030514030700001/00025');
    expect(parseMessage(ascii(variants[5]!)).filename).toBe('LOT.pkcs7');
    expect(parseMessage(ascii(variants[9]!)).filename).toBe('LOT.pkcs7');
  });

  it('reads an insurer return (compressed ARL, lower case) and an OCT text file (ART)', () => {
    const arl = parseMessage(ascii(single({ 'Content-Description': 'arldretest/noemie/z', Subject: 'ARL lot 123' })));
    expect(arl.description).toMatchObject({ nature: 'ARLDRETEST', norm: 'NOEMIE', compressed: true, encrypted: false, known: { flow: 'ARL', dre: true, mode: 'test', direction: 'return' } });
    expect(arl.subjectParsed).toEqual({ type: 'other', raw: 'ARL lot 123' });
    const art = parseMessage(ascii(single({
      Subject: 'ART/000123456/202603051403',
      'Content-Type': 'Application/EDI-consent; name="ART0001.txt"',
      'Content-Description': 'ART/IF',
      'Content-Disposition': null,
    }, wrap(Buffer.from('Fichier bien reçu.\r\n').toString('base64'), 76))));
    expect(art.subjectParsed).toEqual({ type: 'art', raw: 'ART/000123456/202603051403', psNumber: '000123456', timestamp: '202603051403' });
    expect(art.filename).toBe('ART0001.txt');
    expect(art.description.profession).toBe('infirmiers');
    expect(Buffer.from(art.attachment).toString('utf8')).toBe('Fichier bien reçu.\r\n');
  });

  it('keeps an unknown nature', () => {
    const m = parseMessage(ascii(single({ 'Content-Description': 'NOUVEAU/XYZ' })));
    expect(m.description).toMatchObject({ raw: 'NOUVEAU/XYZ', nature: 'NOUVEAU', norm: 'XYZ' });
    expect(m.description.known).toBeUndefined();
  });
});

describe('parser refusals (typed, fast, no crash)', () => {
  it('missing mandatory headers', () => {
    for (const h of ['Date', 'From', 'To', 'Message-ID', 'Subject', 'MIME-Version']) {
      expect(refused(single({ [h]: null }), 'missing_header').header).toBe(h);
    }
    expect(refused(single({ 'Content-Description': null }), 'missing_header').header).toBe('Content-Description');
    expect(refused(single({ 'Content-Transfer-Encoding': null }), 'missing_header').header).toBe('Content-Transfer-Encoding');
    expect(refused(single().replace('Subject:', 'Subject: x\r\nSubject:'), 'duplicate_header').header).toBe('Subject');
    refused(single({ 'MIME-Version': '2.0' }), 'header_malformed');
    refused(' folded: first\r\n' + single(), 'header_malformed');
    refused('No colon here\r\n' + single(), 'header_malformed');
  });

  it('truncated messages', () => {
    const full = multipart([EDI_PART]);
    refused(full.slice(0, full.length - 20), 'truncated');
    refused(full.slice(0, full.indexOf('--b1\r\n') + 3), 'truncated');
    const one = single();
    refused(one.slice(0, one.length - 7), 'bad_base64'); // cut mid-line: length no longer a multiple of 4
    refused(one.slice(0, one.indexOf('Content-Description')), 'missing_header');
    refused(one.slice(0, one.indexOf('\r\n\r\n') + 4), 'no_attachment');
  });

  it('structure errors', () => {
    refused(multipart([EDI_PART]).replace('; boundary="b1"', ''), 'missing_boundary');
    refused(multipart([EDI_PART]).replace('boundary="b1"', 'boundary=""'), 'missing_boundary');
    refused(single({ 'Content-Type': 'text/plain' }), 'no_attachment');
    refused(single({ 'Content-Type': null }), 'no_attachment');
    refused(single({ 'Content-Type': 'Application' }), 'content_type_malformed');
    refused(multipart(['Content-Type: text/plain\r\n\r\nhello']), 'no_attachment');
    refused(multipart([EDI_PART, EDI_PART]), 'multiple_attachments');
    refused(single({ 'Content-Transfer-Encoding': 'quoted-printable' }), 'unsupported_transfer_encoding');
    refused(multipart(Array.from({ length: 150 }, () => 'Content-Type: text/plain\r\n\r\nx')), 'too_many_parts');
  });

  it('bad base64', () => {
    refused(single({}, wrap(SAMPLE_B64, 76).replace('A', '*')), 'bad_base64');
    refused(single({}, 'QUJD\r\nRA==\r\nQUJD\r\n'), 'bad_base64');
    refused(single({}, wrap(SAMPLE_B64, 76) + 'QQ\r\n'), 'bad_base64');
  });

  it('10 000 nested multiparts', () => {
    let body = EDI_PART;
    for (let i = 9_999; i >= 1; i--) body = `Content-Type: multipart/mixed; boundary="n${i}"\r\n\r\n--n${i}\r\n${body}\r\n--n${i}--`;
    const message = single({ 'Content-Type': 'multipart/mixed; boundary="n0"', 'Content-Transfer-Encoding': null, 'Content-Description': null, 'Content-Disposition': null }, `--n0\r\n${body}\r\n--n0--\r\n`);
    const t0 = performance.now();
    refused(message, 'too_deep');
    // Unclosed all the way down: still refused, still fast.
    refused(message.replace(/\r\n--n\d+--/g, ''), 'truncated');
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it('a 50 MB header line', () => {
    const huge = new Uint8Array(50 * 1024 * 1024 + 200);
    huge.set(ascii('X-Huge: '));
    huge.fill(0x61, 8);
    huge.set(ascii('\r\n\r\n'), huge.length - 4);
    const t0 = performance.now();
    refused(huge, 'header_too_large');
    const inPart = ascii(multipart([`X-Big: ${'b'.repeat(100_000)}\r\n${EDI_PART}`]));
    refused(inPart, 'header_too_large');
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it('oversized message', () => {
    refused(single(), 'message_too_large', { maxMessageBytes: 200 });
  });

  it('random mutations: a result or a SesamMessageError, nothing else', () => {
    const seeds = [single(), multipart([EDI_PART])];
    let n = 0;
    for (const s of seeds) {
      const bytes = ascii(s);
      for (let i = 0; i < 300; i++) {
        const m = bytes.slice();
        const r = pseudoRandom(8, i * 7 + 1 + n);
        for (let k = 0; k < 4; k++) m[((r[k]! << 8) | r[k + 4]!) % m.length] = r[(k + 3) % 8]!;
        const cut = i % 3 === 0 ? m.subarray(0, (r[0]! * 97) % m.length) : m;
        try {
          parseMessage(cut);
        } catch (e) {
          expect(e).toBeInstanceOf(SesamMessageError);
        }
        n++;
      }
    }
  });
});
