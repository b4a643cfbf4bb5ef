/**
 * TrustService in Node over the in-memory store: imports of CA hierarchies side by side,
 * CRLs verified with the stored CA, recipient certificates verified before storing (older
 * ones removed, the most recent valid kept), states, revocation lookups, removals, the
 * refresh schedule with an injected fetcher and clock, alerts, settings and the audit trail.
 *
 * Every service here reads an injected clock starting at FIXED_NOW, and the world is made at
 * that instant: the suite means the same whatever the hour and the date it runs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../src/lib/pki/cert.js';
import { AuditRefused, parseJsonl, verifyChain } from '../../src/lib/trust/audit.js';
import { ConcurrentAppendError, type TrustStorePort } from '../../src/lib/trust/model.js';
import { MemoryTrustStore } from '../../src/lib/trust/memory-store.js';
import { HOUR_MS } from '../../src/lib/trust/schedule.js';
import { TrustService } from '../../src/lib/trust/service.js';
import { formatWall } from '../../src/lib/time/zoned-time.js';
import { issueCert } from '../pki/fixtures/forge.js';
import { DAY, FIXED_NOW, MAILBOX, NAMES, URL, type World, makeWorld, pemOf } from './world.js';

const USER = 'user:0b6f8c1e-2d3a-4f5b-8c7d-9e0f1a2b3c4d' as const;

let world: World;

beforeAll(async () => {
  world = await makeWorld({ now: FIXED_NOW });
});

interface Rig {
  trust: TrustService;
  store: MemoryTrustStore;
  clock: { now: number };
  fetched: string[];
  directory: Map<string, Uint8Array[] | Error>;
}

async function rig(opts: { random?: () => number; store?: MemoryTrustStore } = {}): Promise<Rig> {
  const store = opts.store ?? new MemoryTrustStore();
  const clock = { now: world.now };
  const fetched: string[] = [];
  const directory = new Map<string, Uint8Array[] | Error>();
  const trust = await TrustService.open({
    store,
    clock: () => clock.now,
    random: opts.random ?? (() => 0.5),
    actor: USER,
    fetcher: async (url) => {
      fetched.push(url);
      const v = directory.get(url);
      if (v instanceof Error) throw v;
      if (!v) throw new Error('404');
      return v;
    },
  });
  return { trust, store, clock, fetched, directory };
}

/** The test hierarchy, with its intermediate's CRL unless `crl` is false. */
async function withTestHierarchy(r: Rig, crl = true): Promise<void> {
  const reports = await r.trust.importFile(pemOf(world.der.testRoot) + pemOf(world.der.testInter));
  expect(reports.map((x) => x.outcome)).toEqual(['stored', 'stored']);
  if (crl) expect((await r.trust.importCrl(await world.crl({ ca: 'testInter' }))).outcome).toBe('stored');
}

describe('CA hierarchies', () => {
  it('keeps production, test, a second generation and an OCT root side by side, with their labels', async () => {
    const r = await rig();
    // Intermediate listed before its root in the file: imported in the right order anyway.
    const reports = await r.trust.importFile(pemOf(world.der.testInter) + pemOf(world.der.testRoot));
    expect(reports.map((x) => [x.outcome, x.label])).toEqual([
      ['stored', 'CN=AC-SESAM-VITALE-TEST-2034,O=sesam-vitale,C=FR'],
      ['stored', 'CN=AC-FACTURATION-TEST,OU=AC-FACTURATION-TEST,O=sesam-vitale,C=FR'],
    ]);
    expect((await r.trust.importCa(world.der.prodRoot)).outcome).toBe('stored');
    expect((await r.trust.importCa(world.der.prodInter)).outcome).toBe('stored');
    // An OCT's root needs a label; then it stands beside the others.
    const oct = await r.trust.importCa(world.der.octRoot);
    expect(oct).toMatchObject({ outcome: 'refused', code: 'hierarchy_required' });
    expect((await r.trust.importCa(world.der.octRoot, { hierarchy: 'oct-exemple' })).outcome).toBe('stored');
    const h = r.trust.hierarchies();
    expect(h.map((x) => [x.hierarchy, x.label, x.roots.length, x.intermediates.length])).toEqual([
      ['oct-exemple', 'OCT exemple', 1, 0],
      ['production', 'Production (GIE SESAM-Vitale)', 1, 1],
      ['test', 'Test (GIE SESAM-Vitale)', 1, 1],
    ]);
    expect(h[2]!.roots[0]!.roleLabel).toBe('Autorité racine');
    // Importing the same CA again changes nothing.
    expect((await r.trust.importCa(world.der.testRoot)).outcome).toBe('unchanged');
  });

  it('refuses an intermediate whose root is not installed', async () => {
    const r = await rig();
    const rep = await r.trust.importCa(world.der.prodInter);
    expect(rep).toMatchObject({ outcome: 'refused', code: 'issuer_not_found' });
    expect(r.trust.hierarchies()).toEqual([]);
  });
});

