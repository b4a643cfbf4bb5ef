/**
 * Where a flow goes and whose certificate encrypts it (docs/domain/transmission.md §2 table and §8).
 * Direct mode: the insurers' fixed mailboxes, production or test (test and demo flows share
 * the test platform). OCT mode: the configured OCT mailbox and the certificate the OCT
 * provides, for every kind (way 1 "split at the source" keeps FSE/DRE files, way 2 sends the
 * FACTURE single file).
 */
import { assertKind, assertMode, type FlowKind, type FlowMode } from './description.js';
import { SesamFieldError } from './errors.js';
import { checkAddrSpec } from './address.js';

export const MAILBOXES = {
  amo: { real: 'amo_pj.reel@reel.rss.fr', test: 'amo_pj.test@test.rss.fr' },
  amc: { real: 'amc_pj.reel@reel.rss.fr', test: 'amc_pj.test@test.rss.fr' },
} as const;

/** Whose certificate encrypts the attachment. */
export type CertificateRole = 'amo' | 'amc' | 'oct';

export interface OctConfig {
  /** The OCT's mailbox address (configuration, docs/domain/transmission.md §8). */
  address: string;
  /** The OCT's number (group 12 field 7), for the FACTURE single file. */
  number?: string;
}

export interface Route {
  to: string;
  role: CertificateRole;
  /**
   * The mailbox the recipient certificate must carry in its subjectAltName (checked with the
   * sesam-vitale-attachment profile). Equal to `to`: one certificate serves one mailbox.
   */
  certificateEmail: string;
  /** Which platform receives it: production, or the insurers' test platform. */
  platform: 'production' | 'test' | 'oct';
}

export function routeFlow(kind: FlowKind, mode: FlowMode, oct?: OctConfig): Route {
  assertKind(kind);
  assertMode(mode);
  if (oct) {
    const to = checkAddrSpec(oct.address, 'oct');
    return { to, role: 'oct', certificateEmail: to, platform: 'oct' };
  }
  if (kind === 'FACTURE') {
    throw new SesamFieldError('missing_oct', 'oct', "le fichier unique FACTURE ne s'envoie qu'à un OCT : adresse de l'OCT manquante");
  }
  const role: CertificateRole = kind === 'FSE' ? 'amo' : 'amc';
  const to = MAILBOXES[role][mode === 'real' ? 'real' : 'test'];
  return { to, role, certificateEmail: to, platform: mode === 'real' ? 'production' : 'test' };
}
