/**
 * Browser entry of the trust store tests and of bench/crl.ts (bundled by the harness and
 * injected as `window.TrustPage`): the IndexedDB store, the service, and small helpers that
 * page.evaluate() calls with plain data (base64 strings, numbers).
 */
import { IdbTrustStore, type IdbTrustStoreOptions } from '../../src/lib/client/store/idb-trust-store.js';
import { MIGRATIONS, TRUST_DB_VERSION, deleteTrustDb, openTrustDb } from '../../src/lib/client/store/trust-db.js';
import { parseCertificate } from '../../src/lib/pki/cert.js';
import { parseCrl } from '../../src/lib/pki/crl.js';
import { nameToString } from '../../src/lib/pki/name.js';
import { decodeParsed } from '../../src/lib/pki/input.js';
import { sealRecords, verifyChain } from '../../src/lib/trust/audit.js';
import type { Fetcher } from '../../src/lib/trust/fetcher.js';
import { TrustService } from '../../src/lib/trust/service.js';
import { buildRevocationIndex } from '../../src/lib/trust/revocation-index.js';
import { sha256HexSync } from '../../src/lib/trust/sha256.js';
import { auditResetInput } from '../../src/lib/card/protocol.js';

export { IdbTrustStore, MIGRATIONS, TRUST_DB_VERSION, TrustService, deleteTrustDb, openTrustDb, parseCertificate, parseCrl, sealRecords, verifyChain, sha256HexSync };
export * as attacks from './attacks.js';

/** Runs `fn` and tells how it ended: plain data for the test (typed errors keep their code). */
export async function outcome<T>(fn: () => Promise<T> | T): Promise<{ ok: true; value: T } | { ok: false; name: string; code?: string; problem?: string; message: string }> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    const err = e as Error & { code?: string; problem?: string };
    return { ok: false, name: err.name, message: err.message, ...(err.code !== undefined ? { code: err.code } : {}), ...(err.problem !== undefined ? { problem: err.problem } : {}) };
  }
}

export function bytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A clock the tests move: every service opened here reads it. */
export const clock = { now: Date.now() };

/** Fetcher answers by URL (base64 items), for refresh() in the page. */
export const directory = new Map<string, string[]>();
const fetcher: Fetcher = async (url) => {
  const items = directory.get(url);
  if (!items) throw new Error('404');
  return items.map(bytes);
};

let current: TrustService | undefined;

/** Opens the service over IndexedDB in this tab (kept as `current`). */
export async function open(opts: IdbTrustStoreOptions = {}): Promise<TrustService> {
  const store = await IdbTrustStore.open(opts);
  current = await TrustService.open({ store, fetcher, clock: () => clock.now, random: () => 0.5, actor: 'user:7c9e6679-7425-40de-944b-e07fc1f90ae7' });
  return current;
}

export function trust(): TrustService {
  if (!current) throw new Error('open() first');
  return current;
}

/**
 * A commit hook that keeps the transaction open (a chain of reads never lets it complete)
 * and tells the test, which then closes the tab: the transaction dies uncommitted.
 */
export function holdOpenAndSignal(signal: () => void): IdbTrustStoreOptions['beforeComplete'] {
  return (tx) => {
    const store = tx.objectStore(tx.objectStoreNames[0]!);
    const spin = (): void => {
      store.count().onsuccess = spin;
    };
    spin();
    signal();
  };
}

/** What the tests compare across tabs: plain data. */
export async function summary(): Promise<{
  cas: string[];
  crls: Array<{ issuer: string; crlNumber?: string; size: number; freshness: string }>;
  recipients: Array<{ recipient: string; serial: string; state: string; usable: boolean; crl: string }>;
  audit: { ok: boolean; count?: number; problem?: string; mac?: string; index?: number };
  auditEvents: string[];
}> {
  const t = trust();
  const integrity = await t.verifyAudit();
  const view = await t.auditView();
  return {
    cas: t.hierarchies().flatMap((h) => [...h.roots, ...h.intermediates].map((c) => `${h.hierarchy}:${c.role}:${c.subject}`)),
    crls: t.crls().map((c) => ({ issuer: c.issuer, size: c.size, freshness: c.freshnessLabel, ...(c.crlNumber ? { crlNumber: c.crlNumber } : {}) })),
    recipients: t.recipients().map((r) => ({ recipient: r.recipient, serial: r.serial, state: r.stateLabel, usable: r.usable, crl: r.crlLabel })),
    audit: integrity.ok
      ? { ok: true, count: integrity.count, mac: integrity.mac }
      : { ok: false, problem: integrity.problem, index: integrity.index },
    auditEvents: view.records.map((r) => `${r.event}:${r.outcome}`).reverse(),
  };
}

