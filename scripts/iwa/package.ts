/**
 * Packages the production build as an Isolated Web App (issue 17, docs/kiosk.md § IWA): a
 * signed Web Bundle (`.swbn`) holding every file of the client build, the pages as the
 * production server renders them (with their headers: CSP and the others), and the IWA's
 * manifest at `/.well-known/manifest.webmanifest` with its permissions policy — USB, HID and
 * the Web Smart Card API for the page's own card transports, cross-origin isolation.
 *
 * Pure packaging: the caller renders the pages and holds the Ed25519 key (scripts/iwa.ts).
 */
import type { KeyObject } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { BundleBuilder } from 'wbn';
import { IntegrityBlockSigner, NodeCryptoSigningStrategy, WebBundleId } from 'wbn-sign';

export interface IwaPage {
  /** The page's path, `/` or `/cartes`… */
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface IwaInput {
  /** The client build (`build/client`): everything under it goes into the bundle. */
  clientDir: string;
  pages: IwaPage[];
  /** The web app manifest the IWA's is made from (static/kiosk.webmanifest). */
  baseManifest: Record<string, unknown>;
  version: string;
  key: KeyObject;
  /**
   * The organisation's server (relay, directory), an HTTPS origin: inside the IWA the app has no
   * server of its own. Written in each page (`<meta name="teletrans-server">`, read by
   * src/lib/client/server-base.ts) and allowed in its CSP connect-src. Absent: the app works
   * offline only (no relay).
   */
  server?: string;
}

export interface IwaOutput {
  signed: Uint8Array;
  bundleId: string;
  origin: string;
  manifest: Record<string, unknown>;
  paths: string[];
}

export const IWA_MANIFEST_PATH = '/.well-known/manifest.webmanifest';

/** What the IWA may use: its own card transports and cross-origin isolation; nothing else. */
export const IWA_PERMISSIONS_POLICY: Readonly<Record<string, string[]>> = {
  usb: ['self'],
  hid: ['self'],
  'smart-card': ['self'],
  'cross-origin-isolated': ['self'],
};

/** A page's Permissions-Policy header with the IWA's own features granted to `self`, the rest as the server sent it. */
export function iwaPermissionsHeader(server: string): string {
  const kept = server.split(',').map((d) => d.trim()).filter((d) => d && !(d.split('=')[0]! in IWA_PERMISSIONS_POLICY));
  return [...kept, ...Object.keys(IWA_PERMISSIONS_POLICY).map((f) => `${f}=(self)`)].join(', ');
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml',
};

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else out.push(p);
  }
  return out;
}

/** The IWA's manifest: the kiosk's, with the IWA's own fields (id `/`, version, permissions policy). */
export function iwaManifest(base: Record<string, unknown>, version: string): Record<string, unknown> {
  if (!/^\d+(\.\d+){0,3}$/.test(version)) throw new Error(`IWA version must be dotted numbers: ${version}`);
  return { ...base, name: 'Teletrans', id: '/', version, permissions_policy: IWA_PERMISSIONS_POLICY };
}

/** The server's origin added to the CSP's connect-src (the rest of the policy unchanged). */
export function withConnectSrc(csp: string, server: string): string {
  return csp.split(';').map((d) => (d.trim().toLowerCase().startsWith('connect-src ') ? `${d.trim()} ${server}` : d.trim())).filter(Boolean).join('; ');
}

/** The page with `<meta name="teletrans-server">` as the first element of its head. */
export function withServerMeta(html: Uint8Array, server: string): Uint8Array {
  const s = new TextDecoder().decode(html);
  const at = s.indexOf('<head>');
  if (at < 0) throw new Error('IWA: a page without <head>');
  return new TextEncoder().encode(`${s.slice(0, at + 6)}<meta name="teletrans-server" content="${server}">${s.slice(at + 6)}`);
}

export async function packageIwa(i: IwaInput): Promise<IwaOutput> {
  if (i.server !== undefined && !/^https:\/\/[a-z0-9.-]+(:\d{1,5})?$/i.test(i.server)) throw new Error(`IWA server must be an HTTPS origin: ${i.server}`);
  const b = new BundleBuilder('b2');
  const paths: string[] = [];
  const seen = new Set<string>();
  const add = (path: string, headers: Record<string, string>, body: Uint8Array | string): void => {
    if (seen.has(path)) throw new Error(`IWA: ${path} twice`);
    seen.add(path);
    paths.push(path);
    b.addExchange(path, 200, headers, body);
  };
  for (const f of files(i.clientDir).sort()) {
    const path = `/${relative(i.clientDir, f).split(sep).join('/')}`;
    // The precompressed copies a web server picks by Accept-Encoding: a bundle holds the originals.
    if (f.endsWith('.br') || f.endsWith('.gz')) continue;
    const type = TYPES[extname(f).toLowerCase()];
    if (!type) throw new Error(`IWA: no content type for ${path}`);
    // The manifests of the web build are replaced by the IWA's.
    if (path === IWA_MANIFEST_PATH) continue;
    add(path, { 'content-type': type, 'x-content-type-options': 'nosniff' }, new Uint8Array(readFileSync(f)));
  }
  for (const p of i.pages) {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.headers)) {
      const key = k.toLowerCase();
      // What describes the response, not the connection it came on.
      if (['content-type', 'content-security-policy', 'x-content-type-options', 'referrer-policy', 'permissions-policy', 'cross-origin-opener-policy', 'cross-origin-embedder-policy', 'cross-origin-resource-policy', 'x-frame-options'].includes(key)) headers[key] = v;
    }
    if (!headers['content-type']?.startsWith('text/html')) throw new Error(`IWA: ${p.path} is not HTML`);
    // The server's policy denies the devices to web pages; the IWA grants them to itself.
    if (headers['permissions-policy'] !== undefined) headers['permissions-policy'] = iwaPermissionsHeader(headers['permissions-policy']);
    let body = p.body;
    if (i.server) {
      if (headers['content-security-policy'] !== undefined) headers['content-security-policy'] = withConnectSrc(headers['content-security-policy'], i.server);
      body = withServerMeta(body, i.server);
    }
    add(p.path, headers, body);
  }
  const manifest = iwaManifest(i.baseManifest, i.version);
  add(IWA_MANIFEST_PATH, { 'content-type': 'application/manifest+json' }, JSON.stringify(manifest, null, 2));
  const unsigned = b.createBundle();
  const id = new WebBundleId(i.key);
  const { signedWebBundle } = await new IntegrityBlockSigner(unsigned, id.serialize(), [new NodeCryptoSigningStrategy(i.key)]).sign();
  return { signed: signedWebBundle, bundleId: id.serialize(), origin: id.serializeWithIsolatedWebAppOrigin(), manifest, paths };
}
