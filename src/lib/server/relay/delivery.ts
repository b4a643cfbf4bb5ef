/**
 * SMTP delivery (smtp-client.ts): claims due messages, sends them raw with their stored envelope,
 * and records the outcome durably. 2xx → delivered (server answer kept); 5xx → failed (reason
 * kept); 4xx and network errors → deferred with exponential backoff and jitter. An error after
 * the message data went out without the server's answer marks `duplicateRisk`: the server may
 * have accepted it; the re-send carries the same Message-ID.
 */
import { randomUUID } from 'node:crypto';
import { DEFAULTS, tlsOptions, type RelayConfig, type SmtpConfig } from './config.js';
import { SmtpPool, type SmtpClientOptions } from './smtp-client.js';
import type { MessageRecord, RelayStore } from './store/types.js';

export function backoffMs(attempt: number, base: number, max: number, rnd = Math.random): number {
  const exp = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  // "Equal jitter": half fixed, half random, so retries spread without collapsing to zero.
  return Math.round(exp / 2 + rnd() * (exp / 2));
}

export function clientOptions(s: SmtpConfig): SmtpClientOptions {
  return {
    host: s.host,
    port: s.port,
    security: s.security,
    tls: tlsOptions(s.tls, s.host),
    auth: s.auth,
    connectionTimeoutMs: s.connectionTimeoutMs ?? 15_000,
    socketTimeoutMs: s.socketTimeoutMs ?? 60_000,
  };
}

interface SmtpError extends Error { code?: string; responseCode?: number; response?: string; command?: string }

/** Commands whose lost answer cannot hide an accepted message: the body had not gone out. */
const BEFORE_DATA = new Set(['CONN', 'EHLO', 'HELO', 'LHLO', 'STARTTLS', 'AUTH PLAIN', 'AUTH LOGIN', 'AUTH XOAUTH2', 'MAIL FROM', 'RCPT TO',
  'DATA', 'RSET', 'IDLE', 'API']);

export type Outcome =
  | { kind: 'delivered'; reply: string }
  | { kind: 'deferred'; reply: string; risk: boolean; remainingTo?: string[] }
  | { kind: 'failed'; reply: string };

/**
 * A message the server took for some recipients only: refused ones are named in the reply;
 * those refused with 4xx are tried again, alone (the others have it already), the 5xx ones not.
 */
export function partialOutcome(response: string, rejected: ReadonlyArray<{ address: string; response: string }>): Outcome {
  if (!rejected.length) return { kind: 'delivered', reply: response };
  const reply = `${response}; refused: ${rejected.map((r) => `<${r.address}> ${r.response.replace(/\s+/g, ' ')}`).join('; ')}`.slice(0, 1000);
  const retry = rejected.filter((r) => /^4/.test(r.response)).map((r) => r.address);
  return retry.length ? { kind: 'deferred', reply, risk: false, remainingTo: retry } : { kind: 'delivered', reply };
}

export function classify(e: SmtpError): Outcome {
  const reply = (e.response ?? `${e.code ?? 'ERROR'}: ${e.message}`).slice(0, 1000);
  if (e.responseCode && e.responseCode >= 500) return { kind: 'failed', reply };
  if (e.responseCode && e.responseCode >= 400) return { kind: 'deferred', reply, risk: false };
  const cmd = (e.command ?? '').toUpperCase();
  const risk = !e.responseCode && cmd !== '' && !BEFORE_DATA.has(cmd) && e.code !== 'ECONNREFUSED' && e.code !== 'ETLS' && e.code !== 'EDNS';
  return { kind: 'deferred', reply, risk };
}

export class DeliveryWorker {
  readonly owner: string;
  private transport: SmtpPool | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Counters for tests and the bench. */
  readonly stats = { delivered: 0, deferred: 0, failed: 0, lost: 0 };

  constructor(private readonly store: RelayStore, private readonly config: RelayConfig, owner?: string) {
    this.owner = owner ?? `relay-${process.pid}-${randomUUID().slice(0, 8)}`;
  }

  private get d(): Required<NonNullable<RelayConfig['delivery']>> {
    const c = this.config.delivery ?? {};
    return {
      concurrency: c.concurrency ?? DEFAULTS.concurrency, leaseMs: c.leaseMs ?? DEFAULTS.leaseMs,
      backoffBaseMs: c.backoffBaseMs ?? DEFAULTS.backoffBaseMs, backoffMaxMs: c.backoffMaxMs ?? DEFAULTS.backoffMaxMs,
      maxAttempts: c.maxAttempts ?? DEFAULTS.maxAttempts, pollMs: c.pollMs ?? DEFAULTS.pollMs,
    };
  }

  private getTransport(): SmtpPool {
    this.transport ??= new SmtpPool(clientOptions(this.config.smtp), this.d.concurrency);
    return this.transport;
  }

