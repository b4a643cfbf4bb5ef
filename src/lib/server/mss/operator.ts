/**
 * The relay's connection to an MSSanté operator's "API LPS" (mssante.md § Connecting):
 * submission by SMTP with STARTTLS (587), under the MSSanté TLS policy (tls-policy.ts), with
 * - personal and organisational mailboxes: SASL XOAUTH2 and the PRO Santé Connect access
 *   token, in one step (SASL-IR): base64("user=" + address + "\x01auth=Bearer " + token + "\x01\x01");
 * - application mailboxes: the structure's TLS client certificate, then SASL PLAIN.
 * Failures become MssOperatorError with a stable code and a French sentence for the
 * practitioner (the operator's reply kept for the trace, never a message body).
 */
import { SmtpConnection, SmtpError, SmtpPool, type Envelope, type SendResult } from '../relay/smtp-client.js';

export { xoauth2InitialResponse } from '../relay/smtp-client.js';
import { ImapConnection, ImapError } from './imap-client.js';
import { checkTlsSocket, mssTlsOptions, type MssTlsOptions } from './tls-policy.js';

export interface OperatorEndpoint {
  host: string;
  port: number;
}

export interface OperatorConfig {
  submission: OperatorEndpoint;
  imap: OperatorEndpoint;
  /** Trust for the operator's server certificates, expected name. */
  tls: Pick<MssTlsOptions, 'ca' | 'servername' | 'tls13'>;
  connectionTimeoutMs?: number;
  socketTimeoutMs?: number;
}

export type MailboxCredentials =
  | { kind: 'xoauth2'; address: string; accessToken: string }
  | { kind: 'application'; address: string; password: string; cert: string; key: string };

export type OperatorErrorCode = 'auth_failed' | 'tls_refused' | 'unreachable' | 'timeout' | 'recipient_refused' | 'message_refused' | 'protocol';

export class MssOperatorError extends Error {
  constructor(
    readonly code: OperatorErrorCode,
    message: string,
    /** The server's reply (status line), for the trace. */
    readonly reply?: string,
  ) {
    super(message);
    this.name = 'MssOperatorError';
  }
}

const APPLICATION_REFUSED = 'L’opérateur MSSanté a refusé la boîte applicative : le certificat de la structure ou son mot de passe n’est pas accepté.';

/** SMTP failures → what the practitioner reads. */
export function fromSmtpError(e: unknown, kind: MailboxCredentials['kind'] = 'xoauth2'): MssOperatorError {
  if (e instanceof MssOperatorError) return e;
  if (!(e instanceof SmtpError)) return new MssOperatorError('protocol', 'Erreur inattendue avec le serveur de l’opérateur MSSanté.');
  const reply = e.response?.split('\n').pop();
  switch (e.code) {
    case 'EAUTH':
      if (kind === 'application') return new MssOperatorError('auth_failed', APPLICATION_REFUSED, reply);
      return new MssOperatorError('auth_failed', e.responseCode === 535
        ? 'L’opérateur MSSanté a refusé l’authentification (535 5.7.8) : la session PRO Santé Connect a expiré ou n’est plus valide. Reconnectez-vous avec votre carte.'
        : `L’opérateur MSSanté a refusé l’authentification (${e.responseCode ?? '?'}).`, reply);
    case 'ETLS':
      return new MssOperatorError('tls_refused', `Connexion refusée : le serveur de l’opérateur ne respecte pas la politique TLS de MSSanté (${e.message.replace(/^TLS: /, '')}).`, reply);
    case 'ETIMEDOUT':
      return new MssOperatorError('timeout', 'Le serveur de l’opérateur MSSanté ne répond pas : le message reste dans la boîte d’envoi.', reply);
    case 'ECONNECTION':
      return new MssOperatorError('unreachable', 'Le serveur de l’opérateur MSSanté est injoignable : le message reste dans la boîte d’envoi.', reply);
    case 'EENVELOPE':
      return new MssOperatorError('recipient_refused', `L’opérateur a refusé un destinataire : ${reply ?? ''}`.trim(), reply);
    case 'EMESSAGE':
      return new MssOperatorError('message_refused', `L’opérateur a refusé le message : ${reply ?? ''}`.trim(), reply);
    default:
      return new MssOperatorError('protocol', `Dialogue SMTP inattendu avec l’opérateur (${e.command}).`, reply);
  }
}

