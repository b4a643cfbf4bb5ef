/**
 * Browser side of `npm run bench -- billing` (bundled by test/browser/harness.ts as
 * `globalThis.BillingBench`): a practitioner's day in the page, from the invoices entered to
 * the packaged, encrypted messages durable in IndexedDB, with the CPS reached through the
 * bridge; then, in the same page, the bare operations the day cannot avoid.
 */
import { openDB } from 'idb';
import { BillingNumbering, SAMPLE_CATALOGUE, invoicesFromJsonText, sendDay, simulatorAdapter } from '../../src/lib/billing/index.js';
import { b64u } from '../../src/lib/card/protocol.js';
import { bridgeSigner } from '../../src/lib/client/billing/bridge-signer.js';
import { BridgeClient } from '../../src/lib/client/card/client.js';
import { IdbKeyStore } from '../../src/lib/client/card/key-store.js';
import { IdbCompostageStore } from '../../src/lib/client/store/compostage.js';
import { IdbCounterStore } from '../../src/lib/client/store/counters.js';
import { checkRecipient, encryptDocument, joinParts, type Recipient } from '../../src/lib/cms/index.js';

export interface DayParams {
  url: string;
  reader: string;
  pin: string;
  /** The day's invoices as JSON ("teletrans-invoice-1"), as entered. */
  invoicesJson: string;
  sender: string;
  from: string;
  /** Noon of the day, ms since the epoch (the injected clock). */
  now: number;
  recipient: { leaf: string; root: string; inter: string; crls: string[]; email: string };
}

const unb64 = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

let client: BridgeClient | undefined;
/** The session's signer: the card's signature certificate is read once, when the session opens. */
let signer: ReturnType<typeof bridgeSigner> | undefined;

declare global {
  // The page shows the pairing code; the benchmark's approval hook reads it (the practitioner's eye).
  var shownCode: string | undefined;
}

/** Pairs with the bridge (once), opens the session and verifies the PIN in it. */
export async function open(url: string, reader: string, pin: string): Promise<void> {
  const keys = new IdbKeyStore();
  if (!(await keys.get())) await new BridgeClient({ url, origin: location.origin, keys }).pair((c) => (globalThis.shownCode = c));
  client = new BridgeClient({ url, origin: location.origin, keys });
  await client.connect();
  const r = await client.call<{ ok: boolean }>('cps.verifyPin', { reader }, new TextEncoder().encode(pin));
  if (!r.ok) throw new Error('PIN refusé');
  signer = bridgeSigner(client, reader);
  await signer.certificate();
}

/** One durable IndexedDB commit of the messages (the outbox). */
async function commit(db: string, messages: readonly Uint8Array[]): Promise<void> {
  const conn = await openDB(db, 1, { upgrade: (d) => void d.createObjectStore('outbox') });
  const tx = conn.transaction('outbox', 'readwrite', { durability: 'strict' });
  messages.forEach((m, i) => void tx.store.put(m, `${Date.now()}-${i}`));
  await tx.done;
  conn.close();
}

export interface DayResult {
  ms: number;
  phases: Record<string, number>;
  invoices: number;
  signatures: number;
  files: { kind: string; invoices: number; bytes: number }[];
  messages: number[];
  subjects: string[];
}

let round = 0;
/** What the last day signed, encrypted and committed: the primitives redo exactly that. */
let last: { digests: string[]; plainFiles: Uint8Array[]; committed: Uint8Array[] } | undefined;

