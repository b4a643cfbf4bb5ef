// The PWA renders in the browser: the HTML of every page is the same shell, which the
// service worker can serve for any route when offline. Server endpoints (+server.ts) are
// not affected by this option.
export const ssr = false;
