/**
 * The whitelist core in Chromium (isomorphic): the page's own DOMParser and WebCrypto read a
 * list xmlsec1 signed in the published shape, and refuse a tampered one and a DTD, as Node does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openModulePage } from '../browser/harness.js';
import { useNodeXml } from '../../src/lib/server/mss/node-xml.js';
import { whitelistXml } from '../../src/lib/server/mss/whitelist-signer.js';
import { ENTRIES, makeTrust, type TrustFixture } from './fixtures/trust.js';
import { template, xmlsecSign } from './xmlsec.js';
import type { WireTrust } from './support/whitelist-entry.js';

declare const WhitelistEntry: typeof import('./support/whitelist-entry.js');

let browser: Browser;
let page: Page;
let t: TrustFixture;
let wire: WireTrust;
const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');

beforeAll(async () => {
  useNodeXml();
  t = await makeTrust();
  wire = { anchors: [b64(t.root)], intermediates: [b64(t.orgCa)], crls: t.crls.map(b64), issuers: [b64(t.orgCa)], policies: [...t.profile.policies], subject: t.profile.subject };
  browser = await launchChromium();
  page = await openModulePage(browser, 'test/mss/support/whitelist-entry.ts', 'WhitelistEntry');
}, 120_000);

afterAll(async () => {
  await page?.close();
  await browser?.close();
});

describe('the whitelist in the page', () => {
  it('reads a list signed by xmlsec1 in the published shape, refuses it tampered, with a DTD, or signed by another structure', async () => {
    const body = whitelistXml('2026-12-05T02:00:00Z', ENTRIES);
    const signed = await xmlsecSign(t, template(body, t.agency.der, { xades: true }), t.agency.key, [t.agency.der, t.orgCa]);
    const read = (xml: string): Promise<unknown> => page.evaluate(([x, w]) => WhitelistEntry.read(x, w), [xml, wire] as const);
    expect(await read(signed)).toEqual({ domains: ENTRIES.map((e) => e.domain), signer: t.profile.subject });
    expect(await read(signed.replace('ch-fictif', 'ch-pirate'))).toMatchObject({ code: 'signature_invalid' });
    expect(await read(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>${signed.replace(/^<\?xml[^>]*\?>/, '')}`)).toMatchObject({ code: 'xml_dtd_refused' });
    expect(await read('<ListeBlanche><oops></ListeBlanche>')).toMatchObject({ code: 'xml_malformed' });
    const other = await xmlsecSign(t, template(body, t.other.der, { xades: true }), t.other.key, [t.other.der, t.orgCa]);
    expect(await read(other)).toEqual({ code: 'signer_not_trusted', details: ['signer_not_expected'] });
  });
});
