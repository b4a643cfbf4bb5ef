/**
 * One card bridge connection per tab, shared by every page that needs the cards.
 * Created lazily: pages that never touch the cards never open the WebSocket.
 */
import { createCardBridge, type CardBridge } from './stores.js';

let instance: CardBridge | null = null;

export function cardBridge(): CardBridge {
  instance ??= createCardBridge();
  return instance;
}
