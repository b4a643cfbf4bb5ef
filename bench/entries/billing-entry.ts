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
