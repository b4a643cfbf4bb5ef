/**
 * Relay benchmark (`npm run bench -- relay`): intake of 100 KiB messages over HTTP into SQLite
 * (WAL, group commit fdatasynced before any answer; bodies appended to segment files, fdatasynced by group before their rows), SMTP delivery vs Postfix's own
 * smtp-source against the same private Postfix in the same run, and duplicates with two relay
 * processes sharing a private PostgreSQL cluster. `BENCH_RELAY_PARTS=intake,delivery,duplicates`
 * picks parts. The relay delivers over STARTTLS (as in production); smtp-source has no TLS, so
 * the ratio is the stricter one.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeliveryWorker, PostgresStore, SqliteStore, checkOutboundProfile, type RelayConfig, type RelayStore } from '../src/lib/server/relay/index.js';
import { INSURER_ADDR, PRACTITIONER_ADDR, startMailServers, type MailServers } from '../test/relay/fixtures/mail.js';
import { startPostgres } from '../test/relay/fixtures/postgres.js';
import { composeTestMessage, configJson, login, makeIgcSante, relayConfig, spawnRelay, type IgcSante } from '../test/relay/fixtures/relay.js';

const KIB100 = 100 * 1024;
const log = (s: string): void => { process.stderr.write(`bench relay: ${s}\n`); };
const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0; };
const r2 = (x: number): number => Math.round(x * 100) / 100;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
/** CPU of the children this process has waited for (smtp-source), in ms. */
function childCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime: fields 16 and 17 of proc(5) (f[0] is field 3), in ticks of 1/100 s.
  return (Number(f[13]) + Number(f[14])) * 10;
}
/** CPU a process has used so far, user and system, in ms (proc(5) utime and stime, 1/100 s ticks). */
function pidCpuMs(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) * 10, system: Number(f[12]) * 10 };
}
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

function smtpConfig(mail: MailServers): RelayConfig['smtp'] {
  return { host: '127.0.0.1', port: mail.smtpPort, security: 'starttls', tls: { ca: mail.pki.caPem, servername: 'localhost' } };
}

/**
 * What the relay's profile check (checkOutboundProfile, profile.ts) costs per message, timed
 * alone in this process on the intake's messages once warm: the median of 5 rounds of 1000.
 */
function profileCheckMs(pool: readonly Uint8Array[]): number {
  for (let i = 0; i < 200; i++) checkOutboundProfile(pool[i % pool.length]!);
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) checkOutboundProfile(pool[i % pool.length]!);
    rounds.push((performance.now() - t0) / 1000);
  }
  return median(rounds);
}

async function benchIntake(pki: IgcSante, mail: MailServers, dir: string): Promise<object> {
  const cfg = join(dir, 'intake.json');
  writeFileSync(cfg, configJson(relayConfig(pki, smtpConfig(mail))));
  const relay = await spawnRelay({ RELAY_CONFIG: cfg, RELAY_SQLITE: join(dir, 'intake.sqlite'), RELAY_DELIVER: '0' });
  try {
    const base = `http://127.0.0.1:${relay.port}`;
    const lr = await login(async (q) => fetch(q.url.replace('http://relay.test', base), { method: q.method, headers: q.headers, body: await q.arrayBuffer() }), pki.leaf, pki.leafKey);
    const { token } = (await lr.json()) as { token: string };
    // Base64 inflates by 4/3: attachments of 75 KiB make messages of ~100 KiB.
    const pool = Array.from({ length: 50 }, () => composeTestMessage({ from: PRACTITIONER_ADDR, to: INSURER_ADDR, size: Math.floor(KIB100 * 0.74) }).bytes);
    const N = 3000;
    const C = 16;
    const lat: number[] = [];
    let next = 0;
    const relayCpu0 = pidCpuMs(relay.pid);
    const clientCpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: C }, async () => {
      while (next < N) {
        const i = next++;
        const body = pool[i % pool.length]!;
        const s = performance.now();
        const r = await fetch(`${base}/api/relay/messages`, { method: 'POST', body: Buffer.from(body),
          headers: { authorization: `Bearer ${token}`, 'idempotency-key': `bench-intake-${i}`, 'content-type': 'message/rfc822' } });
        await r.arrayBuffer();
        if (r.status !== 202) throw new Error(`intake ${r.status}`);
        lat.push(performance.now() - s);
      }
    }));
    const secs = (performance.now() - t0) / 1000;
    const relayCpu1 = pidCpuMs(relay.pid);
    const clientCpu = process.cpuUsage(clientCpu0);
    return { bench: 'relay-intake', messages: N, concurrency: C, message_bytes: pool[0]!.byteLength, store: 'sqlite WAL, each commit fdatasynced before the answer; bodies appended to segments, fdatasynced by group before the row',
      intake_msgs_per_s: r2(N / secs), intake_p50_ms: r2(pct(lat, 50)), intake_p99_ms: r2(pct(lat, 99)),
      profile_check_ms_per_msg: r3(profileCheckMs(pool)),
      // Both processes share the 2 cores: what each costs per message says where the time goes.
      relay_cpu_ms_per_msg: r3((relayCpu1.user + relayCpu1.system - relayCpu0.user - relayCpu0.system) / N),
      relay_system_cpu_ms_per_msg: r3((relayCpu1.system - relayCpu0.system) / N), client_cpu_ms_per_msg: r3((clientCpu.user + clientCpu.system) / 1000 / N) };
  } finally {
    await relay.kill('SIGTERM');
  }
}

