import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [sveltekit()],
  build: {
    // Chunks under 20 kB are merged where that loads no code an entry would not load anyway:
    // a page started with ~38 script requests, each a round trip on a mobile network and a few
    // milliseconds of the main thread to issue; now ~26 (issue 14's performance goal).
    rollupOptions: { output: { experimentalMinChunkSize: 20_000 } }
  },
  server: {
    host: '127.0.0.1'
  },
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    environment: 'node',
    // Some suites start Chromium, OpenSSL or a production build of the app.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // One production build of the app for the whole run, made only when a selected test file
    // uses it (buildApp() in test/e2e/app-server.ts).
    globalSetup: ['test/e2e/global-setup.ts']
  }
});
