/**
 * From a lot file to the SMTP message: route, Content-Description, compostage, subject,
 * (OCT framing), compression, encryption, MIME. The encryptor is injected (the CMS module in
 * production, a fake in tests), and so are the compostage store, the clock and randomness.
 *
 * Order matters: every field is checked before the compostage counter is drawn, so a typo never
 * consumes a counter value (harmless for uniqueness, but a gap in the trace the practitioner
 * reads); the counter is drawn before the file is framed and encrypted, so that a FACTURE file
 * can be named after its compostage.
 */
import { parseMailbox } from './address.js';
import { nextCompostage, type CompostageStore } from './compostage.js';
import { checkFilename, composeMessage, type MessageStructure } from './compose.js';
import { assertKind, assertMode, contentDescription, type FlowKind, type FlowMode } from './description.js';
import { SesamFieldError } from './errors.js';
import { checkOctFields, simulatorOctFramer, type OctFile, type OctFramer, type OctLot } from './oct.js';
import { routeFlow, type OctConfig, type Route } from './routing.js';
import { checkExercice, checkInvoiceCount, checkVersion, formatSubject, subjectPrefix } from './subject.js';
import { DEFAULT_TIME_ZONE } from './time.js';

/**
 * Encrypts the (possibly compressed) file for the recipient of `route` (whose certificate:
 * `route.certificateEmail`; an FSE and a DRE go to different insurers); resolves to DER
 * EnvelopedData.
 */
export type Encryptor = (plain: Uint8Array, route: Route) => Promise<Uint8Array>;
/** Compresses the file before encryption (the `Z` flag). */
export type Compressor = (plain: Uint8Array) => Promise<Uint8Array>;

