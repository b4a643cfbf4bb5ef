/**
 * crl-parse: time of parseCrl on a 100 000-entry CRL (≈ 4.2 MB, fixtures/big-crl.ts), in Node
 * and in Chromium (test/browser/harness.ts), against the wall time of
 * `openssl crl -inform DER -in F -noout` run from Node (process spawn included).
 *
 *   npx tsx bench/crl-parse.ts        # prints one JSON line per runtime
 *
 * Rows: {"bench":"crl-parse","runtime":"node"|"chromium","entries":100000,
 *        "ms":<median parseCrl>,"openssl_ms":<median openssl>,"ratio":ms/openssl_ms}
 * BENCH_CRL_RUNS (default 9, at least 5) sets the number of measured runs of each.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCrl } from '../src/lib/pki/crl.js';
import { bigCrl } from '../test/pki/fixtures/big-crl.js';

const ENTRIES = 100_000;
const RUNS = Math.max(5, Number(process.env.BENCH_CRL_RUNS ?? 9));
const WARMUP = 3;
/** The CRL is served to the page under this path of its own origin. */
const CRL_URL_PATH = '/__bench__/crl.der';

export interface CrlParseRow {
  bench: 'crl-parse';
  runtime: 'node' | 'chromium';
  entries: number;
  ms: number;
  openssl_ms: number;
  ratio: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

function row(runtime: 'node' | 'chromium', ms: number, opensslMs: number): CrlParseRow {
  return { bench: 'crl-parse', runtime, entries: ENTRIES, ms: round(ms), openssl_ms: round(opensslMs), ratio: round(ms / opensslMs, 3) };
}

/** Wall time of `openssl crl -inform DER -in F -noout`, spawned from Node. */
function opensslRun(path: string): number {
  const t0 = performance.now();
  const r = spawnSync('openssl', ['crl', '-inform', 'DER', '-in', path, '-noout'], { stdio: 'ignore' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`openssl crl failed (status ${r.status})`);
  return ms;
}

function nodeRun(der: Uint8Array): number {
  const t0 = performance.now();
  const crl = parseCrl(der);
  const ms = performance.now() - t0;
  if (crl.size !== ENTRIES) throw new Error(`parseCrl: ${crl.size} entries instead of ${ENTRIES}`);
  return ms;
}

/**
 * Node and OpenSSL runs are interleaved (after a warm-up of each), so that load from other
 * processes on the machine affects both alike.
 */
function measureNode(der: Uint8Array, path: string): { ms: number; opensslMs: number } {
  for (let i = 0; i < WARMUP; i++) {
    nodeRun(der);
    opensslRun(path);
  }
  const node: number[] = [];
  const openssl: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    openssl.push(opensslRun(path));
    node.push(nodeRun(der));
  }
  return { ms: median(node), opensslMs: median(openssl) };
}

interface CrlBenchGlobal {
  load(url: string): Promise<number>;
  timeRuns(runs: number, warmup?: number): { times: number[]; entries: number; bytes: number };
}

async function measureChromium(der: Uint8Array): Promise<number> {
  const { launchChromium, openModulePage } = await import('../test/browser/harness.js');
  const browser = await launchChromium();
  try {
    const page = await openModulePage(browser, 'bench/entries/crl-entry.ts', 'CrlBench');
    const url = new URL(CRL_URL_PATH, page.url()).href;
    const body = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
    await page.route(url, (route) =>
      route.fulfill({ status: 200, body, headers: { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' } }),
    );
    const result = await page.evaluate(
      async ({ url, runs, warmup }) => {
        const bench = (globalThis as unknown as { CrlBench: CrlBenchGlobal }).CrlBench;
        await bench.load(url);
        return bench.timeRuns(runs, warmup);
      },
      { url, runs: RUNS, warmup: WARMUP },
    );
    await page.close();
    if (result.entries !== ENTRIES || result.bytes !== der.length) {
      throw new Error(`chromium: ${result.entries} entries / ${result.bytes} bytes`);
    }
    return median(result.times);
  } finally {
    await browser.close();
  }
}

export async function benchCrlParse(emit?: (row: object) => void): Promise<object[]> {
  const { der, path } = await bigCrl(ENTRIES);
  const rows: CrlParseRow[] = [];
  const node = measureNode(der, path);
  const nodeRow = row('node', node.ms, node.opensslMs);
  rows.push(nodeRow);
  emit?.(nodeRow);
  const chromiumMs = await measureChromium(der);
  // OpenSSL again right after the browser run, for a comparable machine state.
  const openssl: number[] = [];
  for (let i = 0; i < RUNS; i++) openssl.push(opensslRun(path));
  const chromiumRow = row('chromium', chromiumMs, median(openssl));
  rows.push(chromiumRow);
  emit?.(chromiumRow);
  return rows;
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  benchCrlParse((r) => process.stdout.write(JSON.stringify(r) + '\n')).catch((e: unknown) => {
    process.stderr.write(`crl-parse: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
