/**
 * The practitioner's session lock for the whole app (SA4: CPS removed or 15 minutes idle → lock): a pure state
 * machine fed with the bridge's card events, kept in sessionStorage so that reloading the tab
 * does not lift it, and shared by the profile's tabs through localStorage (SHARED_LOCK_KEY).
 * The root layout hides every page behind it while `locked`. Every lock is also sent to the
 * bridge (`session.lock`, stores.ts), which holds the card session itself: it refuses to sign
 * until the PIN is verified again in that tab's session, and resets the card.
 *
 *   none ──PIN verified──▶ unlocked(reader) ──CPS removed from that reader──▶ locked
 *     ▲                         │ 15 min without activity (inactivity.ts) ──▶ locked (idle)
 *     └──────────── (new tab)          unlocked ◀──PIN verified again────────────┘
 */

export type LockReason =
  /** The CPS left the reader where the PIN was verified (or this could not be ruled out). */
  | 'removed'
  /** The tab was reloaded during a session: what happened to the card meanwhile is unknown. */
  | 'reload'
  /**
   * The connection to the bridge was lost and opened again: the bridge ended the old session and
   * reset the card, the new session has no PIN.
   */
  | 'reconnected'
  /** No activity in any tab for the idle period (SA4: 15 minutes, inactivity.ts). */
  | 'idle';

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
  | { type: 'pin-lost'; reader: string }
  /** A new session with the bridge: it holds no PIN until the practitioner types it in it. */
  | { type: 'session-lost' }
  /** Nobody used the app for the idle period. */
  | { type: 'idle' };

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
    case 'session-lost':
      return s.state === 'unlocked' ? { state: 'locked', reason: 'reconnected' } : s;
    case 'idle':
      return s.state === 'unlocked' ? { state: 'locked', reason: 'idle' } : s;
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
  return { state: 'locked', reason: v === 'locked:removed' ? 'removed' : v === 'locked:idle' ? 'idle' : 'reload' };
}

/**
 * Shared by the tabs of the browser profile (localStorage): the lock is the practitioner's, not
 * one tab's. A tab locking makes every tab lock (storage event); a tab opened during a locked
 * session starts locked. Unlocking is each tab's own: every tab has its own session with the
 * bridge, which signs only for a session that verified the PIN itself, so a PIN typed in one tab
 * unlocks that tab only. Value: `locked` or `unlocked:<reader>`.
 */
export const SHARED_LOCK_KEY = 'teletrans.card-lock';

export function sharedValue(s: SessionLock): string | null {
  if (s.state === 'none') return null;
  return s.state === 'locked' ? 'locked' : `unlocked:${s.reader}`;
}

/**
 * This tab's lock given what the shared value says (`live`: from another open tab now, by a
 * storage event, rather than read at start-up). Only a lock travels between tabs: an unlock
 * never does, since the bridge would refuse this tab's session its signatures until the PIN is
 * verified in it (docs/adr/0003-bridge-holds-card-session.md).
 */
export function applyShared(s: SessionLock, value: string | null, _live: boolean): SessionLock {
  if (value === 'locked') return s.state === 'locked' ? s : LOCKED_REMOVED;
  return s;
}

/** The French text of the lock screen. */
export function lockMessage(reason: LockReason): string {
  switch (reason) {
    case 'removed':
      return 'Session verrouillée : carte CPS retirée. Réinsérez votre carte CPS et saisissez votre code PIN.';
    case 'reload':
      return 'Session verrouillée : la page a été rechargée. Saisissez votre code PIN pour reprendre.';
    case 'reconnected':
      return 'Session verrouillée : la connexion au pont de cartes a été interrompue. Saisissez votre code PIN pour reprendre.';
    case 'idle':
      return 'Session verrouillée après 15 minutes sans activité. Saisissez votre code PIN pour reprendre.';
  }
}