describe('CRLs', () => {
  it('stores a CRL verified with the issuing CA from the store, with its dates', async () => {
    const r = await rig();
    await withTestHierarchy(r, false);
    const der = await world.crl({ ca: 'testInter', revoked: [77, 78], thisUpdate: world.now - HOUR_MS, nextUpdate: world.now + 6 * DAY });
    const rep = await r.trust.importCrl(der);
    expect(rep).toMatchObject({ kind: 'crl', outcome: 'stored' });
    const [view] = r.trust.crls();
    // DER times have a one-second resolution.
    const thisUpdate = Math.floor((world.now - HOUR_MS) / 1000) * 1000;
    expect(view).toMatchObject({ issuer: NAMES.testInter, hierarchy: 'test', thisUpdate, size: 2, freshness: 'fresh', freshnessLabel: 'à jour' });
    expect(view!.nextUpdate).toBe(Math.floor((world.now + 6 * DAY) / 1000) * 1000);
    // The intermediate's CRL has no directory source until a certificate names its location.
    expect(view!.sources).toEqual([]);
  });

  it('refuses a CRL from an unknown CA, one signed by another key, an older one; same one is unchanged', async () => {
    const r = await rig();
    await withTestHierarchy(r, false);
    expect(await r.trust.importCrl(await world.crl({ ca: 'prodInter' }))).toMatchObject({ outcome: 'refused', code: 'crl_issuer_unknown' });
    expect(await r.trust.importCrl(await world.crl({ ca: 'testInter', signer: world.keys.prodInter }))).toMatchObject({ outcome: 'refused', code: 'crl_signature_invalid' });
    const v2 = await world.crl({ ca: 'testInter', crlNumber: 2 });
    expect((await r.trust.importCrl(v2)).outcome).toBe('stored');
    expect(await r.trust.importCrl(v2)).toMatchObject({ outcome: 'unchanged', code: 'crl_unchanged' });
    expect(await r.trust.importCrl(await world.crl({ ca: 'testInter', crlNumber: 1 }))).toMatchObject({ outcome: 'refused', code: 'crl_older' });
    expect(r.trust.crls()[0]!.crlNumber).toBe('02');
  });
});

