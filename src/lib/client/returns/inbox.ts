/**
 * The returns inbox (issue 15 item 3): what the relay picked up from the practitioner's mailbox
 * (ARL, RSP, service messages, DSN…) is fetched, handed to the workspace, which reads, verifies,
 * acts and stores it, and only then acknowledged to the relay (`/api/relay/returns/ID/ack`): a
 * return lost between the two is fetched again, never dropped. Runs when the relay's session
 * opens, on a timer, and on demand (« Relever les retours », which first asks the relay to
 * pick up its mailbox now).
 */
import { writable, type Readable } from 'svelte/store';

export interface InboxState {
  readonly running: boolean;
  /** ISO instant of the last complete run. */
  readonly lastRunAt?: string;
  /** Returns stored and acknowledged in the last run. */
  readonly received: number;
  /** French: why the last run stopped, if it did. */
  readonly error?: string;
}

export interface ReturnsInboxOptions {
  /** The relay's bearer token, null while there is none. */
  token: () => string | null;
  /** Reads, acts on and stores one return; `true` once it is stored (then it is acknowledged). */
  receive: (id: string, raw: Uint8Array, receivedAt: string) => Promise<boolean>;
  onUnauthorized?: () => void;
  fetch?: typeof fetch;
  base?: string;
  clock?: () => number;
  /** Timer period, ms (default 60 s). */
  period?: number;
  /** After each run that had a session: what was kept waiting is tried again (the workspace's retryWaiting). */
  afterRun?: () => Promise<void>;
}

export interface ReturnsInbox {
  state: Readable<InboxState>;
  /** One run; `pickup`: ask the relay to read the mailbox first. One at a time. */
  run(pickup?: boolean): Promise<void>;
  start(): void;
  stop(): void;
}

const MAX_PER_RUN = 500;

export function createReturnsInbox(o: ReturnsInboxOptions): ReturnsInbox {
  const state = writable<InboxState>({ running: false, received: 0 });
  const fetcher = o.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const base = `${o.base ?? ''}/api/relay`;
  const clock = o.clock ?? (() => Date.now());
  let running: Promise<void> | null = null;
  let timer: ReturnType<typeof setInterval> | undefined;

  async function call(path: string, token: string, init: RequestInit = {}): Promise<Response | null> {
    let res: Response;
    try {
      res = await fetcher(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
    } catch {
      throw new Error('relais injoignable (pas de réseau ?)');
    }
    if (res.status === 401) {
      o.onUnauthorized?.();
      return null;
    }
    return res;
  }

  async function once(pickup: boolean): Promise<void> {
    const token = o.token();
    if (!token) return;
    let received = 0;
    state.update((s) => ({ ...s, running: true }));
    try {
      if (pickup) {
        const p = await call('/returns/pickup', token, { method: 'POST' });
        if (!p) return;
        // A mailbox that cannot be read now still leaves what the relay holds to fetch.
      }
      const list = await call('/returns', token);
      if (!list) return;
      if (!list.ok) throw new Error(`relais indisponible (HTTP ${list.status})`);
      const body = (await list.json().catch(() => ({}))) as { returns?: { id?: unknown; receivedAt?: unknown }[] };
      const items = (body.returns ?? []).filter((r): r is { id: string; receivedAt: string } => typeof r.id === 'string' && /^[\w-]{1,64}$/.test(r.id) && typeof r.receivedAt === 'string').slice(0, MAX_PER_RUN);
      for (const r of items) {
        const res = await call(`/returns/${encodeURIComponent(r.id)}`, token);
        if (!res) return;
        if (!res.ok) continue; // gone meanwhile (another tab acknowledged it)
        const raw = new Uint8Array(await res.arrayBuffer());
        if (!(await o.receive(r.id, raw, r.receivedAt))) continue; // not stored (locked meanwhile): fetched again next time
        const ack = await call(`/returns/${encodeURIComponent(r.id)}/ack`, token, { method: 'POST' });
        if (!ack) return;
        received++;
      }
      await o.afterRun?.();
      state.set({ running: false, received, lastRunAt: new Date(clock()).toISOString() });
    } catch (e) {
      state.set({ running: false, received, error: e instanceof Error ? e.message : String(e) });
    } finally {
      state.update((s) => (s.running ? { ...s, running: false } : s));
    }
  }

  return {
    state,
    run(pickup = false) {
      if (running) return running;
      running = once(pickup).finally(() => {
        running = null;
      });
      return running;
    },
    start() {
      if (timer !== undefined) return;
      timer = setInterval(() => void this.run(), o.period ?? 60_000);
      void this.run();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