/** The day: entered invoices → checked, numbered, formatted, signed on the card, lots, files, encrypted, packaged, durable. */
export async function day(p: DayParams): Promise<DayResult> {
  if (!client || !signer) throw new Error('open() first');
  round++;
  const clock = (): number => p.now;
  const phases: Record<string, number> = {};
  let mark = performance.now();
  const phase = (name: string): void => {
    const t = performance.now();
    phases[name] = (phases[name] ?? 0) + (t - mark);
    mark = t;
  };
  const t0 = performance.now();
  const adapter = simulatorAdapter();
  const numbering = new BillingNumbering(new IdbCounterStore(`bench-counters-${round}`));
  const compostage = new IdbCompostageStore(`bench-compostage-${round}`);
  const drafts = invoicesFromJsonText(p.invoicesJson).map((x) => x.invoice);
  phase('entered');
  // The recipient's certificate is checked while the card signs: neither waits for the other.
  const recipientCheck = checkRecipient(unb64(p.recipient.leaf), {
    anchors: [unb64(p.recipient.root)],
    intermediates: [unb64(p.recipient.inter)],
    crls: p.recipient.crls.map(unb64),
    email: p.recipient.email,
    at: new Date(p.now),
  });
  recipientCheck.catch(() => undefined);
  const fileDate = new Date(p.now).toISOString().slice(0, 10);
  const sent = await sendDay(drafts, {
    adapter,
    numbering,
    checks: { clock, catalogue: SAMPLE_CATALOGUE },
    signer,
    way: 'direct',
    sender: p.sender,
    fileDate,
    mode: 'test',
    from: p.from,
    encrypt: async (plain) => joinParts((await encryptDocument(plain, await recipientCheck)).parts),
    compostage,
    packagingClock: () => new Date(p.now),
  });
  const batch = sent.batch;
  const prepared = sent.prepared;
  if (batch.unsigned.length || !sent.transmission || !sent.messages) throw new Error(`unsigned: ${batch.unsigned[0]?.error.message}`);
  const t = sent.transmission;
  const packaged = sent.messages;
  phase('bill_sign_encrypt_package');
  await commit(`bench-outbox-${round}`, packaged.map((m) => m.message));
  phase('commit');
  const ms = performance.now() - t0;
  await compostage.close();
  const digests = [];
  for (const d of batch.signed) digests.push(b64u(new Uint8Array(await crypto.subtle.digest('SHA-256', d.bytes.slice()))));
  last = { digests, plainFiles: t.files.map((f) => f.bytes), committed: packaged.map((m) => m.message) };
  return {
    ms,
    phases,
    invoices: prepared.length,
    signatures: batch.signed.length,
    files: t.files.map((f) => ({ kind: f.kind, invoices: f.invoiceCount, bytes: f.bytes.length })),
    messages: packaged.map((m) => m.message.length),
    subjects: packaged.map((m) => m.subject),
  };
}

let recipientForPrimitives: Recipient | undefined;

/** The bare operations of the same day: the card signatures, the CMS encryptions, one commit. */
export async function primitives(p: DayParams): Promise<{ ms: number; sign: number; cms: number; commit: number }> {
  if (!client || !last) throw new Error('open() and day() first');
  const d = last;
  recipientForPrimitives ??= await checkRecipient(unb64(p.recipient.leaf), { insecureSkipVerify: true });
  let t = performance.now();
  for (const digest of d.digests) await client.call('cps.sign', { reader: p.reader, digest });
  const sign = performance.now() - t;
  t = performance.now();
  for (const f of d.plainFiles) await encryptDocument(f, recipientForPrimitives);
  const cms = performance.now() - t;
  t = performance.now();
  await commit(`bench-primitive-outbox-${round}`, d.committed);
  const commitMs = performance.now() - t;
  return { ms: sign + cms + commitMs, sign, cms, commit: commitMs };
}

export function close(): void {
  client?.close();
  client = undefined;
}

// ---------------------------------------------------------------------------------------------
// The same day as the app's workspace keeps it (`npm run bench -- kiosk`, store_overhead_ratio):
// each invoice kept to sign and committed, the batch signed and committed, « Télétransmettre »
// committed with its lots, messages and files — through the sealed store (ADR 0014), or through
// a store of the same shape and transactions that writes the records in clear.

import { IdbBillingStore, fileId, type KeptFile, type OutboxEntry } from '../../src/lib/client/store/billing.js';
import type { DataKey } from '../../src/lib/client/store/at-rest.js';
import { createInvoiceRecord, prepareInvoice, prepareInvoices, signBatch, signInvoice, submitInvoice, transmitRecords, type InvoiceRecord, type LotRecord } from '../../src/lib/billing/index.js';

interface DayStore {
  commit(change: { invoices?: readonly InvoiceRecord[]; lots?: readonly LotRecord[]; outbox?: readonly OutboxEntry[]; files?: readonly KeptFile[] }): Promise<void>;
  close(): Promise<void>;
}

/** The same stores, keys and transaction as IdbBillingStore.commit, the records in clear. */
function clearStore(name: string): DayStore {
  const conn = openDB(name, 1, {
    upgrade: (d) => {
      for (const s of ['invoices', 'lots', 'outbox', 'files']) d.createObjectStore(s, { keyPath: 'id' }).createIndex('keyId', 'keyId');
    },
  });
  return {
    async commit(change) {
      const db = await conn;
      const tx = db.transaction(['invoices', 'lots', 'outbox', 'files'], 'readwrite', { durability: 'strict' });
      for (const f of change.files ?? []) await tx.objectStore('files').add({ ...f, keyId: 'bench' });
      for (const m of change.outbox ?? []) await tx.objectStore('outbox').add(m);
      for (const r of change.invoices ?? []) {
        await tx.objectStore('invoices').get(r.id);
        await tx.objectStore('invoices').put({ ...r, keyId: 'bench' });
      }
      for (const l of change.lots ?? []) {
        await tx.objectStore('lots').get(l.id);
        await tx.objectStore('lots').put({ ...l, keyId: 'bench' });
      }
      await tx.done;
    },
    async close() {
      (await conn).close();
    },
  };
}

