/**
 * One card-services run over any transport (issue 17): the same sequence wherever the APDUs go
 * — the bridge's PC/SC, our simulated readers, CCID over WebUSB, the Web Smart Card API,
 * WebHID — reduced to plain values that must come out equal. Imports only the core
 * (src/lib/card/), so that it runs in Node and bundled in a page.
 *
 * The card ends as it started (the PIN counter back to its maximum), so a run may be repeated.
 */
import { VirtualCardServices } from '../../../src/lib/card/virtual-services.js';
import type { CardTransport } from '../../../src/lib/card/transport.js';

export interface SuiteResult {
  kinds: Array<string | null>;
  cps: { family: string; rpps: string; situations: number; name: string };
  status: { verified: boolean; triesLeft: number; blocked: boolean };
  wrong: unknown;
  refused: string;
  right: unknown;
  /** Base64 of the PKCS#1 v1.5 signature (deterministic: equal across transports). */
  signature: string;
  authentication: string;
  certificates: { auth: number; sign: number };
  vitale: { nir: string; beneficiaries: string[] };
}

const b64 = (x: Uint8Array): string => btoa(String.fromCharCode(...x));

export async function runCardSuite(t: CardTransport, cpsReader: string, vitaleReader: string, pin: string, wrongPin = '0000'): Promise<SuiteResult> {
  const s = new VirtualCardServices();
  const atr = (name: string) => t.readers().find((r) => r.name === name)?.atr;
  const kinds = [s.identify(atr(cpsReader)), s.identify(atr(vitaleReader))];
  const digest = new Uint8Array(32).map((_, i) => (i * 7 + 3) & 0xff);
  const cps = await t.withCard(cpsReader, async (tx) => {
    const read = await s.readCps(tx);
    const status = await s.pinStatus(tx);
    const wrong = await s.verifyPin(tx, new TextEncoder().encode(wrongPin));
    const refused = await s.sign(tx, digest).then(() => 'signed', (e: { code?: string }) => e.code ?? String(e));
    const right = await s.verifyPin(tx, new TextEncoder().encode(pin));
    const signature = await s.sign(tx, digest);
    const authentication = await s.authenticate(tx, 'CPS', digest);
    const certs = await s.certificates(tx, 'CPS');
    return {
      cps: { family: read.family, rpps: read.rpps, situations: read.situations.length, name: `${read.firstName} ${read.lastName}` },
      status, wrong, refused, right, signature: b64(signature), authentication: b64(authentication),
      certificates: { auth: certs.auth.length, sign: certs.sign?.length ?? 0 },
    };
  });
  await t.resetCard(cpsReader);
  const vitale = await t.withCard(vitaleReader, async (tx) => {
    const v = await s.readVitale(tx);
    return { nir: v.holderNir, beneficiaries: v.beneficiaries.map((b) => b.firstName) };
  });
  return { kinds, ...cps, vitale };
}
