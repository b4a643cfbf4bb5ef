/**
 * The fictitious PKI of the embedded system (demo relay, simulated cards, tests): issuance only,
 * never validation (that is src/lib/pki). Not imported by the PWA.
 */
export * from './issue.js';
export * from './cps.js';
export * from './org.js';
