/**
 * Content-Description values (docs/domain/transmission.md §7): `nature/norm[/flags]`.
 *
 * Outbound values are produced from (kind, mode, compressed) and nothing else, so that every
 * value on the wire is one of the table's. Inbound values are parsed case-insensitively and
 * never rejected: an unknown nature is kept verbatim and shown, because a return we cannot
 * classify must still reach the practitioner (§7: "show them, never drop them").
 */
import { SesamFieldError } from './errors.js';

export type FlowKind = 'FSE' | 'DRE' | 'FACTURE';
export type FlowMode = 'real' | 'test' | 'demo';

export const FLOW_KINDS: readonly FlowKind[] = ['FSE', 'DRE', 'FACTURE'];
export const FLOW_MODES: readonly FlowMode[] = ['real', 'test', 'demo'];

const NORM: Record<FlowKind, string> = { FSE: 'B2', DRE: 'DR', FACTURE: 'SV' };
const SUFFIX: Record<FlowMode, string> = { real: '', test: 'TEST', demo: 'DEMO' };

export function assertKind(kind: string): asserts kind is FlowKind {
  if (!(FLOW_KINDS as readonly string[]).includes(kind)) {
    throw new SesamFieldError('invalid_kind', 'kind', `type de flux inconnu « ${kind} » (attendu : FSE, DRE ou FACTURE)`);
  }
}

export function assertMode(mode: string): asserts mode is FlowMode {
  if (!(FLOW_MODES as readonly string[]).includes(mode)) {
    throw new SesamFieldError('invalid_mode', 'mode', `mode inconnu « ${mode} » (attendu : real, test ou demo)`);
  }
}

/**
 * The outbound Content-Description. Attachment encryption is mandatory, so `K` is always set;
 * `Z` is added (before `K`: compressed, then encrypted) when the file was compressed.
 *
 * FACTURE (the OCT single file) exists only as `FACTURE/SV/…` in our documents: there is no
 * FACTURETEST or FACTUREDEMO. Rather than invent one, test and demo FACTURE flows are refused;
 * an OCT test flow is sent split at the source (FSETEST/DRETEST, docs/domain/transmission.md §8 way 1).
 */
export function contentDescription(kind: FlowKind, mode: FlowMode, compressed: boolean): string {
  assertKind(kind);
  assertMode(mode);
  if (kind === 'FACTURE' && mode !== 'real') {
    throw new SesamFieldError(
      'invalid_combination',
      'mode',
      `le fichier unique FACTURE n'existe qu'en mode réel (aucune valeur FACTURE${SUFFIX[mode]} n'est définie) ; en ${mode === 'test' ? 'test' : 'démonstration'}, envoyer des fichiers FSE/DRE séparés`,
    );
  }
  return `${kind}${SUFFIX[mode]}/${NORM[kind]}/${compressed ? 'ZK' : 'K'}`;
}

/** What a known nature means. */
export interface NatureInfo {
  /** Outbound invoice flows, or the insurers' / OCT's returns. */
  direction: 'outbound' | 'return';
  /** FSE/DRE/FACTURE for invoices; ARL, RSP (NOEMIE returns) or ART (OCT text file). */
  flow: FlowKind | 'ARL' | 'RSP' | 'ART';
  /** For returns: whether it concerns DRE (complementary) flows. */
  dre?: boolean;
  mode: FlowMode;
  /** The norm our documents pair with this nature (B2, DR, SV, NOEMIE); absent for ART. */
  expectedNorm?: string;
}

function buildNatures(): Map<string, NatureInfo> {
  const m = new Map<string, NatureInfo>();
  for (const mode of FLOW_MODES) {
    const s = SUFFIX[mode];
    m.set(`FSE${s}`, { direction: 'outbound', flow: 'FSE', mode, expectedNorm: 'B2' });
    m.set(`DRE${s}`, { direction: 'outbound', flow: 'DRE', mode, expectedNorm: 'DR' });
    // Return natures: the documents list the TEST and DEMO ones; the real ones by analogy.
    m.set(`ARL${s}`, { direction: 'return', flow: 'ARL', dre: false, mode, expectedNorm: 'NOEMIE' });
    m.set(`RSP${s}`, { direction: 'return', flow: 'RSP', dre: false, mode, expectedNorm: 'NOEMIE' });
    m.set(`ARLDRE${s}`, { direction: 'return', flow: 'ARL', dre: true, mode, expectedNorm: 'NOEMIE' });
    m.set(`RSPDRE${s}`, { direction: 'return', flow: 'RSP', dre: true, mode, expectedNorm: 'NOEMIE' });
  }
  m.set('FACTURE', { direction: 'outbound', flow: 'FACTURE', mode: 'real', expectedNorm: 'SV' });
  m.set('ART', { direction: 'return', flow: 'ART', mode: 'real' });
  return m;
}

