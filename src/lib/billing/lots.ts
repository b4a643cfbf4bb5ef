/**
 * Lots and files (issue 13 item 7, docs/domain/transmission.md §8), as pure plans over typed values:
 *
 * - a lot holds documents of one kind (FSE or DRE) for one destination organism, at most
 *   MAX_DOCUMENTS_PER_LOT; order is deterministic (kind, organism, invoice number);
 * - `direct` and OCT way 1 (`oct_split`): FSE files and DRE files apart, at most
 *   MAX_LOTS_PER_FILE lots each;
 * - OCT way 2 (`oct_single`): one FACTURE file holding FSE and DRE lots, concatenated without
 *   regard to the grouping criterion (split only past the maximum);
 * - OCT way 3 (`oct_enriched`): enriched FSE (AMC contract type 99), FSE lots only — contract
 *   type 99 forbids an FSE and a DRE together (docs/domain/workflow.md) — in one FACTURE file, or one FSE
 *   file per fund.
 * The maximums are our simulator's (docs/billing/lots-and-files.md), not the norm's.
 */
import { fail } from './errors.js';
import type { Destination, DocumentKind, TransmissionWay } from './ssv/types.js';
import type { FlowKind } from '../sesam/description.js';

export const MAX_DOCUMENTS_PER_LOT = 50;
export const MAX_LOTS_PER_FILE = 20;
/** The OCT "enriched FSE" contract type (docs/domain/workflow.md, annex 5). */
export const ENRICHED_CONTRACT = '99';

export const TRANSMISSION_WAYS: readonly TransmissionWay[] = ['direct', 'oct_split', 'oct_single', 'oct_enriched'];

interface Routed {
  readonly kind: DocumentKind;
  readonly destination: Destination;
  readonly number: string;
}

export interface LotPlan<T> {
  readonly kind: DocumentKind;
  readonly destination: Destination;
  readonly documents: readonly T[];
}

const KIND_ORDER: Record<DocumentKind, number> = { FSE: 0, DRE: 1 };
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function planLots<T extends Routed>(docs: readonly T[], max: number = MAX_DOCUMENTS_PER_LOT): LotPlan<T>[] {
  if (!Number.isSafeInteger(max) || max < 1) fail('format_invalid', 'max', 'Taille maximale de lot invalide.');
  const seen = new Set<string>();
  const groups = new Map<string, T[]>();
  for (const d of docs) {
    const id = `${d.kind}|${d.number}`;
    if (seen.has(id)) fail('duplicate_invoice', 'documents', `La ${d.kind} n° ${d.number} figure deux fois dans la transmission.`);
    seen.add(id);
    const key = `${d.kind}|${d.destination.organism}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(d);
  }
  const lots: LotPlan<T>[] = [];
  const keys = [...groups.keys()].sort((a, b) => {
    const [ka, oa] = a.split('|') as [DocumentKind, string];
    const [kb, ob] = b.split('|') as [DocumentKind, string];
    return KIND_ORDER[ka] - KIND_ORDER[kb] || cmp(oa, ob);
  });
  for (const key of keys) {
    const g = groups.get(key)!.sort((a, b) => cmp(a.number, b.number));
    for (let i = 0; i < g.length; i += max) {
      const documents = Object.freeze(g.slice(i, i + max));
      lots.push(Object.freeze({ kind: documents[0]!.kind, destination: documents[0]!.destination, documents }));
    }
  }
  return lots;
}

interface LotLike {
  readonly kind: DocumentKind;
  readonly destination: Destination;
  readonly documents: readonly unknown[];
}

export interface FilePlan<L> {
  readonly kind: DocumentKind | 'FACTURE';
  readonly way: TransmissionWay;
  readonly lots: readonly L[];
  /** Documents in the file: the subject's `nnnnn`. */
  readonly invoiceCount: number;
}

export interface FilePlanOptions {
  /** Way 3: one FSE file per fund instead of one FACTURE file. */
  readonly enrichedPerFund?: boolean;
  readonly maxLotsPerFile?: number;
}

function chunk<L extends LotLike>(lots: readonly L[], kind: FilePlan<L>['kind'], way: TransmissionWay, max: number): FilePlan<L>[] {
  const out: FilePlan<L>[] = [];
  for (let i = 0; i < lots.length; i += max) {
    const part = Object.freeze(lots.slice(i, i + max));
    out.push(Object.freeze({ kind, way, lots: part, invoiceCount: part.reduce((n, l) => n + l.documents.length, 0) }));
  }
  return out;
}

export function planFiles<L extends LotLike>(lots: readonly L[], way: TransmissionWay, options: FilePlanOptions = {}): FilePlan<L>[] {
  if (!TRANSMISSION_WAYS.includes(way)) fail('format_invalid', 'way', 'Mode de transmission inconnu (direct, OCT éclaté, OCT fichier unique, OCT FSE enrichie).');
  const max = options.maxLotsPerFile ?? MAX_LOTS_PER_FILE;
  if (!Number.isSafeInteger(max) || max < 1) fail('format_invalid', 'maxLotsPerFile', 'Nombre maximal de lots par fichier invalide.');
  const fse = lots.filter((l) => l.kind === 'FSE');
  const dre = lots.filter((l) => l.kind === 'DRE');
  switch (way) {
    case 'direct':
    case 'oct_split':
      return [...chunk(fse, 'FSE', way, max), ...chunk(dre, 'DRE', way, max)];
    case 'oct_single':
      return chunk(lots, 'FACTURE', way, max);
    case 'oct_enriched': {
      if (dre.length > 0) {
        fail('fse_dre_incompatible', 'lots', 'FSE enrichie (contrat de type 99) : aucune DRE ne peut être transmise avec elle.');
      }
      if (!options.enrichedPerFund) return chunk(fse, 'FACTURE', way, max);
      const byFund = new Map<string, L[]>();
      for (const l of fse) {
        const k = l.destination.organism;
        let g = byFund.get(k);
        if (!g) byFund.set(k, (g = []));
        g.push(l);
      }
      return [...byFund.keys()].sort(cmp).flatMap((k) => chunk(byFund.get(k)!, 'FSE', way, max));
    }
  }
}

/** What the existing SMTP builders take for this file (src/lib/sesam: Content-Description, subject). */
export function flowOf(file: { kind: DocumentKind | 'FACTURE'; lots: readonly { kind: DocumentKind }[] }): { kind: FlowKind; lotKinds: ('FSE' | 'DRE')[] } {
  const lotKinds = [...new Set(file.lots.map((l) => l.kind))].sort((a, b) => KIND_ORDER[a] - KIND_ORDER[b]);
  return { kind: file.kind, lotKinds };
}
