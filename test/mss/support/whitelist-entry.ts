/** Bundled for Chromium (test/mss/browser.test.ts): the whitelist core on the page's own DOM and WebCrypto. */
import { MssError } from '../../../src/lib/mss/errors.js';
import { readWhitelist } from '../../../src/lib/mss/whitelist.js';

export interface WireTrust {
  anchors: string[];
  intermediates: string[];
  crls: string[];
  issuers: string[];
  policies: string[];
  subject: string;
}

const unb64 = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

export async function read(xml: string, t: WireTrust): Promise<{ domains: string[]; signer: string } | { code: string; details: string[] }> {
  try {
    const list = await readWhitelist(xml, {
      anchors: t.anchors.map(unb64), intermediates: t.intermediates.map(unb64), crls: t.crls.map(unb64),
      servSmime: { issuers: t.issuers.map(unb64), policies: t.policies, subject: t.subject },
    });
    return { domains: [...list.domains.keys()], signer: list.signer };
  } catch (e) {
    if (e instanceof MssError) return { code: e.code, details: e.details.map((d) => d.code) };
    throw e;
  }
}
