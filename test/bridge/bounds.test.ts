/**
 * The bridge cannot be held open or filled: frames during a pending pairing, unauthenticated
 * sockets left idle, connections beyond the caps, requests beyond the in-flight cap, oversized
 * and queued frames. Against the real bridge server (startBridge, its HTTP/WebSocket listener)
 * and, where a peer must misbehave below the WebSocket library, a raw TCP client.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { makeCardSet } from '../../bridge/cards/profiles.js';
import { BUSY, CLOSE_FLOOD, CLOSE_PROTOCOL, CLOSE_TIMEOUT, startBridge, type Bridge, type BridgeOptions, type PairingRequest } from '../../bridge/server.js';
import { SimulatedTransport } from '../../bridge/transport.js';
import { BUSY_MESSAGE } from '../../src/lib/card/protocol.js';
import { BridgeBusyError } from '../../src/lib/client/card/client.js';
import { APP_ORIGIN, approver, pairedClient, stateDir, waitFor } from './helpers.js';

let bridge: Bridge | undefined;
afterEach(async () => {
  await bridge?.close();
  bridge = undefined;
});

async function start(o: Partial<BridgeOptions> = {}): Promise<Bridge> {
  bridge = await startBridge({ port: 0, transport: new SimulatedTransport(['R0']), stateDir: await stateDir(), allowedOrigins: [APP_ORIGIN], ...o });
  return bridge;
}

/** One client-to-server WebSocket frame (RFC 6455 §5.2), masked as a client must. */
function frame(opcode: 1 | 2, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : len < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff]) : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i & 3]!;
  return Buffer.concat([head, mask, body]);
}

/**
 * A WebSocket peer over a raw socket, deaf to the close handshake: it never answers the
 * server's close frame and writes whatever it is told to. `closed` resolves when the server
 * cuts the TCP connection; `text` collects the server's text frames (unmasked, short).
 */
async function rawPeer(b: Bridge, origin = APP_ORIGIN): Promise<{ s: Socket; closed: Promise<void>; text: string[]; closeCode: () => number | null }> {
  const s = connect(b.port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${b.port}\r\nOrigin: ${origin}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const text: string[] = [];
  let code: number | null = null;
  let buf = Buffer.alloc(0);
  let upgraded = false;
  const up = new Promise<void>((resolve, reject) => {
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = buf.subarray(0, end).toString('latin1');
        if (!status.startsWith('HTTP/1.1 101')) return reject(new Error(status.split('\r\n')[0]));
        upgraded = true;
        buf = buf.subarray(end + 4);
        resolve();
      }
      while (buf.length >= 2) {
        let len = buf[1]! & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        }
        if (buf.length < off + len) return;
        const op = buf[0]! & 0x0f;
        const payload = buf.subarray(off, off + len);
        if (op === 1) text.push(payload.toString('utf8'));
        if (op === 8 && payload.length >= 2) code = payload.readUInt16BE(0);
        buf = buf.subarray(off + len);
      }
    });
    s.once('error', reject);
  });
  s.on('error', () => undefined);
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  await up;
  return { s, closed, text, closeCode: () => code };
}

/** A valid pairing request (real P-256 point) as the page would send it. */
async function pairRequest(): Promise<Buffer> {
  const { ephemeral, b64u } = await import('../../src/lib/card/protocol.js');
  const eph = await ephemeral();
  return Buffer.from(JSON.stringify({ t: 'pair', pub: b64u(eph.pub), nonce: b64u(new Uint8Array(randomBytes(32))) }));
}

/** An approval hook that never answers (the practitioner is away) and records its requests. */
function awayApprover(): { hook: (r: PairingRequest) => Promise<boolean>; requests: PairingRequest[] } {
  const requests: PairingRequest[] = [];
  return { requests, hook: (r) => (requests.push(r), new Promise<boolean>(() => undefined)) };
}

