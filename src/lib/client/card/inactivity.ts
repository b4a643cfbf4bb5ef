/**
 * Locking after inactivity (SA4, docs/domain/security.md): 15 minutes without a key, a click, a
 * touch, a wheel or a pointer movement in ANY tab of the app locks the practitioner's session,
 * and the PIN lifts it (session-lock.ts, reason `idle`). The tabs share their last activity
 * through localStorage (a time, nothing else), so working in one tab keeps the others open; a
 * lock in one tab then reaches the others through the shared lock.
 *
 * Timers of a hidden tab are throttled by the browser (up to a minute late): the deadline is
 * checked again whenever the tab becomes visible or gains focus, so a returning user never
 * finds an expired session open.
 */
import type { LockStorage } from './session-lock.js';

export const IDLE_LOCK_MS = 15 * 60_000;
/** localStorage key of the last activity of any tab (ms since the epoch). */
export const ACTIVITY_KEY = 'teletrans.last-activity';
/** A tab writes its activity to the shared storage at most this often. */
const SHARE_EVERY_MS = 10_000;

const EVENTS = ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart', 'input'] as const;

/** When the session becomes idle: the idle period after the latest activity known. */
export function idleAt(lastLocal: number, lastShared: number | null, idleMs: number): number {
  return Math.max(lastLocal, lastShared ?? 0) + idleMs;
}

export interface InactivityOptions {
  onIdle: () => void;
  idleMs?: number;
  now?: () => number;
  /** Where the tabs share their last activity (default localStorage; null: not shared). */
  storage?: LockStorage | null;
  /** Where activity is heard (default document). */
  target?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'> | null;
}

export interface InactivityWatch {
  /** Records activity now (also what the DOM events do). */
  touch(): void;
  /** Checks the deadline now (the timer and visibility changes do). */
  check(): void;
  stop(): void;
}

function readShared(storage: LockStorage | null): number | null {
  try {
    const v = Number(storage?.getItem(ACTIVITY_KEY));
    return Number.isFinite(v) && v > 0 ? v : null;
  } catch {
    return null;
  }
}

export function watchInactivity(o: InactivityOptions): InactivityWatch {
  const idleMs = o.idleMs ?? IDLE_LOCK_MS;
  const now = o.now ?? (() => Date.now());
  const storage = o.storage === undefined ? (globalThis.localStorage ?? null) : o.storage;
  const target = o.target === undefined ? (globalThis.document ?? null) : o.target;
  let last = now();
  let shared = 0;
  let fired = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const share = (t: number): void => {
    if (t - shared < SHARE_EVERY_MS) return;
    shared = t;
    try {
      storage?.setItem(ACTIVITY_KEY, String(t));
    } catch {
      /* storage full or disabled: this tab still counts its own activity */
    }
  };

  const arm = (delay: number): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(check, Math.max(1_000, delay));
  };

  function check(): void {
    const t = now();
    const deadline = idleAt(last, readShared(storage), idleMs);
    if (t >= deadline) {
      if (!fired) {
        fired = true;
        o.onIdle();
      }
      // Idle: nothing to wait for until someone acts again.
      if (timer) clearTimeout(timer);
      timer = undefined;
      return;
    }
    arm(deadline - t);
  }

  function touch(): void {
    const t = now();
    last = t;
    share(t);
    if (fired || !timer) {
      fired = false;
      arm(idleMs);
    }
  }

  const onVisible = (): void => {
    if (globalThis.document?.visibilityState !== 'hidden') check();
  };
  for (const e of EVENTS) target?.addEventListener(e, touch, { capture: true, passive: true });
  target?.addEventListener('visibilitychange', onVisible);
  globalThis.addEventListener?.('focus', onVisible);
  share(last);
  arm(idleMs);

  return {
    touch,
    check,
    stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      for (const e of EVENTS) target?.removeEventListener(e, touch, { capture: true });
      target?.removeEventListener('visibilitychange', onVisible);
      globalThis.removeEventListener?.('focus', onVisible);
    },
  };
}
