/**
 * The page's side of MSSanté (docs/adr/0031): the relay holds the operator connections and the
 * PRO Santé Connect tokens; the page asks with its relay session, and signs the provider's
 * challenge with the CPS through the bridge (the same `card.authenticate` as the relay's login:
 * the bridge binds the origin it was paired from). Errors are values with a French message.
 */
import type { AuthenticationResult } from '../../card/protocol.js';
import type { InboxEntryWire } from './types.js';

export interface MssCard {
  authenticate(reader: string, nonce: string): Promise<AuthenticationResult>;
  call<T>(method: string, params?: Record<string, unknown>): Promise<T>;
}

export interface MssStatus {
  address: string;
  kind: 'personal' | 'organisational' | 'application';
  signedIn: boolean;
  whitelist: { available: boolean; generatedAt?: string; stale?: boolean; domains?: string[] };
}

export class MssClientError extends Error {
  constructor(readonly code: string, message: string, readonly status = 0) {
    super(message);
    this.name = 'MssClientError';
  }
}

/** base64url → base64 (the relay's JSON carries standard base64). */
const b64 = (u: string): string => u.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (u.length % 4)) % 4);

export interface MssApiOptions {
  base: string;
  token: () => string | null;
  fetch?: typeof fetch;
}

export function mssApi(o: MssApiOptions) {
  const f = o.fetch ?? fetch;
  async function call(method: string, path: string, body?: BodyInit, type?: string): Promise<Response> {
    const token = o.token();
    if (!token) throw new MssClientError('no_session', 'Connectez-vous d’abord au relais avec votre carte.');
    let r: Response;
    try {
      r = await f(`${o.base}/api/relay/mss${path}`, {
        method, credentials: 'omit', body,
        headers: { authorization: `Bearer ${token}`, ...(type ? { 'content-type': type } : {}) },
      });
    } catch {
      throw new MssClientError('offline', 'Relais injoignable : hors connexion.');
    }
    if (!r.ok) {
      const j = (await r.json().catch(() => ({}))) as { error?: string; detail?: string };
      throw new MssClientError(j.error ?? `http-${r.status}`, j.detail ?? `Le relais a répondu ${r.status}.`, r.status);
    }
    return r;
  }
  const json = async <T>(method: string, path: string, body?: unknown): Promise<T> =>
    (await (await call(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? undefined : 'application/json')).json()) as T;

  return {
    status: () => json<MssStatus>('GET', '/status'),
    /** PRO Santé Connect with the card: the relay starts, the card signs, the relay finishes. */
    async signIn(card: MssCard, reader: string): Promise<{ address: string; expiresAt: number }> {
      const ch = await json<{ request: string; nonce: string; origin: string }>('POST', '/signin/start');
      const [signed, certs] = await Promise.all([card.authenticate(reader, ch.nonce), card.call<{ auth?: string; ca?: string }>('card.certificates', { reader })]);
      if (!certs.auth) throw new MssClientError('card', 'La carte n’a pas de certificat d’authentification.');
      return json('POST', '/signin/finish', { certificate: b64(certs.auth), ...(certs.ca ? { intermediates: [b64(certs.ca)] } : {}), algorithm: signed.algorithm, signature: b64(signed.signature) });
    },
    signOut: () => json<{ signedOut: boolean }>('POST', '/signout'),
    inbox: async (): Promise<InboxEntryWire[]> => (await json<{ messages: InboxEntryWire[] }>('GET', '/inbox')).messages,
    async message(uid: number): Promise<Uint8Array> {
      return new Uint8Array(await (await call('GET', `/messages/${uid}`)).arrayBuffer());
    },
    send: (raw: Uint8Array) => call('POST', '/messages', raw as BodyInit, 'message/rfc822').then((r) => r.json() as Promise<{ accepted: string[]; rejected: Array<{ address: string; response: string }>; messageId: string }>),
  };
}

export type MssApi = ReturnType<typeof mssApi>;
