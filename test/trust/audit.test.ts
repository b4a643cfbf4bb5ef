/**
 * The audit trail: typed records that refuse personal data and PINs, the SHA-256 hash chain
 * with HMAC seals (tampered, deleted, reordered, forged and truncated records flagged at the
 * right index), retention purges that keep the chain verifiable, and the JSON-lines export.
 */
import { describe, expect, it } from 'vitest';
import {
  type AuditInput,
  type AuditRecord,
  AuditRefused,
  type ChainHead,
  MIN_RETENTION_DAYS,
  canonicalJson,
  checkAuditInput,
  exportJsonl,
  generateAuditKey,
  newJournal,
  parseJsonl,
  planPurge,
  recordHash,
  sealAnchor,
  sealHead,
  sealRecords,
  verifyChain,
  verifyJournal,
} from '../../src/lib/trust/audit.js';

const T0 = Date.parse('2025-01-06T09:00:00Z');
const DAY = 86_400_000;
const USER = 'user:3f1c2b9a-5d4e-4c8b-9a7f-0e1d2c3b4a59' as const;
const FP = 'a'.repeat(64);

const event = (i: number): AuditInput => ({
  event: i % 2 ? 'crl.load' : 'ca.load',
  outcome: 'success',
  actor: i % 3 ? 'system' : USER,
  object: i % 2 ? { kind: 'crl', fingerprint: FP, issuer: 'CN=AC-FACTURATION-TEST,O=sesam-vitale,C=FR', serial: '0' + (i % 10) } : { kind: 'ca', fingerprint: FP, subject: 'CN=AC-SESAM-VITALE-TEST-2034,O=sesam-vitale,C=FR' },
  details: i % 2 ? { thisUpdate: T0, nextUpdate: T0 + 7 * DAY, count: 1000 + i } : { role: 'root', hierarchy: 'test' },
  at: T0 + i * 60_000,
});

async function chain(n: number, key?: CryptoKey): Promise<{ records: AuditRecord[]; head: ChainHead | undefined }> {
  return sealRecords(
    Array.from({ length: n }, (_, i) => event(i)),
    undefined,
    T0,
    key,
  );
}

