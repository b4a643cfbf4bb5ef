// Every page is rendered on the server, then hydrated (docs/adr/0020): the first paint does not
// wait for the JavaScript. The server renders only what needs no data — headings, help texts,
// the forms' empty state; the practitioner's data (IndexedDB, the cards, the relay) comes in the
// browser once hydrated. The service worker caches each page's HTML for offline use.
export const ssr = true;
