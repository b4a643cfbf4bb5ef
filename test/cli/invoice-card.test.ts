/**
 * `teletrans invoice build` signed by the CPS through the bridge (ADR 0012), on the real PC/SC
 * stack: a private pcscd with vpcd, our virtual CPS, the bridge with the command line's origin
 * allowed as an administrator does, and the command line in a child process. Pairing is
 * approved by comparing the code the command line printed with the bridge's (what the
 * practitioner does by eye); the pairing is kept in a 0600 file and reused; the PIN comes from
 * standard input and is never echoed; the file written is read back by the insurer's reader
 * with the card's chain. pcscd and the vpcd driver are required: never skipped.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCardSet, type CardSet } from '../../bridge/cards/profiles.js';
import { VpcdInsertion } from '../../bridge/cards/vpcd.js';
import { startBridge, type Bridge, type PairingRequest } from '../../bridge/server.js';
import { OriginStore } from '../../bridge/state.js';
import { practitionerInputFromCps } from '../../src/lib/billing/from-cards.js';
import type { InvoiceJson } from '../../src/lib/billing/invoice-json.js';
import { CLI_ORIGIN, b64u, importPairingKey } from '../../src/lib/card/protocol.js';
import { FilePairingKeyStore, PairingFileError } from '../../src/lib/cli/pairing-file.js';
import { pcscAvailable, startPcscd, type Pcscd, PCSCD, VPCD_DRIVER } from '../bridge/pcscd.js';
import { waitFor } from '../bridge/helpers.js';
import { BIN, REPO, runCli, type CliRun } from './run-cli.js';

const EVENT_MS = 30_000;
const DAY = new Date().toISOString().slice(0, 10);
const PIN = '1234';

/** NIR with its key (97 − N mod 97). */
const nir = (n13: string): string => n13 + String(97 - Number(BigInt(n13) % 97n)).padStart(2, '0');

