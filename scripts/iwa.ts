/**
 * `npm run iwa`: the production build as a signed Isolated Web App bundle (docs/kiosk.md § IWA).
 * Renders the pages with the production server (started here on a free loopback port), then
 * packages and signs (scripts/iwa/package.ts).
 *
 *   TELETRANS_IWA_KEY=<ed25519 private key, PEM>   the release key (its public key is the app's
 *                                                  identity: keep it, or the app's ID changes);
 *                                                  without it a development key is made in .iwa/
 *   TELETRANS_BUILD_DIR                            a private build (as the tests use)
 *   --out <file>                                   default dist/teletrans.swbn
 *   --server https://…  (or TELETRANS_IWA_SERVER)  the organisation's server (relay, directory);
 *                                                  without it the app runs offline only
 */
import { spawn } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { packageIwa, type IwaPage } from './iwa/package.js';
import { PAGES } from '../src/lib/client/pages.js';

/** The app's pages, rendered for the bundle: the service worker's list, kept equal to src/routes by a test. */
export const IWA_PAGES = PAGES;

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/** Renders `paths` with the production server in `serverDir`. */
export async function renderPages(serverDir: string, paths: readonly string[]): Promise<IwaPage[]> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [serverDir], { env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), ORIGIN: url, NODE_ENV: 'production' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    for (const end = Date.now() + 30_000; ; ) {
      if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${err}`);
      const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then((r) => r.body?.cancel().then(() => r.ok), () => false);
      if (ok) break;
      if (Date.now() > end) throw new Error(`server did not answer: ${err}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const pages: IwaPage[] = [];
    for (const path of paths) {
      const r = await fetch(url + path);
      if (!r.ok) throw new Error(`${path}: ${r.status}`);
      pages.push({ path, headers: Object.fromEntries(r.headers), body: new Uint8Array(await r.arrayBuffer()) });
    }
    return pages;
  } finally {
    child.kill('SIGTERM');
  }
}

function loadKey(): { key: KeyObject; development: boolean } {
  const given = process.env.TELETRANS_IWA_KEY;
  if (given) return { key: createPrivateKey(readFileSync(given, 'utf8')), development: false };
  const dev = resolve('.iwa/dev-key.pem');
  if (!existsSync(dev)) {
    mkdirSync(dirname(dev), { recursive: true, mode: 0o700 });
    writeFileSync(dev, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  }
  return { key: createPrivateKey(readFileSync(dev, 'utf8')), development: true };
}

async function main(): Promise<void> {
  const root = process.env.TELETRANS_BUILD_DIR ? resolve(process.env.TELETRANS_BUILD_DIR, 'build') : resolve('build');
  if (!existsSync(join(root, 'index.js'))) throw new Error(`no production build in ${root}: run npm run build first`);
  const outAt = process.argv.indexOf('--out');
  const out = resolve(outAt > 0 ? process.argv[outAt + 1]! : 'dist/teletrans.swbn');
  const serverAt = process.argv.indexOf('--server');
  const server = serverAt > 0 ? process.argv[serverAt + 1] : process.env.TELETRANS_IWA_SERVER;
  const { key, development } = loadKey();
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  const r = await packageIwa({
    clientDir: join(root, 'client'),
    pages: await renderPages(root, IWA_PAGES),
    baseManifest: JSON.parse(readFileSync('static/kiosk.webmanifest', 'utf8')) as Record<string, unknown>,
    version: pkg.version.replace(/[^0-9.].*$/, ''),
    key,
    ...(server ? { server } : {}),
  });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, r.signed);
  process.stdout.write(`${out}: ${r.paths.length} resources, ${r.signed.length} bytes\nWeb Bundle ID: ${r.bundleId}\nOrigin: ${r.origin}\n`);
  process.stdout.write(server ? `Server: ${server} (allow ${r.origin.replace(/\/$/, '')} there: TELETRANS_IWA_ORIGINS and the relay's origins)\n` : 'No server (--server): the app runs offline only.\n');
  if (development) process.stdout.write('Signed with the DEVELOPMENT key .iwa/dev-key.pem (not for deployment: set TELETRANS_IWA_KEY).\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    process.stderr.write(`iwa: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
