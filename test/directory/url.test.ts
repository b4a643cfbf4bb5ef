/**
 * Pure parts of the directory fetch: URL forms, allow-list, address ranges, classification.
 */
import { describe, expect, it } from 'vitest';
import {
  DirectoryError,
  classifyDer,
  configFromEnv,
  isPublicAddress,
  itemsFromBody,
  makeConfig,
  parseAllowList,
  parseDirectoryUrl
} from '../../src/lib/server/directory';
import { checkAllowed } from '../../src/lib/server/directory/config';

const CA = 'cn=AC-FACTURATION,ou=AC-FACTURATION,ou=AC-SESAM-VITALE-2034,o=sesam-vitale,c=fr';

function code(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return e instanceof DirectoryError ? e.code : `not a DirectoryError: ${String(e)}`;
  }
}

describe('parseDirectoryUrl', () => {
  it('reads the docs/domain/transmission.md CRL example (suffix form)', () => {
    const t = parseDirectoryUrl(`ldap://annuaire.sesam-vitale.fr/${CA}/certificateRevocationList`);
    expect(t).toMatchObject({
      protocol: 'ldap',
      scheme: 'ldap',
      host: 'annuaire.sesam-vitale.fr',
      port: 389,
      form: 'suffix',
      baseDn: CA,
      scope: 'base',
      filter: '(objectClass=*)',
      attributes: ['certificateRevocationList;binary']
    });
  });

  it('reads the docs/domain/transmission.md recipient example (mailbox form)', () => {
    const t = parseDirectoryUrl(`ldap://annuaire.sesam-vitale.fr/${CA},cn=amo_pj.reel@reel.rss.fr/certificate`);
    expect(t).toMatchObject({
      form: 'mailbox',
      baseDn: CA,
      scope: 'sub',
      filter: '(|(mail=amo_pj.reel@reel.rss.fr)(cn=amo_pj.reel@reel.rss.fr))',
      attributes: ['userCertificate;binary'],
      mailbox: 'amo_pj.reel@reel.rss.fr'
    });
  });

  it('reads the docs/domain/transmission.md CA example (bare DN: all three attributes)', () => {
    const t = parseDirectoryUrl(`ldap://annuaire.sesam-vitale.fr/${CA}`);
    expect(t).toMatchObject({
      form: 'rfc4516',
      scope: 'base',
      attributes: ['cACertificate;binary', 'userCertificate;binary', 'certificateRevocationList;binary']
    });
  });

  it('reads RFC 4516 URLs with attributes, scope, filter and percent-encoding', () => {
    const t = parseDirectoryUrl(`LDAPS://Annuaire.Sesam-Vitale.FR.:6360/${encodeURIComponent(CA)}?cACertificate,certificateRevocationList;binary?one?mail=x%40y.fr`);
    expect(t).toMatchObject({
      scheme: 'ldaps',
      host: 'annuaire.sesam-vitale.fr',
      port: 6360,
      baseDn: CA,
      scope: 'one',
      filter: '(mail=x@y.fr)',
      attributes: ['cACertificate;binary', 'certificateRevocationList;binary']
    });
    expect(parseDirectoryUrl('ldaps://h.example/o=x').port).toBe(636);
  });

  it('accepts the suffix keywords case-insensitively, with or without ;binary', () => {
    for (const [suffix, attribute] of [
      ['certificaterevocationlist', 'certificateRevocationList;binary'],
      ['certificateRevocationList;binary', 'certificateRevocationList;binary'],
      ['CERTIFICATE', 'userCertificate;binary'],
      ['userCertificate', 'userCertificate;binary'],
      ['cACertificate', 'cACertificate;binary']
    ] as const) {
      const t = parseDirectoryUrl(`ldap://h.example/${CA}/${suffix}`);
      expect(t.protocol === 'ldap' && t.attributes).toEqual([attribute]);
    }
  });

  it('escapes the mailbox in the filter (no filter injection)', () => {
    const t = parseDirectoryUrl(`ldap://h.example/${CA},cn=a*b@x.fr/certificate`);
    expect(t.protocol === 'ldap' && t.filter).toBe('(|(mail=a\\2ab@x.fr)(cn=a\\2ab@x.fr))');
    expect(code(() => parseDirectoryUrl(`ldap://h.example/${CA},cn=a)(objectClass=*@x.fr/certificate`))).toBe('url_invalid');
  });

  it('reads http(s) URLs, keeps the query, drops the fragment', () => {
    const t = parseDirectoryUrl('HTTPS://Crl.Example.org/ac/facturation.crl?x=1#frag');
    expect(t).toMatchObject({ protocol: 'http', scheme: 'https', host: 'crl.example.org', port: 443 });
    expect(t.protocol === 'http' && t.url.href).toBe('https://crl.example.org/ac/facturation.crl?x=1');
  });

  it('refuses what it does not understand', () => {
    const cases: [string, string][] = [
      ['file:///etc/passwd', 'scheme_not_allowed'],
      ['ftp://h.example/x', 'scheme_not_allowed'],
      ['ldapi:///o=x', 'scheme_not_allowed'],
      ['//h.example/o=x', 'url_invalid'],
      ['ldap:h.example/o=x', 'url_invalid'],
      ['ldap://u:p@h.example/o=x', 'url_invalid'],
      ['ldap://h.example/o=x#frag', 'url_invalid'],
      ['ldap://h.example/o=x?cn', 'url_invalid'],
      ['ldap://h.example/o=x?userPassword', 'url_invalid'],
      ['ldap://h.example/o=x???(cn=*)?!e-bindname=cn=admin', 'url_invalid'],
      ['ldap://h.example/o=x?????', 'url_invalid'],
      ['ldap://h.example/o=x/unknownKeyword', 'url_invalid'],
      ['ldap://h.example/=x', 'url_invalid'],
      ['ldap://h.example/o=x,', 'url_invalid'],
      ['ldap://h_x.example/o=x', 'url_invalid'],
      ['ldap://h.example:0/o=x', 'url_invalid'],
      ['ldap://h.example:abc/o=x', 'url_invalid'],
      ['ldap://[fe80::1%25eth0]/o=x', 'url_invalid'],
      ['ldap://h.example/o=x\n', 'url_invalid'],
      ['http://h.example/a b', 'url_invalid'],
      ['http:///x', 'url_invalid'],
      [`http://h.example/${'a'.repeat(2100)}`, 'url_invalid']
    ];
    for (const [url, expected] of cases) expect([url, code(() => parseDirectoryUrl(url))]).toEqual([url, expected]);
  });

  it('agrees with WHATWG on the host when backslashes are involved', () => {
    const t = parseDirectoryUrl('http://h.example\\@evil.example/');
    expect(t.host).toBe('h.example');
    expect(t.protocol === 'http' && t.url.host).toBe('h.example');
  });

  it('messages are French', () => {
    try {
      parseDirectoryUrl('ldap://u@h.example/o=x');
    } catch (e) {
      expect((e as Error).message).toMatch(/identifiants/);
    }
  });
});

