import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

// End-to-end tests build into a private directory (inside the repository, so that Node resolves
// node_modules from the server output) and never race `npm start` or another build.
const privateBuild = process.env.TELETRANS_BUILD_DIR;

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    adapter: adapter({ out: privateBuild ? `${privateBuild}/build` : 'build' }),
    outDir: privateBuild ? `${privateBuild}/svelte-kit` : '.svelte-kit',
    paths: {
      // Absolute asset URLs: the service worker serves the same cached shell for every route.
      relative: false
    },
    // Content-Security-Policy of every page (sent as a header: pages are rendered per request,
    // never prerendered). SvelteKit adds the hash of the page's inline start-up script to
    // script-src; the service worker keeps each page's HTML with its response headers, so the
    // hash also holds for the copy it serves offline. No 'unsafe-inline' and no 'unsafe-eval'
    // for scripts. The other security headers are in src/hooks.server.ts.
    csp: {
      mode: 'hash',
      directives: {
        'default-src': ['self'],
        'script-src': ['self'],
        // Stylesheets are files of the build; inline style *attributes* are allowed (SvelteKit's
        // route announcer and app.html use one), inline <style> elements are not.
        'style-src': ['self'],
        'style-src-attr': ['unsafe-inline'],
        'img-src': ['self'],
        'font-src': ['self'],
        // The app's origin (relay API, directory fetch, version check) and the local card
        // bridge: loopback only, on whichever port it listens (`--port`, see
        // src/lib/client/card/bridge-instance.ts).
        'connect-src': ['self', 'ws://127.0.0.1:*', 'ws://localhost:*'],
        'manifest-src': ['self'],
        'worker-src': ['self'],
        'frame-src': ['none'],
        'object-src': ['none'],
        'base-uri': ['none'],
        'form-action': ['self'],
        // No other page may frame the app (it would overlay the pairing code or the PIN field).
        'frame-ancestors': ['none']
      }
    },
    // The stylesheets of the page's layout and route come inside its HTML (their hashes in the
    // CSP's style-src): the first paint waits for no other request, which on a slow mobile
    // network is a round trip saved (issue 14's performance goal). Bigger ones stay files.
    inlineStyleThreshold: 16_384,
    serviceWorker: {
      // Registered by src/lib/client/service-worker-registration.ts (workbox-window), production only.
      register: false
    },
    typescript: {
      // Type-check the TypeScript that lives outside src/ and test/ as well.
      config(tsconfig) {
        tsconfig.include.push('../bench/**/*.ts', '../bridge/**/*.ts', '../scripts/**/*.ts');
        return tsconfig;
      }
    }
  }
};

export default config;
