/**
 * Attachment encryption throughput: `npm run bench -- cms`, or alone `npx tsx bench/cms.ts`
 * (JSON lines on stdout, progress on stderr). Quick runs:
 * `BENCH_CMS_SIZES=10485760 BENCH_CMS_RUNTIMES=node BENCH_CMS_MIN_MS=500 npx tsx bench/cms.ts`.
 *
 * Rows: {"bench":"cms-encrypt","runtime":"chromium"|"node","aes":…,"size":BYTES,"mib_per_s":…,
 *   "webcrypto_aes128cbc_mib_per_s":…,"openssl_aes128cbc_mib_per_s":…,"ratio_to_webcrypto":…,
 *   "ratio_to_openssl":…,"peak_extra_bytes":…, …}
 *
 * What is measured: end-to-end encryption of one document for a prepared recipient
 * (`checkRecipient` done once, as for a batch of lots): fresh key and IV, AES-128-CBC over the
 * whole buffer, RSA PKCS #1 v1.5 key transport, DER header; output kept as parts (no join).
 * `aes` says which primitives: "webcrypto" (the isomorphic default: WebCrypto AES, BigInt
 * RSA), "node:crypto" (the Node adapters of src/lib/server/crypto/, the input left intact) or
 *   "node:crypto-in-place" (the same with `consumeInput`: the caller hands its buffer over and
 *   the addon native/aes_cbc_inplace.c encrypts it in place; `teletrans encrypt`'s path;
 *   `in_place_addon:false` if the addon is not built, and then it is the copying path).
 *   - webcrypto_aes128cbc: raw `subtle.encrypt({name:'AES-CBC'})` with an imported key, on the
 *     same buffer, in the same runtime (in Chromium, the same page), alternated with ours.
 *   - openssl_aes128cbc: `openssl speed -evp aes-128-cbc -bytes SIZE -seconds 2` (in-place
 *     encryption of one hot buffer, divided by USER CPU time, OpenSSL's default) and the same
 *     with `-elapsed` (wall clock). Our `mib_per_s` is wall clock, so on a loaded machine
 *     `ratio_to_openssl` understates us; `ratio_to_openssl_elapsed` (wall / wall) and, in Node,
 *     `ratio_to_openssl_cpu` (process CPU / user CPU) are the like-for-like ratios.
 *   - Node rows also give the bare `createCipheriv` (one update + final) figures
 *     (`node_cipheriv_…`): what Node's OpenSSL binding costs before any CMS work.
 *   - Times are medians of per-run times, the variants alternating (A B C A B C …) until each
 *     has ~1 s of work: in Node by blocks of ≥ 100 ms of runs, each variant in a process of its
 *     own (bench/cms-node-variant.ts: measured together they slowed one another by a third),
 *     in Chromium by batches lasting ≥ 2 ms (the page's clock is coarsened to 100 µs).
 *   - peak_extra_bytes. Node: peak of process.memoryUsage().external above its baseline,
 *     sampled every millisecond during one run and once after it with the output still held
 *     (arrayBuffers is a subset of external, so the two are not added), plus
 *     `peak_extra_rss_bytes` from VmHWM. Chromium (sizes ≥ 1 MiB): VmHWM of a fresh renderer
 *     above its level before one run (peak reset through /proc/PID/clear_refs), output held,
 *     so WebCrypto's internal copies count; `raw_webcrypto_peak_extra_bytes` is the same for
 *     the bare subtle.encrypt. Smaller sizes, or without /proc: computed (WebCrypto's input copy
 *     + ciphertext + DER header), as `peak_method` says.
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { nodeAesCbc } from '../src/lib/server/crypto/aes-cbc-node.js';
import type { BlockResult, NodeVariant, PeakResult, VariantRequest } from './cms-node-variant.js';

type Row = Record<string, unknown>;

const MIB = 1024 * 1024;
const SIZES = process.env.BENCH_CMS_SIZES ? process.env.BENCH_CMS_SIZES.split(',').map(Number) : [1024, 100 * 1024, 10 * MIB, 50 * MIB];
const RUNTIMES = (process.env.BENCH_CMS_RUNTIMES ?? 'node,chromium').split(',');
const MIN_MS = Number(process.env.BENCH_CMS_MIN_MS ?? 1000);
const MIN_SAMPLES = 9;
/** Node: length of a block of consecutive runs of one variant (see timeVariants). */
const BLOCK_MS = 100;
/** Below this, a renderer's RSS peak is lost in allocator noise: computed instead. */
const MEASURED_PEAK_MIN_SIZE = MIB;

