/** One practitioner session and one patient per tab, over the tab's card bridge (card/bridge-instance.ts). */
import { cardBridge } from '../card/bridge-instance.js';
import { createPatientStore, type PatientStore } from './patient.js';
import { createPractitionerSession, type PractitionerSession } from './practitioner.js';

let instance: PractitionerSession | null = null;

/** How often the journal's head is anchored while the relay is reached (and at each login). */
const ANCHOR_EVERY_MS = 5 * 60_000;

/**
 * Anchors the audit journal at the relay (issue 24 defect 3) with the session's token: at each
 * login, then every few minutes. A refusal blocks the workstation (the trust state says so).
 */
async function anchorJournal(session: PractitionerSession): Promise<void> {
  const token = session.token();
  if (!token) return;
  const { trust } = await import('../ui/trust/trust-state.svelte');
  const svc = await trust.open();
  if (!svc || svc.integrity().state !== 'intact') return;
  const { relayAnchorPort } = await import('../relay/anchor.js');
  const { serverBase } = await import('../server-base.js');
  await svc.anchor(relayAnchorPort(token, { base: serverBase() })).catch(() => undefined);
  trust.sync();
}

export function practitionerSession(): PractitionerSession {
  if (!instance) {
    const session = createPractitionerSession(cardBridge());
    instance = session;
    let timer: ReturnType<typeof setInterval> | undefined;
    session.relay.subscribe((r) => {
      if (r.state === 'connected') {
        void anchorJournal(session);
        timer ??= typeof window !== 'undefined' ? setInterval(() => void anchorJournal(session), ANCHOR_EVERY_MS) : undefined;
      } else if (timer !== undefined && r.state !== 'connecting') {
        clearInterval(timer);
        timer = undefined;
      }
    });
  }
  return instance;
}

let patient: PatientStore | null = null;

/** The patient of the invoice being built (the Vitale card read in this tab). */
export function patientStore(): PatientStore {
  patient ??= createPatientStore(cardBridge());
  return patient;
}
