/** Relay configuration: who may use it, what they may send, and how to reach the mail servers. */
import { mssTlsOptions } from '../mss/tls-policy.js';
import type { MssMailboxConfig } from '../mss/service.js';

export interface TlsPolicyConfig {
  /** `mssante`: TLS ≥ 1.2 restricted to the MSSanté suites (docs/domain/mssante.md); `default`: TLS ≥ 1.2, Node's suites. */
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

/**
 * A Maildir on this machine (new/, cur/, tmp/): the embedded mailbox of `npm start`, where the
 * simulated front end leaves its answers and no mail server runs (issue 15).
 */
export interface MaildirConfig {
  protocol: 'maildir';
  path: string;
  /** Remove after the return is durably stored (default true). */
  removeAfterStore?: boolean;
}

export type MailboxConfig = NetMailboxConfig | MaildirConfig;

export interface NetMailboxConfig {
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

/**
 * How a practitioner's CPS authentication certificate is recognised: by what is unique, never by
 * a common name (two practitioners may share one). `rpps`: the national identifier as the
 * certificate carries it ("<id>/<NAME>" in the CN, where the card's profile puts it; see
 * cpsIdentity in src/lib/pki); or one certificate by `issuer` (RFC 4514 DN) and `serial` (hex). Both may be
 * given: then both must match.
 */
export interface CertificateMatch {
  rpps?: string;
  issuer?: string;
  serial?: string;
}

export interface PractitionerConfig {
  /** The relay's name for the practitioner (sessions, messages, audit). */
  id: string;
  certificateMatch: CertificateMatch;
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
  /**
   * What a card's authentication certificate is (issue 24 defect 2): the CAs that issue
   * practitioner cards (DER; IGC-Santé's "personnes" CA) and the authentication certificate's
   * policy OIDs. Only a leaf issued by one of those CAs under one of those policies, keyUsage
   * exactly digitalSignature, opens a session. Required: without it the relay does not start.
   */
  cardAuthentication: { issuers: Uint8Array[]; policies: string[] };
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
  /** Caps on the bodies of the unauthenticated routes (defaults 1 KiB and 32 KiB): 413 past them. */
  maxChallengeBytes?: number;
  maxTokenBytes?: number;
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
  /** MSSanté (issue 18): the relay holds the operator connections; absent, no /mss routes. */
  mss?: MssRelayConfig;
}

/** MSSanté on this relay (docs/adr/0031). Certificates as DER (base64 in the JSON file). */
export interface MssRelayConfig {
  /** PRO Santé Connect: the real provider's issuer and our client, or the local test provider. */
  psc: { issuer: string; clientId: string; redirectUri: string };
  /** Trust for the operators' servers (PEM); default Node's roots. */
  tls?: { ca?: string | string[]; servername?: string };
  /** DNS servers for the SRV autoconfiguration (default the system's). */
  dnsServers?: string[];
  whitelist: {
    url: string;
    /** Where the last valid signed list is kept (default beside the store). */
    file?: string;
    refreshMs?: number;
    anchors: Uint8Array[];
    intermediates?: Uint8Array[];
    crls?: Uint8Array[];
    /** The agency's SERV_S/MIME certificate as the serv-smime profile describes it. */
    signer: { issuers: Uint8Array[]; policies: string[]; subject: string };
  };
  mailboxes: MssMailboxConfig[];
  /** Folder of the encrypted refresh tokens, and their key (32 bytes base64; default a 0600 file beside it). */
  tokenDir: string;
  tokenKey?: string;
}

/** Normal form of a certificate serial for comparisons: the number in lowercase hex, no leading zeros. */
export function normalSerial(hex: string): string {
  return hex.toLowerCase().replace(/[^0-9a-f]/g, '').replace(/^0+(?=.)/, '');
}

/** Normal form of a DN string for comparisons: case and spaces around separators folded. */
export function normalDn(dn: string): string {
  return dn.normalize('NFKC').toLowerCase().replace(/\s*([,=+])\s*/g, '$1').replace(/\s+/g, ' ').trim();
}

/**
 * Refuses a configuration whose practitioners cannot be told apart: each needs a unique
 * identifier (`rpps`, or `issuer` with `serial`); the former `cn` / `email` matches are refused
 * with a message saying why (neither is unique).
 */
/** Refuses, at start, a relay that could not tell a card from any other certificate. */
export function checkCardAuthentication(c: RelayConfig['cardAuthentication'] | undefined): void {
  if (!c || !Array.isArray(c.issuers) || c.issuers.length === 0 || !Array.isArray(c.policies) || c.policies.length === 0) {
    throw new Error('relay config: cardAuthentication needs the card-issuing CAs (issuers) and the authentication policy OIDs (policies)');
  }
  for (const o of c.policies) if (typeof o !== 'string' || !/^[0-2](\.(0|[1-9]\d*))+$/.test(o)) throw new Error(`relay config: cardAuthentication.policies: ${JSON.stringify(o)} is not an OID`);
}

export function checkPractitioners(practitioners: readonly PractitionerConfig[]): void {
  const byRpps = new Map<string, string>();
  const byCert = new Map<string, string>();
  const ids = new Set<string>();
  for (const p of practitioners) {
    if (ids.has(p.id)) throw new Error(`relay config: practitioner id ${p.id} appears twice`);
    ids.add(p.id);
    const m = (p.certificateMatch ?? {}) as CertificateMatch & { cn?: unknown; email?: unknown };
    if (m.cn !== undefined || m.email !== undefined) {
      throw new Error(`relay config: practitioner ${p.id}: certificateMatch.cn/email are not unique identities; use rpps (or issuer and serial)`);
    }
    if ((m.issuer === undefined) !== (m.serial === undefined)) {
      throw new Error(`relay config: practitioner ${p.id}: certificateMatch.issuer and serial go together`);
    }
    if (!m.rpps && !m.serial) throw new Error(`relay config: practitioner ${p.id}: certificateMatch needs rpps, or issuer and serial`);
    const dup = (map: Map<string, string>, key: string): void => {
      const other = map.get(key);
      if (other !== undefined) throw new Error(`relay config: practitioners ${other} and ${p.id} match the same certificates`);
      map.set(key, p.id);
    };
    if (m.rpps) dup(byRpps, m.rpps);
    if (m.issuer !== undefined && m.serial !== undefined) dup(byCert, `${normalDn(m.issuer)}|${normalSerial(m.serial)}`);
  }
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
  /** Bodies of the unauthenticated routes: a challenge request is tiny, a token request a certificate or three. */
  maxChallengeBytes: 1024,
  maxTokenBytes: 32 * 1024,
  /** SA2: access history kept at least 12 months; pruned beyond 13 (a month's margin). */
  auditRetentionMs: 396 * 24 * 3600_000,
} as const;

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
    // One policy, the MSSanté module's (suites, curves ≥ 256 bits, TLS 1.3 AES-GCM).
    const m = mssTlsOptions(host, { tls13: true });
    o.ciphers = m.ciphers;
    o.ecdhCurve = m.ecdhCurve;
  }
  return o;
}
