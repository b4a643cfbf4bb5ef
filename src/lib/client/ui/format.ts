/** How the pages write amounts, dates and times (French, Europe/Paris; issue 14 item 10). */

// Made at first use, not when a page loads this module (the first Intl call costs ~50 ms).
let TIME: Intl.DateTimeFormat | undefined;

/**
 * 123456 → « 1 234,56 € », as `Intl.NumberFormat('fr-FR')` writes it (narrow no-break space
 * between thousands, decimal comma) without its cost at start-up: every page shows amounts.
 * test/unit/format.test.ts holds it equal to Intl.
 */
export function euros(cents: number): string {
  const whole = Math.round(Math.abs(cents));
  const units = String(Math.floor(whole / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');
  return `${cents < 0 ? '-' : ''}${units},${String(whole % 100).padStart(2, '0')} €`;
}

/** An ISO date (2025-03-10) → « 10/03/2025 ». */
export const frDate = (iso: string): string => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;

/** An ISO instant → its hour in Paris, « 14:05 ». */
export const parisTime = (instant: string): string =>
  (TIME ??= new Intl.DateTimeFormat('fr-FR', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit' })).format(new Date(instant));

/** A birth date as the card gives it (a lunar date may have day or month 0) → « 15/05/1980 ». */
export const frBirthDate = (b: { year: number; month: number; day: number }): string =>
  `${String(b.day).padStart(2, '0')}/${String(b.month).padStart(2, '0')}/${String(b.year).padStart(4, '0')}`;
