/**
 * What the e2e files search for names, NIRs or labels that must never be there in clear.
 */
import type { Page } from 'playwright-core';

/**
 * Everything the page's IndexedDB databases hold, as one text (byte arrays as Latin-1 strings):
 * what a copied browser profile would give an attacker, searched by the e2e files for names,
 * NIRs or labels that must never be there in clear.
 */
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

/**
 * What a backup file (JSON) holds in clear: its text with every `{"$b64u": …}` value emptied.
 * The sealed values are ciphertext; searching their base64 for a 4-letter name would fail at
 * random (« ALEX » turns up in a few hundred KB of base64 now and then), and prove nothing.
 */
export function backupClearText(text: string): string {
  return JSON.stringify(JSON.parse(text, (_k, v: unknown) => (v && typeof v === 'object' && '$b64u' in v ? '' : v)));
}

/**
 * What a mail carries in clear: its header section; the body must be base64 only (the encrypted
 * attachment), whose text is not searched for names for the same reason.
 */
export function mailClearText(mail: Uint8Array): string {
  const text = Buffer.from(mail).toString('latin1');
  // CRLF as sent, or LF as a maildir keeps it.
  const blank = /\r?\n\r?\n/.exec(text);
  if (!blank) throw new Error('mail without a header section');
  const end = blank.index;
  const body = text.slice(end + blank[0].length);
  if (!/^[A-Za-z0-9+/=\r\n]*$/.test(body)) throw new Error('mail body is not base64 only');
  return text.slice(0, end);
}
