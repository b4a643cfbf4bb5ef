/**
 * Audit trail of the directory door (security.md EL1, SA2): one JSON line per request on
 * stdout. No personal data: the client is a keyed hash of its address (stable for the life
 * of the process, useless outside it); LDAP URLs name public CA entries and institutional
 * insurer mailboxes; HTTP URLs are logged without their query string.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { DirectoryErrorCode } from './errors.js';

export interface DirectoryAuditEvent {
  event: 'directory.fetch';
  time: string;
  /** Pseudonymous client id (keyed hash of the address). */
  client: string;
  /** describeTarget() of the request, or "-" when it did not parse. */
  target: string;
  status: number;
  code?: DirectoryErrorCode;
  /** English technical detail of a failure. */
  detail?: string;
  items?: number;
  bytes?: number;
  ms: number;
}

export type AuditSink = (event: DirectoryAuditEvent) => void;

export const consoleAuditSink: AuditSink = (event) => {
  console.info(JSON.stringify(event));
};

const PSEUDONYM_KEY = randomBytes(32);

export function pseudonymise(clientAddress: string): string {
  return createHmac('sha256', PSEUDONYM_KEY).update(clientAddress).digest('base64url').slice(0, 12);
}
