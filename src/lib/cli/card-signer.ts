/**
 * The CPS signature for the command line, through the card bridge (ADR 0012): the command line
 * is one more paired client of the bridge, with its own origin (`teletrans-cli://localhost`,
 * which an administrator allows once), its pairing kept in a file only its owner can read
 * (src/lib/cli/pairing-file.ts), the PIN typed without echo on this terminal, read from
 * standard input (`--pin-stdin`, for scripts) or typed on the reader's PIN pad (`--pin-pad`).
 * The bridge then serves signatures to this session exactly as to a page (ADR 0003): the PIN
 * verified by this session, on the card now in the reader. The PIN is never stored, printed or
 * logged; its bytes are wiped once sent.
 */
import WebSocket from 'ws';
import { CLI_ORIGIN, type PinResult } from '../card/protocol.js';
import { BridgeClient, BridgeError, type SocketLike } from '../client/card/client.js';
import { bridgeSigner } from '../client/billing/bridge-signer.js';
import type { InvoiceSigner } from '../billing/ssv/types.js';
import { FilePairingKeyStore, PairingFileError } from './pairing-file.js';
import { CliError, type Context } from './context.js';

export type PinSource = 'tty' | 'stdin' | 'pad';

export interface CardSignerOptions {
  url: string;
  /** Reader name; default the only reader holding a CPS. */
  reader?: string;
  pin: PinSource;
  pairingPath: string;
}

export interface CardSession {
  signer: InvoiceSigner;
  reader: string;
  close(): void;
}

interface ReaderView {
  name: string;
  present: boolean;
  cardType: string | null;
  pinPad?: boolean;
}

const PIN = /^\d{4,8}$/;

/** The first line of standard input, as bytes (the PIN of `--pin-stdin`). */
async function pinFromStdin(ctx: Context): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of ctx.stdin) {
    const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    chunks.push(b);
    size += b.length;
    if (size > 64 || b.includes(0x0a)) break;
  }
  const all = Buffer.concat(chunks);
  chunks.forEach((c) => c.fill(0));
  const end = all.indexOf(0x0a);
  let line = all.subarray(0, end < 0 ? all.length : end);
  if (line.at(-1) === 0x0d) line = line.subarray(0, line.length - 1);
  const pin = new Uint8Array(line);
  all.fill(0);
  return pin;
}

const NO_TTY = 'pas de terminal pour taper le code porteur : --pin-stdin (scripts), --pin-pad (lecteur à clavier), ou --test-key (démonstrations)';

/** Whether the PIN can be typed on this terminal without echo. */
export function canAskPin(ctx: Context): boolean {
  const input = ctx.stdin as NodeJS.ReadStream;
  return input.isTTY === true && typeof input.setRawMode === 'function';
}

/** Fails at once, before any connection, when the PIN could not be asked. */
export function checkPinSource(source: PinSource, ctx: Context): void {
  if (source === 'tty' && !canAskPin(ctx)) throw new CliError('usage', NO_TTY);
}

/** Reads the PIN on the terminal, echoing nothing (raw mode); Ctrl-C or Ctrl-D abandons. */
function pinFromTty(ctx: Context): Promise<Uint8Array> {
  const input = ctx.stdin as NodeJS.ReadStream;
  if (!canAskPin(ctx)) return Promise.reject(new CliError('usage', NO_TTY));
  ctx.err('Code porteur de la CPS (rien ne s’affiche) : ');
  return new Promise((resolve, reject) => {
    const typed: number[] = [];
    const done = (e?: Error): void => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      ctx.err('\n');
      const pin = new Uint8Array(typed);
      typed.fill(0);
      if (e) reject(e);
      else resolve(pin);
    };
    const onData = (d: Buffer): void => {
      for (const b of d) {
        if (b === 0x03 || b === 0x04) return done(new CliError('usage', 'saisie du code porteur abandonnée'));
        if (b === 0x0d || b === 0x0a) return done();
        if (b === 0x7f || b === 0x08) typed.pop();
        else if (typed.length < 16) typed.push(b);
      }
      d.fill(0);
    };
    input.setRawMode(true);
    input.resume();
    input.on('data', onData);
  });
}

