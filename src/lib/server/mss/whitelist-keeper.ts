/**
 * The relay's copy of the MSSanté trust space: the agency's list fetched daily (and at start),
 * verified every time (xmldsig.ts, whitelist.ts), the last valid copy kept on disk as the
 * signed file itself — so that a restart verifies it again rather than trusting a cache — and
 * used until a newer valid list replaces it. A failed fetch or verification is reported and
 * changes nothing.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MssError } from '../../mss/errors.js';
import { readWhitelist, updateWhitelist, type Whitelist, type WhitelistUpdate } from '../../mss/whitelist.js';
import { MAX_SIGNED_XML_BYTES, type SignerTrust } from '../../mss/xmldsig.js';
import { useNodeXml } from './node-xml.js';

export interface KeeperOptions {
  url: string;
  trust: () => SignerTrust;
  /** Where the last valid signed list is kept. */
  file?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  report?: (u: WhitelistUpdate) => void;
}

export class WhitelistKeeper {
  private list: Whitelist | null = null;
  private last: WhitelistUpdate | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: KeeperOptions) {
    useNodeXml();
  }

  current(): Whitelist | null {
    return this.list;
  }

  lastUpdate(): WhitelistUpdate | null {
    return this.last;
  }

  /** Reads the kept file again (verified as if fetched). */
  async load(): Promise<void> {
    if (!this.o.file || !existsSync(this.o.file)) return;
    try {
      this.list = await readWhitelist(readFileSync(this.o.file, 'utf8'), this.o.trust());
    } catch {
      this.list = null; // a kept file that no longer verifies is not used
    }
  }

  private async download(): Promise<string> {
    const f = this.o.fetch ?? fetch;
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), this.o.timeoutMs ?? 30_000);
    try {
      const r = await f(this.o.url, { signal: ctl.signal });
      if (!r.ok) throw new MssError('whitelist_unavailable', `Liste blanche : le serveur a répondu ${r.status}.`);
      const len = Number(r.headers.get('content-length') ?? NaN);
      if (Number.isFinite(len) && len > MAX_SIGNED_XML_BYTES) throw new MssError('xml_too_large', 'Liste blanche trop volumineuse.');
      const buf = new Uint8Array(await r.arrayBuffer());
      if (buf.length > MAX_SIGNED_XML_BYTES) throw new MssError('xml_too_large', 'Liste blanche trop volumineuse.');
      return new TextDecoder('utf-8', { fatal: true }).decode(buf);
    } catch (e) {
      if (e instanceof MssError) throw e;
      throw new MssError('whitelist_unavailable', `Liste blanche injoignable (${(e as Error).message}).`);
    } finally {
      clearTimeout(t);
    }
  }

  /** One fetch: replaces the list only with a valid, newer one; otherwise keeps the last valid. */
  async refresh(): Promise<WhitelistUpdate> {
    let u: WhitelistUpdate;
    let text: string | null = null;
    try {
      text = await this.download();
      u = await updateWhitelist(this.list, text, this.o.trust());
    } catch (e) {
      const error = e instanceof MssError ? e : new MssError('whitelist_unavailable', 'Liste blanche injoignable.');
      u = this.list ? { status: 'kept_last_valid', list: this.list, error } : { status: 'unavailable', list: null, error };
    }
    if (u.status === 'updated' && text !== null && this.o.file) {
      mkdirSync(dirname(this.o.file), { recursive: true });
      writeFileSync(`${this.o.file}.tmp`, text, { mode: 0o644 });
      renameSync(`${this.o.file}.tmp`, this.o.file);
    }
    this.list = u.list;
    this.last = u;
    this.o.report?.(u);
    return u;
  }

  start(intervalMs = 24 * 3600_000): void {
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
