/**
 * The app's pages, as the service worker precaches them for offline use (one HTML each: pages
 * are rendered on the server and hydrated, docs/adr/0020). test/unit/pages.test.ts keeps this
 * list equal to the routes under src/routes.
 */
export const PAGES = ['/', '/cartes', '/certificats', '/certificats/journal', '/certificats/verifier', '/facturer', '/messagerie', '/poste'] as const;
