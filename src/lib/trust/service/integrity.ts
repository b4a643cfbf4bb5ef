/**
 * The audit journal's integrity latch (SP1). It lives apart from the audit operations because
 * every commit consults it: the context owns one, and nothing here depends on the context.
 */
import { type AuditKeyState, type ChainProblem, type ChainVerification, verifyJournal } from '../audit.js';
import type { AuditContent, TrustStorePort } from '../model.js';

/**
 * The journal's integrity as the service enforces it (SP1): `tampered` blocks every operation
 * that changes trust state or is sensitive, until an administrator resets the journal. Once
 * detected it stays so in this instance, even if the data is put back: only the reset clears it.
 */
export type AuditIntegrity =
  | { state: 'intact' }
  | { state: 'tampered'; problem: ChainProblem; message: string; detectedAt: number; seq?: number };

/** Thrown by the operations refused while the journal is tampered (code `audit_integrity_failed`). */
export class AuditIntegrityError extends Error {
  readonly code = 'audit_integrity_failed';
  constructor(
    readonly problem: ChainProblem,
    message: string,
  ) {
    super(message);
    this.name = 'AuditIntegrityError';
  }
}

const BLOCKED_MESSAGE =
  'Le journal d’audit de ce poste a été altéré : les fonctions sensibles sont bloquées jusqu’à ce qu’un administrateur réinitialise le journal (page « Journal d’audit »).';

export class IntegrityLatch {
  /** The seal this instance opened with (a replaced key in the store is detected against it). */
  key: CryptoKey | undefined;
  journal: string | undefined;
  state: AuditIntegrity = { state: 'intact' };

  constructor(
    private readonly store: TrustStorePort,
    private readonly clock: () => number,
  ) {}

  /** The typed refusal of an operation while the journal is tampered. */
  require(): void {
    if (this.state.state === 'tampered') throw this.blocked();
  }

  blocked(): AuditIntegrityError {
    const st = this.state;
    return st.state === 'tampered' ? new AuditIntegrityError(st.problem, `${BLOCKED_MESSAGE} (${st.message})`) : new AuditIntegrityError('malformed', BLOCKED_MESSAGE);
  }

  /** Latches the tampered state (the first problem found stays) and returns the error to throw. */
  tamper(v: ChainVerification & { ok: false }): AuditIntegrityError {
    if (this.state.state !== 'tampered') {
      this.state = { state: 'tampered', problem: v.problem, message: v.message, detectedAt: this.clock(), ...(v.seq !== undefined ? { seq: v.seq } : {}) };
    }
    return this.blocked();
  }

  /** Full verification of the stored journal against the key this instance holds; latches a failure. */
  async check(keys: AuditKeyState, a?: AuditContent): Promise<ChainVerification> {
    const content = a ?? (await this.store.audit());
    // Another tab's reset: a new journal (another id) that verifies on its own is adopted.
    if (this.state.state === 'tampered' && keys.key && keys.check && keys.check.journal !== this.journal && content.records[0]?.event === 'audit.reset') {
      const v = await verifyJournal(content, keys);
      if (v.ok) {
        this.key = keys.key;
        this.journal = keys.check.journal;
        this.state = { state: 'intact' };
        return v;
      }
    }
    const v = await verifyJournal(content, keys, this.key);
    if (!v.ok) this.tamper(v);
    return v;
  }
}
