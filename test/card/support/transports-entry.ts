/** Bundled into the Chromium page of transports-in-page.test.ts: the card core's transports, the suite, the emulations. */
export { CcidTransport } from '../../../src/lib/card/ccid/driver.js';
export { SmartCardTransport } from '../../../src/lib/card/smartcard/transport.js';
export { runCardSuite } from './services-suite.js';
export { installEmulatedSmartCard, transmitMs as smartCardTransmitMs } from './smartcard-shim.js';
export { installEmulatedHid, installEmulatedUsb, remoteCard } from './usb-shim.js';
export { HidCcidLink } from '../../../src/lib/card/ccid/hid-link.js';
export { VirtualCardServices } from '../../../src/lib/card/virtual-services.js';
