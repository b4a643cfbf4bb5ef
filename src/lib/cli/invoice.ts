/**
 * `teletrans invoice price|build|read`: the billing core for administrators, scripts and
 * migrations (issue 13 item 8). Argument parsing, files and output only: checks, pricing,
 * numbering, formatting, signatures, lots, files and the insurer's reader are the core's
 * (src/lib/billing/); the durable counters are src/lib/server/counter-file.ts.
 *
 * Exit codes as every command: 0 success, 1 negative verdict (checks failed, discrepancies
 * found), 2 bad usage or unreadable input. Output never carries a NIR or a name: only
 * invoice ids and numbers, codes, paths and amounts.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Catalogue } from '../billing/catalogue.js';
import type { BillingError } from '../billing/errors.js';
import type { ParsedInvoice } from '../billing/invoice-json.js';
import type { PricedInvoice } from '../billing/pricing.js';
import type { ReadReport } from '../billing/reader.js';
import type { InvoiceSigner, TransmissionWay } from '../billing/ssv/types.js';
import type { CardSession } from './card-signer.js';
import { pkiItems, parseStrict, refusal, parseAt, parseDay, readInput, writeAtomic } from './args.js';
import { CliError, type Context } from './context.js';
import type { Command } from './main.js';

const HELP = `Usage : teletrans invoice <price|build|read> [options] FICHIER…

Le cœur de facturation en ligne de commande (administrateurs, scripts, migrations).
Les factures sont en JSON (format « teletrans-invoice-1 », docs/billing/invoice-json.md).

  teletrans invoice price [--json] [--today J] [--catalogue F] FACTURE.json
      Contrôle et tarife chaque facture, avec le détail du calcul de chaque montant.
      Sortie 0 : tarifée et contrôlée ; 1 : un contrôle a échoué ; 2 : entrée invalide.

  teletrans invoice build [signature] [options] FACTURES.json…
      Contrôle, numérote, met en forme (simulateur), signe, groupe en lots et en fichiers,
      et écrit chaque fichier dans --out. Rien n'est numéroté si un contrôle échoue.
      Signature par la CPS, à travers le pont de cartes (par défaut) :
      --bridge URL       le pont (défaut ws://127.0.0.1:7523/) ; une fois pour toutes :
                         « teletrans bridge origins add teletrans-cli://localhost »,
                         puis approuver l'appairage sur le terminal du pont
      --reader NOM       le lecteur de la CPS (défaut : le seul qui en contient une)
      --pin-stdin        lire le code porteur sur l'entrée standard (scripts) ;
                         sinon il est demandé sur ce terminal, sans écho
      --pin-pad          le taper sur le clavier du lecteur
      --pairing F        fichier d'appairage (défaut $XDG_STATE_HOME/teletrans/bridge-pairing.json)
      Ou, pour les démonstrations et les tests uniquement :
      --test-key/--test-cert : clé et certificat de signature d'ESSAI.
      --way direct|oct_split|oct_single|oct_enriched   mode de transmission (défaut direct)
      --sender N         numéro émetteur (défaut : le numéro de facturation commun)
      --oct-number N     identifiant de l'OCT (modes OCT)
      --message-zone T   zone message de l'OCT (groupe 14 champ 3)
      --out DIR          où écrire les fichiers (défaut : le répertoire courant)
      --counters DIR     compteurs durables (défaut : $XDG_STATE_HOME/teletrans/counters)
      --today J          date du jour AAAA-MM-JJ (défaut : aujourd'hui, Europe/Paris)
      Sortie 0 : fichiers écrits ; 1 : contrôle ou signature refusés ; 2 : entrée invalide.

  teletrans invoice read --anchor F [--intermediate F] [--crl F] [--at DATE]
                         [--revocation require|if-available|off] [--json] FICHIER
      Le lecteur de l'assureur : relit un fichier du simulateur, vérifie chaque signature
      et la chaîne de son certificat, recalcule chaque montant et liste chaque écart.
      Sortie 0 : aucun écart ; 1 : écarts ; 2 : fichier illisible.

Options communes :
  --catalogue F.json   nomenclature à utiliser (défaut : l'échantillon intégré, NON officiel)
  --json               sortie JSON (une ligne)
  -h, --help           afficher cette aide

Les fichiers produits viennent du SIMULATEUR : format propre à Teletrans, pas la norme B2/DR,
non homologué, à ne jamais transmettre aux organismes.
`;

const OPTIONS = {
  json: { type: 'boolean' },
  today: { type: 'string' },
  catalogue: { type: 'string' },
  'test-key': { type: 'string' },
  'test-cert': { type: 'string' },
  bridge: { type: 'string' },
  reader: { type: 'string' },
  'pin-stdin': { type: 'boolean' },
  'pin-pad': { type: 'boolean' },
  pairing: { type: 'string' },
  way: { type: 'string' },
  sender: { type: 'string' },
  'oct-number': { type: 'string' },
  'message-zone': { type: 'string' },
  out: { type: 'string' },
  counters: { type: 'string' },
  anchor: { type: 'string', multiple: true },
  intermediate: { type: 'string', multiple: true },
  crl: { type: 'string', multiple: true },
  at: { type: 'string' },
  revocation: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

const WAYS: readonly TransmissionWay[] = ['direct', 'oct_split', 'oct_single', 'oct_enriched'];
const ONLY: Record<string, readonly (keyof Values)[]> = {
  price: ['json', 'today', 'catalogue', 'help'],
  build: ['json', 'today', 'catalogue', 'test-key', 'test-cert', 'bridge', 'reader', 'pin-stdin', 'pin-pad', 'pairing', 'way', 'sender', 'oct-number', 'message-zone', 'out', 'counters', 'help'],
  read: ['json', 'catalogue', 'anchor', 'intermediate', 'crl', 'at', 'revocation', 'help'],
};

const euros = (c: number): string => `${Math.floor(c / 100)},${String(c % 100).padStart(2, '0')} €`;

/** A BillingError as plain data (its nested issues too), for JSON output. */
function problemJson(e: BillingError): { code: string; field: string; message: string } {
  return { code: e.code, field: e.field, message: e.message };
}

