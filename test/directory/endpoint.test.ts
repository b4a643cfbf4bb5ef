/**
 * GET /api/directory/fetch: the handler called directly with Requests (every status), then
 * end to end through the production build (`node build`) against the private slapd.
 */
import { rmSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DirectoryAuditEvent,
  type DirectoryConfig,
  type DirectoryEndpoint,
  createDirectoryEndpoint,
  makeConfig
} from '../../src/lib/server/directory';
import { decodeDirectoryResponse, directoryFetchUrl } from '../../src/lib/trust/directory-wire';
import { directoryFetcher } from '../../src/lib/trust/fetcher';
import { type PrivateBuild, type RunningApp, buildApp, startApp } from '../e2e/app-server';
import {
  BIG_CA_DN,
  CA_DN,
  RECIPIENT_MAILBOX,
  type RunningSlapd,
  type SesamTestDirectory,
  buildSesamTestDirectory,
  startSlapd
} from './slapd';

const APP = 'http://127.0.0.1:5999';
const CLIENT_ADDRESS = '198.51.100.23';

let directory: SesamTestDirectory;
let slapd: RunningSlapd;
let ldapBase: string;
let slow: Server;
let slowPort: number;
const slowSockets = new Set<Socket>();

beforeAll(async () => {
  directory = buildSesamTestDirectory({ bigValueBytes: 2 * 1024 * 1024 });
  slapd = await startSlapd(directory.ldif);
  ldapBase = `ldap://127.0.0.1:${slapd.port}`;
  slow = createServer((req, res) => {
    if (req.url === '/broken') res.writeHead(500).end();
    // Anything else: never answers.
  });
  slow.on('connection', (socket: Socket) => {
    slowSockets.add(socket);
    socket.once('close', () => slowSockets.delete(socket));
  });
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  slowPort = (slow.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const socket of slowSockets) socket.destroy();
  await new Promise((resolve) => slow?.close(resolve));
  await slapd?.stop();
  if (directory) rmSync(directory.pki.root, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Headers;
  body: { items?: { kind: string; der: string }[]; error?: { code: string; message: string } };
}

async function read(response: Response): Promise<Answer> {
  return { status: response.status, headers: response.headers, body: (await response.json()) as Answer['body'] };
}

function der(item: { der: string } | undefined): Buffer {
  return Buffer.from(item?.der ?? '', 'base64');
}

describe('directory endpoint handler', () => {
  let endpoint: DirectoryEndpoint;
  const audit: DirectoryAuditEvent[] = [];
  let config: DirectoryConfig;

  beforeAll(() => {
    config = makeConfig({
      allow: `127.0.0.1:${slapd.port},127.0.0.1:${slowPort}`,
      timeoutMs: 1_000,
      connectTimeoutMs: 500,
      maxBytes: 1024 * 1024,
      rate: { burst: 1_000, perMinute: 1_000 }
    });
    endpoint = createDirectoryEndpoint({ config: () => config, audit: (event) => audit.push(event) });
  });

  const get = async (target: string | string[] | undefined, headers: Record<string, string> = {}, ep = endpoint) => {
    const url = new URL('/api/directory/fetch', APP);
    for (const value of target === undefined ? [] : Array.isArray(target) ? target : [target]) url.searchParams.append('url', value);
    return read(await ep.GET({ request: new Request(url, { headers }), url, getClientAddress: () => CLIENT_ADDRESS }));
  };

  it('200 with {items:[{kind,der}]} for a CRL, same bytes as stored', async () => {
    const answer = await get(`${ldapBase}/${CA_DN}/certificateRevocationList`, { origin: APP, 'sec-fetch-site': 'same-origin' });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    expect(Object.keys(answer.body)).toEqual(['items']);
    expect(answer.body.items).toHaveLength(1);
    expect(Object.keys(answer.body.items![0]!)).toEqual(['kind', 'der']);
    expect(answer.body.items![0]!.kind).toBe('crl');
    expect(der(answer.body.items![0]).equals(Buffer.from(directory.caCrl))).toBe(true);
  });

  it('maps every failure to its status and a JSON error', async () => {
    const cases: [string | string[] | undefined, number, string][] = [
      [undefined, 400, 'url_invalid'],
      ['', 400, 'url_invalid'],
      [[`${ldapBase}/${CA_DN}`, `${ldapBase}/${CA_DN}`], 400, 'url_invalid'],
      ['pas une url', 400, 'url_invalid'],
      [`ldap://admin:x@127.0.0.1:${slapd.port}/${CA_DN}`, 400, 'url_invalid'],
      ['file:///etc/passwd', 400, 'scheme_not_allowed'],
      [`ldap://annuaire.example.org/${CA_DN}`, 400, 'host_not_allowed'],
      [`ldap://10.0.0.1/${CA_DN}`, 400, 'host_not_allowed'],
      [`${ldapBase}/cn=AC-ABSENTE,${CA_DN}/certificateRevocationList`, 404, 'not_found'],
      [`${ldapBase}/${BIG_CA_DN}/certificateRevocationList`, 413, 'too_large'],
      [`http://127.0.0.1:${slowPort}/stall.crl`, 504, 'timeout'],
      [`http://127.0.0.1:${slowPort}/broken`, 502, 'upstream_error']
    ];
    for (const [target, status, code] of cases) {
      const answer = await get(target);
      expect([target, answer.status, answer.body.error?.code]).toEqual([target, status, code]);
      expect(Object.keys(answer.body)).toEqual(['error']);
      expect(typeof answer.body.error?.message).toBe('string');
      expect(answer.body.error!.message.length).toBeGreaterThan(10);
    }
  });

  it('refuses other origins and cross-site fetches with 403', async () => {
    const target = `${ldapBase}/${CA_DN}/cACertificate`;
    expect((await get(target, { origin: 'https://evil.example' })).body.error?.code).toBe('origin_not_allowed');
    const crossSite = await get(target, { 'sec-fetch-site': 'cross-site' });
    expect([crossSite.status, crossSite.body.error?.code]).toEqual([403, 'origin_not_allowed']);
    expect((await get(target, { 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await get(target, { 'sec-fetch-site': 'none' })).status).toBe(200);
  });

  it('rate-limits each client with a token bucket (429 + Retry-After)', async () => {
    let now = 1_000_000;
    const limited = createDirectoryEndpoint({
      config: () => ({ ...config, rate: { burst: 2, perMinute: 6 } }),
      audit: () => {},
      now: () => now
    });
    const target = `${ldapBase}/${CA_DN}/cACertificate`;
    expect((await get(target, {}, limited)).status).toBe(200);
    expect((await get(target, {}, limited)).status).toBe(200);
    const third = await get(target, {}, limited);
    expect([third.status, third.body.error?.code]).toEqual([429, 'rate_limited']);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    now += 10_000; // 6 per minute: one token back after 10 s
    expect((await get(target, {}, limited)).status).toBe(200);
    expect((await get(target, {}, limited)).status).toBe(429);
  });

  it('answers 405 to other methods, and 500 config_invalid on a bad configuration', async () => {
    const url = new URL('/api/directory/fetch?url=x', APP);
    const options = endpoint.other({ request: new Request(url, { method: 'OPTIONS' }), url, getClientAddress: () => CLIENT_ADDRESS });
    expect(options.status).toBe(405);
    expect(options.headers.get('allow')).toBe('GET');
    expect(((await options.json()) as Answer['body']).error?.code).toBe('method_not_allowed');
    const broken = createDirectoryEndpoint({
      config: () => {
        throw new Error('TELETRANS_DIRECTORY_ALLOW: malformed');
      },
      audit: () => {}
    });
    const answer = await get(`${ldapBase}/${CA_DN}`, {}, broken);
    expect([answer.status, answer.body.error?.code]).toEqual([500, 'config_invalid']);
  });

  it('is read by the browser’s directoryFetcher exactly as written (the shared wire format)', async () => {
    // The fetcher's fetch is the handler itself: no fake body anywhere between them.
    const viaEndpoint = (async (input: string | URL | Request) => {
      const url = new URL(String(input), APP);
      return endpoint.GET({ request: new Request(url, { headers: { 'sec-fetch-site': 'same-origin' } }), url, getClientAddress: () => CLIENT_ADDRESS });
    }) as typeof fetch;
    const fetcher = directoryFetcher({ fetch: viaEndpoint });
    const [crl] = await fetcher(`${ldapBase}/${CA_DN}/certificateRevocationList`);
    expect(Buffer.from(crl!).equals(Buffer.from(directory.caCrl))).toBe(true);
    const certs = await fetcher(`${ldapBase}/${CA_DN},cn=${RECIPIENT_MAILBOX}/certificate`);
    expect(certs.map((c) => Buffer.from(c).equals(Buffer.from(directory.recipientCert)))).toEqual([true]);
    // A bare DN: every attribute of the entry (the CA certificate and its CRL).
    expect((await fetcher(`${ldapBase}/${CA_DN}`)).length).toBe(2);
    await expect(fetcher(`${ldapBase}/cn=AC-ABSENTE,${CA_DN}/certificateRevocationList`)).rejects.toMatchObject({
      name: 'FetchError',
      code: 'http_status',
      directoryCode: 'not_found'
    });
    await expect(fetcher(`ldap://annuaire.example.org/${CA_DN}`)).rejects.toMatchObject({ directoryCode: 'host_not_allowed' });
    // And the body decodes with the core's decoder into the relay's labels.
    const url = new URL(directoryFetchUrl(`${ldapBase}/${CA_DN}`), APP);
    const body: unknown = await (await endpoint.GET({ request: new Request(url), url, getClientAddress: () => CLIENT_ADDRESS })).json();
    expect(decodeDirectoryResponse(body).map((i) => i.kind).sort()).toEqual(['certificate', 'crl']);
  });

  it('audits every request without the client address', () => {
    expect(audit.length).toBeGreaterThan(10);
    const ok = audit.find((e) => e.status === 200)!;
    expect(ok).toMatchObject({ event: 'directory.fetch', items: 1 });
    expect(ok.target).toContain(CA_DN);
    expect(ok.bytes).toBeGreaterThan(0);
    const timeout = audit.find((e) => e.code === 'timeout')!;
    expect(timeout.status).toBe(504);
    expect(JSON.stringify(audit)).not.toContain(CLIENT_ADDRESS);
    expect(new Set(audit.map((e) => e.client)).size).toBe(1);
  });
});

describe('directory endpoint end to end (node build)', () => {
  let build: PrivateBuild;
  let app: RunningApp;
  const saved: Record<string, string | undefined> = {};
  const env = (): Record<string, string> => ({
    TELETRANS_DIRECTORY_ALLOW: `127.0.0.1:${slapd.port},127.0.0.1:${slowPort}`,
    TELETRANS_DIRECTORY_MAX_BYTES: String(1024 * 1024),
    TELETRANS_DIRECTORY_TIMEOUT_MS: '1500'
  });

  beforeAll(async () => {
    build = await buildApp();
    // startApp() passes process.env to the server.
    for (const [key, value] of Object.entries(env())) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
    app = await startApp(build.server);
  });

  afterAll(async () => {
    await app?.stop();
    build?.remove();
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  const call = async (target: string, init: RequestInit = {}) =>
    fetch(`${app.url}/api/directory/fetch?url=${encodeURIComponent(target)}`, init);

  it('serves the CA certificate, the CRL and a recipient certificate from slapd', async () => {
    for (const [target, kind, expected] of [
      [`${ldapBase}/${CA_DN}/cACertificate`, 'certificate', directory.caCert],
      [`${ldapBase}/${CA_DN}/certificateRevocationList`, 'crl', directory.caCrl],
      [`${ldapBase}/${CA_DN},cn=${RECIPIENT_MAILBOX}/certificate`, 'certificate', directory.recipientCert]
    ] as const) {
      const answer = await read(await call(target, { headers: { origin: app.url } }));
      expect([target, answer.status]).toEqual([target, 200]);
      expect(answer.body.items).toHaveLength(1);
      expect(answer.body.items![0]!.kind).toBe(kind);
      expect(der(answer.body.items![0]).equals(Buffer.from(expected))).toBe(true);
      expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('answers errors with their status through the real server', async () => {
    const statuses: [string, number, string][] = [
      [`${ldapBase}/cn=AC-ABSENTE,${CA_DN}/certificateRevocationList`, 404, 'not_found'],
      [`ldap://annuaire.example.org/${CA_DN}`, 400, 'host_not_allowed'],
      ['file:///etc/passwd', 400, 'scheme_not_allowed'],
      [`${ldapBase}/${BIG_CA_DN}/certificateRevocationList`, 413, 'too_large'],
      [`http://127.0.0.1:${slowPort}/stall`, 504, 'timeout']
    ];
    for (const [target, status, code] of statuses) {
      const answer = await read(await call(target));
      expect([target, answer.status, answer.body.error?.code]).toEqual([target, status, code]);
    }
    const foreign = await read(await call(`${ldapBase}/${CA_DN}`, { headers: { origin: 'https://evil.example' } }));
    expect([foreign.status, foreign.body.error?.code]).toEqual([403, 'origin_not_allowed']);
  });

  it('refuses OPTIONS, POST and HEAD with 405', async () => {
    for (const method of ['OPTIONS', 'POST', 'PUT', 'DELETE', 'HEAD']) {
      const response = await call(`${ldapBase}/${CA_DN}`, { method });
      expect([method, response.status]).toEqual([method, 405]);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      await response.body?.cancel();
    }
  });
});
