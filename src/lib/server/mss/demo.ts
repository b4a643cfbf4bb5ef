/**
 * MSSanté on `npm start`'s embedded defaults, all of it FICTITIOUS and on loopback:
 * - our test PRO Santé Connect (../psc/test-provider.ts), trusting the demo PKI's cards (the
 *   bridge's simulated CPS signs its challenge), each demo practitioner with a mailbox
 *   `<name>@demo.mssante.fr`;
 * - the agency's daily whitelist, signed at each start by a fictitious agency (its own
 *   in-memory "organisations" CA, SERV_S/MIME certificate) and served beside the provider;
 * - the local operator (embedded-operator.ts): submission and IMAP with STARTTLS under the
 *   MSSanté policy, XOAUTH2 checked against the provider, mailboxes under `mss-operator/`.
 * The relay's MSSanté service is configured on them exactly as it would be on real ones.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { DEMO_CPS_POLICIES, DEMO_ORG_POLICIES, genKey, issueCert, issueCrl, issueServSmimeCertificate } from '../../pki/demo/index.js';
import { issueDemoCrls, type DemoPki } from '../demo-pki.js';
import type { MssRelayConfig } from '../relay/config.js';
import { TestOidcProvider } from '../psc/test-provider.js';
import { startEmbeddedOperator, type EmbeddedOperator } from './embedded-operator.js';
import { signXml, whitelistXml } from './whitelist-signer.js';

export const DEMO_MSS_DOMAINS = ['demo.mssante.fr', 'patient.mssante.fr'] as const;
const AGENCY_DN = 'CN=AGENCE FICTIVE LISTE BLANCHE,OU=FICTIF-0000,O=AGENCE FICTIVE,C=FR';

/** A demo practitioner's MSSanté mailbox: the local part of their relay sender, at the demo domain. */
export const demoMailboxAddress = (from: string): string => `${from.slice(0, from.indexOf('@'))}@demo.mssante.fr`;

export interface DemoMss {
  config: MssRelayConfig;
  stop(): Promise<void>;
}

export async function startDemoMss(o: {
  dir: string;
  pki: DemoPki;
  /** The web origin the page and the bridge use (the provider's client). */
  origin: string;
  practitioners: ReadonlyArray<{ id: string; rpps: string; from: string }>;
  tls: { cert: string; key: string };
}): Promise<DemoMss> {
  // The fictitious agency and its signed list (made again at each start: valid, dated now).
  const [rootKey, caKey, agencyKey] = await Promise.all([genKey(), genKey(), genKey()]);
  const orgRoot = await issueCert({ subject: 'CN=IGC-SANTE FICTIVE RACINE ORGANISATIONS,O=FICTIF,C=FR', key: rootKey, ca: true });
  const orgCa = await issueCert({ subject: 'CN=IGC-SANTE FICTIVE ORGANISATIONS,O=FICTIF,C=FR', key: caKey, issuerCert: orgRoot, signer: rootKey, ca: true });
  const agency = await issueServSmimeCertificate({ subject: AGENCY_DN, key: agencyKey, caDer: orgCa, caKey });
  const orgCrls = [await issueCrl({ issuerCert: orgRoot, signer: rootKey }), await issueCrl({ issuerCert: orgCa, signer: caKey })];
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const list = await signXml(whitelistXml(now, DEMO_MSS_DOMAINS.map((domain) => ({ domain, description: 'Domaine fictif de démonstration', operatorCertificateDn: 'CN=OPERATEUR LOCAL FICTIF,O=TELETRANS FICTIF,C=FR', updated: now.slice(0, 10) }))),
    agencyKey.privateKey, [agency, orgCa]);

  const mailboxes = new Map(o.practitioners.map((p) => [p.rpps, demoMailboxAddress(p.from)]));
  const crls = await issueDemoCrls(o.pki);
  let provider: TestOidcProvider | null = null;
  const http: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/liste-blanche.xml') {
      res.writeHead(200, { 'content-type': 'application/xml; charset=utf-8' }).end(list);
      return;
    }
    if (provider) void provider.handle(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
  const client = { clientId: 'teletrans-demo', redirectUris: [`${o.origin}/mss/connexion`], origin: o.origin };
  provider = new TestOidcProvider({
    issuer, clients: [client], introspectors: [],
    anchors: [o.pki.igcRoot.der], intermediates: [o.pki.igcCa.der], crls: () => [crls.igcRoot, crls.igcCa],
    cardAuthentication: { issuers: [o.pki.igcCa.der], policies: [DEMO_CPS_POLICIES.auth] },
    mailboxFor: (rpps) => mailboxes.get(rpps),
  });
  const p = provider;
  let op: EmbeddedOperator;
  try {
    op = await startEmbeddedOperator({ dir: join(o.dir, 'mss-operator'), domains: DEMO_MSS_DOMAINS, cert: o.tls.cert, key: o.tls.key, checkToken: async (t) => p.mailboxOf(t) });
  } catch (e) {
    http.close();
    throw e;
  }
  const endpoints = { submission: { host: '127.0.0.1', port: op.submissionPort }, imap: { host: '127.0.0.1', port: op.imapPort } };
  const config: MssRelayConfig = {
    psc: { issuer, clientId: client.clientId, redirectUri: client.redirectUris[0]! },
    tls: { ca: o.tls.cert, servername: 'localhost' },
    whitelist: { url: `${issuer}/liste-blanche.xml`, file: join(o.dir, 'mss-liste-blanche.xml'), anchors: [orgRoot], intermediates: [orgCa], crls: orgCrls,
      signer: { issuers: [orgCa], policies: [DEMO_ORG_POLICIES.servSmime], subject: AGENCY_DN } },
    mailboxes: o.practitioners.map((x) => ({ practitioner: x.id, address: demoMailboxAddress(x.from), kind: 'personal' as const, operator: endpoints })),
    tokenDir: join(o.dir, 'mss-tokens'),
  };
  return {
    config,
    async stop() {
      await op.close();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