/** The clock of `--today` (noon in Paris, so the day is the same in every zone near it) or now. */
function clockOf(today: string | undefined): () => number {
  if (today === undefined) return () => Date.now();
  const t = Date.parse(`${parseDay(today, '--today')}T11:00:00Z`);
  return () => t;
}

async function loadCatalogue(ctx: Context, path: string | undefined): Promise<Catalogue> {
  const billing = await import('../billing/index.js');
  if (path === undefined) return billing.SAMPLE_CATALOGUE;
  const text = new TextDecoder().decode(await readInput(ctx.cwd, path, 'la nomenclature --catalogue'));
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new CliError('input_unreadable', `nomenclature « ${path} » : JSON illisible (${(e as Error).message.slice(0, 120)})`);
  }
  return billing.createCatalogue(data as Parameters<typeof billing.createCatalogue>[0]);
}

async function loadInvoices(ctx: Context, paths: readonly string[]): Promise<ParsedInvoice[]> {
  const { invoicesFromJsonText, BillingError } = await import('../billing/index.js');
  const out: ParsedInvoice[] = [];
  for (const path of paths) {
    const bytes = await readInput(ctx.cwd, path, 'le fichier de factures');
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new CliError('input_unreadable', `« ${path} » : texte UTF-8 invalide`);
    }
    try {
      out.push(...invoicesFromJsonText(text));
    } catch (e) {
      if (e instanceof BillingError) throw new CliError(e.code, `« ${path} », ${e.field} : [${e.code}] ${e.message}`);
      throw e;
    }
  }
  return out;
}

