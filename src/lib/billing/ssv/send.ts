/**
 * The evening's one action to its end: `billDay` (checks, numbers, formatting, one card
 * signature per document, lots and files), then each file encrypted for its recipient and
 * packaged into its SMTP message (src/lib/sesam `packageLot`), ready for the outbox. Shared by
 * the PWA and the benchmark; the caller commits the messages durably (the outbox) and keeps
 * the records (lifecycle.ts).
 *
 * The card is the slow part. Every durable number the rest of the day needs is known once the
 * documents are formatted — lot and file numbers (billDay) and one compostage per file (here) —
 * so they are reserved WHILE the card signs (ADR 0010, second addendum). A reserved value left
 * unused (an invoice the card did not sign) is a gap, never a repeat.
 */
import { parseMailbox } from '../../sesam/address.js';
import { reservedCompostages, type CompostageStore } from '../../sesam/compostage.js';
import { assertMode, type FlowMode } from '../../sesam/description.js';
import { packageLot, type Encryptor, type PackagedMessage } from '../../sesam/package.js';
import type { OctConfig } from '../../sesam/routing.js';
import { billDay, type BilledDay, type DayOptions } from './pipeline.js';
import type { Invoice } from '../invoice.js';
import type { BillingFile } from './types.js';

export interface SendOptions extends DayOptions {
  /** `test` or `demo` everywhere but a homologated production (docs/domain/transmission.md §7). */
  readonly mode: FlowMode;
  /** The practitioner's mailbox (the message's `From`). */
  readonly from: string;
  /** Encrypts one file for its recipient (CMS EnvelopedData, DER). */
  readonly encrypt: Encryptor;
  /** The workstation's compostage counter. */
  readonly compostage: CompostageStore;
  /** The packaging clock (the compostage and the `Date`); default now. */
  readonly packagingClock?: () => Date;
  readonly timeZone?: string;
  /** OCT ways: the OCT's address and number. */
  readonly oct?: OctConfig;
}

export interface SentDay extends BilledDay {
  /** One message per file, in the files' order; absent when nothing was signed. */
  readonly messages?: readonly PackagedMessage[];
}

/** The attachment is `<name>.pkcs7`: the file's name without its engine's extension. */
const attachmentName = (f: BillingFile): string => f.name.replace(/\.[A-Za-z0-9]{1,8}$/, '');

/** How a file is packaged: who sends it, for which sender number, encrypted how. */
export interface FilePackaging {
  readonly mode: FlowMode;
  readonly from: string;
  readonly sender: string;
  readonly encrypt: Encryptor;
  readonly compostage: CompostageStore;
  readonly clock?: () => Date;
  readonly timeZone?: string;
  readonly oct?: OctConfig;
}

/** One billing file into its SMTP message (src/lib/sesam `packageLot`): shared by `sendDay` and `transmitRecords`. */
export function packageBillingFile(f: BillingFile, o: FilePackaging): Promise<PackagedMessage> {
  return packageLot({
    kind: f.kind,
    mode: o.mode,
    from: o.from,
    exercice: o.sender,
    invoices: f.invoiceCount,
    version: f.version,
    file: { name: attachmentName(f), data: f.bytes },
    ...(f.kind === 'FACTURE' ? { lotKinds: f.lots.map((l) => l.kind) } : {}),
    ...(o.oct ? { oct: o.oct } : {}),
    encrypt: o.encrypt,
    compostage: o.compostage,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.timeZone ? { timeZone: o.timeZone } : {}),
  });
}

/** Bills the day and packages every file. Throws before anything durable on bad sending settings. */
export async function sendDay(drafts: readonly Invoice[], o: SendOptions): Promise<SentDay> {
  // Settings checked before any counter moves.
  assertMode(o.mode);
  parseMailbox(o.from, 'from');
  if (o.oct) parseMailbox(o.oct.address, 'oct');
  let compostage: CompostageStore = o.compostage;
  const billed = await billDay(drafts, {
    ...o,
    onPlanned: (plan) => {
      compostage = reservedCompostages(o.compostage, plan.files);
      o.onPlanned?.(plan);
    },
  });
  if (!billed.transmission) return billed;
  const messages: PackagedMessage[] = [];
  for (const f of billed.transmission.files) {
    messages.push(
      await packageBillingFile(f, {
        mode: o.mode,
        from: o.from,
        sender: o.sender,
        encrypt: o.encrypt,
        compostage,
        ...(o.packagingClock ? { clock: o.packagingClock } : {}),
        ...(o.timeZone ? { timeZone: o.timeZone } : {}),
        ...(o.oct ? { oct: o.oct } : {}),
      }),
    );
  }
  return Object.freeze({ ...billed, messages: Object.freeze(messages) });
}
