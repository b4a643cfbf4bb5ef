/**
 * Which web origins may ask the bridge for a pairing (C1): a strict check, a list kept in the
 * state directory across restarts and managed from the command line, read by the running
 * bridge at each connection; removing an origin ends its sessions and its pairings.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeCardSet } from '../../bridge/cards/profiles.js';
import { CLOSE_ORIGIN_REMOVED, DEV_ORIGINS, effectiveOrigins, startBridge } from '../../bridge/server.js';
import { OriginStore, checkOrigin } from '../../bridge/state.js';
import { SimulatedTransport } from '../../bridge/transport.js';
import { APP_ORIGIN, approver, pairedClient, rawUpgrade, stateDir } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/teletrans.js', import.meta.url));

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  const base = { ...process.env };
  delete base.TELETRANS_BRIDGE_DEV;
  const child = spawn(process.execPath, [BIN, 'bridge', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...base, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  return new Promise((r) => child.once('exit', (code) => r({ code, out, err })));
}

describe('checkOrigin', () => {
  it.each([
    ['https://app.teletrans.example', 'https://app.teletrans.example'],
    ['https://App.Teletrans.Example/', 'https://app.teletrans.example'],
    ['https://app.teletrans.example:8443', 'https://app.teletrans.example:8443'],
    ['https://app.teletrans.example:443', 'https://app.teletrans.example'],
    ['https://10.1.2.3', 'https://10.1.2.3'],
    ['http://localhost:5173', 'http://localhost:5173'],
    ['http://127.0.0.1:4173', 'http://127.0.0.1:4173'],
    // The command line's own origin (ADR 0012), exactly.
    ['teletrans-cli://localhost', 'teletrans-cli://localhost'],
  ])('accepts %s as %s', (input, origin) => {
    expect(checkOrigin(input)).toEqual({ ok: true, origin });
  });

  it.each([
    ['http://app.teletrans.example', 'insecure_scheme'],
    ['http://192.168.1.10:8080', 'insecure_scheme'],
    ['ftp://app.example', 'insecure_scheme'],
    ['ws://localhost:5173', 'insecure_scheme'],
    ['teletrans-cli://other.example', 'insecure_scheme'],
    ['teletrans-cli://localhost:1', 'insecure_scheme'],
    ['Teletrans-CLI://localhost', 'insecure_scheme'],
    ['http://localhost', 'port_required'],
    ['http://127.0.0.1', 'port_required'],
    ['http://localhost:80', 'port_required'],
    ['https://app.example/teletrans', 'not_an_origin'],
    ['https://app.example?x=1', 'not_an_origin'],
    ['https://app.example#top', 'not_an_origin'],
    ['https://user:pw@app.example', 'not_an_origin'],
    ['https://*.example', 'not_an_origin'],
    ['https://[::1]:5173', 'not_an_origin'],
    ['https://app .example', 'not_an_origin'],
    ['null', 'not_url'],
    ['app.example', 'not_url'],
    ['', 'not_url'],
  ])('refuses %s (%s)', (input, reason) => {
    const c = checkOrigin(input);
    expect(c).toMatchObject({ ok: false, reason });
    if (!c.ok) expect(c.message.length).toBeGreaterThan(10);
  });
});

describe('OriginStore', () => {
  it('keeps canonical origins in a private file, once each; ignores entries edited into something invalid', async () => {
    const dir = await stateDir();
    const s = new OriginStore(dir);
    expect(s.list()).toEqual([]);
    expect(s.add('https://App.Example/')).toMatchObject({ ok: true, origin: 'https://app.example', added: true });
    expect(s.add('https://app.example')).toMatchObject({ ok: true, added: false });
    expect(s.add('http://evil.example')).toMatchObject({ ok: false, reason: 'insecure_scheme' });
    expect(s.add('http://localhost:5173')).toMatchObject({ ok: true, added: true });
    expect(statSync(s.path).mode & 0o777).toBe(0o600);
    // Another instance (another process) sees the same list.
    expect(new OriginStore(dir).list()).toEqual(['https://app.example', 'http://localhost:5173']);
    expect(new OriginStore(dir).entries()[0]!.addedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    const raw = JSON.parse(readFileSync(s.path, 'utf8')) as { origins: unknown[] };
    raw.origins.push({ origin: 'http://evil.example' }, { origin: 'HTTPS://UPPER.example' }, { origin: 42 });
    writeFileSync(s.path, JSON.stringify(raw));
    expect(s.list()).toEqual(['https://app.example', 'http://localhost:5173']);
    expect(s.remove('https://APP.example')).toBe('https://app.example');
    expect(s.remove('https://app.example')).toBeNull();
    expect(s.list()).toEqual(['http://localhost:5173']);
  });
});

describe('the running bridge and the saved list', () => {
  it('an empty list allows no origin: the development origins are refused, and stay refused once the last saved origin is removed', async () => {
    const dir = await stateDir();
    const bridge = await startBridge({ port: 0, transport: new SimulatedTransport(['R0']), stateDir: dir, approve: approver().hook });
    const prod = 'https://app.teletrans.example';
    const host = { Host: `127.0.0.1:${bridge.port}` };
    try {
      expect(effectiveOrigins(new OriginStore(dir))).toEqual([]);
      for (const dev of DEV_ORIGINS) expect(await rawUpgrade(bridge.url, host, dev)).toBe(403);
      expect(await rawUpgrade(bridge.url, host, prod)).toBe(403);
      new OriginStore(dir).add(prod);
      expect(await rawUpgrade(bridge.url, host, prod)).toBe(101);
      expect(await rawUpgrade(bridge.url, host, APP_ORIGIN)).toBe(403);
      // The last one removed: nobody, not the six http:// development origins.
      expect(new OriginStore(dir).remove(prod)).toBe(prod);
      expect(new OriginStore(dir).list()).toEqual([]);
      expect(await rawUpgrade(bridge.url, host, prod)).toBe(403);
      for (const dev of DEV_ORIGINS) expect(await rawUpgrade(bridge.url, host, dev)).toBe(403);
      expect(bridge.audit.read().filter((e) => e.event === 'connection' && e.outcome === 'refused' && e.detail === 'origin')).toHaveLength(2 * DEV_ORIGINS.length + 3);
    } finally {
      await bridge.close();
    }
  });

  it('development mode: the development origins while the list is empty; a saved origin replaces them at once; removing it ends its sessions and pairings', async () => {
    const dir = await stateDir();
    const set = await makeCardSet();
    const sim = new SimulatedTransport(['R0']);
    sim.insert('R0', set.cps);
    const a = approver();
    const bridge = await startBridge({ port: 0, transport: sim, stateDir: dir, approve: a.hook, dev: true });
    const prod = 'https://app.teletrans.example';
    const host = { Host: `127.0.0.1:${bridge.port}` };
    try {
      expect(DEV_ORIGINS).toContain(APP_ORIGIN);
      for (const dev of DEV_ORIGINS) expect(await rawUpgrade(bridge.url, host, dev)).toBe(101);
      expect(await rawUpgrade(bridge.url, host, prod)).toBe(403);

      // Saved by the administrator's command, no restart.
      const add = await cli(['origins', 'add', prod, '--state-dir', dir]);
      expect(add).toMatchObject({ code: 0 });
      expect(add.out).toContain(`Origine autorisée : ${prod}`);
      expect(await rawUpgrade(bridge.url, host, prod)).toBe(101);
      expect(await rawUpgrade(bridge.url, host, APP_ORIGIN)).toBe(403);

      const { c } = await pairedClient(bridge.url, a, prod);
      expect(await c.call<unknown[]>('readers')).toHaveLength(1);
      const closed = new Promise<{ code: number; reason: string }>((r) => c.onClose((code, reason) => r({ code, reason })));
      const rm = await cli(['origins', 'remove', prod, '--state-dir', dir]);
      expect(rm).toMatchObject({ code: 0 });
      expect(rm.out).toContain('1 appairage(s) révoqué(s)');
      expect(await closed).toEqual({ code: CLOSE_ORIGIN_REMOVED, reason: 'origin no longer allowed' });
      expect(await rawUpgrade(bridge.url, host, prod)).toBe(403);
      // In development mode only, an emptied list brings the development origins back.
      expect(await rawUpgrade(bridge.url, host, APP_ORIGIN)).toBe(101);
      expect(bridge.pairings.list().some((p) => p.origin === prod)).toBe(false);
      const log = bridge.audit.read();
      expect(log.some((e) => e.event === 'origin' && e.outcome === 'allowed' && e.origin === prod)).toBe(true);
      expect(log.some((e) => e.event === 'origin' && e.outcome === 'removed' && e.origin === prod)).toBe(true);
      expect(log.some((e) => e.event === 'session' && e.outcome === 'origin-removed' && e.origin === prod)).toBe(true);
    } finally {
      await bridge.close();
    }
  }, 60_000);
});

describe('teletrans bridge origins / --allow-origin', () => {
  it('lists, refuses what is not a strict origin, and says why in French', async () => {
    const dir = await stateDir();
    const empty = await cli(['origins', '--state-dir', dir]);
    expect(empty.code).toBe(0);
    expect(empty.out).toContain('Aucune origine enregistrée ; origines acceptées : aucune');
    expect(empty.out).not.toContain('http://');
    // Development mode, by flag or by environment: the development origins are listed.
    for (const dev of [await cli(['origins', '--dev', '--state-dir', dir]), await cli(['origins', '--state-dir', dir], { TELETRANS_BRIDGE_DEV: '1' })]) {
      expect(dev.code).toBe(0);
      expect(dev.out).toContain(`mode développement, origines acceptées : ${DEV_ORIGINS.join(', ')}`);
    }

    const insecure = await cli(['origins', 'add', 'http://app.teletrans.example', '--state-dir', dir]);
    expect(insecure.code).toBe(2);
    expect(insecure.err).toContain('https:// obligatoire');
    const noPort = await cli(['--allow-origin', 'http://localhost', '--state-dir', dir]);
    expect(noPort.code).toBe(2);
    expect(noPort.err).toContain('préciser le port');
    const path = await cli(['origins', 'add', 'https://app.example/chemin', '--state-dir', dir]);
    expect(path.code).toBe(2);
    expect(new OriginStore(dir).list()).toEqual([]);

    expect((await cli(['origins', 'add', 'https://App.Example', '--state-dir', dir])).code).toBe(0);
    const listed = await cli(['origins', '--state-dir', dir]);
    expect(listed.out).toMatch(/^https:\/\/app\.example {2}autorisée le \d{4}-/m);
    expect(listed.out).not.toContain('localhost');
    const unknown = await cli(['origins', 'remove', 'https://other.example', '--state-dir', dir]);
    expect(unknown.code).toBe(1);
  }, 60_000);
});
