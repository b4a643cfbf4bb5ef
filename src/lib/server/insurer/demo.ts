/**
 * The simulated insurer front end on `npm start`'s embedded defaults: the local test peer hands
 * it each message it accepts; it answers as front-end.ts does, with the demo PKI's insurer keys
 * (the recipients the browser encrypts to), and leaves its answers in the practitioner's
 * embedded mailbox — a Maildir under the demo directory, which the relay picks up like any
 * mailbox (pickup.ts). No mail server runs. All of it FICTITIOUS.
 *
 * Scenarios (docs/returns/arl.md) come from TELETRANS_DEMO_FRONT_END, comma-separated:
 * `lose-arl`, `reject`, `reject-payments`, `delay=<seconds>`.
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { SAMPLE_CATALOGUE } from '../../billing/catalogue.js';
import type { DemoCrls, DemoPki } from '../demo-pki.js';
import { type FrontEndConfig, type FrontEndScenario, receiveMessage } from './front-end.js';

export interface DemoFrontEndOptions {
  pki: DemoPki;
  crls: () => DemoCrls;
  /** Where each practitioner's embedded mailbox is: `<mailboxes>/<id>` (a Maildir). */
  mailboxes: string;
  /** The practitioners' addresses and ids: an answer goes to the one whose address it is for. */
  practitioners: readonly { id: string; from: string }[];
  scenario?: FrontEndScenario;
  log?: (line: string) => void;
}

/** `lose-arl,reject,delay=5` → a scenario; unknown words are refused (a typo must not pass silently). */
export function parseScenario(text: string | undefined): FrontEndScenario {
  const s: FrontEndScenario = {};
  for (const word of (text ?? '').split(',').map((w) => w.trim()).filter(Boolean)) {
    const delay = /^delay=(\d{1,4})$/.exec(word);
    if (word === 'lose-arl') s.loseArl = true;
    else if (word === 'reject') s.rejectLots = { code: 'DEMO', reason: 'Rejet de démonstration (scénario du frontal simulé)' };
    else if (word === 'reject-payments') s.rejectPayments = { code: 'DEMO', label: 'Paiement rejeté (scénario du frontal simulé)' };
    else if (delay) s.delayMs = Number(delay[1]) * 1000;
    else throw new Error(`TELETRANS_DEMO_FRONT_END : scénario inconnu « ${word} » (lose-arl, reject, reject-payments, delay=<secondes>)`);
  }
  return s;
}

/** The Maildir path of a practitioner's embedded mailbox. */
export const demoMailbox = (mailboxes: string, id: string): string => join(mailboxes, id);

/** Delivers into a Maildir: written and fsynced in tmp/, then renamed into new/ (whole or absent). */
export async function deliverToMaildir(path: string, bytes: Uint8Array): Promise<string> {
  await Promise.all(['tmp', 'new', 'cur'].map((d) => mkdir(join(path, d), { recursive: true, mode: 0o700 })));
  const name = `${Date.now()}.${randomBytes(8).toString('hex')}.teletrans`;
  const tmp = join(path, 'tmp', name);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(path, 'new', name));
  return name;
}

/** The test peer's `onMessage`: answers the messages addressed to a demo insurer mailbox. */
export function demoFrontEnd(o: DemoFrontEndOptions): (message: Uint8Array, envelope: { to: readonly string[] }) => Promise<void> {
  const seen = new Set<string>();
  const log = o.log ?? ((): void => undefined);
  const byMailbox = new Map(o.pki.recipients.map((r) => [r.email.toLowerCase(), r]));
  return async (message, envelope) => {
    for (const to of envelope.to) {
      const recipient = byMailbox.get(to.toLowerCase());
      if (!recipient) continue;
      const crls = o.crls();
      const cfg: FrontEndConfig = {
        mailbox: recipient.email,
        keys: [{ certificate: recipient.der, pkcs8: recipient.key, signingKey: createPrivateKey({ key: Buffer.from(recipient.key), format: 'der', type: 'pkcs8' }), state: 'current' }],
        chain: [o.pki.sesamCa.der],
        reader: { anchors: [o.pki.igcRoot.der], intermediates: [o.pki.igcCa.der], crls: [crls.igcRoot, crls.igcCa], catalogue: SAMPLE_CATALOGUE },
        seen,
        ...(o.scenario ? { scenario: o.scenario } : {}),
      };
      const result = await receiveMessage(message, cfg);
      log(`frontal simulé (${recipient.email}) : ${result.outcome.kind}${'code' in result.outcome ? ` ${result.outcome.code}` : ''}, ${result.answers.length} réponse(s)`);
      if (o.scenario?.delayMs) await new Promise((r) => setTimeout(r, o.scenario!.delayMs));
      for (const a of result.answers) {
        const p = o.practitioners.find((x) => x.from.toLowerCase() === a.to.toLowerCase());
        if (!p) {
          log(`frontal simulé : pas de boîte pour ${a.to}, réponse ${a.messageId} écartée`);
          continue;
        }
        await deliverToMaildir(demoMailbox(o.mailboxes, p.id), a.bytes);
      }
    }
  };
}
