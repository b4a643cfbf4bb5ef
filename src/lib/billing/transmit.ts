/**
 * « Télétransmettre » over the records (issue 14 item 5): the signed invoices not yet in a lot
 * are grouped into lots and files per billing number (the engine's rules), each file encrypted
 * for its recipient and packaged into its SMTP message (src/lib/sesam), and the records moved
 * on — lots built and queued with their compostage and subject, documents `in_lot`. Nothing is
 * durable here but the counters: the caller commits the records and the messages in one
 * transaction (the outbox), and only then says anything is done.
 *
 * Isomorphic and card-free: the documents were signed before; the encryptor is the caller's
 * (the trust store checks each recipient certificate at that moment).
 */
import { parseMailbox } from '../sesam/address.js';
import type { CompostageStore } from '../sesam/compostage.js';
import { assertMode, type FlowKind, type FlowMode } from '../sesam/description.js';
import { packageLot, type Encryptor, type PackagedMessage } from '../sesam/package.js';
import { packageBillingFile } from './ssv/send.js';
import type { OctConfig } from '../sesam/routing.js';
import { today, type Clock } from './dates.js';
import { fail } from './errors.js';
import { createLotRecord, queueLot, type InvoiceRecord, type LotRecord } from './lifecycle.js';
import type { BillingNumbering } from './numbering.js';
import { buildTransmission } from './ssv/pipeline.js';
import type { SignedDocument, SsvAdapter, TransmissionWay } from './ssv/types.js';

export interface TransmitRecordsOptions {
  readonly adapter: SsvAdapter;
  readonly numbering: BillingNumbering;
  readonly way: TransmissionWay;
  readonly mode: FlowMode;
  /** The practitioner's mailbox (the messages' `From`). */
  readonly from: string;
  readonly encrypt: Encryptor;
  readonly compostage: CompostageStore;
  readonly clock: Clock;
  readonly timeZone?: string;
  readonly oct?: OctConfig & { readonly number?: string };
}

/**
 * A file as first sent, to send it again identically (transmission.md §7 and §9): its plain
 * bytes (the invoices: keep it sealed) and what its message's subject and description need.
 */
export interface SentFile {
  readonly kind: FlowKind;
  /** The billing number (the subject's exercice). */
  readonly sender: string;
  /** The lot records' `fileName` (the file's own name). */
  readonly fileName: string;
  /** The attachment's name without `.pkcs7`, and the plain file as sent (framed for FACTURE). */
  readonly name: string;
  readonly data: Uint8Array;
  readonly invoices: number;
  readonly version: string;
  readonly lotKinds?: readonly ('FSE' | 'DRE')[];
}

export interface QueuedMessage {
  readonly message: PackagedMessage;
  /** The lots the message's file carries. */
  readonly lotIds: readonly string[];
  readonly file: SentFile;
}

export interface TransmittedRecords {
  /** Every record changed: the invoices whose documents went into a lot. */
  readonly invoices: readonly InvoiceRecord[];
  /** The lots built, each queued with its message's compostage and subject. */
  readonly lots: readonly LotRecord[];
  readonly messages: readonly QueuedMessage[];
}

/** The documents of `records` that wait for a lot: signed and in none. */
export function pendingDocuments(records: readonly InvoiceRecord[]): SignedDocument[] {
  return records.filter((r) => r.invoice.state === 'signed').flatMap((r) => r.documents.filter((d) => d.state === 'signed').map((d) => d.signed));
}

export async function transmitRecords(records: readonly InvoiceRecord[], o: TransmitRecordsOptions): Promise<TransmittedRecords> {
  assertMode(o.mode);
  parseMailbox(o.from, 'from');
  const docs = pendingDocuments(records);
  if (docs.length === 0) fail('no_acts', 'documents', 'Aucune facture signée à transmettre.');
  const bySender = new Map<string, SignedDocument[]>();
  for (const d of docs) bySender.set(d.billingNumber, [...(bySender.get(d.billingNumber) ?? []), d]);

  let current = [...records];
  const replace = (changed: readonly InvoiceRecord[]): void => {
    const byId = new Map(changed.map((r) => [r.id, r]));
    current = current.map((r) => byId.get(r.id) ?? r);
  };
  const lots: LotRecord[] = [];
  const messages: QueuedMessage[] = [];
  const fileDate = today(o.clock, o.timeZone);
  for (const [sender, list] of bySender) {
    const t = await buildTransmission(list, {
      adapter: o.adapter,
      numbering: o.numbering,
      way: o.way,
      sender,
      fileDate,
      ...(o.oct?.number ? { octNumber: o.oct.number } : {}),
    });
    for (const f of t.files) {
      const message = await packageBillingFile(f, {
        mode: o.mode,
        from: o.from,
        sender,
        encrypt: o.encrypt,
        compostage: o.compostage,
        clock: () => new Date(o.clock()),
        ...(o.timeZone ? { timeZone: o.timeZone } : {}),
        ...(o.oct ? { oct: o.oct } : {}),
      });
      const ids: string[] = [];
      for (const lot of f.lots) {
        const built = createLotRecord(lot, sender, f.name, current, o.clock);
        replace(built.invoices);
        lots.push(queueLot(built.lot, { compostage: message.compostage, subject: message.subject }, o.clock));
        ids.push(built.lot.id);
      }
      const file: SentFile = {
        kind: f.kind,
        sender,
        fileName: f.name,
        name: message.filename.replace(/\.pkcs7$/, ''),
        data: message.file,
        invoices: f.invoiceCount,
        version: f.version,
        ...(f.kind === 'FACTURE' ? { lotKinds: f.lots.map((l) => l.kind) } : {}),
      };
      messages.push({ message, lotIds: ids, file });
    }
  }
  const original = new Map(records.map((r) => [r.id, r]));
  return { invoices: current.filter((r) => r !== original.get(r.id)), lots, messages };
}

export interface ResendOptions {
  readonly mode: FlowMode;
  readonly from: string;
  readonly encrypt: Encryptor;
  readonly compostage: CompostageStore;
  readonly clock: Clock;
  readonly timeZone?: string;
  readonly oct?: OctConfig;
}

/**
 * Sends a kept file again (transmission.md §7: retransmission after a negative or missing ARL;
 * §9: re-emission after 40050 or 4025): the same plain file, never re-extracted, encrypted now
 * for the recipient the encryptor vouches for, in a new message with a new compostage; its lots
 * queued again. Every lot of the file must be in it and in a state to go again (refused,
 * delivered without ARL): a file is not re-sent for part of its lots.
 */
export async function resendFile(file: SentFile, lots: readonly LotRecord[], o: ResendOptions): Promise<{ message: PackagedMessage; lots: LotRecord[] }> {
  assertMode(o.mode);
  const mine = lots.filter((l) => l.fileName === file.fileName && l.sender === file.sender);
  if (mine.length === 0) fail('transition_forbidden', 'lots', `Aucun lot du fichier ${file.fileName} à renvoyer.`);
  const message = await packageLot({
    kind: file.kind,
    mode: o.mode,
    from: o.from,
    exercice: file.sender,
    invoices: file.invoices,
    version: file.version,
    file: { name: file.name, data: file.data },
    ...(file.lotKinds ? { lotKinds: file.lotKinds } : {}),
    ...(o.oct ? { oct: o.oct } : {}),
    encrypt: o.encrypt,
    compostage: o.compostage,
    clock: () => new Date(o.clock()),
    ...(o.timeZone ? { timeZone: o.timeZone } : {}),
  });
  return { message, lots: mine.map((l) => queueLot(l, { compostage: message.compostage, subject: message.subject }, o.clock)) };
}