describe('a pairing awaiting approval (frames are refused, not queued)', () => {
  it('a flood of frames while the pairing waits: the connection is closed at the first frame, nothing queued, the socket cut', async () => {
    const away = awayApprover();
    const b = await start({ approve: away.hook });
    const peer = await rawPeer(b);
    peer.s.write(frame(1, await pairRequest()));
    await waitFor(() => peer.text.some((t) => t.includes('"pair-code"')) && b.stats().pairingPending, 10_000);
    expect(away.requests).toHaveLength(1);
    // 60 KiB binary frames, as fast as the socket takes them, until the bridge cuts it (the
    // peer ignores the close frame: the bridge terminates it after its grace period).
    const chunk = frame(2, randomBytes(60_000));
    let sent = 0;
    let cut = false;
    void peer.closed.then(() => (cut = true));
    let maxQueued = 0;
    const t0 = Date.now();
    while (!cut && Date.now() - t0 < 20_000) {
      if (!peer.s.write(chunk)) await new Promise((r) => setTimeout(r, 1));
      sent++;
      maxQueued = Math.max(maxQueued, b.stats().maxQueuedFrames);
      if (sent % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(cut).toBe(true);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(sent).toBeGreaterThan(1);
    expect(maxQueued).toBe(0);
    expect(peer.closeCode()).toBe(CLOSE_PROTOCOL);
    // The approval request is withdrawn and the bridge takes the next pairing.
    expect(away.requests[0]!.signal?.aborted).toBe(true);
    await waitFor(() => !b.stats().pairingPending && b.stats().connections === 0, 10_000);
    expect(b.audit.read().filter((e) => e.event === 'pairing' && e.detail === 'frame during pairing')).toHaveLength(1);
  });

  it('the approval has its own bound: the pairing socket is closed after pairingTimeoutMs, the request withdrawn', async () => {
    const away = awayApprover();
    const b = await start({ approve: away.hook, limits: { pairingTimeoutMs: 300, handshakeTimeoutMs: 5_000 } });
    const ws = new WebSocket(b.url, { origin: APP_ORIGIN });
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.send((await pairRequest()).toString('utf8'));
    const t0 = Date.now();
    expect(await closed).toEqual({ code: CLOSE_TIMEOUT, reason: 'pairing timeout' });
    expect(Date.now() - t0).toBeLessThan(4_000);
    expect(away.requests[0]!.signal?.aborted).toBe(true);
    expect(b.stats().pairingPending).toBe(false);
  });
});

describe('unauthenticated sockets have a deadline', () => {
  it('an idle socket is closed after handshakeTimeoutMs, even while another connection’s pairing is pending', async () => {
    const away = awayApprover();
    const b = await start({ approve: away.hook, limits: { handshakeTimeoutMs: 300, pairingTimeoutMs: 60_000 } });
    const pairing = new WebSocket(b.url, { origin: APP_ORIGIN });
    await new Promise((r) => pairing.once('open', r));
    pairing.send((await pairRequest()).toString('utf8'));
    await waitFor(() => b.stats().pairingPending, 10_000);
    const idle = new WebSocket(b.url, { origin: APP_ORIGIN });
    await new Promise((r) => idle.once('open', r));
    const t0 = Date.now();
    const closed = await new Promise<{ code: number; reason: string }>((r) => idle.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    expect(closed).toEqual({ code: CLOSE_TIMEOUT, reason: 'handshake timeout' });
    expect(Date.now() - t0).toBeLessThan(4_000);
    // The pairing itself waits on (its own, longer bound).
    expect(pairing.readyState).toBe(WebSocket.OPEN);
    await waitFor(() => b.stats().connections === 1);
    expect(b.stats()).toMatchObject({ connections: 1, unauthenticated: 1, pairingPending: true });
    pairing.terminate();
  });

  it('a peer deaf to the close handshake is cut off all the same', async () => {
    const b = await start({ limits: { handshakeTimeoutMs: 200 } });
    const peer = await rawPeer(b);
    const t0 = Date.now();
    await peer.closed;
    expect(peer.closeCode()).toBe(CLOSE_TIMEOUT);
    expect(Date.now() - t0).toBeLessThan(8_000);
    await waitFor(() => b.stats().connections === 0, 5_000);
  });
});

describe('caps on connections, queued frames, requests and payloads', () => {
  it('connection N+1 is refused (503): unauthenticated ones beyond their cap, all beyond the total', async () => {
    const a = approver();
    const b = await start({ approve: a.hook, limits: { maxConnections: 3, maxUnauthenticated: 2, handshakeTimeoutMs: 60_000 } });
    const status = (): Promise<number> =>
      new Promise((resolve) => {
        const ws = new WebSocket(b.url, { origin: APP_ORIGIN });
        ws.once('upgrade', () => resolve(101));
        ws.once('unexpected-response', (_q, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.once('error', () => resolve(-1));
        opened.push(ws);
      });
    const opened: WebSocket[] = [];
    expect(await status()).toBe(101);
    expect(await status()).toBe(101);
    await waitFor(() => b.stats().unauthenticated === 2);
    expect(await status()).toBe(503);
    for (const ws of opened) ws.terminate();
    await waitFor(() => b.stats().connections === 0);
    // Sessions count against the total: three open, the fourth refused, one closed, one accepted.
    const sessions = [(await pairedClient(b.url, a)).c, (await pairedClient(b.url, a)).c, (await pairedClient(b.url, a)).c];
    await waitFor(() => b.stats().connections === 3 && b.stats().unauthenticated === 0);
    expect(await status()).toBe(503);
    sessions.pop()!.close();
    await waitFor(() => b.stats().connections === 2);
    expect(await status()).toBe(101);
    for (const c of sessions) c.close();
    for (const ws of opened) ws.terminate();
    const refused = b.audit.read().filter((e) => e.event === 'connection' && e.outcome === 'refused');
    expect(refused.map((e) => e.detail)).toEqual(['too many unauthenticated connections', 'too many connections']);
  });

  it('frames queued before the session beyond maxQueuedFrames close the connection (4429)', async () => {
    const b = await start({ limits: { maxQueuedFrames: 4 } });
    const peer = await rawPeer(b);
    const hello = frame(1, Buffer.from(JSON.stringify({ t: 'hello', keyId: 'AAAAAAAAAAAAAAAA', pub: 'x', nonce: 'y' })));
    // One write: the bridge parses all of them before it handles the first.
    peer.s.write(Buffer.concat(Array.from({ length: 50 }, () => hello)));
    await peer.closed;
    expect(peer.closeCode()).toBe(CLOSE_FLOOD);
    expect(b.audit.read().filter((e) => e.detail === 'too many frames')).toHaveLength(1);
  });

  it('requests beyond maxInFlight are answered `busy` at once; the others are served', async () => {
    const set = await makeCardSet();
    const sim = new SimulatedTransport(['R0']);
    // A slow card: every command takes 200 ms.
    const answer = set.cps.process.bind(set.cps);
    set.cps.process = async (apdu) => {
      await new Promise((r) => setTimeout(r, 200));
      return answer(apdu);
    };
    sim.insert('R0', set.cps);
    const a = approver();
    const b = await start({ transport: sim, approve: a.hook, limits: { maxInFlight: 2 } });
    const { c } = await pairedClient(b.url, a);
    const calls = Array.from({ length: 5 }, () => c.call<{ rpps: string }>('cps.read', { reader: 'R0' }).then((r) => r.rpps, (e: unknown) => e));
    const results = await Promise.all(calls);
    expect(results.slice(0, 2)).toEqual([set.cpsData.rpps, set.cpsData.rpps]);
    // The page gets a typed error with its own French message; the bridge's wording is kept.
    for (const e of results.slice(2)) {
      expect(e).toBeInstanceOf(BridgeBusyError);
      expect(e).toMatchObject({ code: BUSY, message: BUSY_MESSAGE, detail: expect.stringContaining('2 requêtes en cours') });
    }
    expect(b.stats().maxInFlight).toBe(0);
    // Nothing is held: the next request is served.
    expect((await c.call<{ rpps: string }>('cps.read', { reader: 'R0' })).rpps).toBe(set.cpsData.rpps);
    c.close();
  });

  it('a message over 64 KiB is refused by the WebSocket layer (1009), before and after the handshake', async () => {
    const a = approver();
    const b = await start({ approve: a.hook });
    const ws = new WebSocket(b.url, { origin: APP_ORIGIN });
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(Buffer.alloc(64 * 1024 + 1, 0x41));
    expect(await closed).toBe(1009);
    const { c } = await pairedClient(b.url, a);
    const gone = new Promise<number>((r) => c.onClose((code) => r(code)));
    c.sendRaw(Buffer.alloc(64 * 1024 + 1, 0x42));
    expect(await gone).toBe(1009);
  });
});
