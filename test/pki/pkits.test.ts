/**
 * PKITS conformance (NIST Public Key Interoperability Test Suite, 2011 edition): all 223
 * end-entity cases, pool-based (every CA certificate and every CRL offered at once), trust
 * anchor TrustAnchorRootCertificate.crt, default settings, in Node and in Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { Verifier } from '../../src/lib/pki/index.js';
import { launchChromium, openModulePage } from '../browser/harness.js';
import { PKITS_AT, PKITS_REASONS, type PkitsData, loadPkits } from './pkits-data.js';

interface Outcome {
  name: string;
  expected: string;
  got: string;
  codes: string[];
}

function score(runtime: string, outcomes: Outcome[]): { passed: number; falseAccepts: string[]; falseRejects: string[] } {
  const falseAccepts = outcomes.filter((o) => o.expected === 'invalid' && o.got === 'valid').map((o) => o.name);
  const falseRejects = outcomes.filter((o) => o.expected === 'valid' && o.got === 'invalid').map((o) => `${o.name} (${o.codes.join(', ')})`);
  const passed = outcomes.length - falseAccepts.length - falseRejects.length;
  console.log(`PKITS ${runtime}: ${passed}/${outcomes.length} passed, ${falseAccepts.length} false accepts, ${falseRejects.length} false rejects`);
  return { passed, falseAccepts, falseRejects };
}

const data: PkitsData = loadPkits();

describe('PKITS in Node', () => {
  it('passes all 223 cases with zero false accepts', async () => {
    expect(data.cases).toHaveLength(223);
    const v = new Verifier();
    const outcomes: Outcome[] = [];
    for (const c of data.cases) {
      const r = await v.verify({ leaf: c.leaf, anchors: [data.anchor], intermediates: data.pool, crls: data.crls, at: new Date(PKITS_AT) });
      outcomes.push({ name: c.name, expected: c.expected, got: r.valid ? 'valid' : 'invalid', codes: r.errors.map((e) => e.code) });
      // Every rejection says why, with a reason code and a French sentence.
      if (!r.valid) expect(r.errors.every((e) => e.code.length > 0 && e.message.length > 0)).toBe(true);
    }
    const s = score('node', outcomes);
    expect(s.falseAccepts).toEqual([]);
    expect(s.falseRejects).toEqual([]);
    expect(s.passed).toBe(223);
  });

  it('gives the expected reason on representative invalid cases', async () => {
    const v = new Verifier();
    const reason = async (name: string): Promise<string[]> => {
      const c = data.cases.find((x) => x.name === name)!;
      const r = await v.verify({ leaf: c.leaf, anchors: [data.anchor], intermediates: data.pool, crls: data.crls, at: new Date(PKITS_AT) });
      return r.errors.map((e) => e.code);
    };
    for (const [name, code] of PKITS_REASONS) expect(await reason(name), name).toContain(code);
    // The CA certificate with a malformed signature is read, and blamed: it is in the path.
    const c = data.cases.find((x) => x.name === 'InvalidCASignatureTest2EE.crt')!;
    const r = await v.verify({ leaf: c.leaf, anchors: [data.anchor], intermediates: data.pool, crls: data.crls, at: new Date(PKITS_AT) });
    expect(r.warnings).toEqual([]);
    expect(r.errors).toMatchObject([{ code: 'signature_invalid', cert: 1, subject: 'CN=Bad Signed CA,O=Test Certificates 2011,C=US' }]);
    expect(r.path[1]?.subject).toBe('CN=Bad Signed CA,O=Test Certificates 2011,C=US');
  });
});

describe('PKITS in Chromium', () => {
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    browser = await launchChromium();
    page = await openModulePage(browser, 'src/lib/pki/index.ts', 'TeletransPki');
  });
  afterAll(async () => {
    await page?.close();
    await browser?.close();
  });

  it('passes all 223 cases with zero false accepts', async () => {
    const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
    const payload = {
      anchor: b64(data.anchor),
      pool: data.pool.map(b64),
      crls: data.crls.map(b64),
      cases: data.cases.map((c) => ({ name: c.name, leaf: b64(c.leaf), expected: c.expected })),
      at: PKITS_AT,
    };
    const outcomes = await page.evaluate(async (p) => {
      const dec = (s: string): Uint8Array => Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));
      const pki = (globalThis as unknown as { TeletransPki: typeof import('../../src/lib/pki/index.js') }).TeletransPki;
      const v = new pki.Verifier();
      const anchors = [dec(p.anchor)];
      const intermediates = p.pool.map(dec);
      const crls = p.crls.map(dec);
      const out = [];
      for (const c of p.cases) {
        const r = await v.verify({ leaf: dec(c.leaf), anchors, intermediates, crls, at: new Date(p.at) });
        out.push({ name: c.name, expected: c.expected, got: r.valid ? 'valid' : 'invalid', codes: r.errors.map((e) => e.code) });
      }
      return out;
    }, payload);
    const s = score('chromium', outcomes);
    expect(outcomes).toHaveLength(223);
    expect(s.falseAccepts).toEqual([]);
    expect(s.falseRejects).toEqual([]);
    expect(s.passed).toBe(223);
  });
});
