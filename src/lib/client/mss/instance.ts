/** The tab's MSSanté mailbox: the relay with the session's token, the cards through the bridge, the copies sealed under the billing workspace's at-rest key. */
import { get } from 'svelte/store';
import { cardBridge } from '../card/bridge-instance.js';
import { billingWorkspace } from '../billing/instance.js';
import { serverBase } from '../server-base.js';
import { practitionerSession } from '../session/instance.js';
import { mssApi } from './api.js';
import { openMssCache, type MssCache } from './cache.js';
import { createMailbox, type Mailbox } from './mailbox.js';

/** X-MSS-NIL: the client software, `<publisherId/softwareId/version>` style. */
export const MSS_SOFTWARE = 'Teletrans/Teletrans/0.1.0';

let instance: Mailbox | null = null;
let cache: Promise<MssCache | null> | null = null;

export function mailbox(): Mailbox {
  if (instance) return instance;
  const bridge = cardBridge();
  const session = practitionerSession();
  instance = createMailbox({
    api: mssApi({ base: serverBase(), token: () => session.token() }),
    cache: () => (cache ??= openMssCache().catch(() => null)),
    key: () => billingWorkspace().atRestKey(),
    card: { authenticate: (reader, nonce) => bridge.call('card.authenticate', { reader, nonce }), call: (m, p) => bridge.call(m, p) },
    reader: () => get(bridge.cpsReader),
    software: MSS_SOFTWARE,
  });
  return instance;
}
