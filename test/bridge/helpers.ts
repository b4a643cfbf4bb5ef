/** Shared helpers of the bridge tests: clients over `ws`, auto-approval, temp state dirs. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { BridgeClient, MemoryKeyStore, type SocketLike } from '../../src/lib/client/card/client.js';
import type { Page } from 'playwright-core';
import type { PairingRequest } from '../../bridge/server.js';

export const APP_ORIGIN = 'http://localhost:5173';

export const stateDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'teletrans-bridge-test-'));

/** A client as a page of `origin` would be (the `ws` package lets us set Origin and Host). */
export function client(url: string, origin = APP_ORIGIN, keys = new MemoryKeyStore(), headers?: Record<string, string>): BridgeClient {
  return new BridgeClient({
    url,
    origin,
    keys,
    createSocket: (u) => new WebSocket(u, { origin, headers, maxPayload: 1 << 20 }) as unknown as SocketLike,
  });
}

/**
 * An approval hook for tests: approves when the code the page showed equals the bridge's
 * (what the practitioner does by eye), unless `refuse` is set.
 */
export function approver(): {
  hook: (r: PairingRequest) => Promise<boolean>;
  pageCode: (code: string) => void;
  requests: PairingRequest[];
  refuse: boolean;
} {
  let shown: string | null = null;
  const st = {
    requests: [] as PairingRequest[],
    refuse: false,
    pageCode: (c: string) => {
      shown = c;
    },
    hook: async (r: PairingRequest) => {
      st.requests.push(r);
      for (let i = 0; i < 200 && shown === null; i++) await new Promise((q) => setTimeout(q, 5));
      const ok = !st.refuse && shown === r.code;
      shown = null;
      return ok;
    },
  };
  return st;
}

/** Pairs then opens a session. */
export async function pairedClient(url: string, a: ReturnType<typeof approver>, origin = APP_ORIGIN): Promise<{ c: BridgeClient; keys: MemoryKeyStore }> {
  const keys = new MemoryKeyStore();
  const c = client(url, origin, keys);
  await c.pair(a.pageCode);
  await c.connect();
  return { c, keys };
}

/** Raw WebSocket attempt: resolves with the HTTP status of a refused upgrade, or 101. */
export function rawUpgrade(url: string, headers: Record<string, string>, origin?: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers, origin });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', () => resolve(-1));
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timeout waiting for condition');
    await sleep(10);
  }
}

/**
 * A client whose underlying sockets the test can reach: `drop()` cuts the current one at the TCP
 * level (the page crashed or went away without a close frame).
 */
export function droppableClient(url: string, keys = new MemoryKeyStore(), origin = APP_ORIGIN): { c: BridgeClient; drop: () => void } {
  let last: WebSocket | null = null;
  const c = new BridgeClient({
    url,
    origin,
    keys,
    createSocket: (u) => (last = new WebSocket(u, { origin, maxPayload: 1 << 20 })) as unknown as SocketLike,
  });
  return { c, drop: () => last?.terminate() };
}

/**
 * The practitioner's eye on a real page: approves when the app shows the very code the bridge
 * shows (`.code strong` of the pairing panel). `page` is read at approval time.
 */
export function pageApprover(page: () => Page): (r: PairingRequest) => Promise<boolean> {
  return async ({ code }) => {
    for (let i = 0; i < 200; i++) {
      const shown = await page().locator('.code strong').textContent({ timeout: 100 }).catch(() => null);
      if (shown) return shown === code;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  };
}
