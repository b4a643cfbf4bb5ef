/** Bundled into the Chromium page of chromium.test.ts: the browser side of the channel. */
export { BridgeClient, MemoryKeyStore } from '../../src/lib/client/card/client.js';
export { IdbKeyStore } from '../../src/lib/client/card/key-store.js';
export { createCardBridge } from '../../src/lib/client/card/stores.js';
