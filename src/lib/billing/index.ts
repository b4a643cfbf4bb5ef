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
export * from './ssv/types.js';
export * from './numbering.js';
export * from './routing-data.js';
export * from './lots.js';
export * from './ssv/sim-format.js';
export * from './ssv/simulator.js';
export * from './ssv/pipeline.js';
export * from './reader.js';
export * from './signing.js';
export * from './invoice-json.js';