async function readPin(source: Exclude<PinSource, 'pad'>, ctx: Context): Promise<Uint8Array> {
  const pin = source === 'stdin' ? await pinFromStdin(ctx) : await pinFromTty(ctx);
  if (!PIN.test(new TextDecoder().decode(pin))) {
    pin.fill(0);
    throw new CliError('usage', 'code porteur invalide : 4 à 8 chiffres attendus');
  }
  return pin;
}

function bridgeFailure(e: unknown, url: string): CliError {
  if (e instanceof PairingFileError) return new CliError(e.code, e.message);
  const code = e instanceof BridgeError ? e.code : 'error';
  if (code === 'unreachable' || code === 'closed') {
    return new CliError('bridge_unreachable', `pont de cartes injoignable à ${url} : lancez « teletrans bridge » et autorisez l’origine ${CLI_ORIGIN} (« teletrans bridge origins add ${CLI_ORIGIN} »)`);
  }
  return new CliError(`bridge_${code}`.slice(0, 40), `pont de cartes : ${(e as Error).message}`);
}

/**
 * Opens a session with the bridge (pairing first if this user has none, approved on the
 * bridge's terminal), finds the CPS, verifies the PIN in this session, and returns the signer.
 */
export async function openCardSession(o: CardSignerOptions, ctx: Context): Promise<CardSession> {
  const keys = new FilePairingKeyStore(o.pairingPath);
  const make = (): BridgeClient =>
    new BridgeClient({
      url: o.url,
      origin: CLI_ORIGIN,
      keys,
      createSocket: (u) => new WebSocket(u, { origin: CLI_ORIGIN, maxPayload: 1 << 20 }) as unknown as SocketLike,
    });
  let client = make();
  try {
    let paired = (await keys.get()) !== null;
    if (paired) {
      try {
        await client.connect();
      } catch (e) {
        // The bridge no longer knows this pairing (revoked, new state directory): ask again.
        if (!(e instanceof BridgeError) || e.code !== '4401') throw e;
        ctx.err('teletrans : le pont ne reconnaît plus cet appairage ; nouvel appairage.\n');
        paired = false;
        client = make();
      }
    }
    if (!paired) {
      await client.pair((code) => ctx.err(`teletrans : appairage avec le pont de cartes — code ${code}. Vérifiez que le pont affiche le même code, puis approuvez-le sur son terminal.\n`));
      await client.connect();
    }
  } catch (e) {
    client.close();
    throw e instanceof CliError ? e : bridgeFailure(e, o.url);
  }
  try {
    const readers = await client.call<ReaderView[]>('readers');
    const cps = readers.filter((r) => r.present && r.cardType === 'CPS');
    const reader = o.reader ?? (cps.length === 1 ? cps[0]!.name : undefined);
    if (reader === undefined) {
      throw new CliError('card_absent', cps.length === 0 ? 'aucune carte CPS dans les lecteurs du pont' : `plusieurs cartes CPS (${cps.map((r) => r.name).join(', ')}) : préciser --reader`);
    }
    const view = readers.find((r) => r.name === reader);
    if (!view) throw new CliError('card_absent', `lecteur « ${reader} » inconnu du pont (${readers.map((r) => r.name).join(', ') || 'aucun'})`);
    if (view.cardType !== 'CPS') throw new CliError('card_absent', `pas de carte CPS dans le lecteur « ${reader} »`);
    if (o.pin === 'pad' && !view.pinPad) throw new CliError('usage', `le lecteur « ${reader} » n’a pas de clavier : code porteur sur ce terminal, ou --pin-stdin`);
    if (o.pin === 'pad') ctx.err(`Tapez le code porteur sur le clavier du lecteur « ${reader} ».\n`);
    const pin = o.pin === 'pad' ? undefined : await readPin(o.pin, ctx);
    let result: PinResult;
    try {
      result = await client.verifyPin(reader, pin);
    } finally {
      pin?.fill(0);
    }
    if (!result.ok) {
      const left = result.triesLeft;
      throw new CliError('pin_refused', result.blocked ? 'carte CPS bloquée' : `code porteur refusé (${left} essai${left > 1 ? 's' : ''} restant${left > 1 ? 's' : ''})`);
    }
    return { signer: bridgeSigner(client, reader), reader, close: () => client.close() };
  } catch (e) {
    client.close();
    throw e instanceof CliError ? e : bridgeFailure(e, o.url);
  }
}
