/**
 * `teletrans bridge`: the local card bridge (bridge/). Node-only.
 *
 *   teletrans bridge [--port N] [--simulated-cards] [--allow-origin URL]… [--state-dir DIR]
 *   teletrans bridge pairings            list the paired origins
 *   teletrans bridge revoke <keyId|origin>
 *   teletrans bridge log [N]             the last N log lines (sessions, pairings)
 *
 * Pairing is approved on this terminal: the bridge prints the origin and a 6-digit code, the
 * page shows a code too; the practitioner types « oui » only if both codes are the same.
 */
import { createInterface } from 'node:readline';
import type { Command } from './main.js';
import type { Context } from './context.js';

const HELP = `Usage : teletrans bridge [--port N] [--simulated-cards] [--allow-origin URL]… [--state-dir DIR]
        teletrans bridge pairings | revoke <identifiant|origine> | log [N]

Pont local entre les lecteurs de cartes (PC/SC) et l'application Teletrans, sur 127.0.0.1
(port 7523 par défaut). Une nouvelle origine web n'est acceptée qu'après votre accord, donné
ici en comparant le code affiché par le pont et par la page.

Options :
  --port N            port d'écoute sur 127.0.0.1 (défaut 7523)
  --simulated-cards   cartes CPS et Vitale virtuelles (fictives) sans pcscd, pour démonstration
  --allow-origin URL  origine web autorisée à demander un appairage (répétable)
  --state-dir DIR     répertoire des appairages et du journal (défaut ~/.config/teletrans-bridge)

En mode simulé, commandes au terminal : « retirer 0|1 », « insérer cps|vitale|cps-expiree|
cps-bloquee|vitale-expiree 0|1 ».`;

