/** The virtual CPS and Vitale cards, APDU by APDU (no PC/SC here; see pcsc.test.ts). */
import { beforeAll, describe, expect, it } from 'vitest';
import { createPublicKey, randomBytes, randomInt, verify as nodeVerify } from 'node:crypto';
import { buildCommand, splitResponse } from '../../src/lib/card/apdu.js';
import { VirtualCard } from '../../bridge/cards/card.js';
import { AID_CPS, EF, makeCps, makeTestPki, makeVitale, type TestPki } from '../../bridge/cards/profiles.js';
import { VirtualCardServices, readFile } from '../../src/lib/card/virtual-services.js';
import { CardServiceError } from '../../src/lib/card/services.js';
import { parseCertificate, verify } from '../../src/lib/pki/index.js';
import { sha256 } from '../../bridge/cards/card.js';
import { DEMO_CPE_POLICIES, DEMO_CPS_POLICIES } from '../../src/lib/pki/demo/cps.js';

let pki: TestPki;
beforeAll(async () => {
  pki = await makeTestPki();
}, 60_000);

const tx = (card: VirtualCard) => (a: Uint8Array) => card.process(a);
const sw = async (card: VirtualCard, a: Uint8Array): Promise<string> => splitResponse(await card.process(a)).sw.toString(16).toUpperCase();
const pinApdu = (pin: string): Uint8Array => {
  const b = new Uint8Array(8).fill(0xff);
  b.set(new TextEncoder().encode(pin));
  return buildCommand(0, 0x20, 0, 1, b);
};