function sealedStore(name: string, key: DataKey): DayStore {
  const s = new IdbBillingStore(name);
  return { commit: (change) => s.commit(change, key), close: () => s.close() };
}

let recordsRound = 0;
let benchKey: DataKey | undefined;

/**
 * The app's day of `p`'s invoices with its records kept sealed (`atRest`) or in clear; total ms.
 * `shape`: `day` — the billing-day bench's shape (the invoices prepared together, signed, sent,
 * one durable commit of everything); `workspace` — as the page's workspace keeps them (each
 * invoice committed when kept to sign, the signed batch committed, then the transmission).
 */
export async function recordsDay(p: DayParams, atRest: boolean, shape: 'day' | 'workspace' = 'workspace'): Promise<{ ms: number; invoices: number; messages: number }> {
  if (!signer) throw new Error('open() first');
  recordsRound++;
  benchKey ??= { keyId: 'bench', key: await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']) };
  const clock = (): number => p.now;
  const recipient = checkRecipient(unb64(p.recipient.leaf), { anchors: [unb64(p.recipient.root)], intermediates: [unb64(p.recipient.inter)], crls: p.recipient.crls.map(unb64), email: p.recipient.email, at: new Date(p.now) });
  await recipient;
  const t0 = performance.now();
  const adapter = simulatorAdapter();
  const numbering = new BillingNumbering(new IdbCounterStore(`bench-records-counters-${recordsRound}`));
  const compostage = new IdbCompostageStore(`bench-records-compostage-${recordsRound}`);
  const name = `bench-records-${atRest ? 'sealed' : 'clear'}-${recordsRound}`;
  const store = atRest ? sealedStore(name, benchKey) : clearStore(name);
  const drafts = invoicesFromJsonText(p.invoicesJson).map((x) => x.invoice);
  const kept: InvoiceRecord[] = [];
  if (shape === 'workspace') {
    // « Garder à signer », one by one, each committed before the next (the workspace's saveToSign).
    for (const d of drafts) {
      const prepared = await prepareInvoice(d, { adapter, numbering, checks: { clock, catalogue: SAMPLE_CATALOGUE, others: kept.map((r) => r.invoice) } });
      const r = submitInvoice(createInvoiceRecord(d, clock), prepared, clock);
      await store.commit({ invoices: [r] });
      kept.push(r);
    }
  } else {
    const prepared = await prepareInvoices(drafts, { adapter, numbering, checks: { clock, catalogue: SAMPLE_CATALOGUE } });
    drafts.forEach((d, i) => kept.push(submitInvoice(createInvoiceRecord(d, clock), prepared[i]!, clock)));
  }
  // The batch signed with the PIN typed once, committed.
  const batch = await signBatch(kept.flatMap((r) => r.submission!.documents), signer);
  if (batch.unsigned.length) throw new Error(`unsigned: ${batch.unsigned[0]?.error.message}`);
  const signed = await Promise.all(kept.map((r) => signInvoice(r, batch.signed.filter((s) => s.billingNumber === r.invoice.practitioner.situation.billingNumber && s.number === r.submission!.number), clock)));
  if (shape === 'workspace') await store.commit({ invoices: signed });
  // « Télétransmettre »: lots, files, encrypted messages, committed together.
  const out = await transmitRecords(signed, { adapter, numbering, way: 'direct', mode: 'test', from: p.from, encrypt: async (plain) => joinParts((await encryptDocument(plain, await recipient)).parts), compostage, clock });
  const at = new Date(p.now).toISOString();
  const outbox: OutboxEntry[] = out.messages.map((m, i) => ({ id: `m-${recordsRound}-${i}`, keyId: 'bench', lotIds: m.lotIds, subject: m.message.subject, compostage: m.message.compostage, to: m.message.to, messageId: m.message.messageId, message: m.message.message, createdAt: at, updatedAt: at, state: 'waiting', attempts: 0, nextAttemptAt: 0 }));
  const files: KeptFile[] = out.messages.map((m) => ({ id: fileId(m.file.sender, m.file.fileName), lotIds: m.lotIds, content: m.file }));
  await store.commit({ invoices: out.invoices, lots: out.lots, outbox, files });
  const ms = performance.now() - t0;
  await store.close();
  await compostage.close();
  return { ms, invoices: signed.length, messages: outbox.length };
}