const round = (x: number, d = 3): number => Number(x.toFixed(d));
const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const log = (s: string): void => void process.stderr.write(`bench cms: ${s}\n`);

/** A throw-away RSA 2048 recipient certificate (validation is not what is measured here). */
function makeRecipientCert(): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'teletrans-bench-cms-'));
  const cert = join(dir, 'cert.der');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-subj', '/CN=bench',
    '-days', '2', '-outform', 'DER', '-out', cert], { stdio: 'ignore' });
  return new Uint8Array(readFileSync(cert));
}

interface OpensslSpeed {
  user: number;
  elapsed: number;
}

/** `openssl speed -evp aes-128-cbc -bytes N -seconds 2 [-elapsed] -mr` → MiB/s. */
function opensslSpeed(size: number): OpensslSpeed {
  const run = (elapsed: boolean): number => {
    const args = ['speed', ...(elapsed ? ['-elapsed'] : []), '-evp', 'aes-128-cbc', '-bytes', String(size), '-seconds', '2', '-mr'];
    const out = execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    // Machine-readable result: "+F:<n>:AES-128-CBC:<bytes per second>".
    const m = /^\+F:\d+:[^:]+:([\d.]+)/m.exec(out);
    if (!m) throw new Error(`openssl speed: unexpected output:\n${out}`);
    return Number(m[1]) / MIB;
  };
  return { user: run(false), elapsed: run(true) };
}

function procStatus(pid: number | 'self', field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`/proc/${pid}/status: ${field} absent`);
  return Number(m[1]) * 1024;
}

/** Resets VmHWM to the current RSS and returns it: the baseline, read as the peak will be. */
function resetPeak(pid: number | 'self'): number {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
  return procStatus(pid, 'VmHWM');
}

// ---------------------------------------------------------------------------------------------
// Node: each variant in its own process (bench/cms-node-variant.ts says why)

interface VariantProcess {
  name: NodeVariant;
  ask<T>(m: VariantRequest): Promise<T>;
  stop(): void;
}

function forkVariant(name: NodeVariant): VariantProcess {
  const child = fork(fileURLToPath(new URL('./cms-node-variant.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let waiting: { resolve(v: unknown): void; reject(e: Error): void } | null = null;
  child.on('message', (m: { error?: string }) => {
    const w = waiting;
    waiting = null;
    if (m && typeof m === 'object' && 'error' in m) w?.reject(new Error(`${name}: ${m.error}`));
    else w?.resolve(m);
  });
  child.on('exit', (code) => waiting?.reject(new Error(`${name}: process exited (${code})`)));
  return {
    name,
    ask<T>(m: VariantRequest): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        waiting = { resolve: resolve as (v: unknown) => void, reject };
        child.send(m);
      });
    },
    stop: () => void child.kill(),
  };
}

interface Timing {
  times: number[];
  totalMs: number;
  cpuUs: number;
}

/**
 * Short blocks of consecutive runs (≥ BLOCK_MS each) alternate between the variant processes
 * (A B C A B C …), so that all see the same machine load; only one runs at a time.
 */
