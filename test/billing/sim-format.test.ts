/**
 * The simulator's byte format (docs/billing/simulator-format.md, ours, not B2/DR): round trips,
 * determinism, the fields docs/domain/workflow.md names, and hostile input — every prefix of a valid file
 * and a thousand seeded bit flips give a typed error or a file that re-encodes to the very same
 * bytes; never another exception, never a hang.
 */
import { describe, expect, it } from 'vitest';
import { BillingError, priceInvoice, type Invoice, SAMPLE_CATALOGUE } from '../../src/lib/billing/index.js';
import { destinationOf } from '../../src/lib/billing/routing-data.js';
import {
  decodeAnyFile,
  decodeDocument,
  decodeFile,
  decodeLot,
  encodeDocument,
  encodeFile,
  encodeLot,
  MAX_FILE_BYTES,
  type FileHeader,
  type LotHeader,
} from '../../src/lib/billing/ssv/sim-format.js';
import type { DocumentKind, SignedDocument } from '../../src/lib/billing/ssv/types.js';
import { simulatorOctFramer } from '../../src/lib/sesam/oct.js';
import { invoiceOf, prng, type InvoiceSpec } from './fixtures.js';
import { randomSpec } from './random.js';

const D = '2025-03-10';
const V = '140700';
const AMC = (contractType = '01') => ({ amc: { identifier: '12345678', contractType, from: '2020-01-01', coverPercent: 100, thirdParty: true } });
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

function signedOf(inv: Invoice, kind: DocumentKind, number: string): SignedDocument {
  const priced = priceInvoice(inv, SAMPLE_CATALOGUE);
  const destination = destinationOf(kind, inv);
  const bytes = encodeDocument(kind, { invoice: inv, priced, number, createdOn: D }, destination, V);
  return {
    kind,
    number,
    billingNumber: inv.practitioner.situation.billingNumber,
    destination,
    feeCents: priced.totals.feeCents,
    askedCents: kind === 'FSE' ? priced.totals.amoNetCents : priced.totals.amcCents,
    bytes,
    signature: Uint8Array.from({ length: 256 }, (_, i) => i),
    certificate: Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff),
  };
}

const lotHeader = (d: SignedDocument, number = '000001'): LotHeader => ({ kind: d.kind, number, destination: d.destination, senderType: 'PS', sender: '751234567', version: V });
const fileHeader = (kind: DocumentKind): FileHeader => ({ kind, number: '000001', name: `${kind}-751234567-000001.sim`, fileDate: D, senderType: 'PS', sender: '751234567', version: V, criterion: 'ORG' });

const specs: [string, InvoiceSpec][] = [
  ['GP consultation, vitale', { acts: [{ code: 'G', date: D }] }],
  ['nurse home visit with IFD and IK, prescriber', { profession: 'nurse', context: 'amo', acts: [{ code: 'AMI', date: D, coefficient: 1.5, time: '09:30' }, { code: 'IFD', date: D }, { code: 'IK', date: D, distanceKm: 12 }] }],
  ['AMC third-party with DRE', { acts: [{ code: 'G', date: D }], context: 'amo_amc', dre: true, beneficiary: AMC() }],
  ['enriched FSE (contract 99)', { acts: [{ code: 'G', date: D }], context: 'amo', beneficiary: AMC('99') }],
];

