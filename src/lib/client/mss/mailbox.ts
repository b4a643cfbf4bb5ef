/**
 * The practitioner's MSSanté mailbox in the page (issue 18 item 5): the relay's status and
 * PRO Santé Connect sign-in with the card, the inbox fetched and kept sealed for offline use
 * (cache.ts), a message opened from the copy when there is one, composing with the core's
 * rules before anything leaves (src/lib/mss/compose.ts), search over what is known. Every
 * failure is a French sentence in the state, never a thrown exception the page must guess at.
 */
import { get, writable, type Readable } from 'svelte/store';
import { composeMssMessage, checkRecipients, type MailboxKind, type MssComposeInput } from '../../mss/compose.js';
import { MssError } from '../../mss/errors.js';
import { readHeaders, readMessage, type ReadMessage } from '../../mss/read.js';
import type { Whitelist, WhitelistEntry } from '../../mss/whitelist.js';
import type { DataKey } from '../store/at-rest.js';
import { MssClientError, type MssApi, type MssCard, type MssStatus } from './api.js';
import type { MssCache, StoredLine } from './cache.js';
import type { InboxEntryWire } from './types.js';

export interface InboxLine {
  uid: number;
  from: string;
  to: string[];
  subject: string;
  date?: string;
  messageId?: string;
  unread: boolean;
  hasAttachments: boolean;
  report: boolean;
  size: number;
  /** Lower-cased text searched by the search field. */
  haystack: string;
}

export interface MailboxState {
  status: MssStatus | null;
  /** « Hors connexion : boîte telle qu’au … » when the relay is out of reach. */
  offline: boolean;
  lines: readonly InboxLine[];
  busy: boolean;
  error: string | null;
}

export interface MailboxOptions {
  api: MssApi;
  cache: () => Promise<MssCache | null>;
  /** The at-rest key while the session is open (null: locked; nothing is kept). */
  key: () => DataKey | null;
  card: MssCard;
  reader: () => string | null;
  software: string;
  now?: () => Date;
}

export function toLine(e: InboxEntryWire): InboxLine {
  const h = readHeaders(e.headers);
  return withHaystack({
    uid: e.uid, from: h.from, to: [...h.to, ...h.cc], subject: h.subject, ...(h.date ? { date: h.date } : {}), ...(h.messageId ? { messageId: h.messageId } : {}),
    unread: !e.flags.includes('\\Seen'), hasAttachments: h.hasAttachments, report: h.report, size: e.size,
  });
}

function withHaystack(l: StoredLine): InboxLine {
  return { ...l, haystack: `${l.from} ${l.to.join(' ')} ${l.subject}`.toLowerCase() };
}

function stored(l: InboxLine): StoredLine {
  const { haystack: _h, ...rest } = l;
  return rest;
}

/** Newest first; a search keeps the lines holding every word typed. */
export function searchLines(lines: readonly InboxLine[], query: string): InboxLine[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return lines.filter((l) => words.every((w) => l.haystack.includes(w)));
}

const NOT_CONFIGURED = 'La messagerie MSSanté n’est pas configurée sur ce serveur (opérateur, PRO Santé Connect) : voyez votre administrateur.';

const message = (e: unknown): string => {
  if (e instanceof MssClientError && (e.code === 'mss-not-configured' || e.code === 'not_configured')) return NOT_CONFIGURED;
  return e instanceof MssClientError || e instanceof MssError ? e.message : e instanceof Error ? e.message : String(e);
};

/** The trust space as the relay reported it, as the core's type (for the rules shown while typing). */
export function whitelistOf(s: MssStatus | null): Whitelist | null {
  if (!s?.whitelist.available || !s.whitelist.domains) return null;
  return { generatedAt: s.whitelist.generatedAt ?? '', signer: '', domains: new Map(s.whitelist.domains.map((d): [string, WhitelistEntry] => [d, { domain: d, description: '', operatorCertificateDn: '', updated: '' }])) };
}

export interface Mailbox {
  state: Readable<MailboxState>;
  refresh(): Promise<void>;
  signIn(): Promise<boolean>;
  signOut(): Promise<void>;
  open(uid: number): Promise<{ ok: true; message: ReadMessage } | { ok: false; error: string }>;
  /** The rules as the user types (count, addresses, trust space, patients): null when fine. */
  check(input: Pick<MssComposeInput, 'to' | 'cc' | 'replyTo'>): string | null;
  send(input: Omit<MssComposeInput, 'from' | 'fromKind' | 'software' | 'date'>): Promise<{ ok: true; accepted: string[]; rejected: string[] } | { ok: false; error: string }>;
}

