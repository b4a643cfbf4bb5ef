/**
 * Where the relay keeps each practitioner's PRO Santé Connect refresh token: encrypted at rest
 * (AES-256-GCM, the practitioner's id as associated data, so a file moved to another name does
 * not open), one file per practitioner under a 0700 folder, written atomically. The key comes
 * from the deployment (32 bytes, base64) or a 0600 file made once beside the folder. Access
 * tokens stay in memory only: they live minutes and are renewed from the refresh token.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StoredGrant {
  refreshToken: string;
  /** Epoch ms after which the refresh token is no use. */
  refreshExpiresAt: number;
  address: string;
}

export interface TokenVault {
  put(practitioner: string, g: StoredGrant): void;
  get(practitioner: string): StoredGrant | null;
  delete(practitioner: string): void;
}

export class MemoryTokenVault implements TokenVault {
  private readonly m = new Map<string, StoredGrant>();
  put(p: string, g: StoredGrant): void { this.m.set(p, g); }
  get(p: string): StoredGrant | null { return this.m.get(p) ?? null; }
  delete(p: string): void { this.m.delete(p); }
}

export class FileTokenVault implements TokenVault {
  private readonly key: Buffer;
  constructor(private readonly dir: string, key?: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    if (key) {
      this.key = Buffer.from(key, 'base64');
    } else {
      const f = join(dir, '..', 'mss-token-key');
      if (!existsSync(f)) writeFileSync(f, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
      this.key = Buffer.from(readFileSync(f, 'utf8').trim(), 'base64');
    }
    if (this.key.length !== 32) throw new Error('mss token vault: the key must be 32 bytes (base64)');
  }

  private file(p: string): string {
    return join(this.dir, `${createHash('sha256').update(p).digest('hex')}.bin`);
  }

  put(p: string, g: StoredGrant): void {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(p));
    const body = Buffer.concat([c.update(JSON.stringify(g), 'utf8'), c.final()]);
    const f = this.file(p);
    writeFileSync(`${f}.tmp`, Buffer.concat([iv, c.getAuthTag(), body]), { mode: 0o600 });
    renameSync(`${f}.tmp`, f);
  }

  get(p: string): StoredGrant | null {
    const f = this.file(p);
    if (!existsSync(f)) return null;
    const raw = readFileSync(f);
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      d.setAAD(Buffer.from(p));
      d.setAuthTag(raw.subarray(12, 28));
      return JSON.parse(Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8')) as StoredGrant;
    } catch {
      // Tampered, or another key: fail closed — the practitioner signs in again.
      return null;
    }
  }

  delete(p: string): void {
    rmSync(this.file(p), { force: true });
  }
}
