/**
 * The simulated insurer front end (issue 15 item 1): what it does with one message received
 * from a practitioner, and the answers it sends back. One implementation for `npm start`'s
 * embedded defaults and for the tests; the mail around it (SMTP in, the practitioner's mailbox
 * out) is the caller's.
 *
 * For each message: the message profile (parseMessage: headers, Content-Description, subject,
 * one file), a compostage never seen before, the attachment encrypted (else 4025), for one of
 * the front end's certificates (a revoked one, or none: 40050, the flow rejected; an older one
 * than the current: decrypted, and 40150), decompressed, read by the billing core's insurer
 * reader (every signature, chain and amount), then one ARL for the file (our format,
 * docs/returns/arl.md, not NOEMIE): each lot accepted, or rejected with the first reason found;
 * and, for the accepted lots' third-party-payment invoices, one RSP (docs/returns/rsp.md): each
 * paid in full what the insurer owes the practitioner, on the day.
 * Scenarios for demonstrations and tests: lose the ARL, reject every lot.
 *
 * This is a SIMULATOR: it never talks to a real insurer, and its answers are test flows.
 */
import { createHash, createSign, type KeyObject } from 'node:crypto';
import { readBillingFile, type ReaderOptions, type ReadLot, type ReadReport } from '../../billing/reader.js';
import { decodeAnyFile } from '../../billing/ssv/sim-format.js';
import { decryptDocument, gzip, isCmsError } from '../../cms/index.js';
import { encodeBase64Mime } from '../../sesam/base64.js';
import { parseMessage, type ParsedMessage } from '../../sesam/parse.js';
import { buildArl, type ArlLot } from '../../sesam/returns/arl.js';
import { buildRsp, type RspLine } from '../../sesam/returns/rsp.js';
import { today } from '../../billing/dates.js';
import { wallTime } from '../../time/zoned-time.js';
import { composeServiceMessage } from '../../sesam/returns/service.js';
import type { ServiceCode } from '../../sesam/returns/read.js';
import { isSesamError } from '../../sesam/errors.js';

/** One of the front end's attachment certificates and its private key. */
export interface FrontEndKey {
  certificate: Uint8Array;
  /** PKCS #8 DER (decryption) and the same key as a KeyObject or PEM (signing). */
  pkcs8: Uint8Array;
  signingKey: KeyObject | string;
  /** current: signs and is expected; previous: still decrypts, answers 40150; revoked: 40050. */
  state: 'current' | 'previous' | 'revoked';
}

export interface FrontEndScenario {
  /** The ARL is not sent (the practitioner's deadline runs). */
  loseArl?: boolean;
  /** Every lot rejected with this reason (code, French text). */
  rejectLots?: { code: string; reason: string };
  /** The answers wait this long before they are sent (mail.ts). */
  delayMs?: number;
  /** Every third-party-payment invoice rejected in the RSP with this reason (instead of paid). */
  rejectPayments?: { code: string; label: string };
  /**
   * For `npm start` (demo.ts): the front end gets a new certificate at start and keeps the one the
   * workstation knows as `previous` (its flows get a 40150) or holds it `revoked` (40050).
   */
  rotation?: 'previous' | 'revoked';
  /** For `npm start` (demo.ts): nothing is delivered at all (no ARL, RSP, service message). */
  mute?: boolean;
}

export interface FrontEndConfig {
  /** The front end's mailbox (From of its answers; the SAN of its certificates). */
  mailbox: string;
  keys: readonly FrontEndKey[];
  /** The intermediate CA carried in its signatures. */
  chain?: readonly Uint8Array[];
  /** How the billing files are read (CPS anchors, catalogue…); `at` defaults to the reception. */
  reader: Omit<ReaderOptions, 'at'> & { at?: Date };
  scenario?: FrontEndScenario;
  /**
   * This front end stands for an OCT: after reading a file it also sends its text
   * acknowledgement (transmission.md §8), Subject `ART/<PS number>/<aaaammjjhhmm>`,
   * Content-Description `ART/<profession code>` (e.g. `ER`, `IF`, `MK`).
   */
  oct?: { profession: string };
  clock?: () => Date;
  /** Compostages already seen, per sender (kept by the caller across messages). */
  seen: Set<string>;
}

