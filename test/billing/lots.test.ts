/**
 * Lots and files: one lot per kind and destination organism, never over the maximum, FSE and
 * DRE files apart in direct mode and OCT way 1, one FACTURE file in OCT way 2, FSE only in way 3;
 * and what the existing Content-Description and subject builders make of each file.
 */
import { describe, expect, it } from 'vitest';
import { BillingError, createRoutingTable, destinationOf, flowOf, planFiles, planLots, SAMPLE_ROUTING, SAMPLE_ROUTING_DATA, type Destination, type DocumentKind } from '../../src/lib/billing/index.js';
import { contentDescription, formatSubject, subjectPrefix } from '../../src/lib/sesam/index.js';
import { codeOf, invoiceOf, prng } from './fixtures.js';

const D = '2025-03-10';
const amo = (fund: string, scheme = '01'): Destination => ({ kind: 'AMO', scheme, fund, organism: destinationOf('FSE', invoiceOf({ acts: [{ code: 'G', date: D }], beneficiary: { scheme, fund } })).organism });
const amcDest = (identifier: string): Destination => ({ kind: 'AMC', identifier, organism: `AMC${identifier}` });
const doc = (kind: DocumentKind, destination: Destination, n: number) => ({ kind, destination, number: String(n).padStart(9, '0') });

describe('routing (sample table)', () => {
  it('routes an FSE by scheme and fund, with the scheme fallback, and a DRE by the AMC identifier', () => {
    expect(destinationOf('FSE', invoiceOf({ acts: [{ code: 'G', date: D }] }))).toEqual({ kind: 'AMO', scheme: '01', fund: '751', organism: '01751' });
    expect(destinationOf('FSE', invoiceOf({ acts: [{ code: 'G', date: D }], beneficiary: { fund: '441' } })).organism).toBe('01999');
    expect(destinationOf('FSE', invoiceOf({ acts: [{ code: 'G', date: D }], beneficiary: { scheme: '02', fund: '751' } })).organism).toBe('02000');
    const withAmc = invoiceOf({ acts: [{ code: 'G', date: D }], beneficiary: { amc: { identifier: '87654321', contractType: '01', from: '2020-01-01', coverPercent: 100 } } });
    expect(destinationOf('DRE', withAmc)).toEqual({ kind: 'AMC', identifier: '87654321', organism: 'AMC87654321' });
  });

  it('says what it does not know, without personal data', () => {
    const inv = invoiceOf({ acts: [{ code: 'G', date: D }], beneficiary: { scheme: '08', fund: '123' } });
    expect(codeOf(() => destinationOf('FSE', inv))).toBe('routing_unknown');
    expect(codeOf(() => destinationOf('DRE', invoiceOf({ acts: [{ code: 'G', date: D }] })))).toBe('dre_without_amc');
    const unknownAmc = invoiceOf({ acts: [{ code: 'G', date: D }], beneficiary: { amc: { identifier: '11112222', contractType: '01', from: '2020-01-01', coverPercent: 100 } } });
    expect(codeOf(() => destinationOf('DRE', unknownAmc))).toBe('routing_unknown');
  });

  it('every sample row says it is a sample and its source; a bad table is refused', () => {
    expect([...SAMPLE_ROUTING.amo, ...SAMPLE_ROUTING.amc].every((r) => r.sample && /ÉCHANTILLON/.test(r.source))).toBe(true);
    expect(codeOf(() => createRoutingTable({ ...SAMPLE_ROUTING_DATA, amo: [...SAMPLE_ROUTING_DATA.amo, SAMPLE_ROUTING_DATA.amo[0]!] }))).toBe('routing_unknown');
    expect(codeOf(() => createRoutingTable({ ...SAMPLE_ROUTING_DATA, amo: [{ ...SAMPLE_ROUTING_DATA.amo[0]!, fund: '75' }] }))).toBe('routing_unknown');
  });
});

