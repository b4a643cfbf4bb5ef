/**
 * The page's returns inbox (src/lib/client/returns/inbox.ts) against the relay's real API and
 * store (RelayApi over SQLite, the practitioner's mailbox a Maildir): « Relever » asks the relay
 * to pick the mailbox up, each return is fetched and handed over, and acknowledged only once the
 * page says it is stored — one not stored is listed again at the next run; a return the page
 * could not store stops nothing else; a session the relay no longer knows is said; the hook
 * after a run (the waiting returns tried again) runs once per run.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get } from 'svelte/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReturnsInbox } from '../../src/lib/client/returns/inbox.js';
import { RelayApi, SqliteStore } from '../../src/lib/server/relay/index.js';
import { makeIgcSante, relayConfig, token, type IgcSante } from './fixtures/relay.js';

let dir: string;
let pki: IgcSante;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teletrans-returns-inbox-'));
  pki = await makeIgcSante();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function setup(): Promise<{ api: RelayApi; box: string; tok: string; deliver(subject: string): void }> {
  const box = join(dir, `box-${++n}`);
  for (const d of ['tmp', 'new', 'cur']) mkdirSync(join(box, d), { recursive: true });
  const base = relayConfig(pki, { host: '127.0.0.1', port: 1, security: 'starttls' });
  const config = { ...base, practitioners: base.practitioners.map((p) => ({ ...p, mailbox: { protocol: 'maildir' as const, path: box } })) };
  const api = new RelayApi(new SqliteStore(join(dir, `r${n}.sqlite`)), config);
  let k = 0;
  const deliver = (subject: string): void => {
    const name = `${Date.now()}.${++k}.test`;
    writeFileSync(join(box, 'tmp', name), `From: amo_pj.test@test.rss.fr\r\nTo: ps@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}.${k}@test.rss.fr>\r\n\r\n${subject}\r\n`);
    renameSync(join(box, 'tmp', name), join(box, 'new', name));
  };
  return { api, box, tok: await token(api, pki), deliver };
}

const fetcherOf = (api: RelayApi, seen: string[] = []): typeof fetch => (async (input: RequestInfo | URL, init?: RequestInit) => {
  seen.push(`${init?.method ?? 'GET'} ${String(input)}`);
  return api.handle(new Request(`http://relay.test${String(input)}`, init));
}) as typeof fetch;

const listed = async (api: RelayApi, tok: string): Promise<string[]> =>
  ((await (await api.handle(new Request('http://relay.test/api/relay/returns', { headers: { authorization: `Bearer ${tok}` } }))).json()) as { returns: { subject: string }[] }).returns.map((r) => r.subject);

describe('the returns inbox against the relay', () => {
  it('picks up, hands each return over with its bytes, and acknowledges only what was stored; the rest is listed again', async () => {
    const { api, tok, deliver } = await setup();
    deliver('ARL un');
    deliver('ARL deux');
    deliver('ARL trois');
    const got: string[] = [];
    let afterRuns = 0;
    const inbox = createReturnsInbox({
      token: () => tok,
      fetch: fetcherOf(api),
      // The page stores all but « deux » (locked meanwhile, say).
      receive: async (_id, raw) => {
        const text = new TextDecoder().decode(raw);
        got.push(/Subject: (.*)\r\n/.exec(text)![1]!);
        return !text.includes('ARL deux');
      },
      afterRun: async () => void afterRuns++,
    });
    await inbox.run(true);
    expect(got).toEqual(['ARL un', 'ARL deux', 'ARL trois']);
    expect(get(inbox.state)).toMatchObject({ running: false, received: 2 });
    expect(afterRuns).toBe(1);
    expect(await listed(api, tok)).toEqual(['ARL deux']);
    // Next run: only what was not stored comes again.
    got.length = 0;
    await inbox.run();
    expect(got).toEqual(['ARL deux']);
    expect(afterRuns).toBe(2);
  });

  it('a return the page fails to store stops the run, is not acknowledged, and is said; without a session nothing is asked', async () => {
    const { api, tok, deliver } = await setup();
    deliver('RSP un');
    const seen: string[] = [];
    const inbox = createReturnsInbox({ token: () => tok, fetch: fetcherOf(api, seen), receive: async () => { throw new Error('base pleine'); } });
    await inbox.run(true);
    expect(get(inbox.state)).toMatchObject({ running: false, received: 0, error: 'base pleine' });
    expect(await listed(api, tok)).toEqual(['RSP un']);
    expect(seen.some((s) => s.endsWith('/ack'))).toBe(false);

    seen.length = 0;
    const locked = createReturnsInbox({ token: () => null, fetch: fetcherOf(api, seen), receive: async () => true });
    await locked.run(true);
    expect(seen).toEqual([]);
  });

  it('a token the relay does not know: the session is asked to log in again, nothing is acknowledged', async () => {
    const { api, tok, deliver } = await setup();
    deliver('ARL un');
    let again = 0;
    const inbox = createReturnsInbox({ token: () => 'pas-un-jeton', fetch: fetcherOf(api), receive: async () => true, onUnauthorized: () => void again++ });
    await inbox.run(true);
    expect(again).toBe(1);
    expect(await listed(api, tok)).toEqual([]); // nothing picked up without a session either
  });
});
