/** How the pages write amounts, dates and times (French, Europe/Paris; issue 14 item 10). */

const EUROS = new Intl.NumberFormat('fr-FR', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** 123456 → « 1 234,56 € ». */
export const euros = (cents: number): string => `${EUROS.format(cents / 100)} €`;

/** An ISO date (2025-03-10) → « 10/03/2025 ». */
export const frDate = (iso: string): string => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;

const TIME = new Intl.DateTimeFormat('fr-FR', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit' });

/** An ISO instant → its hour in Paris, « 14:05 ». */
export const parisTime = (instant: string): string => TIME.format(new Date(instant));

/** A birth date as the card gives it (a lunar date may have day or month 0) → « 15/05/1980 ». */
export const frBirthDate = (b: { year: number; month: number; day: number }): string =>
  `${String(b.day).padStart(2, '0')}/${String(b.month).padStart(2, '0')}/${String(b.year).padStart(4, '0')}`;
