/** One practitioner session per tab, over the tab's card bridge (card/bridge-instance.ts). */
import { cardBridge } from '../card/bridge-instance.js';
import { createPractitionerSession, type PractitionerSession } from './practitioner.js';

let instance: PractitionerSession | null = null;

export function practitionerSession(): PractitionerSession {
  instance ??= createPractitionerSession(cardBridge());
  return instance;
}
