/** Bundled into the Chromium page of store-browser.test.ts: the billing core, its sealed store, a fictitious CPS key. */
export * from '../../../src/lib/billing/index.js';
export { IdbBillingStore, BillingStoreError, BILLING_DB } from '../../../src/lib/client/store/billing.js';
export { IdbKeySlotStore } from '../../../src/lib/client/store/key-slots.js';
export { IdbOutbox } from '../../../src/lib/client/store/outbox.js';
export { openDataKey, keyIdOf, AtRestError } from '../../../src/lib/client/store/at-rest.js';
export { atRestInput } from '../../../src/lib/card/protocol.js';
export { genKey, issueCert, issueCpsCertificate } from '../../../src/lib/pki/demo/index.js';

import { atRestInput } from '../../../src/lib/card/protocol.js';
/**
 * What the bridge's `card.deriveKey` returns, computed with a fictitious card key in the page:
 * the same PKCS#1 v1.5 signature over the same input (test/bridge/session.test.ts checks the
 * bridge's own on pcscd + vpcd).
 */
export function cardSecretOf(privateKey: CryptoKey, origin: string) {
  return async (salt: Uint8Array): Promise<Uint8Array> => new Uint8Array(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', privateKey, (await atRestInput(origin, salt)).slice().buffer as ArrayBuffer));
}

import { IdbKeySlotStore } from '../../../src/lib/client/store/key-slots.js';
import { keyIdOf, openDataKey, type DataKey } from '../../../src/lib/client/store/at-rest.js';
const bytes = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const text = (b: Uint8Array): string => btoa(String.fromCharCode(...b));

/** Keeps a fictitious card (its key and certificate) across the test's reloads and tabs. */
export async function keepTestCard(name: string, privateKey: CryptoKey, cert: Uint8Array): Promise<void> {
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', privateKey));
  localStorage.setItem(`card-${name}`, JSON.stringify({ pkcs8: text(pkcs8), cert: text(cert) }));
}

/** The data key that card opens on this workstation (the slot in IndexedDB, as the app does). */
export async function testCardKey(name: string): Promise<DataKey> {
  const saved = JSON.parse(localStorage.getItem(`card-${name}`)!) as { pkcs8: string; cert: string };
  const privateKey = await crypto.subtle.importKey('pkcs8', bytes(saved.pkcs8).slice().buffer as ArrayBuffer, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
  return openDataKey({ keyId: await keyIdOf(bytes(saved.cert)), card: cardSecretOf(privateKey, location.origin), slots: new IdbKeySlotStore() });
}