describe('recipient certificates', () => {
  it('are refused without a CRL of their CA, accepted with one, and shown valide', async () => {
    const r = await rig();
    await withTestHierarchy(r, false);
    const leaf = await world.leaf({ email: MAILBOX.amoTest, serial: 1001 });
    const no = await r.trust.importFile(leaf);
    expect(no[0]).toMatchObject({ kind: 'certificate', outcome: 'refused', code: 'crl_missing' });
    await r.trust.importCrl(await world.crl({ ca: 'testInter' }));
    const yes = await r.trust.importFile(leaf);
    expect(yes[0]).toMatchObject({ kind: 'certificate', outcome: 'stored' });
    const [v] = r.trust.recipients();
    expect(v).toMatchObject({ recipient: MAILBOX.amoTest, usage: 'attachment', hierarchy: 'test', state: 'valid', stateLabel: 'valide', crl: 'fresh', usable: true });
    expect(r.trust.certificateFor(MAILBOX.amoTest.toUpperCase())?.fingerprint).toBe(v!.fingerprint);
    // The CRL's source was learnt from the certificate's distribution point.
    expect(r.trust.sources().map((s) => s.url)).toContain(URL.testInterCrl);
  });

  it('are refused when they do not match the profile, the mailbox or the hierarchy', async () => {
    const r = await rig();
    await withTestHierarchy(r);
    await r.trust.importCa(world.der.prodRoot);
    // A production mailbox certified under the test hierarchy.
    const wrong = await world.leaf({ email: MAILBOX.amoProd, serial: 1002 });
    expect((await r.trust.importFile(wrong))[0]).toMatchObject({ outcome: 'refused', code: 'hierarchy_mismatch' });
    // Asked for another mailbox than the certificate's.
    const other = await world.leaf({ email: MAILBOX.amcTest, serial: 1003 });
    expect((await r.trust.importFile(other, { recipient: MAILBOX.amoTest }))[0]).toMatchObject({ outcome: 'refused', code: 'email_mismatch' });
    expect(r.trust.recipients()).toEqual([]);
  });

  it('check a service message’s signer (checkSigner): valid for its mailbox only; refused without its CA’s CRL; revoked at once when a CRL says so, whatever was answered before', async () => {
    const r = await rig();
    await withTestHierarchy(r, false);
    const der = await world.leaf({ email: MAILBOX.amoTest, serial: 2001 });
    expect(await r.trust.checkSigner(der, MAILBOX.amoTest)).toMatchObject({ valid: false, errors: [{ code: 'crl_missing' }] });
    await r.trust.importCrl(await world.crl({ ca: 'testInter' }));
    expect(await r.trust.checkSigner(der, MAILBOX.amoTest)).toEqual({ valid: true, errors: [] });
    expect(await r.trust.checkSigner(der, MAILBOX.amoTest.toUpperCase())).toEqual({ valid: true, errors: [] });
    // Another mailbox: an AMO certificate cannot speak for the AMC.
    expect(await r.trust.checkSigner(der, MAILBOX.amcTest)).toMatchObject({ valid: false, errors: [{ code: 'email_mismatch' }] });
    // Answered valid a moment ago; a CRL revoking it is imported: refused now, not in a minute.
    await r.trust.importCrl(await world.crl({ ca: 'testInter', revoked: [2001], crlNumber: 2 }));
    expect(await r.trust.checkSigner(der, MAILBOX.amoTest)).toMatchObject({ valid: false, errors: [{ code: 'cert_revoked' }] });
    // Past a minute the answer is asked again (the clock: its validity ends).
    const other = await world.leaf({ email: MAILBOX.amoTest, serial: 2002, notAfter: world.now + 30_000 });
    expect((await r.trust.checkSigner(other, MAILBOX.amoTest)).valid).toBe(true);
    r.clock.now += 61_000;
    expect((await r.trust.checkSigner(other, MAILBOX.amoTest)).valid).toBe(false);
    // Bytes that are no certificate: refused, never thrown.
    expect(await r.trust.checkSigner(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), MAILBOX.amoTest)).toMatchObject({ valid: false });
  });

  it('keep only the most recent valid certificate of a recipient; older ones are removed', async () => {
    const r = await rig();
    await withTestHierarchy(r);
    const old = await world.leaf({ email: MAILBOX.amoTest, serial: 2001, notBefore: world.now - 30 * DAY });
    const recent = await world.leaf({ email: MAILBOX.amoTest, serial: 2002, notBefore: world.now - 2 * DAY });
    const newest = await world.leaf({ email: MAILBOX.amoTest, serial: 2003, notBefore: world.now - DAY });
    expect((await r.trust.importFile(old))[0]!.outcome).toBe('stored');
    // Two in one file: the most recent wins, the old one goes.
    const both = await r.trust.importFile(pemOf(recent) + pemOf(old));
    expect(both).toHaveLength(1);
    expect(both[0]!.outcome).toBe('stored');
    expect(r.trust.recipients().map((v) => v.serial)).toEqual(['07d2']);
    // An older one brought again does not replace it.
    expect((await r.trust.importFile(old))[0]).toMatchObject({ outcome: 'unchanged', code: 'not_newer' });
    expect((await r.trust.importFile(newest))[0]!.outcome).toBe('stored');
    expect(r.trust.recipients().map((v) => v.serial)).toEqual(['07d3']);
    const audit = (await r.trust.auditView()).records;
    expect(audit.filter((x) => x.event === 'certificate.remove').map((x) => x.details?.reason)).toEqual(['superseded', 'superseded']);
  });

  it('show expire bientôt 15 days before expiry, and renewal is due', async () => {
    const r = await rig();
    await withTestHierarchy(r);
    await r.trust.importFile(await world.leaf({ email: MAILBOX.amoTest, serial: 3001, notAfter: world.now + 20 * DAY }));
    expect(r.trust.recipients()[0]).toMatchObject({ state: 'valid', renewal: { due: false } });
    r.clock.now += 6 * DAY;
    expect(r.trust.recipients()[0]).toMatchObject({ state: 'expiring', stateLabel: 'expire bientôt', usable: true, renewal: { due: true, reason: 'expiring' } });
    r.clock.now += 15 * DAY;
    expect(r.trust.recipients()[0]).toMatchObject({ state: 'expired', stateLabel: 'expiré', usable: false });
    expect(r.trust.certificateFor(MAILBOX.amoTest)).toBeUndefined();
    expect(r.trust.alerts().map((a) => a.code)).toContain('recipient_expired');
  });

  it('show révoqué once a CRL lists them, with the reason, from the index', async () => {
    const r = await rig();
    await withTestHierarchy(r);
    const leaf = await world.leaf({ email: MAILBOX.amoTest, serial: 4001 });
    await r.trust.importFile(leaf);
    const cert = parseCertificate(leaf);
    expect(r.trust.isRevoked(cert.issuer.key, cert.serial)).toMatchObject({ status: 'good', revoked: false, stale: false });
    await r.trust.importCrl(await world.crl({ ca: 'testInter', crlNumber: 2, revoked: [4001, 4002] }));
    const ans = r.trust.isRevoked(cert.issuer.key, cert.serial);
    expect(ans).toMatchObject({ status: 'revoked', revoked: true, reason: 'keyCompromise', reasonLabel: 'compromission de la clé' });
    expect(typeof ans.date).toBe('number');
    expect(r.trust.recipients()[0]).toMatchObject({ state: 'revoked', stateLabel: 'révoqué', usable: false });
    expect(r.trust.alerts().map((a) => a.code)).toContain('recipient_revoked');
    expect(r.trust.isRevoked('unknown issuer', '01')).toEqual({ status: 'no-crl', revoked: false, stale: false });
    // A stale CRL is still used, and says so.
    r.clock.now += 8 * DAY;
    expect(r.trust.isRevoked(cert.issuer.key, cert.serial)).toMatchObject({ revoked: true, stale: true });
    expect(r.trust.isRevoked(cert.issuer.key, '0fa3')).toMatchObject({ status: 'good', stale: true });
  });

  it('become obsolète when their CA is removed (removal cascades to intermediates and CRLs)', async () => {
    const r = await rig();
    await withTestHierarchy(r);
    await r.trust.importFile(await world.leaf({ email: MAILBOX.amoTest, serial: 5001 }));
    const root = r.trust.hierarchies()[0]!.roots[0]!;
    expect(await r.trust.removeCa(root.fingerprint)).toBe(true);
    expect(r.trust.hierarchies()).toEqual([]);
    expect(r.trust.crls()).toEqual([]);
    expect(r.trust.recipients()[0]).toMatchObject({ state: 'obsolete', stateLabel: 'obsolète', usable: false });
    const events = (await r.trust.auditView()).records.filter((x) => x.event !== 'trust.seal').map((x) => `${x.event}:${x.details?.change ?? x.details?.reason ?? ''}`);
    expect(events.slice(0, 5).reverse()).toEqual([
      'ca.remove:',
      'trust-chain.change:anchor-removed',
      'ca.remove:cascade',
      'trust-chain.change:intermediate-removed',
      'crl.remove:cascade',
    ]);
  });

  it('data-encryption certificates: expired only warns, at most once a day', async () => {
    const r = await rig();
    await withTestHierarchy(r);
    const der = await world.leaf({ email: 'donnees@test.rss.fr', serial: 6001, notAfter: world.now + 20 * DAY });
    const rep = await r.trust.importFile(der, { usage: 'data', recipient: 'AMO-donnees' });
    expect(rep[0]!.outcome).toBe('stored');
    r.clock.now += 21 * DAY;
    const v = r.trust.recipients()[0]!;
    expect(v).toMatchObject({ usage: 'data', state: 'expired', usable: true });
    const alert = r.trust.alerts().find((a) => a.code === 'data_cert_expired')!;
    expect(alert.message).toMatch(/^Le certificat de chiffrement des données « AMO-donnees » a expiré/);
    await r.trust.markAlertShown(alert.id);
    r.clock.now += 3 * HOUR_MS;
    expect(r.trust.alerts().some((a) => a.code === 'data_cert_expired')).toBe(false);
    r.clock.now += 22 * HOUR_MS;
    expect(r.trust.alerts().some((a) => a.code === 'data_cert_expired')).toBe(true);
  });
});

