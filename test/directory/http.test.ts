/**
 * Directory fetch over HTTP(S) against local node:http servers that misbehave on purpose.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DirectoryConfig, type DirectoryErrorCode, fetchDirectory, makeConfig } from '../../src/lib/server/directory';
import { OpensslPki } from '../pki/fixtures/openssl-pki';

let pki: OpensslPki;
let certDer: Uint8Array;
let certPem: string;
let crlDer: Uint8Array;
let crlPem: string;
let tlsDir: string;
const servers: Server[] = [];
const sockets = new Set<Socket>();
let a: string; // http://127.0.0.1:<port A>
let b: string; // http://127.0.0.1:<port B>
let portA: number;
let portB: number;
let portTls: number;
let config: DirectoryConfig;
const seenHosts: string[] = [];

async function listen(server: Server): Promise<number> {
  servers.push(server);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function routes(req: IncomingMessage, res: ServerResponse): void {
  seenHosts.push(req.headers.host ?? '');
  const path = req.url ?? '/';
  if (req.method !== 'GET') {
    res.writeHead(405).end();
    return;
  }
  switch (path) {
    case '/ca.der':
      res.writeHead(200, { 'content-type': 'application/pkix-cert', 'content-length': certDer.length }).end(certDer);
      return;
    case '/ca.crl':
      res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(crlDer);
      return;
    case '/bundle.pem':
      res.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(`${certPem}\n${crlPem}\n`);
      return;
    case '/slow':
      return; // never answers
    case '/slow-body':
      res.writeHead(200, { 'content-type': 'application/pkix-crl' });
      res.write(crlDer.subarray(0, 10)); // then stalls
      return;
    case '/redirect-foreign':
      res.writeHead(302, { location: 'http://crl.evil.example/ca.crl' }).end();
      return;
    case '/redirect-private':
      res.writeHead(302, { location: 'http://10.0.0.1/ca.crl' }).end();
      return;
    case '/redirect-b':
      res.writeHead(301, { location: `${b}/ca.crl` }).end();
      return;
    case '/redirect-relative':
      res.writeHead(307, { location: '/ca.der' }).end();
      return;
    case '/redirect-loop':
      res.writeHead(302, { location: '/redirect-loop' }).end();
      return;
    case '/redirect-ldap':
      res.writeHead(302, { location: `ldap://127.0.0.1:${portA}/cn=x,o=y` }).end();
      return;
    case '/redirect-file':
      res.writeHead(302, { location: 'file:///etc/passwd' }).end();
      return;
    case '/big-chunked': {
      res.writeHead(200, { 'content-type': 'application/pkix-crl' });
      const chunk = Buffer.alloc(64 * 1024);
      let sent = 0;
      const push = () => {
        while (sent < 8 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', push);
            return;
          }
        }
        res.end();
      };
      push();
      return;
    }
    case '/big-declared':
      res.writeHead(200, { 'content-length': String(8 * 1024 * 1024) });
      res.write(Buffer.alloc(1024)); // never sends the rest
      return;
    case '/missing':
      res.writeHead(404).end('not here');
      return;
    case '/gone':
      res.writeHead(410).end();
      return;
    case '/broken':
      res.writeHead(500).end('oops');
      return;
    case '/empty':
      res.writeHead(200, { 'content-length': '0' }).end();
      return;
    default:
      res.writeHead(404).end();
  }
}

beforeAll(async () => {
  pki = new OpensslPki();
  const ca = pki.ca('ca', '/CN=AC-FACTURATION-TEST/O=GIE SESAM-Vitale/C=FR');
  const crl = pki.crl(ca, 'ca');
  certPem = ca.certPem;
  certDer = new Uint8Array(Buffer.from(certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
  crlPem = readFileSync(crl.path, 'utf8');
  crlDer = crl.der;

  portA = await listen(createServer(routes));
  portB = await listen(createServer(routes));
  a = `http://127.0.0.1:${portA}`;
  b = `http://127.0.0.1:${portB}`;

  tlsDir = mkdtempSync(join(tmpdir(), 'teletrans-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(tlsDir, 'key.pem'), '-out', join(tlsDir, 'cert.pem'),
    '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'
  ], { stdio: 'ignore' });
  portTls = await listen(
    createHttpsServer({ key: readFileSync(join(tlsDir, 'key.pem')), cert: readFileSync(join(tlsDir, 'cert.pem')) }, routes)
  );

  config = makeConfig({
    allow: `127.0.0.1:${portA},127.0.0.1:${portB},127.0.0.1:${portTls}`,
    timeoutMs: 1_500,
    connectTimeoutMs: 1_000,
    maxBytes: 1024 * 1024
  });
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  if (pki) rmSync(pki.root, { recursive: true, force: true });
  if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
});

async function codeOf(url: string, cfg: DirectoryConfig = config): Promise<DirectoryErrorCode | 'ok'> {
  try {
    await fetchDirectory(url, cfg);
    return 'ok';
  } catch (e) {
    return (e as { code: DirectoryErrorCode }).code;
  }
}

describe('HTTP fetch', () => {
  it('downloads a DER certificate and a DER CRL byte for byte', async () => {
    const cert = await fetchDirectory(`${a}/ca.der`, config);
    expect(cert.items).toHaveLength(1);
    expect(cert.items[0]!.kind).toBe('certificate');
    expect(Buffer.from(cert.items[0]!.der).equals(Buffer.from(certDer))).toBe(true);
    const crl = await fetchDirectory(`${a}/ca.crl#fragment-dropped`, config);
    expect(crl.items[0]!.kind).toBe('crl');
    expect(Buffer.from(crl.items[0]!.der).equals(Buffer.from(crlDer))).toBe(true);
  });

  it('unwraps PEM into its certificate and CRL', async () => {
    const { items } = await fetchDirectory(`${a}/bundle.pem`, config);
    expect(items.map((i) => i.kind)).toEqual(['certificate', 'crl']);
    expect(Buffer.from(items[0]!.der).equals(Buffer.from(certDer))).toBe(true);
    expect(Buffer.from(items[1]!.der).equals(Buffer.from(crlDer))).toBe(true);
  });

  it('a server that never answers, or stalls mid-body, ends in timeout', async () => {
    const started = Date.now();
    expect(await codeOf(`${a}/slow`)).toBe('timeout');
    expect(await codeOf(`${a}/slow-body`)).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('follows a redirect to an allowed host, and a relative one', async () => {
    const { items } = await fetchDirectory(`${a}/redirect-b`, config);
    expect(Buffer.from(items[0]!.der).equals(Buffer.from(crlDer))).toBe(true);
    const relative = await fetchDirectory(`${a}/redirect-relative`, config);
    expect(Buffer.from(relative.items[0]!.der).equals(Buffer.from(certDer))).toBe(true);
  });

  it('refuses a redirect to a foreign or private host', async () => {
    await expect(fetchDirectory(`${a}/redirect-foreign`, config)).rejects.toMatchObject({
      code: 'host_not_allowed',
      message: expect.stringContaining('redirige') as unknown
    });
    expect(await codeOf(`${a}/redirect-private`)).toBe('host_not_allowed');
  });

  it('follows no redirect at all when maxRedirects is 0', async () => {
    expect(await codeOf(`${a}/redirect-b`, { ...config, maxRedirects: 0 })).toBe('upstream_error');
  });

  it('stops a redirect loop, and refuses redirects to other schemes', async () => {
    expect(await codeOf(`${a}/redirect-loop`)).toBe('upstream_error');
    expect(await codeOf(`${a}/redirect-ldap`)).toBe('scheme_not_allowed');
    expect(await codeOf(`${a}/redirect-file`)).toBe('scheme_not_allowed');
  });

  it('cuts a body over the limit while streaming, or at once from Content-Length', async () => {
    expect(await codeOf(`${a}/big-chunked`)).toBe('too_large');
    const started = Date.now();
    expect(await codeOf(`${a}/big-declared`)).toBe('too_large');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('maps 404/410 to not_found, 5xx and empty bodies to upstream_error', async () => {
    expect(await codeOf(`${a}/missing`)).toBe('not_found');
    expect(await codeOf(`${a}/gone`)).toBe('not_found');
    expect(await codeOf(`${a}/broken`)).toBe('upstream_error');
    expect(await codeOf(`${a}/empty`)).toBe('upstream_error');
  });

  it('verifies TLS: a self-signed https server is upstream_error', async () => {
    await expect(fetchDirectory(`https://127.0.0.1:${portTls}/ca.der`, config)).rejects.toMatchObject({
      code: 'upstream_error',
      detail: expect.stringMatching(/TLS|SELF_SIGNED|certificate/i) as unknown
    });
  });

  it('refuses unlisted hosts and ports, IP tricks and credentials', async () => {
    expect(await codeOf('http://crl.example.org/ca.crl')).toBe('host_not_allowed');
    expect(await codeOf(`http://127.0.0.1:${[8080, 8081].find((p) => p !== portA && p !== portB && p !== portTls)}/ca.der`)).toBe('host_not_allowed');
    expect(await codeOf('http://169.254.169.254/latest/meta-data/')).toBe('host_not_allowed');
    expect(await codeOf('http://[::ffff:127.0.0.1]/')).toBe('host_not_allowed');
    expect(await codeOf(`http://[::1]:${portA}/ca.der`)).toBe('host_not_allowed');
    expect(await codeOf(`http://127.1:${portA}/ca.der`)).toBe('url_invalid');
    expect(await codeOf(`http://0x7f000001:${portA}/ca.der`)).toBe('url_invalid');
    expect(await codeOf(`http://2130706433:${portA}/ca.der`)).toBe('url_invalid');
    expect(await codeOf(`http://user:pass@127.0.0.1:${portA}/ca.der`)).toBe('url_invalid');
    expect(await codeOf(`http://@127.0.0.1:${portA}/ca.der`)).toBe('url_invalid');
    expect(await codeOf('ftp://127.0.0.1/ca.der')).toBe('scheme_not_allowed');
    expect(await codeOf('data:application/pkix-cert;base64,AAAA')).toBe('scheme_not_allowed');
    expect(await codeOf('javascript:alert(1)')).toBe('scheme_not_allowed');
  });

  it('pins the checked address: the name is sent as Host, the connection goes to the resolved address', async () => {
    const named = makeConfig({ ...config, allow: `crl.test.example:${portA}+private` });
    seenHosts.length = 0;
    const { items } = await fetchDirectory(`http://crl.test.example:${portA}/ca.der`, named, {
      resolver: () => Promise.resolve([{ address: '127.0.0.1', family: 4 }])
    });
    expect(items[0]!.kind).toBe('certificate');
    expect(seenHosts).toEqual([`crl.test.example:${portA}`]);
    // Without +private the same answer is a rebinding attempt.
    const strict = makeConfig({ ...config, allow: `crl.test.example:${portA}` });
    await expect(
      fetchDirectory(`http://crl.test.example:${portA}/ca.der`, strict, {
        resolver: () => Promise.resolve([{ address: '93.184.216.34', family: 4 }, { address: '127.0.0.1', family: 4 }])
      })
    ).rejects.toMatchObject({ code: 'host_not_allowed' });
  });
});
