/**
 * A backup file read back (src/lib/client/store/backup-read.ts): the rows as stored, bytes
 * revived; another card, another origin, another format and every malformation refused with
 * their codes before the card is asked anything.
 */
import { describe, expect, it } from 'vitest';
import { b64u } from '../../src/lib/card/protocol.js';
import { BackupReadError, readBackup } from '../../src/lib/client/store/backup-read.js';

const KEY = 'k'.repeat(43);
const ORIGIN = 'http://127.0.0.1:3000';
const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
const json = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? { $b64u: b64u(v) } : v)));
const sealed = { iv: bytes(12, 1), ct: bytes(40, 2) };

function file(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 'teletrans-backup-1',
    createdAt: '2026-12-06T10:00:00.000Z',
    origin: ORIGIN,
    keyId: KEY,
    slot: json({ keyId: KEY, v: 1, salt: bytes(32, 3), wrapped: bytes(40, 4), created: '2026-12-01T08:00:00.000Z' }),
    profile: json({ keyId: KEY, sealed }),
    invoices: [json({ id: 'inv-1', keyId: KEY, history: [{ seq: 1, at: '2026-12-06T09:00:00.000Z', type: 'created' }], summary: { status: 'signed' }, sealed })],
    lots: [json({ id: '999000001:FSE:000001', keyId: KEY, lot: { id: '999000001:FSE:000001' }, tag: sealed })],
    outbox: [json({ id: 'msg-1', keyId: KEY, subject: 'SV140700/2026/2026120609000000001/00001', state: 'delivered', message: bytes(100, 5) })],
    ...over,
  };
}
const read = (f: unknown, expected = { keyId: KEY, origin: ORIGIN }) => readBackup(typeof f === 'string' ? f : JSON.stringify(f), expected);
function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof BackupReadError) return e.code;
    throw e;
  }
  return 'ok';
}

describe('readBackup', () => {
  it('gives the rows as the workstation stores them, byte arrays revived', () => {
    const b = read(file());
    expect(b.keyId).toBe(KEY);
    expect(b.slot.salt).toEqual(bytes(32, 3));
    expect(b.slot.wrapped).toEqual(bytes(40, 4));
    expect(b.profile?.sealed.ct).toEqual(bytes(40, 2));
    expect(b.invoices.map((i) => i.id)).toEqual(['inv-1']);
    expect(b.invoices[0]!.sealed.iv).toEqual(bytes(12, 1));
    expect(b.lots[0]!.tag.ct).toEqual(bytes(40, 2));
    expect(b.outbox[0]!.message).toEqual(bytes(100, 5));
    expect(read(file({ profile: null })).profile).toBeNull();
    // Files kept and returns (billing database version 5), absent from older backups: empty.
    expect([b.files, b.returns]).toEqual([[], []]);
    const v5 = read(file({
      files: [json({ id: '999000001:FSE-999000001-000001.sim', keyId: KEY, lotIds: ['999000001:FSE:000001'], sealed })],
      returns: [json({ id: 'ret-1', keyId: KEY, receivedAt: '2026-12-06T10:00:00.000Z', storedAt: '2026-12-06T10:00:01.000Z', status: 'applied', summary: { kind: 'arl' }, sealed })],
    }));
    expect(v5.files[0]!.sealed.ct).toEqual(bytes(40, 2));
    expect(v5.returns.map((r) => [r.id, r.status])).toEqual([['ret-1', 'applied']]);
  });

  it.each([
    ['not_json', 'pas du JSON'],
    ['wrong_format', file({ format: 'teletrans-backup-2' })],
    ['wrong_format', []],
    ['malformed', file({ createdAt: 'hier' })],
    ['other_card', file({ keyId: 'x'.repeat(43) })],
    ['other_origin', file({ origin: 'https://ailleurs.example' })],
    ['malformed', file({ slot: json({ keyId: KEY, v: 2, salt: bytes(32, 3), wrapped: bytes(40, 4), created: 'x' }) })],
    ['malformed', file({ slot: { keyId: KEY, v: 1, salt: { $b64u: '!!' }, wrapped: { $b64u: 'AA' }, created: 'x' } })],
    ['malformed', file({ invoices: {} })],
    ['malformed', file({ invoices: [json({ id: 'inv-1', keyId: KEY, history: [], summary: {}, sealed: { iv: bytes(12, 1) } })] })],
    ['malformed', file({ invoices: [...(file().invoices as unknown[]), ...(file().invoices as unknown[])] })],
    ['other_card', file({ invoices: [json({ id: 'inv-1', keyId: 'x'.repeat(43), history: [], summary: {}, sealed })] })],
    ['malformed', file({ lots: [json({ id: 'a', keyId: KEY, lot: { id: 'b' }, tag: sealed })] })],
    ['malformed', file({ outbox: [json({ id: 'm', keyId: KEY, subject: 's', state: 'waiting', message: 'en clair' })] })],
    ['malformed', file({ profile: json({ keyId: KEY, sealed: null }) })],
    ['malformed', file({ files: [json({ id: 'f', keyId: KEY, lotIds: [1], sealed })] })],
    ['malformed', file({ returns: [json({ id: 'r', keyId: KEY, receivedAt: 'x', status: 'applied', summary: {}, sealed: null })] })],
    ['other_card', file({ returns: [json({ id: 'r', keyId: 'x'.repeat(43), receivedAt: 'x', status: 'applied', summary: {}, sealed })] })],
  ])('refuses with %s', (code, f) => {
    expect(codeOf(() => read(f))).toBe(code);
  });

  it('refuses what is too large or too deep to be one of ours', () => {
    expect(codeOf(() => readBackup('x'.repeat(64 * 1024 * 1024 + 1), { keyId: KEY, origin: ORIGIN }))).toBe('too_large');
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { a: deep };
    expect(codeOf(() => read(file({ extra: deep })))).toBe('malformed');
  });

  it('every prefix of a file is refused with a code, never read as a smaller backup', () => {
    const text = JSON.stringify(file());
    for (let n = 0; n < text.length; n += 7) expect(codeOf(() => read(text.slice(0, n))), `prefix ${n}`).not.toBe('ok');
  });
});
