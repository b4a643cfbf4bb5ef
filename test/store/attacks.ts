/**
 * What an attacker does to the audit journal in IndexedDB, behind the application's back
 * (page side, bundled into test/store/entry.ts). Each helper edits the raw database the way
 * someone with devtools or the profile's files would, knowing the documented format: SHA-256
 * chains can be recomputed by anyone; a seal needs a key.
 */
import { openTrustDb } from '../../src/lib/client/store/trust-db.js';
import type { AuditRecord, ChainHead, KeyCheck } from '../../src/lib/trust/audit.js';
import { canonicalJson, generateAuditKey, recordHash, sealHead } from '../../src/lib/trust/audit.js';

async function records(): Promise<AuditRecord[]> {
  const db = await openTrustDb();
  const all = await db.getAll('audit');
  db.close();
  return all.sort((a, b) => a.seq - b.seq);
}

async function hmacHex(key: CryptoKey, text: string): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(text)));
  return [...mac].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Rechains `list` from its first element's `prev` on (seq kept), with `seal` for each MAC. */
async function rechain(list: AuditRecord[], seal?: (hash: string) => Promise<string>): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  let prev = list[0]?.prev ?? '0'.repeat(64);
  for (const r of list) {
    const { mac: _mac, hash: _hash, ...body } = r;
    const next = { ...body, prev } as AuditRecord;
    next.hash = await recordHash(next);
    if (seal) next.mac = await seal(next.hash);
    out.push(next);
    prev = next.hash;
  }
  return out;
}

async function writeAll(list: AuditRecord[], head: ChainHead | undefined, extra: Array<{ key: string; value: unknown }> = []): Promise<void> {
  const db = await openTrustDb();
  const tx = db.transaction(['audit', 'meta'], 'readwrite');
  for (const r of list) void tx.objectStore('audit').put(r);
  const meta = tx.objectStore('meta') as unknown as { put(v: unknown): Promise<unknown> };
  if (head) void meta.put({ key: 'audit-head', value: head });
  for (const e of extra) void meta.put(e);
  await tx.done;
  db.close();
}

/**
 * (a) Rewrites record `seq` (its outcome) and recomputes the plain hash chain from there to
 * the head, as anyone can; the MACs are left as they were (the attacker cannot make them).
 */
export async function rewriteRecord(seq: number): Promise<void> {
  const all = await records();
  const i = all.findIndex((r) => r.seq === seq);
  const changed = all.slice(i).map((r, k) => (k === 0 ? { ...r, outcome: r.outcome === 'success' ? 'failure' : 'success' } : r)) as AuditRecord[];
  const macs = changed.map((r) => r.mac);
  const rechained = await rechain(changed);
  rechained.forEach((r, k) => (r.mac = macs[k]));
  const last = rechained[rechained.length - 1]!;
  const db = await openTrustDb();
  const head = (await db.get('meta', 'audit-head'))?.value as ChainHead;
  db.close();
  // The head moved to the new last hash; its old seal kept (no key to make a new one).
  await writeAll(rechained, { seq: last.seq, hash: last.hash, ...(head.mac ? { mac: head.mac } : {}) });
}

/** (b) Deletes the key (and, with `all`, its check too, as if the journal predated the seal). */
export async function deleteKey(all = false): Promise<void> {
  const db = await openTrustDb();
  await db.delete('meta', 'audit-key');
  if (all) await db.delete('meta', 'audit-key-check');
  db.close();
}

/**
 * (c) Replaces the key with a fresh one of the attacker and reseals every record and the
 * head with it (and the anchor, if any). With `forgeCheck`, the key check is remade with the
 * new key too: everything inside IndexedDB is consistent again.
 */