describe('virtual CPS', () => {
  it('selects by AID, reads files, counts PIN tries and blocks at zero', async () => {
    const { card } = await makeCps(pki, { pin: '4321' });
    expect(await sw(card, buildCommand(0, 0xa4, 4, 0, Uint8Array.of(1, 2, 3)))).toBe('6A82');
    expect(await sw(card, buildCommand(0, 0xa4, 4, 0, AID_CPS))).toBe('9000');
    expect(await sw(card, buildCommand(0, 0x20, 0, 1))).toBe('63C3');
    expect(await sw(card, pinApdu('0000'))).toBe('63C2');
    expect(await sw(card, pinApdu('1111'))).toBe('63C1');
    expect(await sw(card, pinApdu('4321'))).toBe('9000'); // right PIN resets the counter
    expect(await sw(card, buildCommand(0, 0x20, 0, 1))).toBe('9000');
    for (const left of ['63C2', '63C1']) expect(await sw(card, pinApdu('9999'))).toBe(left);
    expect(await sw(card, pinApdu('9999'))).toBe('6983');
    expect(await sw(card, pinApdu('4321'))).toBe('6983'); // blocked: even the right PIN fails
    expect(card.triesLeft).toBe(0);
  });

  it('signs only after the PIN; the signature verifies with the card certificate, which chains to the test CA', async () => {
    const { card, data } = await makeCps(pki);
    const s = new VirtualCardServices();
    const digest = sha256(new TextEncoder().encode('FSE fictive n°1'));
    await expect(s.sign(tx(card), digest)).rejects.toThrow(CardServiceError);
    expect(await s.verifyPin(tx(card), new TextEncoder().encode('1234'))).toEqual({ ok: true, triesLeft: 3 });
    const sig = await s.sign(tx(card), digest);
    const certs = await s.certificates(tx(card), 'CPS');
    const cert = parseCertificate(certs.sign!);
    const key = createPublicKey({ key: Buffer.from(cert.spki), format: 'der', type: 'spki' });
    expect(nodeVerify('sha256', new TextEncoder().encode('FSE fictive n°1'), key, sig)).toBe(true);
    const auth = await s.authenticate(tx(card), 'CPS', digest);
    const authKey = createPublicKey({ key: Buffer.from(parseCertificate(certs.auth).spki), format: 'der', type: 'spki' });
    expect(nodeVerify('sha256', new TextEncoder().encode('FSE fictive n°1'), authKey, auth)).toBe(true);
    expect(nodeVerify('sha256', new TextEncoder().encode('FSE fictive n°1'), authKey, sig)).toBe(false); // two distinct keys
    const chain = await verify({ leaf: certs.sign!, intermediates: [certs.ca!], anchors: [pki.rootDer], revocation: 'off' });
    expect(chain.errors).toEqual([]);
    expect(chain.valid).toBe(true);
    const read = await s.readCps(tx(card));
    expect(read.situations).toHaveLength(3);
    expect(read.rpps).toBe(data.rpps);
    expect(read.lastName).toContain('FICTIF');
  });

  it('the front desk\'s CPE: same card family, read as a CPE, a staff number, one structure, certificates of its own policies', async () => {
    const s = new VirtualCardServices();
    const { card, data } = await makeCps(pki, { profession: 'assistant' });
    expect(s.identify(card.atr)).toBe('CPS'); // the CPx application: one kind for the bridge
    const read = await s.readCps(tx(card));
    expect(read.family).toBe('CPE');
    expect(read.rpps).toBe(data.rpps);
    expect(read.rpps).toMatch(/^3999999\d{4}$/);
    expect(read.situations.map((x) => x.structureId)).toEqual(['999000001']);
    expect((await s.readCps(tx((await makeCps(pki)).card))).family).toBe('CPS');
    const certs = await s.certificates(tx(card), 'CPS');
    const policies = (der: Uint8Array): string[] => parseCertificate(der).policies?.map((p) => p.oid) ?? [];
    expect(policies(certs.auth)).toEqual([DEMO_CPE_POLICIES.auth]);
    expect(policies(certs.sign!)).toEqual([DEMO_CPE_POLICIES.sign]);
    expect(policies(certs.auth)).not.toContain(DEMO_CPS_POLICIES.auth);
  });

  it('expired and blocked variants', async () => {
    const s = new VirtualCardServices();
    const expired = (await makeCps(pki, { expired: true })).card;
    const r = await s.readCps(tx(expired));
    expect(r.expired).toBe(true);
    const certs = await s.certificates(tx(expired), 'CPS');
    const chain = await verify({ leaf: certs.auth, intermediates: [certs.ca!], anchors: [pki.rootDer], revocation: 'off' });
    expect(chain.valid).toBe(false);
    const blocked = (await makeCps(pki, { blocked: true })).card;
    expect((await s.readCps(tx(blocked))).blocked).toBe(true);
    expect(await s.verifyPin(tx(blocked), new TextEncoder().encode('1234'))).toEqual({ ok: false, triesLeft: 0, blocked: true });
  });

  it('no command gives out a private key; malformed APDUs get error statuses, never a crash', async () => {
    const { card } = await makeCps(pki);
    await card.process(buildCommand(0, 0xa4, 4, 0, AID_CPS));
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const n = randomInt(0, 300);
      const a = new Uint8Array(randomBytes(n));
      if (i % 2 === 0 && n >= 6) {
        a[0] = 0; // our class byte, a plausible INS, a consistent Lc
        a[1] = [0xa4, 0xb0, 0x20, 0x2a, 0x88][i % 5]!;
        a[4] = Math.min(255, n - 5);
      }
      const r = await card.process(a);
      expect(r.length).toBeGreaterThanOrEqual(2);
      seen.add(splitResponse(r).sw.toString(16));
    }
    expect(seen.size).toBeGreaterThan(2);
    // Every file there is, read whole: none holds key material (only JSON and certificates).
    for (const fid of Object.values(EF)) {
      try {
        const f = await readFile(tx(card), fid);
        expect(new TextDecoder().decode(f)).not.toMatch(/PRIVATE/);
      } catch {
        /* absent on this card */
      }
    }
  });
});

describe('virtual Vitale', () => {
  it('holds several beneficiaries with rights periods and coverage', async () => {
    const { card } = await makeVitale(pki);
    const v = await new VirtualCardServices().readVitale(tx(card));
    expect(v.beneficiaries.length).toBeGreaterThanOrEqual(3);
    expect(v.beneficiaries[0]!.amo.coverageCode).toBe('100');
    expect(v.holderNir.slice(5, 10)).toBe('99999'); // fictitious: born abroad, in a country never assigned
    expect(v.expired).toBe(false);
    expect((await new VirtualCardServices().readVitale(tx((await makeVitale(pki, { expired: true })).card))).expired).toBe(true);
  });
});

describe('PC/SC part 10 feature list', () => {
  it('finds FEATURE_VERIFY_PIN_DIRECT in a reader answer', async () => {
    const { parseFeatures } = await import('../../bridge/transport.js');
    const m = parseFeatures(Uint8Array.from([0x06, 4, 0x42, 0x33, 0x00, 0x06, 0x12, 4, 0x42, 0x33, 0x00, 0x12]));
    expect(m.get(0x06)).toBe(0x42330006);
    expect(m.has(0x07)).toBe(false);
    expect(parseFeatures(Uint8Array.from([0x06, 9, 1]))).toEqual(new Map());
  });
});
