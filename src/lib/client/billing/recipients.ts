/**
 * Whom the page encrypts a file for (issue 14 item 5): the recipient's certificate from the
 * trust store, checked again at that moment (path to a stored root, attachment profile and
 * mailbox, the CRL of its CA present and not revoking it: `TrustService.encryptionCheck`), then
 * the CMS module's own `checkRecipient` with that verifier. No certificate the store vouches
 * for: a typed error that says where to install one; nothing is encrypted.
 */
import { checkRecipient, encryptDocument, joinParts } from '../../cms/index.js';
import type { Encryptor } from '../../sesam/package.js';
import type { TrustService } from '../../trust/service.js';

export class RecipientUnavailableError extends Error {
  readonly code = 'recipient_unavailable';
  constructor(readonly mailbox: string, why: string) {
    super(`Pas de certificat utilisable pour ${mailbox} : ${why} Installez-le ou mettez à jour sa liste de révocation (page Certificats).`);
    this.name = 'RecipientUnavailableError';
  }
}

export interface TrustRecipients {
  /** Throws `recipient_unavailable` for the first mailbox the store has no usable certificate for. */
  check(mailboxes: readonly string[]): Promise<void>;
  encrypt: Encryptor;
}

export function trustRecipients(open: () => Promise<TrustService | undefined>): TrustRecipients {
  async function service(mailbox: string): Promise<TrustService> {
    const svc = await open();
    if (!svc) throw new RecipientUnavailableError(mailbox, 'le magasin de certificats de ce poste ne s’ouvre pas.');
    return svc;
  }
  return {
    async check(mailboxes) {
      for (const m of mailboxes) {
        if (!(await service(m)).encryptionCheck(m)) throw new RecipientUnavailableError(m, 'aucun certificat valide, non révoqué et couvert par une liste de révocation.');
      }
    },
    async encrypt(plain, route) {
      const mailbox = route.certificateEmail;
      const check = (await service(mailbox)).encryptionCheck(mailbox);
      if (!check) throw new RecipientUnavailableError(mailbox, 'aucun certificat valide, non révoqué et couvert par une liste de révocation.');
      const recipient = await checkRecipient(check.der, { anchors: [], email: mailbox, verifier: check.verifier });
      return joinParts((await encryptDocument(plain, recipient)).parts);
    },
  };
}
