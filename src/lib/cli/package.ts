/**
 * `teletrans package`: a lot file → the SMTP message of docs/domain/transmission.md §7, on standard output.
 * Argument parsing and file I/O only; the message is built by src/lib/sesam (packageLot), the
 * recipient certificate checked and the file encrypted by src/lib/cms, the compostage counter
 * kept by src/lib/server/compostage-file.ts.
 */
import { open } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Recipient } from '../cms/index.js';
import { FileCompostageStore, defaultCounterPath, CompostageFileError } from '../server/compostage-file.js';
import { nodeAesCbc } from '../server/crypto/aes-cbc-node.js';
import * as sesam from '../sesam/index.js';
import type { OctLot } from '../sesam/oct.js';
import { parseArgsMessage, parseAt, pkiItems, readInput, refusal } from './args.js';
import { CliError, type Context } from './context.js';
import type { Command } from './main.js';

const HELP = `Usage : teletrans package --kind FSE|DRE --mode real|test|demo --from ADRESSE
          --recipient CERT --exercice N --invoices N --version VVVVVV [options] FICHIER_LOTS
        teletrans package --kind FACTURE --mode real --to ADRESSE_OCT --oct-number N
          --fse-lot F… --dre-lot F… --from … --recipient … --exercice … --invoices … --version …

Construit le message SMTP d'un fichier de lots (cahier des charges SESAM-Vitale, annexe 4) et
l'écrit sur la sortie standard : en-têtes Date, From, To, Message-ID, Subject, MIME-Version,
pièce jointe Application/EDI-consent chiffrée (CMS, AES-128-CBC, RSA) pour le certificat du
destinataire, encodée en BASE64. Le sujet SVvvvvvv/exercice/compostage/nnnnn (DR… pour les
DRE) et le compostage sont rappelés sur la sortie d'erreur : les conserver pour retrouver un
message perdu. Chaque appel tire un nouveau compostage (une retransmission aussi).

Options :
  --kind K             FSE, DRE ou FACTURE (fichier unique pour un OCT)
  --mode M             real (production), test ou demo
  --from ADRESSE       adresse du PS (fournie par son fournisseur d'accès)
  --to ADRESSE         destinataire ; défaut : la boîte de l'organisme selon --kind et --mode
                       (amo_pj.reel@reel.rss.fr, amc_pj.test@test.rss.fr…) ; obligatoire pour
                       FACTURE (adresse de l'OCT)
  --recipient CERT     certificat du destinataire (PEM ou DER) ; il doit porter l'adresse
                       du destinataire dans subjectAltName
  --anchor F           ancre de confiance (répétable ; au moins une sauf --insecure-skip-verify)
  --intermediate F     certificat(s) intermédiaire(s) (répétable)
  --crl F              liste(s) de révocation (répétable ; une CRL est exigée)
  --at DATE            date ISO 8601 du conditionnement (sans fuseau = UTC) : vérification du
                       certificat, en-tête Date et compostage ; défaut : maintenant
  --insecure-skip-verify  ne pas vérifier le certificat (essais uniquement)
  --exercice N         numéro émetteur du fichier
  --invoices N         nombre total de factures du fichier (1 à 99999)
  --version VVVVVV     version de spécification du formateur de lots, ex. 140700
  --compress           compresser (gzip) avant de chiffrer (drapeau Z)
  --multipart          structure multipart/mixed (défaut : partie unique)
  --counter-file F     fichier du compteur de compostage (défaut : ${defaultCounterPath()})
  --time-zone TZ       fuseau horaire du compostage et de Date (défaut : Europe/Paris)
  -o, --output F       écrire le message dans F plutôt que sur la sortie standard
  -h, --help           afficher cette aide

Fichier unique FACTURE (mode OCT, format de trame du simulateur Teletrans) :
  --fse-lot F / --dre-lot F   lots à concaténer, dans l'ordre donné (répétables)
  --oct-number N       numéro de l'OCT (groupe 12 champ 7)
  --file-name NOM      nom du fichier (groupe 12 champ 2 ; défaut : F suivi du compostage)
  --message-zone TEXTE zone message (groupe 14 champ 3)

Codes de sortie : 0 message produit, 1 certificat du destinataire refusé,
2 utilisation incorrecte ou entrée illisible.
`;

