/** Amounts as the pages write them: the same text as Intl.NumberFormat('fr-FR') gives. */
import { expect, it } from 'vitest';
import { euros, frDate } from '../../src/lib/client/ui/format.js';

const intl = new Intl.NumberFormat('fr-FR', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

it('writes euros as Intl fr-FR does, for every sign and size', () => {
  const values = [0, 1, 9, 10, 99, 100, 101, 999, 1000, 3000, 123456, 100000, 99999999, 1234567890, -1, -50, -123456, -100000000];
  for (let c = 997; c < 200_000; c += 997) values.push(c, -c);
  for (const c of values) expect(euros(c), String(c)).toBe(`${intl.format(c / 100)} €`);
  expect(euros(123456)).toBe('1\u202f234,56 €');
  expect(frDate('2025-03-10')).toBe('10/03/2025');
});
