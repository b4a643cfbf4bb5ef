/**
 * Locking after 15 minutes without activity (SA4): the state machine's `idle` event, and the
 * watch that raises it — activity heard on the page, shared by the tabs through localStorage,
 * checked again when the tab comes back. Timers are vitest's fake ones; the clock is injected.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ACTIVITY_KEY, IDLE_LOCK_MS, idleAt, watchInactivity } from '../../src/lib/client/card/inactivity.js';
import { lockMessage, nextLock, restoreLock, saveLock, type LockStorage } from '../../src/lib/client/card/session-lock.js';

const MIN = 60_000;

function memory(): LockStorage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v), removeItem: (k) => void data.delete(k) };
}

describe('the idle lock in the state machine', () => {
  it('locks an open session only; the PIN reopens it; a reload keeps the reason', () => {
    expect(nextLock({ state: 'none' }, { type: 'idle' })).toEqual({ state: 'none' });
    expect(nextLock({ state: 'unlocked', reader: 'R0' }, { type: 'idle' })).toEqual({ state: 'locked', reason: 'idle' });
    const removed = { state: 'locked', reason: 'removed' } as const;
    expect(nextLock(removed, { type: 'idle' })).toBe(removed);
    expect(nextLock({ state: 'locked', reason: 'idle' }, { type: 'pin-verified', reader: 'R0' })).toEqual({ state: 'unlocked', reader: 'R0' });
    const st = memory();
    saveLock(st, { state: 'locked', reason: 'idle' });
    expect(restoreLock(st)).toEqual({ state: 'locked', reason: 'idle' });
    expect(lockMessage('idle')).toBe('Session verrouillée après 15 minutes sans activité. Saisissez votre code PIN pour reprendre.');
    expect(IDLE_LOCK_MS).toBe(15 * MIN);
  });
});

describe('watchInactivity', () => {
  let t: number;
  let target: EventTarget;
  let storage: ReturnType<typeof memory>;
  let idle: number;
  beforeEach(() => {
    vi.useFakeTimers();
    t = Date.UTC(2026, 11, 7, 8, 0);
    target = new EventTarget();
    storage = memory();
    idle = 0;
  });
  afterEach(() => vi.useRealTimers());

  const advance = (ms: number): void => {
    t += ms;
    vi.advanceTimersByTime(ms);
  };
  const watch = () => watchInactivity({ onIdle: () => idle++, now: () => t, storage, target });

  it('no activity for 15 minutes: idle once, not before', () => {
    const w = watch();
    advance(15 * MIN - 1_000);
    expect(idle).toBe(0);
    advance(1_000);
    expect(idle).toBe(1);
    advance(60 * MIN);
    expect(idle).toBe(1);
    w.stop();
  });

  it('a key, a click or a pointer movement pushes the deadline; after the lock, activity starts a new period', () => {
    const w = watch();
    advance(10 * MIN);
    target.dispatchEvent(new Event('keydown'));
    advance(10 * MIN);
    expect(idle).toBe(0);
    target.dispatchEvent(new Event('pointermove'));
    advance(14 * MIN);
    expect(idle).toBe(0);
    advance(1 * MIN);
    expect(idle).toBe(1);
    target.dispatchEvent(new Event('pointerdown'));
    advance(15 * MIN);
    expect(idle).toBe(2);
    w.stop();
    // Stopped: events and time do nothing more.
    target.dispatchEvent(new Event('keydown'));
    advance(30 * MIN);
    expect(idle).toBe(2);
  });

  it('activity in another tab (the shared time) keeps this one open; only a time is shared', () => {
    const w = watch();
    expect(storage.data.get(ACTIVITY_KEY)).toBe(String(t));
    advance(14 * MIN);
    storage.data.set(ACTIVITY_KEY, String(t)); // the other tab, now
    advance(2 * MIN);
    expect(idle).toBe(0);
    advance(13 * MIN);
    expect(idle).toBe(1);
    expect([...storage.data.keys()]).toEqual([ACTIVITY_KEY]);
    expect(idleAt(100, null, 5)).toBe(105);
    expect(idleAt(100, 200, 5)).toBe(205);
    // A damaged shared value counts as no activity, never as « always active ».
    storage.data.set(ACTIVITY_KEY, 'n’importe quoi');
    w.touch();
    advance(15 * MIN);
    expect(idle).toBe(2);
    w.stop();
  });

  it('a late timer (hidden tab) is caught up by an explicit check when the tab returns', () => {
    const w = watch();
    t += 20 * MIN; // the clock moved, the throttled timer has not run yet
    expect(idle).toBe(0);
    w.check();
    expect(idle).toBe(1);
    w.stop();
  });
});
