/**
 * The relay side of anchoring the audit journal, for the page (issue 24 defect 3; the service
 * is src/lib/trust/service/anchor.ts): the practitioner's session token and this origin's
 * relay routes. Nothing but the journal's id, sequence number and head hash is sent.
 */
import type { AnchorBody, AnchorPort } from '../../trust/service.js';

export function relayAnchorPort(token: string, o: { fetch?: typeof fetch; base?: string } = {}): AnchorPort {
  const f = o.fetch ?? fetch;
  const base = `${o.base ?? ''}/api/relay/audit`;
  return {
    async post(body: AnchorBody) {
      const r = await f(`${base}/anchor`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        credentials: 'omit',
      });
      return { status: r.status, json: (await r.json().catch(() => ({}))) as Record<string, unknown> };
    },
    async receiptKey() {
      const r = await f(`${base}/receipt-key`, { credentials: 'omit' });
      if (!r.ok) throw new Error(`clé des reçus du relais : réponse ${r.status}`);
      return String(((await r.json()) as { key?: unknown }).key ?? '');
    },
  };
}
