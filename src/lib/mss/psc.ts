/**
 * The client side of PRO Santé Connect sign-in (OpenID Connect, authorization code with PKCE
 * S256), isomorphic: the page runs it with the card services, tests run it in Node. The card
 * step is the provider's: it returns a challenge, the CPS's authentication key signs
 * SHA-256(origin) ‖ SHA-256(nonce) (`authenticationInput`, the same bytes as the relay's
 * login), the provider answers with the redirect carrying the code.
 */
export interface PkcePair {
  verifier: string;
  challenge: string;
}

const b64u = (u: Uint8Array): string => btoa(String.fromCharCode(...u)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

export function randomToken(bytes = 32): string {
  return b64u(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** RFC 7636: a 43-character verifier from 32 random bytes, its S256 challenge. */
export async function pkcePair(): Promise<PkcePair> {
  const verifier = randomToken(32);
  const challenge = b64u(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  return { verifier, challenge };
}

export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  revocation_endpoint?: string;
  card_authentication_endpoint?: string;
}

export interface AuthorizeRequest {
  clientId: string;
  redirectUri: string;
  state: string;
  challenge: string;
  scope?: string;
  nonce?: string;
}

export function authorizeUrl(d: Discovery, r: AuthorizeRequest): string {
  const u = new URL(d.authorization_endpoint);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('client_id', r.clientId);
  u.searchParams.set('redirect_uri', r.redirectUri);
  u.searchParams.set('scope', r.scope ?? 'openid scope_all');
  u.searchParams.set('state', r.state);
  u.searchParams.set('code_challenge', r.challenge);
  u.searchParams.set('code_challenge_method', 'S256');
  if (r.nonce) u.searchParams.set('nonce', r.nonce);
  return u.toString();
}

export interface TokenSet {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  expires_in: number;
  token_type: string;
}

/** The code from the redirect, checked against the state sent (and the issuer, RFC 9207). */
export function codeFromRedirect(redirect: string, state: string, issuer: string): string {
  const u = new URL(redirect);
  if (u.searchParams.get('state') !== state) throw new Error('PRO Santé Connect : réponse d’autorisation sans le bon « state » (refusée).');
  const iss = u.searchParams.get('iss');
  if (iss !== null && iss !== issuer) throw new Error('PRO Santé Connect : réponse d’un autre fournisseur (refusée).');
  const err = u.searchParams.get('error');
  if (err) throw new Error(`PRO Santé Connect : ${u.searchParams.get('error_description') ?? err}`);
  const code = u.searchParams.get('code');
  if (!code) throw new Error('PRO Santé Connect : réponse sans code.');
  return code;
}

export function tokenRequestBody(p: { code: string; verifier: string; clientId: string; redirectUri: string }): URLSearchParams {
  return new URLSearchParams({ grant_type: 'authorization_code', code: p.code, code_verifier: p.verifier, client_id: p.clientId, redirect_uri: p.redirectUri });
}

export function refreshRequestBody(p: { refreshToken: string; clientId: string }): URLSearchParams {
  return new URLSearchParams({ grant_type: 'refresh_token', refresh_token: p.refreshToken, client_id: p.clientId });
}

/** Signs the provider's challenge with the card: the bridge's `card.authenticate`, or a test key. */
export type CardAuthenticator = (challenge: { nonce: string; origin: string }) => Promise<{ certificate: string; signature: string; algorithm: 'RS256' | 'ES256'; intermediates?: string[] }>;

export interface PscClient {
  clientId: string;
  redirectUri: string;
}

async function json<T>(r: Response, what: string): Promise<T> {
  const body = (await r.json().catch(() => ({}))) as Record<string, unknown>;
  if (!r.ok) throw new Error(`PRO Santé Connect (${what}) : ${String(body.error_description ?? body.error ?? r.status)}`);
  return body as T;
}

/** The whole sign-in: discovery, PKCE, the card's authentication at the provider, the code for tokens. */
export async function signInWithCard(issuer: string, client: PscClient, card: CardAuthenticator, fetcher: typeof fetch = fetch): Promise<TokenSet> {
  const d = await json<Discovery>(await fetcher(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`), 'découverte');
  if (d.issuer !== issuer.replace(/\/$/, '')) throw new Error('PRO Santé Connect : l’émetteur annoncé n’est pas celui configuré.');
  if (!d.card_authentication_endpoint) throw new Error('PRO Santé Connect : pas de point d’authentification par carte.');
  const { verifier, challenge } = await pkcePair();
  const state = randomToken(16);
  const ch = await json<{ request: string; nonce: string; origin: string }>(await fetcher(authorizeUrl(d, { clientId: client.clientId, redirectUri: client.redirectUri, state, challenge })), 'autorisation');
  const signed = await card({ nonce: ch.nonce, origin: ch.origin });
  const body = new URLSearchParams({ request: ch.request, certificate: signed.certificate, signature: signed.signature, algorithm: signed.algorithm });
  if (signed.intermediates?.length) body.set('intermediates', signed.intermediates.join(','));
  const { redirect } = await json<{ redirect: string }>(await fetcher(d.card_authentication_endpoint, { method: 'POST', body }), 'carte');
  const code = codeFromRedirect(redirect, state, d.issuer);
  return json<TokenSet>(await fetcher(d.token_endpoint, { method: 'POST', body: tokenRequestBody({ code, verifier, clientId: client.clientId, redirectUri: client.redirectUri }) }), 'jeton');
}
