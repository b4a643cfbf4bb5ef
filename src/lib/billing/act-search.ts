/**
 * Finding an act as a practitioner types it (docs/domain/ux.md §2): by its code (`G`, `AMI`) or by
 * the beginnings of the words of its label, in any order, accents and case ignored (`con gén`
 * finds « Consultation de médecine générale »). Only the acts of the practitioner's profession
 * in force on the day of care, each once (the row in force), the exact code first.
 */
import { type Catalogue, type TariffRow } from './catalogue.js';
import type { IsoDate } from './dates.js';
import type { Profession } from './practitioner.js';
import { byCodeUnits } from '../text/compare.js';

const fold = (s: string): string => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
const words = (s: string): string[] => fold(s).split(/[^a-z0-9]+/).filter(Boolean);

/** The rows of `profession` in force on `day`: one per code, the most recent in force. */
export function actsInForce(cat: Catalogue, profession: Profession, day: IsoDate): TariffRow[] {
  const byCode = new Map<string, TariffRow>();
  for (const r of cat.rows) {
    if (!r.professions.includes(profession) || r.effectiveFrom > day || (r.until !== undefined && r.until < day)) continue;
    const had = byCode.get(r.code);
    if (!had || had.effectiveFrom < r.effectiveFrom) byCode.set(r.code, r);
  }
  return [...byCode.values()];
}

/** Acts matching `query`, best first; at most `limit`. An empty query lists nothing. */
export function searchActs(cat: Catalogue, query: string, profession: Profession, day: IsoDate, limit = 12): TariffRow[] {
  const q = words(query);
  if (q.length === 0) return [];
  const code = fold(query.trim());
  const scored: { row: TariffRow; score: number }[] = [];
  for (const row of actsInForce(cat, profession, day)) {
    const c = fold(row.code);
    const label = words(row.label);
    let score: number;
    if (c === code) score = 0;
    else if (q.length === 1 && c.startsWith(code)) score = 1;
    else if (q.every((w) => label.some((l) => l.startsWith(w)) || c === w)) score = 2;
    else continue;
    scored.push({ row, score });
  }
  scored.sort((a, b) => a.score - b.score || a.row.code.length - b.row.code.length || byCodeUnits(a.row.code, b.row.code));
  return scored.slice(0, limit).map((x) => x.row);
}
