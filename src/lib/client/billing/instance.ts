/**
 * The tab's billing workspace: its invoices in IndexedDB sealed under the CPS's key, numbered
 * from the durable counters, formatted by our simulator (the homologated engine, when the
 * bridge loads it, comes through `chooseSsvAdapter`: not wired yet).
 */
import { get } from 'svelte/store';
import { SAMPLE_CATALOGUE } from '../../billing/catalogue.js';
import { BillingNumbering } from '../../billing/numbering.js';
import { simulatorAdapter } from '../../billing/ssv/simulator.js';
import { cardBridge } from '../card/bridge-instance.js';
import { IdbBillingStore } from '../store/billing.js';
import { IdbCounterStore } from '../store/counters.js';
import { IdbKeySlotStore } from '../store/key-slots.js';
import { IdbHandoffStore } from '../store/handoffs.js';
import { IdbCompostageStore } from '../store/compostage.js';
import { trust } from '../ui/trust/trust-state.svelte.js';
import { trustRecipients } from './recipients.js';
import { outboxSender } from '../outbox/instance.js';
import { practitionerSession } from '../session/instance.js';
import { createBillingWorkspace, type BillingWorkspace } from './workspace.js';
import { administratorsOf } from '../../trust/model.js';
import { currentActor } from '../access/current.js';

let instance: BillingWorkspace | null = null;

export function billingWorkspace(): BillingWorkspace {
  if (instance) return instance;
  const recipients = trustRecipients(() => trust.open());
  instance = createBillingWorkspace({
    compostage: new IdbCompostageStore(),
    encrypt: recipients.encrypt,
    checkRecipients: recipients.check,
    // The demonstration and test platforms (npm start's fictitious PKI): `test` flows.
    mode: 'test',
    auditPurge: async (counts) => {
      const svc = await trust.open();
      await svc?.log({ event: 'billing.purge', outcome: 'success', details: { ...counts } });
    },
    auditRestore: async (counts) => {
      const svc = await trust.open();
      await svc?.log({ event: 'billing.restore', outcome: 'success', details: { ...counts } });
    },
    bridge: cardBridge(),
    store: new IdbBillingStore(),
    slots: new IdbKeySlotStore(),
    handoffs: new IdbHandoffStore(),
    numbering: new BillingNumbering(new IdbCounterStore()),
    adapter: simulatorAdapter(),
    catalogue: SAMPLE_CATALOGUE,
    // A service message is believed only if the trust store vouches for its signer (fail closed).
    validateSigner: async (certificate, email) => {
      const svc = await trust.open();
      if (!svc) return { valid: false, errors: [{ code: 'trust_store_unavailable', message: 'Le magasin de certificats de ce poste ne s’ouvre pas.' }] };
      return svc.checkSigner(certificate, email);
    },
    integrateCertificate: async (certificate, email) => {
      const svc = await trust.open();
      if (!svc) throw new Error('le magasin de certificats de ce poste ne s’ouvre pas');
      const report = await svc.importRecipient([certificate], { recipient: email });
      if (report.outcome === 'refused') throw new Error(report.message);
    },
    requestRenewal: async (mailbox) => (await trust.open())?.requestRenewal(mailbox, 'service-message') ?? false,
    // Who administers this device (fail closed: a store that does not open names no one we can trust).
    administrators: async () => {
      const svc = await trust.open();
      if (!svc) throw new Error('le magasin de certificats de ce poste ne s’ouvre pas');
      return administratorsOf(svc.settings());
    },
    // Sessions and refusals in the workstation's journal (SA2): the holder's identifier, no name.
    audit: async (e) => {
      const svc = await trust.open();
      await svc?.log(e.event === 'access.refused'
        ? { event: e.event, outcome: 'refused', actor: e.holder ? `holder:${e.holder}` : 'system', object: { kind: 'session' }, details: { permission: e.permission, code: e.code, ...(e.role ? { cardRole: e.role } : {}) } }
        : e.event === 'key.recovery'
          ? { event: e.event, outcome: 'success', actor: `holder:${e.holder}`, object: { kind: 'session' }, details: { cardRole: e.role, code: e.code } }
          : { event: e.event, outcome: 'success', actor: `holder:${e.holder}`, object: { kind: 'session' }, details: { cardRole: e.role } });
    },
  });
  const workspace = instance;
  workspace.actor.subscribe((a) => currentActor.set(a));
  // What the outbox learns of a message moves its lots on (accepted, delivered).
  const sender = outboxSender();
  sender.entries.subscribe((entries) => void workspace.reconcile(entries));
  workspace.vault.subscribe((v) => {
    if (v.state === 'open') void workspace.reconcile(get(sender.entries));
  });
  // The card's preferences: the last situation comes back after a reload; the relay's mailbox
  // is remembered, so the day can be packaged offline from the start.
  const session = practitionerSession();
  const sync = (): void => {
    const p = get(workspace.profile);
    if (!p) return;
    const situation = get(session.situation);
    if (!situation) {
      if (p.billingNumber && get(session.identity)) session.choose(p.billingNumber);
    } else if (situation.structureId !== p.billingNumber) void workspace.rememberProfile({ billingNumber: situation.structureId }).catch(() => undefined);
    const mailbox = session.mailbox();
    if (mailbox && mailbox !== p.mailbox) void workspace.rememberProfile({ mailbox }).catch(() => undefined);
  };
  workspace.profile.subscribe(sync);
  session.identity.subscribe(sync);
  session.situation.subscribe(sync);
  session.relay.subscribe(sync);
  return workspace;
}