describe('refresh on schedule with an injected fetcher', () => {
  it('sets up a recipient from the directory: certificate, then the CRL it points to', async () => {
    const r = await rig();
    await r.trust.importFile(pemOf(world.der.testRoot) + pemOf(world.der.testInter));
    r.directory.set(URL.amoTest, [await world.leaf({ email: MAILBOX.amoTest, serial: 7001 })]);
    r.directory.set(URL.testInterCrl, [await world.crl({ ca: 'testInter' })]);
    await r.trust.addSource({ url: URL.amoTest, kind: 'certificate', recipient: MAILBOX.amoTest });
    expect(r.trust.alerts().map((a) => a.code)).toEqual(['recipient_missing']);
    // The practitioner just added the recipient: a manual refresh.
    const rep = await r.trust.refresh({ trigger: 'manual' });
    expect(rep.trigger).toBe('manual');
    expect(rep.items.map((i) => [i.kind, i.outcome])).toEqual([
      ['crl', 'failed'], // the root's CRL (intermediate's distribution point): not in this directory
      ['crl', 'success'],
      ['certificate', 'success'],
    ]);
    expect(r.trust.recipients()[0]).toMatchObject({ state: 'valid', usable: true });
    expect(r.trust.alerts()).toEqual([]);
  });

  it('fetches the CRL weekly at the installation slot, retries daily, and alerts before it expires', async () => {
    // random 0.5 → slot 12:00 Paris.
    const r = await rig({ random: () => 0.5 });
    expect(r.trust.settings().crlSlot).toBe(720);
    await withTestHierarchy(r);
    await r.trust.importFile(await world.leaf({ email: MAILBOX.amoTest, serial: 8001 }));
    await r.trust.removeSource(URL.testRootCrl);
    const first = r.trust.crls()[0]!;
    // A manual import counts as the last success: next fetch a week later at 12:00, or at the
    // last 12:00 before the CRL expires when that comes first (this CRL lives 7 days from an
    // hour before the import: when the import is made between 12:00 and 13:00, 6 days later).
    expect(formatWall(first.nextFetch!).slice(11)).toBe('12:00');
    expect(first.nextFetch!).toBeLessThan(first.nextUpdate);
    expect(first.nextFetch! - first.importedAt).toBeGreaterThan(6 * DAY - HOUR_MS);
    expect(first.nextFetch! - first.importedAt).toBeLessThanOrEqual(7 * DAY + HOUR_MS);
    expect((await r.trust.refresh()).items).toEqual([]);
    expect(r.fetched).toEqual([]);
    // The page's single timer: the next thing due (the CRL fetch, or the weekly audit purge).
    expect(r.trust.nextRefreshAt()).toBeGreaterThan(r.clock.now);
    expect(r.trust.nextRefreshAt()).toBeLessThanOrEqual(first.nextFetch!);

    // At the slot: a new CRL is published.
    r.clock.now = first.nextFetch!;
    // Valid 10 days, so that the weekly fetch comes before it expires.
    r.directory.set(URL.testInterCrl, [await world.crl({ ca: 'testInter', crlNumber: 2, thisUpdate: r.clock.now - HOUR_MS, nextUpdate: r.clock.now + 10 * DAY - HOUR_MS })]);
    expect((await r.trust.refresh()).items.map((i) => i.outcome)).toEqual(['success']);
    expect(r.trust.crls()[0]!.crlNumber).toBe('02');
    // Same CRL again a week later: unchanged → retried the next day at the slot.
    r.clock.now = r.trust.crls()[0]!.nextFetch!;
    expect((await r.trust.refresh()).items.map((i) => i.outcome)).toEqual(['unchanged']);
    const retry = r.trust.crls()[0]!.nextFetch!;
    expect(formatWall(retry).slice(11)).toBe('12:00');
    expect(Math.round((retry - r.clock.now) / DAY)).toBe(1);
    expect((await r.trust.refresh()).items).toEqual([]); // not a burst
    // Network down the next day; the CRL expires within 48 h: alert.
    r.clock.now = retry;
    r.directory.set(URL.testInterCrl, new Error('ECONNREFUSED'));
    expect((await r.trust.refresh()).items.map((i) => [i.outcome, i.code])).toEqual([['failed', 'network']]);
    const crl = r.trust.crls()[0]!;
    expect(crl.nextUpdate - r.clock.now).toBeLessThan(48 * HOUR_MS);
    expect(crl.alert).toMatchObject({ code: 'crl_expiring', level: 'warning' });
    expect(crl.alert!.message).toMatch(/Contactez le fournisseur de votre logiciel/);
    expect(r.trust.alerts().map((a) => a.code)).toContain('crl_expiring');
    // Once expired: still used, with the warning.
    r.clock.now = crl.nextUpdate + HOUR_MS;
    expect(r.trust.alerts().map((a) => a.code)).toContain('crl_expired');
    expect(r.trust.recipients()[0]).toMatchObject({ crl: 'stale', crlLabel: 'périmée', usable: true });
    const fetches = (await r.trust.auditView()).records.filter((x) => x.event === 'directory.fetch').map((x) => x.outcome);
    expect(fetches.reverse()).toEqual(['success', 'unchanged', 'failure']);
  });

  it('renews a recipient certificate on demand and on revocation', async () => {
    const r = await rig();
    await withTestHierarchy(r);
    await r.trust.removeSource(URL.testRootCrl);
    const v1 = await world.leaf({ email: MAILBOX.amoTest, serial: 9001, notBefore: world.now - 3 * DAY });
    await r.trust.importFile(v1);
    await r.trust.addSource({ url: URL.amoTest, kind: 'certificate', recipient: MAILBOX.amoTest });
    await r.trust.removeSource(URL.testInterCrl);
    expect((await r.trust.refresh()).items).toEqual([]);
    // Service message 4015: renew.
    expect(await r.trust.requestRenewal(MAILBOX.amoTest, 'service-message')).toBe(true);
    r.directory.set(URL.amoTest, [v1]);
    expect((await r.trust.refresh()).items.map((i) => [i.kind, i.outcome])).toEqual([['certificate', 'unchanged']]);
    expect((await r.trust.refresh()).items).toEqual([]);
    // Revoked: fetched again at once; the directory now has a new one.
    await r.trust.importCrl(await world.crl({ ca: 'testInter', crlNumber: 2, revoked: [9001] }));
    r.directory.set(URL.amoTest, [v1, await world.leaf({ email: MAILBOX.amoTest, serial: 9002 })]);
    r.clock.now += DAY;
    expect((await r.trust.refresh()).items.map((i) => [i.kind, i.outcome])).toEqual([['certificate', 'success']]);
    expect(r.trust.recipients().map((v) => [v.serial, v.state])).toEqual([['232a', 'valid']]);
    const reasons = (await r.trust.auditView()).records.filter((x) => x.event === 'directory.fetch').map((x) => x.details?.reason);
    expect(reasons.reverse()).toEqual(['service-message', 'revoked']);
  });
});

