/**
 * Vitest global setup (vite.config.ts `test.globalSetup`): one production build of the app for
 * the whole run, shared by every test file that calls buildApp() (test/e2e/app-server.ts).
 *
 * Vitest runs each test file in a worker of its own, so a build made in a file's beforeAll
 * cannot be shared; the global setup runs once, in the main process, before any worker. It
 * builds only when a selected test file calls buildApp(): a run of unit tests alone builds
 * nothing. The build is removed when the run ends. TELETRANS_E2E_SHARED_BUILD=off turns the
 * sharing off: each file then builds its own, as it does when run outside this setup.
 */
import { readFileSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { SHARED_BUILD_KEY, buildPrivateApp } from './app-server';

/** Whether the test file at `path` uses the production build (calls buildApp()). */
function usesBuild(path: string): boolean {
  try {
    return /\bbuildApp\(/.test(readFileSync(path, 'utf8'));
  } catch {
    return false;
  }
}

export default async function setup(project: TestProject): Promise<(() => void) | undefined> {
  // The files of this run, collected before the global setup runs.
  const files = project.vitest.state.getPaths();
  if (process.env.TELETRANS_E2E_SHARED_BUILD === 'off' || !files.some(usesBuild)) return undefined;
  const started = Date.now();
  const build = await buildPrivateApp();
  project.provide(SHARED_BUILD_KEY, build.server);
  if (process.env.TELETRANS_E2E_VERBOSE) console.log(`shared app build: ${Date.now() - started} ms`);
  return () => build.remove();
}
