/**
 * Relay wiring: `getRelay()` builds the store, API, delivery worker and pick-up schedule from
 * the JSON file named by TELETRANS_RELAY_CONFIG (certificates as base64 DER, see config.ts).
 * Store: SQLite at TELETRANS_RELAY_SQLITE (default ./data/relay.sqlite), or PostgreSQL when
 * TELETRANS_RELAY_PG is a connection string.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RelayApi } from './api.js';
import { DEFAULTS, type MssRelayConfig, type RelayConfig, type SmtpConfig } from './config.js';
import { MssService } from '../mss/service.js';
import { FileTokenVault } from '../mss/token-vault.js';
import { WhitelistKeeper } from '../mss/whitelist-keeper.js';
import { CrlSources } from './crl-sources.js';
import type { DemoRelay } from './demo.js';
import { DeliveryWorker } from './delivery.js';
import { pickup } from './pickup.js';
import { PostgresStore } from './store/postgres.js';
import { SqliteStore } from './store/sqlite.js';
import type { RelayStore } from './store/types.js';

export { RelayApi } from './api.js';
export { CrlSources, MAX_CRL_SOURCE_BYTES, type CrlSourceReport } from './crl-sources.js';
export { DeliveryWorker, backoffMs, classify, partialOutcome } from './delivery.js';
export { RateLimiter, type RateLimit } from './rate-limit.js';
export { POP3_LIMITS, Pop3Error, pickup, pickupImap, pickupMaildir, pickupPop3, type Pop3ErrorCode } from './pickup.js';
export { ProfileError, checkOutboundProfile, type AcceptedProfile, type ProfileReason } from './profile.js';
export { Auth, AuthError, challengeDigestInput } from './auth.js';
export * from './config.js';
export * from './store/index.js';

export interface Relay {
  api: RelayApi;
  store: RelayStore;
  worker: DeliveryWorker;
  /** Present only on the embedded defaults (`npm start`): the demo PKI's side for the browser. */
  demo?: Pick<DemoRelay, 'trustBundle'>;
  stop(): Promise<void>;
}

type RawMss = Omit<MssRelayConfig, 'whitelist'> & { whitelist: Omit<MssRelayConfig['whitelist'], 'anchors' | 'intermediates' | 'crls' | 'signer'> &
  { anchors: string[]; intermediates?: string[]; crls?: string[]; signer: { issuers: string[]; policies: string[]; subject: string } } };
type RawConfig = Omit<RelayConfig, 'anchors' | 'intermediates' | 'crls' | 'cardAuthentication' | 'mss'> &
  { anchors: string[]; intermediates?: string[]; crls?: string[]; cardAuthentication?: { issuers?: string[]; policies?: string[] }; mss?: RawMss };

export function configFromJson(text: string): RelayConfig {
  const c = JSON.parse(text) as RawConfig;
  const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
  const card = c.cardAuthentication;
  const { mss: raw, ...rest } = c;
  const w = raw?.whitelist;
  const mss: MssRelayConfig | undefined = raw && w ? { ...raw, whitelist: { ...w, anchors: w.anchors.map(b), intermediates: w.intermediates?.map(b), crls: w.crls?.map(b),
    signer: { ...w.signer, issuers: w.signer.issuers.map(b) } } } : undefined;
  return { ...rest, anchors: c.anchors.map(b), intermediates: c.intermediates?.map(b), crls: c.crls?.map(b),
    cardAuthentication: { issuers: (card?.issuers ?? []).map(b), policies: card?.policies ?? [] }, ...(mss ? { mss } : {}) };
}

export async function startRelay(config: RelayConfig, store: RelayStore, opts: { deliver?: boolean; pickupSchedule?: boolean } = {}): Promise<Relay> {
  const worker = new DeliveryWorker(store, config);
  const crls = config.crlSources?.length ? new CrlSources(config.crlSources) : null;
  await crls?.start(config.crlRefreshMs ?? DEFAULTS.crlRefreshMs);
  const api = new RelayApi(store, config, worker, crls ? () => crls.list() : undefined);
  if (opts.deliver !== false) worker.start();
  let timer: NodeJS.Timeout | null = null;
  if (opts.pickupSchedule !== false && config.practitioners.some((p) => p.mailbox)) {
    timer = setInterval(() => {
      for (const p of config.practitioners) {
        if (p.mailbox) pickup(store, p).catch((e: Error) => process.stderr.write(`relay pickup ${p.id}: ${e.message}\n`));
      }
    }, config.pickup?.intervalMs ?? DEFAULTS.pickupIntervalMs);
    timer.unref();
  }
  // SA2 retention: prune at start and daily; failures are reported, never fatal.
  const prune = (): void => void store.pruneAudit(Date.now() - DEFAULTS.auditRetentionMs)
    .catch((e: Error) => process.stderr.write(`relay audit prune: ${e.message}\n`));
  prune();
  const pruneTimer = setInterval(prune, 24 * 3600_000);
  pruneTimer.unref();
  const mss = config.mss ? await startMss(config.mss, store, crls ? () => crls.list() : () => []) : null;
  if (mss) api.mss = mss.service;
  return { api, store, worker, async stop() { if (timer) clearInterval(timer); clearInterval(pruneTimer); crls?.stop(); if (mss) await mss.stop(); await worker.stop(); await store.close(); } };
}

