/**
 * Production build of the app for end-to-end tests: built into a private directory under
 * .cache/ (see TELETRANS_BUILD_DIR in svelte.config.js), so it never races `npm start` or a
 * concurrent `vite build`, then served by `node build` on a free port of 127.0.0.1. One build
 * serves the whole test run (test/e2e/global-setup.ts); each file starts its own server on it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '../browser/harness';

/**
 * Environment for the build and the server: production, without what Vitest sets (with
 * NODE_ENV=test, Vite would build with development conditions: `dev` true, no service worker).
 */
function productionEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra, NODE_ENV: 'production' };
  for (const key of Object.keys(env)) if (key.startsWith('VITEST') || key === 'TEST') delete env[key];
  return env;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolveRun() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}\n${output}`))
    );
  });
}

export interface PrivateBuild {
  /** Directory holding the adapter-node output (what `node build` runs). */
  server: string;
  /** Deletes a build of the caller's own; a no-op for the run's shared build (global-setup.ts removes it). */
  remove(): void;
}

/** Key under which test/e2e/global-setup.ts provides the shared build's server directory. */
export const SHARED_BUILD_KEY = 'teletransAppBuild';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Server directory of the build shared by every test file of the run (test/e2e/global-setup.ts). */
    teletransAppBuild: string | undefined;
  }
}

/** Runs `vite build` into a fresh private directory of .cache/. */
export async function buildPrivateApp(): Promise<PrivateBuild> {
  const cache = join(REPO_ROOT, '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'e2e-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const vite = join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
    await run(process.execPath, [vite, 'build', '--logLevel', 'warn'], productionEnv({ TELETRANS_BUILD_DIR: dir }));
  } catch (error) {
    remove();
    throw error;
  }
  return { server: join(dir, 'build'), remove };
}

/**
 * The production build for a test file: the one build shared by the whole run when the global
 * setup made it (every file of the run then serves the same build, built once), else a
 * private build of the file's own (the test file runs outside that setup).
 */
export async function buildApp(): Promise<PrivateBuild> {
  // Imported here, not at the top: the global setup imports this module outside any test worker.
  const { inject } = await import('vitest');
  const shared = inject(SHARED_BUILD_KEY);
  if (shared) return { server: shared, remove: () => {} };
  return buildPrivateApp();
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  await new Promise((resolveClose) => server.close(resolveClose));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface RunningApp {
  url: string;
  stop(): Promise<void>;
}

/** Starts `node <serverDir>` (with `env` added, e.g. the relay's) and waits until it answers. */
export async function startApp(serverDir: string, env: NodeJS.ProcessEnv = {}): Promise<RunningApp> {
  // A port chosen by the caller (PORT): when the app's URL must be known before it starts.
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const url = `http://127.0.0.1:${port}`;
  // The directory door's trail without a relay: a file of this server's own, not ./data.
  const trail = mkdtempSync(join(tmpdir(), 'teletrans-e2e-trail-'));
  const child: ChildProcess = spawn(process.execPath, [serverDir], {
    cwd: REPO_ROOT,
    env: productionEnv({ TELETRANS_DIRECTORY_AUDIT_SQLITE: join(trail, 'directory-audit.sqlite'), ...env, HOST: '127.0.0.1', PORT: String(port), ORIGIN: url }),
    stdio: ['ignore', 'pipe', 'pipe']
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  void exited.then(() => rmSync(trail, { recursive: true, force: true }));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`node server exited with ${child.exitCode}\n${output}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (response.ok) return { url, stop };
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`node server did not answer on ${url}\n${output}`);
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 200));
  }
}
