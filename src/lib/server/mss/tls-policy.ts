/**
 * The MSSanté operators' TLS policy (mssante.md § Connecting): TLS 1.2 at least (1.3 allowed),
 * on TLS 1.2 exactly six suites — all ECDHE/DHE with RSA, so forward secrecy — DH ≥ 2048 bits,
 * ECDH ≥ 256 bits; nothing else is negotiated. It is offered (ciphers, curves, versions) AND
 * checked on the session actually negotiated, before a byte of the protocol goes over it:
 * a server that somehow settles on anything else is refused.
 */
import type tls from 'node:tls';

/** The six suites, OpenSSL names, in the order of mssante.md (IANA 0xC030, 0xC02F, 0xC028, 0xC027, 0x009F, 0x009E). */
export const MSS_TLS12_SUITES = [
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-SHA384',
  'ECDHE-RSA-AES128-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-AES128-GCM-SHA256',
] as const;

/** TLS 1.3's suites are all AEAD with (EC)DHE; the AES-GCM ones, as on 1.2. */
export const MSS_TLS13_SUITES = ['TLS_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256'] as const;

/** Curves of at least 256 bits (X25519's 253 bits are below the letter of the policy). */
export const MSS_CURVES = 'P-256:P-384:P-521';

export interface MssTlsOptions {
  /** CA certificates (PEM) the operator's server certificate must chain to. */
  ca?: string | string[];
  /** Expected server name (SNI and certificate check); default the host. */
  servername?: string;
  /** Client certificate and key (PEM): application mailboxes (IGC-Santé ORG AUTH_CLI). */
  cert?: string;
  key?: string;
  /** Allow TLS 1.3 (default true: the policy allows it). */
  tls13?: boolean;
}

/** Connection options that offer only what the policy allows. */
export function mssTlsOptions(host: string, o: MssTlsOptions = {}): tls.ConnectionOptions {
  return {
    host,
    servername: o.servername ?? (/^[\d.]+$|:/.test(host) ? undefined : host),
    ca: o.ca,
    cert: o.cert,
    key: o.key,
    minVersion: 'TLSv1.2',
    maxVersion: o.tls13 === false ? 'TLSv1.2' : 'TLSv1.3',
    ciphers: [...MSS_TLS12_SUITES, ...(o.tls13 === false ? [] : MSS_TLS13_SUITES)].join(':'),
    ecdhCurve: MSS_CURVES,
    rejectUnauthorized: true,
    // DH parameters under 2048 bits are refused by the check below; OpenSSL's own floor is lower.
    minDHSize: 2048,
  };
}

/** What was negotiated: protocol, suite, ephemeral key. */
export interface NegotiatedTls {
  protocol: string | null;
  cipher: string;
  ephemeral: { type?: string; name?: string; size?: number };
}

export function negotiated(socket: tls.TLSSocket): NegotiatedTls {
  return { protocol: socket.getProtocol(), cipher: socket.getCipher()?.name ?? '', ephemeral: socket.getEphemeralKeyInfo() ?? {} };
}

/** Null when the session is within the policy; otherwise the reason, in French. */
export function checkNegotiatedTls(n: NegotiatedTls): string | null {
  if (n.protocol !== 'TLSv1.2' && n.protocol !== 'TLSv1.3') return `version ${n.protocol ?? 'inconnue'} refusée (TLS 1.2 au minimum)`;
  const allowed: readonly string[] = n.protocol === 'TLSv1.3' ? MSS_TLS13_SUITES : MSS_TLS12_SUITES;
  if (!allowed.includes(n.cipher)) return `suite ${n.cipher || 'inconnue'} hors de la politique MSSanté`;
  const e = n.ephemeral;
  if (n.protocol === 'TLSv1.2') {
    if (e.type === 'DH' && (e.size ?? 0) < 2048) return `groupe Diffie-Hellman de ${e.size ?? '?'} bits (2048 au minimum)`;
    if (e.type === 'ECDH' && (e.size ?? 0) < 256) return `courbe ${e.name ?? '?'} de ${e.size ?? '?'} bits (256 au minimum)`;
    if (e.type !== 'DH' && e.type !== 'ECDH') return 'échange de clés sans confidentialité persistante';
  } else if (e.type === 'ECDH' && (e.size ?? 0) < 256) {
    return `courbe ${e.name ?? '?'} de ${e.size ?? '?'} bits (256 au minimum)`;
  }
  return null;
}

export const checkTlsSocket = (socket: tls.TLSSocket): string | null => checkNegotiatedTls(negotiated(socket));
