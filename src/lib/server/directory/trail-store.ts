/**
 * Where the directory door's trail is kept (docs/domain/security.md SA2, 12 months): the relay's
 * store when this server runs a relay; otherwise an embedded SQLite file of its own
 * (TELETRANS_DIRECTORY_AUDIT_SQLITE, default ./data/directory-audit.sqlite), opened at first
 * use, holding the same audit table and pseudonym key as the relay's store, pruned past the
 * same retention at open and daily. Never stdout alone with a key drawn at each start (issue 24
 * defect 6): the trail and its pseudonyms outlive a restart.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DEFAULTS } from '../relay/config.js';
import { SqliteStore } from '../relay/store/sqlite.js';
import type { AuditEvent } from '../relay/store/types.js';

export interface TrailStore {
  audit(e: AuditEvent): Promise<void>;
  auditPseudonymKey(): Promise<Uint8Array>;
}

export const DEFAULT_TRAIL_FILE = './data/directory-audit.sqlite';

/**
 * `relay`: the relay's store, or null when none runs. The embedded file is opened once, only
 * when there is no relay; `file` overrides the environment (tests).
 */
export function directoryTrailStore(relay: () => Promise<TrailStore | null>, file = process.env.TELETRANS_DIRECTORY_AUDIT_SQLITE ?? DEFAULT_TRAIL_FILE): () => Promise<TrailStore> {
  let own: Promise<SqliteStore> | null = null;
  const embedded = (): Promise<SqliteStore> =>
    (own ??= (async () => {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const store = new SqliteStore(file);
      const prune = (): void => void store.pruneAudit(Date.now() - DEFAULTS.auditRetentionMs)
        .catch((e: Error) => process.stderr.write(`directory trail prune: ${e.message}\n`));
      prune();
      setInterval(prune, 24 * 3600_000).unref();
      return store;
    })());
  return async () => (await relay()) ?? embedded();
}
