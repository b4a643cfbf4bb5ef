/**
 * The bridge's persistent state, in one directory created 0700 (files 0600):
 *  - pairings.json: the paired web origins and their pairing keys (listable, revocable);
 *  - allowed-origins.json: the web origins allowed to ask for a pairing (deployments);
 *  - bridge-log.jsonl: sessions and pairings (time, origin, outcome), never a PIN, card data
 *    or key; entries are kept 13 months (≥ 12 required, SA2) and pruned beyond at start-up.
 * Default directory: $TELETRANS_BRIDGE_DIR, else $XDG_CONFIG_HOME/teletrans-bridge, else
 * ~/.config/teletrans-bridge.
 */
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CLI_ORIGIN, b64u, randomBytes, unb64u } from '../src/lib/card/protocol.js';

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TELETRANS_BRIDGE_DIR) return env.TELETRANS_BRIDGE_DIR;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'teletrans-bridge');
}

function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

function writePrivate(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export const PAIRINGS_FILE = 'pairings.json';
export const ORIGINS_FILE = 'allowed-origins.json';

export interface Pairing {
  keyId: string;
  origin: string;
  createdAt: string;
  lastUsedAt?: string;
}

interface StoredPairing extends Pairing {
  key: string;
}

export class PairingStore {
  readonly path: string;
  private items: StoredPairing[] = [];

  constructor(readonly dir: string) {
    ensureDir(dir);
    this.path = join(dir, PAIRINGS_FILE);
    this.reload();
  }

  reload(): void {
    if (!existsSync(this.path)) {
      this.items = [];
      return;
    }
    chmodSync(this.path, 0o600);
    const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as { pairings?: StoredPairing[] };
    this.items = Array.isArray(parsed.pairings) ? parsed.pairings : [];
  }

  private save(): void {
    writePrivate(this.path, JSON.stringify({ version: 1, pairings: this.items }, null, 1));
  }

  list(): Pairing[] {
    return this.items.map(({ keyId, origin, createdAt, lastUsedAt }) => ({ keyId, origin, createdAt, lastUsedAt }));
  }

  add(origin: string, key: Uint8Array): Pairing {
    this.reload();
    const p: StoredPairing = { keyId: b64u(randomBytes(12)), origin, createdAt: new Date().toISOString(), key: b64u(key) };
    this.items.push(p);
    this.save();
    return { keyId: p.keyId, origin, createdAt: p.createdAt };
  }

  /** The key of a pairing, only for the origin it was made for. */
  key(origin: string, keyId: string): Uint8Array | null {
    // Re-read: `teletrans bridge revoke` may have changed the file while the bridge runs.
    this.reload();
    const p = this.items.find((x) => x.keyId === keyId && x.origin === origin);
    return p ? unb64u(p.key) : null;
  }

  touch(keyId: string): void {
    // Re-read first: saving a stale list would bring back a pairing revoked meanwhile by the CLI.
    this.reload();
    const p = this.items.find((x) => x.keyId === keyId);
    if (p) {
      p.lastUsedAt = new Date().toISOString();
      this.save();
    }
  }

  /** Revokes by keyId or by origin (all of its pairings). Returns the revoked pairings. */
  revoke(keyIdOrOrigin: string): Pairing[] {
    this.reload();
    const gone = this.items.filter((x) => x.keyId === keyIdOrOrigin || x.origin === keyIdOrOrigin);
    if (gone.length) {
      this.items = this.items.filter((x) => !gone.includes(x));
      this.save();
    }
    return gone.map(({ keyId, origin, createdAt }) => ({ keyId, origin, createdAt }));
  }
}

export type OriginRejection = 'not_url' | 'not_an_origin' | 'insecure_scheme' | 'port_required';
export type OriginCheck = { ok: true; origin: string } | { ok: false; reason: OriginRejection; message: string };

const ORIGIN_MESSAGES: Record<OriginRejection, string> = {
  not_url: 'origine illisible (ex. https://app.example)',
  not_an_origin: 'une origine seulement : schéma, hôte et port, sans chemin, requête, fragment ni identifiants',
  insecure_scheme: 'https:// obligatoire (http:// seulement pour localhost ou 127.0.0.1 avec un port)',
  port_required: 'http://localhost et http://127.0.0.1 doivent préciser le port (ex. http://localhost:5173)',
};

const HOST_NAME = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Checks a web origin before it may ask for a pairing (C1): https:// with a plain host name or
 * IPv4 address, or http:// for localhost / 127.0.0.1 with an explicit port (development); or
 * exactly the command line's `teletrans-cli://localhost` (CLI_ORIGIN, ADR 0012).
 * Returns the canonical form, as browsers send it in the Origin header.
 */
export function checkOrigin(input: string): OriginCheck {
  const no = (reason: OriginRejection): OriginCheck => ({ ok: false, reason, message: ORIGIN_MESSAGES[reason] });
  // The command line's own origin (ADR 0012), exactly: no browser can present it.
  if (input === CLI_ORIGIN) return { ok: true, origin: CLI_ORIGIN };
  // Scheme, authority, at most a trailing slash: no path, query, fragment or spaces.
  if (typeof input !== 'string' || input.length > 300 || !/^[a-z][a-z0-9+.-]*:\/\/[^/?#\s\\]+\/?$/i.test(input)) {
    return /^[a-z][a-z0-9+.-]*:\/\//i.test(String(input)) ? no('not_an_origin') : no('not_url');
  }
  let u: URL;
  try {
    u = new URL(input);
  } catch {
    return no('not_url');
  }
  if (u.username || u.password || input.includes('@')) return no('not_an_origin');
  if (!HOST_NAME.test(u.hostname)) return no('not_an_origin');
  if (u.protocol === 'https:') return { ok: true, origin: u.origin };
  if (u.protocol === 'http:' && (u.hostname === 'localhost' || u.hostname === '127.0.0.1')) {
    return u.port ? { ok: true, origin: u.origin } : no('port_required');
  }
  return no('insecure_scheme');
}

export interface AllowedOrigin {
  origin: string;
  addedAt: string;
}

/** allowed-origins.json: the origins an administrator allowed, kept across restarts. */
export class OriginStore {
  readonly path: string;

  constructor(readonly dir: string) {
    ensureDir(dir);
    this.path = join(dir, ORIGINS_FILE);
  }

  /** Re-read on every call: the CLI changes the file while the bridge runs. */
  entries(): AllowedOrigin[] {
    if (!existsSync(this.path)) return [];
    chmodSync(this.path, 0o600);
    const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as { origins?: Array<Partial<AllowedOrigin>> };
    // An entry edited by hand into something invalid or non-canonical is ignored, not trusted.
    return (Array.isArray(parsed.origins) ? parsed.origins : []).flatMap((e) => {
      const c = typeof e?.origin === 'string' ? checkOrigin(e.origin) : null;
      return c?.ok && c.origin === e.origin ? [{ origin: c.origin, addedAt: String(e.addedAt ?? '') }] : [];
    });
  }

  list(): string[] {
    return this.entries().map((e) => e.origin);
  }

  private save(entries: AllowedOrigin[]): void {
    writePrivate(this.path, JSON.stringify({ version: 1, origins: entries }, null, 1));
  }

  /** Adds a checked origin; `added` is false when it was already there. */
  add(input: string): OriginCheck & { added?: boolean } {
    const c = checkOrigin(input);
    if (!c.ok) return c;
    const entries = this.entries();
    if (entries.some((e) => e.origin === c.origin)) return { ...c, added: false };
    this.save([...entries, { origin: c.origin, addedAt: new Date().toISOString() }]);
    return { ...c, added: true };
  }

  /** Removes an origin (any accepted spelling); returns the canonical origin removed, or null. */
  remove(input: string): string | null {
    const c = checkOrigin(input);
    const origin = c.ok ? c.origin : input;
    const entries = this.entries();
    if (!entries.some((e) => e.origin === origin)) return null;
    this.save(entries.filter((e) => e.origin !== origin));
    return origin;
  }
}

export interface LogEntry {
  event: string;
  origin?: string;
  outcome: string;
  keyId?: string;
  reader?: string;
  /**
   * Signatures and authentications: the certificate of the key used, as base64url SHA-256 of
   * its DER (identifies the card's key without any card data).
   */
  cert?: string;
  detail?: string;
}

/** 13 months: more than the 12 months SA2 asks. */
export const LOG_RETENTION_MS = 396 * 86_400_000;

export class AuditLog {
  readonly path: string;

  constructor(dir: string, now = Date.now()) {
    ensureDir(dir);
    this.path = join(dir, 'bridge-log.jsonl');
    this.prune(now);
  }

  write(e: LogEntry): void {
    const line = JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n';
    appendFileSync(this.path, line, { mode: 0o600 });
  }

  read(): Array<LogEntry & { time: string }> {
    if (!existsSync(this.path)) return [];
    return readFileSync(this.path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogEntry & { time: string });
  }

  private prune(now: number): void {
    if (!existsSync(this.path)) return;
    chmodSync(this.path, 0o600);
    const lines = readFileSync(this.path, 'utf8').split('\n').filter(Boolean);
    const keep = lines.filter((l) => {
      try {
        return now - Date.parse((JSON.parse(l) as { time: string }).time) <= LOG_RETENTION_MS;
      } catch {
        return true;
      }
    });
    if (keep.length !== lines.length) writePrivate(this.path, keep.map((l) => l + '\n').join(''));
  }
}
