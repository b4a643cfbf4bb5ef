/**
 * decodeParsedStepwise (what the trust store imports a bundle with) gives what decodeParsed
 * gives, block for block and error for error, and lets other tasks run between blocks.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeParsed, decodeParsedStepwise } from '../../src/lib/pki/input.js';
import { pkitsDir } from './pkits-data.js';

const pem = (der: Uint8Array, label: string): string =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;
const cert = (name: string): Uint8Array => readFileSync(join(pkitsDir, 'certs', name));
const crl = (name: string): Uint8Array => readFileSync(join(pkitsDir, 'crls', name));

const bundle = [
  pem(cert('TrustAnchorRootCertificate.crt'), 'CERTIFICATE'),
  pem(crl('TrustAnchorRootCRL.crl'), 'X509 CRL'),
  pem(cert('GoodCACert.crt'), 'CERTIFICATE'),
  pem(crl('GoodCACRL.crl'), 'X509 CRL'),
  pem(cert('ValidCertificatePathTest1EE.crt'), 'CERTIFICATE'),
].join('');

const shape = (items: ReturnType<typeof decodeParsed>): string[] =>
  items.map((p) => (p.kind === 'certificate' ? `cert ${Buffer.from(p.cert.der).toString('hex')}` : `crl ${Buffer.from(p.crl.der).toString('hex')}`));

async function outcome(f: () => unknown): Promise<string> {
  try {
    await f();
    return 'ok';
  } catch (e) {
    return `${(e as { code?: string }).code ?? '?'}: ${(e as Error).message}`;
  }
}

describe('decodeParsedStepwise', () => {
  it('gives the same items as decodeParsed, for text and for bytes', async () => {
    const whole = shape(decodeParsed(bundle));
    expect(whole).toHaveLength(5);
    expect(shape(await decodeParsedStepwise(bundle))).toEqual(whole);
    expect(shape(await decodeParsedStepwise(new TextEncoder().encode(bundle)))).toEqual(whole);
    // DER alone: one item, as decodeParsed reads it.
    expect(shape(await decodeParsedStepwise(cert('GoodCACert.crt')))).toEqual(shape(decodeParsed(cert('GoodCACert.crt'))));
  });

  it('lets a task queued meanwhile run before it ends (a synchronous decode would not)', async () => {
    const order: string[] = [];
    const decoded = decodeParsedStepwise(bundle).then((items) => order.push(`decoded ${items.length}`));
    setImmediate(() => order.push('other task'));
    await decoded;
    expect(order).toEqual(['other task', 'decoded 5']);
  });

  it('refuses what decodeParsed refuses, with the same code and message', async () => {
    const bad = [
      '',
      'not a certificate',
      bundle.replace('X509 CRL', 'PRIVATE KEY').replace('X509 CRL', 'PRIVATE KEY'),
      `${bundle}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`,
      'x'.repeat(9 * 1024 * 1024),
    ];
    for (const input of bad) {
      const expected = await outcome(() => decodeParsed(input));
      expect(expected).not.toBe('ok');
      expect([input.slice(0, 30), await outcome(() => decodeParsedStepwise(input))]).toEqual([input.slice(0, 30), expected]);
    }
  });
});
