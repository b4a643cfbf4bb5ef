/** Seeded random invoices for property tests (Node and Chromium). */
import { SAMPLE_CATALOGUE, type ActInput } from '../../src/lib/billing/index.js';
import { formatIso } from '../../src/lib/billing/dates.js';
import { prng, type InvoiceSpec, type ProfessionName } from './fixtures.js';

const PROFESSIONS: ProfessionName[] = ['doctor', 'nurse', 'physiotherapist'];

export function randomSpec(seed: number): InvoiceSpec {
  const r = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
  const profession = pick(PROFESSIONS);
  const sector = profession === 'doctor' && r() < 0.3 ? '2' : '1';
  const nature = pick(['illness', 'illness', 'illness', 'maternity', 'work_accident']);
  const acts: ActInput[] = [];
  const n = 1 + Math.floor(r() * 6);
  for (let i = 0; i < n; i++) {
    const date = formatIso(2024, 1 + Math.floor(r() * 12), 1 + Math.floor(r() * 28));
    const rows = SAMPLE_CATALOGUE.rows.filter((x) => x.professions.includes(profession) && x.effectiveFrom <= date && (!x.until || date <= x.until));
    const row = pick(rows);
    const act: ActInput = { code: row.code, date, time: `${String(i + 8).padStart(2, '0')}:00`, ald: nature === 'illness' && r() < 0.2 };
    if (row.kind === 'letter' && row.coefficient) {
      const { min, max } = row.coefficient;
      act.coefficient = Math.round((min + r() * (max - min)) * 100) / 100;
    }
    if (row.kind === 'per_km') act.distanceKm = Math.floor(r() * 60);
    if (sector === '2' && r() < 0.5) act.overrunCents = Math.floor(r() * 5000);
    acts.push(act);
  }
  const withAmc = r() < 0.6;
  return {
    profession,
    sector,
    nature,
    acts,
    context: pick(withAmc ? ['none', 'amo', 'amo_amc'] : ['none', 'amo']),
    carePathway: profession === 'doctor' ? pick(['referring_doctor', 'outside_pathway', 'emergency']) : undefined,
    beneficiary: {
      birthDate: pick(['1950-01-01', '1990-07-14', '2010-03-03', '2020-00-00', '1975-02-30']),
      exemptions: [
        { kind: 'ald', from: '2020-01-01' },
        { kind: 'maternity', from: '2023-06-01' },
        { kind: 'work_accident', from: '2023-01-01' }
      ],
      ...(withAmc
        ? { amc: { identifier: '87654321', contractType: '01', from: pick(['2020-01-01', '2024-06-01']), coverPercent: pick([0, 50, 100, 125, 200, 300]), thirdParty: true } }
        : {})
    }
  };
}