export function createMailbox(o: MailboxOptions): Mailbox {
  const state = writable<MailboxState>({ status: null, offline: false, lines: [], busy: false, error: null });
  const patch = (p: Partial<MailboxState>): void => state.update((s) => ({ ...s, ...p }));
  const sorted = (entries: readonly InboxEntryWire[]): InboxLine[] => entries.map(toLine).sort((a, b) => b.uid - a.uid);

  async function fromCache(address: string): Promise<InboxLine[] | null> {
    const key = o.key();
    const cache = key ? await o.cache() : null;
    if (!key || !cache) return null;
    const lines = await cache.getInbox(key, address).catch(() => null);
    return lines ? lines.map(withHaystack) : null;
  }

  async function refresh(): Promise<void> {
    patch({ busy: true, error: null });
    let status: MssStatus;
    try {
      status = await o.api.status();
    } catch (e) {
      // Offline is normal: the copy kept here, if any, and a quiet word.
      const offline = e instanceof MssClientError && (e.code === 'offline' || e.code === 'no_session');
      const key = o.key();
      const cache = key ? await o.cache() : null;
      const cur = get(state).status ?? (key && cache ? await cache.getStatus(key).catch(() => null) : null);
      const lines = cur ? await fromCache(cur.address) : null;
      patch({ busy: false, offline, status: cur, ...(lines ? { lines } : {}), error: offline ? null : message(e) });
      return;
    }
    patch({ status, offline: false });
    {
      const key = o.key();
      const cache = key ? await o.cache() : null;
      if (key && cache) await cache.putStatus(key, status).catch(() => undefined);
    }
    if (!status.signedIn) {
      const lines = await fromCache(status.address);
      patch({ busy: false, lines: lines ?? [] });
      return;
    }
    try {
      const lines = sorted(await o.api.inbox());
      const key = o.key();
      const cache = key ? await o.cache() : null;
      if (key && cache) await cache.putInbox(key, status.address, lines.map(stored)).catch(() => undefined);
      patch({ busy: false, lines });
    } catch (e) {
      const lines = await fromCache(status.address);
      patch({ busy: false, error: message(e), ...(lines ? { lines } : {}) });
    }
  }

  return {
    state,
    refresh,
    async signIn() {
      const reader = o.reader();
      if (!reader) {
        patch({ error: 'Insérez votre carte CPS et saisissez votre code porteur pour vous connecter.' });
        return false;
      }
      patch({ busy: true, error: null });
      try {
        await o.api.signIn(o.card, reader);
        await refresh();
        return true;
      } catch (e) {
        patch({ busy: false, error: message(e) });
        return false;
      }
    },
    async signOut() {
      const s = get(state).status;
      try {
        await o.api.signOut();
      } catch (e) {
        patch({ error: message(e) });
      }
      const key = o.key();
      const cache = key ? await o.cache() : null;
      if (key && cache && s) await cache.clear(key, s.address).catch(() => undefined);
      patch({ lines: [] });
      await refresh();
    },
    async open(uid) {
      const s = get(state).status;
      if (!s) return { ok: false, error: 'Messagerie indisponible.' };
      const key = o.key();
      const cache = key ? await o.cache() : null;
      try {
        let raw = key && cache ? await cache.getMessage(key, s.address, uid).catch(() => null) : null;
        if (!raw) {
          raw = await o.api.message(uid);
          if (key && cache) await cache.putMessage(key, s.address, uid, raw).catch(() => undefined);
          state.update((st) => ({ ...st, lines: st.lines.map((l) => (l.uid === uid ? { ...l, unread: false } : l)) }));
        }
        return { ok: true, message: readMessage(raw) };
      } catch (e) {
        return { ok: false, error: e instanceof MssClientError && e.code === 'offline' ? 'Ce message n’a pas encore été téléchargé : il sera lisible une fois la connexion revenue.' : message(e) };
      }
    },
    check(input) {
      const s = get(state).status;
      if (!s) return 'Messagerie indisponible.';
      try {
        checkRecipients({ from: s.address, fromKind: s.kind as MailboxKind, to: input.to, cc: input.cc, replyTo: input.replyTo }, whitelistOf(s));
        return null;
      } catch (e) {
        return message(e);
      }
    },
    async send(input) {
      const s = get(state).status;
      if (!s) return { ok: false, error: 'Messagerie indisponible.' };
      try {
        const m = composeMssMessage({ ...input, from: s.address, fromKind: s.kind as MailboxKind, software: o.software, date: o.now?.() ?? new Date() }, whitelistOf(s));
        const r = await o.api.send(m.raw);
        return { ok: true, accepted: r.accepted, rejected: r.rejected.map((x) => `${x.address} (${x.response})`) };
      } catch (e) {
        return { ok: false, error: message(e) };
      }
    },
  };
}
