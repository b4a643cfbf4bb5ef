/**
 * The journal's head anchored at the relay (issue 24 defect 3, the workstation's side; the
 * relay's is src/lib/server/relay/anchor.ts). The workstation sends its device id, its journal's
 * id, the sequence number and hash of its last record — no content — and, once the relay has
 * an anchor for it, the proof that its chain passes through that point. The relay's signed
 * receipt is kept; at every start the chain is checked against it (offline, the last receipt
 * is the reference), and each time the relay is reached its own view decides: a journal
 * rewritten, truncated, deleted or restored from an older copy is then detected and blocks.
 */
import { ZERO_HASH, canonicalJson } from '../audit.js';
import type { AnchorReceipt, AuditContent, Change, StoredReceipt } from '../model.js';
import type { TrustContext } from './context.js';

export const RECEIPT_CONTEXT = 'teletrans-audit-receipt v1';

export interface AnchorBody {
  device: string;
  journal: string;
  seq: number;
  head: string;
  previousJournal?: string;
  continuity?: { seq: number; head: string };
}

/** How the page reaches the relay (its session's fetch): the service knows no URL or token. */
export interface AnchorPort {
  post(body: AnchorBody): Promise<{ status: number; json: Record<string, unknown> }>;
  /** The relay's receipt key, SPKI DER in base64. */
  receiptKey(): Promise<string>;
}

export type AnchorOutcome = 'first' | 'advanced' | 'same' | 'reset';

const MESSAGES: Record<string, string> = {
  'anchor-regressed': 'Le journal d’audit est revenu en arrière par rapport à ce que le relais a enregistré (journal tronqué, ou poste restauré depuis une copie plus ancienne).',
  'anchor-forked': 'Le journal d’audit a été réécrit : il ne passe plus par le point que le relais a enregistré.',
  'anchor-journal-changed': 'Le journal d’audit a été remplacé par un autre sans réinitialisation par un administrateur (journal supprimé puis recréé).',
};

