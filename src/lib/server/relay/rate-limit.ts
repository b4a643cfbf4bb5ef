/**
 * Per-client token buckets for the relay's unauthenticated endpoints (challenge, token): each
 * challenge writes a nonce and each token request runs a signature check and a chain
 * validation, so an anonymous client must not be able to ask for them without bound.
 * In memory, per process; at most `maxClients` buckets (the least recently seen go first).
 */
export interface RateLimit {
  /** Sustained requests per minute per client. */
  perMinute: number;
  /** Requests allowed at once before the rate applies. */
  burst: number;
}

export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly limit: RateLimit, private readonly maxClients = 10_000) {}

  /** Takes one request for `client`; when refused, how long to wait before the next one is allowed. */
  take(client: string, now = Date.now()): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const perMs = this.limit.perMinute / 60_000;
    const b = this.buckets.get(client) ?? { tokens: this.limit.burst, at: now };
    this.buckets.delete(client); // re-inserted below: Map order is recency order
    b.tokens = Math.min(this.limit.burst, b.tokens + Math.max(0, now - b.at) * perMs);
    b.at = now;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(client, b);
    if (this.buckets.size > this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
    return ok ? { ok: true } : { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000)) };
  }
}
