/**
 * What the workstation does with one return it has read (issue 15 item 3), pure: the records it
 * changes (`applyArl`, `applyRsp`), what it must do outside the records (integrate a front end's
 * certificate, re-emit a flow), and what it keeps in clear to show it (`ReturnSummary`: numbers,
 * codes, counts and amounts, never a name, a NIR or an act). The adapter (the PWA's workspace)
 * stores the return with the records in one transaction, then acknowledges it to the relay.
 *
 * Nothing is done on a service message that is not believed (signed, signature valid, signer
 * valid for the From mailbox): it is kept and shown as unverified.
 */
import type { Clock } from './dates.js';
import { lotBounced, type InvoiceRecord, type LotRecord } from './lifecycle.js';
import { applyArl, applyRsp, type ReturnEffect } from './returns.js';
import type { ReturnReading } from '../sesam/returns/read.js';
import { lotsOfArl } from '../sesam/returns/arl.js';

export type ReturnStatus = 'applied' | 'waiting' | 'shown' | 'unverified' | 'unreadable' | 'failed';

/** What a return said and did, in clear (numbers, codes, counts, amounts). */
export interface ReturnSummary {
  readonly kind: ReturnReading['kind'] | 'unreadable';
  /** Content-Description as received (bounded). */
  readonly nature: string;
  /** French: what it is and what was done, one line. */
  readonly label: string;
  /** Lots it concerns (ids of ours). */
  readonly lotIds: readonly string[];
  /** Invoices it changed (ids of ours). */
  readonly invoiceIds: readonly string[];
  /** French details: reasons, anomalies, notices, what waits. */
  readonly notes: readonly string[];
  /** A service message's code, and whether it was believed. */
  readonly code?: string;
  readonly verified?: boolean;
  /** RSP: what was paid (cents) and how many documents were rejected. */
  readonly paidCents?: number;
  readonly rejected?: number;
  /** DSN: the RFC 3463 status. */
  readonly dsnStatus?: string;
}

/** A message of ours as the outbox keeps it: enough to tell which lots a return speaks of. */
export interface SentMessage {
  readonly messageId: string;
  readonly compostage: string;
  readonly lotIds: readonly string[];
  /** The mailbox it went to (an insurer's, an OCT's): who may answer about it. */
  readonly to: string;
}

export interface ReturnAction {
  readonly status: ReturnStatus;
  readonly summary: ReturnSummary;
  readonly invoices: readonly InvoiceRecord[];
  readonly lots: readonly LotRecord[];
  /** 40150/40050 (4015/4005) believed: the signer's certificate, to integrate after validation. */
  readonly integrate?: { readonly email: string; readonly certificate: Uint8Array };
  /** 40050/4025 believed: the message to send again, identically (same file, new compostage). */
  readonly reemit?: { readonly messageId: string; readonly compostage: string; readonly lotIds: readonly string[]; readonly code: string };
}

export interface ReturnContext {
  readonly lots: readonly LotRecord[];
  readonly invoices: readonly InvoiceRecord[];
  readonly sent: readonly SentMessage[];
  readonly clock: Clock;
}

const nature = (r: ReturnReading): string => r.nature.slice(0, 80);
const normId = (id: string | null | undefined): string => (id ?? '').trim().replace(/^<|>$/g, '').toLowerCase();

/** Our message a return answers (In-Reply-To, or the DSN's original Message-ID). */
export function sentMessageOf(id: string | null | undefined, sent: readonly SentMessage[]): SentMessage | undefined {
  const want = normId(id);
  return want ? sent.find((m) => normId(m.messageId) === want) : undefined;
}

/**
 * Which records a return may change, so a caller opens only those: the invoices of the lots it
 * names (an ARL's file, the message a service message or a DSN is about) and the documents it
 * names by kind and number (an RSP: `kind|number`).
 */
