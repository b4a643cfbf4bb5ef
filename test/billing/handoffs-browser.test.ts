/**
 * Invoices the front desk prepares for a practitioner (src/lib/client/store/handoffs.ts, ADR
 * 0027), in Chromium's IndexedDB and WebCrypto: the directory entry made under the
 * practitioner's data key, a hand-off sealed for it that only that card's key opens, nothing of
 * the patient in clear, altered or misaddressed envelopes refused, a renewed key pair for another
 * card of the same holder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, openModulePage } from '../browser/harness';

const ENTRY = 'test/billing/support/store-entry.ts';
const GLOBAL = 'TeletransBillingStore';
declare const TeletransBillingStore: typeof import('./support/store-entry');

describe('hand-offs in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('sealed for the practitioner’s key only; the patient nowhere in clear; altered or moved: refused', async () => {
    const page = await openModulePage(browser, ENTRY, GLOBAL);
    try {
      const r = await page.evaluate(async () => {
        const T = TeletransBillingStore;
        const { a, b } = await T.twoCards();
        const store = new T.IdbHandoffStore();
        const situations = [{ number: 1, mode: 'libéral', structure: 'CABINET FICTIF', structureId: '751234567', conventionSector: '1', specialty: '01', tariffZone: '10' }];
        const now = () => Date.UTC(2025, 2, 10, 9);
        const privA = await store.publish(a, { holder: '10000000009', role: 'practitioner', profession: { code: '10', label: 'Médecin' }, situations }, now);
        const entry = (await store.directory())[0]!;
        const draft = { billingNumber: '751234567', securing: 'vitale' as const, input: { beneficiary: { lastName: 'MARTINEAU', firstName: 'LUCIE', nir: '255081416802538' }, acts: [{ code: 'G', date: '2025-03-10' }], context: 'none' } };
        const h = await store.handOff(entry, draft, { id: 'H-1', from: '39999990917', createdAt: new Date(now()).toISOString() });
        const waiting = await store.waitingFor('10000000009');
        const opened = await store.open(waiting[0]!, privA);
        // Another card's key (PAUL's entry) opens nothing of CLAIRE's hand-off.
        const privB = await store.publish(b, { holder: '10000000017', role: 'practitioner', profession: { code: '10', label: 'Médecin' }, situations }, now);
        const wrongKey = await store.open(waiting[0]!, privB).then(() => 'opened', (e: { code: string }) => e.code);
        // Altered ciphertext, or the envelope readdressed: refused.
        const flipped = { ...h, ct: h.ct.map((x, i) => (i === 5 ? x ^ 1 : x)) };
        const altered = await store.open(flipped, privA).then(() => 'opened', (e: { code: string }) => e.code);
        const moved = await store.open({ ...h, from: '39999990925' }, privA).then(() => 'opened', (e: { code: string }) => e.code);
        // The private key is not extractable; the stored entry's wrapped key only opens under CLAIRE's data key.
        const extractable = privA.extractable;
        const reopened = await store.publish(a, { holder: '10000000009', role: 'practitioner', profession: { code: '10', label: 'Médecin' }, situations }, now);
        const sameAfterReopen = await store.open(waiting[0]!, reopened).then(() => true, () => false);
        const preparedBy = await store.preparedBy('39999990917');
        // Everything IndexedDB holds, as a copied profile would give it.
        const dump = await new Promise<string>((resolve) => {
          const req = indexedDB.open('teletrans-handoffs');
          req.onsuccess = () => {
            const db = req.result;
            const tx = db.transaction(['directory', 'handoffs']);
            const parts: unknown[] = [];
            tx.objectStore('directory').getAll().onsuccess = (e) => parts.push((e.target as IDBRequest).result);
            tx.objectStore('handoffs').getAll().onsuccess = (e) => parts.push((e.target as IDBRequest).result);
            tx.oncomplete = () => resolve(JSON.stringify(parts, (_k, v: unknown) => (v instanceof Uint8Array ? String.fromCharCode(...v) : v)));
          };
        });
        await store.remove('H-1');
        const after = await store.waitingFor('10000000009');
        return { opened, wrongKey, altered, moved, extractable, sameAfterReopen, preparedBy, dump, after: after.length, entryHolder: entry.holder, publicKeyLength: entry.publicKey.length };
      });
      expect(r.opened).toEqual({ billingNumber: '751234567', securing: 'vitale', input: { beneficiary: { lastName: 'MARTINEAU', firstName: 'LUCIE', nir: '255081416802538' }, acts: [{ code: 'G', date: '2025-03-10' }], context: 'none' } });
      expect(r.wrongKey).toBe('sealed_invalid');
      expect(r.altered).toBe('sealed_invalid');
      expect(r.moved).toBe('sealed_invalid');
      expect(r.extractable).toBe(false);
      expect(r.sameAfterReopen).toBe(true);
      expect(r.preparedBy).toEqual([{ id: 'H-1', to: '10000000009', structure: '751234567', from: '39999990917', createdAt: '2025-03-10T09:00:00.000Z' }]);
      expect(r.dump).not.toMatch(/MARTINEAU|LUCIE|255081416802538|CLAIRE/);
      expect(r.dump).toContain('10000000009');
      expect(r.after).toBe(0);
      expect(r.entryHolder).toBe('10000000009');
      expect(r.publicKeyLength).toBe(65);
    } finally {
      await page.close();
    }
  }, 60_000);
});
