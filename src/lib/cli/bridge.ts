/**
 * `teletrans bridge`: the local card bridge (bridge/). Node-only.
 *
 *   teletrans bridge [--port N] [--simulated-cards [--demo-dir DIR]] [--allow-origin URL]… [--state-dir DIR] [--dev]
 *   teletrans bridge pairings            list the paired origins
 *   teletrans bridge revoke <keyId|origin>   the running bridge closes their sessions at once
 *   teletrans bridge origins [add URL | remove URL]   the origins allowed to ask for a pairing
 *   teletrans bridge log [N]             the last N log lines (sessions, pairings)
 *
 * `--allow-origin` saves the origin in the state directory (allowed-origins.json), so a
 * deployed origin stays allowed across restarts; see bridge/README.md. With no origin saved the
 * bridge allows none, except in development mode (`--dev` or TELETRANS_BRIDGE_DEV=1), where the
 * local development origins (DEV_ORIGINS) are allowed.
 *
 * Pairing is approved on this terminal: the bridge prints the origin and a 6-digit code, the
 * page shows a code too; the practitioner types « oui » only if both codes are the same.
 */
import { createInterface } from 'node:readline';
import type { Command } from './main.js';
import type { Context } from './context.js';
async function effectiveOriginsOf(dir: string, dev: boolean): Promise<string[]> {
  const { OriginStore } = await import('../../../bridge/state.js');
  const { effectiveOrigins } = await import('../../../bridge/server.js');
  return effectiveOrigins(new OriginStore(dir), { dev });
}

const NO_ORIGIN =
  'aucune : le pont n’accepte aucune page (enregistrez l’origine de l’application avec « teletrans bridge origins add URL », ou lancez le pont avec --dev pour le développement)';

/** `teletrans bridge origins [add URL | remove URL]`. */
async function originsCommand(args: string[], dir: string, dev: boolean, ctx: Context): Promise<number> {
  const { AuditLog, OriginStore, PairingStore } = await import('../../../bridge/state.js');
  const store = new OriginStore(dir);
  const [verb, value] = args;
  if (verb === undefined) {
    const saved = store.entries();
    if (!saved.length) {
      const effective = await effectiveOriginsOf(dir, dev);
      await ctx.out(
        effective.length
          ? `Aucune origine enregistrée ; mode développement, origines acceptées : ${effective.join(', ')}`
          : `Aucune origine enregistrée ; origines acceptées : ${NO_ORIGIN}.`,
      );
    }
    for (const e of saved) await ctx.out(`${e.origin}  autorisée le ${e.addedAt}`);
    return 0;
  }
  if ((verb !== 'add' && verb !== 'remove') || !value || args.length > 2) {
    ctx.err('teletrans bridge origins : « add URL » ou « remove URL » attendu.\n');
    return 2;
  }
  const audit = new AuditLog(dir);
  if (verb === 'add') {
    const r = store.add(value);
    if (!r.ok) {
      ctx.err(`teletrans bridge origins : « ${value} » refusée : ${r.message}.\n`);
      return 2;
    }
    if (r.added) audit.write({ event: 'origin', origin: r.origin, outcome: 'allowed', detail: 'admin command' });
    await ctx.out(r.added ? `Origine autorisée : ${r.origin}` : `Déjà autorisée : ${r.origin}`);
    return 0;
  }
  const removed = store.remove(value);
  if (!removed) {
    await ctx.out('Cette origine ne figure pas dans la liste enregistrée.');
    return 1;
  }
  // Its pairing keys serve nothing any more: erase them (G2); the running bridge closes its sessions.
  const gone = new PairingStore(dir).revoke(removed);
  audit.write({ event: 'origin', origin: removed, outcome: 'removed', detail: 'admin command' });
  for (const g of gone) audit.write({ event: 'pairing', origin: g.origin, keyId: g.keyId, outcome: 'revoked', detail: 'origin removed' });
  await ctx.out(`Origine retirée : ${removed}${gone.length ? ` ; ${gone.length} appairage(s) révoqué(s)` : ''}.`);
  return 0;
}