export function returnScope(r: ReturnReading, lots: readonly LotRecord[], sent: readonly SentMessage[]): { invoiceIds: Set<string>; documents: Set<string> } {
  const invoiceIds = new Set<string>();
  const documents = new Set<string>();
  const ofLots = (pick: (l: LotRecord) => boolean): void => {
    for (const l of lots) if (pick(l)) for (const d of l.documents) invoiceIds.add(d.invoiceId);
  };
  if (r.kind === 'arl' && r.arl) {
    const arl = r.arl;
    const inFile = new Set(lotsOfArl(arl, lots));
    ofLots((l) => inFile.has(l));
  } else if (r.kind === 'rsp' && r.rsp) {
    for (const line of r.rsp.lines) documents.add(`${line.kind}|${line.number}`);
  } else if (r.kind === 'service' || r.kind === 'dsn') {
    const m = sentMessageOf(r.kind === 'dsn' ? (r.dsn?.originalMessageId ?? r.inReplyTo) : (r.service?.inReplyTo ?? r.inReplyTo), sent);
    if (m) ofLots((l) => m.lotIds.includes(l.id));
  }
  return { invoiceIds, documents };
}

function effectNotes(e: ReturnEffect): string[] {
  return [
    ...e.anomalies.map((a) => `Anomalie : ${a}`),
    ...e.waiting.map((w) => `En attente : ${w}`),
    ...e.unknown.map((u) => `Inconnu sur ce poste : ${u}`),
    ...e.notices.map((n) => `Signalement ${n.kind} ${n.number} (${n.code}) : ${n.label}`),
  ].map((s) => s.slice(0, 300));
}

function fromEffect(e: ReturnEffect, summary: Omit<ReturnSummary, 'invoiceIds' | 'notes'>, matchedAny: boolean): ReturnAction {
  const status: ReturnStatus = e.waiting.length > 0 ? 'waiting' : matchedAny ? 'applied' : 'shown';
  return { status, summary: { ...summary, invoiceIds: e.invoices.map((r) => r.id), notes: effectNotes(e) }, invoices: e.invoices, lots: e.lots };
}

const SERVICE_FR: Record<string, string> = {
  '40050': 'flux rejeté : le frontal n’a pas pu le déchiffrer',
  '4005': 'flux rejeté : le frontal n’a pas pu le déchiffrer',
  '40150': 'un certificat plus récent du destinataire existe',
  '4015': 'un certificat plus récent du destinataire existe',
  '4025': 'la pièce jointe n’était pas chiffrée',
};

function service(r: ReturnReading, ctx: ReturnContext): ReturnAction {
  const s = r.service!;
  const what = SERVICE_FR[s.code] ?? 'message de service';
  const sent = sentMessageOf(s.inReplyTo ?? r.inReplyTo, ctx.sent);
  const base = { kind: 'service' as const, nature: nature(r), code: s.code, verified: s.verified, lotIds: sent?.lotIds ?? [], invoiceIds: [] };
  if (!s.verified) {
    const errors = [...(r.signature?.errors ?? []), ...s.signer.errors];
    const why = [...(r.signed || errors.some((e) => e.code === 'unsigned') ? [] : [{ code: 'unsigned', message: 'message non signé' }]), ...errors];
    return {
      status: 'unverified',
      summary: { ...base, label: `Message de service ${s.code} NON VÉRIFIÉ (${what}) : rien n’a été fait`, notes: [...new Set(why.map((e) => `${e.message} (${e.code})`.slice(0, 300)))] },
      invoices: [],
      lots: [],
    };
  }
  const notes: string[] = [];
  if (!sent) notes.push(`Il ne répond à aucun message de ce poste (In-Reply-To ${(s.inReplyTo ?? r.inReplyTo ?? 'absent').slice(0, 120)}).`);
  const certificate = s.signer.certificate;
  const integrate = (s.code === '40150' || s.code === '4015' || s.code === '40050' || s.code === '4005') && certificate && s.signer.email ? { email: s.signer.email, certificate } : undefined;
  const reemit = (s.code === '40050' || s.code === '4005' || s.code === '4025') && sent ? { messageId: sent.messageId, compostage: sent.compostage, lotIds: sent.lotIds, code: s.code } : undefined;
  const done = reemit ? (integrate ? 'certificat intégré, flux réémis à l’identique' : 'flux réémis à l’identique, chiffré') : integrate ? 'certificat intégré pour les prochains envois' : 'conservé';
  return {
    status: integrate || reemit ? 'applied' : 'shown',
    summary: { ...base, label: `Message de service ${s.code} (${what}) : ${done}`, notes },
    invoices: [],
    lots: [],
    ...(integrate ? { integrate } : {}),
    ...(reemit ? { reemit } : {}),
  };
}