/** Raw counts of the object stores, to see that nothing half-written remains. */
export async function storeCounts(): Promise<Record<string, number>> {
  const db = await openTrustDb();
  const out: Record<string, number> = {};
  for (const name of db.objectStoreNames) out[name] = await db.count(name);
  db.close();
  return out;
}

export { decodeParsed };

/**
 * Writes a version-1 database as an older release would have left it: two CAs, a recipient
 * keyed by `mailbox`, a CRL with its DER inline, a setting and three unsealed audit records.
 */
export async function writeV1(d: { root: string; inter: string; leaf: string; crl: string; now: number }): Promise<void> {
  const db = await openTrustDb({ version: 1 });
  const root = parseCertificate(bytes(d.root));
  const inter = parseCertificate(bytes(d.inter));
  const leaf = parseCertificate(bytes(d.leaf));
  const crlDer = bytes(d.crl);
  const crl = parseCrl(crlDer);
  const fp = (der: Uint8Array): string => sha256HexSync(der);
  const ca = (c: typeof root, role: 'root' | 'intermediate') => ({
    fingerprint: fp(c.der),
    der: c.der,
    role,
    hierarchy: 'test',
    subject: nameToString(c.subject),
    subjectKey: c.subject.key,
    issuer: nameToString(c.issuer),
    issuerKey: c.issuer.key,
    serial: c.serial,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    issuerFingerprint: fp(root.der),
    rootFingerprint: fp(root.der),
    crlUrls: [],
    addedAt: d.now,
    source: 'file',
  });
  const raw = db as unknown as { put(store: string, value: unknown): Promise<unknown> };
  await raw.put('cas', ca(root, 'root'));
  await raw.put('cas', ca(inter, 'intermediate'));
  await raw.put('recipients', {
    fingerprint: fp(leaf.der),
    mailbox: 'amo_pj.test@test.rss.fr',
    der: leaf.der,
    subject: nameToString(leaf.subject),
    serial: leaf.serial,
    issuer: nameToString(leaf.issuer),
    issuerKey: leaf.issuer.key,
    issuerFingerprint: fp(inter.der),
    rootFingerprint: fp(root.der),
    hierarchy: 'test',
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    crlUrls: [],
    addedAt: d.now,
    source: 'file',
  });
  await raw.put('crls', {
    issuerKey: crl.issuer.key,
    issuer: nameToString(crl.issuer),
    issuerFingerprint: fp(inter.der),
    hierarchy: 'test',
    der: crlDer,
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    importedAt: d.now,
  });
  await raw.put('settings', { key: 'crlSlot', value: 600 });
  const { records } = await sealRecords(
    [
      { event: 'ca.load', outcome: 'success', object: { kind: 'ca', fingerprint: fp(root.der) } },
      { event: 'ca.load', outcome: 'success', object: { kind: 'ca', fingerprint: fp(inter.der) } },
      { event: 'crl.load', outcome: 'success', object: { kind: 'crl', fingerprint: fp(crlDer) } },
    ],
    undefined,
    d.now,
  );
  for (const r of records) await raw.put('audit', r);
  db.close();
}

/** Object stores and indexes of the database at its current version (opened without upgrading). */
export function schema(): Promise<{ version: number; stores: Record<string, { keyPath: unknown; indexes: string[] }> }> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open('teletrans-trust');
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const stores: Record<string, { keyPath: unknown; indexes: string[] }> = {};
      const names = [...db.objectStoreNames];
      if (names.length) {
        const tx = db.transaction(names, 'readonly');
        for (const n of names) {
          const st = tx.objectStore(n);
          stores[n] = { keyPath: st.keyPath, indexes: [...st.indexNames] };
        }
      }
      const version = db.version;
      db.close();
      resolve({ version, stores });
    };
  });
}

