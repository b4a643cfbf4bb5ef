/**
 * Where documents go: the routing table, as data. An FSE goes to the beneficiary's AMO fund
 * (scheme + fund; the centre does not split lots), a DRE to the beneficiary's AMC by its
 * identifier. Rows are SAMPLES (`sample: true`, with their source): the real table comes with
 * the official data of the insurers and the OCT agreements, as a data file, nothing else.
 *
 * A scheme row without `fund` routes the whole scheme to one organism (a fallback after the
 * fund rows of that scheme).
 */
import { fail } from './errors.js';
import type { Invoice } from './invoice.js';
import type { Destination, DocumentKind } from './ssv/types.js';

export interface AmoRouteRow {
  readonly scheme: string;
  /** Absent: every fund of the scheme. */
  readonly fund?: string;
  /** Destination organism code (our format: scheme + fund, 5 digits). */
  readonly organism: string;
  readonly label: string;
  readonly sample: boolean;
  readonly source: string;
}

export interface AmcRouteRow {
  readonly identifier: string;
  readonly organism: string;
  readonly label: string;
  readonly sample: boolean;
  readonly source: string;
}

export interface RoutingData {
  readonly version: string;
  readonly amo: readonly AmoRouteRow[];
  readonly amc: readonly AmcRouteRow[];
}

export interface RoutingTable extends RoutingData {
  /** `scheme|fund` and `scheme|` → row. */
  readonly amoIndex: ReadonlyMap<string, AmoRouteRow>;
  readonly amcIndex: ReadonlyMap<string, AmcRouteRow>;
}

const SAMPLE_SOURCE = 'ÉCHANTILLON non officiel (Teletrans) : table de routage fictive pour le simulateur';

export const SAMPLE_ROUTING_DATA: RoutingData = {
  version: 'sample-2025-01',
  amo: [
    { scheme: '01', fund: '751', organism: '01751', label: 'Régime général — caisse 751 (fictive)', sample: true, source: SAMPLE_SOURCE },
    { scheme: '01', fund: '931', organism: '01931', label: 'Régime général — caisse 931 (fictive)', sample: true, source: SAMPLE_SOURCE },
    { scheme: '01', fund: '131', organism: '01131', label: 'Régime général — caisse 131 (fictive)', sample: true, source: SAMPLE_SOURCE },
    { scheme: '01', fund: '201', organism: '01201', label: 'Régime général — caisse 2A (fictive)', sample: true, source: SAMPLE_SOURCE },
    { scheme: '01', fund: '202', organism: '01202', label: 'Régime général — caisse 2B (fictive)', sample: true, source: SAMPLE_SOURCE },
    { scheme: '01', organism: '01999', label: 'Régime général — autres caisses (fictif)', sample: true, source: SAMPLE_SOURCE },
    { scheme: '02', organism: '02000', label: 'Régime agricole (MSA, fictif)', sample: true, source: SAMPLE_SOURCE },
    { scheme: '03', organism: '03000', label: 'Régime des indépendants (fictif)', sample: true, source: SAMPLE_SOURCE },
  ],
  amc: [
    { identifier: '12345678', organism: 'AMC12345678', label: 'Complémentaire fictive A', sample: true, source: SAMPLE_SOURCE },
    { identifier: '87654321', organism: 'AMC87654321', label: 'Complémentaire fictive B', sample: true, source: SAMPLE_SOURCE },
    { identifier: '99999999', organism: 'AMC99999999', label: 'Complémentaire fictive (contrat OCT 99)', sample: true, source: SAMPLE_SOURCE },
  ],
};

const bad = (field: string, message: string): never => fail('routing_unknown', field, `Table de routage invalide : ${message}`);

export function createRoutingTable(data: RoutingData): RoutingTable {
  if (typeof data?.version !== 'string' || data.version === '') bad('version', 'version manquante.');
  const amoIndex = new Map<string, AmoRouteRow>();
  data.amo.forEach((r, i) => {
    const f = `amo[${i}]`;
    if (!/^\d{2}$/.test(r.scheme)) bad(`${f}.scheme`, 'régime sur 2 chiffres.');
    if (r.fund !== undefined && !/^\d{3}$/.test(r.fund)) bad(`${f}.fund`, 'caisse sur 3 chiffres.');
    if (!/^[0-9A-Z]{1,20}$/.test(r.organism)) bad(`${f}.organism`, 'code d’organisme invalide.');
    if (typeof r.sample !== 'boolean' || typeof r.source !== 'string' || r.source === '') bad(f, 'chaque ligne dit sa source et si elle est un échantillon.');
    const key = `${r.scheme}|${r.fund ?? ''}`;
    if (amoIndex.has(key)) bad(f, `ligne en double (${key}).`);
    amoIndex.set(key, Object.freeze({ ...r }));
  });
  const amcIndex = new Map<string, AmcRouteRow>();
  data.amc.forEach((r, i) => {
    const f = `amc[${i}]`;
    if (!/^[0-9A-Za-z]{8,10}$/.test(r.identifier)) bad(`${f}.identifier`, 'identifiant AMC de 8 à 10 caractères.');
    if (!/^[0-9A-Z]{1,20}$/.test(r.organism)) bad(`${f}.organism`, 'code d’organisme invalide.');
    if (typeof r.sample !== 'boolean' || typeof r.source !== 'string' || r.source === '') bad(f, 'chaque ligne dit sa source et si elle est un échantillon.');
    if (amcIndex.has(r.identifier)) bad(f, `ligne en double (${r.identifier}).`);
    amcIndex.set(r.identifier, Object.freeze({ ...r }));
  });
  return Object.freeze({ version: data.version, amo: data.amo, amc: data.amc, amoIndex, amcIndex });
}

export const SAMPLE_ROUTING: RoutingTable = createRoutingTable(SAMPLE_ROUTING_DATA);

/** The destination organism of `invoice`'s FSE (its AMO) or DRE (its AMC). */
export function destinationOf(kind: DocumentKind, invoice: Invoice, table: RoutingTable = SAMPLE_ROUTING): Destination {
  const b = invoice.beneficiary;
  if (kind === 'FSE') {
    const row = table.amoIndex.get(`${b.scheme}|${b.fund}`) ?? table.amoIndex.get(`${b.scheme}|`);
    if (!row) fail('routing_unknown', 'beneficiary.scheme', `Aucun organisme destinataire connu pour le régime ${b.scheme}, caisse ${b.fund}.`);
    return Object.freeze({ kind: 'AMO', scheme: b.scheme, fund: b.fund, organism: row.organism });
  }
  if (!b.amc) fail('dre_without_amc', 'beneficiary.amc', 'Une DRE demande une complémentaire (AMC) sur la carte.');
  const row = table.amcIndex.get(b.amc.identifier);
  if (!row) fail('routing_unknown', 'beneficiary.amc.identifier', 'Aucun organisme destinataire connu pour cette complémentaire.');
  return Object.freeze({ kind: 'AMC', identifier: b.amc.identifier, organism: row.organism });
}
