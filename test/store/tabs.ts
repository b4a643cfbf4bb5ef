/**
 * Tabs of one same-origin session in the store tests: the trust service opened at the test's
 * clock, and what a new tab says of the journal.
 */
import type { Page } from 'playwright-core';
import type { SameOriginSession } from './same-origin.js';

type TrustPageModule = typeof import('./entry.js');
declare const TrustPage: TrustPageModule;

export type Integrity = ReturnType<TrustPageModule['TrustService']['prototype']['integrity']>;

/** Opens the trust service in `page` with the page clock at `now`. */
export async function openIn(page: Page, now: number): Promise<void> {
  await page.evaluate(async (t) => {
    TrustPage.clock.now = t;
    await TrustPage.open();
  }, now);
}

/** Opens a new tab on the same storage and returns what its service says of the journal. */
export async function freshTab(s: SameOriginSession, now: number): Promise<{ page: Page; integrity: Integrity }> {
  const page = await s.open();
  await openIn(page, now);
  return { page, integrity: await page.evaluate(() => TrustPage.trust().integrity()) };
}
