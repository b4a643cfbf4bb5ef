/**
 * Audit trail of the directory door (docs/domain/security.md EL1, SA2): one event per request. No
 * personal data: the client is a keyed hash of its address (useless without the key); LDAP
 * URLs name public CA entries and institutional insurer mailboxes; HTTP URLs are logged
 * without their query string.
 *
 * Where it goes: `consoleAuditSink` writes a JSON line on stdout (operations' live view, gone
 * with the process). `durableAuditSink` also writes each event as a row of the relay store's
 * audit table (SQLite or PostgreSQL), which the relay keeps at least 12 months (SA2: its
 * daily prune uses DEFAULTS.auditRetentionMs, 396 days). The route uses the durable one.
 *
 * The pseudonym key: with a relay store, its own audit key (RelayStore.auditPseudonymKey,
 * made once and kept with the trail), loaded by `usePseudonymKey` before the first request,
 * so that a client's pseudonym is the same across restarts and instances for the 12 months
 * the trail is kept. Without one (stdout only), a key drawn at start. Each durable row names
 * its key by `keyId` (a hash of the key, which reveals nothing of it): rows compare when their
 * keyId does.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { AuditEvent } from '../relay/store/types.js';
import type { DirectoryErrorCode } from './errors.js';

export interface DirectoryAuditEvent {
  event: 'directory.fetch';
  time: string;
  /** Pseudonymous client id (keyed hash of the address). */
  client: string;
  /** describeTarget() of the request, or "-" when it did not parse. */
  target: string;
  status: number;
  code?: DirectoryErrorCode;
  /** English technical detail of a failure. */
  detail?: string;
  items?: number;
  bytes?: number;
  ms: number;
}

export type AuditSink = (event: DirectoryAuditEvent) => void;

export const consoleAuditSink: AuditSink = (event) => {
  console.info(JSON.stringify(event));
};

let pseudonymKey: Uint8Array = randomBytes(32);

export function pseudonymise(clientAddress: string): string {
  return createHmac('sha256', pseudonymKey).update(clientAddress).digest('base64url').slice(0, 12);
}

/** Names the current pseudonym key in durable rows (SHA-256 of a label and the key: one-way). */
export function pseudonymKeyId(): string {
  return createHash('sha256').update('teletrans directory pseudonym key id\0').update(pseudonymKey).digest('hex').slice(0, 16);
}

/** Pseudonymises with `key` from now on (the relay store's audit key: stable across restarts). */
export function usePseudonymKey(key: Uint8Array): void {
  if (key.length < 32) throw new RangeError('pseudonym key: at least 32 bytes');
  pseudonymKey = key.slice();
}

/** The part of the relay store the durable sink writes to. */
export interface AuditStore {
  audit(e: AuditEvent): Promise<void>;
}

/**
 * Loads the store's pseudonym key (null store: keeps the key drawn at start). Failures are
 * reported and leave the drawn key: requests are never refused for the trail's sake.
 */
export async function loadPseudonymKey(
  store: () => Promise<{ auditPseudonymKey(): Promise<Uint8Array> } | null>,
  onError: (e: Error) => void = (e) => process.stderr.write(`directory audit key: ${e.message}\n`)
): Promise<void> {
  try {
    const s = await store();
    if (s) usePseudonymKey(await s.auditPseudonymKey());
  } catch (e) {
    onError(e instanceof Error ? e : new Error(String(e)));
  }
}

export interface DurableAuditSink extends AuditSink {
  /** Resolves when every event handed so far has been written (or reported as failed). */
  flush(): Promise<void>;
}

/** The row written for an event: the action, and the event's fields as detail (nothing else). */
export function auditRow(event: DirectoryAuditEvent): AuditEvent {
  const at = Date.parse(event.time);
  const { event: action, time: _time, ...fields } = event;
  return { at: Number.isFinite(at) ? at : Date.now(), actor: null, action, detail: { ...fields, keyId: pseudonymKeyId() } };
}

/**
 * Writes each event to the store that `store()` gives (null: no relay configured, stdout
 * only), and to `stdout` (default the console line). A failed write is reported on stderr and
 * never fails the request it describes.
 */
export function durableAuditSink(
  store: () => Promise<AuditStore | null>,
  opts: { stdout?: AuditSink | null; onError?: (e: Error) => void } = {}
): DurableAuditSink {
  const stdout = opts.stdout === undefined ? consoleAuditSink : opts.stdout;
  const onError = opts.onError ?? ((e: Error) => process.stderr.write(`directory audit: ${e.message}\n`));
  let pending: Promise<void> = Promise.resolve();
  const sink = ((event: DirectoryAuditEvent) => {
    stdout?.(event);
    const row = auditRow(event);
    // Chained: rows keep the order of the requests.
    pending = pending
      .then(async () => {
        const s = await store();
        await s?.audit(row);
      })
      .catch((e: unknown) => onError(e instanceof Error ? e : new Error(String(e))));
  }) as DurableAuditSink;
  sink.flush = () => pending;
  return sink;
}
