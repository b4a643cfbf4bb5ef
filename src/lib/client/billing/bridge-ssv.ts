/**
 * The seam of a homologated engine on the workstation: the GIE's SSV library is native, so it
 * lives in the bridge (bridge/services/ssv.ts) and is reached over the paired channel, behind
 * the same `SsvAdapter` as our simulator. It is never required: without it the bridge answers
 * `ssv.status` with why, every `ssv.*` call is refused `unsupported`, and `chooseSsvAdapter`
 * picks the simulator and says so.
 *
 * Values cross the channel as JSON (documents' bytes base64url), as the other card services.
 */
import { b64u, unb64u } from '../../card/protocol.js';
import { BillingError } from '../../billing/errors.js';
import { simulatorAdapter } from '../../billing/ssv/simulator.js';
import type { BillingFile, FileOptions, FormatInput, FormattedDocument, InvoiceSigner, Lot, LotOptions, SignedDocument, SsvAdapter } from '../../billing/ssv/types.js';
import type { BridgeClient } from '../card/client.js';

export interface SsvStatus {
  readonly available: boolean;
  /** French, from the bridge: where the library was looked for, or why it is not loaded. */
  readonly reason: string;
}

type Caller = Pick<BridgeClient, 'call'>;

export async function bridgeSsvStatus(client: Caller): Promise<SsvStatus> {
  const r = await client.call<{ available?: unknown; reason?: unknown }>('ssv.status');
  return { available: r.available === true, reason: typeof r.reason === 'string' ? r.reason : 'état du moteur SSV illisible' };
}

async function engine<T>(client: Caller, method: string, params: Record<string, unknown>): Promise<T> {
  try {
    return await client.call<T>(method, params);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'unsupported') throw new BillingError('ssv_unavailable', method, `Moteur SSV homologué indisponible : ${(e as Error).message}`);
    throw e;
  }
}

const docParams = (d: FormattedDocument): Record<string, unknown> => ({ ...d, bytes: b64u(d.bytes) });

/** The bridge-hosted engine. Its answers carry bytes as base64url; everything else is as typed. */
export function bridgeSsvAdapter(client: Caller, version: string): SsvAdapter {
  const bytesOf = <T extends { bytes: string }>(x: T): Omit<T, 'bytes'> & { bytes: Uint8Array } => ({ ...x, bytes: unb64u(x.bytes, 16 << 20) });
  return {
    name: 'Bibliothèque SSV du GIE SESAM-Vitale (via le pont)',
    homologated: true,
    version,
    async formatInvoice(input: FormatInput): Promise<FormattedDocument[]> {
      const r = await engine<{ bytes: string }[]>(client, 'ssv.format', { input });
      return r.map((d) => bytesOf(d) as unknown as FormattedDocument);
    },
    async sign(document: FormattedDocument, signer: InvoiceSigner): Promise<SignedDocument> {
      // The engine signs with the CPS it holds; `signer` is for engines that sign in the page.
      void signer;
      const r = await engine<{ bytes: string; signature: string; certificate: string }>(client, 'ssv.sign', { document: docParams(document) });
      return { ...(bytesOf(r) as unknown as FormattedDocument), signature: unb64u(r.signature), certificate: unb64u(r.certificate) };
    },
    // Lot and file numbers: the library numbers with its own counters; mapping them onto ours
    // is part of its FFI load (services/ssv.ts). Nothing is drawn here for a call that may be refused.
    async buildLots(documents: readonly SignedDocument[], o: LotOptions): Promise<Lot[]> {
      const r = await engine<{ bytes: string }[]>(client, 'ssv.lots', { documents: documents.map(docParams), sender: o.sender });
      return r.map((l) => bytesOf(l) as unknown as Lot);
    },
    async buildFiles(lots: readonly Lot[], o: FileOptions): Promise<BillingFile[]> {
      const options = { way: o.way, sender: o.sender, fileDate: o.fileDate, octNumber: o.octNumber, messageZone: o.messageZone };
      const r = await engine<{ bytes: string }[]>(client, 'ssv.files', { lots: lots.map((l) => ({ ...l, bytes: b64u(l.bytes), documents: l.documents.map(docParams) })), options });
      return r.map((f) => bytesOf(f) as unknown as BillingFile);
    },
  };
}

export interface ChosenEngine {
  readonly adapter: SsvAdapter;
  /** What the practitioner must be told (French). */
  readonly notice: string;
}

/** The homologated engine when the bridge has it, else our simulator — and the UI says which. */
export async function chooseSsvAdapter(client: Caller | null, version?: string): Promise<ChosenEngine> {
  const simulator = simulatorAdapter(version ? { version } : {});
  if (!client) return { adapter: simulator, notice: 'Pont de cartes absent : factures produites par le simulateur Teletrans (format non officiel, non transmissible à l’Assurance Maladie).' };
  const status = await bridgeSsvStatus(client);
  if (status.available) return { adapter: bridgeSsvAdapter(client, simulator.version), notice: 'Moteur SSV homologué chargé par le pont.' };
  return { adapter: simulator, notice: `Factures produites par le simulateur Teletrans (format non officiel, non transmissible à l’Assurance Maladie) : ${status.reason}.` };
}