describe('documents', () => {
  it.each(specs)('%s: round trip, deterministic, carries what a reader re-prices', (_, spec) => {
    const inv = invoiceOf(spec);
    const d = signedOf(inv, 'FSE', '000000042');
    expect(signedOf(inv, 'FSE', '000000042').bytes).toEqual(d.bytes);
    const back = decodeDocument(d.bytes);
    expect(back.number).toBe('000000042');
    expect(back.version).toBe(V);
    expect(back.securing).toBe('vitale');
    expect(back.invoice.acts).toEqual(inv.acts);
    expect(back.invoice.beneficiary).toEqual(inv.beneficiary);
    expect(back.invoice.practitioner).toEqual(inv.practitioner);
    expect({ ...back.invoice, state: inv.state }).toEqual(inv);
    expect(priceInvoice(back.invoice, SAMPLE_CATALOGUE).totals).toEqual(back.declared.totals);
  });

  it('lunar birth dates and Corsican NIRs come back as read', () => {
    const inv = invoiceOf({ acts: [{ code: 'G', date: D }], beneficiary: { birthDate: '1960-00-00', holderNir: '180012A00400168' } });
    const d = signedOf(inv, 'FSE', '000000001');
    expect(text(d.bytes)).toContain('\r\n120|1=180012A00400168|');
    const back = decodeDocument(d.bytes);
    expect(back.invoice.beneficiary.birthDate).toEqual({ year: 1960, month: 0, day: 0, lunar: true });
    expect(back.invoice.beneficiary.holderNir).toEqual({ number: '180012A004001', key: '68' });
  });

  it('contract type 99: group 1321 fields 4 and 5 carry the AMC third-party payment; group 1410 never says AMO+AMC', () => {
    // Third-party payment on AMO and AMC, enriched: 1410 says "amo", 1321 field 4 says the AMC part.
    const inv = invoiceOf({ acts: [{ code: 'G', date: D }], context: 'amo_amc', beneficiary: AMC('99') });
    const d = signedOf(inv, 'FSE', '000000001');
    const g1321 = text(d.bytes).split('\r\n').find((l) => l.startsWith('1321|'))!;
    const amc = priceInvoice(inv, SAMPLE_CATALOGUE).totals.amcCents;
    expect(amc).toBeGreaterThan(0);
    expect(g1321).toBe(`1321|1=99|2=12345678|3=100|4=1|5=${amc}|6=2020-01-01|7=|8=1`);
    expect(text(d.bytes)).toContain('\r\n1410|1=amo|');
    const back = decodeDocument(d.bytes);
    expect(back.enriched).toEqual({ thirdParty: true, amcCents: amc });
    expect(back.invoice.context).toBe('amo_amc');
    // Third-party payment on the AMO part only: field 4 says no AMC third-party payment.
    const amoOnly = signedOf(invoiceOf({ acts: [{ code: 'G', date: D }], context: 'amo', beneficiary: AMC('99') }), 'FSE', '000000004');
    expect(text(amoOnly.bytes)).toMatch(/\r\n1321\|1=99\|2=12345678\|3=100\|4=0\|5=\d+\|/);
    expect(decodeDocument(amoOnly.bytes).invoice.context).toBe('amo');
    // Another contract type leaves fields 4 and 5 empty and 1410 says what was asked.
    const other = signedOf(invoiceOf({ acts: [{ code: 'G', date: D }], context: 'amo_amc', beneficiary: AMC() }), 'FSE', '000000002');
    expect(text(other.bytes)).toMatch(/\r\n1321\|1=01\|2=12345678\|3=100\|4=\|5=\|/);
    expect(text(other.bytes)).toContain('\r\n1410|1=amo_amc|');
    // Bytes of an enriched FSE whose 1410 frame says AMO+AMC are refused by the reader.
    const forged = new TextEncoder().encode(text(d.bytes).replace('\r\n1410|1=amo|', '\r\n1410|1=amo_amc|'));
    const e = (() => {
      try {
        decodeDocument(forged);
      } catch (x) {
        return x as BillingError;
      }
    })();
    expect(e).toBeInstanceOf(BillingError);
    expect(e?.code).toBe('format_invalid');
    expect(e?.message).toContain('1410');
  });

  it('refuses non-canonical spellings that would decode to the same invoice', () => {
    const d = signedOf(invoiceOf(specs[0]![1]), 'FSE', '000000001');
    const t = text(d.bytes);
    for (const variant of [t.replace('|5=100|', '|5=0100|'), t.replace('\r\n1410|', '\n1410|'), t + '\r\n', t.replace('|2=G|', '|2=%47|')]) {
      expect(variant).not.toBe(t);
      expect(() => decodeDocument(new TextEncoder().encode(variant))).toThrow(BillingError);
    }
  });
});

