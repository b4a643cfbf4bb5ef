/**
 * Kiosk mode in the page (issue 16 item 1; docs/kiosk.md): on a device its administrator set
 * as a kiosk, the card is the session.
 *
 * - While no card session is open, the layout shows a neutral welcome screen instead of the
 *   pages (`active` and the session lock, +layout.svelte).
 * - When the session ends (card removed; also an idle lock or a lost bridge session: on a
 *   shared device nothing stays behind a lock), the screen is emptied at once and the document
 *   replaced by a fresh one: no patient, invoice or name of the previous holder remains in the
 *   DOM or in the memory of this tab (its stores, its decrypted records, its keys all go with
 *   the old document; `replace` leaves no history entry to come back to).
 * - No way out: links to other origins, downloads and new windows are refused in the page
 *   (the browser's kiosk session closes the rest: docs/kiosk.md).
 *
 * The setting itself lives in the trust store's settings (sealed, journaled, changed only by an
 * administrator: ./device.ts). A copy in localStorage says it before the store has opened, so
 * that the first paint after a reload is already the welcome screen; the store's value wins.
 */
import { writable, type Readable } from 'svelte/store';
import type { SessionLock } from '../card/session-lock.js';

export const KIOSK_HINT_KEY = 'teletrans.kiosk';

export const KIOSK_REFUSAL = 'Sur ce poste partagé, les liens vers d’autres sites, les téléchargements et les nouvelles fenêtres sont désactivés.';

export interface KioskOptions {
  /** The card session (the bridge's lock state). */
  session: Readable<SessionLock>;
  /** The setting as the trust store holds it (the authority). */
  load: () => Promise<boolean>;
  /** Ends the previous holder's document (default: emptied, then replaced by the home page). */
  clear?: () => void;
  /** Says a refused way out (default: an alert region the layout shows). */
  refuse?: (message: string) => void;
}

export interface Kiosk {
  /** Kiosk mode on for this device. */
  readonly active: Readable<boolean>;
  /** The last refusal said, for the layout's alert; null when none. */
  readonly refusal: Readable<string | null>;
  /** Applies a setting just changed (the administrator's page). */
  set(on: boolean): void;
  stop(): void;
}

function readHint(): boolean {
  try {
    return globalThis.localStorage?.getItem(KIOSK_HINT_KEY) === '1';
  } catch {
    return false;
  }
}

function writeHint(on: boolean): void {
  try {
    if (on) globalThis.localStorage?.setItem(KIOSK_HINT_KEY, '1');
    else globalThis.localStorage?.removeItem(KIOSK_HINT_KEY);
  } catch {
    // Storage refused: the store's value still applies once read.
  }
}

/** Empties the page at once, then loads a fresh document in place of this one. */
export function clearDocument(): void {
  performance.mark('teletrans-kiosk-clear');
  document.body.replaceChildren();
  document.title = 'Teletrans';
  location.replace(new URL('/', location.href).href);
}

/** Is this link a way out: another origin, a download, or a new window? */
export function isWayOut(a: HTMLAnchorElement | HTMLAreaElement, here: string): boolean {
  if (a.hasAttribute('download')) return true;
  const target = a.getAttribute('target');
  if (target && target !== '_self' && target !== '_top' && target !== '_parent') return true;
  const href = a.getAttribute('href');
  if (href === null) return false;
  let url: URL;
  try {
    url = new URL(href, here);
  } catch {
    return true; // a link the browser cannot read leads nowhere we know
  }
  return url.origin !== new URL(here).origin;
}

export function createKiosk(o: KioskOptions): Kiosk {
  const active = writable(readHint());
  const refusal = writable<string | null>(null);
  const clear = o.clear ?? clearDocument;
  let said: ReturnType<typeof setTimeout> | undefined;
  const refuse =
    o.refuse ??
    ((m: string) => {
      refusal.set(m);
      clearTimeout(said);
      said = setTimeout(() => refusal.set(null), 6_000);
    });
  let on = readHint();
  let guards: (() => void) | null = null;

  function guard(): () => void {
    const onClick = (e: MouseEvent): void => {
      const a = (e.target as Element | null)?.closest?.('a[href], area[href], a[download]') as HTMLAnchorElement | null;
      if (!a || !isWayOut(a, location.href)) return;
      e.preventDefault();
      e.stopImmediatePropagation();
      refuse(KIOSK_REFUSAL);
    };
    // Links clicked from code (a download made by the app) never reach the document's listener.
    const anchorClick = HTMLAnchorElement.prototype.click;
    HTMLAnchorElement.prototype.click = function (this: HTMLAnchorElement) {
      if (isWayOut(this, location.href)) return refuse(KIOSK_REFUSAL);
      anchorClick.call(this);
    };
    const open = window.open;
    window.open = () => {
      refuse(KIOSK_REFUSAL);
      return null;
    };
    // Full screen at the first touch (a page may only ask it during a user gesture).
    const full = (): void => {
      if (!document.fullscreenElement) void document.documentElement.requestFullscreen?.().catch(() => undefined);
    };
    document.addEventListener('click', onClick, true);
    document.addEventListener('auxclick', onClick, true);
    document.addEventListener('pointerdown', full, { once: true });
    document.documentElement.dataset['kiosk'] = '';
    const manifest = document.querySelector<HTMLLinkElement>('link[rel="manifest"]');
    const before = manifest?.getAttribute('href') ?? null;
    manifest?.setAttribute('href', '/kiosk.webmanifest');
    return () => {
      document.removeEventListener('click', onClick, true);
      document.removeEventListener('auxclick', onClick, true);
      document.removeEventListener('pointerdown', full);
      HTMLAnchorElement.prototype.click = anchorClick;
      window.open = open;
      delete document.documentElement.dataset['kiosk'];
      if (manifest && before !== null) manifest.setAttribute('href', before);
    };
  }

  function apply(next: boolean): void {
    on = next;
    active.set(next);
    writeHint(next);
    if (next && !guards) guards = guard();
    if (!next && guards) {
      guards();
      guards = null;
    }
  }

  apply(on);
  let stopped = false;
  void o.load().then((v) => !stopped && apply(v)).catch(() => undefined);

  // The session ending clears the screen; a session that never opened in this document has
  // nothing to clear.
  let was: SessionLock['state'] | null = null;
  const unsubscribe = o.session.subscribe((s) => {
    const before = was;
    was = s.state;
    if (on && before === 'unlocked' && s.state !== 'unlocked') clear();
  });

  return {
    active: { subscribe: active.subscribe },
    refusal: { subscribe: refusal.subscribe },
    set: apply,
    stop() {
      stopped = true;
      unsubscribe();
      if (guards) guards();
      guards = null;
    },
  };
}
