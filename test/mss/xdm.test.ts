/**
 * XDM attachments (src/lib/mss/xdm.ts) and the bounded zip reader under them (zip.ts): what we
 * write, Info-ZIP's unzip and Python's zipfile read back; what a hostile sender could put in a
 * zip — traversal, absolute paths, links, duplicates, bombs, lies about sizes, overlapping
 * entries, encryption, thousands of entries, random damage — is refused with its reason, never
 * a crash or a hang; and an XDM whose documents disagree with their metadata or concern two
 * patients is refused.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync, type Zippable } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { MssError } from '../../src/lib/mss/errors.js';
import { buildXdm, INS_OID, readXdm } from '../../src/lib/mss/xdm.js';
import { PATIENT, xdmInput } from './fixtures/trust.js';
import { readZip, writeZip } from '../../src/lib/mss/zip.js';
import { useNodeXml } from '../../src/lib/server/mss/node-xml.js';
import { mulberry32 } from '../support/prng.js';

beforeAll(() => useNodeXml());

const enc = new TextEncoder();

function code(f: () => unknown): string {
  try {
    f();
    return 'accepted';
  } catch (e) {
    if (e instanceof MssError) return e.code;
    throw e;
  }
}
async function acode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (e) {
    if (e instanceof MssError) return e.code;
    throw e;
  }
}

function tmpFile(bytes: Uint8Array): string {
  const f = join(mkdtempSync(join(tmpdir(), 'xdm-')), 'a.zip');
  writeFileSync(f, bytes);
  return f;
}

describe('writing and reading an XDM zip', () => {
  it('lays out INDEX.HTM, README.TXT and IHE_XDM/SUBSET01 with METADATA.XML, and reads back the documents with their metadata', async () => {
    const zip = await buildXdm(xdmInput());
    const names = readZip(zip).map((e) => e.name);
    expect(names).toEqual(['INDEX.HTM', 'README.TXT', 'IHE_XDM/SUBSET01/METADATA.XML', 'IHE_XDM/SUBSET01/DOC0001.XML', 'IHE_XDM/SUBSET01/DOC0002.XML']);
    const x = await readXdm(zip);
    expect(x.patientId).toBe(`${PATIENT.ins}^^^&${INS_OID.nirTest}&ISO`);
    expect(x.documents.map((d) => [d.path, d.title, d.typeCode, d.mimeType])).toEqual([
      ['IHE_XDM/SUBSET01/DOC0001.XML', 'Compte rendu de consultation', '11488-4', 'text/xml'],
      ['IHE_XDM/SUBSET01/DOC0002.XML', 'Lettre de liaison', '34133-9', 'text/xml'],
    ]);
    expect(x.others).toEqual(['INDEX.HTM', 'README.TXT']);
  });

  it('Info-ZIP’s unzip and Python’s zipfile read what we write, byte for byte', async () => {
    const input = xdmInput();
    const f = tmpFile(await buildXdm(input));
    expect(execFileSync('unzip', ['-tq', f], { encoding: 'utf8' })).toMatch(/No errors detected/);
    const py = execFileSync('python3', ['-c', 'import sys,zipfile,hashlib; z=zipfile.ZipFile(sys.argv[1]); print(z.testzip()); print(hashlib.sha256(z.read("IHE_XDM/SUBSET01/DOC0002.XML")).hexdigest())', f], { encoding: 'utf8' }).trim().split('\n');
    expect(py[0]).toBe('None');
    const mine = Buffer.from(await crypto.subtle.digest('SHA-256', input.documents[1]!.data as BufferSource)).toString('hex');
    expect(py[1]).toBe(mine);
  });

  it('reads an XDM zip written by another tool (Python’s zipfile, stored and deflated entries)', async () => {
    const src = tmpFile(await buildXdm(xdmInput()));
    const out = join(mkdtempSync(join(tmpdir(), 'xdm-py-')), 'b.zip');
    execFileSync('python3', ['-c', `import sys,zipfile
a=zipfile.ZipFile(sys.argv[1]); b=zipfile.ZipFile(sys.argv[2],'w')
for i,n in enumerate(a.namelist()): b.writestr(n, a.read(n), zipfile.ZIP_STORED if i%2 else zipfile.ZIP_DEFLATED)
b.close()`, src, out]);
    const x = await readXdm(new Uint8Array(execFileSync('cat', [out])));
    expect(x.documents).toHaveLength(2);
  });

  it('refuses to build an XDM with a bad INS, no document, or a name that would escape', async () => {
    expect(await acode(buildXdm(xdmInput({ patient: { ...PATIENT, ins: '12345' } })))).toBe('attachment_invalid');
    expect(await acode(buildXdm(xdmInput({ documents: [] })))).toBe('attachment_invalid');
    expect(code(() => writeZip([{ name: '../x', data: new Uint8Array() }]))).toBe('zip_path_refused');
  });
});

describe('a hostile zip is refused with its reason', () => {
  const f = (s: string): Uint8Array => enc.encode(s);
  const names: Array<[string, string]> = [
    ['../../etc/passwd', 'traversal'], ['/etc/passwd', 'absolute'], ['IHE_XDM\\..\\x', 'backslash'], ['C:/x', 'drive'],
    ['a/./b', 'dot segment'], ['a//b', 'empty segment'], ['a\u0000b', 'NUL'], ['IHE_XDM/SUBSET01/../../x', 'nested traversal'],
  ];
  for (const [name, what] of names) {
    it(`a name with ${what}`, () => {
      expect(code(() => readZip(zipSync({ [name]: f('x') } as Zippable)))).toBe('zip_path_refused');
    });
  }

  it('a symbolic link, duplicate names (also differing only in case)', () => {
    const link = zipSync({ 'IHE_XDM/lien': [f('/etc/passwd'), { os: 3, attrs: (0o120777 << 16) >>> 0 }] } as Zippable);
    expect(code(() => readZip(link))).toBe('zip_path_refused');
    const dup = zipSync({ 'A.TXT': f('1'), 'a.txt': f('2') });
    expect(code(() => readZip(dup))).toBe('zip_path_refused');
  });

  it('a zip bomb: a high compression ratio, or an entry that inflates past its declared size', () => {
    const bomb = zipSync({ 'IHE_XDM/SUBSET01/DOC0001.XML': new Uint8Array(15 * 1024 * 1024) }, { level: 9 });
    expect(bomb.length).toBeLessThan(100_000);
    expect(code(() => readZip(bomb))).toBe('zip_ratio_refused');
    // The same entry lying: central and local size say 1000 bytes.
    const liar = zipSync({ 'x.bin': new Uint8Array(500_000) }, { level: 9 });
    const dv = new DataView(liar.buffer, liar.byteOffset);
    const cen = liar.findIndex((_, i) => dv.getUint32(i, true) === 0x02014b50);
    dv.setUint32(cen + 24, 1000, true);
    dv.setUint32(22, 1000, true);
    expect(code(() => readZip(liar))).toBe('zip_malformed');
  });

  it('too many entries, too large an archive or total', () => {
    const many: Zippable = {};
    for (let i = 0; i < 600; i++) many[`f${i}`] = f('x');
    expect(code(() => readZip(zipSync(many)))).toBe('zip_too_many_entries');
    expect(code(() => readZip(new Uint8Array(11 * 1024 * 1024)))).toBe('zip_too_large');
    const big: Zippable = {};
    for (let i = 0; i < 4; i++) big[`f${i}`] = [new Uint8Array(15 * 1024 * 1024), { level: 0 }];
    expect(code(() => readZip(zipSync(big), { maxArchiveBytes: 80 * 1024 * 1024, maxEntries: 10, maxEntryBytes: 20 * 1024 * 1024, maxTotalBytes: 50 * 1024 * 1024, maxRatio: 100 }))).toBe('zip_too_large');
  });

  it('overlapping entries (two names over the same data), encryption, another method, a CRC that does not match', () => {
    const base = zipSync({ 'a.txt': f('hello'), 'b.txt': f('world') }, { level: 0 });
    const dv = new DataView(base.buffer, base.byteOffset);
    const cens: number[] = [];
    for (let i = 0; i + 4 <= base.length; i++) if (dv.getUint32(i, true) === 0x02014b50) cens.push(i);
    const overlap = base.slice();
    const odv = new DataView(overlap.buffer);
    odv.setUint32(cens[1]! + 42, dv.getUint32(cens[0]! + 42, true), true);
    expect(code(() => readZip(overlap))).toBe('zip_malformed');
    const crypt = base.slice();
    new DataView(crypt.buffer).setUint16(cens[0]! + 8, 1, true);
    expect(code(() => readZip(crypt))).toBe('zip_unsupported');
    const bzip = base.slice();
    new DataView(bzip.buffer).setUint16(cens[0]! + 10, 12, true);
    expect(code(() => readZip(bzip))).toBe('zip_unsupported');
    const crc = base.slice();
    // The stored data "hello", found whole: a lone 0x68 may sit in a header first (the DOS time
    // or the CRC itself, which change with the moment the archive is made).
    const data = Buffer.from(crc).indexOf('hello');
    expect(data).toBeGreaterThan(0);
    crc[data] = 0x48;
    expect(code(() => readZip(crc))).toBe('zip_malformed');
  });

  it('random damage never crashes or hangs: a typed refusal or a consistent read, every time', async () => {
    const good = await buildXdm(xdmInput());
    const rnd = mulberry32(18);
    const started = Date.now();
    let refused = 0;
    for (let n = 0; n < 2000; n++) {
      const z = good.slice();
      const flips = 1 + Math.floor(rnd() * 8);
      for (let k = 0; k < flips; k++) z[Math.floor(rnd() * z.length)] = Math.floor(rnd() * 256);
      const cut = rnd() < 0.1 ? z.subarray(0, Math.floor(rnd() * z.length)) : z;
      try {
        await readXdm(cut);
      } catch (e) {
        expect(e).toBeInstanceOf(MssError);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(1500);
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 90_000);
});

describe('an XDM that does not hold together is refused', () => {
  async function rezip(zip: Uint8Array, edit: (name: string, data: Uint8Array) => Uint8Array | null, add: Record<string, Uint8Array> = {}): Promise<Uint8Array> {
    const out: { name: string; data: Uint8Array }[] = [];
    for (const e of readZip(zip)) {
      const d = edit(e.name, e.data);
      if (d) out.push({ name: e.name, data: d });
    }
    for (const [name, data] of Object.entries(add)) out.push({ name, data });
    return writeZip(out);
  }
  const dec = new TextDecoder();

  it('documents about two patients, in one subset or across subsets', async () => {
    const zip = await buildXdm(xdmInput());
    const other = await rezip(zip, (n, d) => (n.endsWith('METADATA.XML') ? enc.encode(dec.decode(d).replace(/279035121518989(\^\^\^&amp;[0-9.]+&amp;ISO)(" *>\s*<rim:Name><rim:LocalizedString value="XDSDocumentEntry.patientId"\/>)/, '180017512345671$1$2').replace(/(<rim:ExternalIdentifier id="Document02-pid"[^>]*value=")279035121518989/, '$1180017512345671')) : d));
    expect(dec.decode(readZip(other).find((e) => e.name.endsWith('METADATA.XML'))!.data)).toContain('180017512345671');
    expect(await acode(readXdm(other))).toBe('documents_not_one_patient');
    const second = await buildXdm(xdmInput({ patient: { ...PATIENT, ins: '180017512345671' } }));
    const two = await rezip(zip, (_n, d) => d, Object.fromEntries(readZip(second).filter((e) => e.name.startsWith('IHE_XDM/')).map((e) => [e.name.replace('SUBSET01', 'SUBSET02'), e.data])));
    expect(await acode(readXdm(two))).toBe('documents_not_one_patient');
  });

  it('a document missing, changed after its metadata was written, or a metadata file with a DTD', async () => {
    const zip = await buildXdm(xdmInput());
    expect(await acode(readXdm(await rezip(zip, (n, d) => (n.endsWith('DOC0002.XML') ? null : d))))).toBe('xdm_malformed');
    expect(await acode(readXdm(await rezip(zip, (n, d) => (n.endsWith('DOC0001.XML') ? enc.encode(dec.decode(d).replace('CR', 'XX')) : d))))).toBe('xdm_malformed');
    expect(await acode(readXdm(await rezip(zip, (n, d) => (n.endsWith('METADATA.XML') ? enc.encode(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${dec.decode(d).replace(/^<\?xml[^>]*\?>/, '')}`) : d))))).toBe('xdm_malformed');
    expect(await acode(readXdm(await rezip(zip, (n, d) => (n.endsWith('METADATA.XML') ? null : d))))).toBe('xdm_malformed');
    expect(await acode(readXdm(await rezip(zip, (n, d) => (n.endsWith('METADATA.XML') ? enc.encode(dec.decode(d).replace('<rim:Value>DOC0001.XML', '<rim:Value>../../INDEX.HTM')) : d))))).toBe('xdm_malformed');
  });
});
