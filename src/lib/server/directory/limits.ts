/**
 * In-memory limits of the endpoint: a token bucket per client, and a bound on upstream
 * fetches in flight. Per process: several relay instances each apply their own.
 */
import type { RateLimitConfig } from './config.js';

interface Bucket {
  tokens: number;
  updated: number;
}

const MAX_TRACKED_CLIENTS = 10_000;

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  constructor(
    private readonly config: RateLimitConfig,
    private readonly now: () => number = Date.now
  ) {}

  private refill(bucket: Bucket, now: number): void {
    const elapsed = Math.max(0, now - bucket.updated);
    bucket.tokens = Math.min(this.config.burst, bucket.tokens + (elapsed * this.config.perMinute) / 60_000);
    bucket.updated = now;
  }

  /** Takes one token; returns 0 when granted, else the seconds to wait for the next token. */
  take(key: string): number {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_TRACKED_CLIENTS) this.prune(now);
      bucket = { tokens: this.config.burst, updated: now };
      this.buckets.set(key, bucket);
    } else {
      this.refill(bucket, now);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * 60) / this.config.perMinute));
  }

  /** Forgets full buckets (idle clients); if still too many, the oldest half. */
  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) {
      this.refill(bucket, now);
      if (bucket.tokens >= this.config.burst) this.buckets.delete(key);
    }
    if (this.buckets.size >= MAX_TRACKED_CLIENTS) {
      const sorted = [...this.buckets.entries()].sort((a, b) => a[1].updated - b[1].updated);
      for (const [key] of sorted.slice(0, sorted.length / 2)) this.buckets.delete(key);
    }
  }
}

/** A counting semaphore with a bounded, time-limited queue. */
export class Gate {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(
    private readonly capacity: number,
    private readonly maxWaiting: number
  ) {}

  /** Resolves to a release function, or to undefined when the queue is full or the wait too long. */
  async enter(waitMs: number): Promise<(() => void) | undefined> {
    if (this.active < this.capacity) {
      this.active++;
      return this.releaser();
    }
    if (this.waiters.length >= this.maxWaiting) return undefined;
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.active++;
        resolve(this.releaser());
      };
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(wake);
        if (index >= 0) this.waiters.splice(index, 1);
        resolve(undefined);
      }, waitMs);
      this.waiters.push(wake);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.waiters.shift()?.();
    };
  }
}
