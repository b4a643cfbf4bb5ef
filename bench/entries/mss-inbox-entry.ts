/**
 * Bundled for Chromium (bench/mssante.ts): the mailbox opened offline on a sealed copy of
 * `n` messages — the page's own code (client/mss/mailbox.ts over cache.ts and the at-rest
 * key), the relay out of reach — then the first rows of the list put in the document.
 */
import { get } from 'svelte/store';
import { importDataKey } from '../../src/lib/client/store/at-rest.js';
import { openMssCache } from '../../src/lib/client/mss/cache.js';
import { MssClientError, type MssApi } from '../../src/lib/client/mss/api.js';
import { createMailbox, searchLines, toLine } from '../../src/lib/client/mss/mailbox.js';
import type { InboxEntryWire } from '../../src/lib/client/mss/types.js';

const ADDRESS = 'dr.fictif@medecin.mssante.fr';

function entries(n: number): InboxEntryWire[] {
  const out: InboxEntryWire[] = [];
  for (let i = 1; i <= n; i++) {
    const from = `confrere${i % 97}@ch-fictif.mssante.fr`;
    out.push({ uid: i, flags: i % 3 ? ['\\Seen'] : [], size: 20_000 + i, internalDate: '06-Dec-2026 10:00:00 +0000',
      headers: `From: ${from}\r\nTo: ${ADDRESS}\r\nSubject: =?UTF-8?B?${btoa(unescape(encodeURIComponent(`Résultats d’examen n° ${i}`)))}?=\r\nDate: Sun, 06 Dec 2026 10:${String(i % 60).padStart(2, '0')}:00 +0100\r\nMessage-ID: <m${i}@ch-fictif.mssante.fr>\r\nContent-Type: multipart/mixed; boundary="b"\r\n` });
  }
  return out;
}

/** Seals a copy of `n` messages; returns nothing (the key is kept for `open`). */
let rawKey: Uint8Array | null = null;
export async function prepare(n: number): Promise<void> {
  rawKey = crypto.getRandomValues(new Uint8Array(32));
  const key = await importDataKey('bench', rawKey.slice()); // importDataKey wipes what it is given
  const cache = await openMssCache('teletrans-mss-bench');
  await cache.putStatus(key, { address: ADDRESS, kind: 'personal', signedIn: true, whitelist: { available: true } });
  // As the page keeps it after fetching: the lines decoded once, newest first.
  await cache.putInbox(key, ADDRESS, entries(n).map(toLine).sort((a, b) => b.uid - a.uid).map(({ haystack: _h, ...l }) => l));
}

/** Opens the mailbox offline (a fresh page state: new key object, new cache handle) and renders the first rows; ms. */
export async function open(rows: number): Promise<{ ms: number; lines: number; error: string | null; status: string | null }> {
  const t0 = performance.now();
  const key = await importDataKey('bench', rawKey!.slice());
  const offline = (): never => {
    throw new MssClientError('offline', 'hors connexion');
  };
  const api = { status: offline, inbox: offline } as unknown as MssApi;
  const box = createMailbox({ api, cache: () => openMssCache('teletrans-mss-bench'), key: () => key, card: {} as never, reader: () => null, software: 'bench' });
  await box.refresh();
  const lines = searchLines(get(box.state).lines, '');
  const ul = document.createElement('ul');
  for (const l of lines.slice(0, rows)) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.textContent = `${l.from} ${l.subject} ${l.date ?? ''}`;
    li.append(b);
    ul.append(li);
  }
  document.body.replaceChildren(ul);
  document.body.getBoundingClientRect();
  const st = get(box.state);
  return { ms: performance.now() - t0, lines: lines.length, error: st.error, status: st.status?.address ?? null };
}
