/**
 * The SSV seam (issue 13 item 6): what any invoice engine does for us, whatever builds the
 * bytes. Three implementations fit behind `SsvAdapter`:
 *   - our simulator (`./simulator.ts`), whose byte format is OURS (docs/billing/simulator-format.md),
 *     NOT the B2 / DR norms: it honours every field docs/domain/workflow.md names and nothing else may
 *     depend on its layout;
 *   - the GIE's official SSV library, native, on the workstation: it belongs in the bridge
 *     (bridge/services/ssv.ts reports it absent) and is reached through the bridge channel;
 *   - a third-party homologated billing engine reached over its API.
 * Real FSE production needs the CNDA agreement and the GIE's homologation of the engine: the
 * simulator's files are for tests, demonstrations and our own simulated insurer only.
 *
 * Everything here is data: no I/O, no clock (the caller passes dates), no randomness.
 */
import type { Invoice } from '../invoice.js';
import type { PricedInvoice } from '../pricing.js';

/** FSE (feuille de soins électronique, to the AMO) or DRE (demande de remboursement électronique, to the AMC). */
export type DocumentKind = 'FSE' | 'DRE';

/** Where a lot goes: an AMO fund (by scheme and fund) or an AMC (by its identifier). */
export type Destination =
  | { readonly kind: 'AMO'; readonly scheme: string; readonly fund: string; readonly organism: string }
  | { readonly kind: 'AMC'; readonly identifier: string; readonly organism: string };

/** How the Vitale data came in: read from the card, or typed by hand (degraded mode, no card). */
export type Securing = 'vitale' | 'degraded';

/** What the formatter takes: a checked invoice (`to_sign`), its number and its pricing. */
export interface FormatInput {
  readonly invoice: Invoice;
  readonly priced: PricedInvoice;
  /** 9 digits, from `BillingNumbering.invoiceNumber` (never repeats per billing number). */
  readonly number: string;
  /** Default `vitale`. */
  readonly securing?: Securing;
  /** Day the document is formatted, YYYY-MM-DD (the caller's clock). */
  readonly createdOn: string;
}

/**
 * One FSE or DRE, formatted: `bytes` are its canonical bytes, exactly what is hashed
 * (SHA-256) and signed on the CPS, and exactly what the file carries.
 */
export interface FormattedDocument {
  readonly kind: DocumentKind;
  /** Invoice number (9 digits); an FSE and its DRE share it. */
  readonly number: string;
  /** The practitioner's billing number (the situation invoiced under). */
  readonly billingNumber: string;
  readonly destination: Destination;
  /** Total fee and the part asked of the destination, cents (for lot and file totals). */
  readonly feeCents: number;
  readonly askedCents: number;
  readonly bytes: Uint8Array;
}

/** A document signed with the CPS signature key: PKCS#1 v1.5 over SHA-256(bytes). */
export interface SignedDocument extends FormattedDocument {
  readonly signature: Uint8Array;
  /** DER of the CPS signature certificate that verifies `signature`. */
  readonly certificate: Uint8Array;
}

/**
 * Signs with the CPS signature key. The bridge's card services in production (the PIN was
 * verified in this session); a test key only in tests and demonstrations (`--test-key`).
 */
export interface InvoiceSigner {
  /** DER of the signature certificate. */
  certificate(): Promise<Uint8Array>;
  /** RS256: PKCS#1 v1.5 signature of a SHA-256 digest (32 bytes). */
  signDigest(digest: Uint8Array): Promise<Uint8Array>;
}

export interface Lot {
  readonly kind: DocumentKind;
  /** Lot number, from `BillingNumbering.lotNumber`. */
  readonly number: string;
  readonly destination: Destination;
  readonly documents: readonly SignedDocument[];
  /** Specification version of the lot formatter, 6 digits (e.g. `140700`). */
  readonly version: string;
  readonly bytes: Uint8Array;
}

/**
 * How the files go (docs/domain/transmission.md §8): `direct` to the insurers, FSE and DRE files apart;
 * to an OCT, way 1 (`oct_split`: the same files as direct mode), way 2 (`oct_single`: one
 * framed `FACTURE/SV` file holding FSE and DRE lots), way 3 (`oct_enriched`: enriched FSE,
 * AMC contract type 99, one framed file or per-fund files).
 */
export type TransmissionWay = 'direct' | 'oct_split' | 'oct_single' | 'oct_enriched';

export interface BillingFile {
  /** FSE or DRE file, or the OCT's FACTURE single file (Content-Description `FACTURE/SV/K`). */
  readonly kind: DocumentKind | 'FACTURE';
  readonly way: TransmissionWay;
  /** File number, from `BillingNumbering.fileNumber`. */
  readonly number: string;
  /** File name (different for every file: OCT group 12 field 2). */
  readonly name: string;
  readonly lots: readonly Lot[];
  /** Group 13 field 7 (FSE) / group 93 field 7 (DRE): feeds `SVvvvvvv` / `DRvvvvvv`. */
  readonly version: string;
  /** Total number of invoices in the file: feeds the subject's `nnnnn`. */
  readonly invoiceCount: number;
  readonly bytes: Uint8Array;
}

export interface LotOptions {
  /** Sender number ("numéro émetteur"), equal in the lot and the file formatter. */
  readonly sender: string;
  /** Reserves `count` lot numbers at once, once the lots are planned (durable counter, numbering.ts). */
  readonly lotNumbers: (count: number) => Promise<string[]>;
}

export interface FileOptions {
  readonly way: TransmissionWay;
  readonly sender: string;
  /** YYYY-MM-DD. */
  readonly fileDate: string;
  /** Reserves `count` file numbers at once, once the files are planned. */
  readonly fileNumbers: (count: number) => Promise<string[]>;
  /** OCT ways: group 12 field 7, the OCT's identifier. */
  readonly octNumber?: string;
  /** OCT ways: group 14 field 3, free. */
  readonly messageZone?: string;
}

export interface SsvAdapter {
  readonly name: string;
  /**
   * True only for a homologated engine (the GIE's SSV library, a homologated third-party
   * engine). Our simulator says false, and the UI says what that means.
   */
  readonly homologated: boolean;
  /** Specification version the engine formats to, 6 digits (group 13 / 93 field 7). */
  readonly version: string;
  /** The FSE, and the DRE when the invoice asks one (`invoice.dre`). */
  formatInvoice(input: FormatInput): Promise<FormattedDocument[]>;
  sign(document: FormattedDocument, signer: InvoiceSigner): Promise<SignedDocument>;
  /** One lot per destination organism and kind, at most the engine's maximum per lot. */
  buildLots(documents: readonly SignedDocument[], options: LotOptions): Promise<Lot[]>;
  /** Files grouping lots, by the transmission way. */
  buildFiles(lots: readonly Lot[], options: FileOptions): Promise<BillingFile[]>;
  /**
   * How many lots and files these documents make by this way, so that their numbers are
   * reserved in one durable step. Optional: an engine numbering with its own counters leaves it out.
   */
  planCounts?(documents: readonly FormattedDocument[], way: TransmissionWay): { lots: number; files: number };
}
