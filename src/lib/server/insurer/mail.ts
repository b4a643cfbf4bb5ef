/**
 * The simulated front end's mail side: the messages it received (read from its mailbox by the
 * caller) answered by SMTP, each answer to the practitioner who sent the flow. One connection for
 * a batch; a scenario's delay is waited before the answers go. A SIMULATOR (front-end.ts).
 */
import { SmtpConnection, type SmtpClientOptions } from '../relay/smtp-client.js';
import { type FrontEndConfig, type FrontEndResult, receiveMessage } from './front-end.js';

export class FrontEndMailError extends Error {
  constructor(
    readonly code: 'answer_refused',
    message: string,
  ) {
    super(message);
    this.name = 'FrontEndMailError';
  }
}

/** Reads each received message and sends its answers; the results in the same order. */
export async function answerByMail(received: readonly Uint8Array[], cfg: FrontEndConfig, smtp: SmtpClientOptions): Promise<FrontEndResult[]> {
  const results: FrontEndResult[] = [];
  for (const bytes of received) results.push(await receiveMessage(bytes, cfg));
  const answers = results.flatMap((r) => r.answers);
  if (!answers.length) return results;
  if (cfg.scenario?.delayMs) await new Promise((r) => setTimeout(r, cfg.scenario!.delayMs));
  const conn = await SmtpConnection.open(smtp);
  try {
    for (const a of answers) {
      const sent = await conn.send({ from: cfg.mailbox, to: [a.to] }, a.bytes);
      if (!sent.accepted.length) throw new FrontEndMailError('answer_refused', `réponse ${a.messageId} refusée : ${sent.rejected.map((x) => x.response).join(' ; ')}`);
    }
  } finally {
    await conn.close();
  }
  return results;
}
