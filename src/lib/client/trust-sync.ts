/** Tag of the periodic background sync that runs the trust store's schedules in the service worker. */
export const TRUST_SYNC_TAG = 'teletrans-trust-refresh';

/** Twice a day: the weekly CRL slot and the daily retries need no finer grain when no tab is open. */
export const TRUST_SYNC_MIN_INTERVAL_MS = 12 * 3600_000;
