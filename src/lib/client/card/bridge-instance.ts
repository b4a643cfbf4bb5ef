/**
 * One card bridge connection per tab, shared by every page that needs the cards (and by the
 * root layout, for the session lock). Created lazily and started only where the cards are
 * used: pages that never touch them never open the WebSocket.
 */
import { DEFAULT_BRIDGE_URL, createCardBridge, type CardBridge } from './stores.js';

/** localStorage key of the bridge's address when it runs on another port (`--port N`). */
export const BRIDGE_URL_KEY = 'teletrans.bridge-url';

/** Only a loopback WebSocket address is accepted: the bridge never listens elsewhere. */
export function bridgeUrl(saved: string | null | undefined): string {
  return saved && /^ws:\/\/(?:127\.0\.0\.1|localhost):\d{1,5}\/$/.test(saved) ? saved : DEFAULT_BRIDGE_URL;
}

function savedUrl(): string | null {
  try {
    return globalThis.localStorage?.getItem(BRIDGE_URL_KEY) ?? null;
  } catch {
    return null;
  }
}

let instance: CardBridge | null = null;

/**
 * The last PIN try typed in the page, when the page serves the cards itself: the browser's own
 * dialog (a script cannot answer it), as the bridge asks at its terminal.
 */
function confirmLastPinTry(): Promise<boolean> {
  const ask = globalThis.confirm as ((m: string) => boolean) | undefined;
  return Promise.resolve(
    typeof ask === 'function' &&
      ask('Il ne reste qu’un essai au code porteur de cette CPS : un code faux la bloquera.\n\nTenter ce dernier essai avec le code saisi ?'),
  );
}

export function cardBridge(): CardBridge {
  instance ??= createCardBridge({ url: bridgeUrl(savedUrl()), confirmLastPinTry });
  return instance;
}
