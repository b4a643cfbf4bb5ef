/**
 * Signature désynchronisée on the real PC/SC stack (issue 13): a private pcscd with a vpcd
 * reader, our virtual CPS as the card, the bridge, and the billing core's `signBatch` through
 * `bridgeSigner` — the page's code, here over `ws`. The card is pulled while it computes a
 * signature in the middle of a batch: every invoice is either signed (each signature verifies
 * with the card's signature certificate, OpenSSL agreeing) or not signed at all, never half;
 * nothing more is sent to the card once it is gone; the batch resumes with the card back.
 * pcscd and the vpcd driver are required (scripts/install-system-deps.sh): never skipped.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCardSet, makeCps, type CardSet } from '../../bridge/cards/profiles.js';
import { VpcdInsertion } from '../../bridge/cards/vpcd.js';
import { startBridge, type Bridge } from '../../bridge/server.js';
import {
  BillingNumbering,
  MemoryCounterStore,
  SAMPLE_CATALOGUE,
  createBeneficiary,
  createInvoice,
  createPractitioner,
  prepareInvoices,
  signBatch,
  simulatorAdapter,
  verifyDocumentSignature,
  type FormattedDocument,
} from '../../src/lib/billing/index.js';
import { unb64u } from '../../src/lib/card/protocol.js';
import { bridgeSigner } from '../../src/lib/client/billing/bridge-signer.js';
import type { BridgeClient } from '../../src/lib/client/card/client.js';
import { pcscAvailable, startPcscd, type Pcscd, PCSCD, VPCD_DRIVER } from '../bridge/pcscd.js';
import { APP_ORIGIN, approver, pairedClient, stateDir, waitFor } from '../bridge/helpers.js';
import { beneficiaryInput } from './fixtures.js';

/** Bound of every wait for a PC/SC event: pcscd polls vpcd every 400 ms; a loaded CI is slower. */
const EVENT_MS = 30_000;
const D = '2025-03-10';
const clock = () => Date.UTC(2025, 2, 10, 17, 0);