export async function replaceKeyAndReseal(opts: { forgeCheck: boolean; rewriteSeq?: number }): Promise<void> {
  const key = await generateAuditKey();
  let all = await records();
  if (opts.rewriteSeq !== undefined) all = all.map((r) => (r.seq === opts.rewriteSeq ? { ...r, outcome: 'failure' } : r));
  const resealed = await rechain(all, (h) => hmacHex(key, h));
  const last = resealed[resealed.length - 1]!;
  const head = await sealHead({ seq: last.seq, hash: last.hash }, key);
  const extra: Array<{ key: string; value: unknown }> = [{ key: 'audit-key', value: key }];
  if (opts.forgeCheck) {
    const db = await openTrustDb();
    const check = (await db.get('meta', 'audit-key-check'))!.value as KeyCheck;
    db.close();
    const body = { v: check.v, journal: check.journal, createdAt: check.createdAt };
    extra.push({ key: 'audit-key-check', value: { ...body, mac: await hmacHex(key, canonicalJson({ keyCheck: body })) } });
  }
  await writeAll(resealed, head, extra);
}

/**
 * (d) Edits the meta records the old version left unprotected: moves the head back to an
 * earlier record (recomputing nothing: there is nothing to recompute without the key) and
 * writes `audit-mac-from` past every record, which used to exempt them from their seals.
 */
export async function editHeadAndMacFrom(opts: { headSeq?: number; macFrom?: number; stripMacOf?: number }): Promise<void> {
  const all = await records();
  const db = await openTrustDb();
  const tx = db.transaction(['audit', 'meta'], 'readwrite');
  const meta = tx.objectStore('meta') as unknown as { put(v: unknown): Promise<unknown>; get(k: string): Promise<{ value: ChainHead } | undefined> };
  if (opts.headSeq !== undefined) {
    const r = all.find((x) => x.seq === opts.headSeq)!;
    const head = (await meta.get('audit-head'))!.value;
    void meta.put({ key: 'audit-head', value: { ...head, seq: r.seq, hash: r.hash } });
  }
  if (opts.macFrom !== undefined) void meta.put({ key: 'audit-mac-from', value: opts.macFrom });
  if (opts.stripMacOf !== undefined) {
    const r = all.find((x) => x.seq === opts.stripMacOf)!;
    const { mac: _mac, ...rest } = r;
    void tx.objectStore('audit').put(rest as AuditRecord);
  }
  await tx.done;
  db.close();
}

/**
 * (e) Deletes the last `n` records; with `moveHead`, also points the head at the new last
 * record (keeping the old seal, or without one).
 */
export async function truncate(n: number, moveHead: 'no' | 'keep-seal' | 'drop-seal'): Promise<void> {
  const all = await records();
  const kept = all.slice(0, all.length - n);
  const db = await openTrustDb();
  const tx = db.transaction(['audit', 'meta'], 'readwrite');
  for (const r of all.slice(all.length - n)) void tx.objectStore('audit').delete(r.seq);
  if (moveHead !== 'no') {
    const meta = tx.objectStore('meta') as unknown as { put(v: unknown): Promise<unknown>; get(k: string): Promise<{ value: ChainHead } | undefined> };
    const head = (await meta.get('audit-head'))!.value;
    const last = kept[kept.length - 1]!;
    void meta.put({ key: 'audit-head', value: { seq: last.seq, hash: last.hash, ...(moveHead === 'keep-seal' && head.mac ? { mac: head.mac } : {}) } });
  }
  await tx.done;
  db.close();
}

/** Deletes the whole database the way devtools does (the witness in localStorage stays). */
export function deleteDatabase(): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase('teletrans-trust');
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
  });
}

/** What the store holds of the audit now: for assertions. */
export async function auditMeta(): Promise<{ keys: string[]; records: number; head?: ChainHead; archives: Array<{ sha256: string; count: number; problem: string; lines: number }> }> {
  const db = await openTrustDb();
  const meta = await db.getAll('meta');
  const count = await db.count('audit');
  db.close();
  const head = meta.find((m) => m.key === 'audit-head')?.value as ChainHead | undefined;
  return {
    keys: meta.map((m) => m.key).sort(),
    records: count,
    ...(head ? { head } : {}),
    archives: meta
      .filter((m) => m.key.startsWith('audit-archive:'))
      .map((m) => {
        const a = m.value as { sha256: string; count: number; problem: string; text: string };
        return { sha256: a.sha256, count: a.count, problem: a.problem, lines: a.text.trimEnd().split('\n').length };
      }),
  };
}

/**
 * One garbage record among the CAs (issue 24 defect 4): bytes that are no certificate under a
 * fingerprint of their own, as a corrupted disk or a careless edit leaves them. Reading the
 * store back fails on it.
 */