describe('what the trail refuses', () => {
  const ok: AuditInput = { event: 'session.open', outcome: 'success', actor: USER, details: { peer: 'relay.example.fr:443', session: '9f8e7d6c5b4a39281706f5e4d3c2b1a0' } };
  const refused = (input: unknown): AuditRefused => {
    try {
      checkAuditInput(input as AuditInput, T0);
    } catch (e) {
      expect(e).toBeInstanceOf(AuditRefused);
      return e as AuditRefused;
    }
    throw new Error('accepted: ' + JSON.stringify(input));
  };

  it('accepts a well-formed session event', () => {
    expect(checkAuditInput(ok, T0)).toMatchObject({ event: 'session.open', actor: USER, at: T0 });
  });

  it('refuses a NIR wherever it is put', () => {
    const nir = '1 85 05 78 006 048 22';
    const compact = '185057800604822';
    expect(refused({ ...ok, actor: `user:${compact}` }).code).toBe('invalid_actor');
    expect(refused({ ...ok, details: { nir } }).code).toBe('field_not_allowed');
    expect(refused({ ...ok, details: { code: compact } }).code).toBe('invalid_field');
    expect(refused({ ...ok, details: { peer: compact } }).code).toBe('personal_data');
    expect(refused({ ...ok, details: { value: nir } }).code).toBe('invalid_field');
    expect(refused({ ...ok, object: { kind: 'ca', subject: `CN=Patient ${nir}` } }).code).toBe('personal_data');
    expect(refused({ ...ok, object: { kind: 'crl', issuer: `CN=${compact}` } }).code).toBe('personal_data');
    expect(refused({ ...ok, object: { kind: 'source', url: `ldap://annuaire/cn=${compact}` } }).code).toBe('personal_data');
    expect(refused({ ...ok, nir }).code).toBe('field_not_allowed');
    // A corsican NIR (department 2A).
    expect(refused({ ...ok, object: { kind: 'ca', subject: 'CN=2 70 12 2A 004 017 45' } }).code).toBe('personal_data');
  });

  it('refuses a PIN wherever it is put', () => {
    expect(refused({ ...ok, details: { pin: '1234' } }).code).toBe('field_not_allowed');
    expect(refused({ ...ok, details: { codePorteur: '1234' } }).code).toBe('field_not_allowed');
    expect(refused({ ...ok, details: { reason: '1234' } }).code).toBe('invalid_field');
    expect(refused({ ...ok, details: { value: '1234' } }).code).toBe('invalid_field');
    expect(refused({ ...ok, details: { session: '1234' } }).code).toBe('invalid_field');
    expect(refused({ ...ok, object: { kind: 'settings', setting: 'pin' } }).code).toBe('invalid_field');
  });

  it('refuses names and free text: a leaf subject, unknown events, outcomes and fields', () => {
    expect(refused({ ...ok, object: { kind: 'certificate', subject: 'CN=Jeanne Martin' } }).code).toBe('personal_data');
    expect(refused({ ...ok, object: { kind: 'certificate', name: 'Jeanne Martin' } }).code).toBe('field_not_allowed');
    expect(refused({ ...ok, details: { message: 'facture de Jeanne Martin' } }).code).toBe('field_not_allowed');
    expect(refused({ ...ok, details: { invoice: { amount: 25 } } }).code).toBe('field_not_allowed');
    expect(refused({ ...ok, event: 'invoice.signed' }).code).toBe('invalid_field');
    expect(refused({ ...ok, outcome: 'ok' }).code).toBe('invalid_field');
    expect(refused({ ...ok, actor: 'Dr Martin' }).code).toBe('invalid_actor');
    expect(refused({ ...ok, object: { kind: 'ca', issuer: 'CN=AC\nsecond line' } }).code).toBe('invalid_field');
    expect(refused({ ...ok, details: { count: 1.5 } }).code).toBe('invalid_field');
  });

  it('names a card holder by national identifier only (SA2: who opened, who was refused), never a NIR', () => {
    expect(checkAuditInput({ ...ok, actor: 'holder:19999990013', details: { cardRole: 'practitioner' } }, T0)).toMatchObject({ actor: 'holder:19999990013' });
    expect(checkAuditInput({ event: 'access.refused', outcome: 'refused', actor: 'holder:39999990917', object: { kind: 'session' }, details: { cardRole: 'assistant', permission: 'invoice.sign', code: 'role_forbidden' } }, T0).details)
      .toEqual({ cardRole: 'assistant', permission: 'invoice.sign', code: 'role_forbidden' });
    expect(refused({ ...ok, actor: 'holder:185057800604822' }).code).toBe('invalid_actor');
    expect(refused({ ...ok, actor: 'holder:FICTIF-TEST' }).code).toBe('invalid_actor');
    expect(refused({ ...ok, details: { cardRole: 'admin' } }).code).toBe('invalid_field');
    expect(refused({ ...ok, details: { permission: 'everything' } }).code).toBe('invalid_field');
  });

  it('refuses through sealRecords too: nothing is written', async () => {
    await expect(sealRecords([ok, { ...ok, details: { pin: '0000' } } as unknown as AuditInput], undefined, T0)).rejects.toBeInstanceOf(AuditRefused);
  });
});

