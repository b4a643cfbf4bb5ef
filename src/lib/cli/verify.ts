/**
 * `teletrans verify`: certificate chain validation from files (single run or JSON Lines batch).
 * Argument parsing and file I/O only; every check is done by the PKI core.
 */
import { open, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { DecodedItem, Profile, VerifyInput, VerifyIssue, VerifyResult } from '../pki/types.js';
import { parseAt, parseStrict } from './args.js';
import { CliError, type Context, type PkiCore } from './context.js';
import type { Command } from './main.js';
import { frenchReport } from './report.js';

const PROFILES: readonly Profile[] = ['rfc5280', 'sesam-vitale-attachment'];

const HELP = `Usage : teletrans verify [options] FEUILLE
        teletrans verify --batch FICHIER.jsonl

Vérifie la chaîne de certification du certificat FEUILLE : construction du chemin
jusqu'à une ancre de confiance, signatures, dates, extensions, révocation (CRL),
et, avec le profil sesam-vitale-attachment, les règles du chiffrement de pièce
jointe (keyUsage critique digitalSignature+nonRepudiation+keyEncipherment,
adresse de la boîte aux lettres dans subjectAltName, RSA 2048, CRL obligatoire).

Les fichiers sont en DER ou en PEM ; un fichier PEM peut contenir plusieurs
certificats ou CRL. Si FEUILLE contient plusieurs certificats, le premier est la
feuille et les suivants s'ajoutent aux intermédiaires. Un fichier --intermediate
ou --crl illisible (absent, ni certificat ni CRL) est écarté avec l'avertissement
input_ignored qui le nomme (clé "file" en JSON), et la vérification se poursuit
avec les autres ; FEUILLE ou une ancre illisible est une entrée illisible.

Options :
  --anchor F           ancre de confiance (répétable ; au moins une)
  --intermediate F     certificat(s) intermédiaire(s) candidat(s) (répétable)
  --crl F              liste(s) de révocation (répétable)
  --at DATE            date de vérification, ISO 8601 (ex. 2026-03-01 ou
                       2026-03-01T12:00:00Z ; sans fuseau = UTC) ; défaut : maintenant
  --profile P          rfc5280 (défaut) ou sesam-vitale-attachment
  --email ADRESSE      adresse attendue dans subjectAltName (obligatoire avec
                       sesam-vitale-attachment), ex. amo_pj.test@test.rss.fr
  --json               une seule ligne JSON :
                       {"valid":…,"warnings":[…],"errors":[…],"path":[…]}
  --batch FICHIER      traitement par lots (FICHIER « - » = entrée standard), voir ci-dessous
  -h, --help           afficher cette aide

Traitement par lots (--batch) : un objet JSON par ligne, clés
  leaf (chemin, obligatoire), anchors (obligatoire), intermediates, crls
  (tableaux de chemins, ou un chemin seul), at, profile, email, id (facultatif,
  recopié dans le résultat).
Les chemins relatifs partent du dossier du fichier de lots (du dossier courant
pour l'entrée standard). Les lignes vides sont ignorées et ne produisent pas de
résultat. Chaque autre ligne produit une ligne de résultat, dans l'ordre :
  {"line":N,["id":…,]"valid":…,"warnings":[…],"errors":[…],"path":[…]}
où N est le numéro de ligne dans le fichier. Une ligne erronée (JSON invalide,
FEUILLE ou ancre manquante ou illisible) donne "valid":false avec l'erreur, et le
traitement continue. Les fichiers lus sont mis en cache pour tout le lot.

Codes de sortie : 0 chaîne valide (avertissements possibles), 1 chaîne invalide
(lots : au moins une ligne non valide), 2 utilisation incorrecte ou entrée
illisible (lots : fichier de lots illisible).
`;

const OPTIONS = {
  anchor: { type: 'string', multiple: true },
  intermediate: { type: 'string', multiple: true },
  crl: { type: 'string', multiple: true },
  at: { type: 'string' },
  profile: { type: 'string' },
  email: { type: 'string' },
  json: { type: 'boolean' },
  batch: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What one validation needs, as paths and strings (from the command line or a batch line). */
interface Job {
  leaf?: string;
  anchors: string[];
  intermediates: string[];
  crls: string[];
  at?: string;
  profile?: string;
  email?: string;
}

/** Reads and decodes files; in batch mode the same loader (and its cache) serves every line. */
type Loader = (path: string) => Promise<DecodedItem[]>;

function makeLoader(core: PkiCore, cwd: string, cache?: Map<string, Promise<DecodedItem[]>>): Loader {
  const load = async (path: string): Promise<DecodedItem[]> => {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(resolve(cwd, path));
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'fichier introuvable' : (e as Error).message;
      throw new CliError('input_unreadable', `impossible de lire « ${path} » : ${why}`);
    }
    let items: DecodedItem[];
    try {
      items = core.decodeInput(bytes);
    } catch (e) {
      if (e instanceof core.PkiError) throw new CliError(e.code, `« ${path} » : ${e.message}`);
      throw e;
    }
    if (items.length === 0) {
      throw new CliError('input_unreadable', `« ${path} » ne contient ni certificat ni CRL`);
    }
    return items;
  };
  if (!cache) return load;
  return (path) => {
    let p = cache.get(path);
    if (!p) {
      p = load(path);
      cache.set(path, p);
    }
    return p;
  };
}

const ONE: Record<DecodedItem['kind'], string> = { certificate: 'un certificat', crl: 'une CRL' };
const MANY: Record<DecodedItem['kind'], string> = { certificate: 'des certificats', crl: 'des CRL' };

async function itemsOf(load: Loader, path: string, kind: DecodedItem['kind'], option: string): Promise<Uint8Array[]> {
  const items = await load(path);
  const wrong = items.find((i) => i.kind !== kind);
  if (wrong) {
    throw new CliError(
      'usage',
      `« ${path} » (${option}) contient ${ONE[wrong.kind]} (${wrong.label}) ; attendu : ${MANY[kind]}`,
    );
  }
  return items.map((i) => i.der);
}

/** Checks what needs no file (nor the core). Throws CliError. */
function checkJob(job: Job): { leaf: string; profile: Profile; at?: Date } {
  if (!job.leaf) throw new CliError('usage', 'certificat à vérifier (FEUILLE) manquant');
  if (job.anchors.length === 0) throw new CliError('usage', 'au moins une ancre de confiance (--anchor) est requise');
  if (job.profile !== undefined && !PROFILES.includes(job.profile as Profile)) {
    throw new CliError('usage', `profil inconnu « ${job.profile} » (attendu : ${PROFILES.join(' ou ')})`);
  }
  const profile = (job.profile ?? 'rfc5280') as Profile;
  if (profile === 'sesam-vitale-attachment' && !job.email) {
    throw new CliError('usage', 'le profil sesam-vitale-attachment exige --email (adresse attendue)');
  }
  const at = job.at !== undefined ? parseAt(job.at) : undefined;
  return { leaf: job.leaf, profile, at };
}

/** An issue of the command's output: the core's, or one about an input file (`file` names it). */
type CliIssue = VerifyIssue & { file?: string };

/**
 * A pool file (--intermediate, --crl): one that cannot be read or decoded is left out with an
 * `input_ignored` warning naming it, and the validation proceeds with the rest of the pool, as
 * the core does for an unreadable pool member. A file of the wrong kind stays a usage error.
 */
async function poolItemsOf(
  load: Loader,
  path: string,
  kind: DecodedItem['kind'],
  option: string,
): Promise<{ ders: Uint8Array[]; ignored?: CliIssue }> {
  try {
    return { ders: await itemsOf(load, path, kind, option) };
  } catch (e) {
    if (!(e instanceof CliError) || e.code === 'usage' || e.code === 'internal_error') throw e;
    const message = `Fichier ignoré (${option}) : ${e.message.replace(/\.?$/, '.')}`;
    return { ders: [], ignored: { code: 'input_ignored', message, file: path } };
  }
}

/**
 * Checks the job and turns it into the core's input, plus the warnings about ignored pool
 * files. Throws CliError: usage errors, and an unreadable leaf or trust anchor (exit 2).
 */
async function prepare(job: Job, load: Loader): Promise<{ input: VerifyInput; ignored: CliIssue[] }> {
  const { leaf: leafPath, profile, at } = checkJob(job);
  const [leafCerts, anchors, intermediates, crls] = await Promise.all([
    itemsOf(load, leafPath, 'certificate', 'FEUILLE'),
    Promise.all(job.anchors.map((f) => itemsOf(load, f, 'certificate', '--anchor'))),
    Promise.all(job.intermediates.map((f) => poolItemsOf(load, f, 'certificate', '--intermediate'))),
    Promise.all(job.crls.map((f) => poolItemsOf(load, f, 'crl', '--crl'))),
  ]);
  const [leaf, ...bundled] = leafCerts;
  const input: VerifyInput = {
    leaf: leaf!,
    anchors: anchors.flat(),
    intermediates: [...bundled, ...intermediates.flatMap((p) => p.ders)],
    crls: crls.flatMap((p) => p.ders),
    profile,
    ...(at ? { at } : {}),
    ...(job.email !== undefined ? { email: job.email } : {}),
  };
  // In the order of the job's files.
  const ignored = [...intermediates, ...crls].flatMap((p) => (p.ignored ? [p.ignored] : []));
  return { input, ignored };
}

/** Validates a prepared job: the core's verdict, with the ignored files first among the warnings. */
async function validate(verifier: { verify(input: VerifyInput): Promise<VerifyResult> }, job: Job, load: Loader): Promise<VerifyResult> {
  const { input, ignored } = await prepare(job, load);
  const r = await verifier.verify(input);
  return ignored.length ? { ...r, warnings: [...ignored, ...r.warnings] } : r;
}

function issue(i: CliIssue): CliIssue {
  return { ...i };
}

/** The stable JSON shape: exactly these four keys, in this order. */
function resultJson(r: VerifyResult): { valid: boolean; warnings: CliIssue[]; errors: CliIssue[]; path: VerifyResult['path'] } {
  return { valid: r.valid, warnings: r.warnings.map(issue), errors: r.errors.map(issue), path: r.path };
}

function failureJson(e: CliError): ReturnType<typeof resultJson> {
  return { valid: false, warnings: [], errors: [{ code: e.code, message: e.message }], path: [] };
}

/** Maps anything thrown while preparing or verifying to a CliError (exit 2 / error line). */
function asCliError(e: unknown, core: PkiCore | undefined): CliError {
  if (e instanceof CliError) return e;
  if (core && e instanceof core.PkiError) return new CliError(e.code, e.message);
  const err = e as Error;
  return new CliError('internal_error', `erreur interne : ${err?.message ?? String(e)}`, { cause: e });
}

export const verifyCommand: Command = {
  summary: "vérifier la chaîne d'un certificat (RFC 5280, profil SESAM-Vitale)",
  async run(args, ctx) {
    // Known before parsing, so that even a parse error is reported in JSON when asked.
    const dashDash = args.indexOf('--');
    const wantsJson = (dashDash < 0 ? args : args.slice(0, dashDash)).includes('--json');
    const fail = async (e: CliError): Promise<number> => {
      if (wantsJson) await ctx.out(JSON.stringify(failureJson(e)));
      ctx.err(`teletrans verify : ${e.message}\n`);
      if (e.code === 'usage') ctx.err('Voir « teletrans verify --help ».\n');
      if (e.code === 'internal_error' && e.cause) ctx.err(`${(e.cause as Error).stack ?? e.cause}\n`);
      return 2;
    };

    const parsed = parseStrict(args, OPTIONS);
    if (parsed instanceof CliError) return fail(parsed);
    const { values: v, positionals } = parsed;
    if (v.help) {
      await ctx.out(HELP.trimEnd());
      return 0;
    }

    if (v.batch !== undefined) {
      const extra = positionals.length > 0 || v.anchor || v.intermediate || v.crl || v.at || v.profile || v.email;
      if (extra) return fail(new CliError('usage', '--batch ne se combine pas avec FEUILLE ni avec les options de fichier, de date, de profil ou d\'adresse (elles vont dans chaque ligne du lot)'));
      return runBatch(v.batch, ctx, fail);
    }

    if (positionals.length > 1) {
      return fail(new CliError('usage', `un seul certificat à vérifier, ${positionals.length} donnés (${positionals.join(', ')})`));
    }
    let core: PkiCore | undefined;
    let result: VerifyResult;
    try {
      const job: Job = {
        leaf: positionals[0],
        anchors: v.anchor ?? [],
        intermediates: v.intermediate ?? [],
        crls: v.crl ?? [],
        at: v.at,
        profile: v.profile,
        email: v.email,
      };
      checkJob(job); // usage errors first, without loading the core
      core = await ctx.core();
      result = await validate(new core.Verifier(), job, makeLoader(core, ctx.cwd));
    } catch (e) {
      return fail(asCliError(e, core));
    }
    if (v.json) await ctx.out(JSON.stringify(resultJson(result)));
    else await ctx.out(frenchReport(result, { at: v.at, profile: v.profile ?? 'rfc5280', email: v.email }));
    return result.valid ? 0 : 1;
  },
};

// ---------------------------------------------------------------------------------------------
// Batch

function pathList(obj: Record<string, unknown>, key: string, base: string): string[] {
  const raw = obj[key];
  if (raw === undefined || raw === null) return [];
  const list = typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && x !== '')) {
    throw new CliError('usage', `« ${key} » doit être un chemin ou un tableau de chemins`);
  }
  return list.map((p) => resolve(base, p));
}