function workingLines(p: PricedInvoice): string[] {
  const lines: string[] = [];
  if (p.sample) lines.push('  ÉCHANTILLON : tarifs non officiels, pour essai uniquement.');
  for (const a of p.acts) {
    lines.push(`  acte ${a.index + 1} : ${a.code} du ${a.date} (ligne ${a.row}) — honoraires ${euros(a.feeCents)}, AMO ${euros(a.amoNetCents)}, AMC ${euros(a.amcCents)}, à payer ce jour ${euros(a.payNowCents)}`);
    for (const s of a.working) lines.push(`      ${s.rule} : ${s.label}${s.row ? ` [${s.row}]` : ''}`);
  }
  const t = p.totals;
  lines.push(`  total : honoraires ${euros(t.feeCents)}, base ${euros(t.baseCents)}, AMO ${euros(t.amoCents)} (net ${euros(t.amoNetCents)}), participation ${euros(t.flatContributionCents)}, franchise ${euros(t.deductibleCents)}, AMC ${euros(t.amcCents)}, reste à charge ${euros(t.patientTotalCents)}, à payer ce jour ${euros(t.payNowCents)}`);
  for (const s of p.working) lines.push(`      ${s.rule} : ${s.label}`);
  return lines;
}

async function priceRun(v: Values, files: string[], ctx: Context): Promise<number> {
  if (files.length !== 1) throw new CliError('usage', 'un fichier de factures (FACTURE.json) est attendu');
  const clock = clockOf(v.today);
  const catalogue = await loadCatalogue(ctx, v.catalogue);
  const invoices = await loadInvoices(ctx, files);
  const { checkInvoice, priceInvoice, BillingError } = await import('../billing/index.js');
  let failed = false;
  const results = [];
  for (const p of invoices) {
    const others = invoices.filter((o) => o !== p).map((o) => o.invoice);
    const problems = checkInvoice(p.invoice, { clock, catalogue, others });
    let priced: PricedInvoice | undefined;
    let pricingError: BillingError | undefined;
    try {
      priced = priceInvoice(p.invoice, catalogue);
    } catch (e) {
      if (!(e instanceof BillingError)) throw e;
      pricingError = e;
    }
    if (problems.length > 0 || !priced) failed = true;
    results.push({ p, problems, priced, pricingError });
  }
  if (v.json) {
    await ctx.out(
      JSON.stringify({
        ok: !failed,
        invoices: results.map((r) => ({
          id: r.p.invoice.id,
          ok: r.problems.length === 0 && r.priced !== undefined,
          problems: [...r.problems.map(problemJson), ...(r.pricingError && !r.problems.some((x) => x.code === r.pricingError!.code) ? [problemJson(r.pricingError)] : [])],
          ...(r.priced ? { priced: r.priced } : {}),
        })),
      }),
    );
  } else {
    for (const r of results) {
      await ctx.out(`Facture ${r.p.invoice.id} (${r.p.path}) : ${r.problems.length === 0 && r.priced ? 'contrôlée et tarifée' : 'REFUSÉE'}`);
      for (const x of r.problems) await ctx.out(`  - [${x.code}] ${x.field ? `${x.field} : ` : ''}${x.message}`);
      if (r.priced) for (const l of workingLines(r.priced)) await ctx.out(l);
      else if (r.pricingError && r.problems.length === 0) await ctx.out(`  - [${r.pricingError.code}] ${r.pricingError.message}`);
    }
  }
  return failed ? 1 : 0;
}

/** The test signer from a PEM (or DER) PKCS #8 / PKCS #1 key and its certificate. */
async function testSigner(ctx: Context, keyPath: string, certPath: string) {
  const { createPrivateKey } = await import('node:crypto');
  const keyBytes = await readInput(ctx.cwd, keyPath, 'la clé --test-key');
  let pkcs8: Uint8Array;
  try {
    const text = new TextDecoder().decode(keyBytes);
    const key = text.includes('-----BEGIN') ? createPrivateKey(text) : createPrivateKey({ key: Buffer.from(keyBytes), format: 'der', type: 'pkcs8' });
    if (key.asymmetricKeyType !== 'rsa') throw new Error('clé RSA attendue');
    pkcs8 = new Uint8Array(key.export({ type: 'pkcs8', format: 'der' }));
  } catch (e) {
    throw new CliError('input_unreadable', `clé --test-key « ${keyPath} » illisible : ${(e as Error).message}`);
  }
  const core = await ctx.core();
  const [cert] = await pkiItems(core, ctx.cwd, [certPath], 'certificate', '--test-cert');
  const privateKey = await globalThis.crypto.subtle.importKey('pkcs8', new Uint8Array(pkcs8).buffer as ArrayBuffer, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, ['sign']);
  const { testKeySigner } = await import('../billing/index.js');
  return testKeySigner(privateKey, cert!);
}

