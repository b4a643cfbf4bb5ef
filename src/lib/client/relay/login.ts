/**
 * Logging in to the relay with the CPS (issue 14 item 2; the relay's side is
 * src/lib/server/relay/auth.ts): the relay gives a nonce, the card's authentication key signs
 * SHA-256(origin) ‖ SHA-256(nonce) in the bridge (`card.authenticate`, which binds the origin
 * the session was paired from: ADR 0003), and the relay checks the signature and the card's
 * authentication certificate (CPS-authentication profile, CRLs) before it opens a session. The
 * PIN was verified in the bridge session beforehand; nothing secret passes through the page.
 */
import type { AuthenticationResult } from '../../card/protocol.js';

/** What the login needs of the bridge client (BridgeClient fits). */
export interface RelayLoginCard {
  authenticate(reader: string, nonce: string): Promise<AuthenticationResult>;
  call<T>(method: string, params?: Record<string, unknown>): Promise<T>;
}

export interface RelaySession {
  token: string;
  /** The relay's identifier of the practitioner the card names. */
  practitioner: string;
  /** The mailbox the relay accepts as this practitioner's `From`. */
  from: string;
  expiresAt: number;
}

export class RelayLoginError extends Error {
  constructor(
    /** `unreachable`, `refused` (with the relay's code in `reason`), `protocol`. */
    readonly code: 'unreachable' | 'refused' | 'protocol',
    message: string,
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'RelayLoginError';
  }
}

/** base64url → base64 (the relay's JSON carries standard base64). */
const b64 = (u: string): string => u.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (u.length % 4)) % 4);

const MESSAGES: Record<string, string> = {
  chain: 'le relais refuse le certificat d’authentification de la carte',
  revoked: 'le certificat de la carte est révoqué',
  'unknown-practitioner': 'cette carte ne correspond à aucun praticien configuré sur le relais',
  signature: 'la signature de la carte ne correspond pas',
  nonce: 'le défi du relais a expiré ; réessayez',
};

async function post(fetcher: typeof fetch, url: string, body: unknown): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetcher(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'omit',
    });
  } catch {
    throw new RelayLoginError('unreachable', 'relais injoignable (réseau)');
  }
  let data: Record<string, unknown>;
  try {
    data = (await res.json()) as Record<string, unknown>;
  } catch {
    throw new RelayLoginError('protocol', `réponse illisible du relais (HTTP ${res.status})`);
  }
  if (!res.ok) {
    const reason = typeof data.error === 'string' ? data.error : typeof data.type === 'string' ? data.type : `http-${res.status}`;
    throw new RelayLoginError('refused', `connexion au relais refusée : ${MESSAGES[reason] ?? reason}${typeof data.detail === 'string' ? ` (${data.detail.slice(0, 200)})` : ''}`, reason);
  }
  return data;
}

/** Opens a relay session for the CPS in `reader`. `base`: the relay's URL ('' for this origin). */
export async function relayLogin(o: { fetch?: typeof fetch; base?: string; origin: string; card: RelayLoginCard; reader: string }): Promise<RelaySession> {
  const fetcher = o.fetch ?? fetch;
  const base = `${o.base ?? ''}/api/relay/auth`;
  // The origin goes in the body too: a browser adds the Origin header, other clients may not.
  const challenge = await post(fetcher, `${base}/challenge`, { origin: o.origin });
  if (typeof challenge.nonce !== 'string') throw new RelayLoginError('protocol', 'défi du relais illisible');
  const [signed, certs] = await Promise.all([o.card.authenticate(o.reader, challenge.nonce), o.card.call<{ auth?: string; ca?: string }>('card.certificates', { reader: o.reader })]);
  if (!certs.auth) throw new RelayLoginError('protocol', 'la carte n’a pas de certificat d’authentification');
  const r = await post(fetcher, `${base}/token`, {
    certificate: b64(certs.auth),
    ...(certs.ca ? { intermediates: [b64(certs.ca)] } : {}),
    nonce: challenge.nonce,
    origin: o.origin,
    algorithm: signed.algorithm,
    signature: b64(signed.signature),
  });
  if (typeof r.token !== 'string' || typeof r.practitioner !== 'string' || typeof r.from !== 'string' || typeof r.expiresAt !== 'number') throw new RelayLoginError('protocol', 'session du relais illisible');
  return { token: r.token, practitioner: r.practitioner, from: r.from, expiresAt: r.expiresAt };
}
