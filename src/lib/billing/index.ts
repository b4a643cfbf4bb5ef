/**
 * The billing core (issue 13, first slice): model, act catalogue (data), pricing in integer
 * cents with its working, and the checks before signing. Isomorphic: no I/O, no wall clock.
 */
export * from './errors.js';
export * from './dates.js';
export * from './practitioner.js';
export * from './beneficiary.js';
export * from './invoice.js';
export * from './catalogue.js';
export { CATALOGUE_DATA } from './catalogue-data.js';
export * from './pricing.js';
export * from './checks.js';
