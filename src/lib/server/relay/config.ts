/** Relay configuration: who may use it, what they may send, and how to reach the mail servers. */

export interface TlsPolicyConfig {
  /** `mssante`: TLS ≥ 1.2 restricted to the MSSanté suites (mssante.md); `default`: TLS ≥ 1.2, Node's suites. */
  policy?: 'default' | 'mssante';
  /** PEM CA certificates trusted for the server (default: Node's bundled roots). */
  ca?: string | string[];
  /** Optional client certificate and key (PEM), e.g. an IGC-Santé "ORG AUTH_CLI". */
  cert?: string;
  key?: string;
  /** Name checked against the server certificate (default: host). */
  servername?: string;
}

export interface SmtpConfig {
  host: string;
  port: number;
  /** `starttls` (required, port 587 style) or `implicit` (port 465 style). */
  security: 'starttls' | 'implicit';
  tls?: TlsPolicyConfig;
  auth?: { user: string; pass?: string; accessToken?: string };
  connectionTimeoutMs?: number;
  /** Time allowed for each server answer, including after the final dot. */
  socketTimeoutMs?: number;
}

export interface MailboxConfig {
  protocol: 'imap' | 'pop3';
  host: string;
  port: number;
  security: 'starttls' | 'implicit';
  tls?: TlsPolicyConfig;
  auth: { user: string; pass?: string; accessToken?: string };
  /** IMAP folder (default INBOX). */
  mailbox?: string;
  /** Remove from the server after the return is durably stored (default true). */
  removeAfterStore?: boolean;
}

export interface PractitionerConfig {
  /** Identifier; also matched against the certificate (CN or e-mail SAN). */
  id: string;
  certificateMatch: { cn?: string; email?: string };
  /** The only accepted From / envelope sender. */
  from: string;
  /** Allowed recipients (exact, lower case) or domains as `@domain`. */
  allowedRecipients: string[];
  mailbox?: MailboxConfig;
}

export interface RelayConfig {
  /** Web origins allowed to authenticate (the PWA's origin). */
  origins: string[];
  /** Trust: DER of the anchors, intermediates and CRLs (IGC-Santé-like). */
  anchors: Uint8Array[];
  intermediates?: Uint8Array[];
  crls?: Uint8Array[];
  /**
   * CRLs to load and keep fresh (crl-sources.ts): file paths or http(s) URLs, DER or PEM,
   * reloaded every `crlRefreshMs` (default 1 h).
   */
  crlSources?: string[];
  crlRefreshMs?: number;
  /** `require` by default: no CRL, no session. */
  revocation?: 'require' | 'if-available' | 'off';
  practitioners: PractitionerConfig[];
  smtp: SmtpConfig;
  maxMessageBytes?: number;
  maxRecipients?: number;
  nonceTtlMs?: number;
  sessionIdleMs?: number;
  sessionMaxMs?: number;
  /** Challenge and token requests per client address (default 60 a minute, bursts of 20). */
  authRateLimit?: { perMinute: number; burst: number };
  delivery?: {
    concurrency?: number;
    leaseMs?: number;
    backoffBaseMs?: number;
    backoffMaxMs?: number;
    maxAttempts?: number;
    pollMs?: number;
  };
  pickup?: { intervalMs?: number };
}

export const DEFAULTS = {
  maxMessageBytes: 10 * 1024 * 1024,
  maxRecipients: 40,
  nonceTtlMs: 5 * 60_000,
  sessionIdleMs: 15 * 60_000,
  sessionMaxMs: 4 * 3600_000,
  concurrency: 4,
  leaseMs: 5 * 60_000,
  backoffBaseMs: 30_000,
  backoffMaxMs: 3600_000,
  maxAttempts: 20,
  pollMs: 500,
  pickupIntervalMs: 5 * 60_000,
  crlRefreshMs: 3600_000,
  authRateLimit: { perMinute: 60, burst: 20 },
  /** SA2: access history kept at least 12 months; pruned beyond 13 (a month's margin). */
  auditRetentionMs: 396 * 24 * 3600_000,
} as const;

/** MSSanté cipher list (IANA 0xC030, 0xC02F, 0xC028, 0xC027, 0x009F, 0x009E) in OpenSSL names. */
export const MSSANTE_CIPHERS = [
  'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-SHA384',
  'ECDHE-RSA-AES128-SHA256', 'DHE-RSA-AES256-GCM-SHA384', 'DHE-RSA-AES128-GCM-SHA256',
].join(':');

/** Node TLS options for a policy: always TLS ≥ 1.2 with the server certificate checked. */
export function tlsOptions(t: TlsPolicyConfig | undefined, host: string): import('node:tls').ConnectionOptions {
  const o: import('node:tls').ConnectionOptions = {
    minVersion: 'TLSv1.2',
    rejectUnauthorized: true,
    servername: t?.servername ?? (/^[\d.]+$|:/.test(host) ? undefined : host),
    minDHSize: 2048,
  };
  if (t?.ca) o.ca = t.ca;
  if (t?.cert) o.cert = t.cert;
  if (t?.key) o.key = t.key;
  if (t?.policy === 'mssante') {
    o.ciphers = MSSANTE_CIPHERS;
    o.ecdhCurve = 'P-256:P-384:P-521:X25519';
  }
  return o;
}
