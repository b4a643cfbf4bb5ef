/**
 * chain-validate: validations per second of a SESAM-Vitale shaped chain (RSA-2048 root →
 * intermediate → leaf, one CRL from each CA) with the `sesam-vitale-attachment` profile.
 * cold = a new Verifier per validation (inputs as DER bytes); warm = one Verifier reused.
 * Runs in Node, then in Chromium through the browser harness.
 */
import { sesamChain, SESAM_EMAIL } from '../test/pki/fixtures/forge.js';
import type { VerifyInput, VerifyResult } from '../src/lib/pki/types.js';

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 2000);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 500);

export interface ChainValidateRow {
  bench: 'chain-validate';
  runtime: 'node' | 'chromium';
  cache: 'cold' | 'warm';
  per_s: number;
}

interface Fixture {
  leaf: string;
  anchors: string[];
  intermediates: string[];
  crls: string[];
  email: string;
}

const b64 = (d: Uint8Array): string => Buffer.from(d).toString('base64');

async function makeFixture(): Promise<Fixture> {
  const c = await sesamChain();
  return {
    leaf: b64(c.leaf),
    anchors: [b64(c.root)],
    intermediates: [b64(c.inter)],
    crls: [b64(c.rootCrl), b64(c.interCrl)],
    email: SESAM_EMAIL,
  };
}

/**
 * The measuring loop, self-contained so it can be serialised into the page as is (no closure
 * over module scope, no imports). `Verifier` is the core's class in either runtime.
 */
async function measure(
  Verifier: new () => { verify(input: VerifyInput): Promise<VerifyResult> },
  fx: Fixture,
  cache: 'cold' | 'warm',
  durationMs: number,
  warmupMs: number,
): Promise<{ n: number; ms: number; valid: boolean; errors: string[] }> {
  const bytes = (s: string): Uint8Array => Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));
  // Fresh byte arrays per validation in cold mode, so identity caches cannot help.
  const input = (): VerifyInput => ({
    leaf: bytes(fx.leaf),
    anchors: fx.anchors.map(bytes),
    intermediates: fx.intermediates.map(bytes),
    crls: fx.crls.map(bytes),
    profile: 'sesam-vitale-attachment',
    email: fx.email,
  });
  const shared = new Verifier();
  const sharedInput = input();
  const once = (): Promise<VerifyResult> =>
    cache === 'cold' ? new Verifier().verify(input()) : shared.verify(sharedInput);
  const first = await once();
  if (!first.valid) return { n: 0, ms: 0, valid: false, errors: first.errors.map((e) => `${e.code}: ${e.message}`) };
  const run = async (ms: number): Promise<{ n: number; ms: number }> => {
    const t0 = performance.now();
    let n = 0;
    let t = t0;
    while (t - t0 < ms) {
      await once();
      n++;
      t = performance.now();
    }
    return { n, ms: t - t0 };
  };
  await run(warmupMs);
  return { ...(await run(durationMs)), valid: true, errors: [] };
}

function row(runtime: ChainValidateRow['runtime'], cache: ChainValidateRow['cache'], r: { n: number; ms: number; valid: boolean; errors: string[] }): ChainValidateRow {
  if (!r.valid) throw new Error(`chain-validate (${runtime}): the fixture chain does not validate: ${r.errors.join('; ')}`);
  return { bench: 'chain-validate', runtime, cache, per_s: Math.round((r.n / r.ms) * 1000 * 10) / 10 };
}

export async function benchChainValidate(emit: (row: object) => void = () => undefined): Promise<ChainValidateRow[]> {
  const rows: ChainValidateRow[] = [];
  const push = (r: ChainValidateRow): void => {
    rows.push(r);
    emit(r);
  };
  process.stderr.write('chain-validate: forging the RSA-2048 chain and CRLs…\n');
  const fx = await makeFixture();

  const { Verifier } = await import('../src/lib/pki/index.js');
  for (const cache of ['cold', 'warm'] as const) {
    process.stderr.write(`chain-validate: node ${cache}…\n`);
    push(row('node', cache, await measure(Verifier, fx, cache, DURATION_MS, WARMUP_MS)));
  }

  const { launchChromium, openModulePage } = await import('../test/browser/harness.js');
  const browser = await launchChromium();
  try {
    const page = await openModulePage(browser, 'src/lib/pki/index.ts', 'TeletransPki');
    // Rebuild the function inside the page from its source. tsx compiles with keepNames, which
    // wraps inner functions in `__name(fn, "name")`: provide an identity for it.
    const source = measure.toString();
    for (const cache of ['cold', 'warm'] as const) {
      process.stderr.write(`chain-validate: chromium ${cache}…\n`);
      const r = await page.evaluate(
        async ({ source, fx, cache, durationMs, warmupMs }) => {
          const fn = new Function('__name', `return (${source})`)((f: unknown) => f) as typeof measure;
          const core = (globalThis as unknown as { TeletransPki: { Verifier: Parameters<typeof measure>[0] } }).TeletransPki;
          return fn(core.Verifier, fx, cache, durationMs, warmupMs);
        },
        { source, fx, cache, durationMs: DURATION_MS, warmupMs: WARMUP_MS },
      );
      push(row('chromium', cache, r));
    }
    await page.close();
  } finally {
    await browser.close();
  }
  return rows;
}