export type FrontEndOutcome =
  /** Read: an ARL (unless lost) with each lot accepted or rejected. */
  | { kind: 'read'; report: ReadReport; arl: readonly ArlLot[]; rsp: readonly RspLine[]; warned40150: boolean }
  | { kind: 'service'; code: ServiceCode; reason: string }
  /** Not answered at all: the profile or the file could not be read (the practitioner has no ARL). */
  | { kind: 'refused'; code: string; reason: string };

export interface FrontEndAnswer {
  to: string;
  messageId: string;
  bytes: Uint8Array;
}

export interface FrontEndResult {
  outcome: FrontEndOutcome;
  answers: FrontEndAnswer[];
}

/** Reason codes of a negative ARL (ours: docs/returns/arl.md leaves them to the front end). */
const REASON_CODES: Readonly<Record<string, string>> = {
  signature_invalid: 'SIGNATUR',
  certificate_invalid: 'CERTIF',
  signer_not_practitioner: 'SIGNATAI',
  reprice_failed: 'TARIF',
  amount_differs: 'MONTANT',
  total_differs: 'TOTAL',
  lot_kind_differs: 'NATURE',
  lot_destination_differs: 'DESTIN',
  routing_differs: 'ROUTAGE',
  version_differs: 'VERSION',
  duplicate_document: 'DOUBLON',
};

const FILE_NAME = /^[A-Za-z0-9._-]{1,32}$/;

const enc = new TextEncoder();
const ascii = (b: Uint8Array): string => new TextDecoder('latin1').decode(b);

function messageIdFor(mailbox: string, seed: string): string {
  return `<${createHash('sha256').update(seed).digest('hex').slice(0, 24)}@${mailbox.split('@')[1] ?? 'frontal.test'}>`;
}

/** ARLTEST for FSETEST, ARLDRETEST for DRETEST, ARL for FSE… (transmission.md §7). */
function arlNature(description: ParsedMessage['description']): string {
  const known = description.known;
  const suffix = known?.mode === 'test' ? 'TEST' : known?.mode === 'demo' ? 'DEMO' : '';
  return `ARL${known?.flow === 'DRE' ? 'DRE' : ''}${suffix}/NOEMIE`;
}

function lotVerdict(lot: ReadLot, sender: string, scenario: FrontEndScenario | undefined): ArlLot {
  const base = { sender, kind: lot.kind, number: lot.number, documents: lot.documents.length } as const;
  if (scenario?.rejectLots) return { ...base, accepted: false, reasonCode: scenario.rejectLots.code, reason: scenario.rejectLots.reason };
  const first = lot.documents.flatMap((d) => d.discrepancies)[0];
  if (!first) return { ...base, accepted: true };
  return { ...base, accepted: false, reasonCode: REASON_CODES[first.code] ?? 'AUTRE', reason: first.message.replace(/[;\p{Cc}]+/gu, ' ').trim().slice(0, 200) || 'Rejet.' };
}

/** RSPTEST for FSETEST, RSPDRETEST for DRETEST… (transmission.md §7). */
const rspNature = (arl: string): string => arl.replace(/^ARL/, 'RSP');

/** What the insurer pays the practitioner for the accepted lots' third-party-payment invoices. */
function payments(report: ReadReport, verdicts: readonly ArlLot[], sender: string, day: string, scenario: FrontEndScenario | undefined): RspLine[] {
  const out: RspLine[] = [];
  report.lots.forEach((lot, i) => {
    if (!verdicts[i]?.accepted) return;
    for (const d of lot.documents) {
      const owed = d.kind === 'FSE' ? d.declared.amoToPractitionerCents : d.declared.amcToPractitionerCents;
      if (owed <= 0) continue;
      const base = { sender, kind: d.kind, number: d.number } as const;
      out.push(scenario?.rejectPayments ? { type: 'rejection', ...base, code: scenario.rejectPayments.code, label: scenario.rejectPayments.label } : { type: 'payment', ...base, full: true, amountCents: owed, date: day });
    }
  });
  return out;
}

