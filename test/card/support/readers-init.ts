/** Bundled into an init script of the app's pages (test/e2e/in-page-reader.test.ts): the emulated readers only. */
export { installEmulatedHid, installEmulatedUsb, remoteCard } from './usb-shim.js';
