import { describe, expect, it } from 'vitest';
import { AccessError, actorOf, authorize, can, type Permission } from '../../src/lib/access/roles.js';

const CABINET = '999000001';
const MSP = '999000002';
const doctor = actorOf({ family: 'CPS', holder: '19999990013', structures: [CABINET, MSP] });
const assistant = actorOf({ family: 'CPE', holder: '39999990017', structures: [CABINET] });

function refusal(f: () => void): AccessError {
  try {
    f();
  } catch (e) {
    if (e instanceof AccessError) return e;
    throw e;
  }
  throw new Error('not refused');
}

describe('roles by card', () => {
  it('a CPS makes a practitioner, a CPE an assistant', () => {
    expect(doctor.role).toBe('practitioner');
    expect(assistant.role).toBe('assistant');
  });

  it('a practitioner bills, signs, transmits and acts on returns for their own structures', () => {
    for (const p of ['invoice.prepare', 'invoice.sign', 'invoice.cancel', 'invoice.transmit', 'returns.act'] as Permission[]) {
      expect(() => authorize(doctor, p, { structure: CABINET, practitioner: doctor.holder })).not.toThrow();
    }
  });

  it('an assistant prepares for the practitioners of its structure, and never signs, transmits or acts on returns', () => {
    expect(() => authorize(assistant, 'invoice.prepare', { structure: CABINET, practitioner: doctor.holder })).not.toThrow();
    for (const p of ['invoice.sign', 'invoice.transmit', 'returns.act'] as Permission[]) {
      const e = refusal(() => authorize(assistant, p, { structure: CABINET }));
      expect(e.code).toBe('role_forbidden');
      expect(e.permission).toBe(p);
    }
    expect(refusal(() => authorize(assistant, 'invoice.sign')).message).toBe('Une carte de assistant(e) de structure ne permet pas de signer une facture : le praticien la signera avec sa carte CPS.');
  });

  it('another structure is refused, for both roles', () => {
    expect(refusal(() => authorize(assistant, 'invoice.prepare', { structure: MSP })).code).toBe('other_structure');
    expect(refusal(() => authorize(doctor, 'invoice.sign', { structure: '999000009' })).code).toBe('other_structure');
  });

  it('a practitioner never acts on another practitioner’s invoices', () => {
    const e = refusal(() => authorize(doctor, 'invoice.sign', { structure: CABINET, practitioner: '19999990021' }));
    expect(e.code).toBe('other_practitioner');
    expect(e.message).toMatch(/autre praticien/);
  });

  it('no session, no action (fail closed)', () => {
    expect(refusal(() => authorize(null, 'invoice.prepare')).code).toBe('no_session');
    expect(can(undefined, 'invoice.sign')).toBe(false);
  });

  it('on a personal workstation (no administrator named) its practitioner administers it, an assistant never', () => {
    expect(can(doctor, 'device.settings')).toBe(true);
    expect(can(doctor, 'trust.manage')).toBe(true);
    expect(refusal(() => authorize(assistant, 'device.settings')).code).toBe('not_administrator');
  });

  it('a device that names its administrators: only they change its settings, whatever their card', () => {
    const named = [assistant.holder];
    const doctorHere = actorOf({ family: 'CPS', holder: doctor.holder, structures: [CABINET] }, named);
    const adminHere = actorOf({ family: 'CPE', holder: assistant.holder, structures: [CABINET] }, named);
    expect(refusal(() => authorize(doctorHere, 'device.settings')).code).toBe('not_administrator');
    expect(can(adminHere, 'trust.manage')).toBe(true);
    // Administering the device gives an assistant no billing right it did not have.
    expect(refusal(() => authorize(adminHere, 'invoice.sign')).code).toBe('role_forbidden');
  });

  it('an actor cannot be changed once made', () => {
    expect(Object.isFrozen(assistant)).toBe(true);
    expect(() => (assistant.structures as string[]).push(MSP)).toThrow();
  });
});
