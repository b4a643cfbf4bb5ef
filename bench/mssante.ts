/**
 * `npm run bench -- mssante` (issue 18's goal). One JSON line:
 *
 *   {"bench":"mssante","send_ratio_vs_smtp_source":…,"fetch_ratio_vs_imap":…,"inbox_open_ms":…}
 *
 * Against the test operator of the tests (Postfix submission + Dovecot IMAP, our test PRO Santé
 * Connect provider), in the same run:
 * - send: 200 messages of 100 KiB through the relay's MSSanté service (its checks, the
 *   pooled submission sessions: STARTTLS under the MSSanté policy, XOAUTH2), 4 at a time,
 *   against Postfix's `smtp-source` sending as many of the same size with 4 sessions (plain
 *   SMTP on the operator's inbound port: it has neither TLS nor SASL); delivery notices on
 *   failure only, as smtp-source gets (the product asks for success notices too: Postfix then
 *   writes one per message, work smtp-source never causes). Rounds alternate which
 *   goes first; rates are totals. Ratio = relay rate ÷ smtp-source rate.
 * - fetch: the same 200 messages fetched whole by the relay's service (one UID FETCH of BODY[],
 *   which marks them read) against Python's imaplib fetching the same UIDs (STARTTLS, the same XOAUTH2
 *   token, one UID FETCH). Ratio = imaplib time ÷ relay time.
 * - inbox_open_ms: in Chromium, the page's mailbox opened offline on a sealed copy of 10 000
 *   messages (at-rest key imported, copy unsealed, 10 000 lines decoded and sorted) and its
 *   first 200 rows put in the document; median of 7 after one warm-up.
 * Goal: ≥ 0.8 for both ratios, inbox ≤ 200 ms.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { composeMssMessage } from '../src/lib/mss/compose.js';
import type { Whitelist, WhitelistEntry } from '../src/lib/mss/whitelist.js';
import { MssService } from '../src/lib/server/mss/service.js';
import { MemoryTokenVault } from '../src/lib/server/mss/token-vault.js';
import { launchChromium, openModulePage } from '../test/browser/harness.js';
import { makeCard, providerOptions, PWA_ORIGIN, RPPS } from '../test/mss/fixtures/card.js';
import { DOMAINS, PRACTITIONER, startOperator } from '../test/mss/fixtures/operator.js';
import { median } from './util.js';

const N = Number(process.env.BENCH_MSS_MESSAGES ?? 200);
const ROUNDS = Number(process.env.BENCH_MSS_ROUNDS ?? 3);
const KIB100 = 100 * 1024;
const CONCURRENCY = 4;
const INBOX = 10_000;

const r2 = (x: number): number => Math.round(x * 100) / 100;
const LIST: Whitelist = { generatedAt: new Date().toISOString(), signer: 'CN=AGENCE',
  domains: new Map(DOMAINS.map((d): [string, WhitelistEntry] => [d, { domain: d, description: '', operatorCertificateDn: 'CN=X', updated: '2026-12-01' }])) };

/** A message of about 100 KiB once encoded: text and a PDF whose base64 fills the rest. */
function message(i: number): Uint8Array {
  const pdf = new Uint8Array(Math.floor((KIB100 - 1500) * 3 / 4 * 76 / 78));
  pdf.set(new TextEncoder().encode('%PDF-1.7\n'));
  for (let k = 9; k < pdf.length; k++) pdf[k] = (k * 31 + i) & 0xff;
  return composeMssMessage({ from: PRACTITIONER, fromKind: 'personal', to: [PRACTITIONER], subject: `Bench ${i}`, text: 'Compte rendu.', pdfs: [{ name: 'cr.pdf', data: pdf }],
    software: 'Teletrans/Teletrans/0.1.0', date: new Date() }, LIST).raw;
}

async function pool<T>(items: readonly T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await f(items[i++]!);
  }));
}

const PY_FETCH = `
import imaplib, ssl, sys, time
host, port, ca, user, token, uids = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
c = imaplib.IMAP4(host, port)
c.starttls(ssl_context=ssl.create_default_context(cafile=ca))
c.authenticate('XOAUTH2', lambda _: ('user=%s\\x01auth=Bearer %s\\x01\\x01' % (user, token)).encode())
c.select('INBOX', readonly=True)
t = time.perf_counter()
typ, data = c.uid('FETCH', uids, '(BODY.PEEK[])')
dt = time.perf_counter() - t
n = sum(len(d[1]) for d in data if isinstance(d, tuple))
c.logout()
print(dt, n)
`;

