/**
 * Reading received messages (src/lib/mss/read.ts): what we compose reads back whole; and the
 * delivery notifications a real Postfix writes — delivered, mailbox full, unknown recipient,
 * virus, outside the trust space — are each told plainly, from the practitioner's own inbox
 * through the relay's service. Hostile bytes never crash the reader.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeMssMessage } from '../../src/lib/mss/compose.js';
import { MssError } from '../../src/lib/mss/errors.js';
import { deliveryOutcome, readHeaders, readMessage } from '../../src/lib/mss/read.js';
import type { Whitelist, WhitelistEntry } from '../../src/lib/mss/whitelist.js';
import { buildXdm } from '../../src/lib/mss/xdm.js';
import { useNodeXml } from '../../src/lib/server/mss/node-xml.js';
import { MssService } from '../../src/lib/server/mss/service.js';
import { MemoryTokenVault } from '../../src/lib/server/mss/token-vault.js';
import { mulberry32 } from '../support/prng.js';
import { makeCard, providerOptions, PWA_ORIGIN, RPPS } from './fixtures/card.js';
import { COLLEAGUES, DOMAINS, FAILING, PRACTITIONER, startOperator, type Operator } from './fixtures/operator.js';
import { xdmInput } from './fixtures/trust.js';

const LIST: Whitelist = { generatedAt: '2026-12-05T02:00:00Z', signer: 'CN=AGENCE',
  domains: new Map(DOMAINS.map((d): [string, WhitelistEntry] => [d, { domain: d, description: '', operatorCertificateDn: 'CN=X', updated: '2026-12-01' }])) };
const PDF = new TextEncoder().encode('%PDF-1.7\n%fictif\n%%EOF\n');

describe('what we compose reads back whole', () => {
  beforeAll(() => useNodeXml());
  it('addresses, a French subject, the text, the XDM zip and the PDF byte for byte, the X-MSS headers', async () => {
    const zip = await buildXdm(xdmInput());
    const m = composeMssMessage({ from: PRACTITIONER, fromKind: 'personal', to: [COLLEAGUES.a], cc: [COLLEAGUES.b], subject: 'Résultats d’analyse — février', text: 'Chère consœur,\r\nci-joint.\r\n',
      xdm: { zip, typeCodes: ['11502-2'], insQualified: true }, pdfs: [{ name: 'resultats.pdf', data: PDF }], software: 'Teletrans/Teletrans/0.1.0', date: new Date('2026-12-05T10:00:00Z'),
      replyTo: { messageId: '<a.1@medecin.mssante.fr>', from: COLLEAGUES.a } }, LIST);
    const r = readMessage(m.raw);
    expect(r).toMatchObject({ from: PRACTITIONER, to: [COLLEAGUES.a], cc: [COLLEAGUES.b], subject: 'Résultats d’analyse — février', messageId: m.messageId,
      inReplyTo: '<a.1@medecin.mssante.fr>', mss: { ins: 'O', codeCda: ['11502-2'], nil: 'Teletrans/Teletrans/0.1.0' }, reports: [], warnings: [] });
    expect(r.text.replace(/\r\n/g, '\n')).toBe('Chère consœur,\nci-joint.\n');
    expect(r.attachments.map((a) => [a.name, a.kind])).toEqual([['IHE_XDM.ZIP', 'xdm'], ['resultats.pdf', 'pdf']]);
    expect(Buffer.from(r.attachments[0]!.data).equals(Buffer.from(zip))).toBe(true);
    expect(Buffer.from(r.attachments[1]!.data).equals(Buffer.from(PDF))).toBe(true);
    const line = readHeaders(new TextDecoder().decode(m.raw).split('\r\n\r\n')[0]!);
    expect(line).toMatchObject({ from: PRACTITIONER, subject: 'Résultats d’analyse — février', hasAttachments: true, report: false });
  });

  it('hostile bytes: a typed refusal or a flagged partial reading, never a crash', () => {
    const rnd = mulberry32(3464);
    const base = new TextEncoder().encode('From: a@b.fr\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: multipart/mixed; boundary="y"\r\n\r\n--y\r\nContent-Transfer-Encoding: base64\r\nContent-Type: application/pdf; name="a.pdf"\r\n\r\nJVBERi0=\r\n--y--\r\n--x--\r\n');
    for (let i = 0; i < 3000; i++) {
      const z = base.slice();
      for (let k = 0; k < 1 + Math.floor(rnd() * 6); k++) z[Math.floor(rnd() * z.length)] = Math.floor(rnd() * 256);
      try {
        readMessage(z);
      } catch (e) {
        expect(e).toBeInstanceOf(MssError);
      }
    }
    let deep = 'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n';
    for (let d = 1; d < 40; d++) deep += `--b${d - 1}\r\nContent-Type: multipart/mixed; boundary="b${d}"\r\n\r\n`;
    expect(readMessage(new TextEncoder().encode(deep)).warnings).toContain('Parties imbriquées trop profondément : non lues.');
  });

  it('RFC 3463 statuses, as the practitioner reads them', () => {
    expect(deliveryOutcome('delivered', '2.0.0').outcome).toBe('delivered');
    expect(deliveryOutcome('failed', '5.2.2').label).toBe('Boîte du destinataire pleine');
    expect(deliveryOutcome('delayed', '4.2.2').outcome).toBe('delayed');
    expect(deliveryOutcome('failed', '5.1.1').label).toBe('Destinataire inconnu');
    expect(deliveryOutcome('failed', '5.7.1', 'smtp; 554 5.7.1 virus found').outcome).toBe('virus');
    expect(deliveryOutcome('failed', '5.7.1', 'domain outside the MSSante trust space').outcome).toBe('outside_trust_space');
    expect(deliveryOutcome('failed', '5.7.1').outcome).toBe('refused');
  });
});

describe('delivery notifications written by Postfix, read from the practitioner’s inbox', () => {
  let op: Operator;
  let svc: MssService;
  beforeAll(async () => {
    const card = await makeCard();
    op = await startOperator(providerOptions(card, { [RPPS]: PRACTITIONER }));
    svc = new MssService({ psc: { issuer: op.issuer, clientId: 'teletrans', redirectUri: `${PWA_ORIGIN}/mss/connexion` }, tls: { ca: op.pki.caPem, servername: 'localhost' },
      whitelist: () => LIST, vault: new MemoryTokenVault(),
      mailboxes: [{ practitioner: 'ps1', address: PRACTITIONER, kind: 'personal', operator: { submission: { host: '127.0.0.1', port: op.submissionPort }, imap: { host: '127.0.0.1', port: op.imapPort } } }] });
    const ch = await svc.signInStart('ps1');
    await svc.signInFinish('ps1', await card.authenticator(ch));
  }, 120_000);
  afterAll(async () => {
    if (process.env.MSS_OPERATOR_LOGS) console.log(op?.maillog());
    await svc?.close();
    await op?.stop();
  });

  it('received, mailbox full, unknown recipient, virus, outside the trust space — each said plainly', async () => {
    const m = composeMssMessage({ from: PRACTITIONER, fromKind: 'personal', to: [COLLEAGUES.a, FAILING.full, FAILING.unknown, FAILING.virus, FAILING.outside], subject: 'Courrier', text: 'x',
      software: 'Teletrans/Teletrans/0.1.0', date: new Date() }, LIST);
    await svc.send('ps1', m.raw);
    await op.drain();
    let reports: Array<{ recipient: string; outcome: string; label: string }> = [];
    const end = Date.now() + 20_000;
    while (Date.now() < end) {
      const inbox = await svc.inbox('ps1');
      const dsns = inbox.filter((e) => readHeaders(e.headers).report);
      reports = [];
      for (const d of dsns) reports.push(...readMessage((await svc.message('ps1', d.uid))!).reports);
      if (reports.length >= 5) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    const by = Object.fromEntries(reports.map((r) => [r.recipient, r.outcome]));
    expect(by).toEqual({ [COLLEAGUES.a]: 'delivered', [FAILING.full]: 'mailbox_full', [FAILING.unknown]: 'unknown_recipient', [FAILING.virus]: 'virus', [FAILING.outside]: 'outside_trust_space' });
    expect(reports.find((r) => r.recipient === FAILING.full)!.label).toBe('Boîte du destinataire pleine');
  });
});
