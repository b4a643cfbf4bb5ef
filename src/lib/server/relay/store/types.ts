/**
 * Relay storage: one interface, two engines (SQLite embedded default, PostgreSQL for several
 * relay instances). Every method that changes state resolves only after the change is durable.
 */
export type MessageStatus = 'queued' | 'sending' | 'delivered' | 'deferred' | 'failed' | 'bounced';

export interface MessageRecord {
  id: string;
  practitioner: string;
  idempotencyKey: string;
  /** SHA-256 (hex) of the raw bytes: a retried upload must carry the same bytes. */
  sha256: string;
  envelopeFrom: string;
  envelopeTo: string[];
  size: number;
  messageId: string | null;
  subject: string | null;
  status: MessageStatus;
  attempts: number;
  nextAttemptAt: number;
  lastReply: string | null;
  /** Set when a send may have been accepted by the server but its answer was lost (crash or
   * timeout after DATA): a re-send would carry the same Message-ID, which lets the receiver and
   * our DSN matching tell the copies apart. */
  duplicateRisk: boolean;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface NewMessage {
  id: string;
  practitioner: string;
  idempotencyKey: string;
  sha256: string;
  envelopeFrom: string;
  envelopeTo: string[];
  raw: Uint8Array;
  messageId: string | null;
  subject: string | null;
  now: number;
}

export interface ReturnRecord {
  id: string;
  practitioner: string;
  /** Stable key of the source item, e.g. `imap:<mailbox>:<uidvalidity>:<uid>` or `pop3:<uidl>`. */
  sourceKey: string;
  messageId: string | null;
  subject: string | null;
  size: number;
  receivedAt: number;
  acknowledgedAt: number | null;
  /** When the return is a DSN matched to one of our messages. */
  relatedMessage: string | null;
}

export interface NewReturn {
  id: string;
  practitioner: string;
  sourceKey: string;
  messageId: string | null;
  subject: string | null;
  raw: Uint8Array;
  relatedMessage: string | null;
  now: number;
}

export interface SessionRecord {
  id: string;
  practitioner: string;
  certSha256: string;
  /**
   * The CPS authentication certificate (DER) the session was opened with: re-validated when the
   * CRLs change, so that a revoked card ends its sessions. Null for sessions of older stores.
   */
  certDer: Uint8Array | null;
  createdAt: number;
  lastSeenAt: number;
}

export interface AuditEvent {
  at: number;
  actor: string | null;
  action: string;
  /** Never a message body, a key or anything from the card beyond identifiers. */
  detail: Record<string, unknown>;
}

/**
 * One anchor of a workstation's audit journal (issue 24 defect 3): its sequence number and head
 * hash at a moment, nothing of its content. Kept append-only.
 */
export interface AnchorRecord {
  /** The workstation's random id (UUID). */
  device: string;
  /** The journal's random id (UUID, its key check's `journal`). */
  journal: string;
  /** Sequence number of the journal's last record (−1 for an empty journal). */
  seq: number;
  /** SHA-256 (hex) of that record (the head). */
  head: string;
  /** The relay's id of the practitioner whose session anchored it. */
  practitioner: string;
  at: number;
}

/** What the relay makes of an anchor against the device's latest (anchor.ts decideAnchor). */
export type AnchorVerdict =
  | { outcome: 'first' | 'advanced' | 'same' | 'reset'; append: boolean }
  | { outcome: 'regressed' | 'forked' | 'journal-changed' | 'continuity'; append: false };

export interface RelayStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Inserts unless (practitioner, idempotencyKey) exists; returns the stored record either way. */
  insertMessage(m: NewMessage): Promise<{ created: boolean; message: MessageRecord }>;
  getMessage(id: string): Promise<MessageRecord | null>;
  getMessageByKey(practitioner: string, idempotencyKey: string): Promise<MessageRecord | null>;
  findByMessageId(messageId: string): Promise<MessageRecord | null>;
  listMessages(practitioner: string, limit: number): Promise<MessageRecord[]>;
  getRaw(id: string): Promise<Uint8Array | null>;
  /**
   * Lends the stored bytes to `fn` while its promise runs (null if missing); `fn` must not keep
   * them: the memory may serve the next message (delivery's path, see spool.ts `borrow`).
   */
  withRaw<T>(id: string, fn: (raw: Uint8Array | null) => Promise<T>): Promise<T>;
  /**
   * Claims up to `limit` messages due now: queued/deferred with nextAttemptAt ≤ now, or
   * `sending` whose lease expired (the previous holder died: those come back with
   * `duplicateRisk` set). Claimed rows become `sending`, leased to `owner` until now+leaseMs.
   */
  claimDue(owner: string, now: number, leaseMs: number, limit: number): Promise<MessageRecord[]>;
  /** Each `finish*` applies only while `owner` holds the lease; returns false otherwise. */
  finishDelivered(id: string, owner: string, reply: string, now: number): Promise<boolean>;
  /**
   * `remainingTo`: when some recipients already accepted the message, the ones still to try
   * (the next attempt goes to them only).
   */
  finishDeferred(id: string, owner: string, reply: string, nextAttemptAt: number, now: number, duplicateRisk?: boolean, remainingTo?: string[]): Promise<boolean>;
  finishFailed(id: string, owner: string, reason: string, now: number): Promise<boolean>;
  markBounced(id: string, reason: string, now: number): Promise<void>;
  countByStatus(): Promise<Record<string, number>>;

  insertReturn(r: NewReturn): Promise<{ created: boolean; record: ReturnRecord }>;
  hasReturn(practitioner: string, sourceKey: string): Promise<boolean>;
  listReturns(practitioner: string, includeAcknowledged: boolean): Promise<ReturnRecord[]>;
  getReturnRaw(practitioner: string, id: string): Promise<Uint8Array | null>;
  acknowledgeReturn(practitioner: string, id: string, now: number): Promise<boolean>;

  createNonce(nonce: string, origin: string, expiresAt: number): Promise<void>;
  /** Single use: returns the bound origin and deletes the nonce, or null if unknown/expired. */
  consumeNonce(nonce: string, now: number): Promise<string | null>;

  createSession(s: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | null>;
  touchSession(id: string, now: number): Promise<void>;
  deleteSession(id: string): Promise<void>;

  audit(e: AuditEvent): Promise<void>;
  listAudit(limit: number): Promise<AuditEvent[]>;
  /** Deletes audit events older than `before` (ms); returns how many. Callers keep ≥ 12 months (SA2). */
  pruneAudit(before: number): Promise<number>;
  /**
   * The secret key (32 random bytes) under which audit events pseudonymise client addresses,
   * made once and kept with the trail, so that pseudonyms compare across restarts and
   * instances for as long as the trail is kept. Never written to the trail itself.
   */
  auditPseudonymKey(): Promise<Uint8Array>;
  /**
   * Decides `a` against the device's latest anchor (`decide`) and appends it when told, in one
   * transaction: two relay instances cannot both take a conflicting anchor. Never updates or
   * deletes an anchor (the tables refuse it).
   */
  anchorJournal(a: AnchorRecord, decide: (latest: AnchorRecord | null) => AnchorVerdict): Promise<{ verdict: AnchorVerdict; latest: AnchorRecord | null }>;
  /** The relay's key (PKCS #8, ECDSA P-256) for signing anchor receipts, made once and shared by the instances. */
  receiptKey(): Promise<Uint8Array>;
  close(): Promise<void>;
}