async function timeVariants(procs: VariantProcess[]): Promise<Map<string, Timing>> {
  const stats = new Map<string, Timing>(procs.map((p) => [p.name, { times: [], totalMs: 0, cpuUs: 0 }]));
  while ([...stats.values()].some((s) => s.totalMs < MIN_MS || s.times.length < MIN_SAMPLES)) {
    for (const p of procs) {
      const s = stats.get(p.name)!;
      const r = await p.ask<BlockResult>({ cmd: 'block', ms: BLOCK_MS });
      s.times.push(...r.times);
      for (const t of r.times) s.totalMs += t;
      s.cpuUs += r.cpuUs;
    }
  }
  return stats;
}

async function benchNode(certDer: Uint8Array, size: number, ossl: OpensslSpeed): Promise<Row[]> {
  const certB64 = Buffer.from(certDer).toString('base64');
  const names: NodeVariant[] = ['raw', 'webcrypto', 'node:crypto', 'node:crypto-in-place', 'cipheriv'];
  const procs = names.map(forkVariant);
  try {
    for (const p of procs) await p.ask({ cmd: 'setup', variant: p.name, size, certB64 });
    const load = loadavg()[0]!;
    const stats = await timeVariants(procs);
    const mibs = (name: string): number => size / MIB / (median(stats.get(name)!.times) / 1000);
    const cpuMibs = (name: string): number => {
      const s = stats.get(name)!;
      return (size * s.times.length) / MIB / (s.cpuUs / 1e6);
    };
    const webcrypto = mibs('raw');
    const rows: Row[] = [];
    for (const aes of ['webcrypto', 'node:crypto', 'node:crypto-in-place'] as const) {
      const peak = await procs[names.indexOf(aes)]!.ask<PeakResult>({ cmd: 'peak' });
      const mine = mibs(aes);
      rows.push({
        bench: 'cms-encrypt',
        runtime: 'node',
        aes,
        size,
        mib_per_s: round(mine),
        webcrypto_aes128cbc_mib_per_s: round(webcrypto),
        openssl_aes128cbc_mib_per_s: round(ossl.user),
        ratio_to_webcrypto: round(mine / webcrypto),
        ratio_to_openssl: round(mine / ossl.user),
        peak_extra_bytes: peak.external,
        peak_extra_ratio: round(peak.external / size),
        peak_extra_rss_bytes: peak.rss,
        cpu_mib_per_s: round(cpuMibs(aes)),
        ratio_to_openssl_cpu: round(cpuMibs(aes) / ossl.user),
        openssl_elapsed_mib_per_s: round(ossl.elapsed),
        ratio_to_openssl_elapsed: round(mine / ossl.elapsed),
        node_cipheriv_aes128cbc_mib_per_s: round(mibs('cipheriv')),
        node_cipheriv_cpu_mib_per_s: round(cpuMibs('cipheriv')),
        ratio_to_node_cipheriv: round(mine / mibs('cipheriv')),
        ...(aes === 'node:crypto-in-place' ? { in_place_addon: nodeAesCbc.encryptInPlace !== undefined } : {}),
        samples: stats.get(aes)!.times.length,
        load_average: round(load, 2),
        isolation: 'one process per variant, blocks alternated',
        peak_method: 'process.memoryUsage().external delta (1 ms sampling); rss from VmHWM',
      });
    }
    return rows;
  } finally {
    for (const p of procs) p.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Chromium

declare const TeletransCms: typeof import('../src/lib/cms/index.js');

/** What the page keeps between evaluate calls. */
interface PageState {
  data: Uint8Array<ArrayBuffer>;
  bench: { raw(): Promise<unknown>; ours(): Promise<TeletransDoc> };
  keep?: unknown;
  gc(): void;
}
type TeletransDoc = Awaited<ReturnType<typeof TeletransCms.encryptDocument>>;

/** Loads the CMS bundle, makes `size` bytes of data, the raw key and the recipient in the page. */
async function setUpPage(browser: Browser, size: number, certB64: string): Promise<Page> {
  const { openModulePage } = await import('../test/browser/harness.js');
  const page = await openModulePage(browser, 'src/lib/cms/index.ts', 'TeletransCms');
  // tsx (esbuild keepNames) wraps named functions in __name(); the callbacks below run in the page.
  await page.evaluate('globalThis.__name ??= (f) => f');
  await page.evaluate(
    async ({ size, certB64 }) => {
      const g = globalThis as unknown as PageState;
      const data = new Uint8Array(size);
      for (let o = 0; o < size; o += 65536) crypto.getRandomValues(data.subarray(o, Math.min(size, o + 65536)));
      const key = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(16)), 'AES-CBC', false, ['encrypt']);
      const iv = crypto.getRandomValues(new Uint8Array(16));
      const cert = Uint8Array.from(atob(certB64), (c) => c.charCodeAt(0));
      const recipient = await TeletransCms.checkRecipient(cert, { insecureSkipVerify: true });
      g.data = data;
      g.bench = {
        raw: () => crypto.subtle.encrypt({ name: 'AES-CBC', iv }, key, data),
        ours: () => TeletransCms.encryptDocument(data, recipient),
      };
    },
    { size, certB64 },
  );
  return page;
}