async function fill(store: RelayStore, n: number, size: number, tag: string): Promise<void> {
  const batch = 200;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => {
      const m = composeTestMessage({ from: PRACTITIONER_ADDR, to: INSURER_ADDR, size });
      return store.insertMessage({ id: `${tag}-${i + j}`, practitioner: 'ps1', idempotencyKey: `${tag}-${i + j}`, sha256: '-',
        envelopeFrom: PRACTITIONER_ADDR, envelopeTo: [INSURER_ADDR], raw: m.bytes, messageId: m.messageId, subject: null, now: Date.now() });
    }));
  }
}

/**
 * Delivery against smtp-source, alternated over rounds (source then relay, relay then source, …)
 * on the same Postfix, each part starting with an empty Postfix queue: Postfix's own pace drifts
 * by a third from one minute to the next here, and one run of each compared whatever the moment
 * gave. Rates are totals over all rounds.
 */
async function benchDelivery(pki: IgcSante, mail: MailServers, dir: string): Promise<object> {
  const rounds = Number(process.env.BENCH_RELAY_ROUNDS ?? 6);
  const N = 1000;
  const sessions = 4;
  const size = Math.floor(KIB100 * 0.74);
  const store = new SqliteStore(join(dir, 'delivery.sqlite'));
  const config = relayConfig(pki, smtpConfig(mail), { delivery: { concurrency: sessions, pollMs: 20 } });
  let sourceSecs = 0;
  let relaySecs = 0;
  // CPU per message of each client (both share the 2 cores with Postfix: the ratio follows them).
  let sourceCpu = 0;
  let relayCpu = 0;
  const perRound: Array<{ smtp_source: number; relay: number }> = [];
  try {
    for (let r = 0; r < rounds; r++) {
      // The relay's queue is filled first and the disk flushed (`sync`), so that neither timed
      // part runs in the other's write-back; the order alternates between rounds.
      await fill(store, N, size, `d${r}`);
      execFileSync('sync');
      let s = 0;
      let d = 0;
      const source = async (): Promise<void> => {
        // smtp-source: same Postfix, same sessions, same message size (plain SMTP: it has no TLS).
        const c0 = childCpuMs();
        const t0 = performance.now();
        execFileSync('smtp-source', ['-s', String(sessions), '-m', String(N), '-l', String(KIB100), '-f', PRACTITIONER_ADDR, '-t', INSURER_ADDR, `127.0.0.1:${mail.smtpPort}`]);
        s = (performance.now() - t0) / 1000;
        sourceCpu += childCpuMs() - c0;
        await mail.drain(120_000);
      };
      const relay = async (): Promise<void> => {
        const worker = new DeliveryWorker(store, config);
        const c1 = process.cpuUsage();
        const t1 = performance.now();
        await worker.drain();
        d = (performance.now() - t1) / 1000;
        const c = process.cpuUsage(c1);
        relayCpu += (c.user + c.system) / 1000;
        await worker.stop();
        await mail.drain(120_000);
      };
      for (const part of r % 2 === 0 ? [source, relay] : [relay, source]) await part();
      sourceSecs += s;
      relaySecs += d;
      perRound.push({ smtp_source: r2(N / s), relay: r2(N / d) });
    }
    const counts = await store.countByStatus();
    if ((counts.delivered ?? 0) !== N * rounds) throw new Error(`delivery: ${JSON.stringify(counts)}`);
  } finally {
    await store.close();
  }
  const relayRate = (N * rounds) / relaySecs;
  const sourceRate = (N * rounds) / sourceSecs;
  return { bench: 'relay-delivery', messages: N * rounds, rounds, sessions, message_bytes: 'about 100 KiB', relay_tls: 'STARTTLS', smtp_source_tls: 'none',
    delivery_msgs_per_s: r2(relayRate), smtp_source_msgs_per_s: r2(sourceRate), delivery_ratio_vs_smtp_source: r2(relayRate / sourceRate),
    // The rounds' own ratios vary by a third on this machine: their median says how typical the total is.
    delivery_ratio_median_of_rounds: r2(median(perRound.map((p) => p.relay / p.smtp_source))),
    relay_cpu_ms_per_msg: r3(relayCpu / (N * rounds)), smtp_source_cpu_ms_per_msg: r3(sourceCpu / (N * rounds)), per_round: perRound };
}