/** Opens an authenticated submission session (STARTTLS, policy checked, then SASL). */
export async function openSubmission(cfg: OperatorConfig, creds: MailboxCredentials): Promise<SmtpConnection> {
  const tls = mssTlsOptions(cfg.submission.host, { ...cfg.tls, ...(creds.kind === 'application' ? { cert: creds.cert, key: creds.key } : {}) });
  try {
    return await SmtpConnection.open({
      host: cfg.submission.host, port: cfg.submission.port, security: 'starttls', tls, checkTls: checkTlsSocket,
      auth: creds.kind === 'xoauth2' ? { user: creds.address, accessToken: creds.accessToken } : { user: creds.address, pass: creds.password },
      connectionTimeoutMs: cfg.connectionTimeoutMs ?? 15_000, socketTimeoutMs: cfg.socketTimeoutMs ?? 60_000,
    });
  } catch (e) {
    throw fromSmtpError(e, creds.kind);
  }
}

/**
 * A few authenticated submission sessions kept open for one mailbox (messages sent in a row
 * share them: one TLS handshake and one SASL exchange per session, not per message). Errors
 * come back as SmtpError: map them with fromSmtpError.
 */
export function submissionPool(cfg: OperatorConfig, creds: MailboxCredentials, size: number): SmtpPool {
  const tls = mssTlsOptions(cfg.submission.host, { ...cfg.tls, ...(creds.kind === 'application' ? { cert: creds.cert, key: creds.key } : {}) });
  return new SmtpPool({
    host: cfg.submission.host, port: cfg.submission.port, security: 'starttls', tls, checkTls: checkTlsSocket,
    auth: creds.kind === 'xoauth2' ? { user: creds.address, accessToken: creds.accessToken } : { user: creds.address, pass: creds.password },
    connectionTimeoutMs: cfg.connectionTimeoutMs ?? 15_000, socketTimeoutMs: cfg.socketTimeoutMs ?? 60_000,
  }, size);
}

/** Submits one message on a new session and closes it. A partial acceptance is reported, not hidden. */
export async function submit(cfg: OperatorConfig, creds: MailboxCredentials, env: Envelope, raw: Uint8Array): Promise<SendResult> {
  const c = await openSubmission(cfg, creds);
  try {
    return await c.send(env, raw);
  } catch (e) {
    throw fromSmtpError(e, creds.kind);
  } finally {
    await c.close().catch(() => undefined);
  }
}

/** IMAP failures → what the practitioner reads. */
export function fromImapError(e: unknown, kind: MailboxCredentials['kind'] = 'xoauth2'): MssOperatorError {
  if (e instanceof MssOperatorError) return e;
  if (!(e instanceof ImapError)) return new MssOperatorError('protocol', 'Erreur inattendue avec le serveur de l’opérateur MSSanté.');
  switch (e.code) {
    case 'EAUTH':
      if (kind === 'application') return new MssOperatorError('auth_failed', APPLICATION_REFUSED, e.response);
      return new MssOperatorError('auth_failed', /Authentication failed/i.test(e.response ?? '')
        ? 'L’opérateur MSSanté a refusé l’authentification (NO Authentication failed) : la session PRO Santé Connect a expiré ou n’est plus valide. Reconnectez-vous avec votre carte.'
        : `L’opérateur MSSanté a refusé l’authentification (${e.response ?? e.message}).`, e.response);
    case 'ETLS':
      return new MssOperatorError('tls_refused', `Connexion refusée : le serveur de l’opérateur ne respecte pas la politique TLS de MSSanté (${e.message.replace(/^TLS: /, '')}).`, e.response);
    case 'ETIMEDOUT':
      return new MssOperatorError('timeout', 'Le serveur de l’opérateur MSSanté ne répond pas.', e.response);
    case 'ECONNECTION':
      return new MssOperatorError('unreachable', 'Le serveur de l’opérateur MSSanté est injoignable.', e.response);
    default:
      return new MssOperatorError('protocol', `Dialogue IMAP inattendu avec l’opérateur (${e.command}).`, e.response);
  }
}

/** Opens an authenticated IMAP session (STARTTLS on 143, policy checked, XOAUTH2 or certificate + PLAIN). */
export async function openMailbox(cfg: OperatorConfig, creds: MailboxCredentials): Promise<ImapConnection> {
  try {
    return await ImapConnection.open(
      { host: cfg.imap.host, port: cfg.imap.port, tls: { ...cfg.tls, ...(creds.kind === 'application' ? { cert: creds.cert, key: creds.key } : {}) },
        connectionTimeoutMs: cfg.connectionTimeoutMs, socketTimeoutMs: cfg.socketTimeoutMs },
      creds.kind === 'xoauth2' ? { kind: 'xoauth2', user: creds.address, accessToken: creds.accessToken } : { kind: 'plain', user: creds.address, password: creds.password },
    );
  } catch (e) {
    throw fromImapError(e, creds.kind);
  }
}