describe('allow-list', () => {
  it('parses entries: names, ports, IP literals, +private', () => {
    expect(parseAllowList(' Annuaire.Sesam-Vitale.fr , 127.0.0.1:3890,[::1]:389, ldap.intra:389+private ,')).toEqual([
      { host: 'annuaire.sesam-vitale.fr', allowPrivate: false, ipVersion: 0 },
      { host: '127.0.0.1', port: 3890, allowPrivate: true, ipVersion: 4 },
      { host: '::1', port: 389, allowPrivate: true, ipVersion: 6 },
      { host: 'ldap.intra', port: 389, allowPrivate: true, ipVersion: 0 }
    ]);
    expect(() => parseAllowList('h.example:99999')).toThrow(/port/);
    expect(() => parseAllowList('*.example.org')).toThrow(/host/);
  });

  it('defaults to the GIE directory, and the variable replaces the default', () => {
    expect(configFromEnv({}).allow.map((e) => e.host)).toEqual(['annuaire.sesam-vitale.fr']);
    expect(configFromEnv({ TELETRANS_DIRECTORY_ALLOW: '127.0.0.1:1' }).allow.map((e) => e.host)).toEqual(['127.0.0.1']);
    expect(configFromEnv({ TELETRANS_DIRECTORY_ALLOW: '' }).allow).toEqual([]);
    expect(configFromEnv({ TELETRANS_DIRECTORY_MAX_BYTES: '1024' }).maxBytes).toBe(1024);
    expect(() => configFromEnv({ TELETRANS_DIRECTORY_TIMEOUT_MS: '-1' })).toThrow();
  });

  it('a name without port allows only the default port of each scheme', () => {
    const config = makeConfig({ allow: 'annuaire.sesam-vitale.fr' });
    expect(checkAllowed(config, 'ldap', 'annuaire.sesam-vitale.fr', 389)).toEqual({ allowPrivate: false });
    expect(checkAllowed(config, 'https', 'annuaire.sesam-vitale.fr', 443)).toEqual({ allowPrivate: false });
    expect(code(() => checkAllowed(config, 'ldap', 'annuaire.sesam-vitale.fr', 636))).toBe('host_not_allowed');
    expect(code(() => checkAllowed(config, 'http', 'annuaire.sesam-vitale.fr', 8080))).toBe('host_not_allowed');
    expect(code(() => checkAllowed(config, 'ldap', 'evil-annuaire.sesam-vitale.fr', 389))).toBe('host_not_allowed');
  });
});

describe('isPublicAddress', () => {
  it('refuses loopback, private, link-local, CGNAT, documentation, multicast, mapped forms', () => {
    for (const a of [
      '127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1',
      '0.0.0.0', '192.0.2.1', '224.0.0.1', '255.255.255.255', '::', '::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1',
      '::ffff:7f00:1', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', '2001:db8::1', '64:ff9b::7f00:1', 'not-an-ip'
    ]) {
      expect([a, isPublicAddress(a)]).toEqual([a, false]);
    }
  });

  it('accepts public unicast', () => {
    for (const a of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '2a00:1450:4007:80e::200e', '::ffff:8.8.8.8']) {
      expect([a, isPublicAddress(a)]).toEqual([a, true]);
    }
  });
});

describe('classifyDer / itemsFromBody', () => {
  it('labels junk as unknown and keeps it', () => {
    expect(classifyDer(new Uint8Array([1, 2, 3]))).toBe('unknown');
    expect(classifyDer(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]))).toBe('unknown');
    expect(classifyDer(new Uint8Array([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]))).toBe('unknown');
    expect(itemsFromBody(new Uint8Array([1, 2, 3]))).toEqual([{ kind: 'unknown', der: new Uint8Array([1, 2, 3]) }]);
  });

  it('drops PEM blocks that are neither certificates nor CRLs', () => {
    const body = new TextEncoder().encode('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    expect(itemsFromBody(body)).toEqual([]);
  });
});
