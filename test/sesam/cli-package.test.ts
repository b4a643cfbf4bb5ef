/**
 * `teletrans package` end to end: the real bin/teletrans.js, certificates made by OpenSSL
 * (test/pki/fixtures/openssl-pki.ts), the message read by Python's `email` package and by our
 * parser, and the attachment decrypted by `openssl cms -decrypt`: it must give back the lot.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseMessage, simulatorOctFramer } from '../../src/lib/sesam/index.js';
import { OpensslPki, attachmentExt, type CaHandle } from '../pki/fixtures/openssl-pki';
import { REPO, hexOf, onlyCrlf, pseudoRandom, pythonParse, sha256 } from './helpers';

const BIN = join(REPO, 'bin', 'teletrans.js');
const FROM = 'ps.martin@medecin.example.fr';
const OCT = 'factures@oct.example.fr';

interface Run { code: number | null; stdout: Buffer; stderr: string }

function run(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [BIN, 'package', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout: Buffer.concat(out), stderr });
    });
  });
}

interface Leaf { certPath: string; keyPath: string }

describe('teletrans package', () => {
  let dir: string;
  let pki: OpensslPki;
  let inter: CaHandle;
  let root: CaHandle;
  let crl: string;
  const leaves: Record<string, Leaf> = {};
  const lot = pseudoRandom(20_000, 11);
  const fseLot = pseudoRandom(3_000, 12);
  const dreLot = pseudoRandom(2_000, 13);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'teletrans-package-'));
    pki = new OpensslPki(join(dir, 'pki'));
    root = pki.ca('root', '/CN=AC-SESAM-VITALE-TEST-2034/O=Test');
    inter = pki.ca('inter', '/CN=AC-FACTURATION-TEST/O=Test', { issuer: root });
    for (const [id, email] of [['amo', 'amo_pj.test@test.rss.fr'], ['amc', 'amc_pj.test@test.rss.fr'], ['oct', OCT], ['revoked', 'amo_pj.test@test.rss.fr']] as const) {
      leaves[id] = pki.leaf(inter, id, `/CN=${email}/O=Test`, attachmentExt(email));
    }
    pki.revoke(inter, leaves.revoked!.certPath);
    crl = pki.crl(inter, 'inter').path;
    writeFileSync(join(dir, 'LOT00042'), lot);
    writeFileSync(join(dir, 'fse1'), fseLot);
    writeFileSync(join(dir, 'dre1'), dreLot);
  });

  const trust = (): string[] => ['--anchor', root.certPath, '--intermediate', inter.certPath, '--crl', crl];
  const common = (): string[] => ['--from', FROM, '--exercice', '123456789', '--invoices', '25', '--version', '140700', '--counter-file', join(dir, 'counter')];

  function decrypt(attachment: Uint8Array, leaf: Leaf): Uint8Array {
    const inFile = join(dir, `att-${Math.random().toString(36).slice(2)}.der`);
    writeFileSync(inFile, attachment);
    return new Uint8Array(execFileSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', inFile, '-recip', leaf.certPath, '-inkey', leaf.keyPath]));
  }

  it('FSE test, single part, verified recipient: OpenSSL decrypts the lot back', async () => {
    const r = await run(['--kind', 'FSE', '--mode', 'test', '--recipient', leaves.amo!.certPath, ...trust(), ...common(), 'LOT00042'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(onlyCrlf(r.stdout)).toBe(true);
    const m = parseMessage(r.stdout);
    expect(m.structure).toBe('single');
    expect(m.to).toBe('amo_pj.test@test.rss.fr');
    expect(m.description.raw).toBe('FSETEST/B2/K');
    expect(m.filename).toBe('LOT00042.pkcs7');
    expect(m.subject).toMatch(/^SV140700\/123456789\/\d{14}\d{5}\/00025$/);
    expect(r.stderr).toContain(`Sujet : ${m.subject}`);
    const [p] = await pythonParse([r.stdout]);
    expect(p!.defects).toEqual([]);
    expect(p!.entity).toMatchObject({ content_type_raw: 'Application/EDI-consent', transfer_encoding: 'BASE64', content_description: 'FSETEST/B2/K', filename: 'LOT00042.pkcs7', sha256: sha256(m.attachment) });
    expect(hexOf(decrypt(m.attachment, leaves.amo!))).toBe(hexOf(lot));
  });

  it('DRE test, compressed, multipart: decrypt then gunzip gives the lot', async () => {
    const r = await run(['--kind', 'DRE', '--mode', 'test', '--compress', '--multipart', '--recipient', leaves.amc!.certPath, ...trust(), ...common(), 'LOT00042'], dir);
    expect(r.code, r.stderr).toBe(0);
    const m = parseMessage(r.stdout);
    expect(m.structure).toBe('multipart');
    expect(m.to).toBe('amc_pj.test@test.rss.fr');
    expect(m.description.raw).toBe('DRETEST/DR/ZK');
    expect(m.subject).toMatch(/^DR140700\//);
    const [p] = await pythonParse([r.stdout]);
    expect(p!.defects).toEqual([]);
    expect(p!.is_multipart).toBe(true);
    expect(hexOf(new Uint8Array(gunzipSync(decrypt(m.attachment, leaves.amc!))))).toBe(hexOf(lot));
  });

  it('FACTURE to an OCT: lots framed in order, encrypted for the OCT certificate', async () => {
    const r = await run([
      '--kind', 'FACTURE', '--mode', 'real', '--to', OCT, '--oct-number', '123456789', '--message-zone', 'envoi du jour',
      '--fse-lot', 'fse1', '--dre-lot', 'dre1', '--fse-lot', 'fse1',
      '--recipient', leaves.oct!.certPath, ...trust(), ...common(),
    ], dir);
    expect(r.code, r.stderr).toBe(0);
    const m = parseMessage(r.stdout);
    expect(m.to).toBe(OCT);
    expect(m.description.raw).toBe('FACTURE/SV/K');
    expect(m.subject).toMatch(/^SV140700\//);
    const file = simulatorOctFramer.unframe(decrypt(m.attachment, leaves.oct!));
    expect(file.lots).toEqual([{ kind: 'FSE', data: fseLot }, { kind: 'DRE', data: dreLot }, { kind: 'FSE', data: fseLot }]);
    expect(file.header).toMatchObject({ application: 'TO', recipientType: 'OT', recipientNumber: '123456789' });
    expect(m.filename).toBe(`${file.header.fileName}.pkcs7`);
    expect(file.messageZone).toBe('envoi du jour');
  });

  it('--insecure-skip-verify, --at, --output; a retransmission gets a new compostage', async () => {
    const args = ['--kind', 'FSE', '--mode', 'real', '--insecure-skip-verify', '--at', '2026-03-05T13:03:07Z', '--recipient', leaves.amo!.certPath, ...common(), '--counter-file', join(dir, 'counter-at')];
    const first = await run([...args, '-o', 'out1.eml', 'LOT00042'], dir);
    const second = await run([...args, '-o', 'out2.eml', 'LOT00042'], dir);
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect(first.stdout.length).toBe(0);
    expect(first.stderr).toContain('non vérifié');
    const m1 = parseMessage(readFileSync(join(dir, 'out1.eml')));
    const m2 = parseMessage(readFileSync(join(dir, 'out2.eml')));
    expect(m1.to).toBe('amo_pj.reel@reel.rss.fr');
    expect(m1.date).toBe('Thu, 05 Mar 2026 14:03:07 +0100');
    expect(m1.subject).toBe('SV140700/123456789/2026030514030700001/00025');
    expect(m2.subject).toBe('SV140700/123456789/2026030514030700002/00025');
    expect(m1.messageId).not.toBe(m2.messageId);
    expect(readFileSync(join(dir, 'counter-at'), 'utf8')).toBe('2\n');
    expect(hexOf(decrypt(m1.attachment, leaves.amo!))).toBe(hexOf(lot));
  });

  it('exit 1 when the recipient certificate is refused (wrong mailbox, revoked)', async () => {
    const wrong = await run(['--kind', 'DRE', '--mode', 'test', '--recipient', leaves.amo!.certPath, ...trust(), ...common(), 'LOT00042'], dir);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout.length).toBe(0);
    expect(wrong.stderr).toContain('amc_pj.test@test.rss.fr');
    const revoked = await run(['--kind', 'FSE', '--mode', 'test', '--recipient', leaves.revoked!.certPath, ...trust(), ...common(), 'LOT00042'], dir);
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toMatch(/revoked|révoqué/i);
  });

  it('exit 2 on bad usage or unreadable input, with nothing on stdout', async () => {
    const skip = ['--insecure-skip-verify', '--recipient', leaves.amo!.certPath];
    const cases: Array<[string[], RegExp]> = [
      [[...skip, ...common(), 'LOT00042'], /--kind/],
      [['--kind', 'FSE', '--mode', 'prod', ...skip, ...common(), 'LOT00042'], /mode inconnu/],
      [['--kind', 'FACTURE', '--mode', 'test', '--to', OCT, '--oct-number', '1', '--fse-lot', 'fse1', ...skip, ...common()], /FACTURE/],
      [['--kind', 'FACTURE', '--mode', 'real', '--to', OCT, '--fse-lot', 'fse1', ...skip, ...common()], /--oct-number/],
      [['--kind', 'FACTURE', '--mode', 'real', '--to', OCT, '--oct-number', '1', ...skip, ...common(), 'LOT00042'], /FACTURE/],
      [['--kind', 'FSE', '--mode', 'test', '--oct-number', '1', ...skip, ...common(), 'LOT00042'], /--oct-number/],
      [['--kind', 'FSE', '--mode', 'test', ...skip, ...common(), '--version', '1407', 'LOT00042'], /version/],
      [['--kind', 'FSE', '--mode', 'test', ...skip, ...common(), '--invoices', '0', 'LOT00042'], /factures/],
      [['--kind', 'FSE', '--mode', 'test', ...skip, ...common(), 'missing-lot'], /introuvable/],
      [['--kind', 'FSE', '--mode', 'test', ...skip, ...common()], /FICHIER_LOTS/],
      [['--kind', 'FSE', '--mode', 'test', '--recipient', leaves.amo!.certPath, ...common(), 'LOT00042'], /--anchor/],
      [['--kind', 'FSE', '--mode', 'test', ...skip, ...common(), '--from', 'pas une adresse', 'LOT00042'], /adresse/],
      [['--kind', 'FSE', '--mode', 'test', '--bogus', ...skip, ...common(), 'LOT00042'], /option inconnue/],
      [['--kind', 'FSE', '--mode', 'test', '--insecure-skip-verify', '--recipient', 'LOT00042', ...common(), 'LOT00042'], /--recipient/],
    ];
    const runs = await Promise.all(cases.map(([args]) => run(args, dir)));
    for (const [i, [args, message]] of cases.entries()) {
      const r = runs[i]!;
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr).toMatch(message);
    }
  });

  it('prints its help', async () => {
    const r = await run(['--help'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toContain('Usage : teletrans package');
  });
});
