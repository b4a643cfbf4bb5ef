/**
 * CRLs the relay loads itself (config `crlSources`: file paths or http(s) URLs), so that a relay
 * running for weeks neither keeps accepting a revoked CPS nor locks every practitioner out when
 * the CRL it started with passes its nextUpdate (an expired CRL is refused under `require`).
 *
 * Loaded at start and every `crlRefreshMs` (default 1 h). A source that fails keeps its last
 * good CRLs and the failure is reported (stderr, and the returned report); a source never loaded
 * adds nothing, so that the certificates it covers are refused, not waved through. A CRL older
 * (thisUpdate) than the one held for the same issuer is ignored: an outdated but validly signed
 * CRL replayed by a network attacker cannot un-revoke a card. Signatures and dates are checked
 * where the CRLs are used (src/lib/pki), as for the inline `crls`.
 */
import { readFile } from 'node:fs/promises';
import { decodeInput, parseCrl } from '../../pki/index.js';

/** IGC-Santé CRLs are a few MiB at most; anything far larger is not a CRL we want in memory. */
export const MAX_CRL_SOURCE_BYTES = 32 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 20_000;

export interface CrlSourceReport {
  source: string;
  ok: boolean;
  /** CRLs now held for the source. */
  crls: number;
  error?: string;
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
  const declared = Number(r.headers.get('content-length') ?? 0);
  if (declared > MAX_CRL_SOURCE_BYTES) throw new Error(`too large (${declared} bytes)`);
  const reader = r.body?.getReader();
  if (!reader) throw new Error('empty body');
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > MAX_CRL_SOURCE_BYTES) {
      await reader.cancel();
      throw new Error(`too large (over ${MAX_CRL_SOURCE_BYTES} bytes)`);
    }
    chunks.push(value);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

async function loadSource(source: string): Promise<Uint8Array[]> {
  const bytes = /^https?:\/\//i.test(source) ? await fetchBytes(source) : new Uint8Array(await readFile(source));
  if (bytes.byteLength > MAX_CRL_SOURCE_BYTES) throw new Error(`too large (${bytes.byteLength} bytes)`);
  const items = decodeInput(bytes); // DER or PEM; throws a PkiError on anything malformed
  if (!items.length || items.some((i) => i.kind !== 'crl')) throw new Error('not a CRL (or not only CRLs)');
  return items.map((i) => i.der);
}

export class CrlSources {
  private held = new Map<string, Uint8Array[]>();
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly sources: readonly string[], private readonly log: (line: string) => void = (l) => void process.stderr.write(`${l}\n`)) {}

  /** The CRLs held now, from every source. */
  list(): Uint8Array[] {
    return [...this.held.values()].flat();
  }

  /** Loads every source once; never throws (a failure keeps what was held). */
  async refresh(): Promise<CrlSourceReport[]> {
    return Promise.all(this.sources.map(async (source): Promise<CrlSourceReport> => {
      const before = this.held.get(source) ?? [];
      try {
        const fresh = await loadSource(source);
        const kept = fresh.map((der) => {
          const crl = parseCrl(der);
          const old = before.map((d) => parseCrl(d)).find((o) => o.issuer.key === crl.issuer.key);
          return old && old.thisUpdate > crl.thisUpdate ? old.der : der;
        });
        this.held.set(source, kept);
        const older = kept.filter((d, i) => d !== fresh[i]).length;
        if (older) this.log(`relay CRL ${source}: ${older} CRL(s) older than the one held, ignored`);
        return { source, ok: true, crls: kept.length };
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        this.log(`relay CRL ${source}: ${error} (keeping ${before.length} CRL(s) loaded earlier)`);
        return { source, ok: false, crls: before.length, error };
      }
    }));
  }

  /** Refreshes now, then every `intervalMs`. */
  async start(intervalMs: number): Promise<CrlSourceReport[]> {
    const first = await this.refresh();
    this.timer ??= setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
    return first;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
