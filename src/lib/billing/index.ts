/**
 * The billing core (issue 13): model, act catalogue (data), pricing in integer cents with its
 * working, checks, numbering, the SSV seam and our simulator, signatures, lots and files, the
 * insurer's reader, and the life of invoices, documents and lots (lifecycle.ts). Isomorphic:
 * no I/O, no wall clock.
 */
export * from './errors.js';
export * from './dates.js';
export * from './practitioner.js';
export * from './from-cards.js';
export * from './beneficiary.js';
// `transition` stays internal: state changes go through the domain operations (lifecycle.ts).
export {
  INVOICE_STATES,
  allowedTransitions,
  canTransition,
  BILLING_CONTEXTS,
  NATURES,
  CARE_PATHWAYS,
  coefficientHundredths,
  createInvoice,
  type InvoiceState,
  type BillingContext,
  type Nature,
  type CarePathway,
  type Act,
  type Prescriber,
  type Invoice,
  type ActInput,
  type InvoiceInput,
} from './invoice.js';
export * from './catalogue.js';
export * from './act-search.js';
export { CATALOGUE_DATA } from './catalogue-data.js';
export * from './pricing.js';
export * from './checks.js';
export * from './evaluate.js';
export * from './ssv/types.js';
export * from './numbering.js';
export * from './routing-data.js';
export * from './lots.js';
export * from './ssv/sim-format.js';
export * from './ssv/simulator.js';
export * from './ssv/pipeline.js';
export * from './ssv/send.js';
export * from './reader.js';
export * from './signing.js';
export * from './invoice-json.js';
export * from './lifecycle.js';
export * from './summary.js';
export * from './transmit.js';
export * from './retention.js';
// What an ARL or an RSP does to the records (issue 15).
export * from './returns.js';
export * from './return-actions.js';
export * from './payments.js';
