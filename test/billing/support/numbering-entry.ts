/** Page bundle for numbering-browser.test.ts: the core numbering and the IndexedDB store. */
export { BillingNumbering } from '../../../src/lib/billing/numbering.js';
export { IdbCounterStore, IdbCounters, CounterDamagedError } from '../../../src/lib/client/store/counters.js';
