/** Invoice, lot and file numbers: widths, scopes, validation, and never a wrap. */
import { describe, expect, it } from 'vitest';
import { BillingError, BillingNumbering, MemoryCounterStore, type CounterStore } from '../../src/lib/billing/index.js';

const fails = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'no error';
  } catch (e) {
    return e instanceof BillingError ? e.code : `not a BillingError: ${String(e)}`;
  }
};


/** A store whose every answer comes from `value` (by key): for the numbering's own checks. */
function fake(value: (key: string) => Promise<number>): CounterStore {
  return { next: value, reserve: value, reserveMany: (rs) => Promise.all(rs.map((r) => value(r.key))), raise: async () => undefined };
}

describe('BillingNumbering', () => {
  it('numbers invoices per billing number (9 digits), lots and files per sender (6 digits)', async () => {
    const n = new BillingNumbering(new MemoryCounterStore());
    expect(await n.invoiceNumber('751234567')).toBe('000000001');
    expect(await n.invoiceNumber('751234567')).toBe('000000002');
    expect(await n.invoiceNumber('2A1234567')).toBe('000000001');
    expect(await n.lotNumber('751234567')).toBe('000001');
    expect(await n.fileNumber('751234567')).toBe('000001');
    expect(await n.lotNumber('751234567')).toBe('000002');
    expect(await n.invoiceNumber('751234567')).toBe('000000003');
  });

  it('refuses malformed billing and sender numbers, before drawing anything', async () => {
    const drawn: string[] = [];
    const store = fake(async (k) => (drawn.push(k), 1));
    const n = new BillingNumbering(store);
    expect(await fails(n.invoiceNumber('75123456'))).toBe('billing_number_format');
    expect(await fails(n.invoiceNumber('../../etc'))).toBe('billing_number_format');
    expect(await fails(n.lotNumber('2C1234567'))).toBe('counter_invalid');
    expect(await fails(n.fileNumber(''))).toBe('counter_invalid');
    expect(await fails(n.invoiceNumbers('2C1234567', 3))).toBe('billing_number_format');
    expect(await fails(n.invoiceNumbers('751234567', 0))).toBe('counter_invalid');
    expect(drawn).toEqual([]);
  });

  it('never wraps: an exhausted counter refuses instead of starting again', async () => {
    const value = async (k: string) => (k.startsWith('invoice') ? 1_000_000_000 : 1_000_000);
    const store = fake(value);
    const n = new BillingNumbering(store);
    expect(await fails(n.invoiceNumber('751234567'))).toBe('counter_invalid');
    expect(await fails(n.lotNumber('751234567'))).toBe('counter_invalid');
    const last = new BillingNumbering({ ...fake(async () => 999_999_998), next: async () => 999_999_999 });
    expect(await last.invoiceNumber('751234567')).toBe('999999999');
    expect(await last.invoiceNumbers('751234567', 2)).toEqual(['999999998', '999999999']);
    expect(await fails(last.invoiceNumbers('751234567', 3))).toBe('counter_invalid'); // 999999998 + 2 overflows
  });

  it('refuses a store that hands out 0, a negative or a fraction', async () => {
    for (const v of [0, -1, 1.5, Number.NaN]) {
      expect(await fails(new BillingNumbering(fake(async () => v)).invoiceNumber('751234567'))).toBe('counter_invalid');
    }
  });

  it('the memory store refuses keys that could escape a directory', async () => {
    const m = new MemoryCounterStore();
    expect(await fails(m.next('invoice:../x'))).toBe('counter_invalid');
    expect(await fails(m.next('other:751234567'))).toBe('counter_invalid');
    expect(await m.next('invoice:751234567')).toBe(1);
  });

  it('a reservation hands out a consecutive block once: the next number follows it', async () => {
    const n = new BillingNumbering(new MemoryCounterStore());
    expect(await n.invoiceNumber('751234567')).toBe('000000001');
    expect(await n.invoiceNumbers('751234567', 3)).toEqual(['000000002', '000000003', '000000004']);
    expect(await n.invoiceNumber('751234567')).toBe('000000005');
    expect(await n.invoiceNumbers('2A1234567', 2)).toEqual(['000000001', '000000002']);
    expect(await n.lotNumber('751234567')).toBe('000001');
    expect(await n.lotAndFileNumbers('751234567', 3, 2)).toEqual({ lots: ['000002', '000003', '000004'], files: ['000001', '000002'] });
    expect(await n.fileNumber('751234567')).toBe('000003');
    expect(await fails(n.lotAndFileNumbers('751234567', 0, 1))).toBe('counter_invalid');
  });

  it('keeps past the numbers records used (a restore), never moving a counter back, in memory and in files', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { FileCounterStore } = await import('../../src/lib/server/counter-file.js');
    const dir = mkdtempSync(join(tmpdir(), 'teletrans-raise-'));
    try {
      for (const store of [new MemoryCounterStore(), new FileCounterStore(dir)]) {
        const n = new BillingNumbering(store);
        expect(await n.invoiceNumber('751234567')).toBe('000000001');
        await n.keepPast(new Map([['invoice:751234567', 41], ['lot:751234567', 6], ['file:751234567', 6]]));
        expect(await n.invoiceNumber('751234567')).toBe('000000042');
        expect(await n.lotNumber('751234567')).toBe('000007');
        await n.keepPast(new Map([['invoice:751234567', 3]])); // lower than where it stands: left alone
        expect(await n.invoiceNumber('751234567')).toBe('000000043');
        expect(await fails(n.keepPast(new Map([['invoice:../x', 3]])))).toBe('counter_invalid');
        expect(await fails(n.keepPast(new Map([['invoice:751234567', -1]])))).toBe('counter_invalid');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
