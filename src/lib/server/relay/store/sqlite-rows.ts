/** Row → record converters shared by both engines (same column names). */
import { generateKeyPairSync } from 'node:crypto';
import type { AnchorRecord, MessageRecord, MessageStatus, ReturnRecord } from './types.js';

type Row = Record<string, unknown>;

export function rowToMessage(r: Row): MessageRecord {
  return {
    id: String(r.id),
    practitioner: String(r.practitioner),
    idempotencyKey: String(r.idempotency_key),
    sha256: String(r.sha256),
    envelopeFrom: String(r.envelope_from),
    envelopeTo: JSON.parse(String(r.envelope_to)) as string[],
    size: Number(r.size),
    messageId: (r.message_id as string | null) ?? null,
    subject: (r.subject as string | null) ?? null,
    status: r.status as MessageStatus,
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at),
    lastReply: (r.last_reply as string | null) ?? null,
    duplicateRisk: Boolean(r.duplicate_risk),
    leaseOwner: (r.lease_owner as string | null) ?? null,
    leaseExpiresAt: r.lease_expires_at == null ? null : Number(r.lease_expires_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export function rowToReturn(r: Row): ReturnRecord {
  return {
    id: String(r.id),
    practitioner: String(r.practitioner),
    sourceKey: String(r.source_key),
    messageId: (r.message_id as string | null) ?? null,
    subject: (r.subject as string | null) ?? null,
    size: Number(r.size),
    receivedAt: Number(r.received_at),
    acknowledgedAt: r.acknowledged_at == null ? null : Number(r.acknowledged_at),
    relatedMessage: (r.related_message as string | null) ?? null,
  };
}


/** A row of the anchors table (either engine). */
export function anchorOf(r: Record<string, unknown>): AnchorRecord {
  return { device: String(r.device), journal: String(r.journal), seq: Number(r.seq), head: String(r.head), practitioner: String(r.practitioner), at: Number(r.at) };
}

/** A new key for signing anchor receipts: ECDSA P-256, PKCS #8 DER. */
export function newReceiptKey(): Buffer {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'der' });
}
