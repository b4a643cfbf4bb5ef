/**
 * The command line's pairing with the card bridge, kept in a file its owner alone can read
 * (ADR 0012): `{"v":1,"keyId":…,"key":…}`, the key in base64url. The browser keeps its pairing
 * key non-extractable in IndexedDB; a Node process has no such keystore, so this file is the
 * command line's equivalent of an SSH private key: mode 0600 in a 0700 directory, written
 * atomically, never printed. A damaged file or one others can read is an error, never a
 * silent new pairing (the administrator decides: `--pairing` elsewhere, or remove it).
 */
import { chmod, lstat, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { b64u, importPairingKey, unb64u } from '../card/protocol.js';
import type { PairingKeyStore, StoredPairing } from '../client/card/client.js';

export class PairingFileError extends Error {
  constructor(
    readonly code: 'pairing_unreadable' | 'pairing_exposed',
    message: string,
  ) {
    super(message);
    this.name = 'PairingFileError';
  }
}

const KEY_ID = /^[A-Za-z0-9_-]{8,64}$/;
const MAX_BYTES = 4096;

/** Default: $XDG_STATE_HOME/teletrans/bridge-pairing.json (or ~/.local/state/…). */
export function defaultPairingPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME || `${env.HOME ?? '.'}/.local/state`;
  return `${base}/teletrans/bridge-pairing.json`;
}

export class FilePairingKeyStore implements PairingKeyStore {
  constructor(readonly path: string) {}

  async get(): Promise<StoredPairing | null> {
    let st;
    try {
      st = await lstat(this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new PairingFileError('pairing_unreadable', `appairage « ${this.path} » illisible : ${(e as Error).message}`);
    }
    if (!st.isFile()) throw new PairingFileError('pairing_unreadable', `appairage « ${this.path} » : pas un fichier ordinaire`);
    if (st.mode & 0o077) throw new PairingFileError('pairing_exposed', `appairage « ${this.path} » lisible par d’autres (mode ${(st.mode & 0o777).toString(8)}) : refusé ; retirez-le et appairez de nouveau`);
    if (st.size > MAX_BYTES) throw new PairingFileError('pairing_unreadable', `appairage « ${this.path} » trop long`);
    let data: { v?: unknown; keyId?: unknown; key?: unknown };
    try {
      data = JSON.parse(await readFile(this.path, 'utf8')) as typeof data;
    } catch (e) {
      throw new PairingFileError('pairing_unreadable', `appairage « ${this.path} » illisible : ${(e as Error).message.slice(0, 120)}`);
    }
    if (data?.v !== 1 || typeof data.keyId !== 'string' || !KEY_ID.test(data.keyId) || typeof data.key !== 'string') {
      throw new PairingFileError('pairing_unreadable', `appairage « ${this.path} » : contenu inattendu`);
    }
    let raw: Uint8Array;
    try {
      raw = unb64u(data.key, 64);
    } catch {
      throw new PairingFileError('pairing_unreadable', `appairage « ${this.path} » : clé illisible`);
    }
    if (raw.length !== 32) throw new PairingFileError('pairing_unreadable', `appairage « ${this.path} » : clé de ${raw.length} octets, 32 attendus`);
    try {
      return { keyId: data.keyId, key: await importPairingKey(raw) };
    } finally {
      raw.fill(0);
    }
  }

  async set(p: StoredPairing, raw?: Uint8Array): Promise<void> {
    if (!raw || raw.length !== 32) throw new PairingFileError('pairing_unreadable', 'clé d’appairage absente : rien à enregistrer');
    if (!KEY_ID.test(p.keyId)) throw new PairingFileError('pairing_unreadable', 'identifiant d’appairage inattendu');
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    // Created 0600 from the start (never readable by others, even for an instant), then renamed.
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify({ v: 1, keyId: p.keyId, key: b64u(raw) }) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await chmod(tmp, 0o600);
      await rename(tmp, this.path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async clear(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
