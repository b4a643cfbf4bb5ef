import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [sveltekit()],
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