async function benchDuplicates(pki: IgcSante, mail: MailServers, dir: string): Promise<object> {
  const N = Number(process.env.BENCH_RELAY_DUP_N ?? 10_000);
  const pg = await startPostgres();
  try {
    const conn = { host: pg.host, port: pg.port, user: pg.user, database: pg.database };
    const store = await PostgresStore.open(conn);
    await fill(store, N, 1024, 'dup');
    const cfg = join(dir, 'dup.json');
    writeFileSync(cfg, configJson(relayConfig(pki, smtpConfig(mail), { delivery: { concurrency: 4, pollMs: 20, leaseMs: 120_000 } })));
    const logBefore = readFileSync(join(mail.root, 'postfix', 'maillog'), 'utf8').length;
    const t0 = performance.now();
    const env = { RELAY_CONFIG: cfg, RELAY_PG: JSON.stringify(conn), RELAY_DELIVER: '1' };
    const relays = await Promise.all([spawnRelay(env), spawnRelay(env)]);
    for (;;) {
      const c = await store.countByStatus();
      if ((c.delivered ?? 0) + (c.failed ?? 0) >= N) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const secs = (performance.now() - t0) / 1000;
    await Promise.all(relays.map((r) => r.kill('SIGTERM')));
    await mail.drain(120_000);
    const counts = await store.countByStatus();
    // Each message accepted by Postfix logs its Message-ID once: count them.
    const seen = new Map<string, number>();
    for (const m of readFileSync(join(mail.root, 'postfix', 'maillog'), 'utf8').slice(logBefore).matchAll(/cleanup\[\d+\]: \w+: message-id=(<[^>]+>)/g)) {
      seen.set(m[1]!, (seen.get(m[1]!) ?? 0) + 1);
    }
    const duplicates = [...seen.values()].filter((v) => v > 1).reduce((a, v) => a + v - 1, 0);
    const byOwner = await (store as unknown as { pool: { query(q: string): Promise<{ rows: Array<{ n: number }> }> } }).pool
      .query("SELECT COUNT(*)::int n FROM relay_messages WHERE attempts > 1");
    await store.close();
    return { bench: 'relay-duplicates', store: 'postgresql 15, 2 relay processes', messages: N, delivered: counts.delivered ?? 0,
      distinct_message_ids_at_postfix: seen.size, reclaimed: byOwner.rows[0]?.n ?? 0, duplicates, msgs_per_s: r2(N / secs) };
  } finally {
    pg.stop();
  }
}

export async function benchRelay(emit?: (row: object) => void): Promise<object[]> {
  const dir = mkdtempSync(join(tmpdir(), 'teletrans-bench-relay-'));
  const [mail, pki] = await Promise.all([startMailServers({ discard: true }), makeIgcSante()]);
  const rows: object[] = [];
  const out = (r: object): void => { rows.push(r); emit?.(r); };
  // BENCH_RELAY_PARTS=intake,delivery,duplicates (default all) runs only those parts.
  const parts = (process.env.BENCH_RELAY_PARTS ?? 'intake,delivery,duplicates').split(',');
  try {
    if (parts.includes('intake')) { log('intake…'); out(await benchIntake(pki, mail, dir)); }
    if (parts.includes('delivery')) { log('delivery vs smtp-source…'); out(await benchDelivery(pki, mail, dir)); }
    if (parts.includes('duplicates')) { log('duplicates (PostgreSQL, two instances)…'); out(await benchDuplicates(pki, mail, dir)); }
  } finally {
    mail.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
