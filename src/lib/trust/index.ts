/**
 * The trust store core (pure, isomorphic): schedules, revocation index, audit trail and the
 * TrustService facade. Browser persistence lives in $lib/client/store.
 */
export * from './audit.js';
export * from './fetcher.js';
export * from './memory-store.js';
export * from './model.js';
export * from './revocation-index.js';
export * from './schedule.js';
export * from './service.js';
export * from '../time/zoned-time.js';
export * from './sha256.js';
