/**
 * The workstations' audit journals anchored at the relay (issue 24 defect 3): something the
 * attacker of a workstation does not hold. A workstation sends its journal's id, the sequence
 * number of its last record and that record's hash — never a record — and the relay keeps them
 * in an append-only table per device, answering with a receipt it signs (ECDSA P-256). Against
 * the device's latest anchor:
 *
 * - the same journal, further on, proving it passes through the latest anchored point (its
 *   `continuity`: that record's sequence number and hash in the workstation's chain): taken
 *   (`advanced`); without that proof, `anchor-continuity` (not a verdict: the workstation answers
 *   with the proof for the point named); the same point with the same hash: `same`;
 * - the same journal at an earlier point (truncated, restored from an older copy): `regressed`;
 *   the same point with another hash, or a proof that does not match (rewritten): `forked`;
 * - another journal: taken only as a `reset` of the latest one (the workstation names it);
 *   otherwise `journal-changed` (the journal deleted and started afresh).
 *
 * Refusals answer 409 with the relay's latest anchor, and are written to the relay's own
 * trail: the tampering is reported on this side too, whatever the workstation then shows.
 * Receipts let the workstation check its chain offline against the last point the relay saw.
 */
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import type { AnchorReceipt } from '../../trust/model.js';
import { type AnchorBody, RECEIPT_CONTEXT, receiptBytes } from '../../trust/service/anchor.js';
import type { AnchorRecord, AnchorVerdict, RelayStore } from './store/types.js';

export { RECEIPT_CONTEXT, receiptBytes, type AnchorReceipt };

/** What a workstation sends (the same shape its side builds: trust/service/anchor.ts). */
export type AnchorRequest = AnchorBody;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** The request's fields, checked; a string says what is wrong. */
export function parseAnchorRequest(body: unknown): AnchorRequest | string {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'JSON object expected';
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!['device', 'journal', 'seq', 'head', 'previousJournal', 'continuity'].includes(k)) return `unexpected field ${k}`;
  if (typeof b.device !== 'string' || !UUID.test(b.device)) return 'device: a UUID';
  if (typeof b.journal !== 'string' || !UUID.test(b.journal)) return 'journal: a UUID';
  if (typeof b.seq !== 'number' || !Number.isSafeInteger(b.seq) || b.seq < -1) return 'seq: an integer ≥ −1';
  if (typeof b.head !== 'string' || !HEX64.test(b.head)) return 'head: 64 lowercase hex digits';
  if (b.previousJournal !== undefined && (typeof b.previousJournal !== 'string' || !UUID.test(b.previousJournal))) return 'previousJournal: a UUID';
  let continuity: AnchorRequest['continuity'];
  if (b.continuity !== undefined) {
    const c = b.continuity as Record<string, unknown> | null;
    if (!c || typeof c !== 'object' || Object.keys(c).some((k) => k !== 'seq' && k !== 'head') || typeof c.seq !== 'number' || !Number.isSafeInteger(c.seq) || c.seq < -1 ||
      typeof c.head !== 'string' || !HEX64.test(c.head)) return 'continuity: { seq, head }';
    continuity = { seq: c.seq, head: c.head };
  }
  return { device: b.device, journal: b.journal, seq: b.seq, head: b.head, ...(b.previousJournal !== undefined ? { previousJournal: b.previousJournal as string } : {}),
    ...(continuity ? { continuity } : {}) };
}

export function decideAnchor(latest: AnchorRecord | null, a: AnchorRequest): AnchorVerdict {
  if (!latest) return { outcome: 'first', append: true };
  if (latest.journal === a.journal) {
    if (a.seq < latest.seq) return { outcome: 'regressed', append: false };
    if (a.seq === latest.seq) return latest.head === a.head ? { outcome: 'same', append: false } : { outcome: 'forked', append: false };
    if (!a.continuity) return { outcome: 'continuity', append: false };
    if (a.continuity.seq !== latest.seq || a.continuity.head !== latest.head) return { outcome: 'forked', append: false };
    return { outcome: 'advanced', append: true };
  }
  return a.previousJournal === latest.journal ? { outcome: 'reset', append: true } : { outcome: 'journal-changed', append: false };
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const view = (a: AnchorRecord | null): { journal: string; seq: number; head: string; at: number } | null => (a ? { journal: a.journal, seq: a.seq, head: a.head, at: a.at } : null);

export type AnchorAnswer =
  | { status: 200; outcome: 'first' | 'advanced' | 'same' | 'reset'; receipt: AnchorReceipt; signature: string; latest: ReturnType<typeof view> }
  | { status: 409; reason: 'anchor-regressed' | 'anchor-forked' | 'anchor-journal-changed' | 'anchor-continuity'; latest: ReturnType<typeof view> };

export class AnchorService {
  private key: Promise<KeyObject> | undefined;

  constructor(private readonly store: RelayStore) {}

  private signingKey(): Promise<KeyObject> {
    this.key ??= this.store.receiptKey().then((der) => createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' }));
    return this.key;
  }

  /** The receipts' public key, SubjectPublicKeyInfo DER in base64: what workstations verify with. */
  async publicKey(): Promise<string> {
    return b64(createPublicKey(await this.signingKey()).export({ type: 'spki', format: 'der' }));
  }

  async anchor(practitioner: string, req: AnchorRequest, now: number): Promise<AnchorAnswer> {
    const record: AnchorRecord = { device: req.device, journal: req.journal, seq: req.seq, head: req.head, practitioner, at: now };
    const { verdict, latest } = await this.store.anchorJournal(record, (l) => decideAnchor(l, req));
    if (verdict.outcome !== 'advanced' && verdict.outcome !== 'same' && verdict.outcome !== 'continuity') {
      // Firsts, resets and every refusal are part of the relay's own trail (no journal content).
      await this.store.audit({ at: now, actor: practitioner, action: 'audit.anchor',
        detail: { device: req.device, outcome: verdict.outcome, seq: req.seq, latestSeq: latest?.seq ?? null, journalChanged: latest !== null && latest.journal !== req.journal } });
    }
    if (!verdict.append && verdict.outcome !== 'same') {
      return { status: 409, reason: `anchor-${verdict.outcome}` as 'anchor-regressed' | 'anchor-forked' | 'anchor-journal-changed' | 'anchor-continuity', latest: view(latest) };
    }
    const taken = verdict.outcome === 'same' ? latest! : record;
    const receipt: AnchorReceipt = { v: 1, device: taken.device, journal: taken.journal, seq: taken.seq, head: taken.head, at: taken.at, practitioner: taken.practitioner };
    const signature = b64(sign('sha256', receiptBytes(receipt), { key: await this.signingKey(), dsaEncoding: 'ieee-p1363' }));
    return { status: 200, outcome: verdict.outcome as 'first' | 'advanced' | 'same' | 'reset', receipt, signature, latest: view(taken) };
  }
}
