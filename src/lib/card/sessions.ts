/**
 * The card session, held by the bridge — or by the page when it reaches the reader itself (issue 17) (docs/adr/0003-bridge-holds-card-session.md; SP3, SA4).
 *
 * A session is one paired, encrypted connection. The CPS's security state (its PIN verified) is
 * shared by everybody who talks to the card, so the bridge keeps its own account of who may use
 * it: a session may have the CPS sign or authenticate only while it is unlocked and has verified
 * the PIN itself, on that very card (`verified`). The account is dropped when
 *  - the session ends (socket closed, revoked, idle) or locks (`session.lock` from the page);
 *  - the card leaves the reader, or a wrong PIN clears its state (`pinLost`, `cardGone`).
 * When the last session holding a card's PIN lets go of it, the card is reset (PC/SC
 * SCARD_RESET_CARD): the PIN does not outlive the sessions that typed it.
 */
import type { CardTransport } from './transport.js';
import { CardServiceError, type CardKind } from './services.js';

interface SessionState {
  locked: boolean;
  /** Bumped by every lock: a PIN verification started before it does not count after it. */
  epoch: number;
  ended: boolean;
  /** The release in progress once ended: later callers wait for the same resets. */
  ending?: Promise<string[]>;
}

export class CardSessions<S extends object = object> {
  private readonly state = new Map<S, SessionState>();
  /** Reader → the sessions that verified the PIN on the card now in it. */
  private readonly holders = new Map<string, Set<S>>();
  /** Sessions over: nothing is served to them any more. */
  private readonly over = new WeakSet<S>();

  constructor(
    private readonly transport: CardTransport,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  private get(s: S): SessionState {
    let st = this.state.get(s);
    if (!st) {
      st = { locked: false, epoch: 0, ended: false };
      this.state.set(s, st);
    }
    return st;
  }

  /** Taken when a PIN verification starts; passed back to `verified`. */
  epoch(s: S): number {
    return this.get(s).epoch;
  }

  /**
   * The PIN was verified right in this session on `reader`'s card. Ignored when the session
   * locked or ended since `epoch` was taken (the lock reset the card after the verification).
   */
  async verified(s: S, reader: string, epoch: number): Promise<boolean> {
    const st = this.state.get(s);
    if (!st || st.ended || this.over.has(s) || st.epoch !== epoch) {
      // Too late: the PIN went onto the card after the session let go. Take it off again.
      if (!this.holders.get(reader)?.size) await this.reset([reader]);
      return false;
    }
    st.locked = false;
    let set = this.holders.get(reader);
    if (!set) this.holders.set(reader, (set = new Set()));
    set.add(s);
    return true;
  }

  /** The card's PIN state is gone (a wrong PIN, a blocked PIN): nobody holds it any more. */
  pinLost(reader: string): void {
    this.holders.delete(reader);
  }

  /** The card left the reader (or another took its place). */
  cardGone(reader: string): void {
    this.holders.delete(reader);
  }

  isLocked(s: S): boolean {
    return this.state.get(s)?.locked === true;
  }

  /** Readers whose card holds a PIN this session verified. */
  readersOf(s: S): string[] {
    return [...this.holders].filter(([, set]) => set.has(s)).map(([r]) => r);
  }

  /**
   * Throws unless `s` may use the card in `reader` for a signature or an authentication: a CPS
   * needs the PIN verified in this session on that card; a Vitale (no PIN) needs the session to
   * hold a verified CPS PIN (the practitioner is there). Call it inside `withCard`, right before
   * the command, so that a lock or a close queued earlier is seen.
   */
  require(s: S, reader: string, kind: CardKind): void {
    if (this.over.has(s)) throw new CardServiceError('bad_request', 'session fermée');
    if (this.state.get(s)?.locked) throw new CardServiceError('session_locked', 'session verrouillée : saisissez de nouveau le code porteur');
    const held = kind === 'CPS' ? this.holders.get(reader)?.has(s) === true : this.readersOf(s).length > 0;
    if (!held) throw new CardServiceError('pin_required', 'code porteur non vérifié dans cette session');
  }

  /** The page locked (app lock): refuse until the PIN is verified again. Returns the readers reset. */
  lock(s: S): Promise<string[]> {
    const st = this.get(s);
    st.locked = true;
    st.epoch++;
    return this.release(s);
  }

  /** The session is over (socket closed). Returns the readers reset. */
  end(s: S): Promise<string[]> {
    const ending = this.state.get(s)?.ending;
    if (ending) return ending.then(() => []);
    if (this.over.has(s)) return Promise.resolve([]);
    const st = this.get(s);
    st.ended = true;
    st.epoch++;
    this.over.add(s);
    st.ending = this.release(s).finally(() => this.state.delete(s));
    return st.ending;
  }

  /** Ends every session (the bridge stops). */
  async endAll(): Promise<string[]> {
    const out = await Promise.all([...this.state.keys()].map((s) => this.end(s)));
    return out.flat();
  }

  /** Drops `s` from every card; resets the cards nobody else holds. */
  private async release(s: S): Promise<string[]> {
    const toReset: string[] = [];
    for (const [reader, set] of this.holders) {
      if (!set.delete(s)) continue;
      if (set.size === 0) {
        this.holders.delete(reader);
        toReset.push(reader);
      }
    }
    return this.reset(toReset);
  }

  private async reset(readers: string[]): Promise<string[]> {
    const done: string[] = [];
    await Promise.all(
      readers.map(async (reader) => {
        try {
          await this.transport.resetCard(reader);
          done.push(reader);
        } catch (e) {
          // The card went away meanwhile: its state went with it.
          this.log(`remise à zéro de la carte (${reader}) impossible : ${(e as Error).message}`);
        }
      }),
    );
    return done;
  }
}
