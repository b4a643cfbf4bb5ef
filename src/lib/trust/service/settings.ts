/** Trust settings changes: validated, each change logged, the CRL slot kept inside the window. */
import type { AuditActor, AuditInput, SettingKey } from '../audit.js';
import { type Change, type SettingRecord, type TrustSettings, settingProblem } from '../model.js';
import { drawCrlSlot } from '../schedule.js';
import type { TrustContext } from './context.js';

/** Redraws the CRL slot if the window moved past it. Throws RangeError on an invalid value. */
export async function writeSettings(ctx: TrustContext, patch: Partial<TrustSettings>, actor: AuditActor): Promise<void> {
  const next: TrustSettings = { ...ctx.conf };
  const changed: SettingKey[] = [];
  // Window bounds first, so that a slot given in the same patch is checked against them.
  const keys = (Object.keys(patch) as SettingKey[]).sort((a, b) => Number(a === 'crlSlot') - Number(b === 'crlSlot'));
  for (const k of keys) {
    const v = patch[k];
    if (v === undefined || v === next[k]) continue;
    const problem = settingProblem(k, v, next);
    if (problem) throw new RangeError(problem);
    (next as unknown as Record<string, unknown>)[k] = v;
    changed.push(k);
  }
  if (next.crlSlot !== undefined && (next.crlSlot < next.crlWindowStart || next.crlSlot >= next.crlWindowEnd)) {
    next.crlSlot = drawCrlSlot(ctx.random, next.crlWindowStart, next.crlWindowEnd);
    if (!changed.includes('crlSlot')) changed.push('crlSlot');
  }
  if (!changed.length) return;
  const changes: Change[] = changed.map((k) => ({ store: 'settings', put: { key: k, value: next[k] as number | string | boolean } satisfies SettingRecord }));
  const events: AuditInput[] = changed.map((k) => ({ event: 'settings.change', outcome: 'success', actor, object: { kind: 'settings', setting: k }, details: { value: next[k] as number | string | boolean } }));
  await ctx.commitAndReload(changes, events);
}
