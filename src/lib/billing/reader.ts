/**
 * The insurer's reader of our simulator's files (issue 13 item 9): parses a file back into lots
 * and documents, verifies each document's signature with the CPS certificate it carries and that
 * certificate's chain with our validator, re-prices every invoice with the catalogue and says
 * which amount differs. The returns issue's simulated insurer accepts or rejects on it; it is
 * also the simulator's conformance test.
 *
 * An unreadable file is a `BillingError` (`format_invalid`…): nothing can be said about it. A
 * readable file always gives a report; every problem found is a `Discrepancy` with a stable
 * code, where it is (lot, document, act, field), what was declared and what we recomputed.
 * Reports carry numbers, codes and amounts only: no NIR, no name (they end up in logs).
 */
import { parseCertificate, Verifier, cpsIdentity } from '../pki/index.js';
import type { Catalogue } from './catalogue.js';
import { BillingError } from './errors.js';
import { priceInvoice, type Parts } from './pricing.js';
import { destinationOf, type RoutingTable } from './routing-data.js';
import { verifyDocumentSignature } from './signing.js';
import { decodeAnyFile, PART_FIELDS, type DecodedLot } from './ssv/sim-format.js';
import type { Destination, DocumentKind } from './ssv/types.js';

export interface ReaderOptions {
  /** Trust anchors of the CPS signature certificates (DER). */
  readonly anchors: readonly Uint8Array[];
  readonly intermediates?: readonly Uint8Array[];
  readonly crls?: readonly Uint8Array[];
  /** When the certificates are judged (the file's reception). */
  readonly at: Date;
  /** Default 'if-available': a missing CRL is a warning, a revoked certificate a discrepancy. */
  readonly revocation?: 'require' | 'if-available' | 'off';
  /** The tariff tables to re-price with (the sample one only when chosen). */
  readonly catalogue: Catalogue;
  readonly routing?: RoutingTable;
}

export type DiscrepancyCode =
  | 'signature_invalid'
  | 'certificate_invalid'
  | 'signer_not_practitioner'
  | 'reprice_failed'
  | 'amount_differs'
  | 'total_differs'
  | 'lot_kind_differs'
  | 'lot_destination_differs'
  | 'routing_differs'
  | 'version_differs'
  | 'duplicate_document';

export interface Discrepancy {
  readonly code: DiscrepancyCode;
  /** e.g. "lot 000012 · FSE 000000042 · acte 2 · amoCents". */
  readonly where: string;
  /** French, for the insurer's agent or the practitioner. */
  readonly message: string;
  readonly declared?: number | string;
  readonly recomputed?: number | string;
}

export interface ReadDocument {
  readonly kind: DocumentKind;
  readonly number: string;
  readonly billingNumber: string;
  readonly destination: Destination;
  readonly securing: string;
  readonly acts: number;
  readonly declared: Parts;
  /** Absent when the invoice could not be re-priced (see the discrepancies). */
  readonly recomputed?: Parts;
  readonly signature: 'valid' | 'invalid';
  readonly certificate: { readonly valid: boolean; readonly errors: readonly string[]; readonly warnings: readonly string[] };
  readonly discrepancies: readonly Discrepancy[];
}

export interface ReadLot {
  readonly kind: DocumentKind;
  readonly number: string;
  readonly destination: Destination;
  readonly documents: readonly ReadDocument[];
  readonly feeCents: number;
  readonly amoNetCents: number;
  readonly amcCents: number;
}

export interface ReadReport {
  readonly kind: DocumentKind | 'FACTURE';
  readonly lots: readonly ReadLot[];
  readonly documents: number;
  readonly feeCents: number;
  /** Every discrepancy of the file, lots and documents included, in reading order. */
  readonly discrepancies: readonly Discrepancy[];
  /** True when every signature and chain verifies and every amount adds up. */
  readonly ok: boolean;
}


const euros = (c: number): string => `${Math.floor(c / 100)},${String(c % 100).padStart(2, '0')} €`;

function compareParts(declared: Parts, recomputed: Parts, where: string, code: 'amount_differs' | 'total_differs', out: Discrepancy[]): void {
  for (const f of PART_FIELDS) {
    if (declared[f] !== recomputed[f]) {
      out.push({ code, where: `${where} · ${f}`, message: `Montant déclaré ${euros(declared[f])}, recalculé ${euros(recomputed[f])}.`, declared: declared[f], recomputed: recomputed[f] });
    }
  }
}

const sameDestination = (a: Destination, b: Destination): boolean =>
  a.kind === b.kind && a.organism === b.organism && (a.kind === 'AMO' ? b.kind === 'AMO' && a.scheme === b.scheme && a.fund === b.fund : b.kind === 'AMC' && a.identifier === b.identifier);

const describe = (d: Destination): string => (d.kind === 'AMO' ? `AMO ${d.scheme}/${d.fund} (${d.organism})` : `AMC ${d.identifier} (${d.organism})`);