function sampleFile(): { file: Uint8Array; docs: SignedDocument[] } {
  const docs = [1, 2, 3].map((n) => signedOf(invoiceOf({ id: `F${n}`, acts: [{ code: 'G', date: D }] }), 'FSE', String(n).padStart(9, '0')));
  const lot = encodeLot(lotHeader(docs[0]!), docs);
  return { file: encodeFile(fileHeader('FSE'), [lot, encodeLot(lotHeader(docs[0]!, '000002'), docs.slice(0, 1))]), docs };
}

describe('lots and files', () => {
  it('FSE file: group 13 field 7 is the version, lot sizes and counts, documents with their signatures', () => {
    const { file, docs } = sampleFile();
    const lines = text(file).split('\r\n');
    expect(lines[0]).toBe('#TELETRANS-SSV-SIM 1 FSE');
    expect(lines[1]).toBe(`13|1=000001|2=FSE-751234567-000001.sim|3=${D}|4=PS|5=751234567|6=ORG|7=140700|8=2|9=3,1`);
    const f = decodeFile(file);
    expect(f.header.version).toBe('140700');
    expect(f.lots.map((l) => l.documents.length)).toEqual([3, 1]);
    expect(f.lots[0]!.documents[1]!.signature).toEqual(docs[1]!.signature);
    expect(f.lots[0]!.documents[1]!.bytes).toEqual(docs[1]!.bytes);
    expect(f.lots[0]!.feeCents).toBe(docs.reduce((n, d) => n + d.feeCents, 0));
    expect(decodeAnyFile(file).kind).toBe('FSE');
  });

  it('DRE file: group 93 field 7', () => {
    const inv = invoiceOf({ acts: [{ code: 'G', date: D }], context: 'amo_amc', dre: true, beneficiary: AMC() });
    const d = signedOf(inv, 'DRE', '000000009');
    const file = encodeFile(fileHeader('DRE'), [encodeLot(lotHeader(d), [d])]);
    expect(text(file).split('\r\n')[1]).toMatch(/^93\|1=000001\|.*\|7=140700\|8=1\|9=1$/);
    expect(decodeFile(file).lots[0]!.header.destination).toEqual({ kind: 'AMC', identifier: '12345678', organism: 'AMC12345678' });
  });

  it('a FACTURE single file (OCT way 2) holds FSE and DRE lots and is read back', () => {
    const inv = invoiceOf({ acts: [{ code: 'G', date: D }], context: 'amo_amc', dre: true, beneficiary: AMC() });
    const fse = signedOf(inv, 'FSE', '000000001');
    const dre = signedOf(inv, 'DRE', '000000001');
    const framed = simulatorOctFramer.frame({
      header: { fileName: 'FACTURE-751234567-000001.sim', application: 'TO', recipientType: 'OT', recipientNumber: '123456789' },
      lots: [
        { kind: 'FSE', data: encodeLot(lotHeader(fse), [fse]) },
        { kind: 'DRE', data: encodeLot(lotHeader(dre), [dre]) },
      ],
      messageZone: 'tournee du 10 mars',
    });
    const f = decodeAnyFile(framed);
    expect(f.kind).toBe('FACTURE');
    expect(f.lots.map((l) => l.header.kind)).toEqual(['FSE', 'DRE']);
    expect(f.kind === 'FACTURE' && f.header.messageZone).toBe('tournee du 10 mars');
  });

  it('refuses a lot whose declared totals differ from its documents, and a lot of the wrong kind', () => {
    const { docs } = sampleFile();
    const lot = text(encodeLot(lotHeader(docs[0]!), docs));
    const fee = docs.reduce((n, d) => n + d.feeCents, 0);
    expect(() => decodeLot(new TextEncoder().encode(lot.replace(`|7=${fee}|`, `|7=${fee + 1}|`)))).toThrow(/totaux du lot/);
    const dreFile = encodeFile(fileHeader('DRE'), [encodeLot(lotHeader(docs[0]!), docs)]);
    expect(() => decodeFile(dreFile)).toThrow(/lot FSE dans un fichier DRE/);
  });
});

