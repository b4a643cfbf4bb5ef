/** The transmission mode as typed in the page: what is kept, and what is refused in French. */
import { describe, expect, it } from 'vitest';
import { describeTransmission, octOf, transmissionSetting } from '../../src/lib/client/billing/transmission-setting.js';

describe('transmissionSetting', () => {
  it('keeps direct mode, and an OCT with its address and number (upper-cased)', () => {
    expect(transmissionSetting({ way: 'direct', octAddress: 'ignored' })).toEqual({ ok: true, value: { way: 'direct' } });
    const oct = transmissionSetting({ way: 'oct_single', octAddress: ' oct@exemple.fr ', octNumber: 'ab12' });
    expect(oct).toEqual({ ok: true, value: { way: 'oct_single', octAddress: 'oct@exemple.fr', octNumber: 'AB12' } });
    expect(transmissionSetting({ way: 'oct_split', octAddress: 'oct@exemple.fr' })).toEqual({ ok: true, value: { way: 'oct_split', octAddress: 'oct@exemple.fr' } });
  });

  it.each([
    [{ way: 'oct_enriched', octAddress: 'oct@exemple.fr', octNumber: '1' }, 'Mode de transmission inconnu.'],
    [{ way: 'oct_split', octAddress: 'pas une adresse' }, 'Adresse de messagerie de l’OCT invalide (par exemple oct@exemple.fr).'],
    [{ way: 'oct_split', octAddress: '' }, 'Adresse de messagerie de l’OCT invalide (par exemple oct@exemple.fr).'],
    [{ way: 'oct_single', octAddress: 'oct@exemple.fr' }, 'Le fichier unique FACTURE porte le numéro de l’OCT : indiquez-le.'],
    [{ way: 'oct_split', octAddress: 'oct@exemple.fr', octNumber: '12-34' }, 'Numéro de l’OCT invalide (lettres et chiffres, 20 au plus).'],
  ])('refuses %j', (input, message) => {
    expect(transmissionSetting(input)).toEqual({ ok: false, message });
  });

  it('offers the single FACTURE file for real flows only', () => {
    const input = { way: 'oct_single', octAddress: 'oct@exemple.fr', octNumber: '42' };
    expect(transmissionSetting(input, 'real').ok).toBe(true);
    for (const mode of ['test', 'demo'] as const) {
      expect(transmissionSetting(input, mode)).toEqual({ ok: false, message: 'Le fichier unique FACTURE n’existe qu’en production : en test et en démonstration, choisissez la voie 1.' });
      expect(transmissionSetting({ ...input, way: 'oct_split' }, mode).ok).toBe(true);
    }
  });

  it('routes and says it', () => {
    const s = transmissionSetting({ way: 'oct_single', octAddress: 'oct@exemple.fr', octNumber: '42' });
    if (!s.ok) throw new Error(s.message);
    expect(octOf(s.value)).toEqual({ address: 'oct@exemple.fr', number: '42' });
    expect(octOf({ way: 'direct' })).toBeUndefined();
    expect(describeTransmission(s.value)).toBe('par l’OCT oct@exemple.fr (fichier unique, n° 42)');
    expect(describeTransmission({ way: 'direct' })).toBe('directe aux caisses (AMO et AMC)');
  });
});
