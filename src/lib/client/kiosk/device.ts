/**
 * The device's settings an administrator changes (issue 16: kiosk mode, the administrators),
 * kept in the trust store's settings: sealed with the store (ADR 0018), each change journaled
 * with the holder who made it. Every change asks `authorize(actor, 'device.settings')` first
 * (access/roles.ts) and a refusal is journaled too.
 *
 * Two rules against locking a device out by mistake: a list of administrators names the holder
 * who sets it (a personal workstation, with no list, is administered by its practitioner), and
 * kiosk mode needs named administrators (otherwise any practitioner's card could lift it).
 */
import { AccessError, authorize, type Actor } from '../../access/roles.js';
import { administratorsOf, type TrustSettings } from '../../trust/model.js';
import type { AuditInput } from '../../trust/audit.js';

export interface DeviceSettings {
  kiosk: boolean;
  administrators: string[];
}

/** What this module needs of the trust service. */
export interface DeviceSettingsPort {
  settings(): TrustSettings;
  updateSettings(patch: Partial<TrustSettings>, actor: `holder:${string}`): Promise<void>;
  log(input: AuditInput): Promise<void>;
}

export type DeviceChangeError = { ok: false; code: string; message: string };

export function deviceSettings(svc: Pick<DeviceSettingsPort, 'settings'>): DeviceSettings {
  const s = svc.settings();
  return { kiosk: s.kiosk, administrators: administratorsOf(s) };
}

export async function changeDeviceSettings(
  svc: DeviceSettingsPort,
  actor: Actor | null,
  patch: Partial<DeviceSettings>,
): Promise<{ ok: true; value: DeviceSettings } | DeviceChangeError> {
  try {
    authorize(actor, 'device.settings');
  } catch (e) {
    if (!(e instanceof AccessError)) throw e;
    await svc
      .log({ event: 'access.refused', outcome: 'refused', actor: actor ? `holder:${actor.holder}` : 'system', object: { kind: 'settings' }, details: { permission: e.permission, code: e.code, ...(actor ? { cardRole: actor.role } : {}) } })
      .catch(() => undefined);
    return { ok: false, code: e.code, message: e.message };
  }
  const who = actor!;
  const current = deviceSettings(svc);
  const administrators = patch.administrators ? [...new Set(patch.administrators.map((a) => a.trim()).filter(Boolean))] : current.administrators;
  const kiosk = patch.kiosk ?? current.kiosk;
  if (administrators.length && !administrators.includes(who.holder)) {
    return { ok: false, code: 'admin_self_missing', message: 'La liste des administrateurs doit vous comprendre : un autre administrateur peut ensuite vous en retirer.' };
  }
  if (kiosk && administrators.length === 0) {
    return { ok: false, code: 'kiosk_needs_admin', message: 'Le mode kiosque demande au moins un administrateur désigné : ajoutez-vous d’abord à la liste.' };
  }
  try {
    await svc.updateSettings({ administrators: administrators.join(','), kiosk }, `holder:${who.holder}`);
  } catch (e) {
    if (e instanceof RangeError) return { ok: false, code: 'setting_invalid', message: e.message };
    throw e;
  }
  return { ok: true, value: deviceSettings(svc) };
}