  /**
   * Sends one claimed message and records the outcome. `onSent` runs once the SMTP exchange is
   * over (before the outcome is recorded), so that the caller can hand the connection more work
   * without waiting for the store.
   */
  async deliver(m: MessageRecord, onSent?: () => void): Promise<Outcome> {
    let outcome: Outcome;
    try {
      // The body is lent for the SMTP exchange only (its memory serves the next message after).
      outcome = await this.store.withRaw(m.id, async (raw): Promise<Outcome> => {
        if (!raw) return { kind: 'failed', reply: 'stored message missing' };
        try {
          const info = await this.getTransport().send({ from: m.envelopeFrom, to: m.envelopeTo, dsnId: m.id }, raw);
          return partialOutcome(info.response, info.rejected);
        } catch (e) {
          return classify(e as SmtpError);
        }
      });
    } finally {
      onSent?.();
    }
    const now = Date.now();
    let held: boolean;
    if (outcome.kind === 'delivered') held = await this.store.finishDelivered(m.id, this.owner, outcome.reply, now);
    else if (outcome.kind === 'failed') held = await this.store.finishFailed(m.id, this.owner, outcome.reply, now);
    else if (m.attempts >= this.d.maxAttempts) held = await this.store.finishFailed(m.id, this.owner, `gave up after ${m.attempts} attempts: ${outcome.reply}`, now);
    else {
      const next = now + backoffMs(m.attempts, this.d.backoffBaseMs, this.d.backoffMaxMs);
      held = await this.store.finishDeferred(m.id, this.owner, outcome.reply, next, now, outcome.risk, outcome.remainingTo);
    }
    if (!held) this.stats.lost++;
    else this.stats[outcome.kind]++;
    if (outcome.kind !== 'delivered') {
      await this.store.audit({ at: now, actor: null, action: `delivery.${outcome.kind}`, detail: { id: m.id, messageId: m.messageId, attempts: m.attempts, reply: outcome.reply } });
    }
    return outcome;
  }

  /** One pass: claims what is due and delivers it; returns how many were claimed. */
  async runOnce(limit = this.d.concurrency * 8): Promise<number> {
    const claimed = await this.store.claimDue(this.owner, Date.now(), this.d.leaseMs, limit);
    await Promise.all(claimed.map((m) => this.deliver(m)));
    return claimed.length;
  }

  /**
   * Pipelined delivery: keeps up to 16 × concurrency messages claimed and not yet sent (the
   * SMTP pool holds `concurrency` connections), and claims more as soon as that falls to half,
   * with no batch barrier. A claim is a durable transaction: claiming 8 × concurrency at a time
   * rather than 2 × took a fifth off the store's CPU per message, and the claimed messages wait
   * a fraction of a second, far below the lease. Messages whose outcome is being recorded do
   * not count: a connection never waits for the store's commit of the previous message.
   * Resolves when nothing is due and nothing is in flight (or when stopped).
   */
  async drain(): Promise<void> {
    const target = this.d.concurrency * 16;
    const inFlight = new Set<Promise<unknown>>();
    let unsent = 0;
    let wake: (() => void) | null = null;
    const sent = (): void => {
      unsent--;
      wake?.();
    };
    for (;;) {
      if (this.running === false && this.loop !== null) break;
      // Claim when half the queued work is gone: one claim transaction per few messages.
      if (unsent <= target / 2) {
        const claimed = await this.store.claimDue(this.owner, Date.now(), this.d.leaseMs, target - unsent);
        for (const m of claimed) {
          unsent++;
          const p: Promise<unknown> = this.deliver(m, sent).catch((e: Error) => process.stderr.write(`relay delivery: ${e.message}\n`))
            .finally(() => {
              inFlight.delete(p);
              wake?.();
            });
          inFlight.add(p);
        }
        if (!claimed.length && !inFlight.size) return;
        if (claimed.length && unsent < target) continue;
        if (!claimed.length && unsent === 0) {
          await Promise.all(inFlight); // only outcomes being recorded: nothing to claim meanwhile
          continue;
        }
      }
      await new Promise<void>((res) => {
        wake = res;
      });
      wake = null;
    }
    await Promise.all(inFlight);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        try {
          await this.drain();
        } catch (e) {
          process.stderr.write(`relay delivery: ${(e as Error).message}\n`);
        }
        // unref: the poll alone must not keep a stopping server alive.
        if (this.running) await new Promise<void>((res) => { this.wake = res; setTimeout(res, this.d.pollMs).unref(); });
      }
    })();
  }

  /** Intake calls this so a new message goes out without waiting for the poll. */
  poke(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.poke();
    await this.loop;
    await this.transport?.close();
    this.transport = null;
  }
}
