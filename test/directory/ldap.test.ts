/**
 * Directory fetch against a real OpenLDAP (slapd) holding a SESAM-Vitale-shaped test tree.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DirectoryConfig, type DirectoryErrorCode, fetchDirectory, makeConfig } from '../../src/lib/server/directory';
import {
  BIG_CA_DN,
  CA_DN,
  EMPTY_CA_DN,
  MAIL_ONLY_MAILBOX,
  RECIPIENT_DN,
  RECIPIENT_MAILBOX,
  ROOT_DN,
  type RunningSlapd,
  type SesamTestDirectory,
  buildSesamTestDirectory,
  startSlapd
} from './slapd';

let directory: SesamTestDirectory;
let slapd: RunningSlapd;
let base: string;
let config: DirectoryConfig;

beforeAll(async () => {
  directory = buildSesamTestDirectory();
  slapd = await startSlapd(directory.ldif);
  base = `ldap://127.0.0.1:${slapd.port}`;
  config = makeConfig({ allow: `127.0.0.1:${slapd.port}`, timeoutMs: 5_000, connectTimeoutMs: 2_000 });
});

afterAll(async () => {
  await slapd?.stop();
  if (directory) rmSync(directory.pki.root, { recursive: true, force: true });
});

async function codeOf(url: string, cfg: DirectoryConfig = config): Promise<DirectoryErrorCode | 'ok'> {
  try {
    await fetchDirectory(url, cfg);
    return 'ok';
  } catch (e) {
    return (e as { code: DirectoryErrorCode }).code;
  }
}

describe('LDAP fetch, each URL form', () => {
  it('reads the CA certificate (RFC 4516 with attribute)', async () => {
    const { items, target } = await fetchDirectory(`${base}/${CA_DN}?cACertificate;binary`, config);
    expect(target.protocol).toBe('ldap');
    expect(items).toHaveLength(1);
    expect(items[0]!.kind).toBe('certificate');
    expect(Buffer.from(items[0]!.der).equals(Buffer.from(directory.caCert))).toBe(true);
  });

  it('reads the CA certificate and CRL from a bare DN (all three attributes)', async () => {
    const { items } = await fetchDirectory(`${base}/${encodeURI(CA_DN)}`, config);
    expect(items.map((i) => i.kind)).toEqual(['certificate', 'crl']);
    expect(Buffer.from(items[0]!.der).equals(Buffer.from(directory.caCert))).toBe(true);
    expect(Buffer.from(items[1]!.der).equals(Buffer.from(directory.caCrl))).toBe(true);
  });

  it('reads the CRL by the suffix form /certificateRevocationList', async () => {
    const { items } = await fetchDirectory(`${base}/${CA_DN}/certificateRevocationList`, config);
    expect(items).toHaveLength(1);
    expect(items[0]!.kind).toBe('crl');
    expect(Buffer.from(items[0]!.der).equals(Buffer.from(directory.caCrl))).toBe(true);
  });

  it('reads the CRL by RFC 4516 with explicit base scope', async () => {
    const { items } = await fetchDirectory(`${base}/${CA_DN}?certificateRevocationList;binary?base?(objectClass=*)`, config);
    expect(items).toHaveLength(1);
    expect(Buffer.from(items[0]!.der).equals(Buffer.from(directory.caCrl))).toBe(true);
  });

  it('reads the root CA certificate by the suffix form /cACertificate', async () => {
    const { items } = await fetchDirectory(`${base}/${ROOT_DN}/cACertificate`, config);
    expect(items).toHaveLength(1);
    expect(Buffer.from(items[0]!.der).equals(Buffer.from(directory.rootCert))).toBe(true);
  });

  it('reads a recipient certificate by the mailbox form (…,c=fr,cn=<mailbox>/certificate)', async () => {
    const { items, target } = await fetchDirectory(`${base}/${CA_DN},cn=${RECIPIENT_MAILBOX}/certificate`, config);
    expect(target.protocol === 'ldap' && target.form).toBe('mailbox');
    expect(items).toHaveLength(1);
    expect(items[0]!.kind).toBe('certificate');
    expect(Buffer.from(items[0]!.der).equals(Buffer.from(directory.recipientCert))).toBe(true);
  });

  it('finds a recipient whose entry carries the mailbox in mail only', async () => {
    const { items } = await fetchDirectory(`${base}/${CA_DN},cn=${MAIL_ONLY_MAILBOX}/certificate`, config);
    expect(items).toHaveLength(1);
    expect(Buffer.from(items[0]!.der).equals(Buffer.from(directory.mailOnlyCert))).toBe(true);
  });

  it('reads a recipient certificate by its own DN and by an RFC 4516 subtree search', async () => {
    const direct = await fetchDirectory(`${base}/${encodeURIComponent(RECIPIENT_DN)}/userCertificate`, config);
    expect(Buffer.from(direct.items[0]!.der).equals(Buffer.from(directory.recipientCert))).toBe(true);
    const searched = await fetchDirectory(
      `${base}/${CA_DN}?userCertificate?sub?${encodeURIComponent(`(mail=${RECIPIENT_MAILBOX})`)}`,
      config
    );
    expect(searched.items).toHaveLength(1);
    expect(Buffer.from(searched.items[0]!.der).equals(Buffer.from(directory.recipientCert))).toBe(true);
  });

  it('counts the bytes received', async () => {
    const { bytes } = await fetchDirectory(`${base}/${CA_DN}/certificateRevocationList`, config);
    expect(bytes).toBeGreaterThan(directory.caCrl.length);
    expect(bytes).toBeLessThan(directory.caCrl.length + 1024);
  });
});

describe('LDAP fetch, refusals and failures', () => {
  it('a missing entry is not_found', async () => {
    expect(await codeOf(`${base}/cn=AC-ABSENTE,${CA_DN.split(',').slice(1).join(',')}/certificateRevocationList`)).toBe('not_found');
  });

  it('an entry without the attribute is not_found', async () => {
    expect(await codeOf(`${base}/${EMPTY_CA_DN}/certificateRevocationList`)).toBe('not_found');
  });

  it('an unknown mailbox is not_found', async () => {
    expect(await codeOf(`${base}/${CA_DN},cn=inconnu@test.rss.fr/certificate`)).toBe('not_found');
  });

  it('a 20 MiB CRL over a 4 MiB limit is too_large, cut off while streaming', async () => {
    const small = { ...config, maxBytes: 4 * 1024 * 1024 };
    const started = Date.now();
    expect(await codeOf(`${base}/${BIG_CA_DN}/certificateRevocationList`, small)).toBe('too_large');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('the 20 MiB CRL also exceeds the default 16 MiB limit, and passes under a 32 MiB one', async () => {
    expect(await codeOf(`${base}/${BIG_CA_DN}/certificateRevocationList`, { ...config, maxBytes: 16 * 1024 * 1024 })).toBe('too_large');
    const { items } = await fetchDirectory(`${base}/${BIG_CA_DN}/certificateRevocationList`, { ...config, maxBytes: 32 * 1024 * 1024 });
    expect(items).toHaveLength(1);
    expect(items[0]!.der.length).toBe(directory.bigValue.length);
  });

  it('a host or port not in the allow-list is host_not_allowed', async () => {
    expect(await codeOf(`ldap://annuaire.example.org/${CA_DN}/certificateRevocationList`)).toBe('host_not_allowed');
    expect(await codeOf(`ldap://127.0.0.1:${slapd.port + 1}/${CA_DN}/certificateRevocationList`)).toBe('host_not_allowed');
    expect(await codeOf(`ldap://127.0.0.1/${CA_DN}/certificateRevocationList`)).toBe('host_not_allowed');
  });

  it('a private IP literal that is not listed is host_not_allowed', async () => {
    expect(await codeOf(`ldap://10.0.0.1:${slapd.port}/${CA_DN}`)).toBe('host_not_allowed');
    expect(await codeOf(`ldap://[::1]:${slapd.port}/${CA_DN}`)).toBe('host_not_allowed');
    expect(await codeOf(`ldap://192.168.1.1/${CA_DN}`)).toBe('host_not_allowed');
  });

  it('a listed name that resolves to loopback is refused unless the entry says +private (DNS rebinding)', async () => {
    const byName = `ldap://localhost:${slapd.port}/${CA_DN}/certificateRevocationList`;
    expect(await codeOf(byName, { ...config, allow: makeConfig({ allow: `localhost:${slapd.port}` }).allow })).toBe('host_not_allowed');
    // A name that resolves to a private address through a hostile resolver, listed without +private.
    const hostile = makeConfig({ allow: `annuaire.sesam-vitale.fr:${slapd.port}`, timeoutMs: 5_000 });
    await expect(
      fetchDirectory(`ldap://annuaire.sesam-vitale.fr:${slapd.port}/${CA_DN}`, hostile, {
        resolver: () => Promise.resolve([{ address: '127.0.0.1', family: 4 }])
      })
    ).rejects.toMatchObject({ code: 'host_not_allowed' });
    // Explicitly allowed: works, and connects to the checked address.
    const allowed = { ...config, allow: makeConfig({ allow: `localhost:${slapd.port}+private` }).allow };
    const { items } = await fetchDirectory(byName, allowed, {
      resolver: () => Promise.resolve([{ address: '127.0.0.1', family: 4 }])
    });
    expect(Buffer.from(items[0]!.der).equals(Buffer.from(directory.caCrl))).toBe(true);
  });

  it('credentials, file:// and other schemes are refused', async () => {
    expect(await codeOf(`ldap://cn=admin:secret@127.0.0.1:${slapd.port}/${CA_DN}`)).toBe('url_invalid');
    expect(await codeOf(`ldap://user@127.0.0.1:${slapd.port}/${CA_DN}`)).toBe('url_invalid');
    expect(await codeOf(`ldap://127.0.0.1:${slapd.port}/${CA_DN}????bindname=cn=admin%2co=x`)).toBe('url_invalid');
    expect(await codeOf('file:///etc/passwd')).toBe('scheme_not_allowed');
    expect(await codeOf('gopher://127.0.0.1/')).toBe('scheme_not_allowed');
    expect(await codeOf(`ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi/${CA_DN}`)).toBe('scheme_not_allowed');
  });

  it('malformed URLs are url_invalid', async () => {
    for (const url of [
      '',
      'ldap:',
      'ldap://',
      `ldap://127.0.0.1:${slapd.port}`,
      `ldap://127.0.0.1:${slapd.port}/`,
      `ldap://127.0.0.1:${slapd.port}/not-a-dn`,
      `ldap://127.0.0.1:${slapd.port}/${CA_DN}/password`,
      `ldap://127.0.0.1:${slapd.port}/${CA_DN}?userPassword`,
      `ldap://127.0.0.1:${slapd.port}/${CA_DN}??subordinates`,
      `ldap://127.0.0.1:${slapd.port}/${CA_DN}???(mail=`,
      `ldap://127.0.0.1:${slapd.port}/${CA_DN}%ZZ`,
      `ldap://127.0.0.1:99999/${CA_DN}`,
      `ldap://127.0.0.1:${slapd.port}/cn=AC FACTURATION,o=x`,
      `ldap://127.0.0.1:${slapd.port}/${CA_DN},cn=pas-une-adresse@/certificate`,
      `ldap://127.0.0.1:${slapd.port}/${CA_DN},cn=${RECIPIENT_MAILBOX}?userCertificate?sub?(cn=*)`,
      `ldap://127.0.0.1:${slapd.port}/${'ou=x,'.repeat(500)}c=fr`
    ]) {
      expect([url, await codeOf(url)]).toEqual([url, 'url_invalid']);
    }
  });

  it('a closed port is upstream_error and a black-holed connection is a timeout', async () => {
    const closedPort = slapd.port + 1;
    const closed = makeConfig({ allow: `127.0.0.1:${closedPort}`, timeoutMs: 3_000 });
    // The port may be taken by something else in rare cases; then any upstream failure will do.
    expect(['upstream_error', 'timeout']).toContain(await codeOf(`ldap://127.0.0.1:${closedPort}/${CA_DN}`, closed));
    // TEST-NET-1 is not routed: the connection hangs until the connect timer fires.
    const blackhole = makeConfig({ allow: '192.0.2.1', timeoutMs: 3_000, connectTimeoutMs: 300 });
    const started = Date.now();
    expect(['timeout', 'upstream_error']).toContain(await codeOf(`ldap://192.0.2.1/${CA_DN}`, blackhole));
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('ldaps verifies the server certificate: a self-signed one is upstream_error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'teletrans-ldaps-'));
    try {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
        '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'
      ], { stdio: 'ignore' });
      const server = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (socket) => socket.end());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      try {
        await expect(
          fetchDirectory(`ldaps://127.0.0.1:${port}/${CA_DN}/cACertificate`, makeConfig({ allow: `127.0.0.1:${port}`, timeoutMs: 3_000 }))
        ).rejects.toMatchObject({ code: 'upstream_error', detail: expect.stringMatching(/TLS/) as unknown });
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('closes the connection after the download (slapd sees no lingering connection)', async () => {
    const { items } = await fetchDirectory(`${base}/${CA_DN}/certificateRevocationList`, config);
    expect(items).toHaveLength(1);
    // A fetch leaves no socket behind: the process's active handles do not grow.
    const handles = () => (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
    const before = handles();
    for (let i = 0; i < 5; i++) await fetchDirectory(`${base}/${CA_DN}/cACertificate`, config);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(handles()).toBeLessThanOrEqual(before);
  });
});