const bytes = (b64: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
/** The bytes a receipt's signature covers (the relay signs them, the workstation verifies them). */
export const receiptBytes = (r: AnchorReceipt): Uint8Array<ArrayBuffer> => new TextEncoder().encode(`${RECEIPT_CONTEXT}\n${canonicalJson(r)}`);

async function verifyReceipt(s: StoredReceipt): Promise<boolean> {
  try {
    const key = await crypto.subtle.importKey('spki', bytes(s.key), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    return await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, bytes(s.signature), receiptBytes(s.receipt));
  } catch {
    return false;
  }
}

function meta<T>(ctx: TrustContext, key: string): T | undefined {
  return (ctx.snap.meta as Array<{ key: string; value: unknown }>).find((m) => m.key === key)?.value as T | undefined;
}

/** The hash of this chain's record `seq` (the anchor's, when purged up to it; the zero hash before the first), or undefined. */
function hashAt(content: AuditContent, seq: number): string | undefined {
  if (seq === -1) return ZERO_HASH;
  const r = content.records.find((x) => x.seq === seq);
  if (r) return r.hash;
  return content.anchor?.seq === seq ? content.anchor.hash : undefined;
}

/**
 * At start (and whenever the journal is verified): the chain against the last receipt. The same
 * journal must still hold the receipt's record with its hash (a chain that ends before it was
 * truncated or restored from an older copy); another journal must begin with a reset.
 */
export async function checkReceipt(ctx: TrustContext, content: AuditContent): Promise<void> {
  if (ctx.latch.state.state !== 'intact') return;
  const stored = meta<StoredReceipt>(ctx, 'audit-receipt');
  if (!stored) return;
  const fail = (message: string): never => {
    throw ctx.latch.tamper({ ok: false, index: -1, problem: 'anchor_mismatch', message });
  };
  if (!(await verifyReceipt(stored))) fail('Le dernier reçu du relais pour ce journal n’est pas authentique.');
  const r = stored.receipt;
  if (r.journal === ctx.latch.journal) {
    const head = content.head;
    if (!head || head.seq < r.seq) fail(MESSAGES['anchor-regressed']!);
    const h = hashAt(content, r.seq);
    // Purged past the receipt's point (a year offline): nothing left to compare, the relay decides.
    if (h !== undefined && h !== r.head) fail(MESSAGES['anchor-forked']!);
    if (h === undefined && (content.anchor?.seq ?? -1) < r.seq) fail(MESSAGES['anchor-regressed']!);
  } else if (content.records[0]?.event !== 'audit.reset') {
    fail(MESSAGES['anchor-journal-changed']!);
  }
}

/**
 * Anchors the head now: sends it, answers the relay's request for continuity once, verifies and
 * keeps the receipt. A refusal latches the block (`anchor_mismatch`) with the relay's reason.
 */
export async function anchorJournal(ctx: TrustContext, port: AnchorPort): Promise<AnchorOutcome> {
  ctx.latch.require();
  const content = await ctx.store.audit();
  const journal = ctx.latch.journal;
  const head = content.head;
  if (!journal || !head) throw ctx.latch.blocked();
  const writes: Change[] = [];
  let device = meta<string>(ctx, 'device-id');
  if (!device) {
    device = crypto.randomUUID();
    writes.push({ store: 'meta', put: { key: 'device-id', value: device } });
  }
  const previous = meta<string>(ctx, 'audit-previous-journal');
  const stored = meta<StoredReceipt>(ctx, 'audit-receipt');
  const body: AnchorBody = { device, journal, seq: head.seq, head: head.hash, ...(previous && previous !== journal && previous !== 'unknown' ? { previousJournal: previous } : {}) };
  if (stored?.receipt.journal === journal) {
    const h = hashAt(content, stored.receipt.seq);
    if (h) body.continuity = { seq: stored.receipt.seq, head: h };
  }
  if (writes.length) {
    // Kept before anything is sent: a failed send must not draw another id next time.
    await ctx.store.commit(writes);
    await ctx.reload();
  }
  let answer = await port.post(body);
  let latest = answer.json.latest as { journal: string; seq: number; head: string } | null | undefined;
  if (answer.status === 409 && answer.json.reason === 'anchor-journal-changed' && previous !== undefined && latest && latest.journal !== journal) {
    // This journal began with an administrator's reset, of a journal that was not the one the
    // relay knows (deleted, or itself a replacement): the reset takes the place of the relay's
    // (which records it as a reset in its own trail).
    answer = await port.post({ ...body, previousJournal: latest.journal });
    latest = answer.json.latest as typeof latest;
  }
  if (answer.status === 409 && answer.json.reason === 'anchor-continuity' && latest?.journal === journal) {
    // The relay names the point it saw last: this chain's record there, as it is now.
    const h = hashAt(content, latest.seq);
    if (h === undefined) throw ctx.latch.tamper({ ok: false, index: -1, problem: 'anchor_mismatch', message: MESSAGES['anchor-regressed']! });
    answer = await port.post({ ...body, continuity: { seq: latest.seq, head: h } });
  }
  if (answer.status === 409) {
    const reason = String(answer.json.reason ?? '');
    throw ctx.latch.tamper({ ok: false, index: -1, problem: 'anchor_mismatch', message: MESSAGES[reason] ?? `Le relais refuse l’ancrage du journal (${reason}).` });
  }
  if (answer.status !== 200) throw new Error(`ancrage du journal : réponse ${answer.status} du relais`);
  const receipt: StoredReceipt = { receipt: answer.json.receipt as AnchorReceipt, signature: String(answer.json.signature), key: await port.receiptKey() };
  const r = receipt.receipt;
  if (!(await verifyReceipt(receipt)) || r.device !== device || r.journal !== journal || r.seq > head.seq) {
    throw new Error('ancrage du journal : reçu du relais invalide');
  }
  await ctx.store.commit([{ store: 'meta', put: { key: 'audit-receipt', value: receipt } }]);
  await ctx.reload();
  return answer.json.outcome as AnchorOutcome;
}
