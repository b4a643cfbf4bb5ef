/**
 * The practitioner's first steps in a fresh browser profile, as the e2e files take them: the
 * « Cartes » page, pairing approved (the bridge's approver compares the codes), the PIN, the
 * session bar with the relay connected, a billing situation chosen.
 */
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

const POLL = { timeout: 30_000, interval: 100 };

export async function pairAndSignIn(page: Page, appUrl: string, situation: string): Promise<void> {
  await page.goto(`${appUrl}/cartes`);
  await page.getByRole('button', { name: 'Appairer ce navigateur avec le pont' }).click();
  await expect.poll(() => page.getByText('Appairage réussi.').isVisible(), POLL).toBe(true);
  const pin = page.getByLabel('Code porteur de la CPS');
  await pin.fill('1234');
  await pin.press('Enter');
  const bar = page.getByRole('region', { name: 'Session du praticien' });
  await expect.poll(() => bar.isVisible(), POLL).toBe(true);
  await expect.poll(() => bar.locator('.relay').getAttribute('data-state'), POLL).toBe('connected');
  await bar.getByLabel('Situation de facturation').selectOption(situation);
}
