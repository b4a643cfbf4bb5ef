/**
 * The outbox sent to the relay (issue 14 items 5 and 6). Not left to Background Sync (Safari and
 * iPadOS have none): the page sends when it starts, when the network comes back (`online`),
 * when it gets the focus again, and on a timer; each message goes with its own id as the
 * relay's `Idempotency-Key`, so a retry after a lost answer, a reload or a crash is never a
 * second message. Failures back off (5 s doubling to 10 min); a refusal by the relay (the
 * message's profile, its size) is final and said, never retried. Messages the relay accepted
 * are followed until delivered or bounced.
 *
 * Sending needs the relay's session (the card's login), not the data key: the messages are
 * already encrypted for the insurers.
 */
import { writable, type Readable } from 'svelte/store';
import type { OutboxEntry, OutboxState } from '../store/billing-db.js';
import type { IdbOutbox } from '../store/outbox.js';

export interface OutboxSenderOptions {
  store: Pick<IdbOutbox, 'listOutbox' | 'updateOutbox'>;
  /** The relay's bearer token, null while there is none (locked, offline, not logged in). */
  token: () => string | null;
  /** The relay answered 401: its session ended; the page logs in again. */
  onUnauthorized?: () => void;
  fetch?: typeof fetch;
  /** The relay's URL ('' for this origin). */
  base?: string;
  clock?: () => number;
  /** Timer period, ms (default 30 s). */
  period?: number;
}

export interface OutboxSender {
  entries: Readable<readonly OutboxEntry[]>;
  /**
   * Sends what is due and follows what was accepted; one run at a time (a call meanwhile runs
   * once more after). `now`: the network just came back, the backoff's wait is over.
   */
  run(now?: boolean): Promise<void>;
  /** Listens to `online`, focus and the timer, and runs now. */
  start(): void;
  stop(): void;
}

const MAX_BACKOFF = 10 * 60_000;
export const backoff = (attempts: number): number => Math.min(MAX_BACKOFF, 5_000 * 2 ** Math.max(0, attempts - 1));

/** What the relay's reasons mean for the practitioner (problem `type`/`reason`). */
function refusal(status: number, body: Record<string, unknown>): string {
  const reason = typeof body.reason === 'string' ? body.reason : typeof body.type === 'string' ? body.type : `HTTP ${status}`;
  const detail = typeof body.detail === 'string' ? ` (${body.detail.slice(0, 200)})` : '';
  return `refusé par le relais : ${reason}${detail}`;
}

export function createOutboxSender(o: OutboxSenderOptions): OutboxSender {
  const entries = writable<readonly OutboxEntry[]>([]);
  const clock = o.clock ?? (() => Date.now());
  const fetcher = o.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const base = `${o.base ?? ''}/api/relay/messages`;
  let running: Promise<void> | null = null;
  let again = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  let soon: ReturnType<typeof setTimeout> | undefined;
  let followDelay = 1_000;
  const listeners: Array<() => void> = [];

  const at = (): string => new Date(clock()).toISOString();
  const update = (e: OutboxEntry, from: OutboxState, patch: Parameters<typeof o.store.updateOutbox>[2]): Promise<boolean> => o.store.updateOutbox(e.id, from, { ...patch, updatedAt: at() });

  /** One message to the relay; false when the run should stop (no session, or it ended). */
  async function send(e: OutboxEntry, token: string): Promise<boolean> {
    let res: Response;
    try {
      res = await fetcher(base, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'idempotency-key': e.id, 'content-type': 'message/rfc822' },
        body: e.message.slice().buffer as ArrayBuffer,
      });
    } catch {
      // No network: this one and the rest wait for the next occasion.
      await update(e, 'waiting', { attempts: e.attempts + 1, nextAttemptAt: clock() + backoff(e.attempts + 1), lastError: 'relais injoignable (pas de réseau ?)' });
      return false;
    }
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.status === 202) {
      await update(e, 'waiting', { state: 'accepted', attempts: e.attempts + 1, ...(typeof body.id === 'string' ? { relayId: body.id } : {}), lastError: '' });
      return true;
    }
    if (res.status === 401) {
      o.onUnauthorized?.();
      return false;
    }
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
      await update(e, 'waiting', { state: 'refused', attempts: e.attempts + 1, lastError: refusal(res.status, body) });
      return true;
    }
    await update(e, 'waiting', { attempts: e.attempts + 1, nextAttemptAt: clock() + backoff(e.attempts + 1), lastError: `relais indisponible (HTTP ${res.status})` });
    return false;
  }

  /** Where an accepted message stands at the relay. */
  async function follow(e: OutboxEntry, token: string): Promise<boolean> {
    if (!e.relayId) return true;
    let res: Response;
    try {
      res = await fetcher(`${base}/${encodeURIComponent(e.relayId)}`, { headers: { authorization: `Bearer ${token}` } });
    } catch {
      return false;
    }
    if (res.status === 401) {
      o.onUnauthorized?.();
      return false;
    }
    if (!res.ok) return true;
    const body = (await res.json().catch(() => ({}))) as { status?: string; lastReply?: string };
    if (body.status === 'delivered') await update(e, 'accepted', { state: 'delivered', lastError: '' });
    else if (body.status === 'bounced' || body.status === 'failed') await update(e, 'accepted', { state: 'bounced', lastError: `non remis : ${String(body.lastReply ?? body.status).slice(0, 200)}` });
    return true;
  }

  let force = false;
  async function once(): Promise<void> {
    const token = o.token();
    const skipWait = force;
    force = false;
    if (token) {
      const now = clock();
      for (const e of await o.store.listOutbox()) {
        if (e.state === 'waiting' && (skipWait || e.nextAttemptAt <= now) && !(await send(e, token))) break;
      }
      for (const e of await o.store.listOutbox()) {
        if (e.state === 'accepted' && !(await follow(e, token))) break;
      }
    }
    const all = await o.store.listOutbox();
    entries.set(all);
    // Accepted, not yet delivered: look again shortly (1 s doubling to the timer's period).
    clearTimeout(soon);
    if (timer !== undefined && token && all.some((e) => e.state === 'accepted')) {
      soon = setTimeout(poke, followDelay);
      followDelay = Math.min(followDelay * 2, o.period ?? 30_000);
    } else followDelay = 1_000;
  }

  async function run(now = false): Promise<void> {
    if (now) force = true;
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await once();
        } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  }

  const poke = (): void => void run().catch(() => undefined);
  const back = (): void => void run(true).catch(() => undefined);

  return {
    entries,
    run,
    start() {
      if (timer !== undefined) return;
      timer = setInterval(poke, o.period ?? 30_000);
      if (typeof window !== 'undefined') {
        const onVisible = (): void => {
          if (document.visibilityState === 'visible') poke();
        };
        window.addEventListener('online', back);
        window.addEventListener('focus', poke);
        document.addEventListener('visibilitychange', onVisible);
        listeners.push(() => window.removeEventListener('online', back), () => window.removeEventListener('focus', poke), () => document.removeEventListener('visibilitychange', onVisible));
      }
      poke();
    },
    stop() {
      clearInterval(timer);
      clearTimeout(soon);
      timer = undefined;
      for (const off of listeners.splice(0)) off();
    },
  };
}
