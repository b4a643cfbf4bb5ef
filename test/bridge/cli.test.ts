/**
 * `teletrans bridge --simulated-cards` as the practitioner runs it: the pairing code appears on
 * the bridge's terminal, the practitioner compares it with the page's and types « oui ».
 * `--allow-origin` is saved: the origin is still allowed after the bridge stops.
 */
import { expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { client, stateDir, waitFor } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/teletrans.js', import.meta.url));

it('pairs through the terminal prompt, then reads the simulated cards; refuses when the answer is no', async () => {
  const dir = await stateDir();
  const child = spawn(process.execPath, [BIN, 'bridge', '--simulated-cards', '--port', '0', '--state-dir', dir, '--allow-origin', 'http://localhost:5173'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  try {
    await waitFor(() => /ws:\/\/127\.0\.0\.1:\d+\//.test(err) && err.includes('Origines autorisées'), 60_000);
    const url = /ws:\/\/127\.0\.0\.1:\d+\//.exec(err)![0];
    expect(err).toContain('SSV : bibliothèque SSV absente');
    expect(err).toContain('Origine autorisée et enregistrée : http://localhost:5173');
    expect(err).toContain('Origines autorisées : http://localhost:5173\n');

    // Refused: the practitioner answers "non".
    let code = '';
    const refused = client(url).pair((c) => (code = c));
    await waitFor(() => err.includes('Code : '));
    child.stdin.write('non\n');
    await expect(refused).rejects.toThrow(/refus/);
    expect(code).toMatch(/^\d{3} \d{3}$/);

    // Approved: the codes match and the answer is "oui".
    const before = err.length;
    let pageCode = '';
    const c = client(url);
    const paired = c.pair((x) => (pageCode = x));
    await waitFor(() => err.slice(before).includes('Code : ') && pageCode !== '');
    expect(err.slice(before)).toContain(`Code : ${pageCode}`);
    child.stdin.write('oui\n');
    await paired;
    await c.connect();
    const readers = await c.call<Array<{ name: string; cardType: string }>>('readers');
    expect(readers.map((r) => r.cardType)).toEqual(['CPS', 'VITALE']);
    const vit = await c.call<{ beneficiaries: unknown[] }>('vitale.read', { reader: readers[1]!.name });
    expect(vit.beneficiaries).toHaveLength(3);

    // Two wrong PINs from the page; the third is asked on this terminal (ADR 0017).
    const cps = readers[0]!.name;
    const pin = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(await c.verifyPin(cps, pin('0000'))).toMatchObject({ ok: false, triesLeft: 2 });
    expect(await c.verifyPin(cps, pin('0000'))).toMatchObject({ ok: false, triesLeft: 1 });
    let mark = err.length;
    const refusedTry = c.verifyPin(cps, pin('1234'));
    await waitFor(() => err.slice(mark).includes('Dernier essai du code porteur'));
    expect(err.slice(mark)).toContain('demandé par http://localhost:5173');
    child.stdin.write('non\n');
    await expect(refusedTry).rejects.toMatchObject({ code: 'pin_last_try' });
    expect(err.slice(mark)).toContain('la carte n’a rien reçu');
    expect((await c.call<{ pinTriesLeft: number }>('cps.read', { reader: cps })).pinTriesLeft).toBe(1);
    mark = err.length;
    const confirmed = c.verifyPin(cps, pin('1234'));
    await waitFor(() => err.slice(mark).includes('Dernier essai du code porteur'));
    child.stdin.write('oui\n');
    expect(await confirmed).toEqual({ ok: true, triesLeft: 3 });
    expect(err).not.toContain('1234');
    c.close();
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
  }
  const list = spawn(process.execPath, [BIN, 'bridge', 'pairings', '--state-dir', dir]);
  let out = '';
  list.stdout.on('data', (d) => (out += d));
  await new Promise((r) => list.once('exit', r));
  expect(out).toContain('http://localhost:5173');
  const origins = spawn(process.execPath, [BIN, 'bridge', 'origins', '--state-dir', dir]);
  let saved = '';
  origins.stdout.on('data', (d) => (saved += d));
  await new Promise((r) => origins.once('exit', r));
  expect(saved).toMatch(/^http:\/\/localhost:5173 {2}autorisée le /m);
}, 120_000);
