/**
 * `teletrans returns read`: classifies and verifies one returned message (issue 15). Argument
 * parsing and file I/O only: the reading is `readReturn` (src/lib/sesam/returns/read.ts), the
 * signer's certificate is validated by the PKI core with the SESAM-Vitale attachment profile
 * and the message's From mailbox.
 */
import type { DecodedItem } from '../pki/types.js';
import type { ReturnReading } from '../sesam/returns/read.js';
import { parseAt, parseStrict, pkiItems, readInput, refusal } from './args.js';
import { CliError, type Context, type PkiCore } from './context.js';
import type { Command } from './main.js';

const HELP = `Usage : teletrans returns read [options] MESSAGE.eml

Lit un message revenu des organismes ou d'un OCT et dit ce qu'il est : ARL, RSP,
accusé technique d'OCT (ART), message de service (40050, 40150, 4025…), avis de
non-remise (DSN) ou nature inconnue (montrée, jamais écartée) ; décompresse un
fichier /Z ; lit les lots d'un ARL (format teletrans-arl-1, docs/returns/arl.md,
qui n'est pas la norme NOEMIE).

Un message de service n'est cru que signé (S/MIME : multipart/signed détaché, ou
application/pkcs7-mime opaque), la signature valide, et le certificat du
signataire valide pour le profil sesam-vitale-attachment AVEC l'adresse From du
message dans son subjectAltName (un certificat d'AMC ne parle pas pour la boîte
de l'AMO) : chaîne jusqu'à une ancre, dates, CRL, keyUsage, RSA 2048.

Options :
  --anchor F           ancre de confiance (répétable)
  --intermediate F     certificat(s) intermédiaire(s) (répétable)
  --crl F              liste(s) de révocation (répétable)
  --at DATE            date de vérification, ISO 8601 (défaut : maintenant)
  --json               une ligne JSON :
                       {"kind":…,"nature":…,"compressed":…,"signed":…,
                        "signature":{"valid":…,"errors":[…]},
                        "service":{"code":…,"in_reply_to":…,"signer":{"valid":…,"email":…}},
                        "lots":[…]}
  -h, --help           afficher cette aide

Codes de sortie : 0 message lu (message de service : signature et signataire
valides), 1 message de service dont la signature ou le signataire est refusé
(ou non signé), 2 utilisation incorrecte ou message illisible.
`;

