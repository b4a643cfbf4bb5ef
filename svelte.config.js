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