/** Opens (upgrading) at a given version, then closes. */
export async function upgradeTo(version: number): Promise<number> {
  const db = await openTrustDb({ version });
  const v = db.version;
  db.close();
  return v;
}

/* ------------------------------------------------------------------------------------------ */
/* bench/crl.ts, page side (kept here: tsx would wrap functions written inline in
   page.evaluate with its __name helper, which the page does not have). */

const benchData: { crl?: Uint8Array; ca?: Uint8Array } = {};

/** Fetches the CRL and its CA from the page's origin (not timed). */
export async function benchLoad(crlPath: string, caPath: string): Promise<number> {
  const get = async (p: string): Promise<Uint8Array> => new Uint8Array(await (await fetch(p)).arrayBuffer());
  benchData.crl = await get(crlPath);
  benchData.ca = await get(caPath);
  return benchData.crl.length;
}

/** One measured import on a fresh database with the CA installed (the reset is not timed). */
export async function benchImportRun(): Promise<{ ms: number; outcome: string; message: string; size: number }> {
  if (!benchData.crl || !benchData.ca) throw new Error('benchLoad() first');
  current?.close();
  current = undefined;
  await deleteTrustDb();
  const t = await open();
  const ca = await t.importCa(benchData.ca, { hierarchy: 'bench' });
  if (ca.outcome !== 'stored') throw new Error(`CA: ${ca.message}`);
  const der = benchData.crl.slice();
  const t0 = performance.now();
  const rep = await t.importCrl(der);
  const ms = performance.now() - t0;
  return { ms, outcome: rep.outcome, message: rep.message, size: t.crls()[0]?.size ?? 0 };
}

/** Parse and digest times alone, for the record. */
export async function benchPhases(): Promise<{ parse: number; sha256: number; index: number }> {
  if (!benchData.crl) throw new Error('benchLoad() first');
  const t0 = performance.now();
  const c = parseCrl(benchData.crl.slice());
  const t1 = performance.now();
  await crypto.subtle.digest('SHA-256', benchData.crl.slice());
  const t2 = performance.now();
  buildRevocationIndex(c);
  const t3 = performance.now();
  return { parse: t1 - t0, sha256: t2 - t1, index: t3 - t2 };
}

/**
 * Opens the service on the persisted store (one read of the index), then times isRevoked()
 * in batches of `batch` lookups; returns µs per lookup for each batch.
 */
export async function benchLookups(probes: string[], batch: number): Promise<{ loadMs: number; revoked: number; perLookup: number[]; isolated: boolean }> {
  const l0 = performance.now();
  const t = await open();
  const loadMs = performance.now() - l0;
  const issuerKey = t.crls()[0]!.issuerKey;
  let revoked = 0;
  for (let i = 0; i < 2000; i++) t.isRevoked(issuerKey, probes[i % probes.length]!); // JIT warm-up
  const perLookup: number[] = [];
  for (let b = 0; b + batch <= probes.length; b += batch) {
    const s = performance.now();
    for (let i = b; i < b + batch; i++) if (t.isRevoked(issuerKey, probes[i]!).revoked) revoked++;
    perLookup.push(((performance.now() - s) * 1000) / batch);
  }
  return { loadMs, revoked, perLookup, isolated: globalThis.crossOriginIsolated === true };
}

/**
 * The administrator's reset with a card (issue 24 defect 3), as the journal page does it through
 * the bridge: `card` is a CPS authentication key (PKCS #8) and certificate (DER), base64, made
 * by the test (test/store/admin-card.ts); the signature is over `auditResetInput` for this
 * origin and the journal in use.
 */
export async function resetWithCard(card: { pkcs8: string; cert: string }, journal?: string): ReturnType<TrustService['resetAudit']> {
  const t = trust();
  const key = await crypto.subtle.importKey('pkcs8', new Uint8Array(bytes(card.pkcs8)), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
  const input = await auditResetInput(location.origin, journal ?? t.journalId());
  const signature = new Uint8Array(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', key, new Uint8Array(input)));
  return t.resetAudit({ confirm: true, authorization: { certificate: bytes(card.cert), signature, origin: location.origin } });
}