describe('manual refresh at night, automatic schedule in the 02:00–22:00 window', () => {
  // FIXED_NOW is 12:00 Paris on 2026-01-13 (UTC+1): 23:00 that evening, and 01:30 the next night.
  const NIGHTS = [
    { label: '23:00', at: Date.parse('2026-01-13T22:00:00Z'), wall: '2026-01-13 23:00' },
    { label: '01:30', at: Date.parse('2026-01-14T00:30:00Z'), wall: '2026-01-14 01:30' },
  ];
  const WINDOW_OPENS = Date.parse('2026-01-14T01:00:00Z'); // 02:00 Paris

  /** The test hierarchy installed (its root's CRL a source never fetched) and one recipient to set up. */
  async function night(at: number): Promise<Rig> {
    const r = await rig();
    r.clock.now = at;
    await r.trust.importFile(pemOf(world.der.testRoot) + pemOf(world.der.testInter));
    r.directory.set(URL.amoTest, [await world.leaf({ email: MAILBOX.amoTest, serial: 7101 })]);
    r.directory.set(URL.testInterCrl, [await world.crl({ ca: 'testInter' })]);
    r.directory.set(URL.testRootCrl, [await world.crl({ ca: 'testRoot' })]);
    await r.trust.addSource({ url: URL.amoTest, kind: 'certificate', recipient: MAILBOX.amoTest });
    return r;
  }

  const fetchAudit = async (r: Rig) =>
    (await r.trust.auditView()).records
      .filter((x) => x.event === 'directory.fetch')
      .reverse()
      .map((x) => [x.object?.url, x.actor, x.details?.reason]);

  for (const { label, at, wall } of NIGHTS) {
    it(`at ${label} Paris a manual refresh fetches now`, async () => {
      const r = await night(at);
      expect(formatWall(r.clock.now)).toBe(wall);
      const rep = await r.trust.refresh({ trigger: 'manual' });
      expect(rep.items.map((i) => [i.url, i.outcome])).toEqual([
        [URL.testRootCrl, 'success'],
        [URL.testInterCrl, 'success'],
        [URL.amoTest, 'success'],
      ]);
      expect(r.trust.recipients()[0]).toMatchObject({ recipient: MAILBOX.amoTest, state: 'valid', usable: true });
      expect(r.trust.crls().map((c) => c.issuer).sort()).toEqual([NAMES.testInter, NAMES.testRoot].sort());
      // Logged as the practitioner's request, not as the schedule's.
      expect(await fetchAudit(r)).toEqual([
        [URL.testRootCrl, USER, 'demand'],
        [URL.testInterCrl, USER, 'demand'],
        [URL.amoTest, USER, 'missing'],
      ]);
      // « Mettre à jour maintenant » (every source) is manual too.
      r.fetched.length = 0;
      const all = await r.trust.refresh({ force: true });
      expect(all.trigger).toBe('manual');
      expect(r.fetched).toEqual([URL.testRootCrl, URL.testInterCrl, URL.amoTest]);
    });

    it(`at ${label} Paris the automatic schedule defers the CRL to 02:00`, async () => {
      const r = await night(at);
      const rep = await r.trust.refresh({ trigger: 'scheduled' });
      expect(rep.trigger).toBe('scheduled');
      // The recipient is set up (a certificate renewal is not bound to the window, and its own
      // CRL is part of that set-up); the root's CRL, a plain scheduled download, waits.
      expect(rep.items.map((i) => [i.url, i.outcome])).toEqual([
        [URL.testInterCrl, 'success'],
        [URL.amoTest, 'success'],
      ]);
      expect(r.fetched).not.toContain(URL.testRootCrl);
      expect(r.trust.nextRefreshAt()).toBe(WINDOW_OPENS);
      expect(formatWall(r.trust.nextRefreshAt())).toBe('2026-01-14 02:00');
      // Not a minute before the window opens; at 02:00, the download.
      r.clock.now = WINDOW_OPENS - 60_000;
      expect((await r.trust.refresh()).items).toEqual([]);
      r.clock.now = WINDOW_OPENS;
      expect((await r.trust.refresh()).items.map((i) => [i.url, i.outcome])).toEqual([[URL.testRootCrl, 'success']]);
      expect((await fetchAudit(r)).at(-1)).toEqual([URL.testRootCrl, 'system', 'scheduled']);
    });
  }

  it('a manual request during a scheduled run gets a run of its own', async () => {
    const r = await night(NIGHTS[0]!.at);
    const [scheduled, manual] = await Promise.all([r.trust.refresh(), r.trust.refresh({ trigger: 'manual' })]);
    expect(scheduled.items.map((i) => i.url)).not.toContain(URL.testRootCrl);
    expect(manual.items.map((i) => [i.url, i.outcome])).toEqual([[URL.testRootCrl, 'success']]);
    // Same kind: one shared run.
    const a = r.trust.refresh();
    expect(r.trust.refresh()).toBe(a);
    await a;
  });
});

