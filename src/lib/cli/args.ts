/**
 * What every subcommand needs around its own work: French messages for `parseArgs` errors,
 * ISO 8601 dates, reading input files, certificates and CRLs through the PKI core, and
 * writing an output file whole or not at all. One copy, so the commands speak alike.
 */
import { link, open, readFile, rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { DecodedItem } from '../pki/types.js';
import { CliError, type Context, type PkiCore } from './context.js';

/**
 * How a subcommand reports a refusal: its name and the message on stderr, the way to its
 * help after a usage error, and the exit code (2 unless said otherwise).
 */
export function refusal(ctx: Context, command: string): (e: CliError, code?: number) => number {
  return (e, code = 2) => {
    ctx.err(`teletrans ${command} : ${e.message}\n`);
    if (e.code === 'usage') ctx.err(`Voir « teletrans ${command} --help ».\n`);
    return code;
  };
}

/** parseArgs errors in French. */
type Options = NonNullable<ParseArgsConfig['options']>;
type Strict<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>;

/** Parses a subcommand's arguments strictly; a bad one is a usage error in French, never a throw. */
export function parseStrict<T extends Options>(args: string[], options: T): Strict<T> | CliError {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true }) as Strict<T>;
  } catch (e) {
    return new CliError('usage', parseArgsMessage(e as NodeJS.ErrnoException));
  }
}

export function parseArgsMessage(e: NodeJS.ErrnoException): string {
  const opt = /'(-[^']*)'/.exec(e.message)?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `option inconnue « ${opt} »`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take/.test(e.message)) return `l'option « ${opt} » n'accepte pas de valeur`;
      if (/ambiguous/.test(e.message)) {
        return `l'option « ${opt} » attend une valeur (pour une valeur commençant par « - », écrire ${opt}=-…)`;
      }
      return `l'option « ${opt.split(' ')[0]} » attend une valeur`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `argument inattendu : ${e.message}`;
    default:
      return e.message;
  }
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/** An ISO 8601 date or date-time; without a zone it is UTC (Date would read it as local time). */
export function parseAt(at: string): Date {
  if (!ISO_8601.test(at)) throw new CliError('usage', `date invalide « ${at} » (attendu : ISO 8601, ex. 2026-03-01T12:00:00Z)`);
  const withZone = /[T ]\d{2}:\d{2}/.test(at) && !/(?:Z|[+-]\d{2}:?\d{2})$/i.test(at) ? `${at}Z` : at;
  const d = new Date(withZone.replace(' ', 'T'));
  if (Number.isNaN(d.getTime())) throw new CliError('usage', `date invalide « ${at} »`);
  // Reject calendar overflow that Date silently normalises (2026-02-30 → March 2).
  if (d.toISOString().slice(0, 10) !== at.slice(0, 10) && !/[+-]\d{2}:?\d{2}$/.test(at)) {
    throw new CliError('usage', `date invalide « ${at} »`);
  }
  return d;
}

/** A calendar day `AAAA-MM-JJ` that exists. */
export function parseDay(day: string, option: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new CliError('usage', `${option} : date AAAA-MM-JJ attendue, reçu « ${day} »`);
  parseAt(day);
  return day;
}

export async function readInput(cwd: string, path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(resolve(cwd, path)));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'fichier introuvable' : (e as Error).message;
    throw new CliError('input_unreadable', `impossible de lire ${what} « ${path} » : ${why}`);
  }
}

/** Certificates or CRLs from PEM or DER files, through the PKI core's decoder. */
export async function pkiItems(core: PkiCore, cwd: string, paths: readonly string[], kind: DecodedItem['kind'], option: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const path of paths) {
    const bytes = await readInput(cwd, path, `le fichier ${option}`);
    let decoded: DecodedItem[];
    try {
      decoded = core.decodeInput(bytes);
    } catch (e) {
      if (e instanceof core.PkiError) throw new CliError(e.code, `« ${path} » (${option}) : ${e.message}`);
      throw new CliError('input_unreadable', `« ${path} » (${option}) : ${(e as Error).message}`);
    }
    if (decoded.length === 0 || decoded.some((i) => i.kind !== kind)) {
      throw new CliError('usage', `« ${path} » (${option}) doit contenir ${kind === 'crl' ? 'des CRL' : 'des certificats'}`);
    }
    out.push(...decoded.map((i) => i.der));
  }
  return out;
}

/**
 * Writes the parts to a temporary file, fsyncs it and moves it into place: no half-written
 * output is ever left. `exclusive`: an existing file is never replaced — the finished file is
 * hard-linked to its name, which fails if the name is taken, so two runs cannot both win.
 */
export async function writeAtomic(path: string, parts: readonly Uint8Array[], options: { exclusive?: boolean } = {}): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fh = await open(tmp, 'wx');
  try {
    // writev may write less than asked (Linux caps one write near 2 GiB): continue where it stopped.
    const rest = parts.filter((p) => p.length > 0);
    while (rest.length > 0) {
      let n = (await fh.writev(rest)).bytesWritten;
      while (rest.length > 0 && n >= rest[0]!.length) n -= rest.shift()!.length;
      if (n > 0) rest[0] = rest[0]!.subarray(n);
    }
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  if (!options.exclusive) return rename(tmp, path);
  try {
    await link(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError('output_exists', `« ${path} » existe déjà : rien n'est remplacé`);
    throw e;
  } finally {
    await rm(tmp, { force: true });
  }
}