function optString(obj: Record<string, unknown>, key: string): string | undefined {
  const raw = obj[key];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string') throw new CliError('usage', `« ${key} » doit être une chaîne`);
  return raw;
}

function jobFromLine(line: string, base: string): Job {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (e) {
    throw new CliError('usage', `ligne JSON invalide : ${(e as Error).message}`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new CliError('usage', 'chaque ligne doit être un objet JSON');
  }
  const o = obj as Record<string, unknown>;
  // Other keys are the caller's own bookkeeping (a case name, an expected outcome): ignored,
  // so that a batch file written for a later version still runs.
  const leaf = optString(o, 'leaf');
  return {
    leaf: leaf ? resolve(base, leaf) : undefined,
    anchors: pathList(o, 'anchors', base),
    intermediates: pathList(o, 'intermediates', base),
    crls: pathList(o, 'crls', base),
    at: optString(o, 'at'),
    profile: optString(o, 'profile'),
    email: optString(o, 'email'),
  };
}

function idOf(line: string): { id?: unknown } {
  try {
    const o = JSON.parse(line);
    return o && typeof o === 'object' && 'id' in o ? { id: o.id } : {};
  } catch {
    return {};
  }
}

async function runBatch(file: string, ctx: Context, fail: (e: CliError) => Promise<number>): Promise<number> {
  let input: NodeJS.ReadableStream;
  let base: string;
  if (file === '-') {
    input = ctx.stdin;
    base = ctx.cwd;
  } else {
    const path = resolve(ctx.cwd, file);
    base = dirname(path);
    try {
      // Open first, so that a missing or unreadable batch file is exit 2 with nothing on stdout.
      const handle = await open(path, 'r');
      input = handle.createReadStream({ encoding: 'utf8' });
    } catch (e) {
      return fail(new CliError('input_unreadable', `impossible de lire le fichier de lots « ${file} » : ${(e as Error).message}`));
    }
  }

  let core: PkiCore;
  try {
    core = await ctx.core();
  } catch (e) {
    return fail(new CliError('internal_error', `chargement du cœur PKI impossible : ${(e as Error).message}`, { cause: e }));
  }
  const verifier = new core.Verifier();
  const load = makeLoader(core, base, new Map());

  let lineNo = 0;
  let allValid = true;
  try {
    const rl = createInterface({ input, crlfDelay: Infinity });
    for await (const raw of rl) {
      lineNo++;
      const line = (lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
      if (line === '') continue;
      let out: ReturnType<typeof resultJson>;
      try {
        out = resultJson(await validate(verifier, jobFromLine(line, base), load));
      } catch (e) {
        const ce = asCliError(e, core);
        if (ce.code === 'internal_error') ctx.err(`ligne ${lineNo} : ${(e as Error)?.stack ?? String(e)}\n`);
        out = failureJson(ce);
      }
      if (!out.valid) allValid = false;
      await ctx.out(JSON.stringify({ line: lineNo, ...idOf(line), ...out }));
    }
  } catch (e) {
    // The batch file itself failed mid-way (EISDIR, I/O error): exit 2 after what was produced.
    ctx.err(`teletrans verify : lecture du fichier de lots interrompue : ${(e as Error).message}\n`);
    return 2;
  }
  return allValid ? 0 : 1;
}

// Exported for in-process tests.
export const _internal = { parseAt, jobFromLine, HELP };
