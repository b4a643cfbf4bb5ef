/**
 * The tab's returns inbox (./inbox.ts) over the practitioner session's relay login and the
 * billing workspace: it runs once the relay's session is open and the records are unlocked.
 */
import { get } from 'svelte/store';
import { billingWorkspace } from '../billing/instance.js';
import { practitionerSession } from '../session/instance.js';
import { createReturnsInbox, type ReturnsInbox } from './inbox.js';

let inbox: ReturnsInbox | null = null;

export function returnsInbox(): ReturnsInbox {
  if (inbox) return inbox;
  const session = practitionerSession();
  const workspace = billingWorkspace();
  const i = createReturnsInbox({
    token: () => (get(workspace.vault).state === 'open' ? session.token() : null),
    receive: async (id, raw, receivedAt) => (await workspace.receiveReturn(id, raw, receivedAt)).ok,
    onUnauthorized: () => void session.connectRelay(),
  });
  const kick = (): void => {
    if (get(workspace.vault).state === 'open' && get(session.relay).state === 'connected') i.start();
    else i.stop();
  };
  session.relay.subscribe(kick);
  workspace.vault.subscribe(kick);
  inbox = i;
  return i;
}