/** RFC 3463 status codes in French (class, then the common subjects/details). */
export function dsnStatusFr(status: string | null): string {
  const m = /^([245])\.(\d{1,3})\.(\d{1,3})$/.exec((status ?? '').trim());
  if (!m) return 'état de remise inconnu';
  const klass = m[1] === '2' ? 'remis' : m[1] === '4' ? 'échec temporaire' : 'échec définitif';
  const detail: Record<string, string> = {
    '1.1': 'boîte aux lettres du destinataire inconnue',
    '1.2': 'domaine du destinataire inconnu',
    '1.3': 'adresse du destinataire mal formée',
    '1.6': 'le destinataire a changé d’adresse',
    '2.1': 'boîte aux lettres du destinataire désactivée',
    '2.2': 'boîte aux lettres du destinataire pleine',
    '2.3': 'message trop volumineux pour le destinataire',
    '3.4': 'message trop volumineux pour le système',
    '4.1': 'le serveur du destinataire ne répond pas',
    '4.2': 'connexion au serveur du destinataire interrompue',
    '4.4': 'aucun serveur pour ce domaine',
    '4.7': 'délai de remise dépassé',
    '7.1': 'remise refusée par le destinataire',
  };
  const sub = detail[`${Number(m[2])}.${Number(m[3])}`];
  return sub ? `${klass} : ${sub}` : `${klass} (${m[2]}.${m[3]})`;
}

const mailbox = (a: string): string => (/<([^<>]+)>/.exec(a)?.[1] ?? a).trim().toLowerCase();

/**
 * An ARL or an RSP is believed only from a mailbox this workstation sent to (an insurer's, an
 * OCT's): one from anywhere else is kept and shown, and changes nothing. (Their format carries
 * no signature; a forged From is not stopped here, a stranger's address is.)
 */
function unknownSender(r: ReturnReading, ctx: ReturnContext): ReturnAction | null {
  const from = r.from ? mailbox(r.from) : '';
  if (from && ctx.sent.some((m) => mailbox(m.to) === from)) return null;
  const what = r.kind === 'arl' ? 'ARL' : 'Retour de paiement';
  return {
    status: 'unverified',
    summary: { kind: r.kind, nature: nature(r), lotIds: [], invoiceIds: [], label: `${what} d’un expéditeur à qui ce poste n’a rien envoyé (${from.slice(0, 120) || 'sans expéditeur'}) : rien n’a été fait`, notes: [] },
    invoices: [],
    lots: [],
  };
}