export async function benchMssante(): Promise<object[]> {
  const card = await makeCard();
  const op = await startOperator(providerOptions(card, { [RPPS]: PRACTITIONER }));
  const caFile = join(op.root, 'ca.pem');
  writeFileSync(caFile, op.pki.caPem);
  const vault = new MemoryTokenVault();
  const svc = new MssService({
    psc: { issuer: op.issuer, clientId: 'teletrans', redirectUri: `${PWA_ORIGIN}/mss/connexion` }, tls: { ca: op.pki.caPem, servername: 'localhost' },
    whitelist: () => LIST, vault,
    // Success notices off: smtp-source cannot ask for them, and Postfix writing 200 of them during the relay's part only would not compare the same work.
    mailboxes: [{ practitioner: 'ps1', address: PRACTITIONER, kind: 'personal', successNotices: false, operator: { submission: { host: '127.0.0.1', port: op.submissionPort }, imap: { host: '127.0.0.1', port: op.imapPort } } }],
  });
  let page: Page | null = null;
  const browser = await launchChromium();
  try {
    const ch = await svc.signInStart('ps1');
    await svc.signInFinish('ps1', await card.authenticator(ch));
    const token = await svc.accessToken('ps1');
    const messages = Array.from({ length: N }, (_, i) => message(i));
    process.stderr.write(`mssante: ${N} messages of ${messages[0]!.length} bytes\n`);
    await svc.send('ps1', messages[0]!); // warm-up: the submission sessions open
    await op.drain();

    let relaySecs = 0;
    let sourceSecs = 0;
    let relayFetch = 0;
    let imapFetch = 0;
    const rounds: Array<{ send_ratio: number; fetch_ratio: number }> = [];
    for (let r = 0; r < ROUNDS; r++) {
      let rs = 0;
      let ss = 0;
      const relay = async (): Promise<void> => {
        const t = performance.now();
        await pool(messages, CONCURRENCY, async (m) => void (await svc.send('ps1', m)));
        rs = (performance.now() - t) / 1000;
        await op.drain(120_000);
      };
      const source = async (): Promise<void> => {
        const t = performance.now();
        execFileSync('smtp-source', ['-s', String(CONCURRENCY), '-m', String(N), '-l', String(messages[0]!.length), '-f', PRACTITIONER, '-t', 'bench-source@medecin.mssante.fr', `127.0.0.1:${op.inboundPort}`]);
        ss = (performance.now() - t) / 1000;
        await op.drain(120_000);
      };
      for (const part of r % 2 === 0 ? [relay, source] : [source, relay]) await part();
      relaySecs += rs;
      sourceSecs += ss;

      // This round's messages (the practitioner wrote to themself; the delivery notices beside them are left out).
      const inbox = await svc.inbox('ps1');
      const uids = inbox.filter((e) => /^Subject: Bench \d+/m.test(e.headers)).map((e) => e.uid).sort((a, b) => a - b).slice(-N);
      const alt = r % 2 === 0;
      let rf = 0;
      let pf = 0;
      const viaRelay = async (): Promise<void> => {
        const t = performance.now();
        const got = await svc.messages('ps1', uids);
        rf = (performance.now() - t) / 1000;
        if (got.size !== uids.length) throw new Error(`relay fetched ${got.size} of ${uids.length}`);
      };
      const viaImaplib = async (): Promise<void> => {
        // Not execFileSync: Dovecot introspects the token at the provider, which runs in this process.
        const { stdout } = await promisify(execFile)('python3', ['-c', PY_FETCH, '127.0.0.1', String(op.imapPort), caFile, PRACTITIONER, token, uids.join(',')], { encoding: 'utf8', maxBuffer: 1 << 20 });
        const out = stdout.trim().split(' ');
        pf = Number(out[0]);
        if (Number(out[1]) < uids.length * 90_000) throw new Error(`imaplib fetched ${out[1]} bytes`);
      };
      for (const part of alt ? [viaRelay, viaImaplib] : [viaImaplib, viaRelay]) await part();
      relayFetch += rf;
      imapFetch += pf;
      rounds.push({ send_ratio: r2((N / rs) / (N / ss)), fetch_ratio: r2(pf / rf) });
      process.stderr.write(`mssante: round ${r}: send relay ${r2(N / rs)} msg/s, smtp-source ${r2(N / ss)} msg/s; fetch relay ${r2(rf * 1000)} ms, imaplib ${r2(pf * 1000)} ms\n`);
    }

    page = await openModulePage(browser, 'bench/entries/mss-inbox-entry.ts', 'MssInbox');
    await page.evaluate((n) => (globalThis as unknown as { MssInbox: typeof import('./entries/mss-inbox-entry.js') }).MssInbox.prepare(n), INBOX);
    const opens: number[] = [];
    for (let i = 0; i < 8; i++) {
      const o = await page.evaluate(() => (globalThis as unknown as { MssInbox: typeof import('./entries/mss-inbox-entry.js') }).MssInbox.open(200));
      if (o.lines !== INBOX) throw new Error(`inbox: ${o.lines} lines (${JSON.stringify(o)})`);
      if (i > 0) opens.push(o.ms);
    }
    return [{
      bench: 'mssante',
      send_ratio_vs_smtp_source: r2((N * ROUNDS / relaySecs) / (N * ROUNDS / sourceSecs)),
      fetch_ratio_vs_imap: r2(imapFetch / relayFetch),
      inbox_open_ms: r2(median(opens)),
      messages: N, rounds: ROUNDS, message_bytes: messages[0]!.length, concurrency: CONCURRENCY,
      relay_send_msgs_per_s: r2(N * ROUNDS / relaySecs), smtp_source_msgs_per_s: r2(N * ROUNDS / sourceSecs),
      relay_fetch_ms_per_round: r2(relayFetch * 1000 / ROUNDS), imaplib_fetch_ms_per_round: r2(imapFetch * 1000 / ROUNDS),
      relay_tls: 'STARTTLS (MSSanté suites) + XOAUTH2', smtp_source_tls: 'none', success_notices: false, imaplib: 'STARTTLS + XOAUTH2',
      inbox_messages: INBOX, per_round: rounds,
    }];
  } finally {
    await page?.close();
    await browser.close();
    await svc.close();
    await op.stop();
  }
}
