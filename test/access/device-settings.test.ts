/**
 * The device's settings (kiosk mode, administrators) changed through the real TrustService over
 * the in-memory store: the role checked first, the rules against locking a device out, each
 * change and refusal in the sealed journal by holder identifier.
 */
import { describe, expect, it } from 'vitest';
import { actorOf } from '../../src/lib/access/roles.js';
import { changeDeviceSettings, deviceSettings } from '../../src/lib/client/kiosk/device.js';
import { MemoryTrustStore } from '../../src/lib/trust/memory-store.js';
import { TrustService } from '../../src/lib/trust/service.js';

const DOCTOR = '19999990013';
const NURSE = '19999990617';
const DESK = '39999990917';
const doctor = (admins: string[] = []) => actorOf({ family: 'CPS', holder: DOCTOR, structures: ['999000001'] }, admins);
const nurse = (admins: string[] = []) => actorOf({ family: 'CPS', holder: NURSE, structures: ['999000001'] }, admins);
const desk = (admins: string[] = []) => actorOf({ family: 'CPE', holder: DESK, structures: ['999000001'] }, admins);

/** The journal's records, oldest first, once its integrity is checked. */
async function journal(svc: TrustService) {
  const view = await svc.auditView();
  expect(view.integrity).toMatchObject({ ok: true, mac: 'verified' });
  return [...view.records].reverse();
}

async function open(): Promise<TrustService> {
  return TrustService.open({ store: new MemoryTrustStore(), random: () => 0.5, clock: () => Date.UTC(2026, 11, 6, 9) });
}

describe('device settings', () => {
  it('a personal workstation: its practitioner names themself administrator, then turns kiosk mode on; both journaled by holder', async () => {
    const svc = await open();
    expect(deviceSettings(svc)).toEqual({ kiosk: false, administrators: [] });
    expect(await changeDeviceSettings(svc, doctor(), { administrators: [DOCTOR] })).toMatchObject({ ok: true, value: { administrators: [DOCTOR] } });
    expect(await changeDeviceSettings(svc, doctor([DOCTOR]), { kiosk: true })).toMatchObject({ ok: true, value: { kiosk: true } });
    const changes = (await journal(svc)).filter((r) => r.event === 'settings.change' && r.actor !== 'system');
    expect(changes.map((r) => [r.actor, r.object?.setting, r.details?.value])).toEqual([
      [`holder:${DOCTOR}`, 'administrators', DOCTOR],
      [`holder:${DOCTOR}`, 'kiosk', true],
    ]);
  });

  it('kiosk mode needs a named administrator; a list must name who sets it', async () => {
    const svc = await open();
    expect(await changeDeviceSettings(svc, doctor(), { kiosk: true })).toMatchObject({ ok: false, code: 'kiosk_needs_admin' });
    expect(await changeDeviceSettings(svc, doctor(), { administrators: [NURSE] })).toMatchObject({ ok: false, code: 'admin_self_missing' });
    expect(deviceSettings(svc)).toEqual({ kiosk: false, administrators: [] });
  });

  it('once administrators are named, another practitioner and an assistant are refused, and the refusal is journaled', async () => {
    const svc = await open();
    await changeDeviceSettings(svc, doctor(), { administrators: [DOCTOR], kiosk: true });
    const named = deviceSettings(svc).administrators;
    const r = await changeDeviceSettings(svc, nurse(named), { kiosk: false });
    expect(r).toMatchObject({ ok: false, code: 'not_administrator' });
    expect(await changeDeviceSettings(svc, desk(named), { administrators: [DESK] })).toMatchObject({ ok: false, code: 'not_administrator' });
    expect(await changeDeviceSettings(svc, null, { kiosk: false })).toMatchObject({ ok: false, code: 'no_session' });
    expect(deviceSettings(svc)).toEqual({ kiosk: true, administrators: [DOCTOR] });
    const refused = (await journal(svc)).filter((x) => x.event === 'access.refused');
    expect(refused.map((x) => [x.actor, x.details?.cardRole, x.details?.permission, x.details?.code])).toEqual([
      [`holder:${NURSE}`, 'practitioner', 'device.settings', 'not_administrator'],
      [`holder:${DESK}`, 'assistant', 'device.settings', 'not_administrator'],
      ['system', undefined, 'device.settings', 'no_session'],
    ]);
  });

  it('an assistant named administrator administers the device (and still signs nothing)', async () => {
    const svc = await open();
    await changeDeviceSettings(svc, doctor(), { administrators: [DOCTOR, DESK] });
    const named = deviceSettings(svc).administrators;
    expect(await changeDeviceSettings(svc, desk(named), { kiosk: true })).toMatchObject({ ok: true });
    expect(await changeDeviceSettings(svc, desk(named), { administrators: [DESK] })).toMatchObject({ ok: true, value: { administrators: [DESK] } });
  });

  it('a malformed identifier or a name is refused as a setting, and nothing is written', async () => {
    const svc = await open();
    expect(await changeDeviceSettings(svc, doctor(), { administrators: [DOCTOR, 'Dr FICTIF'] })).toMatchObject({ ok: false, code: 'setting_invalid' });
    expect(deviceSettings(svc).administrators).toEqual([]);
  });
});
