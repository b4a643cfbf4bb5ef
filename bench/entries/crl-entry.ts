/**
 * Browser entry of the crl-parse benchmark (bundled by test/browser/harness.ts and injected
 * as `window.CrlBench`). The CRL is fetched once from the page's origin (the benchmark serves
 * it with page.route) or given as base64; then parseCrl is timed in the page.
 */
import { parseCrl } from '../../src/lib/pki/crl.js';

export { parseCrl };

let data: Uint8Array | undefined;

/** Fetches the CRL into the page; returns its size in bytes. */
export async function load(url: string): Promise<number> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  data = new Uint8Array(await response.arrayBuffer());
  return data.length;
}

/** Alternative to load(): the CRL as base64. */
export function loadBase64(b64: string): number {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  data = out;
  return out.length;
}

export interface TimedRuns {
  /** Milliseconds of each measured run, in order. */
  times: number[];
  /** Entries in the parsed CRL (sanity check). */
  entries: number;
  bytes: number;
}

/** Parses the loaded CRL `warmup` times unmeasured, then `runs` times measured. */
export function timeRuns(runs: number, warmup = 2): TimedRuns {
  if (!data) throw new Error('CRL not loaded');
  let entries = 0;
  for (let i = 0; i < warmup; i++) entries = parseCrl(data).size;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    entries = parseCrl(data).size;
    times.push(performance.now() - t0);
  }
  return { times, entries, bytes: data.length };
}
