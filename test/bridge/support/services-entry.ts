/** Bundled into the Chromium page of services-in-page.test.ts: the card services core, nothing of the bridge. */
export { VirtualCardServices } from '../../../src/lib/card/virtual-services.js';
export { CardServiceError } from '../../../src/lib/card/services.js';