describe('settings', () => {
  it('are validated and each change is logged', async () => {
    const r = await rig({ random: () => 0 });
    expect(r.trust.settings()).toMatchObject({ timeZone: 'Europe/Paris', crlSlot: 120, crlWindowStart: 120, crlWindowEnd: 1320, auditRetentionDays: 396 });
    await expect(r.trust.updateSettings({ auditRetentionDays: 200 })).rejects.toThrow(/12 mois/);
    await expect(r.trust.updateSettings({ crlWindowStart: 60 })).rejects.toThrow(/02:00/);
    await expect(r.trust.updateSettings({ timeZone: 'Mars/Olympus' })).rejects.toThrow(/Fuseau/);
    // Narrowing the window past the slot redraws it inside.
    await r.trust.updateSettings({ crlWindowStart: 600, crlWindowEnd: 1200, timeZone: 'Indian/Reunion' });
    expect(r.trust.settings()).toMatchObject({ crlWindowStart: 600, crlWindowEnd: 1200, crlSlot: 600, timeZone: 'Indian/Reunion' });
    const changes = (await r.trust.auditView()).records.filter((x) => x.event === 'settings.change').map((x) => [x.object?.setting, x.details?.value, x.actor]);
    expect(changes.reverse()).toEqual([
      ['crlSlot', 120, 'system'],
      ['crlWindowStart', 600, USER],
      ['crlWindowEnd', 1200, USER],
      ['timeZone', 'Indian/Reunion', USER],
      ['crlSlot', 600, USER],
    ]);
  });
});

