/**
 * The simulated insurer front end on `npm start`'s embedded defaults: the local test peer hands
 * it each message it accepts; it answers as front-end.ts does, with the demo PKI's insurer keys
 * (the recipients the browser encrypts to), and leaves its answers in the practitioner's
 * embedded mailbox — a Maildir under the demo directory, which the relay picks up like any
 * mailbox (pickup.ts). No mail server runs. All of it FICTITIOUS.
 *
 * Scenarios (docs/returns/arl.md) come from TELETRANS_DEMO_FRONT_END, comma-separated:
 * `lose-arl`, `mute` (nothing answered at all), `reject`, `reject-payments`, `delay=<seconds>`, and `rotate` (the front end takes a
 * new certificate: flows for the one the browser knows get a 40150 that carries the new one) or
 * `revoke-old` (the same, the old one held revoked: 40050).
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdir, open, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SAMPLE_CATALOGUE } from '../../billing/catalogue.js';
import { genKey, issueCert, pem } from '../../pki/demo/index.js';
import type { DemoCrls, DemoPki, DemoRecipient } from '../demo-pki.js';
import { type FrontEndConfig, type FrontEndKey, type FrontEndScenario, receiveMessage } from './front-end.js';

export interface DemoFrontEndOptions {
  pki: DemoPki;
  crls: () => DemoCrls;
  /** Where each practitioner's embedded mailbox is: `<mailboxes>/<id>` (a Maildir). */
  mailboxes: string;
  /** The practitioners' addresses and ids: an answer goes to the one whose address it is for. */
  practitioners: readonly { id: string; from: string }[];
  scenario?: FrontEndScenario;
  log?: (line: string) => void;
  /**
   * Where a rotation's newer certificates and keys are written (`<mailbox>.pem`, `<mailbox>.key`,
   * PKCS#8): fictitious, kept so a test lab can open with OpenSSL what was encrypted for them.
   */
  keysDir?: string;
}

/** `lose-arl,reject,delay=5` → a scenario; unknown words are refused (a typo must not pass silently). */
export function parseScenario(text: string | undefined): FrontEndScenario {
  const s: FrontEndScenario = {};
  for (const word of (text ?? '').split(',').map((w) => w.trim()).filter(Boolean)) {
    const delay = /^delay=(\d{1,4})$/.exec(word);
    if (word === 'lose-arl') s.loseArl = true;
    else if (word === 'mute') s.mute = true;
    else if (word === 'reject') s.rejectLots = { code: 'DEMO', reason: 'Rejet de démonstration (scénario du frontal simulé)' };
    else if (word === 'rotate') s.rotation = 'previous';
    else if (word === 'revoke-old') s.rotation = 'revoked';
    else if (word === 'reject-payments') s.rejectPayments = { code: 'DEMO', label: 'Paiement rejeté (scénario du frontal simulé)' };
    else if (delay) s.delayMs = Number(delay[1]) * 1000;
    else throw new Error(`TELETRANS_DEMO_FRONT_END : scénario inconnu « ${word} » (lose-arl, mute, reject, reject-payments, rotate, revoke-old, delay=<secondes>)`);
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

const DAY = 86_400_000;

const keyOf = (certificate: Uint8Array, pkcs8: Uint8Array, state: FrontEndKey['state']): FrontEndKey => ({
  certificate,
  pkcs8,
  signingKey: createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }),
  state,
});

/** A newer attachment certificate for the same mailbox, from the demo's SESAM-Vitale CA (rotation). */
async function newerKey(pki: DemoPki, r: DemoRecipient): Promise<FrontEndKey> {
  const key = await genKey();
  const der = await issueCert({
    subject: `CN=${r.email},OU=TELETRANS DEMO ROTATION,O=TELETRANS FICTIF,C=FR`,
    key,
    issuerCert: pki.sesamCa.der,
    signer: pki.sesamCa.key,
    serial: 2000 + Math.floor(Math.random() * 1_000_000),
    emails: [r.email],
    keyUsage: { bits: ['digitalSignature', 'nonRepudiation', 'keyEncipherment'], critical: true },
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 365 * DAY),
  });
  return keyOf(der, new Uint8Array(await crypto.subtle.exportKey('pkcs8', key.privateKey)), 'current');
}

async function keepKey(dir: string, email: string, k: FrontEndKey): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, `${email}.pem`), pem(k.certificate), { mode: 0o600 });
  await writeFile(join(dir, `${email}.key`), pem(k.pkcs8, 'PRIVATE KEY'), { mode: 0o600 });
}

/** The test peer's `onMessage`: answers the messages addressed to a demo insurer mailbox. */
export function demoFrontEnd(o: DemoFrontEndOptions): (message: Uint8Array, envelope: { to: readonly string[] }) => Promise<void> {
  const seen = new Set<string>();
  const log = o.log ?? ((): void => undefined);
  const byMailbox = new Map(o.pki.recipients.map((r) => [r.email.toLowerCase(), r]));
  // Each mailbox's keys: the demo PKI's one, and with a rotation a newer one made once.
  const keys = new Map<string, Promise<FrontEndKey[]>>();
  const keysFor = (r: DemoRecipient): Promise<FrontEndKey[]> => {
    let k = keys.get(r.email);
    if (!k) {
      const rotation = o.scenario?.rotation;
      k = rotation
        ? newerKey(o.pki, r).then(async (fresh) => {
            if (o.keysDir) await keepKey(o.keysDir, r.email, fresh);
            return [fresh, keyOf(r.der, r.key, rotation)];
          })
        : Promise.resolve([keyOf(r.der, r.key, 'current')]);
      keys.set(r.email, k);
    }
    return k;
  };
  return async (message, envelope) => {
    for (const to of envelope.to) {
      const recipient = byMailbox.get(to.toLowerCase());
      if (!recipient) continue;
      const crls = o.crls();
      const cfg: FrontEndConfig = {
        mailbox: recipient.email,
        keys: await keysFor(recipient),
        chain: [o.pki.sesamCa.der],
        reader: { anchors: [o.pki.igcRoot.der], intermediates: [o.pki.igcCa.der], crls: [crls.igcRoot, crls.igcCa], catalogue: SAMPLE_CATALOGUE },
        seen,
        ...(o.scenario ? { scenario: o.scenario } : {}),
      };
      const result = await receiveMessage(message, cfg);
      log(`frontal simulé (${recipient.email}) : ${result.outcome.kind}${'code' in result.outcome ? ` ${result.outcome.code}` : ''}, ${result.answers.length} réponse(s)`);
      if (o.scenario?.mute) continue; // every return lost: the practitioner's deadlines run
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