describe('invoice build signed on the CPS through the bridge (pcscd + vpcd)', () => {
  let pcscd: Pcscd;
  let set: CardSet;
  let bridge: Bridge;
  let cps: VpcdInsertion;
  let dir: string;
  let bridgeState: string;
  const requests: PairingRequest[] = [];
  /** What the command line has printed so far (its stderr), for the approval hook. */
  let shown = '';

  beforeAll(async () => {
    if (!pcscAvailable()) throw new Error(`invoice-card.test: ${PCSCD} or ${VPCD_DRIVER} missing; run scripts/install-system-deps.sh (the real PC/SC peer is required)`);
    dir = mkdtempSync(join(tmpdir(), 'teletrans-invoice-card-'));
    bridgeState = join(dir, 'bridge-state');
    // The administrator allows the command line's origin once (`teletrans bridge origins add`).
    expect(new OriginStore(bridgeState).add(CLI_ORIGIN)).toMatchObject({ ok: true, origin: CLI_ORIGIN });
    set = await makeCardSet();
    pcscd = await startPcscd();
    bridge = await startBridge({
      port: 0,
      stateDir: bridgeState,
      approve: async (r) => {
        requests.push(r);
        // The practitioner approves only when the command line shows the bridge's code.
        for (let i = 0; i < 400; i++) {
          const m = /code (\d{3} \d{3})/.exec(shown);
          if (m) return m[1] === r.code;
          await new Promise((q) => setTimeout(q, 25));
        }
        return false;
      },
    });
    cps = new VpcdInsertion(set.cps, pcscd.port);
    await cps.insert();
    await waitFor(() => bridge.transport.readers().some((r) => r.present), EVENT_MS);
    writeFileSync(join(dir, 'root.der'), set.pki.rootDer);
    writeFileSync(join(dir, 'ca.der'), set.pki.caDer);
    const c = set.cpsData;
    const situation = c.situations[0]!;
    const practitioner: InvoiceJson['practitioner'] = practitionerInputFromCps(c, situation.structureId);
    const invoices = [0, 1, 2].map((i) => ({
      id: `CARTE-${i + 1}`,
      practitioner,
      beneficiary: {
        holderNir: nir(`1${60 + i}0${i + 1}75${String(100 + i).padStart(3, '0')}${String(200 + i).padStart(3, '0')}`.slice(0, 13)),
        lastName: 'FICTIF',
        firstName: 'PATIENT',
        birthDate: `19${60 + i}-0${i + 1}-15`,
        rank: 1,
        quality: 'holder',
        scheme: '01',
        fund: i === 2 ? '931' : '751',
        centre: '0001',
        amoRights: [{ from: '2015-01-01' }],
      },
      acts: [{ code: 'G', date: DAY, time: `${String(8 + i).padStart(2, '0')}:00` }],
      context: 'none',
      nature: 'illness',
      carePathway: 'referring_doctor',
    }));
    writeFileSync(join(dir, 'day.json'), JSON.stringify(invoices));
  }, 480_000); // the pcscd fixture may wait its turn

  afterAll(async () => {
    cps?.remove();
    await bridge?.close();
    await pcscd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const build = (out: string, extra: string[] = [], input = `${PIN}\n`): Promise<CliRun> => {
    shown = '';
    return runCli(
      ['invoice', 'build', '--bridge', bridge.url, '--pairing', join(dir, 'pairing.json'), '--pin-stdin', '--counters', join(dir, 'counters'), '--out', join(dir, out), '--today', DAY, '--json', ...extra, join(dir, 'day.json')],
      { input, timeoutMs: 90_000, onStderr: (t) => (shown = t) },
    );
  };

  it('pairs once (approved by code), verifies the PIN in its session, signs on the card; the insurer’s reader accepts the file', async () => {
    const r = await build('out1');
    expect(r.stderr).toContain('signé par la CPS');
    expect(r.code, r.stderr).toBe(0);
    expect(requests.map((q) => q.origin)).toEqual([CLI_ORIGIN]);
    const summary = JSON.parse(r.stdout) as { testKey: boolean; invoices: { number: string }[]; files: { path: string; invoiceCount: number; lots: unknown[] }[] };
    expect(summary.testKey).toBe(false);
    expect(summary.invoices.map((i) => i.number)).toEqual(['000000001', '000000002', '000000003']);
    expect(summary.files.map((f) => [f.invoiceCount, f.lots.length])).toEqual([[3, 2]]);
    // Never the PIN in what the command printed.
    expect(`${r.stdout}\n${r.stderr}`).not.toMatch(new RegExp(`(^|\\D)${PIN}(\\D|$)`));
    // The pairing file: its owner's alone.
    expect(statSync(join(dir, 'pairing.json')).mode & 0o777).toBe(0o600);

    const read = await runCli(['invoice', 'read', '--anchor', join(dir, 'root.der'), '--intermediate', join(dir, 'ca.der'), '--revocation', 'off', '--json', summary.files[0]!.path]);
    expect(read.code, read.stdout + read.stderr).toBe(0);
    const report = JSON.parse(read.stdout) as { ok: boolean; documents: number; discrepancies: unknown[] };
    expect(report).toMatchObject({ ok: true, documents: 3, discrepancies: [] });
  }, 120_000);

  it('reuses its pairing: no new approval; the numbers go on', async () => {
    const r = await build('out2');
    expect(r.code, r.stderr).toBe(0);
    expect(requests).toHaveLength(1);
    expect((JSON.parse(r.stdout) as { invoices: { number: string }[] }).invoices.map((i) => i.number)).toEqual(['000000004', '000000005', '000000006']);
  }, 120_000);

  it('a wrong PIN: refused with the tries left, nothing numbered, no file; the right PIN then works', async () => {
    const before = readdirSync(join(dir, 'counters')).map((f) => [f, readFileSync(join(dir, 'counters', f), 'utf8')]);
    const r = await build('out3', [], '9999\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('code porteur refusé (2 essais restants)');
    expect(r.stderr).toContain('aucun numéro tiré');
    expect(existsSync(join(dir, 'out3')) ? readdirSync(join(dir, 'out3')) : []).toEqual([]);
    expect(readdirSync(join(dir, 'counters')).map((f) => [f, readFileSync(join(dir, 'counters', f), 'utf8')])).toEqual(before);
    const ok = await build('out4');
    expect(ok.code, ok.stderr).toBe(0);
  }, 120_000);

  it('on a terminal the PIN is asked and nothing of it is shown (script(1) gives the command a terminal)', async () => {
    const args = ['invoice', 'build', '--bridge', bridge.url, '--pairing', join(dir, 'pairing.json'), '--counters', join(dir, 'counters'), '--out', join(dir, 'out-tty'), '--today', DAY, join(dir, 'day.json')];
    const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { cwd: REPO, stdio: 'pipe' });
    let screen = '';
    shown = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      screen += d;
      shown = screen;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    try {
      await waitFor(() => screen.includes('rien ne s’affiche'), 60_000);
      // Typed once the prompt is up, as a person does; a backspace corrects a wrong digit.
      child.stdin.write(`12${'3'}5\x7f4\r`);
      const code = await new Promise<number | null>((r) => child.on('close', r));
      expect(code, screen).toBe(0);
    } finally {
      clearTimeout(timer);
    }
    expect(screen).toContain('signé par la CPS');
    expect(screen).not.toMatch(/123|\*\*\*/);
    expect(readdirSync(join(dir, 'out-tty'))).toHaveLength(1);
  }, 120_000);

  it('a pairing file others can read is refused, never used nor replaced', async () => {
    const path = join(dir, 'pairing.json');
    const original = readFileSync(path, 'utf8');
    chmodSync(path, 0o644);
    try {
      const r = await build('out5');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('lisible par d’autres');
      expect(readFileSync(path, 'utf8')).toBe(original);
      expect(requests).toHaveLength(1);
    } finally {
      chmodSync(path, 0o600);
    }
  }, 120_000);

  it('a bridge that does not allow the command line: a clear refusal, exit 1', async () => {
    const other = await startBridge({ port: 0, stateDir: join(dir, 'other-state'), approve: async () => true });
    try {
      const r = await runCli(['invoice', 'build', '--bridge', other.url, '--pairing', join(dir, 'other-pairing.json'), '--pin-stdin', '--counters', join(dir, 'counters'), '--out', join(dir, 'out6'), '--today', DAY, join(dir, 'day.json')], { input: `${PIN}\n` });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`teletrans bridge origins add ${CLI_ORIGIN}`);
      expect(existsSync(join(dir, 'other-pairing.json'))).toBe(false);
    } finally {
      await other.close();
    }
  }, 120_000);

  it('usage: the test key and the card exclude each other; --pin-stdin and --pin-pad too', async () => {
    for (const extra of [
      ['--test-key', 'k.pem', '--test-cert', 'c.pem', '--pin-stdin'],
      ['--pin-stdin', '--pin-pad'],
      ['--test-key', 'k.pem'],
    ]) {
      const r = await runCli(['invoice', 'build', ...extra, join(dir, 'day.json')]);
      expect(r.code, extra.join(' ')).toBe(2);
    }
  });
});

describe('FilePairingKeyStore', () => {
  let dir: string;
  beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'teletrans-pairing-file-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the key in a 0600 file in a 0700 directory; reads it back as a working HMAC key', async () => {
    const store = new FilePairingKeyStore(join(dir, 'state', 'p.json'));
    expect(await store.get()).toBeNull();
    const raw = new Uint8Array(32).map((_, i) => i);
    await store.set({ keyId: 'abcdefgh12', key: await importPairingKey(raw) }, raw);
    expect(statSync(join(dir, 'state', 'p.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'state')).mode & 0o777).toBe(0o700);
    const back = await store.get();
    expect(back?.keyId).toBe('abcdefgh12');
    const msg = new TextEncoder().encode('m');
    const expected = await crypto.subtle.sign('HMAC', await importPairingKey(raw), msg);
    expect(b64u(new Uint8Array(await crypto.subtle.sign('HMAC', back!.key, msg)))).toBe(b64u(new Uint8Array(expected)));
    await store.clear();
    expect(await store.get()).toBeNull();
  });

  it('a damaged, foreign or exposed file is an error with its code, never a new pairing', async () => {
    const path = join(dir, 'bad.json');
    const store = new FilePairingKeyStore(path);
    for (const [content, mode, code] of [
      ['{', 0o600, 'pairing_unreadable'],
      [JSON.stringify({ v: 2, keyId: 'abcdefgh12', key: b64u(new Uint8Array(32)) }), 0o600, 'pairing_unreadable'],
      [JSON.stringify({ v: 1, keyId: 'abcdefgh12', key: b64u(new Uint8Array(16)) }), 0o600, 'pairing_unreadable'],
      [JSON.stringify({ v: 1, keyId: 'a b', key: b64u(new Uint8Array(32)) }), 0o600, 'pairing_unreadable'],
      [JSON.stringify({ v: 1, keyId: 'abcdefgh12', key: b64u(new Uint8Array(32)) }), 0o640, 'pairing_exposed'],
    ] as const) {
      writeFileSync(path, content, { mode });
      chmodSync(path, mode);
      const e = await store.get().catch((x: unknown) => x);
      expect(e, content).toBeInstanceOf(PairingFileError);
      expect((e as PairingFileError).code).toBe(code);
      rmSync(path);
    }
    await expect(store.set({ keyId: 'abcdefgh12', key: await importPairingKey(new Uint8Array(32)) })).rejects.toBeInstanceOf(PairingFileError);
    expect(existsSync(path)).toBe(false);
  });
});