describe('audit trail through the service', () => {
  it('records every operation, verifies, exports, and holds no leaf subject', async () => {
    const r = await rig();
    await withTestHierarchy(r);
    await r.trust.importFile(await world.leaf({ email: MAILBOX.amoTest, serial: 10_001 }));
    await r.trust.log({ event: 'session.open', outcome: 'success', details: { peer: '127.0.0.1:8443' } });
    await r.trust.log({ event: 'session.lock', outcome: 'success' });
    await expect(r.trust.log({ event: 'session.close', outcome: 'success', details: { pin: '1234' } } as never)).rejects.toBeInstanceOf(AuditRefused);
    const view = await r.trust.auditView();
    expect(view.integrity).toMatchObject({ ok: true, mac: 'verified' });
    // Each write of a trust record also has its seal (store-seal.ts), checked in the seals' own tests.
    expect(view.records.map((x) => x.event).filter((e) => e !== 'trust.seal').reverse()).toEqual([
      'settings.change',
      'ca.load',
      'trust-chain.change',
      'ca.load',
      'trust-chain.change',
      'crl.load',
      'certificate.load',
      'session.open',
      'session.lock',
    ]);
    expect(view.records[0]).toMatchObject({ eventLabel: 'Session verrouillée', outcomeLabel: 'réussi', actor: USER });
    const text = await r.trust.exportAudit();
    expect(text).not.toContain('CN=amo_pj');
    // The refused record (a PIN in its details) is nowhere; hashes may contain "1234" by chance.
    expect(text).not.toMatch(/"pin"|session\.close/);
    const parsed = parseJsonl(text);
    expect(parsed.records.at(-1)!.event).toBe('audit.export');
    expect(await verifyChain(parsed.records, { head: parsed.head! })).toMatchObject({ ok: true, count: 16 }); // the 10 above and the export, with 6 seals: the slot, 2 CAs, a CRL and its index, a recipient
  });

  it('logs a CA whose name holds a long number by fingerprint only, instead of failing the import', async () => {
    const r = await rig();
    const der = await issueCert({ subject: 'CN=AC OCT 12345678901234,O=OCT,C=FR', key: world.keys.octRoot, ca: true, serial: 9, notBefore: new Date(world.now - DAY) });
    expect((await r.trust.importCa(der, { hierarchy: 'oct-siret' })).outcome).toBe('stored');
    const rec = (await r.trust.auditView()).records.find((x) => x.event === 'ca.load')!;
    expect(rec.object).toMatchObject({ kind: 'ca', serial: '09' });
    expect(rec.object?.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(rec.object?.subject).toBeUndefined();
    // Other modules' events are checked as given: refused.
    await expect(r.trust.log({ event: 'session.open', outcome: 'success', object: { kind: 'ca', subject: 'CN=AC OCT 12345678901234' } })).rejects.toBeInstanceOf(AuditRefused);
  });

  it('shows tampering, deletion and reordering in the store', async () => {
    const r = await rig();
    for (let i = 0; i < 4; i++) await r.trust.log({ event: 'session.open', outcome: 'success' });
    const raw = r.store.rawAudit();
    const saved = structuredClone([...raw.values()]);
    raw.get(2)!.outcome = 'failure';
    expect(await r.trust.verifyAudit()).toMatchObject({ ok: false, index: 2, problem: 'altered' });
    raw.set(2, structuredClone(saved[2]!));
    raw.delete(3);
    expect(await r.trust.verifyAudit()).toMatchObject({ ok: false, index: 3, problem: 'missing' });
    raw.set(3, structuredClone(saved[3]!));
    expect(await r.trust.verifyAudit()).toMatchObject({ ok: true });
    raw.delete(Math.max(...raw.keys()));
    expect(await r.trust.verifyAudit()).toMatchObject({ ok: false, problem: 'truncated' });
  });

  it('purges records older than the retention period and stays verifiable', async () => {
    const r = await rig();
    for (let i = 0; i < 5; i++) {
      await r.trust.log({ event: 'session.open', outcome: 'success' });
      r.clock.now += 100 * DAY;
    }
    // 500 days later, the records of the first 104 days are past the 396-day retention:
    // the slot setting and its seal, and the sessions of day 0 and day 100.
    const purged = await r.trust.purgeAudit();
    expect(purged).toBe(4);
    const view = await r.trust.auditView();
    expect(view.anchor).toMatchObject({ seq: 3, purged: 4 });
    expect(view.integrity).toMatchObject({ ok: true });
    // The purge seals again what its removed records sealed: the slot setting, as a baseline.
    expect(view.records[0]).toMatchObject({ event: 'trust.seal', object: { kind: 'settings', setting: 'crlSlot' }, details: { store: 'settings', reason: 'retention' } });
    expect(view.records[1]).toMatchObject({ event: 'audit.purge', details: { count: 4, through: 3, reason: 'retention' } });
    // refresh() purges on its own period.
    r.clock.now += 300 * DAY;
    const rep = await r.trust.refresh();
    expect(rep.purged).toBeGreaterThan(0);
    expect(await r.trust.verifyAudit()).toMatchObject({ ok: true });
  });

  it('retries a commit when another tab appended to the chain in between', async () => {
    const store = new MemoryTrustStore();
    const other = await TrustService.open({ store, random: () => 0.1, clock: () => world.now });
    let raced = false;
    const racing: TrustStorePort = {
      load: () => store.load(),
      crlIndex: (id) => store.crlIndex(id),
      crlDer: (id) => store.crlDer(id),
      audit: () => store.audit(),
      auditHead: () => store.auditHead(),
      auditKey: () => store.auditKey(),
      resetAudit: (reset) => store.resetAudit(reset),
      commit: async (changes, audit) => {
        if (!raced && audit?.records.length) {
          raced = true;
          await other.log({ event: 'session.lock', outcome: 'success' });
        }
        return store.commit(changes, audit);
      },
    };
    const trust = await TrustService.open({ store: racing, random: () => 0.1, clock: () => world.now });
    await trust.log({ event: 'session.open', outcome: 'success' });
    expect(raced).toBe(true);
    const view = await trust.auditView();
    expect(view.integrity.ok).toBe(true);
    expect(view.records.map((x) => x.event).reverse()).toEqual(['settings.change', 'trust.seal', 'session.lock', 'session.open']);
    expect(ConcurrentAppendError.name).toBe('ConcurrentAppendError');
  });
});
