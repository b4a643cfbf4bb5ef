/** The tab's outbox sender, over the practitioner session's relay login (./sender.ts). */
import { practitionerSession } from '../session/instance.js';
import { IdbOutbox } from '../store/outbox.js';
import { createOutboxSender, type OutboxSender } from './sender.js';
import { serverBase } from '../server-base.js';

let sender: OutboxSender | null = null;

export function outboxSender(): OutboxSender {
  if (sender) return sender;
  const session = practitionerSession();
  const s = createOutboxSender({ base: serverBase(), store: new IdbOutbox(), token: () => session.token(), onUnauthorized: () => void session.connectRelay() });
  // Logged in to the relay (after the PIN, or back from offline): what waits goes now.
  session.relay.subscribe((r) => {
    if (r.state === 'connected') void s.run(true).catch(() => undefined);
  });
  sender = s;
  return s;
}