/** gzip through CompressionStream (browsers and Node ≥ 18). */
export const gzip: Compressor = async (plain) => {
  const stream = new Blob([plain as BlobPart]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
};

export interface FactureInput {
  /** Lots to frame, in order (FSE and DRE mixed freely). */
  lots: OctLot[];
  /** Group 12 field 2; default `F<compostage>`, different for every file. */
  fileName?: string;
  /** Group 14 field 3; default empty. */
  messageZone?: string;
  /** Default: our simulator's framing. The SSV adapter provides the real one. */
  framer?: OctFramer;
}

export interface PackageInput {
  kind: FlowKind;
  mode: FlowMode;
  /** Compress (gzip by default) before encrypting; sets the `Z` flag. */
  compressed?: boolean;
  structure?: MessageStructure;
  from: string;
  /** Default: from the routing table (`routeFlow`). */
  to?: string;
  /** OCT mode: the OCT's address (and number, for FACTURE). */
  oct?: OctConfig;
  /** Sender number. */
  exercice: string;
  /** Total number of invoices in the file. */
  invoices: number;
  /** Specification version from the lot formatter, 6 digits. */
  version: string;
  /**
   * The file to send, already built: a lot file (FSE/DRE), or for FACTURE a file already
   * framed (by the SSV formatter, or kept from a first send: a retransmission re-sends the
   * same file with a new compostage).
   */
  file?: { name: string; data: Uint8Array };
  /** FACTURE only, instead of `file`: lots to frame for the OCT. */
  facture?: FactureInput;
  /** For a prebuilt FACTURE `file`: which lot kinds it holds (decides SV/DR). Default SV. */
  lotKinds?: readonly ('FSE' | 'DRE')[];
  encrypt: Encryptor;
  compress?: Compressor;
  compostage: CompostageStore;
  clock?: () => Date;
  timeZone?: string;
  preamble?: string;
  epilogue?: string;
  random?: (length: number) => Uint8Array;
}

export interface PackagedMessage {
  message: Uint8Array;
  subject: string;
  compostage: string;
  counter: number;
  messageId: string;
  description: string;
  from: string;
  to: string;
  route: Route;
  /** Attachment file name (`<file>.pkcs7`). */
  filename: string;
  /** The plain file as sent (framed for FACTURE): keep it to retransmit identically. */
  file: Uint8Array;
  /** The encrypted attachment (DER). */
  attachment: Uint8Array;
  date: Date;
}

/** Checks everything that needs no I/O. Throws SesamFieldError. */
function check(input: PackageInput): { route: Route; description: string; prefix: 'SV' | 'DR' } {
  assertKind(input.kind);
  assertMode(input.mode);
  const description = contentDescription(input.kind, input.mode, input.compressed ?? false);
  const route = routeFlow(input.kind, input.mode, input.oct);
  parseMailbox(input.from, 'from');
  if (input.to !== undefined) parseMailbox(input.to, 'to');
  checkVersion(input.version);
  checkExercice(input.exercice);
  checkInvoiceCount(input.invoices);
  if (input.kind === 'FACTURE') {
    if ((input.file === undefined) === (input.facture === undefined)) {
      throw new SesamFieldError('invalid_lot', 'file', 'FACTURE : fournir soit le fichier déjà encadré, soit les lots à encadrer (pas les deux)');
    }
    if (input.facture) {
      if (!input.oct?.number) throw new SesamFieldError('missing_oct', 'oct', "numéro d'OCT (groupe 12 champ 7) manquant");
      checkOctFields({
        header: { fileName: input.facture.fileName ?? 'F0', application: 'TO', recipientType: 'OT', recipientNumber: input.oct.number },
        lots: input.facture.lots,
        messageZone: input.facture.messageZone ?? '',
      });
    }
  } else {
    if (!input.file) throw new SesamFieldError('invalid_lot', 'file', 'fichier de lots manquant');
    if (input.facture) throw new SesamFieldError('invalid_lot', 'facture', 'les lots à encadrer ne concernent que FACTURE');
  }
  if (input.file) {
    checkFilename(`${input.file.name}.pkcs7`);
    if (input.file.data.length === 0) throw new SesamFieldError('invalid_lot', 'file', 'fichier de lots vide');
  }
  const lotKinds = input.facture ? input.facture.lots.map((l) => l.kind) : input.lotKinds;
  return { route, description, prefix: subjectPrefix(input.kind, lotKinds) };
}

export async function packageLot(input: PackageInput): Promise<PackagedMessage> {
  const { route, description, prefix } = check(input);
  const timeZone = input.timeZone ?? DEFAULT_TIME_ZONE;
  const { compostage, counter, date } = await nextCompostage(input.compostage, input.clock, timeZone);

  let name: string;
  let file: Uint8Array;
  if (input.facture) {
    const oct: OctFile = {
      header: { fileName: input.facture.fileName ?? `F${compostage}`, application: 'TO', recipientType: 'OT', recipientNumber: input.oct?.number ?? '' },
      lots: input.facture.lots,
      messageZone: input.facture.messageZone ?? '',
    };
    file = (input.facture.framer ?? simulatorOctFramer).frame(oct);
    name = oct.header.fileName;
  } else {
    // check() guarantees the file for every other case.
    file = input.file!.data;
    name = input.file!.name;
  }

  const plain = input.compressed ? await (input.compress ?? gzip)(file) : file;
  const attachment = await input.encrypt(plain, route);
  const subject = formatSubject({ prefix, version: input.version, exercice: input.exercice, compostage, invoices: input.invoices });
  const to = input.to ?? route.to;
  const filename = `${name}.pkcs7`;
  const composed = composeMessage({
    from: input.from,
    to,
    subject,
    date,
    timeZone,
    messageIdHint: compostage,
    description,
    filename,
    content: attachment,
    structure: input.structure ?? 'single',
    ...(input.preamble !== undefined ? { preamble: input.preamble } : {}),
    ...(input.epilogue !== undefined ? { epilogue: input.epilogue } : {}),
    ...(input.random ? { random: input.random } : {}),
  });
  return {
    message: composed.bytes,
    subject,
    compostage,
    counter,
    messageId: composed.messageId,
    description,
    from: input.from,
    to,
    route: input.to !== undefined ? { ...route, to, certificateEmail: parseMailbox(to, 'to').address } : route,
    filename,
    file,
    attachment,
    date,
  };
}
