/**
 * Unit tests of the small pure pieces under the validator: DER reading, name comparison,
 * name-constraint matching, PEM/DER input decoding. Conformance as a whole is PKITS's job.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTime, readTlv, decodeOid, integerBig } from '../../src/lib/pki/der.js';
import { PkiError } from '../../src/lib/pki/errors.js';
import { decodeInput } from '../../src/lib/pki/input.js';
import { parseCertificate } from '../../src/lib/pki/cert.js';
import { checkNameConstraints, type ConstraintSet } from '../../src/lib/pki/name-constraints.js';
import { canonicalText, nameToString, nameWithin, parseNameDer } from '../../src/lib/pki/name.js';
import type { GeneralName } from '../../src/lib/pki/name.js';
import { pkitsDir } from './pkits-data.js';

const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof PkiError) return e.code;
    throw e;
  }
  return 'no error';
};

describe('DER reader', () => {
  it('refuses indefinite, non-minimal, overlong and truncated lengths', () => {
    expect(code(() => readTlv(hex('3080 0000'), 0))).toBe('der_malformed');
    expect(code(() => readTlv(hex('3081 05 0000000000'), 0))).toBe('der_malformed');
    expect(code(() => readTlv(hex('3084 ffffffff'), 0))).toBe('der_malformed');
    expect(code(() => readTlv(hex('3005 0000'), 0))).toBe('der_malformed');
    expect(code(() => readTlv(hex('1f8101 00'), 0))).toBe('der_malformed');
    expect(readTlv(hex('3081 80' + '00'.repeat(128)), 0).end).toBe(131);
  });

  it('reads UTCTime with the 1950–2049 window and GeneralizedTime', () => {
    const t = (tag: string, s: string): number => {
      const b = new Uint8Array([Number.parseInt(tag, 16), s.length, ...Buffer.from(s, 'latin1')]);
      return readTime(b, readTlv(b, 0));
    };
    expect(new Date(t('17', '491231235959Z')).toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(new Date(t('17', '500101000000Z')).toISOString()).toBe('1950-01-01T00:00:00.000Z');
    expect(new Date(t('18', '20500101000000Z')).toISOString()).toBe('2050-01-01T00:00:00.000Z');
    expect(code(() => t('17', '500101000000'))).toBe('der_malformed');
    expect(code(() => t('17', '500231000000Z'))).toBe('der_malformed');
    expect(code(() => t('18', '2050010100Z'))).toBe('der_malformed');
  });

  it('decodes OIDs and signed integers', () => {
    expect(decodeOid(hex('2a864886f70d010101'))).toBe('1.2.840.113549.1.1.1');
    expect(decodeOid(hex('551d20'))).toBe('2.5.29.32');
    expect(decodeOid(hex('8837'))).toBe('2.999');
    expect(code(() => decodeOid(hex('2a86')))).toBe('der_malformed');
    expect(integerBig(hex('ff'))).toBe(-1n);
    expect(integerBig(hex('00ff'))).toBe(255n);
  });
});

describe('names', () => {
  const dn = (...rdns: Array<[string, number, string]>): Uint8Array => {
    const enc = (tag: number, body: number[]): number[] => [tag, body.length, ...body];
    const oid: Record<string, number[]> = { CN: [0x55, 0x04, 0x03], O: [0x55, 0x04, 0x0a], C: [0x55, 0x04, 0x06] };
    const seq = rdns.flatMap(([t, strTag, v]) => enc(0x31, enc(0x30, [...enc(0x06, oid[t]!), ...enc(strTag, [...Buffer.from(v, 'utf8')])])));
    return new Uint8Array(enc(0x30, seq));
  };

  it('compares names ignoring case, spacing and string type (RFC 5280 §7.1)', () => {
    const a = parseNameDer(dn(['C', 0x13, 'FR'], ['O', 0x13, 'Sesam  Vitale'], ['CN', 0x0c, 'AC-Facturation']));
    const b = parseNameDer(dn(['C', 0x13, 'fr'], ['O', 0x0c, ' sesam vitale '], ['CN', 0x0c, 'ac-facturation']));
    expect(a.key).toBe(b.key);
    expect(nameToString(a)).toBe('CN=AC-Facturation,O=Sesam  Vitale,C=FR');
    expect(canonicalText('  Ａｂｃ\tDEF ')).toBe('abc def');
  });

  it('decides subtree membership by RDN prefix', () => {
    const base = parseNameDer(dn(['C', 0x13, 'FR'], ['O', 0x13, 'sesam-vitale']));
    const inside = parseNameDer(dn(['C', 0x13, 'FR'], ['O', 0x13, 'SESAM-VITALE'], ['CN', 0x0c, 'x']));
    const outside = parseNameDer(dn(['C', 0x13, 'FR'], ['O', 0x13, 'other'], ['CN', 0x0c, 'x']));
    expect(nameWithin(inside, base)).toBe(true);
    expect(nameWithin(outside, base)).toBe(false);
    expect(nameWithin(base, inside)).toBe(false);
  });
});

describe('name constraints', () => {
  const leafWith = (sans: GeneralName[]): Parameters<typeof checkNameConstraints>[0] => {
    const c = parseCertificate(new Uint8Array(readFileSync(join(pkitsDir, 'certs', 'ValidCertificatePathTest1EE.crt'))));
    return { ...c, subjectAltNames: sans, subject: { der: new Uint8Array(), rdns: [], key: '' } };
  };
  const set = (permitted: GeneralName[], excluded: GeneralName[] = []): ConstraintSet => ({
    permitted: permitted.map((base) => ({ base, minimum: 0 })),
    excluded: excluded.map((base) => ({ base, minimum: 0 })),
  });
  const ok = (name: GeneralName, sets: ConstraintSet[]): boolean => checkNameConstraints(leafWith([name]), sets) === null;

  it('matches DNS names on label boundaries', () => {
    const s = [set([{ kind: 'dns', value: 'rss.fr' }])];
    expect(ok({ kind: 'dns', value: 'rss.fr' }, s)).toBe(true);
    expect(ok({ kind: 'dns', value: 'test.RSS.fr' }, s)).toBe(true);
    expect(ok({ kind: 'dns', value: 'evilrss.fr' }, s)).toBe(false);
    expect(ok({ kind: 'dns', value: 'x.evil.fr' }, [set([], [{ kind: 'dns', value: 'evil.fr' }])])).toBe(false);
  });

  it('matches rfc822 mailboxes, hosts and domains', () => {
    expect(ok({ kind: 'rfc822', value: 'amo_pj.test@test.rss.fr' }, [set([{ kind: 'rfc822', value: 'test.rss.fr' }])])).toBe(true);
    expect(ok({ kind: 'rfc822', value: 'a@sub.test.rss.fr' }, [set([{ kind: 'rfc822', value: 'test.rss.fr' }])])).toBe(false);
    expect(ok({ kind: 'rfc822', value: 'a@sub.test.rss.fr' }, [set([{ kind: 'rfc822', value: '.rss.fr' }])])).toBe(true);
    expect(ok({ kind: 'rfc822', value: 'a@rss.fr' }, [set([{ kind: 'rfc822', value: '.rss.fr' }])])).toBe(false);
    expect(ok({ kind: 'rfc822', value: 'b@rss.fr' }, [set([{ kind: 'rfc822', value: 'a@rss.fr' }])])).toBe(false);
  });

  it('matches URIs by host and refuses host-less URIs under a URI constraint', () => {
    const s = [set([{ kind: 'uri', value: '.sesam-vitale.fr' }])];
    expect(ok({ kind: 'uri', value: 'ldap://annuaire.sesam-vitale.fr:389/cn=x' }, s)).toBe(true);
    expect(ok({ kind: 'uri', value: 'ldap://sesam-vitale.fr/' }, s)).toBe(false);
    expect(ok({ kind: 'uri', value: 'urn:oid:1.2.3' }, s)).toBe(false);
  });

  it('applies every constraining CA (intersection) and ignores other name forms', () => {
    const sets = [set([{ kind: 'dns', value: 'fr' }]), set([{ kind: 'dns', value: 'rss.fr' }])];
    expect(ok({ kind: 'dns', value: 'a.rss.fr' }, sets)).toBe(true);
    expect(ok({ kind: 'dns', value: 'a.gouv.fr' }, sets)).toBe(false);
    expect(ok({ kind: 'rfc822', value: 'x@anything.com' }, sets)).toBe(true);
  });
});

describe('input decoding', () => {
  const cert = readFileSync(join(pkitsDir, 'certs', 'GoodCACert.crt'));
  const crl = readFileSync(join(pkitsDir, 'crls', 'GoodCACRL.crl'));
  const pem = (label: string, der: Buffer): string => `-----BEGIN ${label}-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END ${label}-----\n`;

  it('classifies DER certificates and CRLs and reads several PEM blocks', () => {
    expect(decodeInput(new Uint8Array(cert)).map((x) => x.kind)).toEqual(['certificate']);
    expect(decodeInput(new Uint8Array(crl)).map((x) => x.kind)).toEqual(['crl']);
    const text = 'explanatory text\n' + pem('CERTIFICATE', cert) + pem('X509 CRL', crl);
    const items = decodeInput(text);
    expect(items.map((x) => x.kind)).toEqual(['certificate', 'crl']);
    expect(items[0]!.label).toBe('CN=Good CA,O=Test Certificates 2011,C=US');
    expect(items[0]!.suggestedRole).toBe('intermediate');
    const root = readFileSync(join(pkitsDir, 'certs', 'TrustAnchorRootCertificate.crt'));
    const ee = readFileSync(join(pkitsDir, 'certs', 'ValidCertificatePathTest1EE.crt'));
    expect(decodeInput(new Uint8Array(root))[0]!.suggestedRole).toBe('anchor');
    expect(decodeInput(new Uint8Array(ee))[0]!.suggestedRole).toBe('leaf');
    expect(decodeInput(new TextEncoder().encode(text))).toHaveLength(2);
  });

  it('refuses broken PEM armour and unknown content with typed errors', () => {
    const good = pem('CERTIFICATE', cert);
    expect(code(() => decodeInput(good.replace('-----END CERTIFICATE-----', '')))).toBe('pem_malformed');
    expect(code(() => decodeInput(good.replace('END CERTIFICATE', 'END X509 CRL')))).toBe('pem_malformed');
    expect(code(() => decodeInput(good.replace(/\nM/, '\n*')))).toBe('pem_malformed');
    expect(code(() => decodeInput('-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----'))).toBe('pem_malformed');
    expect(code(() => decodeInput(pem('RSA PRIVATE KEY', cert)))).toBe('pem_malformed');
    expect(code(() => decodeInput('no pem here'))).toBe('pem_malformed');
    expect(code(() => decodeInput(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])))).toBe('input_unrecognised');
    expect(code(() => decodeInput(new Uint8Array(0)))).toBe('input_unrecognised');
    expect(code(() => decodeInput(new Uint8Array(cert.subarray(0, cert.length - 1))))).toBe('input_unrecognised');
  });
});