interface PageTiming {
  ours: number;
  raw: number;
  runs: number;
  headerBytes: number;
  ciphertextBytes: number;
}

async function timePage(page: Page): Promise<PageTiming> {
  return page.evaluate(
    async ({ minMs, minSamples }) => {
      const { bench } = globalThis as unknown as PageState;
      for (let i = 0; i < 2; i++) {
        await bench.raw();
        await bench.ours();
      }
      let doc = await bench.ours();
      const batch = { raw: 1, ours: 1 };
      for (const k of ['raw', 'ours'] as const) {
        const t0 = performance.now();
        for (let i = 0; i < 10; i++) await bench[k]();
        batch[k] = Math.max(1, Math.ceil(2 / Math.max((performance.now() - t0) / 10, 0.001)));
      }
      const t = { raw: [] as number[], ours: [] as number[] };
      const total = { raw: 0, ours: 0 };
      let runs = 0;
      while (total.raw < minMs || total.ours < minMs || t.ours.length < minSamples) {
        for (const k of ['raw', 'ours'] as const) {
          const t0 = performance.now();
          for (let i = 0; i < batch[k]; i++) {
            if (k === 'ours') doc = await bench.ours();
            else await bench.raw();
          }
          const dt = performance.now() - t0;
          t[k].push(dt / batch[k]);
          total[k] += dt;
          if (k === 'ours') runs += batch[k];
        }
      }
      const med = (a: number[]): number => {
        const s = [...a].sort((x, y) => x - y);
        const m = s.length >> 1;
        return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
      };
      return { ours: med(t.ours), raw: med(t.raw), runs, headerBytes: doc.parts[0]!.length, ciphertextBytes: doc.byteLength - doc.parts[0]!.length };
    },
    { minMs: MIN_MS, minSamples: MIN_SAMPLES },
  );
}

/** The renderer holding the page's data: the largest renderer by RSS (a spare one may exist). */
async function rendererPid(browser: Browser): Promise<number | null> {
  try {
    const s = await browser.newBrowserCDPSession();
    const info = (await s.send('SystemInfo.getProcessInfo')) as { processInfo: Array<{ type: string; id: number }> };
    await s.detach();
    let best: { pid: number; rss: number } | null = null;
    for (const p of info.processInfo) {
      if (p.type !== 'renderer') continue;
      if (!readFileSync(`/proc/${p.id}/cmdline`, 'utf8').includes('--type=renderer')) continue; // another pid namespace
      const rss = procStatus(p.id, 'VmRSS');
      if (!best || rss > best.rss) best = { pid: p.id, rss };
    }
    return best?.pid ?? null;
  } catch {
    return null;
  }
}

/**
 * Peak extra memory of one run in a fresh renderer (no recycled pages from earlier runs to hide
 * the allocation): VmHWM after the run, output held, minus the level just before it.
 */
