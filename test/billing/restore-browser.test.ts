/**
 * Restoring a backup file (issue 14 item 7) in Chromium's IndexedDB: a card's invoices, lot,
 * returns-free outbox and preferences exported, the workstation's databases deleted (a cleared
 * profile, or another workstation: the same card gets a new data key there), then the file
 * opened with the card and sealed under the new key; the numbering raised past every number
 * the records used; nothing newer on the workstation overwritten; an altered file refused whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, openModulePage } from '../browser/harness';

const ENTRY = 'test/billing/support/store-entry.ts';
const GLOBAL = 'TeletransBillingStore';
declare const TeletransBillingStore: typeof import('./support/store-entry');

describe('restoring a backup file in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('brings a cleared workstation back, numbers never repeat, nothing newer is overwritten, an altered file changes nothing', async () => {
    const page = await openModulePage(browser, ENTRY, GLOBAL);
    try {
      const r = await page.evaluate(async () => {
        const T = TeletransBillingStore;
        const COUNTERS = 'restore-test-counters';
        const clock = () => Date.UTC(2025, 2, 10, 17, 0);
        const { a } = await T.twoCards();
        const numbering = new T.BillingNumbering(new T.IdbCounterStore(COUNTERS));
        // Three invoices numbered by this workstation's counters, one of them then corrected (its
        // number abandoned), a lot numbered 000007, the card's preferences.
        const practitioner = T.createPractitioner({ rpps: '10000000009', lastName: 'FICTIF', firstName: 'CLAIRE', professionCode: '10', specialty: '01', situations: [{ billingNumber: '751234567', sector: '1', tariffZone: '10' }], chosenBillingNumber: '751234567' });
        const beneficiary = T.createBeneficiary({ holderNir: '255081416802538', lastName: 'MARTINEAU', firstName: 'LUCIE', birthDate: '1980-05-15', rank: 1, quality: 'holder', scheme: '01', fund: '751', centre: '0001', amoRights: [{ from: '2015-01-01', thirdParty: true }] });
        const drafts = ['R-1', 'R-2', 'R-3'].map((id, i) =>
          T.createInvoiceRecord(T.createInvoice({ id, practitioner, beneficiary, acts: [{ code: 'G', date: `2025-03-0${i + 3}`, time: '10:00' }], carePathway: 'referring_doctor', context: 'none' }), clock));
        const prepared = await T.prepareInvoices(drafts.map((d) => d.invoice), { adapter: T.simulatorAdapter(), numbering, checks: { clock, catalogue: T.SAMPLE_CATALOGUE } });
        let records = drafts.map((d, i) => T.submitInvoice(d, prepared[i]!, clock));
        records = [records[0]!, records[1]!, T.reopenInvoice(records[2]!, clock)];
        const lot = T.bareLot('000007', 'queued');
        const store = new T.IdbBillingStore();
        await store.commit({ invoices: records, lots: [lot] }, a);
        await store.putProfile(a, { billingNumber: '751234567', mailbox: 'claire@demo.test' });
        const slots = new T.IdbKeySlotStore();
        const text = JSON.stringify(await T.backupOf(a.keyId, (await slots.get(a.keyId))!, { origin: location.origin }));
        const numbers = records.map((x) => x.submission?.number ?? x.history.find((e) => e.type === 'reopened')?.detail?.abandonedNumber);

        // The profile cleared: no records, no key slot, no counters.
        await store.close();
        await slots.close();
        await T.deleteDatabases([T.BILLING_DB, 'teletrans-keys', COUNTERS]);
        const fresh = await T.testCardKey('CLAIRE'); // a new slot: a new data key for the same card
        const store2 = new T.IdbBillingStore();
        const counters = new T.IdbCounterStore(COUNTERS);
        const numbering2 = new T.BillingNumbering(counters);
        // One invoice made here meanwhile under an id the file also holds: it differs, it stays.
        const [mine] = T.draftRecords(['R-2'], 'amo', () => Date.UTC(2025, 2, 11, 9, 0));
        // And R-1 as it was before it was submitted (an older copy): the file brings it up to date.
        await store2.commit({ invoices: [mine!, drafts[0]!] }, fresh);

        // Same content, whatever the order of the keys.
        const canonical = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) =>
          x && typeof x === 'object' && !Array.isArray(x) && !ArrayBuffer.isView(x) ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => p.localeCompare(q))) : ArrayBuffer.isView(x) ? [...(x as Uint8Array)] : x);
        const code = async (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));
        const contents = T.readBackup(text, { keyId: fresh.keyId, origin: location.origin });
        const from = await T.openSlot(contents.slot, await T.testCardSecret('CLAIRE'));
        // An altered file: one byte of one invoice's sealed content. Refused whole, nothing written.
        const altered = structuredClone(contents) as typeof contents;
        (altered.invoices[0]!.sealed.ct as Uint8Array)[5]! ^= 1;
        const alteredCode = await code(store2.restore(altered, from, fresh, { beforeWrite: (o) => numbering2.keepPast(T.numbersInUse(o.invoices, o.lots)) }));
        const afterAltered = (await store2.listInvoices(fresh)).map((x) => x.id);
        const nextAfterAltered = await counters.next('lot:751234567');

        const report = await store2.restore(contents, from, fresh, { beforeWrite: (o) => numbering2.keepPast(T.numbersInUse(o.invoices, o.lots)) });
        const back = [...(await store2.listInvoices(fresh))].sort((x, y) => x.id.localeCompare(y.id));
        const again = await store2.restore(contents, from, fresh);
        const out = {
          numbers,
          alteredCode,
          afterAltered,
          nextAfterAltered,
          report,
          ids: back.map((x) => x.id),
          r2Kept: back.find((x) => x.id === 'R-2')!.invoice.context,
          r1History: back.find((x) => x.id === 'R-1')!.history.map((e) => e.type),
          r1Same: canonical(back.find((x) => x.id === 'R-1')) === canonical(records[0]),
          lot: (await store2.getLot(lot.id, fresh))?.number,
          profile: await store2.getProfile(fresh),
          nextInvoice: await numbering2.invoiceNumber('751234567'),
          nextLot: await numbering2.lotNumber('751234567'),
          nextFile: await numbering2.fileNumber('751234567'),
          again,
        };
        await store2.close();
        await counters.close();
        return out;
      });
      expect(r.numbers).toEqual(['000000001', '000000002', '000000003']);
      expect(r.alteredCode).toBe('record_unreadable');
      expect(r.afterAltered.sort()).toEqual(['R-1', 'R-2']);
      // The altered file raised nothing either: opening failed before the numbering was touched.
      expect(r.nextAfterAltered).toBe(1);
      expect(r.report).toEqual({ added: { invoices: 1, lots: 1, files: 0, returns: 0, messages: 0 }, updated: 1, kept: 0, diverged: ['R-2'], profile: true });
      expect(r.ids).toEqual(['R-1', 'R-2', 'R-3']);
      expect(r.r2Kept).toBe('amo');
      expect(r.r1History).toEqual(['created', 'submitted']);
      expect(r.r1Same).toBe(true);
      expect(r.lot).toBe('000007');
      expect(r.profile).toEqual({ billingNumber: '751234567', mailbox: 'claire@demo.test' });
      // Past the three invoice numbers (the abandoned one included) and the lot (and so the files).
      expect(r.nextInvoice).toBe('000000004');
      expect(r.nextLot).toBe('000008');
      expect(r.nextFile).toBe('000008');
      // A second restore of the same file changes nothing.
      expect(r.again).toEqual({ added: { invoices: 0, lots: 0, files: 0, returns: 0, messages: 0 }, updated: 0, kept: 3, diverged: ['R-2'], profile: false });
    } finally {
      await page.close();
    }
  });
});
