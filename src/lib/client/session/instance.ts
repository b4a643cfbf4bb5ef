/** One practitioner session and one patient per tab, over the tab's card bridge (card/bridge-instance.ts). */
import { cardBridge } from '../card/bridge-instance.js';
import { createPatientStore, type PatientStore } from './patient.js';
import { createPractitionerSession, type PractitionerSession } from './practitioner.js';

let instance: PractitionerSession | null = null;

export function practitionerSession(): PractitionerSession {
  instance ??= createPractitionerSession(cardBridge());
  return instance;
}

let patient: PatientStore | null = null;

/** The patient of the invoice being built (the Vitale card read in this tab). */
export function patientStore(): PatientStore {
  patient ??= createPatientStore(cardBridge());
  return patient;
}
