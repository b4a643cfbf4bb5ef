/**
 * One Node variant of the cms-encrypt benchmark, in a process of its own (forked by bench/cms.ts).
 *
 * Why a process per variant: measured in one process, the variants slowed each other by a third
 * or more. WebCrypto's jobs allocate their 10 MiB copies on libuv threads (other malloc arenas)
 * and leave V8 external-memory debt whose concurrent GC work lands in the next variant's runs;
 * `openssl speed`, the reference, runs alone in its own process. Alone, each variant pays for its
 * own garbage only. The parent alternates short blocks of the variants, so they still share the
 * same machine load.
 *
 * Messages (process.send): in {cmd:'setup', variant, size, certB64} → {ok:true};
 * {cmd:'block', ms} → {times, cpuUs}; {cmd:'peak'} → {external, rss}; {cmd:'exit'}.
 */
import { createCipheriv } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { checkRecipient, encryptDocument } from '../src/lib/cms/index.js';
import { nodeAesCbc } from '../src/lib/server/crypto/aes-cbc-node.js';
import { nodeRsaPkcs1 } from '../src/lib/server/crypto/rsa-pkcs1-node.js';

export type NodeVariant = 'raw' | 'webcrypto' | 'node:crypto' | 'node:crypto-in-place' | 'cipheriv';

export type VariantRequest =
  | { cmd: 'setup'; variant: NodeVariant; size: number; certB64: string }
  | { cmd: 'block'; ms: number }
  | { cmd: 'peak' }
  | { cmd: 'exit' };

export interface BlockResult {
  times: number[];
  cpuUs: number;
}

export interface PeakResult {
  external: number;
  rss: number;
}

function randomData(size: number): Uint8Array<ArrayBuffer> {
  const d = new Uint8Array(size);
  for (let o = 0; o < size; o += 65536) crypto.getRandomValues(d.subarray(o, Math.min(size, o + 65536)));
  return d;
}

function procStatus(field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`/proc/self/status: ${field} absent`);
  return Number(m[1]) * 1024;
}

/** Resets VmHWM to the current RSS and returns it: the baseline, read as the peak will be. */
function resetPeak(): number | null {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return procStatus('VmHWM');
  } catch {
    return null;
  }
}

async function makeRun(variant: NodeVariant, size: number, certB64: string): Promise<() => Promise<unknown>> {
  const data = randomData(size);
  const key = randomData(16);
  const iv = randomData(16);
  switch (variant) {
    case 'raw': {
      const rawKey = await crypto.subtle.importKey('raw', key, 'AES-CBC', false, ['encrypt']);
      return () => crypto.subtle.encrypt({ name: 'AES-CBC', iv }, rawKey, data);
    }
    case 'cipheriv':
      // Node's binding alone: one update over the whole buffer, then final.
      return async () => {
        const c = createCipheriv('aes-128-cbc', key, iv);
        return [c.update(data), c.final()];
      };
    case 'webcrypto':
    case 'node:crypto':
    case 'node:crypto-in-place': {
      const recipient = await checkRecipient(Buffer.from(certB64, 'base64'), { insecureSkipVerify: true });
      // In place (the CLI's path: it hands over the buffer it read): each run encrypts the
      // previous run's output, the same work on a hot buffer, as `openssl speed` does.
      const options =
        variant === 'webcrypto' ? {} : { aes: nodeAesCbc, rsa: nodeRsaPkcs1, consumeInput: variant === 'node:crypto-in-place' };
      return () => encryptDocument(data, recipient, options);
    }
  }
}

async function main(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let run: (() => Promise<unknown>) | null = null;
  const reply = (m: unknown): void => void process.send!(m);

  process.on('message', (m: VariantRequest) => {
    void (async () => {
      try {
        if (m.cmd === 'setup') {
          run = await makeRun(m.variant, m.size, m.certB64);
          for (let i = 0; i < 3; i++) await run(); // warm-up: JIT, key caches, allocator
          reply({ ok: true });
        } else if (m.cmd === 'block') {
          const times: number[] = [];
          const c0 = process.cpuUsage();
          const start = performance.now();
          do {
            const t0 = performance.now();
            await run!();
            times.push(performance.now() - t0);
          } while (performance.now() - start < m.ms);
          const c = process.cpuUsage(c0);
          reply({ times, cpuUs: c.user + c.system } satisfies BlockResult);
        } else if (m.cmd === 'peak') {
          // Peak of one run, its result held until the last sample. external covers
          // arrayBuffers; RSS counters are cached per thread (±64 pages): never negative.
          gc();
          gc();
          const base = process.memoryUsage().external;
          let peak = 0;
          const sample = (): void => {
            peak = Math.max(peak, process.memoryUsage().external - base);
          };
          const baseRss = resetPeak();
          const timer = setInterval(sample, 1);
          sample();
          const result = await run!();
          sample();
          clearInterval(timer);
          const rss = baseRss === null ? -1 : Math.max(0, procStatus('VmHWM') - baseRss);
          void result;
          reply({ external: peak, rss } satisfies PeakResult);
        } else {
          process.exit(0);
        }
      } catch (e) {
        reply({ error: e instanceof Error ? e.stack : String(e) });
      }
    })();
  });
}

await main();