async function buildRun(v: Values, files: string[], ctx: Context): Promise<number> {
  if (files.length === 0) throw new CliError('usage', 'au moins un fichier de factures est attendu');
  const testKey = v['test-key'] !== undefined || v['test-cert'] !== undefined;
  const card = ['bridge', 'reader', 'pin-stdin', 'pin-pad', 'pairing'].filter((k) => v[k as keyof Values] !== undefined);
  if (testKey && (!v['test-key'] || !v['test-cert'])) throw new CliError('usage', '--test-key et --test-cert vont ensemble');
  if (testKey && card.length) throw new CliError('usage', `--test-key exclut la signature par la CPS (--${card[0]})`);
  if (v['pin-stdin'] && v['pin-pad']) throw new CliError('usage', '--pin-stdin ou --pin-pad, pas les deux');
  const pin = v['pin-stdin'] ? 'stdin' : v['pin-pad'] ? 'pad' : 'tty';
  if (!testKey) (await import('./card-signer.js')).checkPinSource(pin, ctx);
  const way = (v.way ?? 'direct') as TransmissionWay;
  if (!WAYS.includes(way)) throw new CliError('usage', `--way : ${WAYS.join(', ')} attendu`);
  if (way !== 'direct' && way !== 'oct_split' && !v['oct-number']) throw new CliError('usage', `--oct-number est requis en mode ${way}`);
  const clock = clockOf(v.today);
  const catalogue = await loadCatalogue(ctx, v.catalogue);
  const invoices = await loadInvoices(ctx, files);
  const billing = await import('../billing/index.js');

  // Every check first, over the whole batch: nothing is numbered unless every invoice passes.
  let refused = 0;
  for (const p of invoices) {
    const others = invoices.filter((o) => o !== p).map((o) => o.invoice);
    const problems = billing.checkInvoice(p.invoice, { clock, catalogue, others });
    if (problems.length === 0) continue;
    refused++;
    ctx.err(`teletrans invoice build : facture ${p.invoice.id} (${p.path}) refusée :\n`);
    for (const x of problems) ctx.err(`  - [${x.code}] ${x.field ? `${x.field} : ` : ''}${x.message}\n`);
  }
  if (refused > 0) {
    ctx.err(`teletrans invoice build : ${refused} facture(s) refusée(s) ; aucun numéro tiré, aucun fichier écrit.\n`);
    return 1;
  }
  const billingNumbers = [...new Set(invoices.map((p) => p.invoice.practitioner.situation.billingNumber))];
  const sender = v.sender ?? (billingNumbers.length === 1 ? billingNumbers[0]! : undefined);
  if (sender === undefined) throw new CliError('usage', `factures de plusieurs numéros de facturation (${billingNumbers.join(', ')}) : préciser --sender`);
  try {
    billing.checkSender(sender);
  } catch (e) {
    throw new CliError('usage', `--sender : ${(e as Error).message}`);
  }
  const outDir = resolve(ctx.cwd, v.out ?? '.');
  await mkdir(outDir, { recursive: true });
  // The card last: the PIN is asked only once everything else is in order.
  let session: CardSession | undefined;
  let signer: InvoiceSigner;
  if (testKey) signer = await testSigner(ctx, v['test-key']!, v['test-cert']!);
  else {
    const { openCardSession } = await import('./card-signer.js');
    const { defaultPairingPath } = await import('./pairing-file.js');
    const { DEFAULT_BRIDGE_URL } = await import('../card/protocol.js');
    try {
      session = await openCardSession(
        {
          url: v.bridge ?? DEFAULT_BRIDGE_URL,
          ...(v.reader !== undefined ? { reader: v.reader } : {}),
          pin,
          pairingPath: resolve(ctx.cwd, v.pairing ?? defaultPairingPath()),
        },
        ctx,
      );
    } catch (e) {
      if (e instanceof CliError && e.code === 'usage') throw e;
      ctx.err(`teletrans invoice build : signature impossible : ${(e as Error).message} ; aucun numéro tiré, aucun fichier écrit.\n`);
      return 1;
    }
    signer = session.signer;
  }
  try {
    return await buildSigned(v, ctx, { invoices, clock, catalogue, way, sender, outDir, signer, testKey });
  } finally {
    session?.close();
  }
}

