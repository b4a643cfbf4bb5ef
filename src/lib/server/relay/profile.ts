/**
 * What the relay accepts at intake (docs/ARCHITECTURE.md principle 3: the relay never sees a
 * plaintext invoice). A SESAM-Vitale flow (docs/domain/transmission.md §7) carries one and only
 * one `Application/EDI-consent` entity; its Content-Description has the `K` flag (attachment
 * encryption is mandatory, §2); and its content is a CMS EnvelopedData (RFC 5652 §6) with an
 * AES-CBC content and at least one key-transport recipient.
 *
 * Structure only: the relay holds no recipient key, never decrypts, and keeps nothing of the
 * content beyond the opaque message. A plaintext lot, a lot whose flag says `K` but whose
 * content is not an EnvelopedData, or a message carrying anything else is refused with a
 * stable reason code before anything is stored.
 */
import { parseEnvelopedData } from '../../cms/decrypt.js';
import { isCmsError } from '../../cms/index.js';
import { isSesamError, parseMessage } from '../../sesam/index.js';

export type ProfileReason =
  /** Not a SESAM-Vitale message at all (no EDI-consent entity, bad headers, bad base64...). */
  | 'profile-malformed'
  /** More than one Application/EDI-consent entity: one message carries one file. */
  | 'profile-multiple-attachments'
  /** Content-Description without the `K` flag: the lot would travel in clear. */
  | 'profile-not-encrypted'
  /** `K` announced, but the content is not a CMS EnvelopedData (or not one we can forward). */
  | 'profile-not-enveloped-data';

export class ProfileError extends Error {
  /** `detail`: the core parser's own code (SesamMessageError / CmsError), for diagnosis. */
  constructor(readonly reason: ProfileReason, message: string, readonly detail?: string) {
    super(message);
    this.name = 'ProfileError';
  }
}

export interface AcceptedProfile {
  /** Content-Description as received, e.g. `FSE/B2/K`. */
  description: string;
  /** Known nature (FSE, DRE, FACTURE...) or the raw one. */
  nature: string;
  compressed: boolean;
  recipients: number;
}

/** Checks `raw` against the SESAM-Vitale outbound profile; throws ProfileError when refused. */
export function checkOutboundProfile(raw: Uint8Array): AcceptedProfile {
  let parsed;
  try {
    parsed = parseMessage(raw, { maxMessageBytes: raw.byteLength });
  } catch (e) {
    if (!isSesamError(e)) throw e;
    if (e.code === 'multiple_attachments') {
      throw new ProfileError('profile-multiple-attachments', 'a message carries one and only one Application/EDI-consent entity', e.code);
    }
    throw new ProfileError('profile-malformed', `not a SESAM-Vitale message (${e.code})`, e.code);
  }
  const d = parsed.description;
  if (!d.wellFormed) throw new ProfileError('profile-malformed', 'Content-Description is not nature/norm/flags', 'description_malformed');
  if (!d.encrypted) {
    throw new ProfileError('profile-not-encrypted', 'Content-Description has no K flag: the relay forwards encrypted lots only', 'k_flag_missing');
  }
  let recipients: number;
  try {
    const env = parseEnvelopedData(parsed.attachment);
    recipients = env.recipients.length;
  } catch (e) {
    if (!isCmsError(e)) throw new ProfileError('profile-not-enveloped-data', 'the attachment is not a CMS EnvelopedData', 'cms_malformed');
    throw new ProfileError('profile-not-enveloped-data', `the attachment is not a usable CMS EnvelopedData (${e.code})`, e.code);
  }
  if (recipients === 0) {
    throw new ProfileError('profile-not-enveloped-data', 'the EnvelopedData has no key-transport recipient', 'no_key_transport');
  }
  return { description: d.raw, nature: d.known?.flow ?? d.nature, compressed: d.compressed, recipients };
}
