/** What the practitioner is told about the browser evicting this workstation's data (issue 14 item 6). */
import { describe, expect, it } from 'vitest';
import { storageAdvice } from '../../src/lib/client/storage/persistence.js';

describe('storageAdvice', () => {
  const base = { supported: true, persisted: false, installed: false, refused: false };
  it('protected: said quietly', () => {
    expect(storageAdvice({ ...base, persisted: true })).toMatchObject({ level: 'ok' });
  });
  it('not asked yet: offers to ask', () => {
    expect(storageAdvice(base)).toEqual({ level: 'ask', text: expect.stringContaining('Demandez-lui de les protéger') });
  });
  it('refused: says what may be lost and the fix (install the app)', () => {
    const a = storageAdvice({ ...base, refused: true });
    expect(a.level).toBe('warn');
    expect(a.text).toContain('factures pas encore envoyées');
    expect(a.text).toContain('Installez l’application');
  });
  it('no persistence API (older Safari): the installed app is safe, the tab is not', () => {
    expect(storageAdvice({ ...base, supported: false, installed: true }).level).toBe('ok');
    expect(storageAdvice({ ...base, supported: false }).level).toBe('warn');
  });
  it('unsent invoices only here: named while the storage is not protected, with the fix', () => {
    const ask = storageAdvice(base, 3);
    expect(ask.level).toBe('ask');
    expect(ask.text).toMatch(/^3 factures ou envois pas encore partis n’existent que sur ce poste/);
    expect(ask.text).toContain('Demandez-lui de le protéger, ou installez l’application');
    const refused = storageAdvice({ ...base, refused: true }, 1);
    expect(refused.level).toBe('warn');
    expect(refused.text).toMatch(/^Une facture ou un envoi pas encore parti n’existe que sur ce poste/);
    expect(refused.text).toContain('Installez l’application');
    expect(storageAdvice({ ...base, persisted: true }, 5).level).toBe('ok');
    expect(storageAdvice({ ...base, supported: false, installed: true }, 5).level).toBe('ok');
  });
});