const OPTIONS = {
  kind: { type: 'string' },
  mode: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  recipient: { type: 'string' },
  anchor: { type: 'string', multiple: true },
  intermediate: { type: 'string', multiple: true },
  crl: { type: 'string', multiple: true },
  at: { type: 'string' },
  'insecure-skip-verify': { type: 'boolean' },
  exercice: { type: 'string' },
  invoices: { type: 'string' },
  version: { type: 'string' },
  compress: { type: 'boolean' },
  multipart: { type: 'boolean' },
  'counter-file': { type: 'string' },
  'time-zone': { type: 'string' },
  output: { type: 'string', short: 'o' },
  'fse-lot': { type: 'string', multiple: true },
  'dre-lot': { type: 'string', multiple: true },
  'oct-number': { type: 'string' },
  'file-name': { type: 'string' },
  'message-zone': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function required(v: Record<string, unknown>, name: string): string {
  const value = v[name];
  if (typeof value !== 'string' || value === '') throw new CliError('usage', `option --${name} manquante`);
  return value;
}

/** Writes the message bytes as they are (CRLF preserved, no newline added). */
async function writeMessage(bytes: Uint8Array, output: string | undefined, cwd: string): Promise<void> {
  if (output !== undefined) {
    const fh = await open(resolve(cwd, output), 'w');
    try {
      await fh.writeFile(bytes);
    } finally {
      await fh.close();
    }
    return;
  }
  await new Promise<void>((done, fail) => {
    process.stdout.write(bytes, (err) => (err ? fail(err) : done()));
  });
}

export const packageCommand: Command = {
  summary: 'construire le message SMTP chiffré d’un fichier de lots (FSE, DRE, FACTURE)',
  async run(args, ctx: Context) {
    const fail = refusal(ctx, 'package');
    let parsed;
    try {
      parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
    } catch (e) {
      return fail(new CliError('usage', parseArgsMessage(e as NodeJS.ErrnoException)));
    }
    const { values: v, positionals, tokens } = parsed;
    if (v.help) {
      await ctx.out(HELP.trimEnd());
      return 0;
    }

    // Loaded lazily (it pulls the PKI core) so that --help and usage errors cost nothing.
    const cms = await import('../cms/index.js');
    try {
      const kind = required(v, 'kind').toUpperCase();
      const mode = required(v, 'mode').toLowerCase();
      sesam.assertKind(kind);
      sesam.assertMode(mode);
      const from = required(v, 'from');
      const recipientPath = required(v, 'recipient');
      const exercice = required(v, 'exercice');
      const version = required(v, 'version');
      const invoicesText = required(v, 'invoices');
      if (!/^\d{1,5}$/.test(invoicesText)) throw new CliError('usage', `--invoices : nombre entier attendu (1 à 99999), reçu « ${invoicesText} »`);
      const invoices = Number(invoicesText);
      const skipVerify = v['insecure-skip-verify'] === true;
      if (!skipVerify && !v.anchor?.length) throw new CliError('usage', 'au moins une ancre de confiance (--anchor) est requise (ou --insecure-skip-verify pour un essai)');
      const at = v.at !== undefined ? parseAt(v.at) : undefined;
      // Fail fast on field errors, before reading any file.
      sesam.contentDescription(kind, mode, v.compress === true);
      sesam.checkVersion(version);
      sesam.checkExercice(exercice);
      sesam.checkInvoiceCount(invoices);

      const factureOnly = ['fse-lot', 'dre-lot', 'oct-number', 'file-name', 'message-zone'] as const;
      let oct: { address: string; number?: string } | undefined;
      if (kind === 'FACTURE') {
        if (positionals.length > 0) throw new CliError('usage', 'FACTURE : les lots se donnent par --fse-lot et --dre-lot, pas en argument');
        if (!v['fse-lot']?.length && !v['dre-lot']?.length) throw new CliError('usage', 'FACTURE : au moins un lot (--fse-lot ou --dre-lot)');
        oct = { address: required(v, 'to'), number: required(v, 'oct-number') };
      } else {
        const extra = factureOnly.find((o) => v[o] !== undefined);
        if (extra) throw new CliError('usage', `--${extra} ne s'emploie qu'avec --kind FACTURE`);
        if (positionals.length !== 1) throw new CliError('usage', positionals.length === 0 ? 'fichier de lots (FICHIER_LOTS) manquant' : `un seul fichier de lots, ${positionals.length} donnés`);
      }
      const route = sesam.routeFlow(kind, mode, oct);
      const to = v.to ?? route.to;
      const certificateEmail = sesam.parseMailbox(to, 'to').address;
      sesam.parseMailbox(from, 'from');

      // Lots: the lot file, or for FACTURE the lots in command-line order.
      let file: { name: string; data: Uint8Array } | undefined;
      let lots: OctLot[] | undefined;
      if (kind === 'FACTURE') {
        lots = [];
        for (const t of tokens) {
          if (t.kind === 'option' && (t.name === 'fse-lot' || t.name === 'dre-lot') && t.value !== undefined) {
            lots.push({ kind: t.name === 'fse-lot' ? 'FSE' : 'DRE', data: await readInput(ctx.cwd, t.value, `le lot (--${t.name})`) });
          }
        }
      } else {
        const path = positionals[0]!;
        file = { name: basename(path), data: await readInput(ctx.cwd, path, 'le fichier de lots') };
      }

      const core = await ctx.core();
      const [certs, anchors, intermediates, crls] = await Promise.all([
        pkiItems(core, ctx.cwd, [recipientPath], 'certificate', '--recipient'),
        pkiItems(core, ctx.cwd, v.anchor ?? [], 'certificate', '--anchor'),
        pkiItems(core, ctx.cwd, v.intermediate ?? [], 'certificate', '--intermediate'),
        pkiItems(core, ctx.cwd, v.crl ?? [], 'crl', '--crl'),
      ]);
      const [leaf, ...bundled] = certs;
      let recipient: Recipient;
      try {
        recipient = await cms.checkRecipient(
          leaf!,
          skipVerify
            ? { insecureSkipVerify: true }
            : { anchors, intermediates: [...bundled, ...intermediates], crls, email: certificateEmail, ...(at ? { at } : {}) },
        );
      } catch (e) {
        if (cms.isCmsError(e) && e.code === 'recipient_invalid') {
          ctx.err(`teletrans package : certificat du destinataire refusé pour ${certificateEmail} :\n`);
          for (const r of e.reasons.length ? e.reasons : [{ code: e.code, message: e.message }]) ctx.err(`  - [${r.code}] ${r.message}\n`);
          return 1;
        }
        throw e;
      }
      for (const w of recipient.warnings) ctx.err(`teletrans package : avertissement [${w.code}] ${w.message}\n`);
      if (skipVerify) ctx.err('teletrans package : ATTENTION, certificat du destinataire non vérifié (--insecure-skip-verify)\n');

      const result = await sesam.packageLot({
        kind,
        mode,
        compressed: v.compress === true,
        structure: v.multipart ? 'multipart' : 'single',
        from,
        ...(v.to !== undefined ? { to: v.to } : {}),
        ...(oct ? { oct } : {}),
        exercice,
        invoices,
        version,
        ...(file ? { file } : {}),
        ...(lots
          ? {
              facture: {
                lots,
                ...(v['file-name'] !== undefined ? { fileName: v['file-name'] } : {}),
                ...(v['message-zone'] !== undefined ? { messageZone: v['message-zone'] } : {}),
              },
            }
          : {}),
        // One gzip implementation for the product: the CMS module's.
        compress: (plain) => cms.gzip.compress(plain),
        encrypt: async (plain) => cms.joinParts((await cms.encryptDocument(plain, recipient, { aes: nodeAesCbc })).parts),
        compostage: new FileCompostageStore(resolve(ctx.cwd, v['counter-file'] ?? defaultCounterPath())),
        ...(at ? { clock: () => at } : {}),
        ...(v['time-zone'] !== undefined ? { timeZone: v['time-zone'] } : {}),
      });

      await writeMessage(result.message, v.output, ctx.cwd);
      ctx.err(
        `teletrans package : message prêt pour ${result.to}\n` +
          `  Sujet : ${result.subject}\n` +
          `  Compostage : ${result.compostage}\n` +
          `  Message-ID : ${result.messageId}\n` +
          `  Content-Description : ${result.description}\n` +
          `  Pièce jointe : ${result.filename} (${result.attachment.length} octets)\n`,
      );
      return 0;
    } catch (e) {
      if (e instanceof CliError) return fail(e);
      if (sesam.isSesamError(e)) return fail(new CliError(e.code, e.message));
      if (e instanceof CompostageFileError) return fail(new CliError(e.code, e.message));
      if (cms.isCmsError(e)) return fail(new CliError(e.code, e.message));
      ctx.err(`teletrans package : erreur interne : ${(e as Error)?.stack ?? String(e)}\n`);
      return 2;
    }
  },
};
