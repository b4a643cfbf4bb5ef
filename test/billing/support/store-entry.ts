/** Bundled into the Chromium page of store-browser.test.ts: the billing core, its store, a fictitious CPS signature key. */
export * from '../../../src/lib/billing/index.js';
export { IdbBillingStore, BillingStoreError } from '../../../src/lib/client/store/billing.js';
export { genKey, issueCert, issueCpsCertificate } from '../../../src/lib/pki/demo/index.js';