describe('planLots', () => {
  it('one lot per kind and organism, ordered, split by the maximum', () => {
    const docs = [doc('DRE', amcDest('12345678'), 3), doc('FSE', amo('931'), 2), doc('FSE', amo('751'), 5), doc('FSE', amo('751'), 1), doc('FSE', amo('751'), 4)];
    const lots = planLots(docs, 2);
    expect(lots.map((l) => [l.kind, l.destination.organism, l.documents.map((d) => d.number.slice(-1)).join('')])).toEqual([
      ['FSE', '01751', '14'],
      ['FSE', '01751', '5'],
      ['FSE', '01931', '2'],
      ['DRE', 'AMC12345678', '3'],
    ]);
  });

  it('refuses a document twice', () => {
    expect(codeOf(() => planLots([doc('FSE', amo('751'), 1), doc('FSE', amo('751'), 1)]))).toBe('duplicate_invoice');
    expect(planLots([])).toEqual([]);
  });

  it('properties on random sets: each document in exactly one lot, lots homogeneous, none over the maximum', () => {
    const r = prng(42);
    const dests = [amo('751'), amo('931'), amo('131'), amo('751', '02'), amcDest('12345678'), amcDest('87654321')];
    for (let round = 0; round < 50; round++) {
      const n = Math.floor(r() * 200);
      const max = 1 + Math.floor(r() * 60);
      const docs = Array.from({ length: n }, (_, i) => {
        const d = dests[Math.floor(r() * dests.length)]!;
        return doc(d.kind === 'AMO' ? 'FSE' : 'DRE', d, i + 1);
      });
      const lots = planLots(docs, max);
      expect(lots.flatMap((l) => l.documents).sort((a, b) => a.number.localeCompare(b.number))).toEqual(docs);
      for (const l of lots) {
        expect(l.documents.length).toBeGreaterThan(0);
        expect(l.documents.length).toBeLessThanOrEqual(max);
        expect(l.documents.every((d) => d.kind === l.kind && d.destination.organism === l.destination.organism)).toBe(true);
      }
      for (const way of ['direct', 'oct_split', 'oct_single'] as const) {
        const files = planFiles(lots, way, { maxLotsPerFile: 3 });
        expect(files.reduce((k, f) => k + f.invoiceCount, 0)).toBe(n);
        for (const f of files) {
          expect(f.lots.length).toBeLessThanOrEqual(3);
          if (way === 'oct_single') expect(f.kind).toBe('FACTURE');
          else expect(f.lots.every((l) => l.kind === f.kind)).toBe(true);
        }
      }
    }
  });
});

describe('planFiles and the message builders', () => {
  const lots = planLots([doc('FSE', amo('751'), 1), doc('FSE', amo('931'), 2), doc('DRE', amcDest('12345678'), 1)]);

  it('direct mode: an FSE file and a DRE file, SV and DR subjects', () => {
    const files = planFiles(lots, 'direct');
    expect(files.map((f) => [f.kind, f.lots.length, f.invoiceCount])).toEqual([
      ['FSE', 2, 2],
      ['DRE', 1, 1],
    ]);
    const [fse, dre] = files.map(flowOf);
    expect(contentDescription(fse!.kind, 'test', false)).toBe('FSETEST/B2/K');
    expect(contentDescription(dre!.kind, 'real', true)).toBe('DRE/DR/ZK');
    expect(subjectPrefix(dre!.kind, dre!.lotKinds)).toBe('DR');
    expect(formatSubject({ prefix: subjectPrefix(fse!.kind, fse!.lotKinds), version: '140700', exercice: '751234567', compostage: '2025031009300000001', invoices: files[0]!.invoiceCount })).toBe('SV140700/751234567/2025031009300000001/00002');
  });

  it('OCT way 2: one FACTURE file holding both kinds, Content-Description FACTURE/SV/K', () => {
    const files = planFiles(lots, 'oct_single');
    expect(files).toHaveLength(1);
    expect(files[0]!.kind).toBe('FACTURE');
    expect(files[0]!.invoiceCount).toBe(3);
    const flow = flowOf(files[0]!);
    expect(flow.lotKinds).toEqual(['FSE', 'DRE']);
    expect(contentDescription(flow.kind, 'real', false)).toBe('FACTURE/SV/K');
  });

  it('OCT way 3 (enriched FSE): FSE lots only, one framed file or one file per fund', () => {
    expect(codeOf(() => planFiles(lots, 'oct_enriched'))).toBe('fse_dre_incompatible');
    const fseOnly = lots.filter((l) => l.kind === 'FSE');
    expect(planFiles(fseOnly, 'oct_enriched').map((f) => f.kind)).toEqual(['FACTURE']);
    expect(planFiles(fseOnly, 'oct_enriched', { enrichedPerFund: true }).map((f) => [f.kind, f.lots[0]!.destination.organism])).toEqual([
      ['FSE', '01751'],
      ['FSE', '01931'],
    ]);
  });

  it('refuses an unknown way', () => {
    expect(() => planFiles(lots, 'pigeon' as never)).toThrow(BillingError);
  });
});
