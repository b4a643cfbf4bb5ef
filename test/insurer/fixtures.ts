/**
 * A day as the workstation sends it, for the front end's tests: invoices billed by the simulator
 * on 10 March 2025, signed, their file encrypted for `recipient` (our CMS) and packaged into its
 * message (sendDay), From `from`. `tamper` alters the plain file before encryption.
 */
import { BillingNumbering, MemoryCounterStore, SAMPLE_CATALOGUE, sendDay } from '../../src/lib/billing/index.js';
import type { Invoice } from '../../src/lib/billing/invoice.js';
import { simulatorAdapter } from '../../src/lib/billing/ssv/simulator.js';
import type { InvoiceSigner } from '../../src/lib/billing/ssv/types.js';
import { encryptFor, joinParts } from '../../src/lib/cms/index.js';
import { MemoryCompostageStore } from '../../src/lib/sesam/index.js';
import { invoiceOf } from '../billing/fixtures.js';
import { createPrivateKey } from 'node:crypto';
import { SAMPLE_CATALOGUE as CATALOGUE } from '../../src/lib/billing/catalogue.js';
import type { FrontEndConfig, FrontEndKey } from '../../src/lib/server/insurer/front-end.js';
import type { Party } from '../cms/helpers.js';
import { EMAIL, type ReturnsFixture } from '../sesam/fixtures/returns.js';

/** A front end's key from a test party (certificate, PKCS#8), in the state given. */
export const frontEndKey = (p: Party, state: FrontEndKey['state']): FrontEndKey => ({ certificate: p.cert, pkcs8: p.key, signingKey: createPrivateKey({ key: Buffer.from(p.key), format: 'der', type: 'pkcs8' }), state });

/**
 * The test front end: `next` its current certificate, the fixture's own its previous one, the
 * revoked one held revoked; it reads invoices signed under `cpsRoot`, a minute after `at`.
 */
export function testFrontEnd(o: { rf: ReturnsFixture; next: Party; cpsRoot: Uint8Array; at: Date }, over: Partial<FrontEndConfig> = {}): FrontEndConfig {
  return {
    mailbox: EMAIL,
    keys: [frontEndKey(o.next, 'current'), frontEndKey(o.rf.front, 'previous'), frontEndKey(o.rf.revoked, 'revoked')],
    chain: [o.rf.fx.interDer],
    reader: { anchors: [o.cpsRoot], revocation: 'off', catalogue: CATALOGUE },
    clock: () => new Date(o.at.getTime() + 60_000),
    seen: new Set(),
    ...over,
  };
}

export const DAY = '2025-03-10';
/** 18:00 in Paris on DAY: when the day is sent. */
export const SENT_AT = new Date(Date.UTC(2025, 2, 10, 17, 0));

let compostage = 1000;

export interface SentDay {
  message: Uint8Array;
  /** The billing file's name, as the workstation files its lots under it. */
  fileName: string;
}

export async function sentDay(o: { recipient: Uint8Array; signer: InvoiceSigner; from: string; drafts?: readonly Invoice[]; tamper?: (plain: Uint8Array) => void }): Promise<SentDay> {
  const day = await sendDay(o.drafts ?? [invoiceOf({ id: 'A', acts: [{ code: 'G', date: DAY, time: '09:00' }] })], {
    adapter: simulatorAdapter(),
    numbering: new BillingNumbering(new MemoryCounterStore()),
    checks: { clock: () => SENT_AT.getTime(), catalogue: SAMPLE_CATALOGUE },
    way: 'direct',
    sender: '751234567',
    fileDate: DAY,
    signer: o.signer,
    mode: 'test',
    from: o.from,
    encrypt: async (plain: Uint8Array) => {
      const p = plain.slice();
      o.tamper?.(p);
      return joinParts((await encryptFor(p, o.recipient, { insecureSkipVerify: true })).parts);
    },
    compostage: new MemoryCompostageStore((compostage += 10)),
    packagingClock: () => SENT_AT,
  });
  if (day.messages?.length !== 1) throw new Error(`sentDay: ${day.messages?.length ?? 0} messages, one expected`);
  return { message: day.messages[0]!.message, fileName: day.transmission!.files[0]!.name };
}
