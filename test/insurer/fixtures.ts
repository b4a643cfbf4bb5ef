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
