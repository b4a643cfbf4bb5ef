/**
 * The bridge's card service, run by the page itself when it reaches the readers (issue 17): the
 * same methods, parameters, results and refusals as the bridge's channel (bridge/server.ts), so
 * that the app's card session does not know which of them serves it. One session: the page.
 *
 * What the bridge enforces holds here too (ADR 0003, issue 24): signatures and authentications
 * only for a session that verified the PIN itself on that card and is not locked (CardSessions);
 * a locked session reads nothing; the authentication and the key derivation are bound to the
 * page's origin; a blocked journal gets no card; the last PIN try is not spent on a PIN typed in
 * the page unless the practitioner confirms it (`confirmLastPinTry`; on a PIN pad it is typed
 * on the reader). The PIN is wiped once sent.
 */
import { CardServiceError, type CardKind, type CardServices } from './services.js';
import { CardSessions } from './sessions.js';
import { CardAbsentError, type CardTransport, type ReaderState, type Transmit } from './transport.js';
import { VirtualCardServices } from './virtual-services.js';
import {
  JOURNAL_BLOCKED_MESSAGE, NONCE_PATTERN, SALT_PATTERN, atRestInput, auditResetInput, authenticationInput, b64u, sha256, unb64u,
} from './protocol.js';

/** A card event as the bridge broadcasts it. */
export interface LocalReaderView {
  name: string;
  present: boolean;
  cardType: CardKind | null;
  pinPad?: boolean;
}

/** What the page journals of its card use (never a PIN, a digest or a card's content). */
export interface LocalCardAudit {
  event: 'pin' | 'signature' | 'authentication' | 'key_derivation' | 'session' | 'journal';
  reader?: string;
  outcome: string;
  detail?: string;
}

export interface LocalCardServiceOptions {
  transport: CardTransport;
  /** The page's origin: what authentications and derived keys are bound to. */
  origin: string;
  services?: CardServices[];
  audit?: (e: LocalCardAudit) => void;
  /** Asks the practitioner before the last PIN try typed in the page; absent: refused. */
  confirmLastPinTry?: (reader: string) => Promise<boolean>;
  /** How recent the PIN must be for the journal's reset authorization, ms (the bridge's: 2 min). */
  resetPinFreshMs?: number;
}

const str = (v: unknown, max = 256): string => {
  if (typeof v !== 'string' || v.length > max) throw new CardServiceError('bad_request', 'paramètre invalide');
  return v;
};

export class LocalCardService {
  private readonly sessions: CardSessions<object>;
  /** This page's session (one: the page itself). */
  private readonly me = {};
  private readonly services: CardServices[];
  private journalBlocked: string | null = null;
  private pinVerifiedAt: number | null = null;
  private readonly listeners = new Set<(ev: string, d: unknown) => void>();
  private readonly onInserted = (r: ReaderState): void => {
    this.sessions.cardGone(r.name);
    this.emit('inserted', this.view(r));
  };
  private readonly onRemoved = (name: string): void => {
    this.sessions.cardGone(name);
    this.emit('removed', { name });
  };

  constructor(private readonly o: LocalCardServiceOptions) {
    this.services = o.services ?? [new VirtualCardServices()];
    this.sessions = new CardSessions(o.transport);
    o.transport.on('inserted', this.onInserted);
    o.transport.on('removed', this.onRemoved);
  }

  get kind(): CardTransport['kind'] {
    return this.o.transport.kind;
  }

