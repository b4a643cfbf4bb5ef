/**
 * crl: the trust store's CRL life cycle in Chromium, on a 100 000-entry CRL (≈ 4.2 MB,
 * test/pki/fixtures/big-crl.ts).
 *
 *   npx tsx bench/crl.ts              # alone: one JSON line per row
 *   npm run bench -- crl              # through bench/index.ts
 *
 * crl-import: TrustService.importCrl end to end in a page — parse, checks, signature
 *   verification with the CA from the store, SHA-256, index build, audit record, IndexedDB
 *   commit (durability "strict", on a real profile directory) — against the wall time of
 *   `openssl crl -inform DER -in F -noout` (process spawn included), median of ≥ 5 runs each,
 *   interleaved so that machine load affects both alike. Target: ratio ≤ 2.
 * crl-lookup: after the import, a new tab on the same origin (a reload) opens the service
 *   (one IndexedDB read of the index), then times isRevoked() on random present and absent
 *   serials. Chromium coarsens performance.now() to 100 µs outside cross-origin isolation,
 *   and a lookup takes well under that: the page is served cross-origin isolated (5 µs
 *   resolution) and lookups are timed in batches of 100; the row gives the median over
 *   batches of the time per lookup. Target: ≤ 50 µs.
 *
 * BENCH_CRL_RUNS (default 7, at least 5) sets the number of measured imports.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCrl } from '../src/lib/pki/crl.js';
import { bigCrl } from '../test/pki/fixtures/big-crl.js';
import { openSameOriginSession } from '../test/store/same-origin.js';

const ENTRIES = 100_000;
const RUNS = Math.max(5, Number(process.env.BENCH_CRL_RUNS ?? 7));
const WARMUP = 1;
const LOOKUPS = 20_000;
const BATCH = 100;

type TrustPageModule = typeof import('../test/store/entry.js');
declare const TrustPage: TrustPageModule;

export interface CrlImportRow {
  bench: 'crl-import';
  runtime: 'chromium';
  entries: number;
  ms: number;
  openssl_ms: number;
  ratio: number;
}

export interface CrlLookupRow {
  bench: 'crl-lookup';
  runtime: 'chromium';
  entries: number;
  lookup_us_median: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

function opensslRun(path: string): number {
  const t0 = performance.now();
  const r = spawnSync('openssl', ['crl', '-inform', 'DER', '-in', path, '-noout'], { stdio: 'ignore' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`openssl crl failed (status ${r.status})`);
  return ms;
}

function pemToDer(pem: string): Uint8Array {
  return new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
}

function log(s: string): void {
  process.stderr.write(`crl: ${s}\n`);
}

export async function benchCrl(emit?: (row: object) => void): Promise<object[]> {
  log('fixture (100 000 entries)…');
  const { der, path, issuerCertPath } = await bigCrl(ENTRIES);
  const caDer = pemToDer(readFileSync(issuerCertPath, 'utf8'));
  // Serials to look up: half listed, half random (almost surely absent), shuffled.
  const crl = parseCrl(der);
  const listed = [...crl.entries.keys()];
  const probes: string[] = [];
  for (let i = 0; i < LOOKUPS / 2; i++) {
    probes.push(listed[Math.floor(Math.random() * listed.length)]!);
    probes.push(Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex'));
  }
  for (let i = probes.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [probes[i], probes[j]] = [probes[j]!, probes[i]!];
  }
  // removeFromCRL (8) in a complete CRL is not a revocation (delta CRLs only; pki agrees).
  const revokedIn = (p: string): boolean => {
    const e = crl.entries.get(p);
    return e !== undefined && !Array.isArray(e) && e.reason !== 8;
  };
  const expectedRevoked = probes.filter(revokedIn).length;

  const session = await openSameOriginSession(undefined, 'test/store/entry.ts', 'TrustPage', {
    persistent: true,
    isolated: true,
    files: { '/crl.der': der, '/ca.der': caDer },
  });
  const rows: object[] = [];
  try {
    const page = await session.open();
    await page.evaluate(() => TrustPage.benchLoad('/crl.der', '/ca.der'));

    const importMs: number[] = [];
    const opensslMs: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const r = await page.evaluate(() => TrustPage.benchImportRun());
      if (r.outcome !== 'stored' || r.size !== ENTRIES) throw new Error(`import: ${r.outcome} ${r.message}`);
      const o = opensslRun(path);
      if (i >= WARMUP) {
        importMs.push(r.ms);
        opensslMs.push(o);
      }
      log(`import run ${i + 1}/${WARMUP + RUNS}: ${round(r.ms)} ms (openssl ${round(o)} ms)`);
    }
    const ms = median(importMs);
    const openssl = median(opensslMs);
    const importRow: CrlImportRow = { bench: 'crl-import', runtime: 'chromium', entries: ENTRIES, ms: round(ms), openssl_ms: round(openssl), ratio: round(ms / openssl, 3) };
    rows.push(importRow);
    emit?.(importRow);

    // Where the time goes (stderr only): the phases, measured apart.
    const phases = await page.evaluate(() => TrustPage.benchPhases());
    log(`phases: parseCrl ${round(phases.parse)} ms, SHA-256 ${round(phases.sha256)} ms, index ${round(phases.index)} ms`);
    await page.close();

    // A new tab on the same origin: the persisted index, read once, then lookups.
    const tab = await session.open();
    const look = await tab.evaluate(({ probes, batch }) => TrustPage.benchLookups(probes, batch), { probes, batch: BATCH });
    await tab.close();
    if (look.revoked !== expectedRevoked) throw new Error(`lookup: ${look.revoked} revoked instead of ${expectedRevoked}`);
    log(`lookup: index loaded in ${round(look.loadMs)} ms after the reload; cross-origin isolated: ${look.isolated}`);
    const lookupRow: CrlLookupRow = { bench: 'crl-lookup', runtime: 'chromium', entries: ENTRIES, lookup_us_median: round(median(look.perLookup), 2) };
    rows.push(lookupRow);
    emit?.(lookupRow);
  } finally {
    await session.close();
  }
  return rows;
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  benchCrl((r) => process.stdout.write(JSON.stringify(r) + '\n')).catch((e: unknown) => {
    process.stderr.write(`crl: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