const NATURES = buildNatures();

/** Profession codes of OCT text acknowledgements (`ART/XX`), docs/domain/workflow.md. */
export const PROFESSION_CODES: Readonly<Record<string, string>> = {
  IF: 'infirmiers',
  MK: 'masseurs-kinésithérapeutes',
  OO: 'orthophonistes',
  OY: 'orthoptistes',
  PE: 'pédicures-podologues',
  LB: 'laboratoires',
  PH: 'pharmaciens',
  FR: 'fournisseurs agréés de produits LPP',
  ER: 'médecins, chirurgiens-dentistes et sages-femmes',
  CP: 'cliniques et établissements privés',
  CS: 'centres de santé',
  CT: 'établissements thermaux',
  XX: 'toutes professions',
};

export interface ParsedDescription {
  /** The header value as received (trimmed), always kept. */
  raw: string;
  /** Upper-cased first sub-field; empty if absent. */
  nature: string;
  /** Upper-cased second sub-field; empty if absent. */
  norm: string;
  /** Upper-cased third sub-field (flag letters); empty if absent. */
  flags: string;
  compressed: boolean;
  encrypted: boolean;
  /** Flag letters other than Z and K, kept for display. */
  unknownFlags: string;
  /** Set when the nature is one we know; absent for unknown natures (which are still returned). */
  known?: NatureInfo;
  /** For `ART/XX`: the profession, when the code is listed. */
  profession?: string;
  /** False when the value does not have the `nature/norm[/flags]` shape (still returned). */
  wellFormed: boolean;
  /** True when the nature is known and the norm is the one our documents pair with it. */
  normMatches: boolean;
}

/** Parses a Content-Description value. Never throws: unknown or odd values are kept as they are. */
export function parseContentDescription(value: string): ParsedDescription {
  const raw = value.trim();
  const fields = raw.split('/').map((f) => f.trim().toUpperCase());
  const [nature = '', norm = '', flags = ''] = fields;
  const wellFormed = fields.length >= 2 && fields.length <= 3 && /^[A-Z0-9]+$/.test(nature) && /^[A-Z0-9]+$/.test(norm) &&
    /^[A-Z]*$/.test(flags);
  const known = NATURES.get(nature);
  const out: ParsedDescription = {
    raw,
    nature,
    norm,
    flags,
    compressed: flags.includes('Z'),
    encrypted: flags.includes('K'),
    unknownFlags: flags.replace(/[ZK]/g, ''),
    wellFormed,
    normMatches: false,
  };
  if (known) {
    out.known = known;
    out.normMatches = known.flow === 'ART' ? /^[A-Z]{2}$/.test(norm) : known.expectedNorm === norm;
    if (known.flow === 'ART') {
      const profession = PROFESSION_CODES[norm];
      if (profession !== undefined) out.profession = profession;
    }
  }
  return out;
}

/** A one-line French label for display, e.g. "ARL (test, DRE), compressé". */
export function describeNature(d: ParsedDescription): string {
  if (!d.known) return `nature inconnue « ${d.raw} »`;
  const k = d.known;
  const mode = k.mode === 'real' ? 'réel' : k.mode === 'test' ? 'test' : 'démonstration';
  const parts = [k.flow === 'ART' ? `accusé technique OCT${d.profession ? ` (${d.profession})` : ''}` : `${k.flow}${k.dre ? ' DRE' : ''}`, mode];
  if (d.compressed) parts.push('compressé');
  if (d.encrypted) parts.push('chiffré');
  return parts.join(', ');
}