const HELP = `Usage : teletrans bridge [--port N] [--simulated-cards [--demo-dir DIR]] [--allow-origin URL]… [--state-dir DIR] [--dev]
        teletrans bridge pairings | revoke <identifiant|origine> | log [N]
        teletrans bridge origins [add URL | remove URL]

Pont local entre les lecteurs de cartes (PC/SC) et l'application Teletrans, sur 127.0.0.1
(port 7523 par défaut). Une nouvelle origine web n'est acceptée qu'après votre accord, donné
ici en comparant le code affiché par le pont et par la page.

Options :
  --port N            port d'écoute sur 127.0.0.1 (défaut 7523)
  --simulated-cards   cartes CPS et Vitale virtuelles (fictives) sans pcscd, pour démonstration
  --demo-dir DIR      leurs certificats viennent de la PKI fictive de démonstration du serveur
                      (npm start : data/demo), que le relais reconnaît
  --allow-origin URL  autorise une origine web à demander un appairage, et l'enregistre
                      (répétable ; https:// obligatoire, sauf http://localhost:PORT et
                      http://127.0.0.1:PORT)
  --state-dir DIR     répertoire des appairages et du journal (défaut ~/.config/teletrans-bridge)
  --dev               mode développement (ou TELETRANS_BRIDGE_DEV=1) : tant qu'aucune origine
                      n'est enregistrée, accepte http://localhost et http://127.0.0.1 aux ports
                      5173, 4173 et 3000 ; sans lui, une liste vide n'accepte aucune origine

Commandes :
  pairings            liste les origines appairées
  revoke ID|ORIGINE   révoque un appairage ; le pont en marche ferme aussitôt ses sessions
  origins             liste les origines autorisées (enregistrées ; avec --dev, sinon celles de
                      développement)
  origins add URL     enregistre une origine autorisée
  origins remove URL  retire une origine autorisée et révoque ses appairages
  log [N]             les N dernières entrées du journal

En mode simulé, commandes au terminal : « retirer 0|1 », « insérer cps|cps-infirmier|cps-kine|
cpe|vitale|cps-expiree|cps-bloquee|vitale-expiree 0|1 » (cpe : la carte de l’accueil, qui prépare
sans signer).`;

