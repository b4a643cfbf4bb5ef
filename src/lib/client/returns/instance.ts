/**
 * The tab's returns inbox (./inbox.ts) over the practitioner session's relay login and the
 * billing workspace: it runs once the relay's session is open and the records are unlocked.
 */
import { get } from 'svelte/store';
import { billingWorkspace } from '../billing/instance.js';
import { outboxSender } from '../outbox/instance.js';
import { practitionerSession } from '../session/instance.js';
import { createReturnsInbox, type ReturnsInbox } from './inbox.js';
import { serverBase } from '../server-base.js';

let inbox: ReturnsInbox | null = null;

export function returnsInbox(): ReturnsInbox {
  if (inbox) return inbox;
  const session = practitionerSession();
  const workspace = billingWorkspace();
  const i = createReturnsInbox({
    base: serverBase(),
    token: () => (get(workspace.vault).state === 'open' ? session.token() : null),
    receive: async (id, raw, receivedAt) => {
      const r = await workspace.receiveReturn(id, raw, receivedAt);
      // A flow re-emitted (40050, 4025) leaves now, not at the outbox's next timer.
      if (r.ok && r.value.queued > 0) void outboxSender().run(true).catch(() => undefined);
      return r.ok;
    },
    onUnauthorized: () => void session.connectRelay(),
    // The lots the outbox has since seen delivered take the ARLs that came before.
    afterRun: async () => {
      const r = await workspace.retryWaiting();
      if (r.ok && r.value.queued > 0) void outboxSender().run(true).catch(() => undefined);
    },
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
