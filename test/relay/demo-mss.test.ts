/**
 * MSSanté on the embedded defaults (src/lib/server/mss/demo.ts): `npm start` gives each demo
 * practitioner a mailbox at the local operator, a PRO Santé Connect that takes the demo PKI's
 * cards, and a signed whitelist — so that, with nothing installed, one practitioner signs in
 * with the card and writes to another, who reads it; the relay's service runs unchanged.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { authenticationInput } from '../../src/lib/card/protocol.js';
import { composeMssMessage } from '../../src/lib/mss/compose.js';
import { genKey, issueCpsCertificate } from '../../src/lib/pki/demo/index.js';
import { readDemoPki } from '../../src/lib/server/demo-pki.js';
import { DEMO_MSS_DOMAINS, demoMailboxAddress } from '../../src/lib/server/mss/demo.js';
import { DEMO_PRACTITIONERS, startDemo } from '../../src/lib/server/relay/demo.js';
import { SqliteStore, startRelay } from '../../src/lib/server/relay/index.js';

const ORIGIN = 'http://127.0.0.1:3000';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('MSSanté on the embedded defaults', () => {
  it('a demo practitioner signs in with the card and writes to another, who reads it; the whitelist is the demo agency’s, verified', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'teletrans-demo-mss-'));
    dirs.push(dir);
    const demo = await startDemo(dir, [ORIGIN]);
    const relay = await startRelay(demo.config, new SqliteStore(join(dir, 'r.sqlite')), { deliver: false, pickupSchedule: false });
    try {
      const mss = relay.api.mss!;
      expect(mss).toBeDefined();
      const pki = await readDemoPki(dir);
      const [doctor, nurse] = [DEMO_PRACTITIONERS[0]!, DEMO_PRACTITIONERS[1]!];
      const signIn = async (p: typeof doctor): Promise<void> => {
        const key = await genKey();
        const der = await issueCpsCertificate({ rpps: p.rpps, name: 'FICTIF-TEST', usage: 'auth', key, caDer: pki.igcCa.der, caKey: pki.igcCa.key });
        const ch = await mss.signInStart(p.id);
        expect(ch.origin).toBe(ORIGIN);
        const sig = await crypto.subtle.sign('RSASSA-PKCS1-v1_5', key.privateKey, (await authenticationInput(ch.origin, ch.nonce)) as BufferSource);
        expect(await mss.signInFinish(p.id, { certificate: Buffer.from(der).toString('base64'), signature: Buffer.from(sig).toString('base64') }))
          .toMatchObject({ address: demoMailboxAddress(p.from) });
      };
      await signIn(doctor);
      await signIn(nurse);
      // The whitelist: fetched from the demo agency at start, its signature verified.
      const deadline = Date.now() + 10_000;
      while (!mss.whitelistStatus().available && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(mss.whitelistStatus()).toMatchObject({ available: true, stale: false, domains: [...DEMO_MSS_DOMAINS] });
      const list = { generatedAt: '', signer: '', domains: new Map(DEMO_MSS_DOMAINS.map((d) => [d, { domain: d, description: '', operatorCertificateDn: '', updated: '' }])) };
      const m = composeMssMessage({ from: demoMailboxAddress(doctor.from), fromKind: 'personal', to: [demoMailboxAddress(nurse.from)], subject: 'Pansements', text: 'Passage demain.', software: 'Teletrans/Teletrans/0.1.0', date: new Date() }, list);
      const r = await mss.send(doctor.id, m.raw);
      expect(r.accepted).toEqual([demoMailboxAddress(nurse.from)]);
      const inbox = await mss.inbox(nurse.id);
      const e = inbox.find((x) => x.headers.includes(m.messageId))!;
      expect(Buffer.from((await mss.message(nurse.id, e.uid))!).toString('latin1')).toContain('Passage demain.');
    } finally {
      await relay.stop();
      await demo.stop();
    }
  }, 60_000);
});