describe('hash chain', () => {
  it('chains records: prev is the previous hash, hash covers the canonical bytes', async () => {
    const { records, head } = await chain(4);
    expect(records[0]!.prev).toBe('0'.repeat(64));
    for (let i = 1; i < records.length; i++) expect(records[i]!.prev).toBe(records[i - 1]!.hash);
    for (const r of records) expect(await recordHash(r)).toBe(r.hash);
    expect(head).toEqual({ seq: 3, hash: records[3]!.hash });
    expect(await verifyChain(records, { head })).toMatchObject({ ok: true, count: 4, firstSeq: 0, lastSeq: 3, mac: 'unchecked' });
  });

  it('continues an existing chain from its head', async () => {
    const a = await chain(3);
    const b = await sealRecords([event(7), event(8)], a.head, T0);
    expect(b.records[0]!.seq).toBe(3);
    expect(b.records[0]!.prev).toBe(a.head!.hash);
    expect(await verifyChain([...a.records, ...b.records], { head: b.head })).toMatchObject({ ok: true, count: 5 });
  });

  it('verifies the HMAC seals with the key', async () => {
    const key = await generateAuditKey();
    const { records, head } = await chain(5, key);
    for (const r of records) expect(r.mac).toMatch(/^[0-9a-f]{64}$/);
    expect(await verifyChain(records, { head, key })).toMatchObject({ ok: true, mac: 'verified' });
    // Another installation's key does not verify these seals.
    expect(await verifyChain(records, { head, key: await generateAuditKey() })).toMatchObject({ ok: false, index: 0, problem: 'forged' });
  });

  it('flags a tampered record at its index', async () => {
    const key = await generateAuditKey();
    const { records, head } = await chain(6, key);
    const bad = structuredClone(records);
    bad[2]!.details = { ...bad[2]!.details, hierarchy: 'production' };
    expect(await verifyChain(bad, { head, key })).toMatchObject({ ok: false, index: 2, seq: 2, problem: 'altered' });
    const late = structuredClone(records);
    late[4]!.at += 1;
    expect(await verifyChain(late, { head, key })).toMatchObject({ ok: false, index: 4, problem: 'altered' });
  });

  it('flags a record rehashed without the key as forged, and the next one as unchained without a key', async () => {
    const key = await generateAuditKey();
    const { records, head } = await chain(6, key);
    const bad = structuredClone(records);
    bad[2]!.outcome = 'failure';
    bad[2]!.hash = await recordHash(bad[2]!);
    expect(await verifyChain(bad, { head, key })).toMatchObject({ ok: false, index: 2, problem: 'forged' });
    expect(await verifyChain(bad, { head })).toMatchObject({ ok: false, index: 3, problem: 'missing' });
  });

  it('flags a deleted record', async () => {
    const { records, head } = await chain(6);
    const bad = records.filter((_, i) => i !== 3);
    const v = await verifyChain(bad, { head });
    expect(v).toMatchObject({ ok: false, index: 3, seq: 4, problem: 'missing' });
    expect(v.message).toBe('L’enregistrement n° 3 du journal a été supprimé.');
    const two = records.filter((_, i) => i !== 1 && i !== 2);
    expect(await verifyChain(two, { head })).toMatchObject({ ok: false, index: 1, problem: 'missing', message: 'Les enregistrements n° 1 à 2 du journal ont été supprimés.' });
  });

  it('flags a deleted record even when the following ones were renumbered and rehashed (with the key)', async () => {
    const key = await generateAuditKey();
    const { records, head } = await chain(5, key);
    const bad = structuredClone(records.filter((_, i) => i !== 2));
    for (let i = 2; i < bad.length; i++) {
      bad[i]!.seq = i;
      bad[i]!.prev = bad[i - 1]!.hash;
      bad[i]!.hash = await recordHash(bad[i]!);
    }
    expect(await verifyChain(bad, { key })).toMatchObject({ ok: false, index: 2, problem: 'forged' });
    // Without the key, the head kept apart still tells.
    expect(await verifyChain(bad, { head })).toMatchObject({ ok: false, problem: 'truncated' });
  });

  it('flags reordered records', async () => {
    const { records, head } = await chain(6);
    const bad = [...records];
    [bad[1], bad[4]] = [bad[4]!, bad[1]!];
    expect(await verifyChain(bad, { head })).toMatchObject({ ok: false, index: 1, seq: 4, problem: 'reordered' });
    const dup = [...records.slice(0, 3), records[1]!, ...records.slice(3)];
    expect(await verifyChain(dup, { head })).toMatchObject({ ok: false, index: 3, problem: 'reordered' });
  });

  it('flags a truncated tail when the head is known', async () => {
    const { records, head } = await chain(6);
    expect(await verifyChain(records.slice(0, 4), { head })).toMatchObject({ ok: false, index: 4, problem: 'truncated' });
    expect(await verifyChain([], { head })).toMatchObject({ ok: false, index: 0, problem: 'truncated' });
  });

  it('reports malformed records instead of throwing', async () => {
    const { records, head } = await chain(3);
    const bad = [records[0]!, { seq: 1 } as unknown as AuditRecord, records[2]!];
    expect(await verifyChain(bad, { head })).toMatchObject({ ok: false, index: 1, problem: 'malformed' });
  });
});