async function readDocument(entry: DecodedLot['documents'][number], lot: DecodedLot, where: string, verifier: Verifier, o: ReaderOptions): Promise<ReadDocument> {
  const doc = entry.document;
  const out: Discrepancy[] = [];
  const inv = doc.invoice;
  const here = `${where} · ${doc.kind} ${doc.number}`;

  if (doc.kind !== lot.header.kind) out.push({ code: 'lot_kind_differs', where: here, message: `Document ${doc.kind} dans un lot ${lot.header.kind}.`, declared: doc.kind, recomputed: lot.header.kind });
  if (doc.version !== lot.header.version) out.push({ code: 'version_differs', where: here, message: 'Version de spécification différente de celle du lot.', declared: doc.version, recomputed: lot.header.version });
  if (!sameDestination(doc.destination, lot.header.destination)) {
    out.push({ code: 'lot_destination_differs', where: here, message: `Document destiné à ${describe(doc.destination)} dans le lot de ${describe(lot.header.destination)}.` });
  }
  try {
    const expected = destinationOf(doc.kind, inv, o.routing);
    if (!sameDestination(expected, doc.destination)) {
      out.push({ code: 'routing_differs', where: here, message: `Destinataire déclaré ${describe(doc.destination)}, attendu ${describe(expected)}.` });
    }
  } catch (e) {
    if (!(e instanceof BillingError)) throw e;
    out.push({ code: 'routing_differs', where: here, message: e.message, declared: describe(doc.destination), recomputed: e.code });
  }

  const signed = {
    kind: doc.kind,
    number: doc.number,
    billingNumber: inv.practitioner.situation.billingNumber,
    destination: doc.destination,
    feeCents: doc.declared.totals.feeCents,
    askedCents: doc.kind === 'FSE' ? doc.declared.totals.amoNetCents : doc.declared.totals.amcCents,
    bytes: entry.bytes,
    signature: entry.signature,
    certificate: entry.certificate,
  };
  const sig = await verifyDocumentSignature(signed);
  if (!sig.ok) out.push({ code: 'signature_invalid', where: here, message: `Signature invalide : ${sig.reason}.` });

  const chain = await verifier.verify({
    leaf: entry.certificate,
    anchors: [...o.anchors],
    intermediates: [...(o.intermediates ?? [])],
    crls: [...(o.crls ?? [])],
    at: o.at,
    revocation: o.revocation ?? 'if-available',
  });
  const errors = chain.errors.map((e) => `${e.code}: ${e.message}`);
  const warnings = chain.warnings.map((e) => `${e.code}: ${e.message}`);
  if (!chain.valid) out.push({ code: 'certificate_invalid', where: here, message: `Certificat de signature refusé : ${errors.join(' ; ')}.` });
  try {
    const id = cpsIdentity(parseCertificate(new Uint8Array(entry.certificate)));
    if (id.nationalId === null || !id.nationalId.endsWith(inv.practitioner.rpps)) {
      out.push({ code: 'signer_not_practitioner', where: here, message: 'Le certificat de signature n’est pas celui du professionnel facturant.', declared: inv.practitioner.rpps, recomputed: id.nationalId ?? '' });
    }
  } catch {
    // An unreadable certificate is already a `certificate_invalid` above.
  }

  let recomputed: Parts | undefined;
  try {
    const priced = priceInvoice(inv, o.catalogue);
    recomputed = priced.totals;
    if (priced.acts.length !== doc.declared.acts.length) {
      out.push({ code: 'amount_differs', where: `${here} · actes`, message: 'Nombre de montants par acte différent du nombre d’actes.', declared: doc.declared.acts.length, recomputed: priced.acts.length });
    } else {
      priced.acts.forEach((a, i) => compareParts(doc.declared.acts[i]!, a, `${here} · acte ${i + 1}`, 'amount_differs', out));
    }
    compareParts(doc.declared.totals, priced.totals, `${here} · total`, 'total_differs', out);
  } catch (e) {
    if (!(e instanceof BillingError)) throw e;
    out.push({ code: 'reprice_failed', where: here, message: `Facture impossible à recalculer : ${e.message}`, recomputed: e.code });
  }

  return Object.freeze({
    kind: doc.kind,
    number: doc.number,
    billingNumber: inv.practitioner.situation.billingNumber,
    destination: doc.destination,
    securing: doc.securing,
    acts: inv.acts.length,
    declared: doc.declared.totals,
    ...(recomputed ? { recomputed } : {}),
    signature: sig.ok ? 'valid' : 'invalid',
    certificate: { valid: chain.valid, errors, warnings },
    discrepancies: out,
  });
}

/** Reads a whole file. Throws a BillingError only when the file cannot be read at all. */
export async function readBillingFile(bytes: Uint8Array, o: ReaderOptions): Promise<ReadReport> {
  const file = decodeAnyFile(bytes);
  const verifier = new Verifier();
  const all: Discrepancy[] = [];
  const seen = new Set<string>();
  const lots: ReadLot[] = [];
  let documents = 0;
  let feeCents = 0;
  for (const lot of file.lots) {
    const where = `lot ${lot.header.number}`;
    const docs: ReadDocument[] = [];
    for (const entry of lot.documents) {
      const d = await readDocument(entry, lot, where, verifier, o);
      const key = `${d.kind}|${d.billingNumber}|${d.number}`;
      if (seen.has(key)) {
        all.push({ code: 'duplicate_document', where: `${where} · ${d.kind} ${d.number}`, message: 'Facture présente deux fois dans le fichier.' });
      }
      seen.add(key);
      all.push(...d.discrepancies);
      docs.push(d);
    }
    const sum = (f: 'feeCents' | 'amoNetCents' | 'amcCents'): number => docs.reduce((n, d) => n + d.declared[f], 0);
    lots.push(Object.freeze({ kind: lot.header.kind, number: lot.header.number, destination: lot.header.destination, documents: docs, feeCents: sum('feeCents'), amoNetCents: sum('amoNetCents'), amcCents: sum('amcCents') }));
    documents += docs.length;
    feeCents += sum('feeCents');
  }
  return Object.freeze({ kind: file.kind, lots, documents, feeCents, discrepancies: all, ok: all.length === 0 });
}