/** MSSanté: the trust space kept fresh, the service with its token vault; traces into the relay's audit (no subject, no body). */
async function startMss(c: MssRelayConfig, store: RelayStore, loadedCrls: () => Uint8Array[]): Promise<{ service: MssService; stop(): Promise<void> }> {
  const w = c.whitelist;
  const keeper = new WhitelistKeeper({
    url: w.url, file: w.file ?? join(c.tokenDir, '..', 'liste-blanche.xml'),
    trust: () => ({ anchors: w.anchors, intermediates: w.intermediates, crls: [...(w.crls ?? []), ...loadedCrls()], servSmime: w.signer }),
    report: (u) => {
      if (u.status === 'kept_last_valid' || u.status === 'unavailable') process.stderr.write(`mss whitelist: ${u.status}: ${u.error.code}\n`);
    },
  });
  await keeper.load();
  void keeper.refresh();
  keeper.start(w.refreshMs);
  const service = new MssService({
    psc: c.psc, tls: c.tls ?? {}, mailboxes: c.mailboxes, whitelist: () => keeper.current(), vault: new FileTokenVault(c.tokenDir, c.tokenKey),
    ...(c.dnsServers ? { autoconfig: { servers: c.dnsServers } } : {}),
    trace: (e) => void store.audit({ at: Date.now(), actor: e.practitioner, action: e.action, detail: e.detail }).catch(() => undefined),
  });
  return { service, async stop() { keeper.stop(); await service.close(); } };
}

/**
 * The embedded defaults' mail server when not the local test peer: TELETRANS_RELAY_DEMO_SMTP is
 * `host:port` of a server speaking STARTTLS (required), TELETRANS_RELAY_DEMO_SMTP_CA the PEM file
 * of the CA its certificate chains to, for `localhost`. A malformed value stops the start.
 */
export function demoSmtp(env: NodeJS.ProcessEnv = process.env): SmtpConfig | undefined {
  const target = env.TELETRANS_RELAY_DEMO_SMTP;
  if (!target) return undefined;
  const m = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(target);
  const caFile = env.TELETRANS_RELAY_DEMO_SMTP_CA;
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`TELETRANS_RELAY_DEMO_SMTP: expected host:port, got ${JSON.stringify(target)}`);
  if (!caFile) throw new Error('TELETRANS_RELAY_DEMO_SMTP needs TELETRANS_RELAY_DEMO_SMTP_CA (the PEM file of its CA)');
  return { host: m[1]!, port: Number(m[2]), security: 'starttls', tls: { ca: readFileSync(caFile, 'utf8'), servername: 'localhost' } };
}

let relay: Promise<Relay | null> | null = null;

/**
 * The process-wide relay: configured by TELETRANS_RELAY_CONFIG (a JSON file), or on the embedded
 * defaults when TELETRANS_RELAY_DEMO_DIR names a directory (demo.ts: demo PKI, local test peer;
 * what `npm start` sets); null when neither is set.
 */
export function getRelay(): Promise<Relay | null> {
  relay ??= (async () => {
    const path = process.env.TELETRANS_RELAY_CONFIG;
    const demoDir = process.env.TELETRANS_RELAY_DEMO_DIR;
    if (!path && !demoDir) return null;
    let demo: DemoRelay | null = null;
    let config: RelayConfig;
    if (path) config = configFromJson(readFileSync(path, 'utf8'));
    else {
      const origins = (process.env.TELETRANS_RELAY_ORIGINS ?? `http://${process.env.HOST ?? '127.0.0.1'}:${process.env.PORT ?? '3000'}`).split(',');
      const { startDemo } = await import('./demo.js'); // demo PKI and test peer: only when asked for
      // MSSanté on its own demo parts unless a configuration of its own is given.
      demo = await startDemo(demoDir!, origins, demoSmtp(), { mss: !process.env.TELETRANS_RELAY_MSS_CONFIG });
      config = demo.config;
    }
    let store: RelayStore;
    if (process.env.TELETRANS_RELAY_PG) store = await PostgresStore.open({ connectionString: process.env.TELETRANS_RELAY_PG });
    else {
      const file = process.env.TELETRANS_RELAY_SQLITE ?? (demoDir ? join(demoDir, 'relay.sqlite') : './data/relay.sqlite');
      mkdirSync(dirname(file), { recursive: true });
      store = new SqliteStore(file);
    }
    // MSSanté from a file of its own (TELETRANS_RELAY_MSS_CONFIG), beside either configuration.
    const mssFile = process.env.TELETRANS_RELAY_MSS_CONFIG;
    if (mssFile) config = { ...config, mss: configFromJson(JSON.stringify({ anchors: [], mss: JSON.parse(readFileSync(mssFile, 'utf8')) as unknown })).mss };
    const started = await startRelay(config, store);
    const r: Relay = demo ? { ...started, demo, async stop() { await started.stop(); await demo.stop(); } } : started;
    // adapter-node's graceful shutdown (SIGTERM/SIGINT): finish in-flight work, close SMTP and the store.
    (process as NodeJS.EventEmitter).once('sveltekit:shutdown', () => void r.stop().catch((e: Error) => process.stderr.write(`relay stop: ${e.message}\n`)));
    return r;
  })();
  return relay;
}