interface BuildInput {
  invoices: ParsedInvoice[];
  clock: () => number;
  catalogue: Catalogue;
  way: TransmissionWay;
  sender: string;
  outDir: string;
  signer: InvoiceSigner;
  testKey: boolean;
}

async function buildSigned(v: Values, ctx: Context, b: BuildInput): Promise<number> {
  const { invoices, clock, catalogue, way, sender, outDir, signer } = b;
  const billing = await import('../billing/index.js');

  const { FileCounterStore, defaultCountersDir } = await import('../server/counter-file.js');
  const numbering = new billing.BillingNumbering(new FileCounterStore(resolve(ctx.cwd, v.counters ?? defaultCountersDir())));
  const adapter = billing.simulatorAdapter();
  const checks = { clock, catalogue };
  const prepared = [];
  for (const p of invoices) prepared.push(await billing.prepareInvoice(p.invoice, { adapter, numbering, checks, securing: p.securing }));
  const batch = await billing.signPending(prepared, signer);
  if (batch.unsigned.length > 0) {
    const first = batch.unsigned[0]!.error;
    ctx.err(`teletrans invoice build : signature refusée [${first.code}] ${first.message} ; ${batch.unsigned.length} document(s) non signé(s), aucun fichier écrit.\n`);
    return 1;
  }
  const fileDate = billing.today(clock);
  const transmission = await billing.buildTransmission(batch.signed, {
    adapter,
    numbering,
    way,
    sender,
    fileDate,
    ...(v['oct-number'] !== undefined ? { octNumber: v['oct-number'] } : {}),
    ...(v['message-zone'] !== undefined ? { messageZone: v['message-zone'] } : {}),
  });
  const written = [];
  for (const f of transmission.files) {
    const path = join(outDir, f.name);
    await writeAtomic(path, [f.bytes], { exclusive: true });
    written.push({ f, path });
  }
  const summary = {
    engine: { name: adapter.name, homologated: adapter.homologated, version: adapter.version },
    testKey: b.testKey,
    invoices: prepared.map((p) => ({ id: p.invoice.id, number: p.number, documents: p.documents.map((d) => d.kind) })),
    files: written.map(({ f, path }) => ({
      name: f.name,
      path,
      kind: f.kind,
      way: f.way,
      number: f.number,
      version: f.version,
      invoiceCount: f.invoiceCount,
      bytes: f.bytes.length,
      lots: f.lots.map((l) => ({ number: l.number, kind: l.kind, organism: l.destination.organism, documents: l.documents.length })),
    })),
  };
  ctx.err(
    b.testKey
      ? 'teletrans invoice build : attention, signé avec une clé d’ESSAI (--test-key) par le SIMULATEUR : fichiers de démonstration, à ne jamais transmettre.\n'
      : 'teletrans invoice build : signé par la CPS, mis en forme par le SIMULATEUR (format propre à Teletrans, non homologué) : à ne jamais transmettre aux organismes.\n',
  );
  if (v.json) {
    await ctx.out(JSON.stringify(summary));
  } else {
    for (const i of summary.invoices) await ctx.out(`facture ${i.id} → n° ${i.number} (${i.documents.join(' + ')})`);
    for (const f of summary.files) {
      await ctx.out(`${f.path} : fichier ${f.kind} n° ${f.number}, version ${f.version}, ${f.invoiceCount} facture(s), ${f.lots.length} lot(s)`);
      for (const l of f.lots) await ctx.out(`  lot ${l.number} ${l.kind} → ${l.organism} : ${l.documents} document(s)`);
    }
  }
  return 0;
}

