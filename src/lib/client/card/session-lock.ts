/**
 * The practitioner's session lock for the whole app (SA4: CPS removed → lock): a pure state
 * machine fed with the bridge's card events, kept in sessionStorage so that reloading the tab
 * does not lift it, and shared by the profile's tabs through localStorage (SHARED_LOCK_KEY).
 * The root layout hides every page behind it while `locked`.
 *
 *   none ──PIN verified──▶ unlocked(reader) ──CPS removed from that reader──▶ locked
 *     ▲                                                                          │
 *     └──────────── (new tab)          unlocked ◀──PIN verified again────────────┘
 */

export type LockReason =
  /** The CPS left the reader where the PIN was verified (or this could not be ruled out). */
  | 'removed'
  /** The tab was reloaded during a session: what happened to the card meanwhile is unknown. */
  | 'reload';

export type SessionLock =
  /** No CPS session in this tab yet: nothing to lock. */
  | { state: 'none' }
  | { state: 'unlocked'; reader: string }
  | { state: 'locked'; reason: LockReason };

export type LockEvent =
  | { type: 'pin-verified'; reader: string }
  | { type: 'removed'; reader: string }
  /** A card inserted into the session's reader: the CPS must have left it first. */
  | { type: 'inserted'; reader: string }
  /** The readers holding a CPS, as the bridge lists them when a connection opens. */
  | { type: 'cps-readers'; readers: string[] }
  /** The CPS no longer holds a verified PIN (reset, swapped while the bridge was unreachable). */
  | { type: 'pin-lost'; reader: string };

const LOCKED_REMOVED: SessionLock = { state: 'locked', reason: 'removed' };

export function nextLock(s: SessionLock, e: LockEvent): SessionLock {
  switch (e.type) {
    case 'pin-verified':
      return { state: 'unlocked', reader: e.reader };
    case 'removed':
    case 'inserted':
    case 'pin-lost':
      return s.state === 'unlocked' && s.reader === e.reader ? LOCKED_REMOVED : s;
    case 'cps-readers':
      return s.state === 'unlocked' && !e.readers.includes(s.reader) ? LOCKED_REMOVED : s;
  }
}

/** The subset of the Web Storage API used here (sessionStorage in the browser). */
export interface LockStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export const LOCK_STORAGE_KEY = 'teletrans.card-session';

/** Persists only the state and reason: no reader name, nothing about the card or the holder. */
export function saveLock(storage: LockStorage | null, s: SessionLock): void {
  try {
    if (s.state === 'none') storage?.removeItem(LOCK_STORAGE_KEY);
    else storage?.setItem(LOCK_STORAGE_KEY, s.state === 'locked' ? `locked:${s.reason}` : 'unlocked');
  } catch {
    /* storage full or disabled: the in-memory lock still holds */
  }
}

/** A tab that had a session comes back locked, whatever its state was. */
export function restoreLock(storage: LockStorage | null): SessionLock {
  let v: string | null = null;
  try {
    v = storage?.getItem(LOCK_STORAGE_KEY) ?? null;
  } catch {
    v = null;
  }
  if (v === null) return { state: 'none' };
  return { state: 'locked', reason: v === 'locked:removed' ? 'removed' : 'reload' };
}

/**
 * Shared by the tabs of the browser profile (localStorage): the lock is the practitioner's, not
 * one tab's. A tab locking makes every tab lock (storage event); a tab opened during a locked
 * session starts locked; a PIN verified in one tab unlocks the others that are open. Value:
 * `locked` or `unlocked:<reader>`.
 */
export const SHARED_LOCK_KEY = 'teletrans.card-lock';

export function sharedValue(s: SessionLock): string | null {
  if (s.state === 'none') return null;
  return s.state === 'locked' ? 'locked' : `unlocked:${s.reader}`;
}

/**
 * This tab's lock given what the shared value says. `live`: the value comes from another open
 * tab now (storage event), not from a start-up read; only then may it lift a lock, since a
 * reloaded tab must re-check its card through the bridge first.
 */
export function applyShared(s: SessionLock, value: string | null, live: boolean): SessionLock {
  if (value === 'locked') return s.state === 'locked' ? s : LOCKED_REMOVED;
  if (value?.startsWith('unlocked:')) {
    const reader = value.slice('unlocked:'.length);
    if (reader && (s.state === 'none' || (live && s.state === 'locked'))) return { state: 'unlocked', reader };
  }
  return s;
}

/** The French text of the lock screen. */
export function lockMessage(reason: LockReason): string {
  return reason === 'removed'
    ? 'Session verrouillée : carte CPS retirée. Réinsérez votre carte CPS et saisissez votre code PIN.'
    : 'Session verrouillée : la page a été rechargée. Saisissez votre code PIN pour reprendre.';
}