describe('a batch signed on the CPS through the bridge, the card pulled midway (pcscd + vpcd)', () => {
  let pcscd: Pcscd;
  let set: CardSet;
  let bridge: Bridge;
  let slot: VpcdInsertion | undefined;
  let c: BridgeClient;
  let reader: string;
  let tmp: string;
  const a = approver();

  beforeAll(async () => {
    if (!pcscAvailable()) throw new Error(`batch-pcsc.test: ${PCSCD} or ${VPCD_DRIVER} missing; run scripts/install-system-deps.sh (the real PC/SC peer is required)`);
    tmp = mkdtempSync(join(tmpdir(), 'teletrans-batch-pcsc-'));
    set = await makeCardSet();
    pcscd = await startPcscd();
    reader = pcscd.readers[0];
    bridge = await startBridge({ port: 0, stateDir: await stateDir(), approve: a.hook, allowedOrigins: [APP_ORIGIN] });
    await waitFor(() => bridge.transport.readers().length === 2, EVENT_MS);
    ({ c } = await pairedClient(bridge.url, a));
  }, 480_000); // the pcscd fixture may wait its turn

  afterAll(async () => {
    slot?.remove();
    c?.close();
    await bridge?.close();
    await pcscd?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  async function insert(card: VpcdInsertion): Promise<void> {
    await card.insert();
    await waitFor(() => bridge.transport.readers().some((r) => r.name === reader && r.present), EVENT_MS);
  }

  it('pulled during the 4th signature (the DRE of the 2nd invoice): invoice 1 signed, the others not, none half; then resumed', async () => {
    // A CPS that takes its time over each signature, and tells when the 4th begins.
    const { card, data } = await makeCps(set.pki, { serial: '9990000021', signDelayMs: 400 });
    let signatures = 0;
    const process = card.process.bind(card);
    card.process = (apdu) => {
      if (apdu[1] === 0x2a) signatures++; // PSO: COMPUTE DIGITAL SIGNATURE
      return process(apdu);
    };
    slot = new VpcdInsertion(card, pcscd.port);
    await insert(slot);
    expect(await c.verifyPin(reader, new TextEncoder().encode('1234'))).toMatchObject({ ok: true });

    const practitioner = createPractitioner({
      rpps: data.rpps,
      lastName: data.lastName,
      firstName: data.firstName,
      professionCode: data.profession.code,
      specialty: '01',
      situations: [{ billingNumber: '751234567', sector: '1', tariffZone: '10' }],
      chosenBillingNumber: '751234567',
    });
    const amc = { amc: { identifier: '12345678', contractType: '01', from: '2020-01-01', coverPercent: 100, thirdParty: true } };
    const drafts = Array.from({ length: 4 }, (_, i) =>
      createInvoice({
        id: `P-${i + 1}`,
        practitioner,
        beneficiary: createBeneficiary(beneficiaryInput({ ...amc, rank: i + 1 })),
        acts: [{ code: 'G', date: D, time: `${String(8 + i).padStart(2, "0")}:00` }],
        carePathway: 'referring_doctor',
        context: 'amo_amc',
        dre: true,
      }),
    );
    const prepared = await prepareInvoices(drafts, { adapter: simulatorAdapter(), numbering: new BillingNumbering(new MemoryCounterStore()), checks: { clock, catalogue: SAMPLE_CATALOGUE } });
    const docs: FormattedDocument[] = prepared.flatMap((p) => p.documents);
    expect(docs.map((d) => `${d.kind}${d.number.slice(-1)}`)).toEqual(['FSE1', 'DRE1', 'FSE2', 'DRE2', 'FSE3', 'DRE3', 'FSE4', 'DRE4']);

    const signer = bridgeSigner(c, reader);
    const batch = signBatch(docs, signer);
    await waitFor(() => signatures === 4, EVENT_MS);
    slot.remove();
    const r = await batch;
    // pcscd sees the empty slot at its next poll; the card goes back only after that.
    await waitFor(() => bridge.transport.readers().some((x) => x.name === reader && !x.present), EVENT_MS);

    // Invoice 1, both documents: signed, each verifying with the card's signature certificate.
    expect(r.signed.map((s) => `${s.kind}${s.number.slice(-1)}`)).toEqual(['FSE1', 'DRE1']);
    for (const s of r.signed) expect(await verifyDocumentSignature(s)).toEqual({ ok: true });
    // Invoice 2's FSE was signed on the card, but its DRE was not: the invoice stays unsigned whole.
    expect(r.unsigned.map((u) => `${u.document.kind}${u.document.number.slice(-1)}`)).toEqual(['FSE2', 'DRE2', 'FSE3', 'DRE3', 'FSE4', 'DRE4']);
    expect(new Set(r.unsigned.map((u) => `${u.error.code}/${u.error.field}`))).toEqual(new Set(['signature_failed/signer.card_absent']));
    expect(r.unsigned[0]!.error.message).toContain('carte CPS retirée');
    expect(signatures).toBe(4); // nothing more was sent to the card

    // OpenSSL agrees: the DRE of invoice 1 with the card's signature certificate.
    const dre = r.signed[1]!;
    writeFileSync(join(tmp, 'cert.der'), dre.certificate);
    writeFileSync(join(tmp, 'doc.bin'), dre.bytes);
    writeFileSync(join(tmp, 'sig.bin'), dre.signature);
    execFileSync('openssl', ['x509', '-inform', 'DER', '-in', join(tmp, 'cert.der'), '-pubkey', '-noout', '-out', join(tmp, 'pub.pem')]);
    expect(execFileSync('openssl', ['dgst', '-sha256', '-verify', join(tmp, 'pub.pem'), '-signature', join(tmp, 'sig.bin'), join(tmp, 'doc.bin')], { encoding: 'utf8' }).trim()).toBe('Verified OK');

    // The card back, the PIN typed again: the rest of the batch is signed, one signature each.
    slot = new VpcdInsertion(card, pcscd.port);
    await insert(slot);
    expect(await c.verifyPin(reader, new TextEncoder().encode('1234'))).toMatchObject({ ok: true });
    const rest = await signBatch(
      r.unsigned.map((u) => u.document),
      bridgeSigner(c, reader),
    );
    expect(rest.unsigned).toEqual([]);
    expect(rest.signed.map((s) => `${s.kind}${s.number.slice(-1)}`)).toEqual(['FSE2', 'DRE2', 'FSE3', 'DRE3', 'FSE4', 'DRE4']);
    for (const s of rest.signed) expect(await verifyDocumentSignature(s)).toEqual({ ok: true });
    expect(signatures).toBe(10);
    // Every signature verifies with the certificate the card itself serves.
    const served = unb64u((await c.call<{ sign: string }>('card.certificates', { reader })).sign);
    expect([...r.signed, ...rest.signed].every((s) => Buffer.from(s.certificate).equals(Buffer.from(served)))).toBe(true);
  }, 120_000);
});
