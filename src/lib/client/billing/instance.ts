/**
 * The tab's billing workspace: its invoices in IndexedDB sealed under the CPS's key, numbered
 * from the durable counters, formatted by our simulator (the homologated engine, when the
 * bridge loads it, comes through `chooseSsvAdapter`: not wired yet).
 */
import { SAMPLE_CATALOGUE } from '../../billing/catalogue.js';
import { BillingNumbering } from '../../billing/numbering.js';
import { simulatorAdapter } from '../../billing/ssv/simulator.js';
import { cardBridge } from '../card/bridge-instance.js';
import { IdbBillingStore } from '../store/billing.js';
import { IdbCounterStore } from '../store/counters.js';
import { IdbKeySlotStore } from '../store/key-slots.js';
import { createBillingWorkspace, type BillingWorkspace } from './workspace.js';

let instance: BillingWorkspace | null = null;

export function billingWorkspace(): BillingWorkspace {
  instance ??= createBillingWorkspace({
    bridge: cardBridge(),
    store: new IdbBillingStore(),
    slots: new IdbKeySlotStore(),
    numbering: new BillingNumbering(new IdbCounterStore()),
    adapter: simulatorAdapter(),
    catalogue: SAMPLE_CATALOGUE,
  });
  return instance;
}
