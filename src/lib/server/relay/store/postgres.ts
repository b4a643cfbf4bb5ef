/**
 * PostgreSQL engine (pg) for several relay instances sharing one queue: claims use
 * `FOR UPDATE SKIP LOCKED` plus a lease, and every finish is conditioned on holding the lease,
 * so no message is handed to two instances at once.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { anchorOf, newReceiptKey, rowToMessage, rowToReturn } from './sqlite-rows.js';
import type {
  AnchorRecord, AnchorVerdict, AuditEvent, MessageRecord, NewMessage, NewReturn, RelayStore, ReturnRecord, SessionRecord,
} from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS relay_messages (
  id TEXT PRIMARY KEY,
  practitioner TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  envelope_from TEXT NOT NULL,
  envelope_to TEXT NOT NULL,
  raw BYTEA NOT NULL,
  size INTEGER NOT NULL,
  message_id TEXT,
  subject TEXT,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  last_reply TEXT,
  duplicate_risk INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_expires_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (practitioner, idempotency_key)
);
CREATE INDEX IF NOT EXISTS relay_messages_due ON relay_messages (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS relay_messages_mid ON relay_messages (message_id);
CREATE TABLE IF NOT EXISTS relay_returns (
  id TEXT PRIMARY KEY,
  practitioner TEXT NOT NULL,
  source_key TEXT NOT NULL,
  message_id TEXT,
  subject TEXT,
  raw BYTEA NOT NULL,
  size INTEGER NOT NULL,
  received_at BIGINT NOT NULL,
  acknowledged_at BIGINT,
  related_message TEXT,
  UNIQUE (practitioner, source_key)
);
CREATE TABLE IF NOT EXISTS relay_nonces (nonce TEXT PRIMARY KEY, origin TEXT NOT NULL, expires_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS relay_sessions (
  id TEXT PRIMARY KEY, practitioner TEXT NOT NULL, cert_sha256 TEXT NOT NULL,
  created_at BIGINT NOT NULL, last_seen_at BIGINT NOT NULL
);
-- Sessions keep their certificate, re-validated when the CRLs change (older rows: NULL, log in again).
ALTER TABLE relay_sessions ADD COLUMN IF NOT EXISTS cert_der BYTEA;
CREATE TABLE IF NOT EXISTS relay_audit (
  seq BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, actor TEXT, action TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS relay_audit_keys (name TEXT PRIMARY KEY, key BYTEA NOT NULL, created_at BIGINT NOT NULL);
-- Workstations' audit journal heads (issue 24 defect 3): sequence numbers and hashes, no content; append-only.
CREATE TABLE IF NOT EXISTS relay_audit_anchors (
  id BIGSERIAL PRIMARY KEY, device TEXT NOT NULL, journal TEXT NOT NULL, seq BIGINT NOT NULL,
  head TEXT NOT NULL, practitioner TEXT NOT NULL, at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS relay_audit_anchors_device ON relay_audit_anchors (device, id);
CREATE OR REPLACE FUNCTION relay_audit_anchors_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'relay_audit_anchors is append-only'; END $$;
DROP TRIGGER IF EXISTS relay_audit_anchors_append_only ON relay_audit_anchors;
CREATE TRIGGER relay_audit_anchors_append_only BEFORE UPDATE OR DELETE ON relay_audit_anchors
  FOR EACH ROW EXECUTE FUNCTION relay_audit_anchors_append_only();
`;

const MSG_COLS = `id, practitioner, idempotency_key, sha256, envelope_from, envelope_to, size, message_id, subject,
  status, attempts, next_attempt_at, last_reply, duplicate_risk, lease_owner, lease_expires_at, created_at, updated_at`;
const RET_COLS = `id, practitioner, source_key, message_id, subject, size, received_at, acknowledged_at, related_message`;

export class PostgresStore implements RelayStore {
  readonly kind = 'postgres' as const;
  private constructor(private readonly pool: pg.Pool) {}

  static async open(config: pg.PoolConfig): Promise<PostgresStore> {
    const pool = new pg.Pool({ max: 8, ...config });
    // An idle client dropped by the server must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    const c = await pool.connect();
    try {
      // Several instances may start together: serialise the schema creation.
      await c.query('SELECT pg_advisory_lock(771100)');
      await c.query(SCHEMA);
      await c.query('SELECT pg_advisory_unlock(771100)');
    } finally {
      c.release();
    }
    return new PostgresStore(pool);
  }

  private async one(sql: string, args: unknown[]): Promise<Record<string, unknown> | undefined> {
    return (await this.pool.query(sql, args)).rows[0] as Record<string, unknown> | undefined;
  }

  async insertMessage(m: NewMessage): Promise<{ created: boolean; message: MessageRecord }> {
    const ins = await this.pool.query(`INSERT INTO relay_messages (id, practitioner, idempotency_key, sha256, envelope_from,
      envelope_to, raw, size, message_id, subject, status, attempts, next_attempt_at, created_at, updated_at)
      VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,'queued',0,$11,$11,$11)
      ON CONFLICT (practitioner, idempotency_key) DO NOTHING RETURNING ${MSG_COLS}`,
    [m.id, m.practitioner, m.idempotencyKey, m.sha256, m.envelopeFrom, JSON.stringify(m.envelopeTo),
      Buffer.from(m.raw.buffer, m.raw.byteOffset, m.raw.byteLength), m.raw.byteLength, m.messageId, m.subject, m.now]);
    if (ins.rows[0]) return { created: true, message: rowToMessage(ins.rows[0] as Record<string, unknown>) };
    const existing = await this.getMessageByKey(m.practitioner, m.idempotencyKey);
    if (!existing) throw new Error('insertMessage: conflict without a row');
    return { created: false, message: existing };
  }

  async getMessage(id: string): Promise<MessageRecord | null> {
    const r = await this.one(`SELECT ${MSG_COLS} FROM relay_messages WHERE id = $1`, [id]);
    return r ? rowToMessage(r) : null;
  }

  async getMessageByKey(practitioner: string, key: string): Promise<MessageRecord | null> {
    const r = await this.one(`SELECT ${MSG_COLS} FROM relay_messages WHERE practitioner = $1 AND idempotency_key = $2`, [practitioner, key]);
    return r ? rowToMessage(r) : null;
  }

  async findByMessageId(messageId: string): Promise<MessageRecord | null> {
    const r = await this.one(`SELECT ${MSG_COLS} FROM relay_messages WHERE message_id = $1 ORDER BY created_at LIMIT 1`, [messageId]);
    return r ? rowToMessage(r) : null;
  }

  async listMessages(practitioner: string, limit: number): Promise<MessageRecord[]> {
    const r = await this.pool.query(`SELECT ${MSG_COLS} FROM relay_messages WHERE practitioner = $1 ORDER BY created_at DESC LIMIT $2`, [practitioner, limit]);
    return r.rows.map((x) => rowToMessage(x as Record<string, unknown>));
  }

  async getRaw(id: string): Promise<Uint8Array | null> {
    const r = await this.one('SELECT raw FROM relay_messages WHERE id = $1', [id]);
    const b = r?.raw as Buffer | undefined;
    return b ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : null; // the driver's buffer is ours: no copy
  }

  async withRaw<T>(id: string, fn: (raw: Uint8Array | null) => Promise<T>): Promise<T> {
    return fn(await this.getRaw(id));
  }

  async claimDue(owner: string, now: number, leaseMs: number, limit: number): Promise<MessageRecord[]> {
    const r = await this.pool.query(`WITH due AS (
        SELECT id, status AS old_status FROM relay_messages
        WHERE (status IN ('queued','deferred') AND next_attempt_at <= $1) OR (status = 'sending' AND lease_expires_at < $1)
        ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
      UPDATE relay_messages m SET status = 'sending', lease_owner = $3, lease_expires_at = $4, attempts = attempts + 1,
        duplicate_risk = duplicate_risk | (CASE WHEN due.old_status = 'sending' THEN 1 ELSE 0 END), updated_at = $1
      FROM due WHERE m.id = due.id RETURNING ${MSG_COLS.split(',').map((c) => 'm.' + c.trim()).join(', ')}`,
    [now, limit, owner, now + leaseMs]);
    return r.rows.map((x) => rowToMessage(x as Record<string, unknown>));
  }

  private async finish(id: string, owner: string, sets: string, args: unknown[]): Promise<boolean> {
    const n = args.length;
    const r = await this.pool.query(`UPDATE relay_messages SET ${sets}, lease_owner = NULL, lease_expires_at = NULL
      WHERE id = $${n + 1} AND status = 'sending' AND lease_owner = $${n + 2}`, [...args, id, owner]);
    return r.rowCount === 1;
  }

  finishDelivered(id: string, owner: string, reply: string, now: number): Promise<boolean> {
    return this.finish(id, owner, `status = 'delivered', last_reply = $1, updated_at = $2`, [reply, now]);
  }

  finishDeferred(id: string, owner: string, reply: string, next: number, now: number, risk = false, remainingTo?: string[]): Promise<boolean> {
    return this.finish(id, owner, `status = 'deferred', last_reply = $1, next_attempt_at = $2, updated_at = $3,
      duplicate_risk = duplicate_risk | $4::int, envelope_to = COALESCE($5, envelope_to)`,
    [reply, next, now, risk ? 1 : 0, remainingTo ? JSON.stringify(remainingTo) : null]);
  }

  finishFailed(id: string, owner: string, reason: string, now: number): Promise<boolean> {
    return this.finish(id, owner, `status = 'failed', last_reply = $1, updated_at = $2`, [reason, now]);
  }

  async markBounced(id: string, reason: string, now: number): Promise<void> {
    await this.pool.query(`UPDATE relay_messages SET status = 'bounced', last_reply = $1, updated_at = $2, lease_owner = NULL,
      lease_expires_at = NULL WHERE id = $3`, [reason, now, id]);
  }

  async countByStatus(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const r of (await this.pool.query('SELECT status, COUNT(*)::int n FROM relay_messages GROUP BY status')).rows as Array<{ status: string; n: number }>) {
      out[r.status] = r.n;
    }
    return out;
  }

  async insertReturn(r: NewReturn): Promise<{ created: boolean; record: ReturnRecord }> {
    const ins = await this.pool.query(`INSERT INTO relay_returns (id, practitioner, source_key, message_id, subject, raw, size,
      received_at, related_message) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (practitioner, source_key) DO NOTHING
      RETURNING ${RET_COLS}`, [r.id, r.practitioner, r.sourceKey, r.messageId, r.subject, Buffer.from(r.raw), r.raw.byteLength, r.now, r.relatedMessage]);
    if (ins.rows[0]) return { created: true, record: rowToReturn(ins.rows[0] as Record<string, unknown>) };
    const row = await this.one(`SELECT ${RET_COLS} FROM relay_returns WHERE practitioner = $1 AND source_key = $2`, [r.practitioner, r.sourceKey]);
    if (!row) throw new Error('insertReturn: conflict without a row');
    return { created: false, record: rowToReturn(row) };
  }

  async hasReturn(practitioner: string, sourceKey: string): Promise<boolean> {
    return !!(await this.one('SELECT 1 FROM relay_returns WHERE practitioner = $1 AND source_key = $2', [practitioner, sourceKey]));
  }

  async listReturns(practitioner: string, includeAcknowledged: boolean): Promise<ReturnRecord[]> {
    const r = await this.pool.query(`SELECT ${RET_COLS} FROM relay_returns WHERE practitioner = $1
      ${includeAcknowledged ? '' : 'AND acknowledged_at IS NULL'} ORDER BY received_at`, [practitioner]);
    return r.rows.map((x) => rowToReturn(x as Record<string, unknown>));
  }

  async getReturnRaw(practitioner: string, id: string): Promise<Uint8Array | null> {
    const r = await this.one('SELECT raw FROM relay_returns WHERE practitioner = $1 AND id = $2', [practitioner, id]);
    return r ? new Uint8Array(r.raw as Buffer) : null;
  }

  async acknowledgeReturn(practitioner: string, id: string, now: number): Promise<boolean> {
    const r = await this.pool.query(`UPDATE relay_returns SET acknowledged_at = COALESCE(acknowledged_at, $1)
      WHERE practitioner = $2 AND id = $3`, [now, practitioner, id]);
    return r.rowCount === 1;
  }

  async createNonce(nonce: string, origin: string, expiresAt: number): Promise<void> {
    await this.pool.query('DELETE FROM relay_nonces WHERE expires_at < $1', [Date.now()]);
    await this.pool.query('INSERT INTO relay_nonces (nonce, origin, expires_at) VALUES ($1, $2, $3)', [nonce, origin, expiresAt]);
  }

  async consumeNonce(nonce: string, now: number): Promise<string | null> {
    const r = await this.one('DELETE FROM relay_nonces WHERE nonce = $1 RETURNING origin, expires_at', [nonce]);
    return r && Number(r.expires_at) >= now ? String(r.origin) : null;
  }

  async createSession(s: SessionRecord): Promise<void> {
    await this.pool.query('INSERT INTO relay_sessions (id, practitioner, cert_sha256, created_at, last_seen_at, cert_der) VALUES ($1,$2,$3,$4,$5,$6)',
      [s.id, s.practitioner, s.certSha256, s.createdAt, s.lastSeenAt, s.certDer ? Buffer.from(s.certDer) : null]);
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const r = await this.one('SELECT * FROM relay_sessions WHERE id = $1', [id]);
    return r ? { id: String(r.id), practitioner: String(r.practitioner), certSha256: String(r.cert_sha256),
      createdAt: Number(r.created_at), lastSeenAt: Number(r.last_seen_at), certDer: r.cert_der ? new Uint8Array(r.cert_der as Buffer) : null } : null;
  }

  async touchSession(id: string, now: number): Promise<void> {
    await this.pool.query('UPDATE relay_sessions SET last_seen_at = $1 WHERE id = $2', [now, id]);
  }

  async deleteSession(id: string): Promise<void> {
    await this.pool.query('DELETE FROM relay_sessions WHERE id = $1', [id]);
  }

  async audit(e: AuditEvent): Promise<void> {
    await this.pool.query('INSERT INTO relay_audit (at, actor, action, detail) VALUES ($1,$2,$3,$4)', [e.at, e.actor, e.action, JSON.stringify(e.detail)]);
  }

  async pruneAudit(before: number): Promise<number> {
    return (await this.pool.query('DELETE FROM relay_audit WHERE at < $1', [before])).rowCount ?? 0;
  }

  async auditPseudonymKey(): Promise<Uint8Array> {
    // Instances race on first use: the first insert wins, every instance reads it.
    await this.pool.query(`INSERT INTO relay_audit_keys (name, key, created_at) VALUES ('pseudonym', $1, $2) ON CONFLICT (name) DO NOTHING`, [randomBytes(32), Date.now()]);
    const r = await this.one(`SELECT key FROM relay_audit_keys WHERE name = 'pseudonym'`, []);
    return new Uint8Array(r!.key as Buffer);
  }

  async anchorJournal(a: AnchorRecord, decide: (latest: AnchorRecord | null) => AnchorVerdict): Promise<{ verdict: AnchorVerdict; latest: AnchorRecord | null }> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      // One decision per device at a time, across instances.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`anchor:${a.device}`]);
      const r = await c.query('SELECT device, journal, seq, head, practitioner, at FROM relay_audit_anchors WHERE device = $1 ORDER BY id DESC LIMIT 1', [a.device]);
      const row = r.rows[0] as Record<string, unknown> | undefined;
      const latest = row ? anchorOf(row) : null;
      const verdict = decide(latest);
      if (verdict.append) {
        await c.query('INSERT INTO relay_audit_anchors (device, journal, seq, head, practitioner, at) VALUES ($1, $2, $3, $4, $5, $6)', [a.device, a.journal, a.seq, a.head, a.practitioner, a.at]);
      }
      await c.query('COMMIT');
      return { verdict, latest };
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  async receiptKey(): Promise<Uint8Array> {
    await this.pool.query(`INSERT INTO relay_audit_keys (name, key, created_at) VALUES ('receipt', $1, $2) ON CONFLICT (name) DO NOTHING`, [newReceiptKey(), Date.now()]);
    const r = await this.one(`SELECT key FROM relay_audit_keys WHERE name = 'receipt'`, []);
    return new Uint8Array(r!.key as Buffer);
  }

  async listAudit(limit: number): Promise<AuditEvent[]> {
    const r = await this.pool.query('SELECT at, actor, action, detail FROM relay_audit ORDER BY seq DESC LIMIT $1', [limit]);
    return (r.rows as Array<Record<string, unknown>>).map((x) => ({ at: Number(x.at), actor: (x.actor as string | null) ?? null,
      action: String(x.action), detail: JSON.parse(String(x.detail)) as Record<string, unknown> }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