export const bridgeCommand: Command = {
  summary: 'pont local des lecteurs de cartes CPS et Vitale (PC/SC, canal chiffré)',
  async run(args: string[], ctx: Context): Promise<number> {
    let port: number | undefined;
    let simulated = false;
    let stateDir: string | undefined;
    const origins: string[] = [];
    const rest: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '-h' || a === '--help') {
        await ctx.out(HELP);
        return 0;
      } else if (a === '--port') {
        port = Number(args[++i]);
        if (!Number.isInteger(port) || port < 0 || port > 65535) {
          ctx.err('teletrans bridge : --port attend un numéro de port.\n');
          return 2;
        }
      } else if (a === '--simulated-cards') simulated = true;
      else if (a === '--allow-origin') {
        const v = args[++i];
        if (!v || !/^https?:\/\/[^/]+$/.test(v)) {
          ctx.err('teletrans bridge : --allow-origin attend une origine (ex. https://app.example).\n');
          return 2;
        }
        origins.push(v);
      } else if (a === '--state-dir') stateDir = args[++i];
      else if (a.startsWith('-')) {
        ctx.err(`teletrans bridge : option inconnue « ${a} ».\n\n${HELP}\n`);
        return 2;
      } else rest.push(a);
    }

    const { PairingStore, AuditLog, defaultStateDir } = await import('../../../bridge/state.js');
    const dir = stateDir ?? defaultStateDir();
    if (rest[0] === 'pairings') {
      const list = new PairingStore(dir).list();
      if (!list.length) await ctx.out('Aucune origine appairée.');
      for (const p of list) await ctx.out(`${p.keyId}  ${p.origin}  appairée le ${p.createdAt}${p.lastUsedAt ? `, dernière session ${p.lastUsedAt}` : ''}`);
      return 0;
    }
    if (rest[0] === 'revoke') {
      if (!rest[1]) {
        ctx.err('teletrans bridge revoke : identifiant ou origine attendu.\n');
        return 2;
      }
      const gone = new PairingStore(dir).revoke(rest[1]);
      new AuditLog(dir).write({ event: 'pairing', origin: gone[0]?.origin, outcome: gone.length ? 'revoked' : 'revoke-unknown', detail: 'admin command' });
      await ctx.out(gone.length ? `${gone.length} appairage(s) révoqué(s) ; les sessions ouvertes se ferment au plus tard à leur expiration.` : 'Aucun appairage correspondant.');
      return gone.length ? 0 : 1;
    }
    if (rest[0] === 'log') {
      const n = Number(rest[1] ?? 50);
      for (const e of new AuditLog(dir).read().slice(-n)) await ctx.out(JSON.stringify(e));
      return 0;
    }
    if (rest.length) {
      ctx.err(`teletrans bridge : argument inattendu « ${rest[0]} ».\n`);
      return 2;
    }

    const { startBridge, DEFAULT_ORIGINS } = await import('../../../bridge/server.js');
    const { SimulatedTransport } = await import('../../../bridge/transport.js');
    const rl = createInterface({ input: ctx.stdin, terminal: false });
    const lines: string[] = [];
    let waiter: ((l: string) => void) | null = null;
    const nextLine = (): Promise<string> =>
      new Promise((r) => {
        const l = lines.shift();
        if (l !== undefined) r(l);
        else waiter = r;
      });

    let sim: InstanceType<typeof SimulatedTransport> | undefined;
    let makeCard: ((kind: string) => Promise<import('../../../bridge/cards/card.js').VirtualCard | null>) | undefined;
    if (simulated) {
      const profiles = await import('../../../bridge/cards/profiles.js');
      ctx.err('Préparation des cartes virtuelles (fictives)…\n');
      const pki = await profiles.makeTestPki();
      sim = new SimulatedTransport();
      makeCard = async (kind) => {
        switch (kind) {
          case 'cps': return (await profiles.makeCps(pki)).card;
          case 'cps-expiree': return (await profiles.makeCps(pki, { expired: true, serial: '9990000002' })).card;
          case 'cps-bloquee': return (await profiles.makeCps(pki, { blocked: true, serial: '9990000003' })).card;
          case 'vitale': return (await profiles.makeVitale(pki)).card;
          case 'vitale-expiree': return (await profiles.makeVitale(pki, { expired: true, serial: '9990000102' })).card;
          default: return null;
        }
      };
      const names = sim.readers().map((r) => r.name);
      sim.insert(names[0]!, (await makeCard('cps'))!);
      sim.insert(names[1]!, (await makeCard('vitale'))!);
    }

    const bridge = await startBridge({
      port,
      transport: sim,
      stateDir: dir,
      allowedOrigins: origins.length ? origins : DEFAULT_ORIGINS,
      log: (l) => ctx.err(`${l}\n`),
      approve: async ({ origin, code }) => {
        ctx.err(`\nDemande d'appairage de ${origin}\nCode : ${code}\nLe même code s'affiche-t-il sur la page ? Tapez « oui » pour accepter, autre chose pour refuser : `);
        const answer = (await nextLine()).trim().toLowerCase();
        const ok = answer === 'oui' || answer === 'o';
        ctx.err(ok ? 'Appairage accepté.\n' : 'Appairage refusé.\n');
        return ok;
      },
    });
    ctx.err(`Pont Teletrans à l'écoute sur ${bridge.url} (${bridge.transport.kind === 'simulated' ? 'cartes simulées' : 'PC/SC'}).\n`);
    ctx.err(`SSV : ${bridge.ssv.reason}.\nÉtat : ${dir}\n`);

    rl.on('line', (l) => {
      if (waiter) {
        const w = waiter;
        waiter = null;
        w(l);
        return;
      }
      const m = /^(retirer|insérer|inserer)\s+(?:(\S+)\s+)?([01])$/.exec(l.trim());
      if (!m || !sim || !makeCard) {
        lines.push(l);
        return;
      }
      const reader = sim.readers()[Number(m[3])]!.name;
      if (m[1] === 'retirer') sim.remove(reader);
      else void makeCard(m[2] ?? '').then((c) => (c ? sim!.insert(reader, c) : ctx.err('carte inconnue\n')));
    });

    await new Promise<void>((resolve) => {
      const stop = (): void => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    rl.close();
    await bridge.close();
    return 0;
  },
};
