/**
 * The billing database's schema (`teletrans-billing`), shared by the records' store
 * (./billing.ts) and the outbox's (./outbox.ts): the outbox is written in the same transaction
 * as the records that queue its messages, and read by the sender on every page without the
 * billing core.
 */
import type { DBSchema } from 'idb';
import type { BillingEvent, LotRecord } from '../../billing/lifecycle.js';
import type { InvoiceSummary } from '../../billing/summary.js';
import type { ReturnStatus, ReturnSummary } from '../../billing/return-actions.js';

export type { ReturnStatus, ReturnSummary };
import type { Sealed } from './at-rest.js';
import { Connection } from './connection.js';

export const BILLING_DB = 'teletrans-billing';

/** An invoice as stored: what stays in clear, and its sealed content. */
export interface StoredInvoice {
  readonly id: string;
  readonly keyId: string;
  readonly history: readonly BillingEvent[];
  readonly summary: InvoiceSummary;
  readonly sealed: Sealed;
}

/** A lot as stored: the record in clear (no personal data) and a tag under its card's key. */
export interface StoredLot {
  readonly id: string;
  readonly keyId: string;
  readonly lot: LotRecord;
  readonly tag: Sealed;
}

/** What a locked session may list: an invoice's clear part. */
export interface InvoiceListing {
  readonly id: string;
  readonly summary: InvoiceSummary;
}

/**
 * Where a message of the outbox stands: waiting to be sent (or sent again), accepted by the
 * relay, delivered to the insurer's mail server, bounced, or refused by the relay (not retried).
 */
export type OutboxState = 'waiting' | 'accepted' | 'delivered' | 'bounced' | 'refused';

/**
 * A message of the outbox: the SMTP message of one file, its attachment already encrypted for
 * the insurer (nothing of it is readable but by its recipient), with the trace the practitioner
 * keeps (subject, compostage). Stored in clear: it holds no personal data in clear.
 */
export interface OutboxEntry {
  /** Also the relay's Idempotency-Key: a retry is never a second message. */
  readonly id: string;
  readonly keyId: string;
  readonly lotIds: readonly string[];
  readonly subject: string;
  readonly compostage: string;
  readonly to: string;
  /** The Message-ID header. */
  readonly messageId: string;
  readonly message: Uint8Array;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly state: OutboxState;
  readonly attempts: number;
  /** Epoch ms: not before this (backoff). */
  readonly nextAttemptAt: number;
  /** The relay's id once it accepted the message. */
  readonly relayId?: string;
  /** French: why the last attempt failed, or why the relay refused it. */
  readonly lastError?: string;
}

/**
 * A billing file as it was first sent, kept to send it again identically (transmission.md §7
 * and §9: a retransmission or a re-emission never re-extracts the file). Its content (the
 * invoices) is sealed under the card's key; in clear only what names it.
 */
export interface StoredFile {
  /** `<billing number>:<file name>`. */
  readonly id: string;
  readonly keyId: string;
  readonly lotIds: readonly string[];
  readonly sealed: Sealed;
}

/**
 * A return picked up by the relay (ARL, RSP, service message, ART, DSN…), stored before the
 * relay is told it may forget it. Its bytes and what was read of them are sealed under the card's
 * key; in clear only what the lists show (no name, no NIR, no act).
 */
export interface StoredReturn {
  /** The relay's id of the return. */
  readonly id: string;
  readonly keyId: string;
  readonly receivedAt: string;
  readonly storedAt: string;
  readonly status: ReturnStatus;
  readonly summary: ReturnSummary;
  readonly sealed: Sealed;
}

/** A card's preferences on this workstation, sealed under its key: its mailbox, its last situation. */
export interface StoredProfile {
  readonly keyId: string;
  readonly sealed: Sealed;
}

export interface BillingDb extends DBSchema {
  profiles: { key: string; value: StoredProfile };
  invoices: { key: string; value: StoredInvoice; indexes: { keyId: string } };
  lots: { key: string; value: StoredLot; indexes: { keyId: string } };
  outbox: { key: string; value: OutboxEntry; indexes: { keyId: string } };
  files: { key: string; value: StoredFile; indexes: { keyId: string } };
  returns: { key: string; value: StoredReturn; indexes: { keyId: string } };
}

export function billingConnection(dbName: string = BILLING_DB): Connection<BillingDb> {
  return new Connection<BillingDb>(dbName, 5, (db, oldVersion) => {
    if (oldVersion < 2) {
      // Version 1 held records in clear and was only ever written by tests (the app stored
      // no invoice before ADR 0014): its stores are replaced.
      for (const name of ['invoices', 'lots'] as const) if (db.objectStoreNames.contains(name)) db.deleteObjectStore(name);
      db.createObjectStore('invoices', { keyPath: 'id' }).createIndex('keyId', 'keyId');
      db.createObjectStore('lots', { keyPath: 'id' }).createIndex('keyId', 'keyId');
    }
    if (oldVersion < 3) db.createObjectStore('outbox', { keyPath: 'id' }).createIndex('keyId', 'keyId');
    if (oldVersion < 4) db.createObjectStore('profiles', { keyPath: 'keyId' });
    if (oldVersion < 5) {
      db.createObjectStore('files', { keyPath: 'id' }).createIndex('keyId', 'keyId');
      db.createObjectStore('returns', { keyPath: 'id' }).createIndex('keyId', 'keyId');
    }
  });
}
