/**
 * `teletrans` command line: dispatch to subcommands. Exit codes shared by every subcommand:
 * 0 success, 1 negative result (e.g. invalid chain), 2 bad usage or unreadable input.
 */
import { readFileSync } from 'node:fs';
import { defaultContext, type Context } from './context.js';
import { encryptCommand } from './encrypt.js';
import { packageCommand } from './package.js';
import { verifyCommand } from './verify.js';

export interface Command {
  /** One line, French, shown in `teletrans --help`. */
  summary: string;
  /** `args` excludes the subcommand name. Resolves to the exit code. */
  run(args: string[], ctx: Context): Promise<number>;
}

/** Subcommands, loaded lazily so that --help and usage errors never load the core. */
export const commands: Record<string, Command> = {
  verify: verifyCommand,
  encrypt: encryptCommand,
  package: packageCommand,
  invoice: { summary: 'factures : tarifer, construire des lots (simulateur), relire un fichier (lecteur de l’assureur)', run: async (a, c) => (await import('./invoice.js')).invoiceCommand.run(a, c) },
  returns: { summary: 'retours des organismes : lire et vérifier un message (ARL, RSP, ART, message de service, DSN)', run: async (a, c) => (await import('./returns.js')).returnsCommand.run(a, c) },
  bridge: { summary: 'pont local des lecteurs de cartes CPS et Vitale (PC/SC, canal chiffré)', run: async (a, c) => (await import('./bridge.js')).bridgeCommand.run(a, c) },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const list = Object.entries(commands)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join('\n');
  return `Usage : teletrans <commande> [options]

Poste de travail Teletrans (SESAM-Vitale), outils en ligne de commande.

Commandes :
${list}

Options :
  -h, --help     afficher cette aide (ou « teletrans <commande> --help »)
  --version      afficher la version

Codes de sortie : 0 succès, 1 résultat négatif (ex. chaîne invalide),
2 utilisation incorrecte ou entrée illisible.
`;
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
    return String(pkg.version);
  } catch {
    return 'inconnue';
  }
}

export async function main(argv: string[], ctx: Context = defaultContext()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    ctx.err(usage());
    return 2;
  }
  if (name === '-h' || name === '--help' || name === 'help') {
    if (name === 'help' && rest[0] && commands[rest[0]]) return commands[rest[0]]!.run(['--help'], ctx);
    await ctx.out(usage().trimEnd());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    await ctx.out(`teletrans ${version()}`);
    return 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    ctx.err(`teletrans : commande inconnue « ${name} ».\n\n${usage()}`);
    return 2;
  }
  return command.run(rest, ctx);
}
