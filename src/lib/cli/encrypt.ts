/**
 * `teletrans encrypt`: attachment encryption of one file for its recipient (docs/domain/transmission.md §2).
 * Argument parsing and file I/O only: validation is the PKI core's (sesam-vitale-attachment
 * profile), encryption the CMS core's, with AES-CBC and RSA from node:crypto (OpenSSL).
 */
import { resolve } from 'node:path';
import type { DecodedItem } from '../pki/types.js';
import { parseAt, parseStrict, pkiItems, readInput, refusal, writeAtomic } from './args.js';
import { CliError, type Context, type PkiCore } from './context.js';
import type { Command } from './main.js';

const HELP = `Usage : teletrans encrypt --recipient CERT --email ADRESSE --anchor F [options] ENTRÉE [SORTIE]

Chiffre le fichier ENTRÉE pour son destinataire (chiffrement de pièce jointe
SESAM-Vitale) : CMS EnvelopedData en DER binaire, AES-128-CBC avec une clé de
session neuve, clé transportée en RSA (PKCS #1 v1.5 par défaut). SORTIE vaut
par défaut ENTRÉE.pkcs7. Équivaut à « openssl cms -encrypt -binary
-aes-128-cbc -outform DER », précédé de la vérification du certificat.

Le certificat du destinataire est d'abord vérifié (profil
sesam-vitale-attachment) : chaîne jusqu'à une ancre, dates, CRL obligatoire
(une CRL expirée est utilisée, avec un avertissement), keyUsage,
adresse --email dans subjectAltName, RSA 2048. S'il est refusé, rien n'est écrit.

Options :
  --recipient CERT        certificat du destinataire (PEM ou DER ; les certificats
                          suivants d'un même fichier servent d'intermédiaires)
  --email ADRESSE         boîte aux lettres attendue, ex. amo_pj.test@test.rss.fr
  --anchor F              ancre de confiance (répétable ; au moins une)
  --intermediate F        certificat(s) intermédiaire(s) (répétable)
  --crl F                 liste(s) de révocation (répétable)
  --at DATE               date de vérification, ISO 8601 (défaut : maintenant)
  --oaep                  transport de clé RSAES-OAEP SHA-256 (au lieu de PKCS #1 v1.5)
  --ski                   désigner le destinataire par subjectKeyIdentifier
                          (au lieu de l'émetteur et du numéro de série)
  --compress              compresser (gzip) avant de chiffrer (drapeau Z)
  --insecure-skip-verify  ne pas vérifier le certificat (essais uniquement)
  -h, --help              afficher cette aide

Codes de sortie : 0 fichier chiffré, 1 certificat du destinataire refusé,
2 utilisation incorrecte ou fichier illisible.
`;

