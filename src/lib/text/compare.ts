/**
 * Orders strings by their UTF-16 code units: ISO dates and instants, identifiers, codes, reader
 * names. Not `localeCompare`: its first call initialises ICU's collator (tens of milliseconds of
 * main thread at a page's start), and these orders must not depend on the browser's locale.
 */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