/** What to do with one return read, over the records it may change. */
export function actOnReturn(r: ReturnReading, ctx: ReturnContext): ReturnAction {
  if (r.kind === 'arl' || r.kind === 'rsp') {
    const refused = unknownSender(r, ctx);
    if (refused) return refused;
  }
  switch (r.kind) {
    case 'arl': {
      const arl = r.arl!;
      const e = applyArl(arl, ctx.lots, ctx.invoices, ctx.clock);
      const positive = arl.lots.filter((l) => l.accepted).length;
      const negative = arl.lots.length - positive;
      const words = [positive ? `${positive} lot${positive > 1 ? 's' : ''} accepté${positive > 1 ? 's' : ''}` : '', negative ? `${negative} lot${negative > 1 ? 's' : ''} refusé${negative > 1 ? 's' : ''}` : ''].filter(Boolean).join(', ');
      const refusals = arl.lots.flatMap((l) => (l.accepted ? [] : [`Lot ${l.kind} ${l.number} refusé : ${l.reasonCode} ${l.reason}`.slice(0, 300)]));
      const matched = lotsOfArl(arl, ctx.lots).map((l) => l.id);
      const a = fromEffect(e, { kind: 'arl', nature: nature(r), label: `ARL ${negative ? 'négatif' : 'positif'} du fichier ${arl.fileName} : ${words}`, lotIds: matched }, matched.length > 0);
      return { ...a, summary: { ...a.summary, notes: [...refusals, ...a.summary.notes] } };
    }
    case 'rsp': {
      const rsp = r.rsp!;
      const e = applyRsp(rsp, ctx.invoices, ctx.clock);
      const changed = new Set(e.invoices.map((x) => x.id));
      const mine = (line: { sender: string; kind: string; number: string }): boolean =>
        ctx.invoices.some((x) => changed.has(x.id) && x.invoice.practitioner.situation.billingNumber === line.sender && x.documents.some((d) => d.kind === line.kind && d.number === line.number));
      let paidCents = 0;
      let rejected = 0;
      for (const l of rsp.lines) {
        if (!mine(l)) continue;
        if (l.type === 'payment') paidCents += l.amountCents;
        else if (l.type === 'rejection') rejected++;
      }
      const payments = rsp.lines.filter((l) => l.type === 'payment').length;
      const rejections = rsp.lines.filter((l) => l.type === 'rejection').length;
      const label = `Retour de paiement (${rsp.organism}) : ${payments} paiement${payments > 1 ? 's' : ''}, ${rejections} rejet${rejections > 1 ? 's' : ''}`;
      const rejectNotes = rsp.lines.flatMap((l) => (l.type === 'rejection' ? [`${l.kind} ${l.number} rejetée : ${l.code} ${l.label}`.slice(0, 300)] : []));
      const a = fromEffect(e, { kind: 'rsp', nature: nature(r), label, lotIds: [], paidCents, rejected }, e.invoices.length > 0 || rsp.lines.some((l) => l.type !== 'notice' && !e.unknown.includes(`${l.kind} ${l.number} de ${l.sender}`)));
      return { ...a, summary: { ...a.summary, notes: [...rejectNotes, ...a.summary.notes] } };
    }
    case 'service':
      return service(r, ctx);
    case 'dsn': {
      const d = r.dsn!;
      const sent = sentMessageOf(d.originalMessageId ?? r.inReplyTo, ctx.sent);
      const status = (d.status ?? '').slice(0, 16);
      // A permanent failure (5.x.x, action failed) of our message: its lots, if this message is
      // still their latest transmission, are to be sent again. A delay (4.x.x) changes nothing.
      const failed = /^5\./.test(status) && (d.action ?? 'failed').toLowerCase() === 'failed';
      const bounced = failed && sent
        ? ctx.lots.filter((l) => sent.lotIds.includes(l.id) && l.transmissions.at(-1)?.compostage === sent.compostage && (l.state === 'accepted' || l.state === 'delivered')).map((l) => lotBounced(l, status, ctx.clock))
        : [];
      return {
        status: bounced.length ? 'applied' : 'shown',
        summary: {
          kind: 'dsn', nature: nature(r), lotIds: sent?.lotIds ?? [], invoiceIds: [], dsnStatus: status,
          label: `Avis de non-remise (${status || 'sans code'}) : ${dsnStatusFr(d.status)}`,
          notes: [
            ...(d.diagnostic ? [`Diagnostic : ${d.diagnostic.slice(0, 200)}`] : []),
            ...(sent ? [] : ['Il ne correspond à aucun message de ce poste.']),
            ...bounced.map((l) => `Lot ${l.kind} ${l.number} à retransmettre (même fichier, nouveau compostage).`),
          ],
        },
        invoices: [],
        lots: bounced,
      };
    }
    case 'art':
      return { status: 'shown', summary: { kind: 'art', nature: nature(r), lotIds: [], invoiceIds: [], label: `Accusé de réception de l’OCT : ${(r.text ?? '').trim().split(/\s/)[0]?.slice(0, 60) ?? ''}`, notes: [] }, invoices: [], lots: [] };
    default:
      return { status: 'shown', summary: { kind: 'unknown', nature: nature(r), lotIds: [], invoiceIds: [], label: `Retour de nature inconnue « ${nature(r) || 'sans description'} » : conservé tel quel`, notes: [] }, invoices: [], lots: [] };
  }
}

/** A message that could not be read: kept, shown, nothing done. */
export function unreadableReturn(code: string, message: string): ReturnAction {
  return { status: 'unreadable', summary: { kind: 'unreadable', nature: '', lotIds: [], invoiceIds: [], label: `Retour illisible (${code}) : conservé, rien n’a été fait`, notes: [message.slice(0, 300)] }, invoices: [], lots: [] };
}
