/**
 * The tab's kiosk runtime (./kiosk.ts), on the card bridge's session; the setting is read from
 * the trust store, loaded on demand (the home page's first paint does not wait for it).
 */
import { cardBridge } from '../card/bridge-instance.js';
import { createKiosk, type Kiosk } from './kiosk.js';

let instance: Kiosk | null = null;

export function kiosk(): Kiosk {
  instance ??= createKiosk({
    session: cardBridge().session,
    load: async () => {
      const { trust } = await import('../ui/trust/trust-state.svelte.js');
      return (await trust.open())?.settings().kiosk ?? false;
    },
  });
  return instance;
}
