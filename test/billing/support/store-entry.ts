/** Bundled into the Chromium page of store-browser.test.ts: the billing core, its sealed store, a fictitious CPS key. */
export * from '../../../src/lib/billing/index.js';
export { IdbBillingStore, BillingStoreError, BILLING_DB } from '../../../src/lib/client/store/billing.js';
export { IdbKeySlotStore } from '../../../src/lib/client/store/key-slots.js';
export { IdbOutbox } from '../../../src/lib/client/store/outbox.js';
export { IdbHandoffStore } from '../../../src/lib/client/store/handoffs.js';
export { openDataKey, keyIdOf, AtRestError } from '../../../src/lib/client/store/at-rest.js';
export { atRestInput } from '../../../src/lib/card/protocol.js';
export { genKey, issueCert, issueCpsCertificate } from '../../../src/lib/pki/demo/index.js';

import { atRestInput } from '../../../src/lib/card/protocol.js';
/**
 * What the bridge's `card.deriveKey` returns, computed with a fictitious card key in the page:
 * the same PKCS#1 v1.5 signature over the same input (test/bridge/session.test.ts checks the
 * bridge's own on pcscd + vpcd).
 */
export function cardSecretOf(privateKey: CryptoKey, origin: string) {
  return async (salt: Uint8Array): Promise<Uint8Array> => new Uint8Array(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', privateKey, (await atRestInput(origin, salt)).slice().buffer as ArrayBuffer));
}

import { IdbKeySlotStore } from '../../../src/lib/client/store/key-slots.js';
import { keyIdOf, openDataKey, type DataKey } from '../../../src/lib/client/store/at-rest.js';
const bytes = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const text = (b: Uint8Array): string => btoa(String.fromCharCode(...b));

/** Keeps a fictitious card (its key and certificate) across the test's reloads and tabs. */
export async function keepTestCard(name: string, privateKey: CryptoKey, cert: Uint8Array): Promise<void> {
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', privateKey));
  localStorage.setItem(`card-${name}`, JSON.stringify({ pkcs8: text(pkcs8), cert: text(cert) }));
}

/** The data key that card opens on this workstation (the slot in IndexedDB, as the app does). */
export async function testCardKey(name: string): Promise<DataKey> {
  const saved = JSON.parse(localStorage.getItem(`card-${name}`)!) as { pkcs8: string; cert: string };
  const privateKey = await crypto.subtle.importKey('pkcs8', bytes(saved.pkcs8).slice().buffer as ArrayBuffer, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
  return openDataKey({ keyId: await keyIdOf(bytes(saved.cert)), card: cardSecretOf(privateKey, location.origin), slots: new IdbKeySlotStore() });
}

import { genKey, issueCert, issueCpsCertificate } from '../../../src/lib/pki/demo/index.js';
import { createBeneficiary, createInvoice, createInvoiceRecord, createPractitioner, type InvoiceRecord, type LotRecord } from '../../../src/lib/billing/index.js';

/** Two fictitious CPS cards of one test CA, CLAIRE and PAUL, each with its data key opened on this workstation. */
export async function twoCards(): Promise<{ a: DataKey; b: DataKey }> {
  const caKey = await genKey();
  const root = await issueCert({ subject: 'CN=AC RACINE FICTIVE TEST,C=FR', key: caKey, ca: true, notBefore: new Date('2024-01-01'), notAfter: new Date('2030-01-01') });
  const card = async (name: string, rpps: string): Promise<DataKey> => {
    const key = await genKey();
    const cert = await issueCpsCertificate({ rpps, name: `FICTIF-TEST ${name}`, usage: 'auth', key, caDer: root, caKey, notBefore: new Date('2024-06-01'), notAfter: new Date('2027-06-01') });
    await keepTestCard(name, key.privateKey, cert);
    return testCardKey(name);
  };
  return { a: await card('CLAIRE', '10000000009'), b: await card('PAUL', '10000000017') };
}

/** Draft invoices of LUCIE MARTINEAU (a fictitious NIR) by CLAIRE, one G each, on 10 March 2025. */
export function draftRecords(ids: readonly string[], context: 'none' | 'amo', clock: () => number): InvoiceRecord[] {
  const practitioner = createPractitioner({ rpps: '10000000009', lastName: 'FICTIF', firstName: 'CLAIRE', professionCode: '10', specialty: '01', situations: [{ billingNumber: '751234567', sector: '1', tariffZone: '10' }], chosenBillingNumber: '751234567' });
  const beneficiary = createBeneficiary({ holderNir: '255081416802538', lastName: 'MARTINEAU', firstName: 'LUCIE', birthDate: '1980-05-15', rank: 1, quality: 'holder', scheme: '01', fund: '751', centre: '0001', amoRights: [{ from: '2015-01-01', thirdParty: true }] });
  return ids.map((id) => createInvoiceRecord(createInvoice({ id, practitioner, beneficiary, acts: [{ code: 'G', date: '2025-03-10', time: '10:00' }], carePathway: 'referring_doctor', context }), clock));
}

/** A lot record as stored, without documents (the store's rules only). */
export function bareLot(number: string, state: LotRecord['state']): LotRecord {
  return { id: `751234567:FSE:${number}`, kind: 'FSE', number, sender: '751234567', destination: { way: 'direct' }, fileName: 'F', documents: [], state, transmissions: [], history: [{ seq: 1, at: '2025-03-10T17:00:00.000Z', type: 'lot_built' }] } as unknown as LotRecord;
}

export { backupOf } from '../../../src/lib/client/store/backup.js';
export { readBackup } from '../../../src/lib/client/store/backup-read.js';
export { openSlot } from '../../../src/lib/client/store/at-rest.js';
export { IdbCounterStore } from '../../../src/lib/client/store/counters.js';
export { numbersInUse } from '../../../src/lib/billing/numbers-in-use.js';

/** The card's secret for a salt (what `card.deriveKey` gives), for a card kept by `keepTestCard`. */
export async function testCardSecret(name: string): Promise<(salt: Uint8Array) => Promise<Uint8Array>> {
  const saved = JSON.parse(localStorage.getItem(`card-${name}`)!) as { pkcs8: string; cert: string };
  const privateKey = await crypto.subtle.importKey('pkcs8', bytes(saved.pkcs8).slice().buffer as ArrayBuffer, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
  return cardSecretOf(privateKey, location.origin);
}

/** Deletes IndexedDB databases, as a cleared profile (or another workstation) has none. */
export async function deleteDatabases(names: readonly string[]): Promise<void> {
  for (const name of names) {
    await new Promise<void>((resolve, reject) => {
      const r = indexedDB.deleteDatabase(name);
      r.onsuccess = () => resolve();
      r.onerror = () => reject(r.error);
      r.onblocked = () => reject(new Error(`${name}: still open`));
    });
  }
}
