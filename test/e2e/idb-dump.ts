/**
 * Everything the page's IndexedDB databases hold, as one text (byte arrays as Latin-1 strings):
 * what a copied browser profile would give an attacker, searched by the e2e files for names,
 * NIRs or labels that must never be there in clear.
 */
import type { Page } from 'playwright-core';

export function indexedDbText(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const dump = (name: string) =>
      new Promise<string>((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const db = req.result;
          const names = [...db.objectStoreNames];
          const tx = db.transaction(names);
          const parts: unknown[] = [];
          for (const n of names) tx.objectStore(n).getAll().onsuccess = (e) => parts.push((e.target as IDBRequest).result);
          tx.oncomplete = () => (db.close(), resolve(JSON.stringify(parts, (_k, v: unknown) => (v instanceof Uint8Array ? String.fromCharCode(...v) : v))));
        };
      });
    return (await Promise.all((await indexedDB.databases()).map((d) => dump(d.name!)))).join('\n');
  });
}