describe('the journal seal: head, key, key check, witness', () => {
  async function sealed(n: number) {
    const j = await newJournal(T0);
    const { records, head } = await sealRecords(
      Array.from({ length: n }, (_, i) => event(i)),
      j.head,
      T0,
      j.key,
    );
    return { ...j, records, head: head! };
  }

  it('a new journal starts with a sealed empty head and verifies with its key, check and witness', async () => {
    const j = await newJournal(T0);
    expect(j.head).toMatchObject({ seq: -1, hash: '0'.repeat(64), mac: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(j.check).toMatchObject({ v: 1, createdAt: T0, journal: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(await verifyJournal({ records: [], head: j.head }, { key: j.key, check: j.check, witness: j.check.mac })).toMatchObject({ ok: true, count: 0, mac: 'verified' });
    const s = await sealed(4);
    expect(await verifyJournal(s, { key: s.key, check: s.check, witness: s.check.mac }, s.key)).toMatchObject({ ok: true, count: 4, mac: 'verified' });
  });

  it('requires the key: content without it is key_missing, never "unchecked"', async () => {
    const s = await sealed(3);
    expect(await verifyJournal(s, {})).toMatchObject({ ok: false, problem: 'key_missing' });
    expect(await verifyJournal({ records: [] }, { check: s.check })).toMatchObject({ ok: false, problem: 'key_missing' });
  });

  it('detects a key replaced: by its check, by the witness, by the key held in memory', async () => {
    const s = await sealed(3);
    const other = await generateAuditKey();
    // Records and head resealed with another key, the check left: the check fails.
    const resealed = await sealRecords(Array.from({ length: 3 }, (_, i) => event(i)), await sealHead({ seq: -1, hash: '0'.repeat(64) }, other), T0, other);
    expect(await verifyJournal({ records: resealed.records, head: resealed.head! }, { key: other, check: s.check })).toMatchObject({ ok: false, problem: 'key_check' });
    expect(await verifyJournal(s, { key: s.key })).toMatchObject({ ok: false, problem: 'key_check' });
    // The check forged too: the witness kept elsewhere, or the tab's key, tells.
    const forged = await newJournal(T0);
    const again = await sealRecords(Array.from({ length: 3 }, (_, i) => event(i)), forged.head, T0, forged.key);
    const content = { records: again.records, head: again.head! };
    expect(await verifyJournal(content, { key: forged.key, check: forged.check })).toMatchObject({ ok: true });
    expect(await verifyJournal(content, { key: forged.key, check: forged.check, witness: s.check.mac })).toMatchObject({ ok: false, problem: 'key_replaced' });
    expect(await verifyJournal(content, { key: forged.key, check: forged.check }, s.key)).toMatchObject({ ok: false, problem: 'key_replaced' });
  });

  it('seals the head: moved, edited, unsealed or missing heads fail', async () => {
    const s = await sealed(5);
    const keys = { key: s.key, check: s.check };
    expect(await verifyJournal({ records: s.records }, keys)).toMatchObject({ ok: false, problem: 'head' });
    expect(await verifyJournal({ records: s.records, head: { seq: s.head.seq, hash: s.head.hash } }, keys)).toMatchObject({ ok: false, problem: 'head' });
    const last = s.records[2]!;
    expect(await verifyJournal({ records: s.records.slice(0, 3), head: { ...s.head, seq: last.seq, hash: last.hash } }, keys)).toMatchObject({ ok: false, problem: 'head' });
    expect(await verifyJournal({ records: s.records.slice(0, 3), head: s.head }, keys)).toMatchObject({ ok: false, problem: 'truncated' });
  });
});

describe('retention and purge', () => {
  /** One record a week over two years. */
  async function twoYears(key?: CryptoKey): Promise<{ records: AuditRecord[]; head: ChainHead | undefined }> {
    return sealRecords(
      Array.from({ length: 105 }, (_, i) => ({ ...event(i), at: T0 + i * 7 * DAY })),
      undefined,
      T0,
      key,
    );
  }

  it('keeps at least 12 months, whatever the setting says', async () => {
    const { records } = await twoYears();
    const now = T0 + 104 * 7 * DAY;
    const plan = planPurge(records, undefined, now, 30)!;
    const cutoff = now - MIN_RETENTION_DAYS * DAY;
    expect(records.filter((r) => plan.remove.includes(r.seq)).every((r) => r.at < cutoff)).toBe(true);
    expect(records.filter((r) => !plan.remove.includes(r.seq)).every((r) => r.at >= cutoff)).toBe(true);
    expect(planPurge(records.slice(-10), undefined, now, 400)).toBeUndefined();
  });

  it('purges a prefix and keeps the rest verifiable from a sealed anchor', async () => {
    const key = await generateAuditKey();
    const { records, head } = await twoYears(key);
    const now = T0 + 104 * 7 * DAY;
    const plan = planPurge(records, undefined, now, 396)!;
    expect(plan.remove.length).toBeGreaterThan(40);
    expect(plan.remove).toEqual(records.slice(0, plan.remove.length).map((r) => r.seq));
    const anchor = await sealAnchor(plan.anchor, key);
    const kept = records.slice(plan.remove.length);
    expect(kept[0]!.prev).toBe(anchor.hash);
    expect(await verifyChain(kept, { anchor, head, key })).toMatchObject({ ok: true, firstSeq: plan.remove.length });
    // Without the anchor the remaining chain does not start at 0: purged records look deleted.
    expect(await verifyChain(kept, { head })).toMatchObject({ ok: false, index: 0, problem: 'missing' });
    // Purging more than the anchor says is detected.
    expect(await verifyChain(kept.slice(3), { anchor, head, key })).toMatchObject({ ok: false, index: 0, problem: 'missing' });
    // A forged anchor (moved forward to hide deletions) fails its seal.
    const moved = { ...anchor, seq: kept[2]!.seq, hash: kept[2]!.hash };
    expect(await verifyChain(kept.slice(3), { anchor: moved, head, key })).toMatchObject({ ok: false, index: 0, problem: 'anchor' });
    // A second purge accumulates the count.
    const later = planPurge(kept, anchor, now + 60 * DAY, 396)!;
    expect(later.anchor.purged).toBe(plan.remove.length + later.remove.length);
  });
});

describe('export as JSON lines', () => {
  it('writes a header and one canonical record per line, and reads back verifiably', async () => {
    const key = await generateAuditKey();
    const { records, head } = await chain(4, key);
    const text = exportJsonl(records, undefined, head, T0 + DAY);
    const lines = text.trimEnd().split('\n');
    expect(lines.length).toBe(5);
    expect(JSON.parse(lines[0]!)).toEqual({ anchor: null, exportedAt: T0 + DAY, format: 'teletrans-audit', head, version: 1 });
    for (let i = 1; i < lines.length; i++) {
      const r = JSON.parse(lines[i]!) as AuditRecord;
      expect(lines[i]).toBe(canonicalJson(r));
      expect(Object.keys(r)).toEqual([...Object.keys(r)].sort());
      expect(r).toEqual(records[i - 1]);
    }
    const back = parseJsonl(text);
    expect(await verifyChain(back.records, { head: back.head!, key })).toMatchObject({ ok: true, count: 4 });
    expect(() => parseJsonl('{"format":"other"}\n')).toThrow();
  });

  it('canonical JSON does not depend on key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x'], c: true } })).toBe('{"a":{"c":true,"d":[1,"x"]},"b":1}');
    expect(canonicalJson({ a: { c: true, d: [1, 'x'] }, b: 1, z: undefined })).toBe('{"a":{"c":true,"d":[1,"x"]},"b":1}');
  });
});