function reportLines(r: ReadReport): string[] {
  const lines = [`Fichier ${r.kind} : ${r.lots.length} lot(s), ${r.documents} document(s), honoraires ${euros(r.feeCents)} — ${r.ok ? 'aucun écart' : `${r.discrepancies.length} écart(s)`}`];
  for (const l of r.lots) {
    lines.push(`  lot ${l.number} ${l.kind} → ${l.destination.organism} : ${l.documents.length} document(s), honoraires ${euros(l.feeCents)}, AMO ${euros(l.amoNetCents)}, AMC ${euros(l.amcCents)}`);
    for (const d of l.documents) {
      lines.push(`    ${d.kind} ${d.number} : signature ${d.signature === 'valid' ? 'valide' : 'INVALIDE'}, certificat ${d.certificate.valid ? 'valide' : 'REFUSÉ'}, ${d.discrepancies.length} écart(s)`);
    }
  }
  for (const x of r.discrepancies) lines.push(`  - [${x.code}] ${x.where} : ${x.message}`);
  return lines;
}

async function readRun(v: Values, files: string[], ctx: Context): Promise<number> {
  if (files.length !== 1) throw new CliError('usage', 'un fichier à lire est attendu');
  if (!v.anchor?.length) throw new CliError('usage', 'au moins une ancre de confiance (--anchor) est requise pour vérifier les certificats de signature');
  const revocation = v.revocation ?? 'if-available';
  if (revocation !== 'require' && revocation !== 'if-available' && revocation !== 'off') throw new CliError('usage', '--revocation : require, if-available ou off attendu');
  const at = v.at !== undefined ? parseAt(v.at) : new Date();
  const catalogue = await loadCatalogue(ctx, v.catalogue);
  const core = await ctx.core();
  const [anchors, intermediates, crls, bytes] = await Promise.all([
    pkiItems(core, ctx.cwd, v.anchor, 'certificate', '--anchor'),
    pkiItems(core, ctx.cwd, v.intermediate ?? [], 'certificate', '--intermediate'),
    pkiItems(core, ctx.cwd, v.crl ?? [], 'crl', '--crl'),
    readInput(ctx.cwd, files[0]!, 'le fichier'),
  ]);
  const { readBillingFile, BillingError } = await import('../billing/index.js');
  let report: ReadReport;
  try {
    report = await readBillingFile(bytes, { anchors, intermediates, crls, at, revocation, catalogue });
  } catch (e) {
    if (e instanceof BillingError) throw new CliError(e.code, `« ${files[0]} » : [${e.code}] ${e.field ? `${e.field} : ` : ''}${e.message}`);
    throw e;
  }
  if (v.json) await ctx.out(JSON.stringify(report));
  else for (const l of reportLines(report)) await ctx.out(l);
  return report.ok ? 0 : 1;
}

export const invoiceCommand: Command = {
  summary: 'factures : tarifer, construire des lots (simulateur), relire un fichier (lecteur de l’assureur)',
  async run(args, ctx: Context) {
    const fail = refusal(ctx, 'invoice');
    const parsed = parseStrict(args, OPTIONS);
    if (parsed instanceof CliError) return fail(parsed);
    const { values: v, positionals } = parsed;
    const [sub, ...files] = positionals;
    if (v.help || sub === 'help') {
      await ctx.out(HELP.trimEnd());
      return 0;
    }
    try {
      if (sub === undefined) throw new CliError('usage', 'sous-commande manquante : price, build ou read');
      const allowed = ONLY[sub];
      if (!allowed) throw new CliError('usage', `sous-commande inconnue « ${sub} » : price, build ou read`);
      const stray = (Object.keys(v) as (keyof Values)[]).find((k) => v[k] !== undefined && !allowed.includes(k));
      if (stray) throw new CliError('usage', `l'option --${stray} ne s'applique pas à « invoice ${sub} »`);
      if (sub === 'price') return await priceRun(v, files, ctx);
      if (sub === 'build') return await buildRun(v, files, ctx);
      return await readRun(v, files, ctx);
    } catch (e) {
      if (e instanceof CliError) return fail(e);
      const { BillingError } = await import('../billing/index.js');
      if (e instanceof BillingError) return fail(new CliError(e.code, `[${e.code}] ${e.field ? `${e.field} : ` : ''}${e.message}`));
      return fail(new CliError('internal_error', `erreur interne : ${(e as Error)?.message ?? String(e)}`));
    }
  },
};