const OPTIONS = {
  anchor: { type: 'string', multiple: true },
  intermediate: { type: 'string', multiple: true },
  crl: { type: 'string', multiple: true },
  at: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const KIND_LABEL: Record<ReturnReading['kind'], string> = {
  arl: 'accusé de réception logique (ARL)',
  rsp: 'retour de paiement (RSP)',
  service: 'message de service',
  art: 'accusé technique d’OCT (ART)',
  dsn: 'avis de non-remise (DSN)',
  unknown: 'nature inconnue',
};

function toJson(r: ReturnReading): object {
  return {
    kind: r.kind,
    nature: r.nature,
    compressed: r.compressed,
    signed: r.signed,
    signature: r.signature ?? { valid: false, errors: r.signed ? [] : [{ code: 'unsigned', message: 'message non signé' }] },
    ...(r.service
      ? { service: { code: r.service.code, in_reply_to: r.service.inReplyTo, signer: { valid: r.service.signer.valid, email: r.service.signer.email, errors: r.service.signer.errors } } }
      : {}),
    ...(r.dsn ? { dsn: r.dsn } : {}),
    ...(r.rsp ? { rsp: r.rsp } : {}),
    lots: r.arl ? r.arl.lots : [],
    ...(r.arl ? { file: r.arl.fileName, compostage: r.arl.compostage } : {}),
  };
}

function french(r: ReturnReading): string[] {
  const lines = [`${KIND_LABEL[r.kind]}${r.nature ? ` — Content-Description « ${r.nature} »` : ''}${r.compressed ? ', compressé' : ''}`];
  if (r.subject) lines.push(`Objet : ${r.subject}`);
  if (r.signed) lines.push(r.signature?.valid ? 'Signature : valide.' : `Signature : INVALIDE (${r.signature?.errors.map((e) => `[${e.code}] ${e.message}`).join(' ; ')}).`);
  else lines.push('Non signé.');
  if (r.service) {
    const s = r.service;
    lines.push(`Code ${s.code}${s.inReplyTo ? `, en réponse à ${s.inReplyTo}` : ''}.`);
    lines.push(s.signer.valid ? `Signataire : valide (${s.signer.email}).` : `Signataire : REFUSÉ${s.signer.email ? ` (${s.signer.email})` : ''} — ${s.signer.errors.map((e) => `[${e.code}] ${e.message}`).join(' ; ')}`);
    lines.push(s.verified ? 'Message de service vérifié.' : 'Message de service NON vérifié : il ne change rien.');
  }
  if (r.arl) for (const l of r.arl.lots) lines.push(`Lot ${l.kind} ${l.number} (${l.documents} facture(s)) : ${l.accepted ? 'accepté' : `rejeté — ${l.reasonCode} ${l.reason}`}`);
  if (r.rsp) {
    const euros = (c: number): string => `${Math.floor(c / 100)},${String(c % 100).padStart(2, '0')} €`;
    for (const l of r.rsp.lines) lines.push(`${l.kind} ${l.number} : ${l.type === 'payment' ? `payée${l.full ? '' : ' en partie'} ${euros(l.amountCents)} le ${l.date}` : `${l.type === 'rejection' ? 'rejetée' : 'signalement'} — ${l.code} ${l.label}`}`);
    lines.push(`Virement du ${r.rsp.transfer.date} : ${euros(r.rsp.transfer.totalCents)} (${r.rsp.organism}).`);
  }
  if (r.dsn) lines.push(`Remise : ${r.dsn.action ?? '?'} ${r.dsn.status ?? ''} pour ${r.dsn.recipient ?? '?'}${r.dsn.originalMessageId ? `, message ${r.dsn.originalMessageId}` : ''}`);
  if (r.kind === 'art' && r.text) lines.push(r.text.trimEnd());
  return lines;
}

const read: Command = {
  summary: 'lire et vérifier un message revenu (ARL, RSP, ART, message de service, DSN)',
  async run(args, ctx: Context) {
    const fail = refusal(ctx, 'returns read');
    const parsed = parseStrict(args, OPTIONS);
    if (parsed instanceof CliError) return fail(parsed);
    const { values: v, positionals } = parsed;
    if (v.help) {
      await ctx.out(HELP.trimEnd());
      return 0;
    }
    let core: PkiCore;
    let message: Uint8Array;
    let anchors: Uint8Array[];
    let intermediates: Uint8Array[];
    let crls: Uint8Array[];
    let at: Date | undefined;
    try {
      if (positionals.length !== 1) throw new CliError('usage', positionals.length ? `un seul message à la fois (${positionals.length} donnés)` : 'message (MESSAGE.eml) manquant');
      at = v.at !== undefined ? parseAt(v.at) : undefined;
      core = await ctx.core();
      const many = async (paths: string[] | undefined, kind: DecodedItem['kind'], option: string): Promise<Uint8Array[]> =>
        (await Promise.all((paths ?? []).map((p) => pkiItems(core, ctx.cwd, [p], kind, option)))).flat();
      [message, anchors, intermediates, crls] = await Promise.all([
        readInput(ctx.cwd, positionals[0]!, 'le message'),
        many(v.anchor, 'certificate', '--anchor'),
        many(v.intermediate, 'certificate', '--intermediate'),
        many(v.crl, 'crl', '--crl'),
      ]);
    } catch (e) {
      if (e instanceof CliError) return fail(e);
      throw e;
    }

    const { readReturn } = await import('../sesam/returns/read.js');
    const verifier = new core.Verifier();
    let reading: ReturnReading;
    try {
      reading = await readReturn(message, {
        // No anchor: no signer can be valid (the reading says why).
        ...(anchors.length
          ? {
              validateSigner: async ({ certificate, intermediates: carried, email }) => {
                const r = await verifier.verify({ leaf: certificate, anchors, intermediates: [...intermediates, ...carried], crls, profile: 'sesam-vitale-attachment', email, ...(at ? { at } : {}) });
                return { valid: r.valid, errors: r.errors.map((e) => ({ code: e.code, message: e.message })) };
              },
            }
          : {}),
      });
    } catch (e) {
      const code = (e as { code?: unknown })?.code;
      if (e instanceof Error && typeof code === 'string') return fail(new CliError(code, `message illisible : ${e.message}`));
      throw e;
    }
    if (v.json) await ctx.out(JSON.stringify(toJson(reading)));
    else for (const line of french(reading)) await ctx.out(line);
    return reading.kind === 'service' && !reading.service?.verified ? 1 : 0;
  },
};

const SUBCOMMANDS: Record<string, Command> = { read };

export const returnsCommand: Command = {
  summary: 'retours des organismes : lire et vérifier un message (ARL, RSP, ART, message de service, DSN)',
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === '-h' || sub === '--help') {
      if (sub === undefined) {
        ctx.err('teletrans returns : sous-commande manquante (read).\n');
        return 2;
      }
      await ctx.out(HELP.trimEnd());
      return 0;
    }
    const command = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
    if (!command) {
      ctx.err(`teletrans returns : sous-commande inconnue « ${sub} » (read).\n`);
      return 2;
    }
    return command.run(rest, ctx);
  },
};