async function chromiumPeak(browser: Browser, size: number, certB64: string, which: 'ours' | 'raw'): Promise<number | null> {
  const page = await setUpPage(browser, size, certB64);
  try {
    await page.evaluate(() => (globalThis as unknown as PageState).gc());
    const pid = await rendererPid(browser);
    if (pid === null) return null;
    const before = resetPeak(pid);
    await page.evaluate(async (w) => {
      const g = globalThis as unknown as PageState;
      g.keep = await g.bench[w]();
    }, which);
    return Math.max(0, procStatus(pid, 'VmHWM') - before);
  } catch {
    return null;
  } finally {
    await page.close();
  }
}

async function benchChromium(certDer: Uint8Array, openssl: Map<number, OpensslSpeed>, emit: (r: Row) => void): Promise<Row[]> {
  // Imported only now: Playwright and esbuild enlarge the Node heap, and every GC of the Node
  // measurements (driven by their large external buffers) would pay for it.
  const { chromium } = await import('playwright-core');
  const { CHROMIUM_ARGS, CHROMIUM_PATH } = await import('../test/browser/harness.js');
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, '--js-flags=--expose-gc'], headless: true });
  const certB64 = Buffer.from(certDer).toString('base64');
  const rows: Row[] = [];
  try {
    for (const size of SIZES) {
      log(`chromium ${size} B…`);
      const load = loadavg()[0]!;
      const page = await setUpPage(browser, size, certB64);
      const r = await timePage(page);
      await page.close();
      const measure = size >= MEASURED_PEAK_MIN_SIZE;
      const measured = measure ? await chromiumPeak(browser, size, certB64, 'ours') : null;
      const rawPeak = measure ? await chromiumPeak(browser, size, certB64, 'raw') : null;
      const computed = size + r.ciphertextBytes + r.headerBytes;
      const peak = measured ?? computed;
      const mine = size / MIB / (r.ours / 1000);
      const webcrypto = size / MIB / (r.raw / 1000);
      const ossl = openssl.get(size)!;
      const row: Row = {
        bench: 'cms-encrypt',
        runtime: 'chromium',
        aes: 'webcrypto',
        size,
        mib_per_s: round(mine),
        webcrypto_aes128cbc_mib_per_s: round(webcrypto),
        openssl_aes128cbc_mib_per_s: round(ossl.user),
        ratio_to_webcrypto: round(mine / webcrypto),
        ratio_to_openssl: round(mine / ossl.user),
        peak_extra_bytes: peak,
        peak_extra_ratio: round(peak / size),
        raw_webcrypto_peak_extra_bytes: rawPeak,
        computed_extra_bytes: computed,
        openssl_elapsed_mib_per_s: round(ossl.elapsed),
        ratio_to_openssl_elapsed: round(mine / ossl.elapsed),
        runs: r.runs,
        load_average: round(load, 2),
        peak_method:
          measured !== null
            ? 'fresh renderer: VmHWM after one run (output held) minus VmHWM reset just before (/proc/PID/clear_refs)'
            : 'computed: WebCrypto input copy + ciphertext + DER header',
      };
      emit(row);
      rows.push(row);
    }
  } finally {
    await browser.close();
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------

export async function benchCms(emit?: (row: object) => void): Promise<object[]> {
  const out = emit ?? ((row: object) => void process.stdout.write(JSON.stringify(row) + '\n'));
  const rows: Row[] = [];
  const certDer = makeRecipientCert();
  const openssl = new Map<number, OpensslSpeed>();
  for (const size of SIZES) {
    log(`openssl speed ${size} B…`);
    openssl.set(size, opensslSpeed(size));
    if (!RUNTIMES.includes('node')) continue;
    log(`node ${size} B…`);
    for (const row of await benchNode(certDer, size, openssl.get(size)!)) {
      out(row);
      rows.push(row);
    }
  }
  if (RUNTIMES.includes('chromium')) rows.push(...(await benchChromium(certDer, openssl, out)));
  return rows;
}

// Alone: `npx tsx bench/cms.ts` prints the rows as JSON lines.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchCms();
}
