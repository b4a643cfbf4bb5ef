/**
 * The CPS signature key through the bridge: the invoice digest goes to `cps.sign`, served only
 * in a session that verified the PIN itself (bridge/server.ts); the certificate is the card's
 * signature certificate (`card.certificates`). The bridge's typed refusals (`card_absent`,
 * `pin_required`, `session_locked`, `busy`…) keep their code, which `signDocument` turns into a
 * `signature_failed` whose field names it, so the page can say « carte CPS retirée ».
 */
import { b64u, unb64u } from '../../card/protocol.js';
import { BillingError } from '../../billing/errors.js';
import type { InvoiceSigner } from '../../billing/ssv/types.js';
import type { BridgeClient } from '../card/client.js';

type Caller = Pick<BridgeClient, 'call'>;

export function bridgeSigner(client: Caller, reader: string): InvoiceSigner {
  let certificate: Promise<Uint8Array> | undefined;
  return {
    certificate() {
      certificate ??= client.call<{ sign?: string }>('card.certificates', { reader }).then((c) => {
        if (!c.sign) throw new BillingError('signature_failed', 'signer.no_certificate', 'Cette carte n’a pas de certificat de signature.');
        return unb64u(c.sign);
      });
      // A failed read (card pulled) is not cached: the next batch asks again.
      certificate.catch(() => (certificate = undefined));
      return certificate;
    },
    async signDigest(digest) {
      const r = await client.call<{ signature: string }>('cps.sign', { reader, digest: b64u(digest) });
      return unb64u(r.signature);
    },
  };
}
