/**
 * The Isolated Web App package (scripts/iwa/, issue 17): the production build's files and pages
 * in a signed Web Bundle. Checked independently of the packager: the integrity block's Ed25519
 * signature over the bundle (as the IWA signature format lays it out), the Web Bundle ID it
 * names, the manifest and its permissions policy, every client file present with its type, the
 * pages with their CSP, and nothing a page loads left outside the bundle.
 */
import { createHash, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { decodeFirst, encode } from 'cborg';
import { Bundle } from 'wbn';
import { WebBundleId } from 'wbn-sign';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IWA_MANIFEST_PATH, packageIwa, type IwaOutput } from '../../scripts/iwa/package';

import { IWA_PAGES, renderPages } from '../../scripts/iwa';
import { buildApp, startApp, type PrivateBuild } from './app-server';
import kiosk from '../../static/kiosk.webmanifest?raw';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
}

/** The integrity block's data to be signed: each part as an 8-byte big-endian length then the bytes. */
function toBeSigned(parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts.flatMap((p) => {
    const n = Buffer.alloc(8);
    n.writeBigUInt64BE(BigInt(p.length));
    return [n, Buffer.from(p)];
  }));
}

const SERVER = 'https://teletrans.example.org';

describe('Isolated Web App package', () => {
  let build: PrivateBuild;
  let out: IwaOutput;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');

  beforeAll(async () => {
    build = await buildApp();
    const pages = await renderPages(build.server, IWA_PAGES);
    out = await packageIwa({ clientDir: join(build.server, 'client'), pages, baseManifest: JSON.parse(kiosk) as Record<string, unknown>, version: '1.2.3', key: privateKey, server: SERVER });
  }, 300_000);

  afterAll(() => build?.remove());

  it('is signed: the Ed25519 signature over the bundle verifies with the key the block names, and the ID is that key’s', () => {
    const [block, rest] = decodeFirst(out.signed, { useMaps: true }) as [unknown[], Uint8Array];
    const [magic, version, attributes, signatures] = block as [Uint8Array, Uint8Array, Map<string, string>, Array<[Record<string, Uint8Array>, Uint8Array]>];
    expect(Buffer.from(magic).toString('hex')).toBe('f09f968bf09f93a6'); // 🖋📦
    expect(Buffer.from(version).toString()).toBe('2b\0\0');
    expect(attributes.get('webBundleId')).toBe(new WebBundleId(publicKey).serialize());
    expect(out.bundleId).toBe(attributes.get('webBundleId'));
    expect(out.origin).toBe(`isolated-app://${out.bundleId}/`);
    expect(signatures).toHaveLength(1);
    const [attrs, signature] = signatures[0]!;
    const raw = (attrs as unknown as Map<string, Uint8Array>).get('ed25519PublicKey')!;
    expect(Buffer.from(raw)).toEqual(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
    const unsignedBlock = encode([magic, version, attributes, []]);
    const data = toBeSigned([createHash('sha512').update(rest).digest(), unsignedBlock, encode(attrs)]);
    const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(raw)]), format: 'der', type: 'spki' });
    expect(verify(null, data, key, signature)).toBe(true);
    // One byte of the bundle changed: the signature no longer holds.
    const tampered = Buffer.from(rest);
    tampered[100] = tampered[100]! ^ 1;
    expect(verify(null, toBeSigned([createHash('sha512').update(tampered).digest(), unsignedBlock, encode(attrs)]), key, signature)).toBe(false);
  });

  it('holds the manifest with its permissions policy, every client file, and the pages with their CSP', () => {
    const [, rest] = decodeFirst(out.signed, { useMaps: true }) as [unknown, Uint8Array];
    const bundle = new Bundle(rest);
    const manifest = JSON.parse(new TextDecoder().decode(bundle.getResponse(IWA_MANIFEST_PATH).body)) as Record<string, unknown>;
    expect(manifest).toMatchObject({ id: '/', version: '1.2.3', name: 'Teletrans', display: 'fullscreen', start_url: '/?poste=kiosque' });
    expect(manifest.permissions_policy).toEqual({ usb: ['self'], hid: ['self'], 'smart-card': ['self'], 'cross-origin-isolated': ['self'] });
    const client = join(build.server, 'client');
    for (const f of files(client).filter((x) => !x.endsWith('.br') && !x.endsWith('.gz'))) {
      const path = `/${relative(client, f).split(sep).join('/')}`;
      expect(bundle.urls, path).toContain(path);
    }
    expect(bundle.getResponse('/_app/version.json').headers['content-type']).toBe('application/json');
    for (const p of IWA_PAGES) {
      const r = bundle.getResponse(p);
      expect(r.headers['content-type']).toMatch(/^text\/html/);
      // The server denies the devices to web pages; in the IWA its own features are granted to itself, the rest stay denied.
      const policy = r.headers['permissions-policy']!;
      for (const f of ['usb', 'hid', 'smart-card', 'cross-origin-isolated']) expect(policy).toMatch(new RegExp(`(^|, )${f}=\\(self\\)(,|$)`));
      for (const f of ['camera', 'microphone', 'serial', 'bluetooth']) expect(policy).toMatch(new RegExp(`(^|, )${f}=\\(\\)(,|$)`));
      // The organisation's server: named in the page for the app, allowed in its connect-src, nowhere else.
      const html = new TextDecoder().decode(r.body);
      expect(html).toContain(`<head><meta name="teletrans-server" content="${SERVER}">`);
      const connect = r.headers['content-security-policy']!.split(';').map((d) => d.trim()).find((d) => d.startsWith('connect-src '))!;
      expect(connect.split(' ')).toContain(SERVER);
      expect(r.headers['content-security-policy']).toContain("default-src 'self'");
      // Every script, stylesheet and module the page names is in the bundle.
      const refs = [...html.matchAll(/(?:src|href)="(\/[^"#?]+)"/g), ...html.matchAll(/import\("(\/[^"]+)"\)/g)].map((m) => m[1]!).filter((u) => !IWA_PAGES.includes(u as never));
      expect(refs.length).toBeGreaterThan(2);
      for (const u of refs) expect(bundle.urls, `${p} → ${u}`).toContain(u);
    }
  });

  it('the server answers the IWA\'s origin cross-origin (TELETRANS_IWA_ORIGINS), and no other', async () => {
    const iwa = out.origin.replace(/\/$/, '');
    const app = await startApp(build.server, { TELETRANS_IWA_ORIGINS: `${iwa},isolated-app://not-an-id,https://other.example` });
    try {
      const pre = await fetch(`${app.url}/api/relay/messages`, { method: 'OPTIONS', headers: { origin: iwa, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, idempotency-key, content-type' } });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe(iwa);
      expect(pre.headers.get('access-control-allow-headers')).toBe('authorization, content-type, idempotency-key');
      expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
      const get = await fetch(`${app.url}/api/demo/trust`, { headers: { origin: iwa } });
      await get.body?.cancel();
      expect(get.headers.get('access-control-allow-origin')).toBe(iwa);
      expect(get.headers.get('vary')).toContain('origin');
      // Another origin (a web page, or an origin listed but not an IWA): no CORS at all.
      for (const other of ['https://other.example', 'isolated-app://not-an-id', 'https://evil.example']) {
        const r = await fetch(`${app.url}/api/demo/trust`, { headers: { origin: other } });
        await r.body?.cancel();
        expect(r.headers.get('access-control-allow-origin'), other).toBeNull();
        const p = await fetch(`${app.url}/api/relay/messages`, { method: 'OPTIONS', headers: { origin: other, 'access-control-request-method': 'POST' } });
        await p.body?.cancel();
        expect(p.headers.get('access-control-allow-origin'), other).toBeNull();
      }
      // Pages are never cross-origin.
      const page = await fetch(`${app.url}/cartes`, { headers: { origin: iwa } });
      await page.body?.cancel();
      expect(page.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await app.stop();
    }
  }, 60_000);
});