function typedOrCanonical(bytes: Uint8Array): 'typed' | 'canonical' {
  try {
    const f = decodeAnyFile(bytes);
    // Whatever decodes must be exactly what the encoder writes for it.
    if (f.kind === 'FACTURE') return 'canonical';
    const again = encodeFile(f.header, decodeFile(bytes).lotBytes);
    expect(again).toEqual(bytes);
    return 'canonical';
  } catch (e) {
    if (!(e instanceof BillingError)) throw new Error(`not a BillingError: ${String(e)}`);
    expect(typeof e.code).toBe('string');
    expect(e.message).toMatch(/\S/);
    return 'typed';
  }
}

describe('hostile input', () => {
  it('every prefix of a valid file is a typed error', () => {
    const { file } = sampleFile();
    for (let n = 0; n < file.length; n++) expect(typedOrCanonical(file.subarray(0, n))).toBe('typed');
    expect(typedOrCanonical(file)).toBe('canonical');
  });

  it('1000 seeded bit flips: a typed error, or a canonical file (never another exception)', () => {
    const { file } = sampleFile();
    const r = prng(20261205);
    const seen = { typed: 0, canonical: 0 };
    for (let i = 0; i < 1000; i++) {
      const b = file.slice();
      const pos = Math.floor(r() * b.length);
      b[pos] = b[pos]! ^ (1 << Math.floor(r() * 8));
      seen[typedOrCanonical(b)]++;
    }
    // Many flips break something; others land in a signature's base64 or a name's letters and
    // still decode (the signature check is the reader's, not the parser's).
    expect(seen.typed).toBeGreaterThan(400);
    expect(seen.canonical).toBeGreaterThan(0);
    expect(seen.typed + seen.canonical).toBe(1000);
  });

  it('refuses hostile sizes before allocating', () => {
    expect(() => decodeAnyFile(new Uint8Array(MAX_FILE_BYTES + 1))).toThrow(/trop long/);
    const huge = new TextEncoder().encode('#TELETRANS-SSV-SIM 1 FSE\r\n13|1=000001|2=x|3=2025-03-10|4=PS|5=751234567|6=ORG|7=140700|8=1|9=1\r\n300|1=1|2=999999999\r\n');
    expect(() => decodeFile(huge)).toThrow(BillingError);
    expect(() => decodeFile(new TextEncoder().encode('#TELETRANS-SSV-SIM 1 FSE\r\n' + 'x'.repeat(70_000)))).toThrow(/CRLF/);
  });

  it('random invoices round-trip through a lot and a file', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const spec = randomSpec(seed);
      let inv: Invoice;
      try {
        inv = invoiceOf({ ...spec, id: `R${seed}` });
        priceInvoice(inv, SAMPLE_CATALOGUE);
      } catch {
        continue; // a random invoice the core refuses to price is not a format case
      }
      const d = signedOf(inv, 'FSE', String(seed).padStart(9, '0'));
      const f = decodeFile(encodeFile(fileHeader('FSE'), [encodeLot(lotHeader(d), [d])]));
      expect(f.lots[0]!.documents[0]!.document.declared.totals).toEqual(priceInvoice(inv, SAMPLE_CATALOGUE).totals);
      expect(f.lots[0]!.documents[0]!.document.invoice.acts).toEqual(inv.acts);
    }
  });
});
