/**
 * Our SSV simulator: an `SsvAdapter` whose bytes are OUR format (docs/billing/simulator-format.md),
 * not the B2 / DR norms. It is what tests, demonstrations and our simulated insurer use; it is
 * not homologated and real FSE production needs a homologated engine (the GIE's SSV library in
 * the bridge, or an approved third-party engine) and the CNDA agreement.
 *
 * It composes pure parts: routing and grouping (../lots.ts, ../routing-data.ts), the byte format
 * (./sim-format.ts), the OCT framer (../../sesam/oct.ts) and the card signature (../signing.ts).
 */
import { simulatorOctFramer } from '../../sesam/oct.js';
import { fail } from '../errors.js';
import { planFiles, planLots, MAX_DOCUMENTS_PER_LOT } from '../lots.js';
import { destinationOf } from '../routing-data.js';
import type { RoutingTable } from '../routing-data.js';
import { signDocument } from '../signing.js';
import { encodeDocument, encodeFile, encodeLot } from './sim-format.js';
import type { BillingFile, DocumentKind, FileOptions, FormatInput, FormattedDocument, Lot, LotOptions, SignedDocument, SsvAdapter, TransmissionWay } from './types.js';

/** Addendum 7 of the FSE specifications (docs/domain/workflow.md): the subject prefix becomes `SV140700`. */
export const SIMULATOR_VERSION = '140700';
/** Sender type of a practitioner's workstation in our format ("PS"). */
export const SENDER_TYPE_PS = 'PS';
/** The file formatter's grouping criterion ("CRF") in our format: lots grouped by destination organism. */
export const FILE_CRITERION = 'ORG';

export interface SimulatorOptions {
  /** Specification version written in group 13 / 93 field 7, 6 digits. */
  version?: string;
  routing?: RoutingTable;
  maxPerLot?: number;
  maxLotsPerFile?: number;
  /** Way 3 (enriched FSE): one file per fund instead of one framed FACTURE file. */
  enrichedPerFund?: boolean;
}

const FORMATTABLE = new Set(['to_sign', 'signed']);

/** File names differ for every file (OCT group 12 field 2): kind, sender and file number. */
export function simulatorFileName(kind: DocumentKind | 'FACTURE', sender: string, number: string): string {
  return `${kind}-${sender}-${number}.sim`;
}

export function simulatorAdapter(options: SimulatorOptions = {}): SsvAdapter {
  const version = options.version ?? SIMULATOR_VERSION;
  if (!/^\d{6}$/.test(version)) fail('format_invalid', 'version', 'Version de spécification invalide (6 chiffres).');
  const maxPerLot = options.maxPerLot ?? MAX_DOCUMENTS_PER_LOT;
  const fileOptions = {
    ...(options.enrichedPerFund !== undefined ? { enrichedPerFund: options.enrichedPerFund } : {}),
    ...(options.maxLotsPerFile !== undefined ? { maxLotsPerFile: options.maxLotsPerFile } : {}),
  };

  return {
    name: 'Simulateur Teletrans (format propre, non homologué)',
    homologated: false,
    version,

    async formatInvoice(input: FormatInput): Promise<FormattedDocument[]> {
      const { invoice, priced } = input;
      // Only a checked invoice is formatted: `submitForSigning` moved it to `to_sign`.
      if (!FORMATTABLE.has(invoice.state)) {
        fail('transition_forbidden', 'state', 'Seule une facture vérifiée (à signer) peut être mise en forme.');
      }
      if (priced.invoiceId !== invoice.id) fail('format_invalid', 'priced', 'La tarification ne correspond pas à cette facture.');
      const kinds: DocumentKind[] = invoice.dre ? ['FSE', 'DRE'] : ['FSE'];
      return kinds.map((kind) => {
        const destination = destinationOf(kind, invoice, options.routing);
        const t = priced.totals;
        return Object.freeze({
          kind,
          number: input.number,
          billingNumber: invoice.practitioner.situation.billingNumber,
          destination,
          feeCents: t.feeCents,
          askedCents: kind === 'FSE' ? t.amoNetCents : t.amcCents,
          bytes: encodeDocument(kind, input, destination, version),
        });
      });
    },

    sign: signDocument,

    async buildLots(documents: readonly SignedDocument[], o: LotOptions): Promise<Lot[]> {
      const lots: Lot[] = [];
      const plans = planLots(documents, maxPerLot);
      // Numbers are drawn once the plan is known, all in one durable step.
      const numbers = plans.length ? await o.lotNumbers(plans.length) : [];
      for (const [i, plan] of plans.entries()) {
        const number = numbers[i]!;
        const header = { kind: plan.kind, number, destination: plan.destination, senderType: SENDER_TYPE_PS, sender: o.sender, version };
        lots.push(Object.freeze({ ...header, documents: plan.documents, bytes: encodeLot(header, plan.documents) }));
      }
      return lots;
    },

    planCounts(documents: readonly FormattedDocument[], way: TransmissionWay) {
      const lots = planLots(documents, maxPerLot);
      return { lots: lots.length, files: planFiles(lots, way, fileOptions).length };
    },

    async buildFiles(lots: readonly Lot[], o: FileOptions): Promise<BillingFile[]> {
      const plans = planFiles(lots, o.way, fileOptions);
      const files: BillingFile[] = [];
      if (plans.some((p) => p.kind === 'FACTURE') && !o.octNumber) fail('format_invalid', 'octNumber', 'Numéro de l’OCT manquant (groupe 12 champ 7).');
      const numbers = plans.length ? await o.fileNumbers(plans.length) : [];
      for (const [i, plan] of plans.entries()) {
        const number = numbers[i]!;
        const name = simulatorFileName(plan.kind, o.sender, number);
        const bytes =
          plan.kind === 'FACTURE'
            ? simulatorOctFramer.frame({
                header: { fileName: name, application: 'TO', recipientType: 'OT', recipientNumber: o.octNumber ?? '' },
                lots: plan.lots.map((l) => ({ kind: l.kind, data: l.bytes })),
                messageZone: o.messageZone ?? '',
              })
            : encodeFile(
                { kind: plan.kind, number, name, fileDate: o.fileDate, senderType: SENDER_TYPE_PS, sender: o.sender, version, criterion: FILE_CRITERION },
                plan.lots.map((l) => l.bytes),
              );
        files.push(Object.freeze({ kind: plan.kind, way: o.way, number, name, lots: plan.lots, version, invoiceCount: plan.invoiceCount, bytes }));
      }
      return files;
    },
  };
}
