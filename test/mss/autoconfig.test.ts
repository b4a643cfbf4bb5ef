/**
 * Operator autoconfiguration by DNS SRV (src/lib/server/mss/autoconfig.ts) against a real DNS
 * server, dnsmasq, on loopback: priority 10 for personal and organisational mailboxes, 20 for
 * application ones, weights honoured (RFC 2782), "." as "not offered", a missing record, a
 * manual override.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoconfigError, candidates, discover, orderByWeight } from '../../src/lib/server/mss/autoconfig.js';
import { mulberry32 } from '../support/prng.js';
import { freePort } from '../relay/fixtures/mail.js';

let dns: ChildProcess;
let server: string;

beforeAll(async () => {
  const port = await freePort();
  server = `127.0.0.1:${port}`;
  const srv = (name: string, target: string, p: number, prio: number, weight: number): string => `--srv-host=${name},${target},${p},${prio},${weight}`;
  dns = spawn('dnsmasq', ['--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--pid-file=', '--bind-interfaces', '--listen-address=127.0.0.1', `--port=${port}`, '--log-facility=-',
    srv('_submission._tcp.medecin.mssante.fr', 'smtp-a.medecin.mssante.fr', 587, 10, 30),
    srv('_submission._tcp.medecin.mssante.fr', 'smtp-b.medecin.mssante.fr', 587, 10, 70),
    srv('_submission._tcp.medecin.mssante.fr', 'smtp-app.medecin.mssante.fr', 587, 20, 0),
    srv('_imap._tcp.medecin.mssante.fr', 'imap.medecin.mssante.fr', 143, 10, 0),
    srv('_imap._tcp.medecin.mssante.fr', 'imap-app.medecin.mssante.fr', 143, 20, 0),
    srv('_submission._tcp.sans-app.mssante.fr', 'smtp.sans-app.mssante.fr', 587, 10, 0),
    srv('_imap._tcp.sans-app.mssante.fr', 'imap.sans-app.mssante.fr', 143, 10, 0),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Ready when it answers.
  const end = Date.now() + 10_000;
  for (;;) {
    try {
      await discover('x@medecin.mssante.fr', 'personal', { servers: [server], timeoutMs: 300 });
      break;
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}, 20_000);

afterAll(() => {
  dns?.kill();
});

describe('SRV autoconfiguration against dnsmasq', () => {
  it('personal and organisational mailboxes take priority 10, application mailboxes priority 20', async () => {
    const p = await discover('dr.fictif@medecin.mssante.fr', 'personal', { servers: [server] });
    expect(p.imap).toEqual([{ host: 'imap.medecin.mssante.fr', port: 143 }]);
    expect(p.submission.map((e) => e.host).sort()).toEqual(['smtp-a.medecin.mssante.fr', 'smtp-b.medecin.mssante.fr']);
    const o = await discover('service@medecin.mssante.fr', 'organisational', { servers: [server] });
    expect(o.imap[0]!.host).toBe('imap.medecin.mssante.fr');
    const a = await discover('secretariat@medecin.mssante.fr', 'application', { servers: [server] });
    expect(a).toEqual({ submission: [{ host: 'smtp-app.medecin.mssante.fr', port: 587 }], imap: [{ host: 'imap-app.medecin.mssante.fr', port: 143 }] });
  });

  it('weights share the load: 30/70 over 2000 draws', async () => {
    const rnd = mulberry32(2782);
    let a = 0;
    for (let i = 0; i < 2000; i++) {
      const d = await discover('dr@medecin.mssante.fr', 'personal', { servers: [server], random: rnd });
      if (d.submission[0]!.host === 'smtp-a.medecin.mssante.fr') a++;
      expect(d.submission).toHaveLength(2);
    }
    expect(a / 2000).toBeGreaterThan(0.26);
    expect(a / 2000).toBeLessThan(0.34);
  }, 60_000);

  it('no record at the wanted priority, no record at all, and the manual override', async () => {
    await expect(discover('secretariat@sans-app.mssante.fr', 'application', { servers: [server] })).rejects.toMatchObject({ code: 'no_record' });
    await expect(discover('x@inconnu.mssante.fr', 'personal', { servers: [server] })).rejects.toBeInstanceOf(AutoconfigError);
    const manual = await discover('x@inconnu.mssante.fr', 'personal', { override: { submission: { host: 'smtp.op.fr', port: 587 }, imap: { host: 'imap.op.fr', port: 143 } } });
    expect(manual.imap).toEqual([{ host: 'imap.op.fr', port: 143 }]);
  });
});

describe('RFC 2782 ordering', () => {
  it('"." means the service is not offered; zero weights can still be drawn', () => {
    expect(() => candidates([{ name: '.', port: 0, priority: 0, weight: 0 }], 'personal')).toThrow(expect.objectContaining({ code: 'not_offered' }));
    const rnd = mulberry32(1);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(orderByWeight([{ name: 'z', port: 1, priority: 10, weight: 0 }, { name: 'w', port: 1, priority: 10, weight: 5 }], rnd)[0]!.name);
    expect([...seen].sort()).toEqual(['w', 'z']);
  });
});
