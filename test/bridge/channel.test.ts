/**
 * The bridge's channel: Host/Origin filtering, pairing approval, mutual authentication,
 * encrypted frames (replay, reorder, alteration), fuzzing, revocation, state file modes, and
 * logs free of sensitive data. Uses the in-process simulated readers; the same paths on the
 * real PC/SC stack are in pcsc.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { makeCardSet, type CardSet } from '../../bridge/cards/profiles.js';
import { CLOSE_REVOKED, startBridge, type Bridge } from '../../bridge/server.js';
import { SimulatedTransport } from '../../bridge/transport.js';
import { BridgeClient, BridgeError, MemoryKeyStore, type SocketLike } from '../../src/lib/client/card/client.js';
import { APP_ORIGIN, approver, client, pairedClient, rawUpgrade, sleep, stateDir, waitFor } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/teletrans.js', import.meta.url));
let set: CardSet;
let bridge: Bridge;
let dir: string;
const a = approver();
const sim = new SimulatedTransport(['R0', 'R1']);

beforeAll(async () => {
  set = await makeCardSet();
  sim.insert('R0', set.cps);
  sim.insert('R1', set.vitale);
  dir = await stateDir();
  bridge = await startBridge({ port: 0, transport: sim, stateDir: dir, approve: a.hook, dev: true });
}, 60_000);
afterAll(async () => {
  await bridge?.close();
});

const closeOf = (c: ReturnType<typeof client>): Promise<{ code: number; reason: string }> =>
  new Promise((r) => c.onClose((code, reason) => r({ code, reason })));

describe('who may connect (C1, C4)', () => {
  it('binds 127.0.0.1 only', () => {
    expect(bridge.url).toBe(`ws://127.0.0.1:${bridge.port}/`);
  });

  it('refuses foreign origins, missing origins and rebinding Hosts before any work', async () => {
    const host = `127.0.0.1:${bridge.port}`;
    expect(await rawUpgrade(bridge.url, { Host: host }, 'https://evil.example')).toBe(403);
    expect(await rawUpgrade(bridge.url, { Host: host }, 'null')).toBe(403);
    expect(await rawUpgrade(bridge.url, { Host: host })).toBe(403);
    expect(await rawUpgrade(bridge.url, { Host: `rebind.evil.example:${bridge.port}` }, APP_ORIGIN)).toBe(403);
    expect(await rawUpgrade(bridge.url, { Host: `127.0.0.1.nip.io:${bridge.port}` }, APP_ORIGIN)).toBe(403);
    expect(await rawUpgrade(bridge.url, { Host: host }, APP_ORIGIN)).toBe(101);
    const log = bridge.audit.read();
    expect(log.filter((e) => e.event === 'connection' && e.outcome === 'refused').length).toBeGreaterThanOrEqual(5);
  });

  it('an unpaired origin can only ask to pair: a session attempt with a made-up key is refused', async () => {
    const c = client(bridge.url, 'http://127.0.0.1:5173');
    await expect(c.connect()).rejects.toThrow(BridgeError);
    const ws = new WebSocket(bridge.url, { origin: 'http://127.0.0.1:5173' });
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(JSON.stringify({ t: 'hello', keyId: 'AAAAAAAAAAAAAAAA', pub: 'x', nonce: 'y' }));
    expect(await closed).toBe(4401);
  });

  it('pairing needs the approval on the machine; refused pairings leave no key', async () => {
    a.refuse = true;
    const c = client(bridge.url, 'http://localhost:4173');
    let code = '';
    await expect(c.pair((x) => (code = x))).rejects.toThrow(/refus/);
    expect(code).toMatch(/^\d{3} \d{3}$/);
    expect(bridge.pairings.list().some((p) => p.origin === 'http://localhost:4173')).toBe(false);
    a.refuse = false;
  });

  it('the page and the bridge show the same code; a pairing key is per origin', async () => {
    const { c, keys } = await pairedClient(bridge.url, a);
    const req = a.requests.at(-1)!;
    expect(req.origin).toBe(APP_ORIGIN);
    expect(req.code).toMatch(/^\d{3} \d{3}$/);
    expect((await c.call<unknown[]>('readers')).length).toBe(2);
    c.close();
    // Same key, other (allowed) origin: refused.
    const other = client(bridge.url, 'http://127.0.0.1:4173', keys);
    await expect(other.connect()).rejects.toThrow(BridgeError);
  });
});

describe('session frames (C2)', () => {
  it('reads both cards, verifies the PIN, signs', async () => {
    const { c } = await pairedClient(bridge.url, a);
    const cps = await c.call<{ situations: unknown[]; lastName: string }>('cps.read', { reader: 'R0' });
    expect(cps.situations).toHaveLength(3);
    const vit = await c.call<{ beneficiaries: unknown[] }>('vitale.read', { reader: 'R1' });
    expect(vit.beneficiaries).toHaveLength(3);
    const pin = new TextEncoder().encode('1234');
    expect(await c.call('cps.verifyPin', { reader: 'R0' }, pin)).toEqual({ ok: true, triesLeft: 3 });
    expect([...pin].every((x) => x === 0)).toBe(true); // the page's PIN buffer is wiped once sent
    const sig = await c.call<{ signature: string }>('cps.sign', { reader: 'R0', digest: Buffer.alloc(32, 1).toString('base64url') });
    expect(sig.signature.length).toBeGreaterThan(300);
    await expect(c.call('apdu', { reader: 'R0', apdu: Buffer.from('002A9E9A2001', 'hex').toString('base64url') })).rejects.toThrow(/non autorisée/);
    c.close();
  });

  it('refuses a replayed frame and closes the session', async () => {
    const { c } = await pairedClient(bridge.url, a);
    const frames: Uint8Array[] = [];
    c.onFrameSent = (f) => frames.push(f);
    await c.call('readers');
    const closed = closeOf(c);
    c.sendRaw(frames[0]!);
    expect(await closed).toEqual({ code: 4400, reason: 'replayed frame' });
  });

  it('refuses altered and reordered frames', async () => {
    const { c } = await pairedClient(bridge.url, a);
    const frames: Uint8Array[] = [];
    c.onFrameSent = (f) => frames.push(f);
    await c.call('readers');
    const altered = frames[0]!.slice();
    altered[altered.length - 1]! ^= 1;
    // Counter 1 is next: an altered copy of frame 0 re-labelled 1 must fail on its tag.
    altered[8] = 1;
    let closed = closeOf(c);
    c.sendRaw(altered);
    expect((await closed).reason).toBe('altered frame');

    const { c: c2 } = await pairedClient(bridge.url, a);
    const ahead = frames[0]!.slice();
    ahead[8] = 5;
    closed = closeOf(c2);
    c2.sendRaw(ahead);
    expect((await closed).reason).toBe('frame out of order');
  });

  it('survives malformed and oversized frames, before and after the handshake', async () => {
    for (let i = 0; i < 60; i++) {
      const ws = new WebSocket(bridge.url, { origin: APP_ORIGIN });
      await new Promise((r, j) => {
        ws.once('open', r);
        ws.once('error', j);
      });
      const closed = new Promise((r) => ws.once('close', r));
      const kind = i % 6;
      if (kind === 0) ws.send(randomBytes(1 + (i % 50)));
      else if (kind === 1) ws.send('{"t":"pair","pub":' + '9'.repeat(i) + '}');
      else if (kind === 2) ws.send(JSON.stringify({ t: 'hello', keyId: { $ne: 1 }, pub: [], nonce: null }));
      else if (kind === 3) ws.send(Buffer.alloc(70_000, 0x41)); // over maxPayload: 1009
      else if (kind === 4) ws.send(JSON.stringify({ t: 'pair', pub: Buffer.alloc(65, 4).toString('base64url'), nonce: Buffer.alloc(32).toString('base64url') }));
      else ws.send('not json at all \u0000');
      await closed;
    }
    // In session: garbage binary, text, short frames.
    for (const junk of [randomBytes(3), randomBytes(200), 'text', Buffer.alloc(9)]) {
      const { c } = await pairedClient(bridge.url, a);
      const closed = closeOf(c);
      c.sendRaw(junk);
      expect((await closed).code).toBe(4400);
    }
    // Still serving.
    const { c } = await pairedClient(bridge.url, a);
    expect((await c.call<unknown[]>('readers')).length).toBe(2);
    c.close();
  }, 60_000);

  it('reports insertion and removal; a card pulled during a command fails cleanly', async () => {
    const { c } = await pairedClient(bridge.url, a);
    const events: string[] = [];
    c.onEvent((ev, d) => events.push(`${ev}:${(d as { name: string }).name}`));
    sim.remove('R1');
    await waitFor(() => events.includes('removed:R1'));
    await expect(c.call('vitale.read', { reader: 'R1' })).rejects.toMatchObject({ code: 'card_absent' });
    sim.insert('R1', set.vitale);
    await waitFor(() => events.includes('inserted:R1'));
    const slow = (await import('../../bridge/cards/profiles.js')).makeCps(set.pki, { signDelayMs: 300 });
    const card = (await slow).card;
    sim.insert('R0', card);
    await c.call('cps.verifyPin', { reader: 'R0' }, new TextEncoder().encode('1234'));
    const p = c.call('cps.sign', { reader: 'R0', digest: Buffer.alloc(32).toString('base64url') });
    await sleep(50);
    sim.remove('R0');
    await expect(p).rejects.toMatchObject({ code: 'card_absent' });
    sim.insert('R0', set.cps);
    expect((await c.call<{ rpps: string }>('cps.read', { reader: 'R0' })).rpps).toBe(set.cpsData.rpps);
    c.close();
  });
});

describe('an answer that never comes (no hang)', () => {
  it('a call past its time limit fails `timeout` and the connection is closed, then reopens for the next call', async () => {
    const keys = new MemoryKeyStore();
    const paired = client(bridge.url, APP_ORIGIN, keys);
    await paired.pair(a.pageCode);
    paired.close();
    // Frames the page sends vanish while `mute` is set, as on a cut link: the bridge never answers.
    let mute = false;
    const c = new BridgeClient({
      url: bridge.url,
      origin: APP_ORIGIN,
      keys,
      callTimeoutMs: 300,
      createSocket: (u) => {
        const ws = new WebSocket(u, { origin: APP_ORIGIN, maxPayload: 1 << 20 });
        const send = ws.send.bind(ws);
        ws.send = ((data: unknown) => (mute ? undefined : send(data as Buffer))) as typeof ws.send;
        return ws as unknown as SocketLike;
      },
    });
    await c.connect();
    expect(Array.isArray(await c.call('readers'))).toBe(true);
    mute = true;
    const t0 = Date.now();
    await expect(c.call('readers')).rejects.toMatchObject({ code: 'timeout' });
    expect(Date.now() - t0).toBeLessThan(5_000);
    await waitFor(() => !c.connected);
    mute = false;
    await c.connect();
    expect(Array.isArray(await c.call('readers'))).toBe(true);
    c.close();
  });
});

describe('session expiry (SA4)', () => {
  it('closes a session left idle', async () => {
    const d = await stateDir();
    const a2 = approver();
    const b = await startBridge({ port: 0, transport: new SimulatedTransport(['X']), stateDir: d, approve: a2.hook, idleTimeoutMs: 300, dev: true });
    try {
      const { c } = await pairedClient(b.url, a2);
      const closed = closeOf(c);
      await c.call('readers');
      expect(await closed).toEqual({ code: 4408, reason: 'idle' });
      expect(b.audit.read().some((e) => e.event === 'session' && e.outcome === 'expired')).toBe(true);
    } finally {
      await b.close();
    }
  });
});

describe('pairings and logs (SP4, EL1, SA2)', () => {
  it('lists and revokes pairings; revocation ends that origin’s live sessions at once, nothing more is served', async () => {
    const origin = 'http://127.0.0.1:3000';
    const { c, keys } = await pairedClient(bridge.url, a, origin);
    const { c: bystander } = await pairedClient(bridge.url, a);
    const p = bridge.pairings.list().find((x) => x.origin === origin)!;
    expect(p.keyId).toBe((await keys.get())!.keyId);
    expect(JSON.stringify(bridge.pairings.list())).not.toMatch(/"key"/);
    const closed = closeOf(c);
    expect(bridge.revoke(origin)).toBe(1);
    // A request made right after the revocation is not answered.
    const late = c.call('readers');
    expect(await closed).toEqual({ code: CLOSE_REVOKED, reason: 'pairing revoked' });
    await expect(late).rejects.toMatchObject({ code: 'closed' });
    await expect(c.call('readers')).rejects.toMatchObject({ code: 'closed' });
    expect(bridge.audit.read().filter((e) => e.event === 'session' && e.outcome === 'revoked' && e.origin === origin)).toHaveLength(1);
    // Other origins' sessions go on.
    expect(await bystander.call<unknown[]>('readers')).toHaveLength(2);
    bystander.close();
    // A new connection needs a new pairing.
    await expect(client(bridge.url, origin, keys).connect()).rejects.toMatchObject({ code: '4401' });
    const again = await pairedClient(bridge.url, a, origin);
    expect(await again.c.call<unknown[]>('readers')).toHaveLength(2);
    again.c.close();
  });

  it('`teletrans bridge revoke` from another process ends the running bridge’s sessions at once', async () => {
    const origin = 'http://localhost:4173';
    const { c, keys } = await pairedClient(bridge.url, a, origin);
    const closed = closeOf(c);
    const t0 = Date.now();
    const cli = spawn(process.execPath, [BIN, 'bridge', 'revoke', origin, '--state-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    cli.stdout.on('data', (d) => (out += d));
    expect(await new Promise((r) => cli.once('exit', r))).toBe(0);
    expect(out).toContain('ferme aussitôt');
    // Closed by the bridge (file watch), well before any idle expiry.
    expect(await closed).toEqual({ code: CLOSE_REVOKED, reason: 'pairing revoked' });
    expect(Date.now() - t0).toBeLessThan(15_000);
    await expect(c.call('readers')).rejects.toMatchObject({ code: 'closed' });
    const log = bridge.audit.read();
    expect(log.some((e) => e.event === 'pairing' && e.outcome === 'revoked' && e.origin === origin && e.detail === 'admin command')).toBe(true);
    expect(log.some((e) => e.event === 'session' && e.outcome === 'revoked' && e.origin === origin)).toBe(true);
    await expect(client(bridge.url, origin, keys).connect()).rejects.toMatchObject({ code: '4401' });
  }, 60_000);

  it('state files are private; logs hold times, origins and outcomes, never a PIN', async () => {
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(bridge.pairings.path).mode & 0o777).toBe(0o600);
    expect(statSync(bridge.audit.path).mode & 0o777).toBe(0o600);
    const { c } = await pairedClient(bridge.url, a);
    await c.call('cps.verifyPin', { reader: 'R0' }, new TextEncoder().encode('8642'));
    await c.call('cps.verifyPin', { reader: 'R0' }, new TextEncoder().encode('1234'));
    c.close();
    const log = readFileSync(bridge.audit.path, 'utf8');
    expect(log).not.toMatch(/8642|1234/);
    expect(log).not.toContain(set.cpsData.lastName);
    const entries = bridge.audit.read();
    for (const e of entries) expect(Date.parse(e.time)).toBeGreaterThan(0);
    expect(entries.some((e) => e.event === 'pin' && e.outcome === 'wrong')).toBe(true);
    expect(entries.some((e) => e.event === 'pairing' && e.outcome === 'approved' && e.origin === APP_ORIGIN)).toBe(true);
    expect(entries.some((e) => e.event === 'session' && e.outcome === 'opened')).toBe(true);
    expect(readFileSync(bridge.pairings.path, 'utf8')).not.toMatch(/1234|8642/);
  });

  it('keeps log entries 12 months and prunes older ones', async () => {
    const { AuditLog } = await import('../../bridge/state.js');
    const { appendFileSync } = await import('node:fs');
    const d = await stateDir();
    const l = new AuditLog(d);
    const old = (days: number): string => new Date(Date.now() - days * 86_400_000).toISOString();
    const kept370 = { time: old(370), event: 'session', outcome: 'opened', origin: 'https://kept.example' };
    const pruned420 = { time: old(420), event: 'session', outcome: 'opened', origin: 'https://pruned.example' };
    const kept395 = { time: old(395), event: 'pin', outcome: 'verified', detail: 'typed' };
    const pruned397 = { time: old(397), event: 'pin', outcome: 'wrong', detail: 'typed' };
    for (const e of [kept370, pruned420, kept395, pruned397]) appendFileSync(l.path, JSON.stringify(e) + '\n');
    const again = new AuditLog(d);
    // Exactly the entries younger than 13 months (396 days) survive, in order, unchanged.
    expect(again.read()).toEqual([kept370, kept395]);
    expect(readFileSync(again.path, 'utf8')).toBe([kept370, kept395].map((e) => JSON.stringify(e) + '\n').join(''));
    expect(statSync(again.path).mode & 0o777).toBe(0o600);
  });
});