export const bridgeCommand: Command = {
  summary: 'pont local des lecteurs de cartes CPS et Vitale (PC/SC, canal chiffré)',
  async run(args: string[], ctx: Context): Promise<number> {
    const { PairingStore, AuditLog, OriginStore, checkOrigin, defaultStateDir } = await import('../../../bridge/state.js');
    const { devModeFromEnv } = await import('../../../bridge/server.js');
    let port: number | undefined;
    let simulated = false;
    let dev = devModeFromEnv();
    let stateDir: string | undefined;
    let demoDir: string | undefined;
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
      else if (a === '--dev') dev = true;
      else if (a === '--allow-origin') {
        const v = args[++i] ?? '';
        const c = checkOrigin(v);
        if (!c.ok) {
          ctx.err(`teletrans bridge : --allow-origin « ${v} » refusée : ${c.message}.\n`);
          return 2;
        }
        origins.push(c.origin);
      } else if (a === '--state-dir') stateDir = args[++i];
      else if (a === '--demo-dir') {
        demoDir = args[++i];
        if (!demoDir) {
          ctx.err('teletrans bridge : --demo-dir attend un répertoire.\n');
          return 2;
        }
      }
      else if (a.startsWith('-')) {
        ctx.err(`teletrans bridge : option inconnue « ${a} ».\n\n${HELP}\n`);
        return 2;
      } else rest.push(a);
    }

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
      const audit = new AuditLog(dir);
      if (!gone.length) audit.write({ event: 'pairing', outcome: 'revoke-unknown', detail: 'admin command' });
      for (const g of gone) audit.write({ event: 'pairing', origin: g.origin, keyId: g.keyId, outcome: 'revoked', detail: 'admin command' });
      // The running bridge watches pairings.json and closes the sessions of these keys.
      await ctx.out(gone.length ? `${gone.length} appairage(s) révoqué(s) ; le pont en marche ferme aussitôt leurs sessions ouvertes.` : 'Aucun appairage correspondant.');
      return gone.length ? 0 : 1;
    }
    if (rest[0] === 'origins') return originsCommand(rest.slice(1), dir, dev, ctx);
    if (rest[0] === 'log') {
      const n = Number(rest[1] ?? 50);
      for (const e of new AuditLog(dir).read().slice(-n)) await ctx.out(JSON.stringify(e));
      return 0;
    }
    if (rest.length) {
      ctx.err(`teletrans bridge : argument inattendu « ${rest[0]} ».\n`);
      return 2;
    }
    if (demoDir !== undefined && !simulated) {
      ctx.err('teletrans bridge : --demo-dir ne vaut qu’avec --simulated-cards.\n');
      return 2;
    }
    // Saved, not only for this run: a deployed origin must survive restarts.
    const originStore = new OriginStore(dir);
    for (const o of origins) {
      if (originStore.add(o).added) {
        new AuditLog(dir).write({ event: 'origin', origin: o, outcome: 'allowed', detail: 'admin command' });
        ctx.err(`Origine autorisée et enregistrée : ${o}\n`);
      }
    }

    const { startBridge } = await import('../../../bridge/server.js');
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
      let pki: import('../../../bridge/cards/profiles.js').TestPki;
      if (demoDir !== undefined) {
        // The server's demo PKI (it makes it at start-up): the relay then knows these cards.
        const { readDemoPki } = await import('../server/demo-pki.js');
        const demo = await readDemoPki(demoDir);
        pki = { rootDer: demo.igcRoot.der, caDer: demo.igcCa.der, caKey: demo.igcCa.key };
      } else pki = await profiles.makeTestPki();
      sim = new SimulatedTransport();
      makeCard = async (kind) => {
        switch (kind) {
          case 'cps': return (await profiles.makeCps(pki)).card;
          case 'cps-expiree': return (await profiles.makeCps(pki, { expired: true, serial: '9990000002' })).card;
          case 'cps-bloquee': return (await profiles.makeCps(pki, { blocked: true, serial: '9990000003' })).card;
          case 'cps-infirmier': return (await profiles.makeCps(pki, { profession: 'nurse' })).card;
          case 'cps-kine': return (await profiles.makeCps(pki, { profession: 'physiotherapist' })).card;
          case 'cpe': return (await profiles.makeCps(pki, { profession: 'assistant' })).card;
          case 'vitale': return (await profiles.makeVitale(pki)).card;
          case 'vitale-expiree': return (await profiles.makeVitale(pki, { expired: true, serial: '9990000102' })).card;
          default: return null;
        }
      };
      const names = sim.readers().map((r) => r.name);
      sim.insert(names[0]!, (await makeCard('cps'))!);
      sim.insert(names[1]!, (await makeCard('vitale'))!);
    }

    /** A yes/no question on this terminal: true only for « oui » (or « o ») typed while it stands. */
    const askYes = async (question: string, signal: AbortSignal | undefined, say: { none: string; yes: string; no: string }): Promise<boolean> => {
      // A line typed before this question (a late answer to an expired one) answers nothing.
      lines.length = 0;
      ctx.err(question);
      // Over without an answer (timeout, the page left): the next line is not taken for it.
      const over = new Promise<null>((r) => {
        if (signal?.aborted) r(null);
        signal?.addEventListener('abort', () => r(null), { once: true });
      });
      const line = await Promise.race([nextLine(), over]);
      if (line === null) {
        waiter = null;
        ctx.err(say.none);
        return false;
      }
      const answer = line.trim().toLowerCase();
      const ok = answer === 'oui' || answer === 'o';
      ctx.err(ok ? say.yes : say.no);
      return ok;
    };
    const bridge = await startBridge({
      port,
      transport: sim,
      stateDir: dir,
      // No fixed list: the bridge reads allowed-origins.json at each connection.
      dev,
      log: (l) => ctx.err(`${l}\n`),
      approve: ({ origin, code, signal }) =>
        askYes(`\nDemande d'appairage de ${origin}\nCode : ${code}\nLe même code s'affiche-t-il sur la page ? Tapez « oui » pour accepter, autre chose pour refuser : `, signal,
          { none: '\nDemande d’appairage expirée ou abandonnée par la page.\n', yes: 'Appairage accepté.\n', no: 'Appairage refusé.\n' }),
      confirmLastPinTry: ({ origin, reader, signal }) =>
        askYes(`\nDernier essai du code porteur de la CPS (${reader}) demandé par ${origin}.\nUn code faux bloquerait la carte. Est-ce bien vous qui venez de le saisir ? Tapez « oui » pour le tenter, autre chose pour refuser : `, signal,
          { none: '\nPas de réponse : le dernier essai n’a pas été tenté.\n', yes: 'Dernier essai autorisé.\n', no: 'Dernier essai refusé : la carte n’a rien reçu.\n' }),
    });
    ctx.err(`Pont Teletrans à l'écoute sur ${bridge.url} (${bridge.transport.kind === 'simulated' ? 'cartes simulées' : 'PC/SC'}).\n`);
    ctx.err(`SSV : ${bridge.ssv.reason}.\nÉtat : ${dir}\n`);
    const allowed = await effectiveOriginsOf(dir, dev);
    if (dev) ctx.err('Mode développement : origines locales http:// acceptées tant qu’aucune origine n’est enregistrée.\n');
    ctx.err(`Origines autorisées : ${allowed.length ? allowed.join(', ') : NO_ORIGIN}\n`);

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