  onEvent(l: (ev: string, d: unknown) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private emit(ev: string, d: unknown): void {
    for (const l of [...this.listeners]) l(ev, d);
  }

  private cardKind(atr: Uint8Array | undefined): { kind: CardKind | null; s: CardServices | null } {
    for (const s of this.services) {
      const kind = s.identify(atr);
      if (kind) return { kind, s };
    }
    return { kind: null, s: null };
  }

  private view(r: ReaderState): LocalReaderView {
    return { name: r.name, present: r.present, cardType: r.present ? this.cardKind(r.atr).kind : null, ...(r.pinPad !== undefined ? { pinPad: r.pinPad } : {}) };
  }

  readers(): LocalReaderView[] {
    return this.o.transport.readers().map((r) => this.view(r));
  }

  /** Ends the session: the cards holding its PIN are reset, the transport closed. */
  async close(): Promise<void> {
    this.o.transport.off('inserted', this.onInserted);
    this.o.transport.off('removed', this.onRemoved);
    await this.sessions.end(this.me);
    await this.o.transport.close();
  }

  private audit(e: LocalCardAudit): void {
    try {
      this.o.audit?.(e);
    } catch {
      /* the journal's own failure is the journal's to report */
    }
  }

  private reader(p: Record<string, unknown>): { name: string; kind: CardKind; s: CardServices; pinPad: boolean } {
    const name = str(p.reader);
    const r = this.o.transport.readers().find((x) => x.name === name);
    if (!r) throw new CardServiceError('bad_request', 'lecteur inconnu');
    if (!r.present) throw new CardAbsentError(name);
    const { kind, s } = this.cardKind(r.atr);
    if (!kind || !s) throw new CardServiceError('unsupported', 'carte non reconnue');
    return { name, kind, s, pinPad: r.pinPad === true };
  }

  private unlocked(): void {
    if (this.sessions.isLocked(this.me)) throw new CardServiceError('session_locked', 'session verrouillée : saisissez de nouveau le code porteur');
  }

  private async withSession(r: { name: string; kind: CardKind }, event: 'signature' | 'authentication' | 'key_derivation', op: (tx: Transmit) => Promise<Uint8Array>): Promise<Uint8Array> {
    let ran = false;
    try {
      const sig = await this.o.transport.withCard(r.name, async (tx) => {
        this.sessions.require(this.me, r.name, r.kind);
        ran = true;
        return op(tx);
      });
      this.audit({ event, reader: r.name, outcome: 'done', detail: r.kind });
      return sig;
    } catch (e) {
      const code = e instanceof CardServiceError ? e.code : e instanceof CardAbsentError ? 'card_absent' : 'error';
      this.audit({ event, reader: r.name, outcome: ran ? 'failed' : 'refused', detail: code });
      if (code === 'pin_required' && ran) this.sessions.pinLost(r.name);
      throw e;
    }
  }

  /**
   * One call, as the bridge's channel takes it. `attachment`: the PIN typed in the page for
   * `cps.verifyPin` (ASCII digits), wiped here whatever happens; empty: typed on the pad.
   */
  async call(method: string, p: Record<string, unknown> = {}, attachment: Uint8Array = new Uint8Array(0)): Promise<unknown> {
    try {
      return await this.dispatch(method, p, attachment);
    } finally {
      attachment.fill(0);
    }
  }

  private async dispatch(method: string, p: Record<string, unknown>, attachment: Uint8Array): Promise<unknown> {
    const t = this.o.transport;
    const forReset = method === 'cps.verifyPin' || method === 'journal.authorizeReset';
    if (this.journalBlocked !== null && method !== 'readers' && method !== 'session.lock' && method !== 'journal.report' && !forReset) {
      throw new CardServiceError('journal_blocked', JOURNAL_BLOCKED_MESSAGE);
    }
    const digest = (): Uint8Array => {
      const b = unb64u(str(p.digest, 64));
      if (b.length !== 32) throw new CardServiceError('bad_request', 'empreinte SHA-256 attendue');
      return b;
    };
    switch (method) {
      case 'readers':
        return this.readers();
      case 'journal.report': {
        const state = str(p.state, 16);
        if (state === 'intact') {
          if (this.journalBlocked !== null) this.audit({ event: 'journal', outcome: 'intact' });
          this.journalBlocked = null;
          return { blocked: false };
        }
        const problem = str(p.problem, 40);
        if (state !== 'blocked' || !/^[a-z_]{1,40}$/.test(problem)) throw new CardServiceError('bad_request', 'état du journal invalide');
        if (this.journalBlocked === null) this.audit({ event: 'journal', outcome: 'blocked', detail: problem });
        this.journalBlocked = problem;
        this.pinVerifiedAt = null;
        await this.sessions.lock(this.me);
        return { blocked: true };
      }
      case 'cps.read': {
        this.unlocked();
        const r = this.reader(p);
        return t.withCard(r.name, (tx) => r.s.readCps(tx));
      }
      case 'vitale.read': {
        this.unlocked();
        const r = this.reader(p);
        return t.withCard(r.name, (tx) => r.s.readVitale(tx));
      }
      case 'cps.verifyPin':
        return this.verifyPin(p, attachment);
      case 'cps.sign': {
        const r = this.reader(p);
        if (r.kind !== 'CPS') throw new CardServiceError('bad_request', 'pas une CPS');
        const d = digest();
        return { signature: b64u(await this.withSession(r, 'signature', (tx) => r.s.sign(tx, d))) };
      }
      case 'card.authenticate': {
        if (p.digest !== undefined) throw new CardServiceError('bad_request', 'empreinte refusée : donnez le nonce du relais');
        const nonce = str(p.nonce, 128);
        if (!NONCE_PATTERN.test(nonce)) throw new CardServiceError('bad_request', 'nonce invalide');
        const r = this.reader(p);
        const d = await sha256(await authenticationInput(this.o.origin, nonce));
        return { signature: b64u(await this.withSession(r, 'authentication', (tx) => r.s.authenticate(tx, r.kind, d))), algorithm: 'RS256' };
      }
      case 'card.deriveKey': {
        const salt = str(p.salt, 86);
        if (!SALT_PATTERN.test(salt)) throw new CardServiceError('bad_request', 'sel invalide');
        const r = this.reader(p);
        if (r.kind !== 'CPS') throw new CardServiceError('bad_request', 'pas une CPS');
        const d = await sha256(await atRestInput(this.o.origin, unb64u(salt)));
        return { secret: b64u(await this.withSession(r, 'key_derivation', (tx) => r.s.authenticate(tx, r.kind, d))) };
      }
      case 'journal.authorizeReset': {
        const journal = str(p.journal, 36);
        if (journal !== 'none' && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(journal)) throw new CardServiceError('bad_request', 'journal invalide');
        const r = this.reader(p);
        if (r.kind !== 'CPS') throw new CardServiceError('bad_request', 'pas une CPS');
        const at = this.pinVerifiedAt;
        if (at === null || Date.now() - at > (this.o.resetPinFreshMs ?? 120_000)) {
          throw new CardServiceError('pin_required', 'saisissez le code porteur de la carte pour autoriser la réinitialisation');
        }
        const d = await sha256(await auditResetInput(this.o.origin, journal));
        const sig = await this.withSession(r, 'authentication', (tx) => r.s.authenticate(tx, r.kind, d));
        const certs = await t.withCard(r.name, (tx) => r.s.certificates(tx, r.kind));
        this.audit({ event: 'journal', reader: r.name, outcome: 'reset_authorized' });
        return { signature: b64u(sig), certificate: b64u(certs.auth) };
      }
      case 'session.lock': {
        await this.sessions.lock(this.me);
        this.pinVerifiedAt = null;
        this.audit({ event: 'session', outcome: 'locked' });
        return { locked: true };
      }
      case 'card.certificates': {
        this.unlocked();
        const r = this.reader(p);
        const certs = await t.withCard(r.name, (tx) => r.s.certificates(tx, r.kind));
        return { auth: b64u(certs.auth), sign: certs.sign && b64u(certs.sign), ca: certs.ca && b64u(certs.ca) };
      }
      case 'ssv.status':
        return { available: false, reason: 'la bibliothèque SSV du GIE SESAM-Vitale se charge dans le pont local, pas dans la page' };
      default:
        throw new CardServiceError('bad_request', 'méthode inconnue');
    }
  }

  private async verifyPin(p: Record<string, unknown>, attachment: Uint8Array): Promise<unknown> {
    const t = this.o.transport;
    const onPad = attachment.length === 0;
    const r = this.reader(p);
    if (r.kind !== 'CPS') throw new CardServiceError('bad_request', 'pas une CPS');
    if (onPad && !r.pinPad) throw new CardServiceError('bad_request', 'code porteur attendu : ce lecteur n’a pas de clavier');
    const entry = onPad ? 'pad' : 'typed';
    const epoch = this.sessions.epoch(this.me);
    try {
      if (!onPad) {
        const st = await t.withCard(r.name, (tx) => r.s.pinStatus(tx));
        if (!st.verified && !st.blocked && st.triesLeft === 1) {
          const ok = this.o.confirmLastPinTry ? await this.o.confirmLastPinTry(r.name).catch(() => false) : false;
          this.audit({ event: 'pin', reader: r.name, outcome: ok ? 'last_try_confirmed' : 'last_try_refused', detail: entry });
          if (!ok) {
            throw new CardServiceError('pin_last_try',
              'Il ne reste qu’un essai au code porteur de cette carte : il n’a pas été tenté. Saisissez-le sur le clavier du lecteur, ou confirmez ce dernier essai ; sinon faites débloquer la carte.');
          }
        }
      }
      const res = await t.withCard(r.name, (tx, pad) => {
        if (!onPad) return r.s.verifyPin(tx, attachment);
        if (!pad) throw new CardServiceError('bad_request', 'code porteur attendu : ce lecteur n’a pas de clavier');
        return r.s.verifyPinOnPad(tx, pad);
      });
      this.audit({ event: 'pin', reader: r.name, outcome: res.ok ? 'verified' : res.blocked ? 'blocked' : 'wrong', detail: entry });
      if (res.ok) {
        await this.sessions.verified(this.me, r.name, epoch);
        this.pinVerifiedAt = Date.now();
      } else {
        this.sessions.pinLost(r.name);
      }
      return res;
    } catch (e) {
      if (e instanceof CardServiceError && e.code.startsWith('pin_pad_')) this.audit({ event: 'pin', reader: r.name, outcome: e.code.slice(4), detail: entry });
      throw e;
    }
  }
}