/** One answer carrying one file (ARL, RSP, ART), base64, in reply to `m`. */
function composeFileMessage(cfg: FrontEndConfig, m: ParsedMessage, f: { what: 'ARL' | 'RSP' | 'ART'; subject: string; nature: string; name: string; file: Uint8Array }, now: Date): FrontEndAnswer {
  const messageId = messageIdFor(cfg.mailbox, `${f.what}:${m.messageId}`);
  const body = [
    `From: ${cfg.mailbox}`,
    `To: ${m.from}`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${messageId}`,
    `In-Reply-To: ${m.messageId}`,
    `Subject: ${f.subject}`,
    'MIME-Version: 1.0',
    `Content-Type: Application/EDI-consent; name="${f.name}"`,
    'Content-Transfer-Encoding: BASE64',
    `Content-Description: ${f.nature}`,
    '',
    ascii(encodeBase64Mime(f.file)),
  ].join('\r\n');
  return { to: m.from, messageId, bytes: enc.encode(body) };
}

/** The OCT's text acknowledgement of a file (transmission.md §8): `ART/<PS number>/<aaaammjjhhmm>`. */
function octAcknowledgement(cfg: FrontEndConfig, m: ParsedMessage, sender: string, fileName: string, report: ReadReport, now: Date): FrontEndAnswer {
  const w = wallTime(now.getTime());
  const p = (n: number, width = 2): string => String(n).padStart(width, '0');
  const stamp = `${p(w.year, 4)}${p(w.month)}${p(w.day)}${p(w.hour)}${p(w.minute)}`;
  const profession = /^[A-Z]{2}$/.test(cfg.oct!.profession) ? cfg.oct!.profession : 'XX';
  const text = `Fichier ${fileName} reçu le ${p(w.day)}/${p(w.month)}/${p(w.year, 4)} à ${p(w.hour)}:${p(w.minute)} : ${report.lots.length} lot(s), ${report.documents} facture(s).\r\n`;
  return composeFileMessage(cfg, m, { what: 'ART', subject: `ART/${sender.padStart(9, '0')}/${stamp}`, nature: `ART/${profession}`, name: `${fileName.replace(/\.[A-Za-z0-9]{1,8}$/, '')}.txt`, file: enc.encode(text) }, now);
}

async function service(cfg: FrontEndConfig, m: ParsedMessage, code: ServiceCode, now: Date): Promise<FrontEndAnswer> {
  const current = cfg.keys.find((k) => k.state === 'current');
  if (!current) throw new Error('frontal simulé : aucun certificat courant pour signer');
  const messageId = messageIdFor(cfg.mailbox, `${code}:${m.messageId}`);
  const bytes = await composeServiceMessage({
    from: cfg.mailbox,
    to: m.from,
    code,
    inReplyTo: m.messageId,
    originalSubject: m.subject,
    messageId,
    date: now,
    signer: {
      certificate: current.certificate,
      certificates: cfg.chain ?? [],
      sign: async (data) => new Uint8Array(createSign('sha256').update(data).sign(current.signingKey)),
    },
  });
  return { to: m.from, messageId, bytes };
}

/** Which of our keys the attachment was encrypted for (by trying each RecipientInfo match). */
async function openAttachment(cfg: FrontEndConfig, der: Uint8Array): Promise<{ key: FrontEndKey; content: Uint8Array } | { key?: FrontEndKey; error: string }> {
  let malformed: string | undefined;
  for (const key of cfg.keys) {
    try {
      const d = await decryptDocument(der, { key: key.pkcs8, certificate: key.certificate });
      if (key.state === 'revoked') return { key, error: 'certificat révoqué au frontal' };
      return { key, content: d.content };
    } catch (e) {
      if (!isCmsError(e)) throw e;
      if (e.code === 'cms_no_matching_recipient') continue;
      if (key.state === 'revoked') return { key, error: 'certificat révoqué au frontal' };
      malformed = e.message;
    }
  }
  return { error: malformed ?? 'chiffré pour aucun des certificats du frontal' };
}

/** What the front end does with one received message. Never throws on what it received. */
export async function receiveMessage(bytes: Uint8Array, cfg: FrontEndConfig): Promise<FrontEndResult> {
  const now = cfg.clock?.() ?? new Date();
  let m: ParsedMessage;
  try {
    m = parseMessage(bytes);
  } catch (e) {
    if (!isSesamError(e)) throw e;
    return { outcome: { kind: 'refused', code: e.code, reason: e.message }, answers: [] };
  }
  const subject = m.subjectParsed;
  if (subject.type !== 'invoice') return { outcome: { kind: 'refused', code: 'subject', reason: `objet « ${m.subject.slice(0, 80)} » hors norme` }, answers: [] };
  const seenKey = `${subject.exercice}/${subject.compostage}`;
  if (cfg.seen.has(seenKey)) return { outcome: { kind: 'refused', code: 'compostage_seen', reason: `compostage ${subject.compostage} déjà reçu de ${subject.exercice}` }, answers: [] };
  cfg.seen.add(seenKey);

  if (!m.description.encrypted) {
    return { outcome: { kind: 'service', code: '4025', reason: 'pièce jointe non chiffrée' }, answers: [await service(cfg, m, '4025', now)] };
  }
  const opened = await openAttachment(cfg, m.attachment);
  if (!('content' in opened)) {
    return { outcome: { kind: 'service', code: '40050', reason: opened.error }, answers: [await service(cfg, m, '40050', now)] };
  }
  let file = opened.content;
  if (m.description.compressed) {
    try {
      file = await gzip.decompress(file, 64 * 1024 * 1024);
    } catch (e) {
      if (!isCmsError(e)) throw e;
      return { outcome: { kind: 'refused', code: 'decompress', reason: e.message }, answers: [] };
    }
  }
  let report: ReadReport;
  try {
    report = await readBillingFile(file, { ...cfg.reader, at: cfg.reader.at ?? now });
  } catch (e) {
    const code = (e as { code?: unknown })?.code;
    if (e instanceof Error && typeof code === 'string') return { outcome: { kind: 'refused', code, reason: e.message }, answers: [] };
    throw e;
  }
  const arl = report.lots.map((l) => lotVerdict(l, subject.exercice, cfg.scenario));
  const answers: FrontEndAnswer[] = [];
  // The file's own name (its header), as the workstation filed its lots under it (matchArl).
  const decoded = decodeAnyFile(file);
  const name = decoded.kind === 'FACTURE' ? decoded.header.fileName : decoded.header.name;
  const fileName = FILE_NAME.test(name) ? name : 'FICHIER';
  const base = fileName.replace(/\.[A-Za-z0-9]{1,8}$/, '');
  if (!cfg.scenario?.loseArl) {
    const arlFile = buildArl({ fileName, compostage: subject.compostage, lots: arl });
    answers.push(composeFileMessage(cfg, m, { what: 'ARL', subject: `ARL ${m.subject}`, nature: arlNature(m.description), name: `${base}.arl`, file: arlFile }, now));
  }
  const rsp = payments(report, arl, subject.exercice, today(() => now.getTime()), cfg.scenario);
  if (rsp.length) {
    const organism = (report.lots[0]?.destination.organism ?? '').toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 16) || 'ORGANISME';
    const total = rsp.reduce((n, l) => n + (l.type === 'payment' ? l.amountCents : 0), 0);
    const rspFile = buildRsp({ organism, transfer: { date: today(() => now.getTime()), totalCents: total }, lines: rsp });
    answers.push(composeFileMessage(cfg, m, { what: 'RSP', subject: `RSP ${m.subject}`, nature: rspNature(arlNature(m.description)), name: `${base}.rsp`, file: rspFile }, now));
  }
  if (cfg.oct) answers.push(octAcknowledgement(cfg, m, subject.exercice, fileName, report, now));
  const warned40150 = opened.key.state === 'previous';
  if (warned40150) answers.push(await service(cfg, m, '40150', now));
  return { outcome: { kind: 'read', report, arl, rsp, warned40150 }, answers };
}
