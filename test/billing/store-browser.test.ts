/**
 * The billing records in Chromium's IndexedDB (src/lib/client/store/billing.ts): a day's
 * invoices taken through the domain operations (created, submitted, signed, put in a lot),
 * each operation committed; after a reload the same frozen records come back, with their
 * history; a commit made from a stale copy (another tab changed the record meanwhile) is
 * refused with `history_conflict` and writes nothing, not even its other records.
 * Encrypted at rest (ADR 0014): no NIR or name in what IndexedDB holds; another card opens
 * nothing; an altered record does not open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { bundleForBrowser, launchChromium, openModulePage } from '../browser/harness';

const ENTRY = 'test/billing/support/store-entry.ts';
const GLOBAL = 'TeletransBillingStore';
declare const TeletransBillingStore: typeof import('./support/store-entry');

describe('IdbBillingStore in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('a day of records survives a reload; a stale commit is refused whole', async () => {
    const page = await openModulePage(browser, ENTRY, GLOBAL);
    try {
      const day = await page.evaluate(async () => {
        const T = TeletransBillingStore;
        const clock = () => Date.UTC(2025, 2, 10, 17, 0);
        const caKey = await T.genKey();
        const root = await T.issueCert({ subject: 'CN=AC RACINE FICTIVE TEST,C=FR', key: caKey, ca: true, notBefore: new Date('2024-01-01'), notAfter: new Date('2030-01-01') });
        const key = await T.genKey();
        const cert = await T.issueCpsCertificate({ rpps: '10000000009', name: 'FICTIF-TEST CLAIRE', usage: 'sign', key, caDer: root, caKey, notBefore: new Date('2024-06-01'), notAfter: new Date('2027-06-01') });
        const signer = T.testKeySigner(key.privateKey, cert);
        await T.keepTestCard('claire', key.privateKey, cert);
        const dk = await T.testCardKey('claire');
        const practitioner = T.createPractitioner({ rpps: '10000000009', lastName: 'FICTIF', firstName: 'CLAIRE', professionCode: '10', specialty: '01', situations: [{ billingNumber: '751234567', sector: '1', tariffZone: '10' }], chosenBillingNumber: '751234567' });
        const beneficiary = (fund: string) =>
          T.createBeneficiary({ holderNir: '255081416802538', lastName: 'FICTIF', firstName: 'LUCIE', birthDate: '1980-05-15', rank: 1, quality: 'holder', scheme: '01', fund, centre: '0001', amoRights: [{ from: '2015-01-01', thirdParty: true }] });
        const drafts = ['751', '931'].map((fund, i) =>
          T.createInvoice({ id: `S-${i + 1}`, practitioner, beneficiary: beneficiary(fund), acts: [{ code: 'G', date: '2025-03-10', time: `1${i}:00` }], carePathway: 'referring_doctor', context: 'none' }),
        );
        const store = new T.IdbBillingStore();
        let records = drafts.map((d) => T.createInvoiceRecord(d, clock));
        await store.commit({ invoices: records }, dk);
        const prepared = await T.prepareInvoices(drafts, { adapter: T.simulatorAdapter(), numbering: new T.BillingNumbering(new T.MemoryCounterStore()), checks: { clock, catalogue: T.SAMPLE_CATALOGUE } });
        records = records.map((r, i) => T.submitInvoice(r, prepared[i]!, clock));
        await store.commit({ invoices: records }, dk);
        const batch = await T.signPending(prepared, signer);
        records = await Promise.all(records.map((r) => T.signInvoice(r, batch.signed.filter((s) => s.number === r.submission!.number), clock)));
        await store.commit({ invoices: records }, dk);
        const t = await T.buildTransmission(batch.signed, { adapter: T.simulatorAdapter(), numbering: new T.BillingNumbering(new T.MemoryCounterStore()), way: 'direct', sender: '751234567', fileDate: '2025-03-10' });
        const built = T.createLotRecord(t.lots[0]!, '751234567', t.files[0]!.name, records, clock);
        await store.commit({ invoices: built.invoices, lots: [built.lot] }, dk);
        await store.close();
        return { lotId: built.lot.id, lots: t.lots.length, states: built.invoices.map((r) => T.invoiceStatus(r)) };
      });
      expect(day.lots).toBe(2);
      expect(day.states).toEqual(['in_lot', 'signed']);

      // Another tab, after a reload of this one: the same records, frozen, with their history.
      await page.reload();
      await page.addScriptTag({ content: await bundleForBrowser(ENTRY, GLOBAL) });
      const back = await page.evaluate(async (lotId) => {
        const T = TeletransBillingStore;
        const store = new T.IdbBillingStore();
        const dk = await T.testCardKey('claire');
        const invoices = [...(await store.listInvoices(dk))].sort((a, b) => a.id.localeCompare(b.id));
        const lot = await store.getLot(lotId, dk);
        const first = invoices[0]!;
        const verified = await T.verifyDocumentSignature(first.documents[0]!.signed);
        await store.close();
        return {
          ids: invoices.map((r) => r.id),
          states: invoices.map((r) => T.invoiceStatus(r)),
          history: first.history.map((e) => e.type),
          frozen: Object.isFrozen(first) && Object.isFrozen(first.history) && Object.isFrozen(first.invoice.acts[0]),
          bytes: first.documents[0]!.signed.bytes instanceof Uint8Array,
          verified: verified.ok,
          lot: lot && { state: lot.state, documents: lot.documents.map((d) => d.invoiceId), history: lot.history.map((e) => e.type) },
        };
      }, day.lotId);
      expect(back).toEqual({
        ids: ['S-1', 'S-2'],
        states: ['in_lot', 'signed'],
        history: ['created', 'submitted', 'signed', 'lot_built'],
        frozen: true,
        bytes: true,
        verified: true,
        lot: { state: 'built', documents: ['S-1'], history: ['lot_built'] },
      });

      // Two tabs start from the same copy; the first commits, the second is refused whole.
      const tab = await page.context().newPage();
      await tab.goto(page.url());
      await tab.addScriptTag({ content: await bundleForBrowser(ENTRY, GLOBAL) });
      const race = await Promise.all(
        [page, tab].map((p, i) =>
          p.evaluate(async (which) => {
            const T = TeletransBillingStore;
            const clock = () => Date.UTC(2025, 2, 10, 18, which);
            const store = new T.IdbBillingStore();
            const dk = await T.testCardKey('claire');
            const [s1, s2] = [...(await store.listInvoices(dk))].sort((a, b) => a.id.localeCompare(b.id));
            // Both tabs read before either writes.
            localStorage.setItem(`read-${which}`, '1');
            while (!localStorage.getItem(`read-${1 - which}`)) await new Promise((r) => setTimeout(r, 5));
            const lot = (await store.listLots(dk))[0]!;
            try {
              if (which === 0) {
                const d = T.dissolveLot(lot, [s1!, s2!], clock);
                await store.commit({ invoices: d.invoices, lots: [d.lot] }, dk);
                return 'committed';
              }
              await new Promise((r) => setTimeout(r, 200)); // the other tab commits first
              await store.commit({ invoices: [T.cancelInvoice(s2!, 'entered_twice', clock)], lots: [T.queueLot(lot, { compostage: '2025031018000000001', subject: 'SV140700/751234567/2025031018000000001/00001' }, clock)] }, dk);
              return 'committed';
            } catch (e) {
              return (e as { code?: string }).code ?? String(e);
            } finally {
              await store.close();
            }
          }, i),
        ),
      );
      expect(race).toEqual(['committed', 'history_conflict']);
      const after = await tab.evaluate(async () => {
        const T = TeletransBillingStore;
        const store = new T.IdbBillingStore();
        const dk = await T.testCardKey('claire');
        const invoices = [...(await store.listInvoices(dk))].sort((a, b) => a.id.localeCompare(b.id));
        const lots = await store.listLots(dk);
        await store.close();
        // The refused commit wrote nothing: S-2 was not cancelled although only the lot conflicted.
        return { states: invoices.map((r) => T.invoiceStatus(r)), lot: lots[0]!.state };
      });
      expect(after).toEqual({ states: ['signed', 'signed'], lot: 'dissolved' });
      await tab.close();
    } finally {
      await page.close();
    }
  }, 60_000);

  it('at rest: no NIR or name in IndexedDB; another card opens nothing; an altered or moved record does not open', async () => {
    const page = await openModulePage(browser, ENTRY, GLOBAL);
    try {
      const out = await page.evaluate(async () => {
        const T = TeletransBillingStore;
        const clock = () => Date.UTC(2025, 2, 10, 17, 0);
        const { a, b } = await T.twoCards();
        const records = T.draftRecords(['R-1', 'R-2'], 'amo', clock);
        const lot = T.bareLot('001', 'built');
        const store = new T.IdbBillingStore();
        await store.commit({ invoices: records, lots: [lot] }, a);

        // Everything IndexedDB holds, byte arrays read as text too.
        const raw = await new Promise<string>((resolve, reject) => {
          const req = indexedDB.open(T.BILLING_DB);
          req.onerror = () => reject(req.error);
          req.onsuccess = () => {
            const db = req.result;
            const tx = db.transaction(['invoices', 'lots']);
            const parts: unknown[] = [];
            for (const name of ['invoices', 'lots']) tx.objectStore(name).getAll().onsuccess = (e) => parts.push((e.target as IDBRequest).result);
            tx.oncomplete = () => {
              db.close();
              resolve(JSON.stringify(parts, (_k, v: unknown) => (v instanceof Uint8Array ? String.fromCharCode(...v) : v)));
            };
          };
        });
        const code = async (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));
        const listings = await store.listSummaries(a.keyId);
        const mine = (await store.listInvoices(a)).map((r) => r.invoice.beneficiary.firstName);

        // Raw changes, as a copied and edited profile would make them.
        const edit = (storeName: string, id: string, f: (row: Record<string, unknown>) => Record<string, unknown>) =>
          new Promise<void>((resolve, reject) => {
            const req = indexedDB.open(T.BILLING_DB);
            req.onsuccess = () => {
              const db = req.result;
              const tx = db.transaction(storeName, 'readwrite');
              const os = tx.objectStore(storeName);
              os.get(id).onsuccess = (e) => os.put(f((e.target as IDBRequest).result as Record<string, unknown>));
              tx.oncomplete = () => (db.close(), resolve());
              tx.onerror = () => reject(tx.error);
            };
          });
        const sealedOfR1 = (await new Promise<unknown>((resolve) => {
          const req = indexedDB.open(T.BILLING_DB);
          req.onsuccess = () => {
            const db = req.result;
            db.transaction('invoices').objectStore('invoices').get('R-1').onsuccess = (e) => (resolve(((e.target as IDBRequest).result as { sealed: unknown }).sealed), db.close());
          };
        }));
        await store.close();
        await edit('invoices', 'R-1', (row) => ({ ...row, summary: { ...(row.summary as object), deadline: '2099-12-31' } }));
        await edit('invoices', 'R-2', (row) => ({ ...row, sealed: sealedOfR1 }));
        await edit('lots', lot.id, (row) => ({ ...row, lot: { ...(row.lot as object), state: 'acknowledged' } }));
        const again = new T.IdbBillingStore();
        const result = {
          leaks: ['255081416802538', 'LUCIE', 'MARTINEAU', 'CLAIRE'].filter((x) => raw.includes(x)),
          listings: listings.map((l) => [l.id, l.summary.status, l.summary.careDate, l.summary.thirdParty, l.summary.deadline]),
          mine,
          otherCardLists: (await again.listInvoices(b)).length + (await again.listLots(b)).length,
          otherCardGets: await code(again.getInvoice('R-1', b)),
          otherCardWrites: await code(again.commit({ invoices: [T.cancelInvoice(records[0]!, 'entered_twice', clock)] }, b)),
          wrongCardOnSlot: await code(T.openDataKey({ keyId: a.keyId, card: T.cardSecretOf((await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, false, ['sign'])).privateKey, location.origin), slots: new T.IdbKeySlotStore() })),
          sameCardAgain: (await T.testCardKey('CLAIRE')).keyId === a.keyId,
          summaryEdited: await code(again.getInvoice('R-1', a)),
          sealedMoved: await code(again.getInvoice('R-2', a)),
          lotEdited: await code(again.getLot(lot.id, a)),
          listFails: await code(again.listInvoices(a)),
        };
        await again.close();
        return result;
      });
      expect(out).toEqual({
        leaks: [],
        listings: [
          ['R-1', 'draft', '2025-03-10', true, '2025-03-20'],
          ['R-2', 'draft', '2025-03-10', true, '2025-03-20'],
        ],
        mine: ['LUCIE', 'LUCIE'],
        otherCardLists: 0,
        otherCardGets: 'record_foreign',
        otherCardWrites: 'record_foreign',
        wrongCardOnSlot: 'wrong_card',
        sameCardAgain: true,
        summaryEdited: 'record_unreadable',
        sealedMoved: 'record_unreadable',
        lotEdited: 'record_unreadable',
        listFails: 'record_unreadable',
      });
    } finally {
      await page.close();
    }
  }, 60_000);

  it('purge: only the card’s own records go, with the delivered messages that carried only those lots; all or nothing', async () => {
    const page = await openModulePage(browser, ENTRY, GLOBAL);
    try {
      const out = await page.evaluate(async () => {
        const T = TeletransBillingStore;
        const clock = () => Date.UTC(2025, 2, 10, 17, 0);
        const { a, b } = await T.twoCards();
        const records = T.draftRecords(['P-1', 'P-2'], 'none', clock);
        const lot = T.bareLot('009', 'acknowledged');
        const message = (id: string, state: string) => ({ id, keyId: a.keyId, lotIds: [lot.id], subject: 's', compostage: '2025031018000000001', to: 'amo_pj.test@test.rss.fr', messageId: `<${id}@t>`, message: new Uint8Array(1), createdAt: '2025-03-10T17:00:00.000Z', updatedAt: '2025-03-10T17:00:00.000Z', state, attempts: 1, nextAttemptAt: 0 }) as never;
        const store = new T.IdbBillingStore();
        await store.commit({ invoices: records, lots: [lot], outbox: [message('m-delivered', 'delivered'), message('m-waiting', 'waiting')] }, a);
        const code = async (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));
        const foreign = await code(store.purge({ invoices: ['P-1'], lots: [lot.id] }, b));
        const afterForeign = (await store.listInvoices(a)).length;
        const counts = await store.purge({ invoices: ['P-1', 'nope'], lots: [lot.id] }, a);
        const left = (await store.listInvoices(a)).map((r) => r.id);
        const lots = (await store.listLots(a)).length;
        await store.close();
        const outbox = new T.IdbOutbox();
        const messages = (await outbox.listOutbox()).map((m) => m.id);
        await outbox.close();
        return { foreign, afterForeign, counts, left, lots, messages };
      });
      expect(out).toEqual({ foreign: 'record_foreign', afterForeign: 2, counts: { invoices: 1, lots: 1, messages: 1 }, left: ['P-2'], lots: 0, messages: ['m-waiting'] });
    } finally {
      await page.close();
    }
  }, 60_000);
});