export async function garbageCa(): Promise<void> {
  const db = await openTrustDb();
  await db.put('cas', { fingerprint: 'f'.repeat(64), der: Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00), role: 'root', hierarchy: 'test', addedAt: 0 } as never);
  db.close();
}

/**
 * Issue 24 defect 3: what a same-origin script (or anyone who lifted the key from a copy of the
 * profile) does with the journal's own key: edits the records with `edit` (drop some, rename
 * others), renumbers them, rechains, and reseals each record and the head under the stored key.
 * Everything verifies as a journal; only its account of the store can disagree.
 */
export async function resealWithStoredKey(edit: (records: AuditRecord[]) => AuditRecord[]): Promise<void> {
  const db = await openTrustDb();
  const key = (await db.get('meta', 'audit-key'))!.value as CryptoKey;
  const all = await records();
  const first = all[0]!;
  const edited = edit(all).map((r, i) => ({ ...r, seq: first.seq + i }));
  const tx = db.transaction('audit', 'readwrite');
  await tx.store.clear();
  await tx.done;
  db.close();
  const resealed = await rechain(edited.map((r, i) => (i === 0 ? { ...r, prev: first.prev } : r)), (h) => hmacHex(key, h));
  const last = resealed[resealed.length - 1]!;
  await writeAll(resealed, await sealHead({ seq: last.seq, hash: last.hash }, key));
}

/**
 * Replaces the stored DER of the recipient of `mailbox` with `der` (another certificate: same
 * subject, another key), keeping the record and the fingerprint it is filed under: what lots
 * would be encrypted to.
 */
export async function swapRecipientDer(mailbox: string, der: Uint8Array): Promise<void> {
  const db = await openTrustDb();
  const all = await db.getAll('recipients');
  const r = all.find((x) => x.recipient === mailbox)!;
  await db.put('recipients', { ...r, der });
  db.close();
}

/** Files the recipient certificate of `from` under the mailbox `to` (encryption redirected). */
export async function redirectRecipient(from: string, to: string): Promise<void> {
  const db = await openTrustDb();
  const all = await db.getAll('recipients');
  const r = all.find((x) => x.recipient === from)!;
  await db.put('recipients', { ...r, recipient: to });
  db.close();
}

/**
 * Deletes the journal entirely — records, key, key check, head, anchor — and the witness kept
 * in localStorage, leaving the CAs, CRLs and recipients: a fresh « Journal vide » beside them.
 */
export async function deleteJournal(): Promise<void> {
  const db = await openTrustDb();
  const tx = db.transaction(['audit', 'meta'], 'readwrite');
  await tx.objectStore('audit').clear();
  for (const k of ['audit-key', 'audit-key-check', 'audit-head', 'audit-anchor', 'audit-mac-from']) await tx.objectStore('meta').delete(k);
  await tx.done;
  db.close();
  for (const k of Object.keys(localStorage)) if (k.startsWith('teletrans') && k.includes('witness')) localStorage.removeItem(k);
}

/** The journal as a copy of the profile holds it: records, head, anchor and the relay's last receipt. */
export async function snapshotJournal(): Promise<{ records: AuditRecord[]; meta: Array<{ key: string; value: unknown }> }> {
  const db = await openTrustDb();
  const meta = (await db.getAll('meta')).filter((m) => ['audit-head', 'audit-anchor', 'audit-receipt'].includes(m.key)) as Array<{ key: string; value: unknown }>;
  db.close();
  return { records: await records(), meta };
}

/** Puts back a journal copied earlier (the same key: a restored older copy of the same profile). */
export async function restoreJournal(saved: { records: AuditRecord[]; meta: Array<{ key: string; value: unknown }> }): Promise<void> {
  const db = await openTrustDb();
  const tx = db.transaction(['audit', 'meta'], 'readwrite');
  await tx.objectStore('audit').clear();
  for (const r of saved.records) await tx.objectStore('audit').put(r);
  for (const k of ['audit-head', 'audit-anchor', 'audit-receipt']) await tx.objectStore('meta').delete(k);
  for (const m of saved.meta) await (tx.objectStore('meta') as unknown as { put(v: unknown): Promise<unknown> }).put(m);
  await tx.done;
  db.close();
}
