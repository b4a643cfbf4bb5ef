/** How the pages write amounts, dates and times (French, Europe/Paris; issue 14 item 10). */

// Formatters made at first use, not when a page loads this module (each costs time at start).
let EUROS: Intl.NumberFormat | undefined;
let TIME: Intl.DateTimeFormat | undefined;

/** 123456 → « 1 234,56 € ». */
export const euros = (cents: number): string =>
  `${(EUROS ??= new Intl.NumberFormat('fr-FR', { minimumFractionDigits: 2, maximumFractionDigits: 2 })).format(cents / 100)} €`;

/** An ISO date (2025-03-10) → « 10/03/2025 ». */
export const frDate = (iso: string): string => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;

/** An ISO instant → its hour in Paris, « 14:05 ». */
export const parisTime = (instant: string): string =>
  (TIME ??= new Intl.DateTimeFormat('fr-FR', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit' })).format(new Date(instant));

/** A birth date as the card gives it (a lunar date may have day or month 0) → « 15/05/1980 ». */
export const frBirthDate = (b: { year: number; month: number; day: number }): string =>
  `${String(b.day).padStart(2, '0')}/${String(b.month).padStart(2, '0')}/${String(b.year).padStart(4, '0')}`;
