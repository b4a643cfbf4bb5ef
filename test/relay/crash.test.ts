/**
 * The relay killed with SIGKILL during intake and during delivery, then restarted (SQLite):
 * nothing lost; nothing delivered twice except messages flagged `duplicateRisk` (the window
 * where Postfix accepted but the answer was lost), detected by Message-ID.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SqliteStore } from '../../src/lib/server/relay/index.js';
import { INSURER_ADDR, PRACTITIONER_ADDR, startMailServers, type MailServers } from './fixtures/mail.js';
import { composeTestMessage, configJson, login, makeIgcSante, relayConfig, spawnRelay, type IgcSante, type RelayProcess } from './fixtures/relay.js';

let mail: MailServers;
let pki: IgcSante;
let dir: string;
const running: RelayProcess[] = [];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teletrans-relay-crash-'));
  [mail, pki] = await Promise.all([startMailServers(), makeIgcSante()]);
});
afterAll(async () => {
  for (const r of running) await r.kill();
  mail?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function caller(port: number) {
  return async (q: Request): Promise<Response> => fetch(q.url.replace('http://relay.test', `http://127.0.0.1:${port}`), {
    method: q.method, headers: q.headers, body: q.method === 'GET' ? undefined : await q.arrayBuffer() });
}

async function start(env: Record<string, string>): Promise<RelayProcess> {
  const r = await spawnRelay(env);
  running.push(r);
  return r;
}

it('loses nothing and duplicates nothing unflagged across SIGKILLs during intake and delivery', async () => {
  const cfgPath = join(dir, 'config.json');
  writeFileSync(cfgPath, configJson(relayConfig(pki, { host: '127.0.0.1', port: mail.smtpPort, security: 'starttls',
    tls: { ca: mail.pki.caPem, servername: 'localhost' }, connectionTimeoutMs: 3000, socketTimeoutMs: 5000 },
  { delivery: { concurrency: 4, backoffBaseMs: 100, backoffMaxMs: 500, pollMs: 50, leaseMs: 1500, maxAttempts: 100 } })));
  const db = join(dir, 'relay.sqlite');
  const env = { RELAY_CONFIG: cfgPath, RELAY_SQLITE: db };

  // 1. Intake, killed while uploads are in flight.
  let relay = await start({ ...env, RELAY_DELIVER: '0' });
  const lr = await login(caller(relay.port), pki.leaf, pki.leafKey);
  const { token } = (await lr.json()) as { token: string };
  const N = 300;
  const msgs = Array.from({ length: N }, (_, i) => ({ key: `crash-key-${i}`, ...composeTestMessage({ from: PRACTITIONER_ADDR, to: INSURER_ADDR, size: 8192 }) }));
  const accepted = new Map<string, string>();
  const send = async (port: number, m: (typeof msgs)[number]): Promise<Response> => fetch(`http://127.0.0.1:${port}/api/relay/messages`, {
    method: 'POST', body: Buffer.from(m.bytes), headers: { authorization: `Bearer ${token}`, 'idempotency-key': m.key, 'content-type': 'message/rfc822' } });
  let answered = 0;
  const killer = (async () => { while (answered < 60) await new Promise((r) => setTimeout(r, 2)); await relay.kill(); })();
  await Promise.all(msgs.map(async (m, i) => {
    await new Promise((r) => setTimeout(r, i));
    try {
      const r = await send(relay.port, m);
      if (r.status === 202) accepted.set(m.key, ((await r.json()) as { id: string }).id);
      answered++;
    } catch { /* connection killed: the client will retry */ }
  }));
  await killer;
  expect(accepted.size).toBeGreaterThan(0);
  expect(accepted.size).toBeLessThan(N);

  // 2. Restart; the client retries everything: acknowledged uploads keep their id, the rest go in once.
  relay = await start({ ...env, RELAY_DELIVER: '0' });
  for (const m of msgs) {
    const r = await send(relay.port, m);
    expect(r.status).toBe(202);
    const { id } = (await r.json()) as { id: string };
    if (accepted.has(m.key)) expect(id).toBe(accepted.get(m.key));
  }
  await relay.kill();
  {
    const s = new SqliteStore(db);
    expect(Object.values(await s.countByStatus()).reduce((a, b) => a + b, 0)).toBe(N);
    await s.close();
  }

  // 3. Delivery, killed twice mid-flight, then run to completion.
  for (let k = 0; k < 2; k++) {
    relay = await start({ ...env, RELAY_DELIVER: '1' });
    const before = mail.messages(INSURER_ADDR).length;
    const t0 = Date.now();
    while (mail.messages(INSURER_ADDR).length < before + 40 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 5));
    await relay.kill();
  }
  relay = await start({ ...env, RELAY_DELIVER: '1' });
  const s = new SqliteStore(db);
  const t1 = Date.now();
  for (;;) {
    const c = await s.countByStatus();
    if ((c.delivered ?? 0) === N) break;
    if (Date.now() - t1 > 60_000) throw new Error(`not all delivered: ${JSON.stringify(c)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await relay.kill();
  await mail.drain();

  // Every Message-ID reached the mailbox; any copy beyond the first belongs to a flagged message.
  const seen = new Map<string, number>();
  for (const b of mail.messages(INSURER_ADDR)) {
    const id = /^Message-ID:\s*(<[^>]+>)/im.exec(b.toString('latin1'))?.[1];
    if (id) seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  const flagged = new Set<string>();
  for (const m of msgs) {
    const rec = await s.getMessageByKey('ps1', m.key);
    expect(rec?.status).toBe('delivered');
    if (rec?.duplicateRisk) flagged.add(m.messageId);
    expect(seen.get(m.messageId) ?? 0).toBeGreaterThanOrEqual(1);
  }
  const dups = msgs.filter((m) => (seen.get(m.messageId) ?? 0) > 1);
  for (const d of dups) expect(flagged.has(d.messageId)).toBe(true);
  process.stderr.write(`crash test: ${accepted.size}/${N} acknowledged before the intake kill; ${dups.length} duplicate deliveries, all flagged (${flagged.size} flagged)\n`);
  await s.close();
}, 180_000);