const OPTIONS = {
  recipient: { type: 'string' },
  email: { type: 'string' },
  anchor: { type: 'string', multiple: true },
  intermediate: { type: 'string', multiple: true },
  crl: { type: 'string', multiple: true },
  at: { type: 'string' },
  oaep: { type: 'boolean' },
  ski: { type: 'boolean' },
  compress: { type: 'boolean' },
  'insecure-skip-verify': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const encryptCommand: Command = {
  summary: 'chiffrer un fichier pour son destinataire (CMS, pièce jointe SESAM-Vitale)',
  async run(args, ctx: Context) {
    const fail = refusal(ctx, 'encrypt');
    const parsed = parseStrict(args, OPTIONS);
    if (parsed instanceof CliError) return fail(parsed);
    const { values: v, positionals } = parsed;
    if (v.help) {
      await ctx.out(HELP.trimEnd());
      return 0;
    }
    const insecure = v['insecure-skip-verify'] === true;
    const [inPath, outArg] = positionals;
    try {
      if (!inPath) throw new CliError('usage', 'fichier à chiffrer (ENTRÉE) manquant');
      if (positionals.length > 2) throw new CliError('usage', `trop d'arguments : ${positionals.slice(2).join(' ')}`);
      if (!v.recipient) throw new CliError('usage', 'certificat du destinataire (--recipient) manquant');
      if (!insecure && !v.email) throw new CliError('usage', "l'adresse du destinataire (--email) est obligatoire (ou --insecure-skip-verify pour un essai)");
      if (!insecure && !v.anchor?.length) throw new CliError('usage', 'au moins une ancre de confiance (--anchor) est requise');
    } catch (e) {
      return fail(e as CliError);
    }
    const outPath = resolve(ctx.cwd, outArg ?? `${inPath}.pkcs7`);

    let core: PkiCore;
    let recipientCerts: Uint8Array[];
    let anchors: Uint8Array[];
    let intermediates: Uint8Array[];
    let crls: Uint8Array[];
    let data: Uint8Array;
    let at: Date | undefined;
    try {
      at = v.at !== undefined ? parseAt(v.at) : undefined;
      core = await ctx.core();
      const many = (paths: string[] | undefined, kind: DecodedItem['kind'], option: string): Promise<Uint8Array[][]> =>
        Promise.all((paths ?? []).map((p) => pkiItems(core, ctx.cwd, [p], kind, option)));
      [recipientCerts, anchors, intermediates, crls, data] = await Promise.all([
        pkiItems(core, ctx.cwd, [v.recipient!], 'certificate', '--recipient'),
        many(v.anchor, 'certificate', '--anchor').then((x) => x.flat()),
        many(v.intermediate, 'certificate', '--intermediate').then((x) => x.flat()),
        many(v.crl, 'crl', '--crl').then((x) => x.flat()),
        readInput(ctx.cwd, inPath!, 'le fichier à chiffrer'),
      ]);
    } catch (e) {
      if (e instanceof CliError) return fail(e);
      return fail(new CliError('internal_error', `erreur interne : ${(e as Error)?.message ?? String(e)}`));
    }

    const cms = await import('../cms/index.js');
    const { nodeAesCbc } = await import('../server/crypto/aes-cbc-node.js');
    const { nodeRsaPkcs1 } = await import('../server/crypto/rsa-pkcs1-node.js');
    const [leaf, ...bundled] = recipientCerts;
    let recipient;
    try {
      recipient = await cms.checkRecipient(
        leaf!,
        insecure
          ? { insecureSkipVerify: true }
          : { anchors, intermediates: [...bundled, ...intermediates], crls, email: v.email!, ...(at ? { at } : {}) },
      );
    } catch (e) {
      if (!(e instanceof cms.CmsError)) throw e;
      ctx.err(`teletrans encrypt : ${e.message}\n`);
      for (const r of e.reasons) ctx.err(`  - [${r.code}] ${r.message}\n`);
      return 1;
    }
    if (insecure) ctx.err('teletrans encrypt : attention, certificat du destinataire NON vérifié (--insecure-skip-verify).\n');
    for (const w of recipient.warnings) ctx.err(`teletrans encrypt : avertissement [${w.code}] ${w.message}\n`);

    let doc;
    try {
      doc = await cms.encryptDocument(data, recipient, {
        aes: nodeAesCbc,
        rsa: nodeRsaPkcs1,
        keyTransport: v.oaep ? 'rsa-oaep-sha256' : 'rsa-pkcs1-v1_5',
        recipientIdentifier: v.ski ? 'subject-key-identifier' : 'issuer-and-serial',
        compress: v.compress === true,
        // The file's buffer is ours and not needed afterwards: encrypted in place when the
        // native addon is built (no second copy of the file in memory, OpenSSL's full speed).
        consumeInput: true,
      });
    } catch (e) {
      if (!(e instanceof cms.CmsError)) throw e;
      ctx.err(`teletrans encrypt : ${e.message}\n`);
      for (const r of e.reasons) ctx.err(`  - [${r.code}] ${r.message}\n`);
      // A certificate that cannot carry the key (no SKI for --ski, not RSA) is a refused recipient.
      return 1;
    }
    try {
      await writeAtomic(outPath, doc.parts);
    } catch (e) {
      return fail(new CliError('output_unwritable', `impossible d'écrire « ${outPath} » : ${(e as Error).message}`));
    }
    await ctx.out(
      `${outPath} : ${doc.byteLength} octets, AES-128-CBC, ${v.oaep ? 'RSAES-OAEP SHA-256' : 'RSA PKCS #1 v1.5'}` +
        `${doc.compression ? `, compressé (${doc.compression})` : ''}, destinataire ${recipient.path[0]?.subject ?? '(non vérifié)'}`,
    );
    return 0;
  },
};
